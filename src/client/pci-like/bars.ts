// BARs in the PCI-like view: the registers are virtual, the access always works.
//
// On bare metal a driver (or firmware) sizes a BAR by writing all-ones and
// reading back the size mask, then programs the address it chose. Through
// VFIO the address means nothing to the device: the BAR is reached by region
// index. So the view keeps the six BAR registers and the ROM BAR entirely to
// itself: a read gives what was written, masked by the BAR's size, with its
// flag bits (I/O 0x1, 64-bit 0x4, prefetchable 0x8); the upper dword of a
// 64-bit BAR keeps the address bits above the size. Nothing is written to the
// device, and a function reset does not touch them (the kernel restores BAR
// programming after a reset; so does the view, trivially). The initial
// values are what the device's config space reads when the view attaches.
//
// PciLikeBar is a BAR as the driver accesses it: the Region's synchronous
// 8/16/32/64-bit and byte-range accesses, with three differences: while the
// function is in D3hot every access fails (EIO), as a memory access to a
// function in D3hot does on hardware; the MSI-X table and PBA ranges are
// answered by the view's emulation (msix.ts); and a write is the driver's
// acknowledgement of an INTx in service (intx.ts), after which the view
// unmasks INTx.

import { fail } from '../../errors.js';
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_IO_MASK,
  PCI_BASE_ADDRESS_MEM_MASK,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS_ENABLE,
  PCI_ROM_ADDRESS_MASK,
  PCI_STD_NUM_BARS,
} from '../../pci/regs.js';
import type { Device } from '../device.js';
import type { Region } from '../region.js';
import { pciRegion } from '../../uapi/vfio.js';
import type { ConfigHandler } from './registers.js';

const TWO32 = 2 ** 32;

interface BarSlot {
  /** Bits the driver can set (the address bits above the size). */
  mask: number;
  /** Read-only flag bits. */
  flags: number;
  /** The dword as the driver last wrote it. */
  raw: number;
  /** Region size of this BAR (0 for an upper half or an unimplemented BAR). */
  size: number;
  kind: 'io' | 'mem32' | 'mem64' | 'upper' | 'none';
}

/** The six BAR registers (0x10-0x27), virtual. */
export class BarRegisters implements ConfigHandler {
  readonly name = 'BARs';
  readonly start = PCI_BASE_ADDRESS_0;
  readonly end = PCI_BASE_ADDRESS_0 + 4 * PCI_STD_NUM_BARS;
  readonly #slots: BarSlot[] = [];

