// Base address registers: declaration, sizing emulation and decoding.
//
// A BAR is a naturally aligned power-of-two window. Hardware implements only
// the address bits above its size, so software sizes a BAR by writing all
// ones and reading back `~(size-1) | flags`. The engine keeps BARs entirely
// virtual (the kernel's rule): the value read is always what was written,
// masked to the size, with the type flags ORed in - IO 0x1, 64-bit 0x4,
// prefetchable 0x8. The upper dword of a 64-bit BAR holds the high address
// bits (and sizes with the high bits of the mask). The expansion ROM BAR keeps
// its enable bit. Unimplemented BARs read 0.
//
// Limits (PCI Local Bus 3.0 §6.2.5): memory BARs >= 16 bytes, I/O BARs 4..256
// bytes, a 32-bit memory BAR at most 2 GiB, the ROM 2 KiB..16 MiB.

import { layoutError } from './layout-error.js';
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_IO_MASK,
  PCI_BASE_ADDRESS_MEM_MASK,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_MEM_TYPE_MASK,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS_ENABLE,
  PCI_ROM_ADDRESS_MASK,
  PCI_STD_NUM_BARS,
} from './regs.js';

/** BAR type: 32-bit memory, 64-bit memory (two slots) or I/O space. */
export type BarKind = 'mem32' | 'mem64' | 'io';

/** A BAR as a device declares it. `index` defaults to the array position. */
export interface BarDecl {
  index?: number;
  kind: BarKind;
  /** Bytes, a power of two. */
  size: number;
  /** Memory BARs only. */
  prefetchable?: boolean;
}

/** A validated BAR. */
export interface BarSpec {
  index: number;
  kind: BarKind;
  size: number;
  prefetchable: boolean;
}

/** An expansion ROM BAR as a device declares it. */
export interface RomDecl {
  /** Bytes, a power of two, 2 KiB..16 MiB. */
  size: number;
}

/** Smallest memory BAR in bytes (bits 3:0 are flags). */
export const MIN_MEM_BAR = 16;
/** Smallest I/O BAR in bytes (bits 1:0 are flags). */
export const MIN_IO_BAR = 4;
/** Largest I/O BAR in bytes (PCI Local Bus 3.0 §6.2.5.1). */
export const MAX_IO_BAR = 256;
/** Largest 32-bit memory BAR in bytes (2 GiB: bit 31 must stay an address bit). */
export const MAX_MEM32_BAR = 2 ** 31;
/** Sizes are JS numbers: keep them exact. */
export const MAX_MEM64_BAR = 2 ** 52;
/** Smallest expansion ROM in bytes (bits 10:0 of the ROM BAR are not address bits). */
export const MIN_ROM = 2048;
/** Largest expansion ROM in bytes (16 MiB, the spec's limit). */
export const MAX_ROM = 16 * 1024 * 1024;

/** Whether `n` is a positive safe integer power of two. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** Config offset of BAR `i`. */
export function barOffset(i: number): number {
  return PCI_BASE_ADDRESS_0 + 4 * i;
}

/**
 * Validate declared BARs into six slots. The slot after a 64-bit BAR is its
 * upper half and stays `undefined` here (see `upperHalfOf`).
 */
