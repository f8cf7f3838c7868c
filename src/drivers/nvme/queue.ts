// Submission/completion queue pairs (NVMe 1.4 §4.1, §4.2, §4.6).
//
// A submission queue is a ring of 64-byte entries the host fills at its tail
// and announces by writing the new tail to the SQ's doorbell; the controller
// consumes from the head. A completion queue is a ring of 16-byte entries the
// controller fills; the host recognises a new entry by its phase tag (bit 16
// of DW3), which the controller inverts on every pass over the ring, so the
// host expects phase 1 on the first pass, 0 on the second, and so on; it
// releases consumed entries by writing the new head to the CQ's doorbell.
//
// QueuePair owns both rings and a fixed set of command slots: the command id
// of a command is its slot number, so at most entries-1 commands are
// outstanding and the SQ can never overflow. Every slot has, preallocated, a
// data buffer (for copies in and out) and PRP list pages (for transfers
// longer than two pages), so the synchronous polled path (submitIo/ring/reap)
// allocates nothing per command; the asynchronous path (execute) returns a
// promise settled by completion processing, which runs when the queue is
// polled (a setImmediate/setTimeout poller while commands are outstanding) or
// when the controller's interrupt handler calls process().
//
// The rings work on any memory that looks like a DMA buffer and any doorbell
// that has write32, so host tests drive a QueuePair against a fake controller.

import { fail } from '../../errors.js';
import { CQE, CQE_DW3, SQE } from '../../hw/nvme/entries.js';
import { cqHeadDoorbell, sqTailDoorbell } from '../../hw/nvme/regs.js';
import { isSuccess } from '../../hw/nvme/status.js';
import { buildPrps, type PrpListSpace, type Prps } from './prp.js';
import { NvmeControllerError, NvmeError, NvmeTimeoutError } from './status.js';

/** Memory a device reads and writes at `iova` (a DmaBuffer or a test's fake). */
export interface DmaMemoryLike {
  readonly iova: bigint;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  free(): void;
}

/** Where doorbells are written (BAR0 of the controller: a Region). */
export interface DoorbellTarget {
  write32(offset: number, value: number): void;
}

/** Allocates DMA memory for a queue: the Device's allocDma, or a test's stand-in. */
export type DmaAlloc = (size: number, name: string) => DmaMemoryLike;

/** A ring of `entries` entries of `entrySize` bytes over memory, seen as dwords. */
class Ring {
  readonly entries: number;
  readonly u32: Uint32Array;
  head = 0;

  constructor(mem: { bytes: Uint8Array }, entries: number, entrySize: number) {
    this.entries = entries;
    this.u32 = new Uint32Array(mem.bytes.buffer, mem.bytes.byteOffset, (entries * entrySize) >>> 2);
  }
}

/** The submission ring: entries written at the tail. Pure bookkeeping over memory. */
export class SubmissionRing extends Ring {
  tail = 0;
  // head: the last SQ head reported by the controller (SQHD of a completion).

  constructor(mem: { bytes: Uint8Array }, entries: number) {
    super(mem, entries, SQE.SIZE);
  }

  /** dword index of the entry at the tail. */
  get tailIndex(): number {
    return this.tail * (SQE.SIZE >>> 2);
  }

  /** Moves the tail on by one (wrapping); returns the new tail. */
  advance(): number {
    this.tail = this.tail + 1 === this.entries ? 0 : this.tail + 1;
    return this.tail;
  }
}

/** The completion ring: new entries found by phase tag at the head. Pure bookkeeping over memory. */
export class CompletionRing extends Ring {
  /** The phase tag a new entry carries on this pass (1 on the first). */
  phase = 1;

  constructor(mem: { bytes: Uint8Array }, entries: number) {
    super(mem, entries, CQE.SIZE);
  }

  /** DW3 of the head entry if it is new (its phase tag matches), else -1. */
  peek(): number {
    // Atomics.load: the controller writes this memory behind the JIT's back.
    const dw3 = Atomics.load(this.u32, this.head * 4 + 3);
    return ((dw3 >>> CQE_DW3.PHASE_SHIFT) & 1) === this.phase ? dw3 : -1;
  }

  /** dword index of the head entry. */
  get headIndex(): number {
    return this.head * 4;
  }

  /** Consumes the head entry; the phase flips when the head wraps. Returns the new head. */
  pop(): number {
    if (++this.head === this.entries) {
      this.head = 0;
      this.phase ^= 1;
    }
    return this.head;
  }
}

