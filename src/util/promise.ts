// A value that a handler may return directly or as a promise: device models
// answer synchronously on the fast path and asynchronously when they must.

/** A value, or a promise of it: handlers may be synchronous or asynchronous. */
export type MaybePromise<T> = T | Promise<T>;

/** Whether `v` is a promise (a thenable), so the caller can await it only then. */
export function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}
