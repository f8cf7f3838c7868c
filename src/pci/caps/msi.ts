// MSI capability.
//
// Layout by Message Control: 32- or 64-bit address, 1..32 vectors (Multiple
// Message Capable = log2), optional per-vector masking (mask + pending
// registers). Model (the kernel's, see vfio_pci_config.c):
//   - the low byte of Message Control, the address and the data are virtual
//     and writable: they live in the shadow;
//   - the ENABLE bit is owned by the interrupt API (SET_IRQS): whatever the
//     user writes, it reads back as the API set it (setEnabled / disable);
//   - a user write of Multiple Message Enable is clamped to Multiple Message
//     Capable, and while enabled to what the API allocated;
//   - mask and pending pass through to the backing: masks are hardware-
//     writable there, pending bits are set by the device (read-only).
// The fixed-up flags are mirrored to the backing as the kernel does.
// Message Control's high byte (the per-vector-mask capability bit) is
// read-only hardware.

import type { AccessSize } from '../backing.js';
import { ErrnoError } from '../../errors.js';
import { layoutError } from '../layout-error.js';
import { ALL_VIRT, ALL_WRITE, NO_VIRT } from '../perms.js';
import { capPerms, Region, touches, type Engine, type RegionSpec, type ResetKind } from '../region.js';
import {
  PCI_CAP_ID_MSI,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_MSI_FLAGS_QSIZE,
} from '../regs.js';
import { msiCapableLog2, msiEnabledLog2, msiLayout, msiVectorBits, withMsiEnabledLog2, type MsiLayout } from './msi-layout.js';
import { ImageWriter, type CapImage } from './image.js';

/** Declares an MSI capability. */
export interface MsiDecl {
  id: 'msi';
  offset?: number;
  /** Vectors the function can use: 1, 2, 4, 8, 16 or 32 (default 1). */
  vectors?: number;
  /** 64-bit message address (default true). */
  address64?: boolean;
  /** Per-vector masking (default false). */
  perVectorMask?: boolean;
}

export { msiLength } from './msi-layout.js';

function log2Exact(n: number): number {
  return Math.round(Math.log2(n));
}

/** log2 of the smallest power of two >= n. */
function log2Ceil(n: number): number {
  return Math.ceil(Math.log2(n));
}

