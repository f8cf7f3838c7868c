// Errors of the device framework that a device model meets.
//
// A DMA access that cannot be performed never touches memory: it throws (or
// rejects with) a DmaError before any byte moves, with an errno `code` and a
// stable `reason`. Requests refused on the wire use the plain ErrnoError of
// src/errors.ts (its errno goes into the error reply).

import { type ErrnoName, ErrnoError } from '../errors.js';

/**
 * Why a DMA access failed:
 * - 'unmapped'      (EFAULT) some byte of the range is in no DMA map of the client (or the range crosses a gap)
 * - 'not-contiguous' (EFAULT) a direct view was asked across two maps
 * - 'permission'    (EACCES) a read of a map without READ, or a write of one without WRITE
 * - 'needs-async'   (ENOTSUP) a synchronous access reached a map without a file descriptor
 * - 'no-client'     (ENODEV) no client owns the device (nothing is mapped)
 * - 'bus-master'    (EPERM) the Bus Master Enable bit of the command register is clear
 * - 'bad-args'      (EINVAL) a negative or non-integer address or length
 * - 'timeout'       (ETIMEDOUT) the client did not answer a DMA_READ/DMA_WRITE in time
 * - 'disconnected'  (ECONNRESET) the client went away (or the server closed) before answering
 * - 'peer-error'    (the client's errno) the client answered with an error reply
 * - 'bad-reply'     (EPROTO) the client's reply was malformed
 */
export type DmaErrorReason =
  | 'unmapped'
  | 'not-contiguous'
  | 'permission'
  | 'needs-async'
  | 'no-client'
  | 'bus-master'
  | 'bad-args'
  | 'timeout'
  | 'disconnected'
  | 'peer-error'
  | 'bad-reply';

const CODE: Record<Exclude<DmaErrorReason, 'peer-error'>, ErrnoName> = {
  unmapped: 'EFAULT',
  'not-contiguous': 'EFAULT',
  permission: 'EACCES',
  'needs-async': 'ENOTSUP',
  'no-client': 'ENODEV',
  'bus-master': 'EPERM',
  'bad-args': 'EINVAL',
  timeout: 'ETIMEDOUT',
  disconnected: 'ECONNRESET',
  'bad-reply': 'EPROTO',
};

/** A DMA access of the device model failed; nothing was read or written. */
export class DmaError extends ErrnoError {
  readonly reason: DmaErrorReason;
  /** First address of the access. */
  readonly iova: bigint;
  /** Length of the access in bytes. */
  readonly length: number;

  constructor(reason: DmaErrorReason, iova: bigint, length: number, message: string, options?: { code?: ErrnoName; cause?: unknown }) {
    super(options?.code ?? (reason === 'peer-error' ? 'EIO' : CODE[reason]), message, { cause: options?.cause });
    this.reason = reason;
    this.iova = iova;
    this.length = length;
  }
}

/**
 * Something went wrong that is nobody's reply: a device model's exception on
 * an asynchronous path, a reply from the client that matches no request, an
 * eventfd that could not be signalled. Emitted as 'warning' (never 'error',
 * so an unobserved warning cannot crash the process).
 */
export interface ServerWarning {
  /** Stable kind: 'model-error', 'unmatched-reply', 'bad-reply', 'signal-failed', 'protocol', 'accept-failed', ... */
  code: string;
  message: string;
  /** The connection it concerns, when there is one. */
  client?: number;
  cause?: unknown;
}
