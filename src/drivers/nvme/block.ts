// The block API of one namespace (NVM command set, NVMe 1.4 §6): read,
// write, flush, Write Zeroes and Dataset Management (deallocate), on one I/O
// queue pair.
//
// Asynchronous calls copy through the command slots' preallocated DMA buffers
// (a transfer longer than a slot, or than MDTS, is split into several
// commands, submitted together); readDma/writeDma use the caller's DMA memory
// directly (PRP lists built for it). The LBA range is not checked here: the
// controller answers an out-of-range access with LBA Out of Range, which
// arrives as an NvmeError with code NVME_LBA_OUT_OF_RANGE.
//
// PolledIo is the synchronous fast path for benchmarks: submit a batch, ring
// the doorbell once, reap completions by phase tag; it allocates nothing per
// I/O (slot buffers and views are preallocated, PRPs precomputed).

import { fail } from '../../errors.js';
import { DSM, NVM, RW } from '../../hw/nvme/commands.js';
import type { NamespaceIdentity } from './identify.js';
import type { QueuePair } from './queue.js';

/** DMA memory a caller owns (a DmaBuffer). */
export interface DmaTarget {
  readonly iova: bigint;
  readonly size: number;
}

/** A range of blocks for Dataset Management (deallocate). */
export interface DsmRange {
  lba: number;
  blocks: number;
}

/** One namespace, as blocks: read, write, flush, write zeroes, deallocate, and a polled fast path. */
export class NvmeNamespace {
  readonly nsid: number;
  readonly identity: NamespaceIdentity;
  /** Bytes per logical block. */
  readonly blockSize: number;
  /** Namespace size in blocks (NSZE). */
  readonly blocks: number;
  /** I/O queue used by default. */
  queue: QueuePair;

  /** Largest transfer of one command, bytes (the controller's MDTS). */
  readonly maxTransferBytes: number;

  constructor(nsid: number, identity: NamespaceIdentity, queue: QueuePair, maxTransferBytes: number) {
    this.nsid = nsid;
    this.maxTransferBytes = maxTransferBytes;
    this.identity = identity;
    this.blockSize = identity.blockSize;
    this.blocks = Number(identity.size);
    this.queue = queue;
  }

  /** Most blocks one command moves through a slot buffer of `q`. */
  maxBlocksPerCommand(q: QueuePair = this.queue): number {
    const bytes = Math.min(q.slotBytes, this.maxTransferBytes);
    return Math.max(1, Math.min(65536, Math.floor(bytes / this.blockSize)));
  }

