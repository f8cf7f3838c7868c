// A value that a handler may return directly or as a promise: device models
// answer synchronously on the fast path and asynchronously when they must.

export type MaybePromise<T> = T | Promise<T>;

/** Whether `v` is a promise (a thenable), so the caller can await it only then. */
export function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}
