// The building blocks of the PCI-like view's config space.
//
// The view presents the device's config space as bare-metal code sees it: a
// few register blocks are emulated by the view (BARs, MSI, MSI-X control,
// the command register's INTx Disable, PM control, the FLR bits), each a
// ConfigHandler owning a byte range; every other byte is read from and
// written to the device's own config space (which the backend still filters
// with the kernel's permission model). An access of 1, 2 or 4 naturally
// aligned bytes is cut into pieces at handler boundaries; each piece goes to
// its handler or to the device.
//
// ShadowBlock is the common storage of an emulated block: the bytes as the
// driver reads them and, per byte, the bits the driver may write (the rest
// are read-only and keep their value, as on hardware).

import { fail } from '../../errors.js';
import type { Device, InterruptKind } from '../device.js';
import type { Region } from '../region.js';
import type { ResetSource } from '../../pci/region.js';

/** An emulated range of config space. Offsets are absolute; an access never leaves [start, end) nor a dword. */
export interface ConfigHandler {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

/** What the register blocks need from the view that holds them. */
export interface ViewContext {
  readonly device: Device;
  /** Recomputes the interrupt mode (MSI-X, MSI, INTx or none) from the emulated registers and applies it. */
  applyInterruptMode(): void;
  /** Delivers an interrupt to the driver (asynchronously when `later`). */
  deliver(kind: InterruptKind, vector: number, later: boolean): void;
  /** The interrupt mode the view has enabled on the Device, if any. */
  readonly activeMode: { kind: InterruptKind; count: number } | null;
  /** Performs a function reset requested by a config write. */
  functionReset(source: ResetSource): void;
  /** The function entered another power state (read back from the device). */
  powerStateChanged(from: number, to: number, softReset: boolean): void;
}

/** Mask of the low `bytes` bytes. */
export function byteMask(bytes: number): number {
  return bytes >= 4 ? 0xffffffff : (1 << (bytes * 8)) - 1;
}

/** Emulated bytes with per-byte writable bits. Offsets are relative to the block. */
export class ShadowBlock {
  readonly bytes: Uint8Array;
  readonly writable: Uint8Array;

  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.writable = new Uint8Array(length);
  }

  /** Little-endian value of `size` (1..4) bytes at `offset`. */
  get(offset: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.bytes[offset + i] ?? 0);
    return v >>> 0;
  }

  /** Stores `value` regardless of the writable bits (the view's own updates). */
  set(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) this.bytes[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  /** A driver's write: only writable bits change. */
  merge(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const w = this.writable[offset + i] ?? 0;
      const b = (value >>> (8 * i)) & 0xff;
      this.bytes[offset + i] = (this.bytes[offset + i]! & ~w) | (b & w);
    }
  }

  /** Marks `size` bytes at `offset` writable with the bits of `mask`. */
  allow(offset: number, size: number, mask: number): void {
    for (let i = 0; i < size; i++) this.writable[offset + i] = (mask >>> (8 * i)) & 0xff;
  }
}

/**
 * Applies the interrupt mode a write to `block` asked for. When the Device refuses it, the block goes back to
 * `before` (a copy taken ahead of the write) and the previous mode is applied again, so the registers keep
 * telling the truth; the refusal is rethrown.
 */
export function applyOrRollBack(ctx: ViewContext, block: ShadowBlock, before: Uint8Array): void {
  try {
    ctx.applyInterruptMode();
  } catch (err) {
    block.bytes.set(before);
    try {
      ctx.applyInterruptMode();
    } catch {
      // the previous mode could not be restored either: the error rethrown says why the write failed
    }
    throw err;
  }
}

/** Reads `size` (1..4) bytes of the device's config space at `offset`, as aligned accesses. */
export function deviceRead(config: Region, offset: number, size: number): number {
  if (size === 4 && (offset & 3) === 0) return config.read32(offset);
  if (size === 2 && (offset & 1) === 0) return config.read16(offset);
  if (size === 1) return config.read8(offset);
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + config.read8(offset + i);
  return v >>> 0;
}

/** Writes `size` (1..4) bytes of `value` to the device's config space at `offset`, as aligned accesses. */
export function deviceWrite(config: Region, offset: number, size: number, value: number): void {
  if (size === 4 && (offset & 3) === 0) return config.write32(offset, value >>> 0);
  if (size === 2 && (offset & 1) === 0) return config.write16(offset, value & 0xffff);
  for (let i = 0; i < size; i++) config.write8(offset + i, (value >>> (8 * i)) & 0xff);
}

/** Checks a config access: 1, 2 or 4 bytes, naturally aligned, inside `limit`. */
export function checkConfigAccess(offset: number, size: number, limit: number): void {
  if (size !== 1 && size !== 2 && size !== 4)
    throw fail('EINVAL', `config access of ${size} bytes: PCI config accesses are 1, 2 or 4 bytes`);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > limit) {
    throw fail('EINVAL', `config access of ${size} bytes at ${offset} is outside the ${limit}-byte config space`);
  }
  if (offset % size !== 0) throw fail('EINVAL', `config access of ${size} bytes at 0x${offset.toString(16)} is not naturally aligned`);
}

/**
 * Checks that a value written by a driver fits `size` bytes (negative values
 * down to the signed minimum are taken as their two's complement, so ~0
 * works) and returns it unsigned.
 */
export function checkValue(value: number, size: number): number {
  const max = byteMask(size);
  if (!Number.isInteger(value) || value > max || value < -Math.floor(max / 2) - 1) {
    throw fail('EINVAL', `value ${value} does not fit a ${size}-byte register`);
  }
  return size >= 4 ? value >>> 0 : value & max;
}
