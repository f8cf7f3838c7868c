// Kernel uevents (native/netlink.c): a netlink socket (NETLINK_KOBJECT_UEVENT)
// bound to the kernel's multicast group, on which the kernel announces every
// device added, removed, bound to or unbound from a driver, as datagrams
// "ACTION@DEVPATH\0KEY=VALUE\0...". Reading them needs no privilege. Only
// datagrams sent by the kernel itself are delivered (udev's rebroadcasts and
// anything else another process sends are dropped in C). A UeventSocket owns
// its fd; src/vfio/monitor.ts parses what it receives.

import { native } from './native.js';
import { WatchedFd } from './watched-fd.js';

/** Enough for any uevent (the kernel's UEVENT_BUFFER_SIZE is 2048 bytes of environment). */
export const UEVENT_BUFFER_SIZE = 8192;

export interface UeventSocketOptions {
  /** SO_RCVBUF to ask for (default 1 MiB), so bursts (a rescan) are not lost. */
  receiveBuffer?: number;
}

export class UeventSocket extends WatchedFd {
  readonly #buf = Buffer.allocUnsafe(UEVENT_BUFFER_SIZE);

  /** Takes ownership of an open uevent socket fd. */
  constructor(fd: number) {
    super(fd, 'UeventSocket');
  }

  /** Opens a socket subscribed to the kernel's uevents. */
  static open(options: UeventSocketOptions = {}): UeventSocket {
    return new UeventSocket(native.ueventOpen(options.receiveBuffer ?? 1 << 20));
  }

  /**
   * Receives one pending kernel datagram (a copy), or null when none is
   * pending. Throws ENOBUFS when the queue overflowed (events were lost).
   */
  receive(): Buffer | null {
    const n = native.ueventRecv(this.live('recvmsg'), this.#buf, 0, this.#buf.length);
    return n < 0 ? null : Buffer.from(this.#buf.subarray(0, n));
  }

  /**
   * Calls `callback(datagram)` on the event loop for each kernel datagram
   * (the buffer is the callback's to keep), and `onError` for a failing
   * receive (ENOBUFS: events were lost; watching goes on). Without onError
   * such an error is thrown from the event loop. Replaces a previous callback.
   */
  watch(callback: (datagram: Buffer) => void, onError?: (error: Error) => void): this {
    const fail = (error: Error): void => {
      if (onError) onError(error);
      else throw error;
    };
    this.watchReadable('recvmsg', (fd, error) => {
      if (error) return fail(error);
      for (;;) {
        if (this.fd !== fd) return; // closed by a callback
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
    return this;
  }
}