  constructor(device: Device) {
    let upperOf: number | null = null;
    for (let i = 0; i < PCI_STD_NUM_BARS; i++) {
      const dword = device.config.read32(PCI_BASE_ADDRESS_0 + 4 * i);
      if (upperOf !== null) {
        const size = this.#slots[upperOf]!.size;
        const mask = size > TWO32 ? ~(Math.ceil(size / TWO32) - 1) >>> 0 : 0xffffffff;
        this.#slots.push({ mask, flags: 0, raw: dword, size: 0, kind: 'upper' });
        upperOf = null;
        continue;
      }
      const size = i < device.info.numRegions ? device.regionInfo(i).size : 0;
      if (size === 0) {
        this.#slots.push({ mask: 0, flags: 0, raw: 0, size: 0, kind: 'none' });
        continue;
      }
      if (dword & PCI_BASE_ADDRESS_SPACE_IO) {
        this.#slots.push({
          mask: (~(size - 1) & PCI_BASE_ADDRESS_IO_MASK) >>> 0,
          flags: PCI_BASE_ADDRESS_SPACE_IO,
          raw: dword,
          size,
          kind: 'io',
        });
        continue;
      }
      const flags = dword & ~PCI_BASE_ADDRESS_MEM_MASK & 0xf;
      const is64 = (flags & PCI_BASE_ADDRESS_MEM_TYPE_64) !== 0 && i < PCI_STD_NUM_BARS - 1;
      const mask = size >= TWO32 ? 0 : (~(size - 1) & PCI_BASE_ADDRESS_MEM_MASK) >>> 0;
      this.#slots.push({ mask, flags, raw: dword, size, kind: is64 ? 'mem64' : 'mem32' });
      if (is64) upperOf = i;
    }
  }

  #value(i: number): number {
    const s = this.#slots[i]!;
    return ((s.raw & s.mask) | s.flags) >>> 0;
  }

  read(offset: number, size: number): number {
    const i = (offset - this.start) >>> 2;
    const shift = (offset & 3) * 8;
    const v = this.#value(i) >>> shift;
    return size >= 4 ? v >>> 0 : v & ((1 << (size * 8)) - 1);
  }

  write(offset: number, size: number, value: number): void {
    const i = (offset - this.start) >>> 2;
    const s = this.#slots[i]!;
    const shift = (offset & 3) * 8;
    const m = size >= 4 ? 0xffffffff : ((1 << (size * 8)) - 1) << shift;
    s.raw = ((s.raw & ~m) | ((value << shift) & m)) >>> 0;
  }

  /** The address programmed in BAR `n` (both halves of a 64-bit BAR), without flag bits. */
  address(n: number): bigint {
    const s = this.#slots[n];
    if (!s || s.kind === 'none' || s.kind === 'upper') throw fail('EINVAL', `BAR${n} is not a BAR this device implements`);
    const lo = BigInt((s.raw & s.mask) >>> 0);
    if (s.kind !== 'mem64') return lo;
    return lo | (BigInt(this.#value(n + 1)) << 32n);
  }

  /** Whether BAR `n` is implemented (not unimplemented, not the upper half of a 64-bit BAR). */
  implemented(n: number): boolean {
    const s = this.#slots[n];
    return !!s && s.kind !== 'none' && s.kind !== 'upper';
  }
}

/** The expansion ROM BAR (0x30), virtual: address bits above the size, and the enable bit. */
export class RomRegister implements ConfigHandler {
  readonly name = 'ROM BAR';
  readonly start = PCI_ROM_ADDRESS;
  readonly end = PCI_ROM_ADDRESS + 4;
  #raw: number;
  readonly #mask: number;

  constructor(device: Device) {
    const size = pciRegion.ROM < device.info.numRegions ? device.regionInfo(pciRegion.ROM).size : 0;
    this.#mask = size === 0 ? 0 : ((~(size - 1) & PCI_ROM_ADDRESS_MASK) | PCI_ROM_ADDRESS_ENABLE) >>> 0;
    this.#raw = device.config.read32(PCI_ROM_ADDRESS);
  }

  read(offset: number, size: number): number {
    const v = ((this.#raw & this.#mask) >>> 0) >>> ((offset & 3) * 8);
    return size >= 4 ? v >>> 0 : v & ((1 << (size * 8)) - 1);
  }

  write(offset: number, size: number, value: number): void {
    const shift = (offset & 3) * 8;
    const m = size >= 4 ? 0xffffffff : ((1 << (size * 8)) - 1) << shift;
    this.#raw = ((this.#raw & ~m) | ((value << shift) & m)) >>> 0;
  }
}

/** A range of a BAR the view answers itself (the MSI-X table, the PBA). */
export interface BarIntercept {
  start: number;
  end: number;
  read(offset: number, dst: Uint8Array): void;
  write(offset: number, src: Uint8Array): void;
}

/** What a PciLikeBar asks of its view on each access. */
export interface BarGate {
  /** Throws when BAR access is impossible (view closed, function in D3hot). */
  check(bar: number): void;
  /** A write reached the device or the view: the driver's acknowledgement of INTx. */
  afterWrite(): void;
}

/** BAR `index` through the PCI-like view. */
export class PciLikeBar {
  readonly index: number;
  readonly region: Region;
  readonly #gate: BarGate;
  readonly #intercepts: BarIntercept[];
  /** Lowest start and highest end of the intercepted ranges (fast path test). */
  readonly #lo: number;
  readonly #hi: number;
  readonly #scratch = new Uint8Array(8);
  readonly #view = new DataView(this.#scratch.buffer);

  constructor(index: number, region: Region, gate: BarGate, intercepts: BarIntercept[]) {
    this.index = index;
    this.region = region;
    this.#gate = gate;
    this.#intercepts = intercepts;
    this.#lo = intercepts.length ? Math.min(...intercepts.map((i) => i.start)) : Infinity;
    this.#hi = intercepts.length ? Math.max(...intercepts.map((i) => i.end)) : -Infinity;
  }

  get size(): number {
    return this.region.size;
  }

  #hits(offset: number, size: number): boolean {
    return offset < this.#hi && offset + size > this.#lo;
  }

  #bounds(offset: number, size: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + size > this.region.size) {
      throw fail('EINVAL', `BAR${this.index}: access of ${size} bytes at ${offset} is outside its ${this.region.size} bytes`);
    }
  }

  /** Byte-range access, cut at the intercepted ranges. */
  #bytes(offset: number, buf: Uint8Array, write: boolean): void {
    let pos = 0;
    while (pos < buf.length) {
      const at = offset + pos;
      const hit = this.#intercepts.find((i) => at >= i.start && at < i.end);
      let end: number;
      if (hit) end = Math.min(hit.end, offset + buf.length);
      else {
        end = offset + buf.length;
        for (const i of this.#intercepts) if (i.start > at && i.start < end) end = i.start;
      }
      const part = buf.subarray(pos, end - offset);
      if (hit) {
        if (write) hit.write(at - hit.start, part);
        else hit.read(at - hit.start, part);
      } else if (write) this.region.write(at, part);
      else this.region.read(at, part);
      pos = end - offset;
    }
  }

  #slowRead(offset: number, size: number): void {
    this.#bounds(offset, size);
    this.#bytes(offset, this.#scratch.subarray(0, size), false);
  }

  #slowWrite(offset: number, size: number): void {
    this.#bounds(offset, size);
    this.#bytes(offset, this.#scratch.subarray(0, size), true);
    this.#gate.afterWrite();
  }

  read8(offset: number): number {
    this.#gate.check(this.index);
    if (!this.#hits(offset, 1)) return this.region.read8(offset);
    this.#slowRead(offset, 1);
    return this.#scratch[0]!;
  }

  read16(offset: number): number {
    this.#gate.check(this.index);
    if (!this.#hits(offset, 2)) return this.region.read16(offset);
    this.#slowRead(offset, 2);
    return this.#view.getUint16(0, true);
  }

  read32(offset: number): number {
    this.#gate.check(this.index);
    if (!this.#hits(offset, 4)) return this.region.read32(offset);
    this.#slowRead(offset, 4);
    return this.#view.getUint32(0, true);
  }

  read64(offset: number): bigint {
    this.#gate.check(this.index);
    if (!this.#hits(offset, 8)) return this.region.read64(offset);
    this.#slowRead(offset, 8);
    return this.#view.getBigUint64(0, true);
  }

  write8(offset: number, value: number): void {
    this.#gate.check(this.index);
    if (!this.#hits(offset, 1)) {
      this.region.write8(offset, value);
      this.#gate.afterWrite();
      return;
    }
    this.#scratch[0] = value;
    this.#slowWrite(offset, 1);
  }

  write16(offset: number, value: number): void {
    this.#gate.check(this.index);
    if (!this.#hits(offset, 2)) {
      this.region.write16(offset, value);
      this.#gate.afterWrite();
      return;
    }
    this.#view.setUint16(0, value & 0xffff, true);
    this.#slowWrite(offset, 2);
  }

  write32(offset: number, value: number): void {
    this.#gate.check(this.index);
    if (!this.#hits(offset, 4)) {
      this.region.write32(offset, value);
      this.#gate.afterWrite();
      return;
    }
    this.#view.setUint32(0, value >>> 0, true);
    this.#slowWrite(offset, 4);
  }

  write64(offset: number, value: bigint): void {
    this.#gate.check(this.index);
    if (!this.#hits(offset, 8)) {
      this.region.write64(offset, value);
      this.#gate.afterWrite();
      return;
    }
    this.#view.setBigUint64(0, BigInt.asUintN(64, value), true);
    this.#slowWrite(offset, 8);
  }

  /** Reads `dst.length` bytes at `offset`. */
  read(offset: number, dst: Uint8Array): void {
    this.#gate.check(this.index);
    if (!this.#hits(offset, dst.length)) return this.region.read(offset, dst);
    this.#bounds(offset, dst.length);
    this.#bytes(offset, dst, false);
  }

  /** Writes `src` at `offset`. */
  write(offset: number, src: Uint8Array): void {
    this.#gate.check(this.index);
    if (!this.#hits(offset, src.length)) this.region.write(offset, src);
    else {
      this.#bounds(offset, src.length);
      this.#bytes(offset, src, true);
    }
    this.#gate.afterWrite();
  }
}