export function encodeMsi(d: MsiDecl): CapImage {
  const vectors = d.vectors ?? 1;
  if (![1, 2, 4, 8, 16, 32].includes(vectors)) {
    throw layoutError(
      vectors > 0 && vectors <= 32 ? 'not-power-of-two' : 'bad-value',
      `MSI vectors ${vectors}: must be a power of two in 1..32`,
    );
  }
  let flags = log2Exact(vectors) << 1;
  if (d.address64 !== false) flags |= PCI_MSI_FLAGS_64BIT;
  if (d.perVectorMask) flags |= PCI_MSI_FLAGS_MASKBIT;
  const layout = msiLayout(flags);
  const img = new ImageWriter(layout.length).w(PCI_MSI_FLAGS, flags);
  // Hardware: enable and MME are writable (the engine mirrors them), masks for implemented vectors.
  img.rw(PCI_MSI_FLAGS, 1, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
  if (d.perVectorMask) img.rw(layout.mask, 4, msiVectorBits(vectors));
  return { id: PCI_CAP_ID_MSI, extended: false, bytes: img.bytes, writable: img.writable, w1c: img.w1c };
}

/** MSI state as the user programmed it. */
export interface MsiState {
  enabled: boolean;
  /** Vectors the function is capable of (Multiple Message Capable). */
  capable: number;
  /** Vectors enabled (Multiple Message Enable), 1..32. */
  count: number;
  address64: boolean;
  perVectorMask: boolean;
  address: bigint;
  /** Message data for vector 0 (vector i ORs i into the low log2(count) bits). */
  data: number;
  /** Mask bits (0 when per-vector masking is not implemented). */
  mask: number;
  /** Pending bits (0 when per-vector masking is not implemented). */
  pending: number;
}

/** One vector's message, for delivery. */
export interface MsiVector {
  address: bigint;
  data: number;
  masked: boolean;
  pending: boolean;
}

export class MsiRegion extends Region {
  /** log2 of the vectors the interrupt API allocated, while enabled. */
  private allocatedLog2: number | undefined;

  constructor(engine: Engine, spec: RegionSpec) {
    const l = msiLayout(engine.backing.read(spec.start + PCI_MSI_FLAGS, 2));
    const p = capPerms(spec);
    // The kernel marks the whole low byte writable and re-derives MMC on read;
    // we keep MMC and the 64-bit bit read-only instead (same user-visible result).
    p.setb(PCI_MSI_FLAGS, 0xff, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
    p.setd(l.addressLo, ALL_VIRT, ALL_WRITE);
    if (l.addressHi !== undefined) p.setd(l.addressHi, ALL_VIRT, ALL_WRITE);
    p.setw(l.data, 0xffff, 0xffff);
    if (l.perVectorMask) {
      p.setd(l.mask, NO_VIRT, ALL_WRITE);
      p.setd(l.pending, NO_VIRT, ALL_WRITE);
    }
    super(engine, spec, p);
  }

  /** The 64-bit and per-vector-mask bits are read-only hardware: the layout follows them. */
  private get layout(): MsiLayout {
    return msiLayout(this.hwGet(PCI_MSI_FLAGS, 2));
  }
  get address64(): boolean {
    return this.layout.is64;
  }
  get perVectorMask(): boolean {
    return this.layout.perVectorMask;
  }
  /** log2 of Multiple Message Capable. */
  get capableLog2(): number {
    return msiCapableLog2(this.effective(PCI_MSI_FLAGS, 2));
  }
  get enabled(): boolean {
    return (this.shadowGet(PCI_MSI_FLAGS, 1) & PCI_MSI_FLAGS_ENABLE) !== 0;
  }
  private get maskOff(): number {
    return this.layout.mask;
  }
  private get pendingOff(): number {
    return this.layout.pending;
  }
  private get vectorBits(): number {
    return msiVectorBits(1 << this.capableLog2);
  }

  override reset(_kind: ResetKind): void {
    this.allocatedLog2 = undefined;
  }

  override write(off: number, count: AccessSize, value: number): void {
    const masking = this.perVectorMask && touches(off, count, this.maskOff, 4);
    const before = masking ? this.effective(this.maskOff, 4) : 0;
    this.defaultWrite(off, count, value);
    if (touches(off, count, PCI_MSI_FLAGS)) this.fixFlags();
    if (masking) {
      const after = this.effective(this.maskOff, 4);
      const changed = (before ^ after) & this.vectorBits;
      for (let i = 0; i < 32; i++) {
        if (changed & (1 << i)) this.engine.hooks.onMsiMaskChange?.(i, (after & (1 << i)) !== 0);
      }
    }
  }

  /** Enable bit from the API; MME clamped to MMC and to the allocation. */
  private fixFlags(): void {
    let flags = this.shadowGet(PCI_MSI_FLAGS, 1);
    flags &= ~PCI_MSI_FLAGS_ENABLE;
    if (this.allocatedLog2 !== undefined) flags |= PCI_MSI_FLAGS_ENABLE;
    const limit = Math.min(this.capableLog2, this.allocatedLog2 ?? this.capableLog2);
    if (msiEnabledLog2(flags) > limit) flags = withMsiEnabledLog2(flags, limit);
    this.shadowSet(PCI_MSI_FLAGS, 1, flags);
    const hw = this.hwGet(PCI_MSI_FLAGS, 2);
    this.hwWrite(PCI_MSI_FLAGS, 2, (hw & ~0xff) | flags);
  }

  /** Enable MSI with `count` vectors (1..capable), as SET_IRQS does. */
  setEnabled(count: number): void {
    const capable = 1 << this.capableLog2;
    if (!Number.isInteger(count) || count < 1 || count > capable) {
      throw new ErrnoError('EINVAL', `MSI: cannot enable ${count} vectors (capable of ${capable})`);
    }
    this.allocatedLog2 = log2Ceil(count);
    const flags = withMsiEnabledLog2(this.shadowGet(PCI_MSI_FLAGS, 1), this.allocatedLog2);
    this.shadowSet(PCI_MSI_FLAGS, 1, flags);
    this.fixFlags();
  }

  /** Disable MSI (SET_IRQS with count 0). */
  disable(): void {
    this.allocatedLog2 = undefined;
    this.fixFlags();
  }

  state(): MsiState {
    const flags = this.effective(PCI_MSI_FLAGS, 2);
    const l = this.layout;
    const lo = this.effective(l.addressLo, 4);
    const hi = l.addressHi !== undefined ? this.effective(l.addressHi, 4) : 0;
    const pvm = l.perVectorMask;
    return {
      enabled: (flags & PCI_MSI_FLAGS_ENABLE) !== 0,
      capable: 1 << msiCapableLog2(flags),
      count: 1 << msiEnabledLog2(flags),
      address64: l.is64,
      perVectorMask: pvm,
      address: (BigInt(hi) << 32n) | BigInt(lo),
      data: this.effective(l.data, 2),
      mask: pvm ? this.effective(l.mask, 4) : 0,
      pending: pvm ? this.effective(l.pending, 4) : 0,
    };
  }

  vector(i: number): MsiVector {
    const s = this.state();
    if (!Number.isInteger(i) || i < 0 || i >= s.count) throw new ErrnoError('EINVAL', `MSI vector ${i} is not enabled (count ${s.count})`);
    const low = s.count - 1;
    return {
      address: s.address,
      data: (s.data & ~low) | i,
      masked: ((s.mask >>> i) & 1) === 1,
      pending: ((s.pending >>> i) & 1) === 1,
    };
  }

  /** Device side: set or clear a vector's pending bit (per-vector masking only). */
  setPending(i: number, on: boolean): void {
    if (!this.perVectorMask) throw new ErrnoError('EINVAL', 'MSI: pending bits need per-vector masking');
    if (!Number.isInteger(i) || i < 0 || i >= 1 << this.capableLog2) throw new ErrnoError('EINVAL', `MSI vector ${i} out of range`);
    const pos = this.start + this.pendingOff;
    const b = this.engine.backing;
    const cur = b.read(pos, 4);
    const next = (on ? cur | (1 << i) : cur & ~(1 << i)) >>> 0;
    if (b.set) b.set(pos, 4, next);
    else b.write(pos, 4, next);
  }
}
