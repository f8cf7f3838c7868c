// The fd watcher: readiness of any fd (socket, eventfd) delivered on Node's
// own event loop through a libuv poll handle. One watcher per fd at most
// (libuv's rule); stop or close it before closing the fd. While started it
// keeps the process alive like any Node handle, unless unref'ed; once stopped
// it holds nothing. Creating a watcher puts the fd in non-blocking mode.

import { errnoOf, SysError } from '../errors.js';
import { native, type WatcherHandle } from './native.js';

/** The fd has data (or end of stream, or an error) to read. */
export const READABLE: number = native.UV_READABLE;
/** The fd can take more data. */
export const WRITABLE: number = native.UV_WRITABLE;
/** The peer shut down its writing side (EPOLLRDHUP). */
export const DISCONNECT: number = native.UV_DISCONNECT;
/** Urgent/priority data (EPOLLPRI). */
export const PRIORITIZED: number = native.UV_PRIORITIZED;

/**
 * Called on the event loop with the ready events (READABLE | WRITABLE ...),
 * or with events 0 and an error when the loop reports one on the fd (for
 * sockets, a pending error such as a reset); the watcher is then stopped.
 */
export type WatchCallback = (events: number, error: SysError | null) => void;

export class FdWatcher {
  readonly fd: number;
  #handle: WatcherHandle;
  #events = 0;
  #closed = false;

  constructor(fd: number, callback: WatchCallback) {
    this.fd = fd;
    this.#handle = native.watcherCreate(fd, (status, events) => {
      if (status < 0) {
        this.#events = 0;
        callback(0, new SysError('uv_poll', -status, `watching fd ${fd}`));
      } else {
        callback(events, null);
      }
    });
  }

  /** The events currently watched (0 when stopped). */
  get events(): number {
    return this.#events;
  }

  get active(): boolean {
    return this.#events !== 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Watches for `events` (replacing the previous set); 0 stops. */
  start(events: number): this {
    if (this.#closed) throw new SysError('uv_poll_start', errnoOf('EBADF'), 'watcher is closed');
    if (events === this.#events) return this;
    native.watcherStart(this.#handle, events);
    this.#events = events;
    return this;
  }

  stop(): this {
    if (!this.#closed && this.#events !== 0) {
      native.watcherStop(this.#handle);
      this.#events = 0;
    }
    return this;
  }

  /** Lets an active watcher keep the process alive (the default). */
  ref(): this {
    if (!this.#closed) native.watcherRef(this.#handle, true);
    return this;
  }

  /** Stops an active watcher from keeping the process alive. */
  unref(): this {
    if (!this.#closed) native.watcherRef(this.#handle, false);
    return this;
  }

  /** Releases the handle; idempotent. Does not close the fd. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#events = 0;
    native.watcherClose(this.#handle);
  }
}