  #checkRange(lba: number, blocks: number): void {
    if (!Number.isSafeInteger(lba) || lba < 0) throw fail('EINVAL', `LBA must be a non-negative integer, got ${lba}`);
    if (!Number.isSafeInteger(blocks) || blocks < 1) throw fail('EINVAL', `block count must be a positive integer, got ${blocks}`);
  }

  /** Reads `blocks` blocks at `lba` into a new array. */
  async read(lba: number, blocks: number, q: QueuePair = this.queue): Promise<Uint8Array> {
    this.#checkRange(lba, blocks);
    const out = new Uint8Array(blocks * this.blockSize);
    await this.readInto(lba, out, q);
    return out;
  }

  /** Reads `dst.length / blockSize` blocks at `lba` into `dst`. */
  async readInto(lba: number, dst: Uint8Array, q: QueuePair = this.queue): Promise<void> {
    const blocks = this.#blocksOf(dst.length);
    this.#checkRange(lba, blocks);
    await this.#chunks(lba, blocks, q, (l, n, off) =>
      q.execute({
        opcode: NVM.READ,
        name: 'Read',
        nsid: this.nsid,
        cdw10: l >>> 0,
        cdw11: Math.floor(l / 0x100000000),
        cdw12: n - 1,
        slotData: { length: n * this.blockSize, drain: (b) => dst.set(b, off) },
      }),
    );
  }

  /** Writes `data` (a whole number of blocks) at `lba`. `fua`: Force Unit Access. */
  async write(lba: number, data: Uint8Array, options: { fua?: boolean } = {}, q: QueuePair = this.queue): Promise<void> {
    const blocks = this.#blocksOf(data.length);
    this.#checkRange(lba, blocks);
    await this.#chunks(lba, blocks, q, (l, n, off) =>
      q.execute({
        opcode: NVM.WRITE,
        name: 'Write',
        nsid: this.nsid,
        cdw10: l >>> 0,
        cdw11: Math.floor(l / 0x100000000),
        cdw12: (n - 1) | (options.fua ? RW.FUA : 0),
        slotData: { length: n * this.blockSize, fill: (b) => b.set(data.subarray(off, off + n * this.blockSize)) },
      }),
    );
  }

  /** Reads into caller-owned DMA memory at `offset` (zero copy; one command, at most MDTS). */
  async readDma(lba: number, blocks: number, buf: DmaTarget, offset = 0, q: QueuePair = this.queue): Promise<void> {
    await this.#dma(NVM.READ, 'Read', lba, blocks, buf, offset, q);
  }

  /** Writes from caller-owned DMA memory at `offset` (zero copy; one command, at most MDTS). */
  async writeDma(lba: number, blocks: number, buf: DmaTarget, offset = 0, q: QueuePair = this.queue): Promise<void> {
    await this.#dma(NVM.WRITE, 'Write', lba, blocks, buf, offset, q);
  }

  async #dma(opcode: number, name: string, lba: number, blocks: number, buf: DmaTarget, offset: number, q: QueuePair): Promise<void> {
    this.#checkRange(lba, blocks);
    const length = blocks * this.blockSize;
    if (!Number.isInteger(offset) || offset < 0 || offset + length > buf.size)
      throw fail('EINVAL', `${length} bytes at offset ${offset} do not fit the ${buf.size}-byte DMA buffer`);
    if (length > this.maxTransferBytes)
      throw fail('EINVAL', `${length} bytes exceed the controller's maximum transfer of ${this.maxTransferBytes}`);
    if (blocks > 65536) throw fail('EINVAL', 'one command moves at most 65536 blocks');
    await q.execute({
      opcode,
      name,
      nsid: this.nsid,
      cdw10: lba >>> 0,
      cdw11: Math.floor(lba / 0x100000000),
      cdw12: blocks - 1,
      data: { iova: buf.iova + BigInt(offset), length },
    });
  }

  /** Flush: commits the volatile write cache. */
  async flush(q: QueuePair = this.queue): Promise<void> {
    await q.execute({ opcode: NVM.FLUSH, name: 'Flush', nsid: this.nsid });
  }

  /** Write Zeroes (optional command, ONCS bit 3); `deallocate` sets DEAC. */
  async writeZeroes(lba: number, blocks: number, options: { deallocate?: boolean } = {}, q: QueuePair = this.queue): Promise<void> {
    this.#checkRange(lba, blocks);
    for (let done = 0; done < blocks; ) {
      const n = Math.min(65536, blocks - done);
      const l = lba + done;
      await q.execute({
        opcode: NVM.WRITE_ZEROES,
        name: 'Write Zeroes',
        nsid: this.nsid,
        cdw10: l >>> 0,
        cdw11: Math.floor(l / 0x100000000),
        cdw12: (n - 1) | (options.deallocate ? RW.DEAC : 0),
      });
      done += n;
    }
  }

  /** Dataset Management with the Deallocate attribute (TRIM) for up to 256 ranges. */
  async deallocate(ranges: DsmRange | DsmRange[], q: QueuePair = this.queue): Promise<void> {
    const list = Array.isArray(ranges) ? ranges : [ranges];
    if (list.length < 1 || list.length > 256) throw fail('EINVAL', `Dataset Management takes 1-256 ranges, got ${list.length}`);
    for (const r of list) {
      this.#checkRange(r.lba, r.blocks);
      if (r.blocks > 0xffffffff) throw fail('EINVAL', `a range has at most 2^32-1 blocks, got ${r.blocks}`);
    }
    await q.execute({
      opcode: NVM.DATASET_MANAGEMENT,
      name: 'Dataset Management',
      nsid: this.nsid,
      cdw10: list.length - 1,
      cdw11: DSM.AD,
      slotData: {
        length: DSM.RANGE_SIZE * list.length,
        fill: (b) => {
          const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
          b.fill(0);
          list.forEach((r, i) => {
            v.setUint32(i * DSM.RANGE_SIZE + DSM.RANGE_NLB, r.blocks, true);
            v.setBigUint64(i * DSM.RANGE_SIZE + DSM.RANGE_SLBA, BigInt(r.lba), true);
          });
        },
      },
    });
  }

  /** The synchronous, allocation-free fast path on `q`. */
  polled(q: QueuePair = this.queue): PolledIo {
    return new PolledIo(this, q);
  }

  #blocksOf(bytes: number): number {
    if (bytes === 0 || bytes % this.blockSize !== 0)
      throw fail('EINVAL', `${bytes} bytes is not a whole number of ${this.blockSize}-byte blocks`);
    return bytes / this.blockSize;
  }

  /** Splits [lba, lba+blocks) into slot-sized commands, at most the queue's free slots in flight at once. */
  async #chunks(
    lba: number,
    blocks: number,
    q: QueuePair,
    run: (lba: number, n: number, byteOffset: number) => Promise<unknown>,
  ): Promise<void> {
    const per = this.maxBlocksPerCommand(q);
    const inflight = new Set<Promise<unknown>>();
    let firstError: unknown;
    for (let done = 0; done < blocks && firstError === undefined; ) {
      const n = Math.min(per, blocks - done);
      while (q.freeSlots === 0 && inflight.size > 0) await Promise.race(inflight).catch(() => undefined);
      const p: Promise<unknown> = run(lba + done, n, done * this.blockSize).then(
        () => inflight.delete(p),
        (err: unknown) => {
          inflight.delete(p);
          firstError ??= err;
        },
      );
      inflight.add(p);
      done += n;
    }
    await Promise.all(inflight);
    if (firstError !== undefined) throw firstError;
  }
}

