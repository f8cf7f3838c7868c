// eventfd: a kernel counter used as a doorbell. VFIO and vfio-user deliver
// interrupts (INTx, MSI, MSI-X vectors), device requests and errors through
// eventfds: the kernel or the peer adds to the counter, the owner reads and
// resets it. An EventFd owns its fd. Reads never block unless given a
// timeout, and return 0 when nothing is pending (a real count is never 0).

import { native } from './native.js';
import { WatchedFd } from './watched-fd.js';

export interface EventFdOptions {
  /** Counter's initial value (default 0). */
  initial?: number;
  /** Semaphore mode: each read returns 1 and decrements (default false). */
  semaphore?: boolean;
  /** O_NONBLOCK on the fd itself (default true); reads here never block either way. */
  nonblock?: boolean;
}

export class EventFd extends WatchedFd {
  /** Takes ownership of an existing eventfd (for example one received over a socket). */
  constructor(fd: number) {
    super(fd, 'EventFd');
  }

  static create(options: EventFdOptions = {}): EventFd {
    let flags = 0;
    if (options.semaphore) flags |= native.EFD_SEMAPHORE;
    if (options.nonblock ?? true) flags |= native.EFD_NONBLOCK;
    return new EventFd(native.eventfdCreate(options.initial ?? 0, flags));
  }

  /** Adds `count` (default 1) to the counter, waking whoever watches it. */
  signal(count: number | bigint = 1): void {
    native.eventfdWrite(this.live('eventfd'), count);
  }

  /**
   * Reads and resets the counter (semaphore mode: takes 1). Returns 0 if
   * nothing is pending within timeoutMs (default 0: do not wait; -1: forever).
   */
  read(timeoutMs = 0): number {
    return native.eventfdRead(this.live('eventfd'), timeoutMs);
  }

  /**
   * Calls `callback(count)` on the event loop each time the counter is
   * signalled, after reading it (one read per wake-up: in semaphore mode the
   * callback runs once per unit). Replaces a previous callback.
   */
  watch(callback: (count: number) => void): this {
    this.watchReadable('eventfd', (fd, error) => {
      if (error) throw error;
      const count = native.eventfdRead(fd, 0);
      if (count > 0) callback(count);
    });
    return this;
  }
}
