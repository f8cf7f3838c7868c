// The model's fast DMA path: windows onto the client's DMA maps.
//
// The framework's synchronous DMA API (DeviceDma.view) checks a range and
// returns a view of the client's memory. Doing that for every PRP entry would
// allocate and convert to bigints on every command, so instead the model asks
// once per DMA map for a view of the WHOLE map and keeps it as a window
// (start, end, bytes, u32 view, permissions); later accesses are a range test
// against the last window used. Windows cannot go stale: when the client
// unmaps (or leaves) the framework detaches the map's buffer, the window's
// views become empty, and the next lookup drops it and asks the framework
// again. Bus Master Enable is checked by the controller once per poll.
//
// Addresses are JS numbers (the 64-bit PRP entries are read as two dwords);
// addresses at or above 2^53 are never mapped and fail the lookup.
// Maps without a file descriptor (reachable only by DMA_READ/DMA_WRITE
// messages) are not supported on this path: lookups fail for them.

import type { DeviceDma } from '../../server/index.js';

export interface DmaWindow {
  start: number;
  end: number;
  bytes: Uint8Array;
  u32: Uint32Array;
  readable: boolean;
  writable: boolean;
}

export class DmaWindows {
  readonly #dma: DeviceDma;
  #windows: DmaWindow[] = [];
  #last: DmaWindow | null = null;
  /** Lookups that had to ask the framework (for measurements). */
  misses = 0;

  constructor(dma: DeviceDma) {
    this.#dma = dma;
  }

  /** Forgets every window (maps changed owner). */
  clear(): void {
    this.#windows = [];
    this.#last = null;
  }

  /**
   * The window holding [addr, addr + len) with the access (`write`: the
   * device writes host memory), or null when no direct map grants it.
   */
  find(addr: number, len: number, write: boolean): DmaWindow | null {
    const w = this.#last;
    if (w !== null && addr >= w.start && addr + len <= w.end && w.bytes.byteLength !== 0 && (write ? w.writable : w.readable)) return w;
    return this.#slow(addr, len, write);
  }

  #slow(addr: number, len: number, write: boolean): DmaWindow | null {
    const ws = this.#windows;
    let dead = false;
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i]!;
      if (w.bytes.byteLength === 0) {
        dead = true;
        continue;
      }
      if (addr >= w.start && addr + len <= w.end) {
        if (!(write ? w.writable : w.readable)) return null;
        this.#last = w;
        return w;
      }
    }
    if (dead) this.#windows = ws.filter((w) => w.bytes.byteLength !== 0);
    return this.#resolve(addr, len, write);
  }

  #resolve(addr: number, len: number, write: boolean): DmaWindow | null {
    this.misses++;
    if (!Number.isSafeInteger(addr) || addr < 0 || !this.#dma.available) return null;
    const at = BigInt(addr);
    for (const m of this.#dma.maps()) {
      if (at < m.iova || at >= m.iova + m.size) continue;
      if (!m.direct || m.iova + m.size > BigInt(Number.MAX_SAFE_INTEGER)) return null;
      let bytes: Uint8Array;
      try {
        bytes = this.#dma.view(m.iova, Number(m.size), m.readable && m.writable ? 'rw' : m.readable ? 'read' : 'write');
      } catch {
        return null;
      }
      const w: DmaWindow = {
        start: Number(m.iova),
        end: Number(m.iova) + bytes.length,
        bytes,
        u32: new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2),
        readable: m.readable,
        writable: m.writable,
      };
      this.#windows.push(w);
      if (addr + len > w.end || !(write ? w.writable : w.readable)) return null;
      this.#last = w;
      return w;
    }
    return null;
  }
}
