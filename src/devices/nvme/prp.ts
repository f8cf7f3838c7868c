// Physical Region Page (PRP) data pointers (NVMe 1.4, 4.3).
//
// A command's data is described by PRP1 and PRP2 with the memory page size
// of CC.MPS:
//   - PRP1 points at the first byte (any dword-aligned offset in its page);
//   - when the rest fits in one page, PRP2 points at it (page aligned);
//   - otherwise PRP2 points at a PRP list (qword aligned): 8-byte entries,
//     each a page-aligned data page; when a list page is not enough, its last
//     entry points at the next list page (page aligned), and so on.
// The walker turns (PRP1, PRP2, length) into segments (address, length) in
// preallocated arrays and resolves each segment's DMA window before any byte
// moves, so a bad pointer fails the command cleanly: PRP Offset Invalid for
// a misaligned pointer, Data Transfer Error for memory the client has not
// mapped (or mapped without the access). Nothing is allocated per command.

import type { DmaWindow, DmaWindows } from './dma-windows.js';
import { ST } from './status.js';

const TWO32 = 4294967296;

export class PrpWalker {
  readonly maxSegments: number;
  /** Segment addresses (host IOVAs). */
  readonly addr: Float64Array;
  /** Segment lengths. */
  readonly len: Uint32Array;
  /** Segment windows. */
  readonly win: (DmaWindow | null)[];
  /** Segments of the last walk. */
  count = 0;
  readonly #windows: DmaWindows;
  #pageSize = 4096;

  constructor(windows: DmaWindows, maxTransfer: number) {
    this.#windows = windows;
    // One segment per page plus an unaligned first one, at the smallest page size.
    this.maxSegments = Math.ceil(maxTransfer / 4096) + 2;
    this.addr = new Float64Array(this.maxSegments);
    this.len = new Uint32Array(this.maxSegments);
    this.win = new Array<DmaWindow | null>(this.maxSegments).fill(null);
  }

  set pageSize(ps: number) {
    this.#pageSize = ps;
  }
  get pageSize(): number {
    return this.#pageSize;
  }

  /**
   * Walks PRP1/PRP2 for `total` bytes (> 0). `write`: the device writes host
   * memory (a Read command). Returns 0 or a status.
   */
  walk(prp1: number, prp2: number, total: number, write: boolean): number {
    const ps = this.#pageSize;
    const windows = this.#windows;
    this.count = 0;
    if ((prp1 & 3) !== 0) return ST.INVALID_PRP_OFFSET;
    const first = Math.min(total, ps - (prp1 % ps));
    if (!this.#push(prp1, first, write)) return ST.DATA_TRANSFER_ERROR;
    let rem = total - first;
    if (rem === 0) return 0;
    if (rem <= ps) {
      if (prp2 % ps !== 0) return ST.INVALID_PRP_OFFSET;
      return this.#push(prp2, rem, write) ? 0 : ST.DATA_TRANSFER_ERROR;
    }
    let list = prp2;
    if ((list & 7) !== 0) return ST.INVALID_PRP_OFFSET;
    for (;;) {
      const entries = (ps - (list % ps)) / 8;
      const lw = windows.find(list, entries * 8, false);
      if (lw === null) return ST.DATA_TRANSFER_ERROR;
      const base = (list - lw.start) / 4;
      const u32 = lw.u32;
      let next = -1;
      for (let i = 0; i < entries && rem > 0; i++) {
        const e = u32[base + 2 * i]! + u32[base + 2 * i + 1]! * TWO32;
        if (i === entries - 1 && rem > ps) {
          // The last entry of a full list page chains to the next list page.
          if (e % ps !== 0) return ST.INVALID_PRP_OFFSET;
          next = e;
          break;
        }
        if (e % ps !== 0) return ST.INVALID_PRP_OFFSET;
        const n = Math.min(rem, ps);
        if (!this.#push(e, n, write)) return ST.DATA_TRANSFER_ERROR;
        rem -= n;
      }
      if (rem === 0) return 0;
      if (next < 0) return ST.DATA_TRANSFER_ERROR;
      list = next;
    }
  }

  #push(addr: number, len: number, write: boolean): boolean {
    const i = this.count;
    if (i >= this.maxSegments) return false;
    const w = this.#windows.find(addr, len, write);
    if (w === null) return false;
    this.addr[i] = addr;
    this.len[i] = len;
    this.win[i] = w;
    this.count = i + 1;
    return true;
  }

  /** Copies `src[0, total)` to the walked segments (device -> host). */
  scatter(src: Uint8Array): void {
    let off = 0;
    for (let i = 0; i < this.count; i++) {
      const w = this.win[i]!;
      const n = this.len[i]!;
      w.bytes.set(src.subarray(off, off + n), this.addr[i]! - w.start);
      off += n;
    }
  }

  /** Copies the walked segments into `dst[0, total)` (host -> device). */
  gather(dst: Uint8Array): void {
    let off = 0;
    for (let i = 0; i < this.count; i++) {
      const w = this.win[i]!;
      const n = this.len[i]!;
      const at = this.addr[i]! - w.start;
      dst.set(w.bytes.subarray(at, at + n), off);
      off += n;
    }
  }
}