export function validateBars(decls: readonly (BarDecl | undefined | null)[] = []): (BarSpec | undefined)[] {
  const slots: (BarSpec | undefined)[] = new Array(PCI_STD_NUM_BARS).fill(undefined);
  const taken: (string | undefined)[] = new Array(PCI_STD_NUM_BARS).fill(undefined);
  decls.forEach((d, pos) => {
    if (!d) return;
    const index = d.index ?? pos;
    if (!Number.isInteger(index) || index < 0 || index >= PCI_STD_NUM_BARS) {
      throw layoutError('bar-slot', `BAR index ${index} is outside 0..5`);
    }
    if (d.kind !== 'mem32' && d.kind !== 'mem64' && d.kind !== 'io') {
      throw layoutError('bad-value', `BAR${index}: unknown kind ${String(d.kind)}`);
    }
    if (!isPowerOfTwo(d.size)) throw layoutError('not-power-of-two', `BAR${index}: size ${d.size} is not a power of two`);
    if (d.kind === 'io') {
      if (d.size < MIN_IO_BAR) throw layoutError('too-small', `BAR${index}: I/O BARs are at least ${MIN_IO_BAR} bytes`);
      if (d.size > MAX_IO_BAR) throw layoutError('too-large', `BAR${index}: I/O BARs are at most ${MAX_IO_BAR} bytes`);
      if (d.prefetchable) throw layoutError('bad-value', `BAR${index}: an I/O BAR cannot be prefetchable`);
    } else {
      if (d.size < MIN_MEM_BAR) throw layoutError('too-small', `BAR${index}: memory BARs are at least ${MIN_MEM_BAR} bytes`);
      const max = d.kind === 'mem32' ? MAX_MEM32_BAR : MAX_MEM64_BAR;
      if (d.size > max) throw layoutError('too-large', `BAR${index}: a ${d.kind} BAR is at most ${max} bytes`);
    }
    if (d.kind === 'mem64' && index === PCI_STD_NUM_BARS - 1) {
      throw layoutError('bar-slot', 'BAR5 cannot hold a 64-bit BAR (it needs two slots)');
    }
    const claim = (slot: number, what: string): void => {
      if (taken[slot]) throw layoutError('bar-slot', `BAR slot ${slot} is declared twice (${taken[slot]} and ${what})`);
      taken[slot] = what;
    };
    claim(index, `BAR${index}`);
    if (d.kind === 'mem64') claim(index + 1, `upper half of BAR${index}`);
    slots[index] = { index, kind: d.kind, size: d.size, prefetchable: !!d.prefetchable };
  });
  return slots;
}

/** Validate a ROM declaration (power of two, 2 KiB..16 MiB); throws a LayoutError otherwise. */
export function validateRom(rom: RomDecl | undefined): RomDecl | undefined {
  if (!rom) return undefined;
  if (!isPowerOfTwo(rom.size)) throw layoutError('not-power-of-two', `ROM size ${rom.size} is not a power of two`);
  if (rom.size < MIN_ROM) throw layoutError('too-small', `ROM BARs are at least ${MIN_ROM} bytes`);
  if (rom.size > MAX_ROM) throw layoutError('too-large', `ROM BARs are at most ${MAX_ROM} bytes`);
  return { size: rom.size };
}

/** Index of the 64-bit BAR whose upper half is slot `i`, or -1. */
export function upperHalfOf(bars: readonly (BarSpec | undefined)[], i: number): number {
  const lo = bars[i - 1];
  return i > 0 && lo && lo.kind === 'mem64' ? i - 1 : -1;
}

/** The read-only flag bits of a BAR's low dword. */
export function barFlags(b: BarSpec): number {
  if (b.kind === 'io') return PCI_BASE_ADDRESS_SPACE_IO;
  let f = 0;
  if (b.kind === 'mem64') f |= PCI_BASE_ADDRESS_MEM_TYPE_64;
  if (b.prefetchable) f |= PCI_BASE_ADDRESS_MEM_PREFETCH;
  return f;
}

/** Address bits the low dword implements. */
export function barLowMask(b: BarSpec): number {
  const flagBits = b.kind === 'io' ? PCI_BASE_ADDRESS_IO_MASK : PCI_BASE_ADDRESS_MEM_MASK;
  if (b.size >= 2 ** 32) return 0;
  return (~(b.size - 1) & flagBits) >>> 0;
}

/** Address bits the upper dword of a 64-bit BAR implements. */
export function barHighMask(b: BarSpec): number {
  if (b.size <= 2 ** 32) return 0xffffffff;
  return ~(b.size / 2 ** 32 - 1) >>> 0;
}

/** ROM BAR bits kept: address bits above the size, and the enable bit. */
export function romKeepMask(size: number): number {
  return ((~(size - 1) & PCI_ROM_ADDRESS_MASK) | PCI_ROM_ADDRESS_ENABLE) >>> 0;
}

/** Decoded BAR value. */
export interface DecodedBar {
  index: number;
  kind: BarKind;
  prefetchable: boolean;
  /** Base address programmed (bigint: 64-bit BARs go past 2^53). */
  address: bigint;
}

/**
 * Decode BAR `i` of a type-0 header from the config bytes (low dword and, for
 * 64-bit BARs, the next). Returns undefined when the slot reads 0 (unimplemented
 * or unprogrammed without flags) or is the upper half of the previous BAR.
 */
