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

/**
 * Called on the event loop with the ready events (READABLE | WRITABLE ...),
 * or with events 0 and an error when the loop reports one on the fd (for
 * sockets, a pending error such as a reset); the watcher is then stopped.
 * `round` is 0 for a call from the event loop and k for the k-th call of a
 * lingering watcher since (see linger()).
 */
export type WatchCallback = (events: number, error: SysError | null, round: number) => void;

export class FdWatcher {
  readonly fd: number;
  #handle: WatcherHandle;
  #events = 0;
  #closed = false;

  constructor(fd: number, callback: WatchCallback) {
    this.fd = fd;
    this.#handle = native.watcherCreate(fd, (status, events, round) => {
      if (status < 0) {
        this.#events = 0;
        callback(0, new SysError('uv_poll', -status, `watching fd ${fd}`), round);
      } else {
        callback(events, null, round);
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

  /**
   * After each callback, waits (in the callback, not in the loop) for the fd
   * to be readable again and if so calls back at once: at most maxRounds
   * calls and budgetUs of time per loop iteration, and only while watching
   * for READABLE alone. Each call runs in its own callback scope (nextTick
   * and promise jobs run between calls, as between loop iterations); the
   * loop gets its turn back at once when it has immediates or thread-pool
   * work due, never later than its next timer, and other fds wait at most
   * budgetUs. 0 turns it off (the default). For the server side of a
   * request/reply protocol, whose next request usually comes sooner than a
   * trip through the loop would take.
   */
  linger(budgetUs: number, maxRounds = 64): this {
    if (!this.#closed) native.watcherLinger(this.#handle, budgetUs, maxRounds);
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
