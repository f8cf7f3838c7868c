// A fake NVMe controller in memory, for host tests of the queue logic: DMA
// memory is plain arrays at made-up IOVAs; a doorbell write to an SQ tail
// makes the fake consume the new entries and (unless held) post completions
// with the right phase tag, wrapping as a controller does.

import { CQE, SQE } from '../../src/drivers/nvme/index.js';
import { walkPrps } from '../../src/drivers/nvme/prp.js';
import type { DmaMemoryLike } from '../../src/drivers/nvme/queue.js';

export class FakeMemory {
  readonly buffers: DmaMemoryLike[] = [];
  #next = 0x10000n;
  freed = 0;

  alloc = (size: number, _name = 'fake'): DmaMemoryLike => {
    const len = Math.ceil(size / 4096) * 4096;
    const bytes = new Uint8Array(len);
    const iova = this.#next;
    this.#next += BigInt(len) + 0x1000n; // a gap, so stray accesses show
    const mem: DmaMemoryLike = {
      iova,
      size: len,
      bytes,
      view: new DataView(bytes.buffer),
      free: () => {
        this.freed++;
        const i = this.buffers.indexOf(mem);
        if (i >= 0) this.buffers.splice(i, 1);
      },
    };
    this.buffers.push(mem);
    return mem;
  };

  /** The bytes at `iova` (throws outside every buffer). */
  at(iova: bigint, length: number): Uint8Array {
    for (const b of this.buffers) {
      if (iova >= b.iova && iova + BigInt(length) <= b.iova + BigInt(b.size)) {
        const off = Number(iova - b.iova);
        return b.bytes.subarray(off, off + length);
      }
    }
    throw new Error(`fake DMA: 0x${iova.toString(16)}+${length} is not mapped`);
  }

  u64(iova: bigint): bigint {
    const b = this.at(iova, 8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }
}

export interface FakeCommand {
  opcode: number;
  cid: number;
  nsid: number;
  prp1: bigint;
  prp2: bigint;
  cdw10: number;
  cdw11: number;
  cdw12: number;
}

/** One queue pair's controller side. */
export class FakeController {
  readonly mem: FakeMemory;
  readonly entries: number;
  sqBase = 0n;
  cqBase = 0n;
  sqHead = 0;
  cqTail = 0;
  phase = 1;
  hostCqHead = 0;
  /** Commands received and not yet completed (when `hold` is set). */
  readonly held: FakeCommand[] = [];
  hold = false;
  doorbellWrites: { offset: number; value: number }[] = [];
  /** Status field to answer each command with (default 0). */
  statusFor: (c: FakeCommand) => number = () => 0;
  /** Run on each command before completing it (e.g. fill read data). */
  onCommand: ((c: FakeCommand) => void) | null = null;
  readonly pageSize: number;

  constructor(mem: FakeMemory, entries: number, pageSize = 4096) {
    this.mem = mem;
    this.entries = entries;
    this.pageSize = pageSize;
  }

  /** Doorbells of queue 1 with stride 4: SQ tail at 0x1008, CQ head at 0x100c. */
  write32 = (offset: number, value: number): void => {
    this.doorbellWrites.push({ offset, value });
    if (offset === 0x1008) {
      while (this.sqHead !== value) {
        const e = this.mem.at(this.sqBase + BigInt(this.sqHead * SQE.SIZE), SQE.SIZE);
        const v = new DataView(e.buffer, e.byteOffset, 64);
        const dw0 = v.getUint32(0, true);
        const c: FakeCommand = {
          opcode: dw0 & 0xff,
          cid: dw0 >>> 16,
          nsid: v.getUint32(4, true),
          prp1: v.getBigUint64(24, true),
          prp2: v.getBigUint64(32, true),
          cdw10: v.getUint32(40, true),
          cdw11: v.getUint32(44, true),
          cdw12: v.getUint32(48, true),
        };
        this.sqHead = (this.sqHead + 1) % this.entries;
        this.onCommand?.(c);
        if (this.hold) this.held.push(c);
        else this.complete(c, this.statusFor(c));
      }
    } else if (offset === 0x100c) {
      this.hostCqHead = value;
    }
  };

  /** Posts the completion of `c` with `status` (15-bit field). */
  complete(c: FakeCommand, status = 0, dw0 = 0): void {
    if ((this.cqTail + 1) % this.entries === this.hostCqHead) throw new Error('fake controller: CQ full');
    const e = this.mem.at(this.cqBase + BigInt(this.cqTail * CQE.SIZE), CQE.SIZE);
    const v = new DataView(e.buffer, e.byteOffset, 16);
    v.setUint32(0, dw0, true);
    v.setUint16(8, this.sqHead, true);
    v.setUint16(10, 1, true);
    v.setUint16(12, c.cid, true);
    v.setUint16(14, ((status & 0x7fff) << 1) | this.phase, true);
    this.cqTail = (this.cqTail + 1) % this.entries;
    if (this.cqTail === 0) this.phase ^= 1;
  }

  /** Completes held commands (all, or those matching). */
  release(status = 0): void {
    for (const c of this.held.splice(0)) this.complete(c, status);
  }

  /** The data pages of a command of `length` bytes, walked as a controller walks its PRPs. */
  pages(c: FakeCommand, length: number): bigint[] {
    return walkPrps(c.prp1, c.prp2, length, this.pageSize, (iova) => this.mem.u64(iova));
  }

  /** Copies `length` bytes of the command's data out (write) or in (read, from `src`). */
  data(c: FakeCommand, length: number, src?: Uint8Array): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    for (const page of this.pages(c, length)) {
      const off = Number(page % BigInt(this.pageSize));
      const n = Math.min(this.pageSize - off, length - done);
      const b = this.mem.at(page, n);
      if (src) b.set(src.subarray(done, done + n));
      else out.set(b, done);
      done += n;
    }
    return src ?? out;
  }
}
