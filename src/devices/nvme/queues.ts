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
// QueueSet holds the controller's queues and reads the doorbell page.

import { CQE, CQE_DW3, SQE } from '../../hw/nvme/entries.js';
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
    const bytes = this.size * CQE.SIZE;
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
    const i = this.tail * (CQE.SIZE >>> 2);
    const dw = this.dw;
    dw[i] = dw0;
    dw[i + 1] = 0;
    dw[i + 2] = (sqhd | (sqid << 16)) >>> 0;
    dw[i + 3] = (cid | (this.phase << CQE_DW3.PHASE_SHIFT) | (status << CQE_DW3.STATUS_SHIFT)) >>> 0;
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
    const bytes = this.size * SQE.SIZE;
    const w = windows.find(this.base, bytes, false);
    if (w === null) return false;
    this.dw = w.u32.subarray((this.base - w.start) / 4, (this.base - w.start + bytes) / 4);
    return true;
  }
}

/**
 * The controller's queues by id (0: admin), in id order for the poller, and
 * the doorbell page: SQy tail at dword 2y, CQy head at dword 2y + 1 (DSTRD 0).
 */
export class QueueSet {
  readonly #sqs: (SubmissionQueue | undefined)[];
  readonly #cqs: (CompletionQueue | undefined)[];
  /** The queues in id order (replaced, never mutated: a poll round iterates a snapshot). */
  sqList: SubmissionQueue[] = [];
  cqList: CompletionQueue[] = [];
  #db: Uint32Array = new Uint32Array(0);
  /** Called once per invalid doorbell value. */
  readonly #badDoorbell: () => void;

  constructor(maxQid: number, badDoorbell: () => void) {
    this.#sqs = new Array(maxQid + 1).fill(undefined);
    this.#cqs = new Array(maxQid + 1).fill(undefined);
    this.#badDoorbell = badDoorbell;
  }

  /** The doorbell page (empty until the BAR's memory exists). */
  set doorbells(db: Uint32Array) {
    this.#db = db;
  }

  sq(qid: number): SubmissionQueue | undefined {
    return this.#sqs[qid];
  }

  cq(qid: number): CompletionQueue | undefined {
    return this.#cqs[qid];
  }

  addSq(sq: SubmissionQueue): void {
    this.#sqs[sq.qid] = sq;
    sq.cq.sqCount++;
    this.sqList = [...this.sqList, sq].sort((a, b) => a.qid - b.qid);
  }

  addCq(cq: CompletionQueue): void {
    this.#cqs[cq.qid] = cq;
    this.cqList = [...this.cqList, cq].sort((a, b) => a.qid - b.qid);
  }

  removeSq(sq: SubmissionQueue): void {
    this.#sqs[sq.qid] = undefined;
    sq.cq.sqCount--;
    this.sqList = this.sqList.filter((q) => q !== sq);
    this.#db[2 * sq.qid] = 0;
  }

  removeCq(cq: CompletionQueue): void {
    this.#cqs[cq.qid] = undefined;
    this.cqList = this.cqList.filter((q) => q !== cq);
    this.#db[2 * cq.qid + 1] = 0;
  }

  /** Deletes every queue; the doorbells are zeroed unless `keepDoorbells` (the client left: the page is its no more). */
  clear(keepDoorbells: boolean): void {
    for (const sq of this.sqList) this.#sqs[sq.qid] = undefined;
    for (const cq of this.cqList) this.#cqs[cq.qid] = undefined;
    this.sqList = [];
    this.cqList = [];
    if (!keepDoorbells) this.#db.fill(0);
  }

  /** Reads CQ `cq`'s head doorbell. */
  refreshCqHead(cq: CompletionQueue): void {
    const h = this.#db[2 * cq.qid + 1]!;
    if (h === cq.head) return;
    if (h < cq.size) {
      cq.head = h;
    } else if (h !== cq.badHead) {
      cq.badHead = h;
      this.#badDoorbell();
    }
  }

  /** Reads SQ `sq`'s tail doorbell. */
  refreshSqTail(sq: SubmissionQueue): void {
    const t = this.#db[2 * sq.qid]!;
    if (t === sq.tail) return;
    if (t < sq.size) {
      sq.tail = t;
    } else if (t !== sq.badTail) {
      sq.badTail = t;
      this.#badDoorbell();
    }
  }
}
