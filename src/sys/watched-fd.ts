// A file descriptor an object owns and may watch on Node's event loop: the
// common part of EventFd and UeventSocket. The fd is closed once (close() is
// idempotent) and using it afterwards is a typed EBADF; one watcher at a time
// calls back when the fd is readable; ref()/unref() say whether a watching
// object keeps the process alive.

import { errnoOf, SysError } from '../errors.js';
import { native } from './native.js';
import { FdWatcher, READABLE } from './poll.js';

export abstract class WatchedFd {
  #fd: number;
  #watcher: FdWatcher | null = null;
  #ref = true;
  readonly #what: string;

  /** Takes ownership of `fd`; `what` names the object in errors ("EventFd"). */
  protected constructor(fd: number, what: string) {
    this.#fd = fd;
    this.#what = what;
  }

  /** The fd (-1 once closed). */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The open fd, or a SysError EBADF naming `syscall` once closed. */
  protected live(syscall: string): number {
    if (this.#fd < 0) throw new SysError(syscall, errnoOf('EBADF'), `${this.#what} is closed`);
    return this.#fd;
  }

  /** Calls `onReadable(fd)` on the event loop while the fd is readable; replaces a previous watch. */
  protected watchReadable(syscall: string, onReadable: (fd: number, error: SysError | null) => void): void {
    const fd = this.live(syscall);
    this.#watcher?.close();
    const watcher = new FdWatcher(fd, (_events, error) => onReadable(fd, error));
    this.#watcher = watcher;
    if (!this.#ref) watcher.unref();
    watcher.start(READABLE);
  }

  /** Stops watching. */
  unwatch(): this {
    this.#watcher?.close();
    this.#watcher = null;
    return this;
  }

  /** Whether a watching object keeps the process alive (default yes). */
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
    const fd = this.live('release');
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
}