/** The completion of a command. */
export interface Completion {
  /** Command specific DW0. */
  dw0: number;
  /** The 15-bit status field (0: success). */
  status: number;
  /** SQ head the controller reported. */
  sqhd: number;
}

/** A command for execute(). Unset dwords are 0. */
export interface NvmeCommand {
  opcode: number;
  nsid?: number;
  cdw2?: number;
  cdw3?: number;
  cdw10?: number;
  cdw11?: number;
  cdw12?: number;
  cdw13?: number;
  cdw14?: number;
  cdw15?: number;
  /** Name for messages ("Identify", "Read"). */
  name?: string;
  /** Data in caller-owned DMA memory (IOVA-contiguous): PRPs are built for it. */
  data?: { iova: bigint; length: number };
  /**
   * Data through the slot's own preallocated buffer instead: `length` bytes;
   * `fill` copies data in before submission (writes), `drain` copies it out
   * at completion, before the slot is reused (reads).
   */
  slotData?: { length: number; fill?: (buf: Uint8Array) => void; drain?: (buf: Uint8Array) => void };
  /** Overrides the queue's command time-out (ms). */
  timeoutMs?: number;
  /** Do not throw on an error status: resolve with it. */
  allowError?: boolean;
}

/** Shape of one submission/completion queue pair: id, depth, doorbells, memory. */
export interface QueuePairOptions {
  /** Queue identifier (0: admin). */
  qid: number;
  /** Entries of each ring (2..MQES+1). */
  entries: number;
  /** BAR0 (doorbells) and the doorbell stride (CAP.DSTRD). */
  doorbells: DoorbellTarget;
  doorbellStride: number;
  /** Allocates the rings and the slot memory. */
  alloc: DmaAlloc;
  /** Memory page size (CC.MPS). */
  pageSize: number;
  /** Bytes of data buffer per slot (a multiple of pageSize; 0: none). */
  slotBytes: number;
  /** PRP list pages per slot (0: transfers of at most two pages). */
  listPages: number;
  /** Command slots (default and maximum: entries - 1). */
  slots?: number;
  /** Default command time-out, ms. */
  timeoutMs: number;
  /** Interrupt vector of the CQ, or -1 for none (polled). */
  vector?: number;
  /** Extra words for a time-out message (e.g. the controller's CSTS). */
  diagnose?: () => string;
}

const FREE = 0;
const SYNC = 1;
const ASYNC = 2;
const ABANDONED = 3;

interface Pending {
  resolve: (c: Completion) => void;
  reject: (e: Error) => void;
  cmd: NvmeCommand;
  timer: NodeJS.Timeout | undefined;
}

/** One submission queue and its completion queue (1:1), with command slots. */
export class QueuePair {
  readonly qid: number;
  readonly entries: number;
  readonly slots: number;
  readonly pageSize: number;
  readonly slotBytes: number;
  readonly vector: number;
  readonly sqMem: DmaMemoryLike;
  readonly cqMem: DmaMemoryLike;
  readonly sq: SubmissionRing;
  readonly cq: CompletionRing;
  /** Called for each completion of submitIo (slot, status field; 0 is success). Set it once, before submitting. */
  onIo: ((slot: number, status: number) => void) | null = null;
  /** Completions whose command id matched no outstanding command. */
  strayCompletions = 0;
  /** Completions of submitIo commands with an error status. */
  ioErrors = 0;
  /** Status of the last completion of each slot. */
  readonly statuses: Uint16Array;
  readonly dw0s: Uint32Array;
  timeoutMs: number;
  /** 'poll': a poller processes completions while async commands are outstanding; 'interrupt': process() is called by the interrupt handler. */
  mode: 'poll' | 'interrupt' = 'poll';

  readonly #doorbells: DoorbellTarget;
  readonly #sqDoorbell: number;
  readonly #cqDoorbell: number;
  readonly #data: DmaMemoryLike | null;
  readonly #lists: DmaMemoryLike | null;
  readonly #listSpaces: PrpListSpace[] = [];
  readonly #slotViews: Uint8Array[] = [];
  /** Per slot: PRP1 and the PRP2 for a 2-page transfer / a list, as u32 halves (no BigInt per I/O). */
  readonly #slotPrp: Uint32Array;
  readonly #listIsSlotList: Uint8Array;
  readonly #state: Uint8Array;
  readonly #free: Int32Array;
  #freeTop = 0;
  readonly #pending: (Pending | undefined)[];
  readonly #prps: Prps = { prp1: 0n, prp2: 0n, pageEntries: 0, listPages: 0 };
  readonly #diagnose: (() => string) | undefined;
  #outstanding = 0;
  #asyncOutstanding = 0;
  #unrung = 0;
  #poller: NodeJS.Immediate | NodeJS.Timeout | undefined;
  #idlePolls = 0;
  #closed = false;

