// Typed errors shared by every layer of vfio-ts.
//
// Every failure a user can meet is one of these classes, each with a stable
// string `code` (an errno name such as "EINVAL" wherever the failure maps onto
// one) so callers can branch on `err.code` without parsing messages. Errors
// that cross the vfio-user wire carry the numeric `errno` that goes into the
// reply header.

import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';

const ERRNO = constants.errno as Record<string, number>;

/** errno number for a name such as "EINVAL"; throws for unknown names. */
export function errnoOf(name: string): number {
  const n = ERRNO[name];
  if (n === undefined) throw new TypeError(`unknown errno name ${name}`);
  return n;
}

/** errno name for a number, such as "EINVAL" for 22; "E<n>" when unknown. */
export function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-Math.abs(errno));
  } catch {
    return `E${errno}`;
  }
}

/** Base class of every error vfio-ts throws on purpose. */
export class VfioTsError extends Error {
  /** Stable machine-readable code: an errno name where one applies. */
  readonly code: string;
  /** errno number when the error maps onto one (always for errno names). */
  readonly errno: number | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.errno = ERRNO[code];
  }
}

/** A system call failed. `code` is the errno name, `syscall` the call. */
export class SysError extends VfioTsError {
  readonly syscall: string;
  constructor(syscall: string, errno: number, detail?: string) {
    const name = errnoName(errno);
    super(name, `${syscall} failed: ${name}${detail ? ` (${detail})` : ''}`);
    this.syscall = syscall;
  }
}

/**
 * A request was refused with an errno: bad config-space access, malformed
 * vfio-user message, unsupported operation. On the wire this becomes an error
 * reply carrying `errno`.
 */
export class ErrnoError extends VfioTsError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    if (ERRNO[code] === undefined) throw new TypeError(`ErrnoError needs an errno name, got ${code}`);
    super(code, message, options);
  }
}

/** Shorthand: `throw fail('EINVAL', 'bad index 9')`. */
export function fail(code: string, message: string): ErrnoError {
  return new ErrnoError(code, message);
}
