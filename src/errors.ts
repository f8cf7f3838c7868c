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

/** An errno name Node knows on this platform ("EINVAL"): the codes an {@link ErrnoError} can carry. */
export type ErrnoName = keyof typeof constants.errno;

/** An errno name as libuv gives it for a number; "E<n>" for a number it does not know. */
export type SysErrnoName = ErrnoName | `E${number}`;

/** errno number for a name such as "EINVAL"; throws for unknown names. */
export function errnoOf(name: string): number {
  const n = ERRNO[name];
  if (n === undefined) throw new TypeError(`unknown errno name ${name}`);
  return n;
}

/** Whether `name` is an errno name Node knows (so an ErrnoError can carry it). */
export function isErrnoName(name: string): name is ErrnoName {
  return ERRNO[name] !== undefined;
}

/** errno name for a number, such as "EINVAL" for 22; "E<n>" when unknown. */
export function errnoName(errno: number): SysErrnoName {
  try {
    return getSystemErrorName(-Math.abs(errno)) as SysErrnoName;
  } catch {
    return `E${errno}`;
  }
}

/**
 * Base class of every error vfio-ts throws on purpose. Each subclass narrows
 * `code` to the union of the codes it can carry, so that a typo in a thrower
 * or a catcher is a type error.
 */
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
  declare readonly code: SysErrnoName;
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
  declare readonly code: ErrnoName;
  constructor(code: ErrnoName, message: string, options?: { cause?: unknown }) {
    if (ERRNO[code] === undefined) throw new TypeError(`ErrnoError needs an errno name, got ${code}`);
    super(code, message, options);
  }
}

/** Shorthand: `throw fail('EINVAL', 'bad index 9')`. */
export function fail(code: ErrnoName, message: string): ErrnoError {
  return new ErrnoError(code, message);
}