  constructor(o: QueuePairOptions) {
    if (!Number.isInteger(o.entries) || o.entries < 2 || o.entries > 65536)
      throw fail('EINVAL', `queue entries must be 2-65536, got ${o.entries}`);
    if (o.slotBytes % o.pageSize !== 0)
      throw fail('EINVAL', `slot buffer of ${o.slotBytes} bytes is not a multiple of the ${o.pageSize}-byte page`);
    this.qid = o.qid;
    this.entries = o.entries;
    this.slots = Math.min(o.slots ?? o.entries - 1, o.entries - 1);
    if (this.slots < 1) throw fail('EINVAL', 'a queue needs at least one command slot');
    this.pageSize = o.pageSize;
    this.slotBytes = o.slotBytes;
    this.vector = o.vector ?? -1;
    this.timeoutMs = o.timeoutMs;
    this.#doorbells = o.doorbells;
    this.#sqDoorbell = sqTailDoorbell(o.qid, o.doorbellStride);
    this.#cqDoorbell = cqHeadDoorbell(o.qid, o.doorbellStride);
    this.#diagnose = o.diagnose;
    const owned: DmaMemoryLike[] = [];
    try {
      this.sqMem = o.alloc(o.entries * SQE.SIZE, `nvme-sq${o.qid}`);
      owned.push(this.sqMem);
      this.cqMem = o.alloc(o.entries * CQE.SIZE, `nvme-cq${o.qid}`);
      owned.push(this.cqMem);
      this.cqMem.bytes.fill(0, 0, o.entries * CQE.SIZE); // phase 0 everywhere: nothing new
      this.#data = o.slotBytes > 0 ? o.alloc(this.slots * o.slotBytes, `nvme-q${o.qid}-data`) : null;
      if (this.#data) owned.push(this.#data);
      this.#lists = o.listPages > 0 ? o.alloc(this.slots * o.listPages * o.pageSize, `nvme-q${o.qid}-prp`) : null;
      if (this.#lists) owned.push(this.#lists);
    } catch (err) {
      for (const m of owned) m.free();
      throw err;
    }
    this.sq = new SubmissionRing(this.sqMem, o.entries);
    this.cq = new CompletionRing(this.cqMem, o.entries);
    this.statuses = new Uint16Array(this.slots);
    this.dw0s = new Uint32Array(this.slots);
    this.#state = new Uint8Array(this.slots);
    this.#free = new Int32Array(this.slots);
    this.#slotPrp = new Uint32Array(this.slots * 4);
    this.#listIsSlotList = new Uint8Array(this.slots);
    this.#pending = new Array<Pending | undefined>(this.slots).fill(undefined);
    for (let s = this.slots - 1; s >= 0; s--) this.#free[this.#freeTop++] = s;
    for (let s = 0; s < this.slots; s++) {
      if (this.#lists) {
        this.#listSpaces.push({
          iova: this.#lists.iova + BigInt(s * o.listPages * o.pageSize),
          view: this.#lists.view,
          offset: s * o.listPages * o.pageSize,
          pages: o.listPages,
        });
      }
      if (this.#data) {
        this.#slotViews.push(this.#data.bytes.subarray(s * o.slotBytes, (s + 1) * o.slotBytes));
        const iova = this.#data.iova + BigInt(s * o.slotBytes);
        const second = iova + BigInt(o.pageSize);
        const p = this.#slotPrp;
        p[s * 4] = Number(iova & 0xffffffffn);
        p[s * 4 + 1] = Number(iova >> 32n);
        p[s * 4 + 2] = Number(second & 0xffffffffn);
        p[s * 4 + 3] = Number(second >> 32n);
        this.#prebuildSlotList(s);
      }
    }
  }

