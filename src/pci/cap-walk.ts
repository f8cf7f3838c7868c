// Walking a config space's capability lists from its bytes, as a driver sees
// them (what a client can learn without the server's tables). Pure.

import { extCapLength, stdCapLength } from './caps/registry.js';
import type { CapabilityInfo } from './layout.js';

function reader(cfg: Uint8Array): (offset: number, size: 1 | 2 | 4) => number {
  return (offset, size) => {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (cfg[offset + i] ?? 0);
    return v;
  };
}

/**
 * The standard capabilities (from the pointer at 0x34, when the status
 * register says there is a list) and the extended ones (from 0x100, when the
 * config space has 4096 bytes), in chain order, with their lengths as the
 * kernel computes them (0 when unknown). Loops and out-of-range pointers end
 * a chain.
 */
export function walkCapabilities(cfg: Uint8Array): CapabilityInfo[] {
  const read = reader(cfg);
  const out: CapabilityInfo[] = [];
  if (cfg.length >= 0x40 && read(0x06, 2) & 0x10) {
    const seen = new Set<number>();
    let pos = read(0x34, 1) & ~3;
    while (pos >= 0x40 && pos + 2 <= Math.min(cfg.length, 256) && !seen.has(pos)) {
      seen.add(pos);
      const id = read(pos, 1);
      let length = 0;
      try {
        length = stdCapLength(read, id, pos);
      } catch {
        length = 0;
      }
      out.push({ id, extended: false, offset: pos, length });
      pos = read(pos + 1, 1) & ~3;
    }
  }
  if (cfg.length >= 4096) {
    const seen = new Set<number>();
    let pos = 0x100;
    while (pos >= 0x100 && pos + 4 <= cfg.length && !seen.has(pos)) {
      seen.add(pos);
      const header = read(pos, 4);
      if (header === 0 || header === 0xffffffff) break;
      const id = header & 0xffff;
      let length = 0;
      try {
        length = extCapLength(read, id, pos);
      } catch {
        length = 0;
      }
      out.push({ id, extended: true, offset: pos, length, version: (header >>> 16) & 0xf });
      pos = (header >>> 20) & ~3;
    }
  }
  return out;
}
