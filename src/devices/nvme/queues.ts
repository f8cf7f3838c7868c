// Submission and completion queues (NVMe 1.4, 4.1).
//
// Queues are physically contiguous rings in the client's DMA memory (PC = 1
// is required: CAP.CQR = 1), reached through a DMA window resolved when the
// queue is created (and again if the client's map is replaced). Entries are
// read and written as dwords of a Uint32Array over that memory: a completion
// is written dwords 0-2 first and dword 3 (phase tag, status, command id)
// last, so a host polling the phase tag never sees a half-written entry.
//
// The host moves an SQ's tail and a CQ's head with doorbells; the controller
// reads them from the doorbell page (shared memory) when it polls. A
// doorbell value outside the queue is an Invalid Doorbell Write Value error
// (reported once per bad value as an asynchronous event) and is ignored.

import type { DmaWindows } from './dma-windows.js';

export class CompletionQueue {
  readonly qid: number;
  readonly size: number;
  readonly base: number;
  readonly ien: boolean;
  readonly vector: number;
  /** The ring as dwords (4 per entry); empty until resolved. */
  dw: Uint32Array = new Uint32Array(0);
  tail = 0;
  head = 0;
  phase = 1;
  /** Submission queues posting here. */
  sqCount = 0;
  /** Entries were posted since the last interrupt. */
  irqPending = false;
  /** Last invalid head doorbell value reported. */
  badHead = -1;

  constructor(qid: number, size: number, base: number, ien: boolean, vector: number) {
    this.qid = qid;
    this.size = size;
    this.base = base;
    this.ien = ien;
    this.vector = vector;
  }

  /** Maps the ring; false when the memory is not reachable. */
  resolve(windows: DmaWindows): boolean {
    const bytes = this.size * 16;
    const w = windows.find(this.base, bytes, true);
    if (w === null) return false;
    this.dw = w.u32.subarray((this.base - w.start) / 4, (this.base - w.start + bytes) / 4);
    return true;
  }

  /** Entries that can be posted before the queue is full (as of the last head seen). */
  get free(): number {
    const used = this.tail >= this.head ? this.tail - this.head : this.size - this.head + this.tail;
    return this.size - 1 - used;
  }

  get full(): boolean {
    const t = this.tail + 1;
    return (t === this.size ? 0 : t) === this.head;
  }

  /** Posts a completion (the caller checked `full`). */
  post(dw0: number, sqhd: number, sqid: number, cid: number, status: number): void {
    const i = this.tail * 4;
    const dw = this.dw;
    dw[i] = dw0;
    dw[i + 1] = 0;
    dw[i + 2] = (sqhd | (sqid << 16)) >>> 0;
    dw[i + 3] = (cid | (this.phase << 16) | (status << 17)) >>> 0;
    if (++this.tail === this.size) {
      this.tail = 0;
      this.phase ^= 1;
    }
    this.irqPending = true;
  }
}

export class SubmissionQueue {
  readonly qid: number;
  readonly size: number;
  readonly base: number;
  readonly cq: CompletionQueue;
  readonly priority: number;
  dw: Uint32Array = new Uint32Array(0);
  head = 0;
  tail = 0;
  /** Last invalid tail doorbell value reported. */
  badTail = -1;

  constructor(qid: number, size: number, base: number, cq: CompletionQueue, priority: number) {
    this.qid = qid;
    this.size = size;
    this.base = base;
    this.cq = cq;
    this.priority = priority;
  }

  resolve(windows: DmaWindows): boolean {
    const bytes = this.size * 64;
    const w = windows.find(this.base, bytes, false);
    if (w === null) return false;
    this.dw = w.u32.subarray((this.base - w.start) / 4, (this.base - w.start + bytes) / 4);
    return true;
  }
}