  /** Commands submitted and not yet completed (time-outs included until they complete). */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Free command slots. */
  get freeSlots(): number {
    return this.#freeTop;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Largest transfer through a slot buffer, bytes. */
  get maxSlotTransfer(): number {
    return this.slotBytes;
  }

  /** The preallocated data buffer of `slot` (a fixed view: the same object every time). */
  slotBuffer(slot: number): Uint8Array {
    const v = this.#slotViews[slot];
    if (!v) throw fail('EINVAL', `queue ${this.qid} has no data buffer for slot ${slot}`);
    return v;
  }

  // ---- the synchronous fast path ----------------------------------------

  /**
   * Writes a read/write-style command (SLBA in CDW10/11, 0's based block
   * count in CDW12) for `bytes` of the slot's own buffer into the SQ and
   * returns its slot, or -1 when every slot is busy. Allocates nothing. The
   * doorbell is written now unless `ring` is false (then call ring() once for
   * the batch). Completion: reap(), then onIo(slot, status) and statuses[slot].
   * For a write, fill slotBuffer(slot) first: peekFreeSlot() tells which it will be.
   */
  submitIo(opcode: number, nsid: number, lba: number, blocks: number, bytes: number, ring = true): number {
    if (this.#freeTop === 0 || this.#closed) return -1;
    if (bytes > this.slotBytes) throw fail('EINVAL', `a ${bytes}-byte transfer exceeds the ${this.slotBytes}-byte slot buffer`);
    const slot = this.#free[--this.#freeTop]!;
    this.#state[slot] = SYNC;
    this.#outstanding++;
    const q = this.sq.u32;
    const e = this.sq.tailIndex;
    const p = this.#slotPrp;
    q[e] = (opcode & 0xff) | (slot << 16);
    q[e + 1] = nsid;
    q[e + 2] = 0;
    q[e + 3] = 0;
    q[e + 4] = 0;
    q[e + 5] = 0;
    q[e + 6] = p[slot * 4]!;
    q[e + 7] = p[slot * 4 + 1]!;
    const pages = Math.ceil(bytes / this.pageSize);
    if (pages <= 1) {
      q[e + 8] = 0;
      q[e + 9] = 0;
    } else if (pages === 2) {
      q[e + 8] = p[slot * 4 + 2]!;
      q[e + 9] = p[slot * 4 + 3]!;
    } else {
      if (this.#listIsSlotList[slot] === 0) this.#prebuildSlotList(slot);
      const l = this.#listSpaces[slot];
      if (!l) throw fail('EINVAL', `queue ${this.qid} has no PRP list pages for a ${bytes}-byte transfer`);
      q[e + 8] = Number(l.iova & 0xffffffffn);
      q[e + 9] = Number(l.iova >> 32n);
    }
    q[e + 10] = lba >>> 0;
    q[e + 11] = Math.floor(lba / 0x100000000);
    q[e + 12] = (blocks - 1) & 0xffff;
    q[e + 13] = 0;
    q[e + 14] = 0;
    q[e + 15] = 0;
    this.sq.advance();
    this.#unrung++;
    if (ring) this.ring();
    return slot;
  }

  /** The slot the next submission will take, or -1 when none is free. */
  peekFreeSlot(): number {
    return this.#freeTop === 0 ? -1 : this.#free[this.#freeTop - 1]!;
  }

  /** Writes the SQ tail doorbell if entries were added since the last write. */
  ring(): void {
    if (this.#unrung === 0) return;
    this.#unrung = 0;
    this.#doorbells.write32(this.#sqDoorbell, this.sq.tail);
  }

  /** Processes new completions (at most `max`), writes the CQ head doorbell once; returns how many. */
  reap(max = 0x7fffffff): number {
    return this.process(max);
  }

  /** Spins (synchronously) until no command is outstanding or `timeoutMs` passes; returns the number still outstanding. */
  drainSync(timeoutMs = this.timeoutMs): number {
    const deadline = performance.now() + timeoutMs;
    let spins = 0;
    while (this.#outstanding > 0) {
      if (this.process() === 0 && (++spins & 0x3ff) === 0 && performance.now() > deadline) break;
    }
    return this.#outstanding;
  }

  // ---- completion processing --------------------------------------------

  /** Consumes every new completion entry (up to `max`); returns how many. */
  process(max = 0x7fffffff): number {
    const cq = this.cq;
    const u = cq.u32;
    let n = 0;
    while (n < max) {
      const dw3 = cq.peek();
      if (dw3 === -1) break;
      const i = cq.headIndex;
      const dw0 = u[i]!;
      const sqhd = u[i + (CQE.SQHD >>> 2)]! & 0xffff;
      cq.pop();
      n++;
      this.sq.head = sqhd;
      this.#complete(dw3 & 0xffff, dw3 >>> CQE_DW3.STATUS_SHIFT, dw0, sqhd);
    }
    if (n > 0 && !this.#closed) this.#doorbells.write32(this.#cqDoorbell, cq.head);
    return n;
  }

  #complete(cid: number, status: number, dw0: number, sqhd: number): void {
    if (cid >= this.slots) {
      this.strayCompletions++;
      return;
    }
    const state = this.#state[cid];
    if (state === FREE) {
      this.strayCompletions++;
      return;
    }
    this.statuses[cid] = status;
    this.dw0s[cid] = dw0;
    this.#outstanding--;
    if (state === SYNC) {
      if (!isSuccess(status)) this.ioErrors++;
      const cb = this.onIo;
      if (cb) cb(cid, status);
    } else if (state === ASYNC) {
      const p = this.#pending[cid]!;
      this.#pending[cid] = undefined;
      this.#asyncOutstanding--;
      if (p.timer) clearTimeout(p.timer);
      const cmd = p.cmd;
      if (isSuccess(status) || cmd.allowError) {
        if (cmd.slotData?.drain && isSuccess(status)) {
          try {
            cmd.slotData.drain(this.#slotViews[cid]!.subarray(0, cmd.slotData.length));
          } catch (err) {
            this.#release(cid);
            p.reject(err as Error);
            return;
          }
        }
        this.#release(cid);
        p.resolve({ dw0, status, sqhd });
        return;
      }
      this.#release(cid);
      p.reject(
        new NvmeError(status, { opcode: cmd.opcode, qid: this.qid, cid, ...(cmd.name !== undefined ? { command: cmd.name } : {}) }, dw0),
      );
      return;
    } // else ABANDONED: its promise was rejected by the time-out; the id is free again now
    this.#release(cid);
  }

  #release(slot: number): void {
    this.#state[slot] = FREE;
    this.#free[this.#freeTop++] = slot;
  }

  // ---- the asynchronous path --------------------------------------------

  /** Submits `cmd` and resolves with its completion (rejects with NvmeError on an error status, NvmeTimeoutError on time-out). */
  execute(cmd: NvmeCommand): Promise<Completion> {
    if (this.#closed) return Promise.reject(new NvmeControllerError('NVME_QUEUE_CLOSED', `queue ${this.qid} is deleted`));
    if (this.#freeTop === 0) return Promise.reject(fail('EBUSY', `queue ${this.qid}: all ${this.slots} command slots are busy`));
    return new Promise<Completion>((resolve, reject) => {
      const slot = this.#free[this.#freeTop - 1]!;
      try {
        this.#writeCommand(slot, cmd);
      } catch (err) {
        reject(err as Error);
        return;
      }
      this.#freeTop--;
      this.#state[slot] = ASYNC;
      this.#outstanding++;
      this.#asyncOutstanding++;
      const timeoutMs = cmd.timeoutMs ?? this.timeoutMs;
      const p: Pending = { resolve, reject, cmd, timer: undefined };
      p.timer = setTimeout(() => this.#timedOut(slot, p, timeoutMs), timeoutMs);
      this.#pending[slot] = p;
      this.sq.advance();
      this.#unrung++;
      this.ring();
      this.#schedulePoll();
    });
  }

  #writeCommand(slot: number, cmd: NvmeCommand): void {
    let prp1 = 0n;
    let prp2 = 0n;
    if (cmd.data && cmd.slotData) throw fail('EINVAL', 'a command takes data from its own memory or from the slot buffer, not both');
    if (cmd.data && cmd.data.length > 0) {
      const r = buildPrps(cmd.data.iova, cmd.data.length, this.pageSize, this.#listSpaces[slot], this.#prps);
      if (r.listPages > 0) this.#listIsSlotList[slot] = 0;
      prp1 = r.prp1;
      prp2 = r.prp2;
    } else if (cmd.slotData && cmd.slotData.length > 0) {
      const len = cmd.slotData.length;
      const buf = this.#slotViews[slot];
      if (!buf) throw fail('EINVAL', `queue ${this.qid} has no slot data buffers`);
      if (len > this.slotBytes)
        throw fail('EINVAL', `a ${len}-byte transfer exceeds the ${this.slotBytes}-byte slot buffer of queue ${this.qid}`);
      if (len > 2 * this.pageSize && this.#listIsSlotList[slot] === 0) this.#prebuildSlotList(slot);
      if (len > 2 * this.pageSize && !this.#listSpaces[slot])
        throw fail('EINVAL', `queue ${this.qid} has no PRP list pages for ${len} bytes`);
      cmd.slotData.fill?.(buf.subarray(0, len));
      const p = this.#slotPrp;
      prp1 = BigInt(p[slot * 4]!) | (BigInt(p[slot * 4 + 1]!) << 32n);
      if (len > 2 * this.pageSize) prp2 = this.#listSpaces[slot]!.iova;
      else if (len > this.pageSize) prp2 = BigInt(p[slot * 4 + 2]!) | (BigInt(p[slot * 4 + 3]!) << 32n);
    }
    const q = this.sq.u32;
    const e = this.sq.tailIndex;
    q[e] = (cmd.opcode & 0xff) | (slot << 16);
    q[e + 1] = cmd.nsid ?? 0;
    q[e + 2] = cmd.cdw2 ?? 0;
    q[e + 3] = cmd.cdw3 ?? 0;
    q[e + 4] = 0;
    q[e + 5] = 0;
    q[e + 6] = Number(prp1 & 0xffffffffn);
    q[e + 7] = Number(prp1 >> 32n);
    q[e + 8] = Number(prp2 & 0xffffffffn);
    q[e + 9] = Number(prp2 >> 32n);
    q[e + 10] = cmd.cdw10 ?? 0;
    q[e + 11] = cmd.cdw11 ?? 0;
    q[e + 12] = cmd.cdw12 ?? 0;
    q[e + 13] = cmd.cdw13 ?? 0;
    q[e + 14] = cmd.cdw14 ?? 0;
    q[e + 15] = cmd.cdw15 ?? 0;
  }

  /** Fills slot `s`'s list pages with the pages of its own data buffer (after the first). */
  #prebuildSlotList(s: number): void {
    const l = this.#listSpaces[s];
    if (!l || !this.#data || this.slotBytes <= 2 * this.pageSize) return;
    const iova = this.#data.iova + BigInt(s * this.slotBytes);
    try {
      buildPrps(iova, this.slotBytes, this.pageSize, l, this.#prps);
      this.#listIsSlotList[s] = 1;
    } catch {
      this.#listIsSlotList[s] = 0; // too few list pages for the whole buffer: built per command
    }
  }

  #timedOut(slot: number, p: Pending, timeoutMs: number): void {
    if (this.#pending[slot] !== p) return;
    this.process(); // a completion may be there without its interrupt
    if (this.#pending[slot] !== p) return;
    this.#pending[slot] = undefined;
    this.#state[slot] = ABANDONED; // the id stays taken until the controller completes it
    this.#asyncOutstanding--;
    const cmd = p.cmd;
    p.reject(
      new NvmeTimeoutError(
        { opcode: cmd.opcode, qid: this.qid, cid: slot, ...(cmd.name !== undefined ? { command: cmd.name } : {}) },
        timeoutMs,
        this.#diagnose?.() ?? '',
      ),
    );
  }

  #schedulePoll(): void {
    if (this.mode !== 'poll' || this.#poller !== undefined || this.#closed) return;
    this.#idlePolls = 0;
    this.#poller = setImmediate(this.#pollTick);
  }

  readonly #pollTick = (): void => {
    this.#poller = undefined;
    if (this.#closed || this.mode !== 'poll') return;
    if (this.process() > 0) this.#idlePolls = 0;
    else this.#idlePolls++;
    if (this.#asyncOutstanding === 0) return;
    // Spin on the event loop for a while, then back off to 1 ms ticks. (Not
    // unref'd: an unref'd immediate lets the loop sleep until the next timer.)
    this.#poller = this.#idlePolls < 200 ? setImmediate(this.#pollTick) : setTimeout(this.#pollTick, 1);
  };

  /** Stops polling, fails every pending command with NVME_QUEUE_CLOSED and frees the queue's memory. */
  close(reason = `queue ${this.qid} deleted`): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#poller !== undefined) {
      clearImmediate(this.#poller as NodeJS.Immediate);
      clearTimeout(this.#poller as NodeJS.Timeout);
      this.#poller = undefined;
    }
    for (let s = 0; s < this.slots; s++) {
      const p = this.#pending[s];
      if (p) {
        if (p.timer) clearTimeout(p.timer);
        this.#pending[s] = undefined;
        p.reject(new NvmeControllerError('NVME_QUEUE_CLOSED', `${reason} with command ${s} outstanding`));
      }
    }
    for (const m of [this.sqMem, this.cqMem, this.#data, this.#lists]) m?.free();
  }
}
