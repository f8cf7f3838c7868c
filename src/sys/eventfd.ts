// eventfd: a kernel counter used as a doorbell. VFIO and vfio-user deliver
// interrupts (INTx, MSI, MSI-X vectors), device requests and errors through
// eventfds: the kernel or the peer adds to the counter, the owner reads and
// resets it. An EventFd owns its fd. Reads never block unless given a
// timeout, and return 0 when nothing is pending (a real count is never 0).

import { errnoOf, SysError } from '../errors.js';
import { native } from './native.js';
import { FdWatcher, READABLE } from './poll.js';

export interface EventFdOptions {
  /** Counter's initial value (default 0). */
  initial?: number;
  /** Semaphore mode: each read returns 1 and decrements (default false). */
  semaphore?: boolean;
  /** O_NONBLOCK on the fd itself (default true); reads here never block either way. */
  nonblock?: boolean;
}

export class EventFd {
  #fd: number;
  #watcher: FdWatcher | null = null;
  #ref = true;

  /** Takes ownership of an existing eventfd (for example one received over a socket). */
  constructor(fd: number) {
    this.#fd = fd;
  }

  static create(options: EventFdOptions = {}): EventFd {
    let flags = 0;
    if (options.semaphore) flags |= native.EFD_SEMAPHORE;
    if (options.nonblock ?? true) flags |= native.EFD_NONBLOCK;
    return new EventFd(native.eventfdCreate(options.initial ?? 0, flags));
  }

  /** The fd (-1 once closed), to hand to the kernel or a peer. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Adds `count` (default 1) to the counter, waking whoever watches it. */
  signal(count: number | bigint = 1): void {
    native.eventfdWrite(this.#live(), count);
  }

  /**
   * Reads and resets the counter (semaphore mode: takes 1). Returns 0 if
   * nothing is pending within timeoutMs (default 0: do not wait; -1: forever).
   */
  read(timeoutMs = 0): number {
    return native.eventfdRead(this.#live(), timeoutMs);
  }

  /**
   * Calls `callback(count)` on the event loop each time the counter is
   * signalled, after reading it (one read per wake-up: in semaphore mode the
   * callback runs once per unit). Replaces a previous callback.
   */
  watch(callback: (count: number) => void): this {
    const fd = this.#live();
    this.#watcher?.close();
    const watcher = new FdWatcher(fd, (_events, error) => {
      if (error) throw error;
      const count = native.eventfdRead(fd, 0);
      if (count > 0) callback(count);
    });
    this.#watcher = watcher;
    if (!this.#ref) watcher.unref();
    watcher.start(READABLE);
    return this;
  }

  /** Stops watching. */
  unwatch(): this {
    this.#watcher?.close();
    this.#watcher = null;
    return this;
  }

  /** Whether a watching EventFd keeps the process alive (default yes). */
  ref(): this {
    this.#ref = true;
    this.#watcher?.ref();
    return this;
  }

  unref(): this {
    this.#ref = false;
    this.#watcher?.unref();
    return this;
  }

  /** Gives up ownership: returns the fd, which the caller must close. */
  release(): number {
    const fd = this.#live();
    this.unwatch();
    this.#fd = -1;
    return fd;
  }

  /** Stops watching and closes the fd; idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    this.unwatch();
    const fd = this.#fd;
    this.#fd = -1;
    native.close(fd);
  }

  #live(): number {
    if (this.#fd < 0) throw new SysError('eventfd', errnoOf('EBADF'), 'EventFd is closed');
    return this.#fd;
  }
}
