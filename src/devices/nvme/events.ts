// Asynchronous events (NVMe 1.4, 5.2): the Asynchronous Event Requests the
// host has outstanding, the events waiting for one, and the event types
// reported and masked until the host reads their log page. An event
// completes the oldest outstanding request on the admin completion queue.

import type { DmaWindows } from './dma-windows.js';
import type { QueueSet } from './queues.js';
import { ST } from './status.js';

/** An Asynchronous Event the controller reports: its type, information and the log page that clears it. */
export interface AsyncEvent {
  type: number;
  info: number;
  logPage: number;
}

export class AsyncEvents {
  /** Outstanding Asynchronous Event Requests (command ids). */
  requests: number[] = [];
  /** Events waiting for a request. */
  pending: AsyncEvent[] = [];
  /** (type << 8 | log page) of the events reported and not yet acknowledged by reading their log page. */
  readonly #masked = new Set<number>();
  readonly #queues: QueueSet;
  readonly #windows: () => DmaWindows;
  /** Raises the interrupts of the completions posted. */
  readonly #interrupts: () => void;

  constructor(queues: QueueSet, windows: () => DmaWindows, interrupts: () => void) {
    this.#queues = queues;
    this.#windows = windows;
    this.#interrupts = interrupts;
  }

  /** Holds an Asynchronous Event Request; false when `limit` (AERL, 0's based) are already held. */
  request(cid: number, limit: number): boolean {
    if (this.requests.length > limit) return false;
    this.requests.push(cid);
    return true;
  }

  /** Queues an event and delivers what can be delivered. */
  raise(type: number, info: number, logPage: number): void {
    this.pending.push({ type, info, logPage });
    this.deliver();
  }

  /** Reading log page `lid` with RAE clear acknowledges the events that point at it. */
  acknowledgeLog(lid: number): void {
    for (const t of [...this.#masked]) if ((t & 0xff) === lid) this.#masked.delete(t);
    this.deliver();
  }

  /** Events are waiting and a request can take one. */
  get deliverable(): boolean {
    return this.pending.length > 0 && this.requests.length > 0;
  }

  /** Completes held requests with waiting events of unmasked types while the admin CQ has room. */
  deliver(): void {
    const acq = this.#queues.cq(0);
    if (!acq) return;
    for (let i = 0; i < this.pending.length && this.requests.length > 0; ) {
      const e = this.pending[i]!;
      const key = (e.type << 8) | e.logPage;
      if ([...this.#masked].some((k) => k >> 8 === e.type)) {
        i++;
        continue;
      }
      if (acq.dw.length === 0 && !acq.resolve(this.#windows())) return;
      this.#queues.refreshCqHead(acq);
      if (acq.full) return;
      this.pending.splice(i, 1);
      const cid = this.requests.shift()!;
      this.#masked.add(key);
      acq.post((e.type & 7) | ((e.info & 0xff) << 8) | ((e.logPage & 0xff) << 16), this.#queues.sq(0)?.head ?? 0, 0, cid, 0);
    }
    this.#interrupts();
  }

  /** Abort of held request `cid`: completed with Command Abort Requested. False when it is not held or the admin CQ lacks room for it and the Abort's own completion. */
  abort(cid: number): boolean {
    const i = this.requests.indexOf(cid);
    const acq = this.#queues.cq(0);
    if (i < 0 || !acq || acq.free < 2) return false;
    this.requests.splice(i, 1);
    acq.post(0, this.#queues.sq(0)?.head ?? 0, 0, cid, ST.ABORT_REQUESTED);
    return true;
  }

  /** Controller reset: requests dropped (their queue is gone), events and masks forgotten. */
  clear(): void {
    this.requests = [];
    this.pending = [];
    this.#masked.clear();
  }
}
