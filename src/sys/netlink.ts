// Kernel uevents (native/netlink.c): a netlink socket (NETLINK_KOBJECT_UEVENT)
// bound to the kernel's multicast group, on which the kernel announces every
// device added, removed, bound to or unbound from a driver, as datagrams
// "ACTION@DEVPATH\0KEY=VALUE\0...". Reading them needs no privilege. Only
// datagrams sent by the kernel itself are delivered (udev's rebroadcasts and
// anything else another process sends are dropped in C). A UeventSocket owns
// its fd; src/vfio/monitor.ts parses what it receives.

import { errnoOf, SysError } from '../errors.js';
import { native, type Bytes } from './native.js';
import { FdWatcher, READABLE } from './poll.js';

/** The addon's uevent functions (native/netlink.c). */
interface UeventNative {
  /** A bound, non-blocking, close-on-exec uevent socket. */
  ueventOpen(rcvbuf?: number): number;
  /** One kernel datagram's length, or -1 when none is pending. */
  ueventRecv(fd: number, buf: Bytes, offset?: number, length?: number): number;
}
const addon = native as typeof native & UeventNative;

/** Enough for any uevent (the kernel's UEVENT_BUFFER_SIZE is 2048 bytes of environment). */
export const UEVENT_BUFFER_SIZE = 8192;

export interface UeventSocketOptions {
  /** SO_RCVBUF to ask for (default 1 MiB), so bursts (a rescan) are not lost. */
  receiveBuffer?: number;
}

export class UeventSocket {
  #fd: number;
  #watcher: FdWatcher | null = null;
  #ref = true;
  readonly #buf = Buffer.allocUnsafe(UEVENT_BUFFER_SIZE);

  /** Takes ownership of an open uevent socket fd. */
  constructor(fd: number) {
    this.#fd = fd;
  }

  /** Opens a socket subscribed to the kernel's uevents. */
  static open(options: UeventSocketOptions = {}): UeventSocket {
    return new UeventSocket(addon.ueventOpen(options.receiveBuffer ?? 1 << 20));
  }

  /** The fd (-1 once closed). */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * Receives one pending kernel datagram (a copy), or null when none is
   * pending. Throws ENOBUFS when the queue overflowed (events were lost).
   */
  receive(): Buffer | null {
    const n = addon.ueventRecv(this.#live(), this.#buf, 0, this.#buf.length);
    return n < 0 ? null : Buffer.from(this.#buf.subarray(0, n));
  }

  /**
   * Calls `callback(datagram)` on the event loop for each kernel datagram
   * (the buffer is the callback's to keep), and `onError` for a failing
   * receive (ENOBUFS: events were lost; watching goes on). Without onError
   * such an error is thrown from the event loop. Replaces a previous callback.
   */
  watch(callback: (datagram: Buffer) => void, onError?: (error: Error) => void): this {
    const fd = this.#live();
    this.#watcher?.close();
    const fail = (error: Error): void => {
      if (onError) onError(error);
      else throw error;
    };
    const watcher = new FdWatcher(fd, (_events, error) => {
      if (error) return fail(error);
      for (;;) {
        if (this.#fd !== fd) return; // closed by a callback
        let d: Buffer | null;
        try {
          d = this.receive();
        } catch (e) {
          fail(e as Error);
          return; // ENOBUFS is reported once; the next wake-up goes on draining
        }
        if (d === null) return;
        callback(d);
      }
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

  /** Whether a watching socket keeps the process alive (default yes). */
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

  /** Stops watching and closes the fd; idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    this.unwatch();
    const fd = this.#fd;
    this.#fd = -1;
    native.close(fd);
  }

  #live(): number {
    if (this.#fd < 0) throw new SysError('recvmsg', errnoOf('EBADF'), 'UeventSocket is closed');
    return this.#fd;
  }
}