/**
 * Synchronous polled I/O on one queue pair, for benchmarks: nothing is
 * allocated per command. Typical loop:
 *
 *   const io = ns.polled();
 *   io.onComplete = (slot, status) => { ... };
 *   while (...) { while (io.submitRead(lba, 8, false) >= 0) {...}; io.ring(); io.poll(); }
 */
export class PolledIo {
  readonly ns: NvmeNamespace;
  readonly queue: QueuePair;
  readonly #nsid: number;
  readonly #blockSize: number;

  constructor(ns: NvmeNamespace, queue: QueuePair) {
    this.ns = ns;
    this.queue = queue;
    this.#nsid = ns.nsid;
    this.#blockSize = ns.blockSize;
  }

  /** Called for every completion with the slot and the status field (0: success). */
  set onComplete(cb: ((slot: number, status: number) => void) | null) {
    this.queue.onIo = cb;
  }
  get onComplete(): ((slot: number, status: number) => void) | null {
    return this.queue.onIo;
  }

  /** Free slots (how many more commands can be submitted now). */
  get free(): number {
    return this.queue.freeSlots;
  }

  get outstanding(): number {
    return this.queue.outstanding;
  }

  /** Read into the slot's buffer (buffer(slot) once completed). Returns the slot, or -1 when the queue is full. */
  submitRead(lba: number, blocks: number, ring = true): number {
    return this.queue.submitIo(NVM.READ, this.#nsid, lba, blocks, blocks * this.#blockSize, ring);
  }

  /** Write from the slot's buffer, after copying `src` into it if given. Returns the slot, or -1 when full. */
  submitWrite(lba: number, blocks: number, src?: Uint8Array, ring = true): number {
    const q = this.queue;
    if (src) {
      const s = q.peekFreeSlot();
      if (s < 0) return -1;
      q.slotBuffer(s).set(src);
    }
    return q.submitIo(NVM.WRITE, this.#nsid, lba, blocks, blocks * this.#blockSize, ring);
  }

  /** Writes the SQ doorbell for submissions made with ring = false. */
  ring(): void {
    this.queue.ring();
  }

  /** Reaps completions; returns how many. */
  poll(max?: number): number {
    return this.queue.reap(max);
  }

  /** The slot's data buffer (a fixed view). */
  buffer(slot: number): Uint8Array {
    return this.queue.slotBuffer(slot);
  }

  /** Spins until nothing is outstanding (or the time-out); returns what is still outstanding. */
  drain(timeoutMs?: number): number {
    return this.queue.drainSync(timeoutMs);
  }
}