export function decodeBar(cfg: Uint8Array, i: number): DecodedBar | undefined {
  const dw = (k: number): number => new DataView(cfg.buffer, cfg.byteOffset, cfg.byteLength).getUint32(barOffset(k), true);
  // Walk from BAR0 so upper halves are recognised.
  for (let k = 0; k < PCI_STD_NUM_BARS; k++) {
    const lo = dw(k);
    const io = (lo & PCI_BASE_ADDRESS_SPACE_IO) !== 0;
    const is64 = !io && (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) === PCI_BASE_ADDRESS_MEM_TYPE_64;
    if (k === i) {
      if (lo === 0) return undefined;
      if (io) return { index: i, kind: 'io', prefetchable: false, address: BigInt((lo & PCI_BASE_ADDRESS_IO_MASK) >>> 0) };
      const hi = is64 && k + 1 < PCI_STD_NUM_BARS ? dw(k + 1) : 0;
      return {
        index: i,
        kind: is64 ? 'mem64' : 'mem32',
        prefetchable: (lo & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0,
        address: (BigInt(hi) << 32n) | BigInt((lo & PCI_BASE_ADDRESS_MEM_MASK) >>> 0),
      };
    }
    if (is64) {
      if (k + 1 === i) return undefined;
      k++;
    }
  }
  return undefined;
}

/** Anything config space can be read and written through (a ConfigSpace, a device). */
export interface ConfigAccessor {
  /** Read a 1, 2 or 4-byte little-endian config register at `offset`. */
  read(offset: number, size: 1 | 2 | 4): number;
  /** Write a 1, 2 or 4-byte little-endian config register at `offset`. */
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

/** A BAR as sized by {@link probeBarSizes}. */
export interface ProbedBar {
  index: number;
  kind: BarKind;
  prefetchable: boolean;
  size: number;
}

function lowestBit(v: bigint): bigint {
  return v & -v;
}

/**
 * Size BARs the way firmware does: save, write all ones, read the mask back,
 * restore. Works on any ConfigAccessor (the caller should clear the command
 * register's decode bits first on real hardware, as the spec asks). Returns the
 * six BARs (undefined where unimplemented or an upper half) and the ROM size.
 */
export function probeBarSizes(acc: ConfigAccessor): { bars: (ProbedBar | undefined)[]; romSize: number | undefined } {
  const bars: (ProbedBar | undefined)[] = new Array(PCI_STD_NUM_BARS).fill(undefined);
  const sizeDword = (off: number, ones: number): number => {
    const orig = acc.read(off, 4);
    acc.write(off, 4, ones);
    const v = acc.read(off, 4);
    acc.write(off, 4, orig);
    return v >>> 0;
  };
  for (let i = 0; i < PCI_STD_NUM_BARS; i++) {
    const off = barOffset(i);
    const orig = acc.read(off, 4);
    const lo = sizeDword(off, 0xffffffff);
    if (lo === 0) continue;
    if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
      const addr = BigInt((lo & PCI_BASE_ADDRESS_IO_MASK & 0xffff) >>> 0);
      if (addr) bars[i] = { index: i, kind: 'io', prefetchable: false, size: Number(lowestBit(addr)) };
      continue;
    }
    const is64 = (orig & PCI_BASE_ADDRESS_MEM_TYPE_MASK) === PCI_BASE_ADDRESS_MEM_TYPE_64 && i + 1 < PCI_STD_NUM_BARS;
    let mask = BigInt((lo & PCI_BASE_ADDRESS_MEM_MASK) >>> 0);
    if (is64) mask |= BigInt(sizeDword(off + 4, 0xffffffff)) << 32n;
    if (mask) {
      bars[i] = {
        index: i,
        kind: is64 ? 'mem64' : 'mem32',
        prefetchable: (lo & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0,
        size: Number(lowestBit(mask)),
      };
    }
    if (is64) i++;
  }
  const rom = sizeDword(PCI_ROM_ADDRESS, PCI_ROM_ADDRESS_MASK) & PCI_ROM_ADDRESS_MASK;
  return { bars, romSize: rom ? Number(lowestBit(BigInt(rom >>> 0))) : undefined };
}

/** "16K", "1M", "4G": the size notation lspci uses. */
export function formatSize(bytes: number): string {
  const units = ['', 'K', 'M', 'G', 'T', 'P'];
  let u = 0;
  let n = bytes;
  while (n >= 1024 && n % 1024 === 0 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n}${units[u]}`;
}
