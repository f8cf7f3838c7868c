// The error serveInWorker rejects with (or emits) when the worker thread
// cannot serve: each cause has a stable `reason`, and `code` is the errno name
// that fits it (the listen error's own code for 'listen-failed').

import { VfioTsError } from '../errors.js';

/**
 * Why a device model could not be served in a worker thread:
 * - 'module-not-found' (ENOENT) the model's module could not be found
 * - 'module-failed'    (EIO) importing the module threw
 * - 'no-model'         (EINVAL) the export is missing, or neither a model nor a factory of one
 * - 'model-failed'     (the thrown code, else EIO) the factory threw
 * - 'listen-failed'    (the listen error's code: EADDRINUSE, EACCES, ...) the socket could not be served
 * - 'timeout'          (ETIMEDOUT) the worker did not listen within startTimeoutMs
 * - 'worker-exited'    (EIO) the worker thread ended without being asked to (an uncaught exception in the model)
 */
export type WorkerServeReason =
  | 'module-not-found'
  | 'module-failed'
  | 'no-model'
  | 'model-failed'
  | 'listen-failed'
  | 'timeout'
  | 'worker-exited';

/** A device model could not be (or stopped being) served in its worker thread. */
export class WorkerServeError extends VfioTsError {
  readonly reason: WorkerServeReason;
  constructor(reason: WorkerServeReason, code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.reason = reason;
  }
}
