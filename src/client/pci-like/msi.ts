// MSI in the PCI-like view: the capability's registers trigger the vectors.
//
// A bare-metal driver programs MSI by writing the capability: message address
// and data, Multiple Message Enable (how many of the capable vectors it
// wants), then the Enable bit; per-vector mask bits, if the capability has
// them, hold a vector back (the device sets its pending bit instead) until
// it is unmasked. The view keeps the whole capability (but its ID and next
// pointer) as a shadow and turns the writes into the Device's interrupt API:
// Enable set -> enableInterrupts('msi', 2^MME) (SET_IRQS with eventfds);
// MME changed while enabled -> the vectors are set up again with the new
// count; Enable cleared -> disableInterrupts(). Address and data read back as
// written and travel with each delivered interrupt, the data's low MME bits
// replaced by the vector number as the device would send it.
//
// Masking is emulated: neither backend can mask MSI vectors (VFIO reports
// them not maskable), so the eventfds stay bound and a signal on a masked
// vector sets the view's pending bit instead of reaching the driver; clearing
// the mask delivers it. Pending bits read back in the capability; a read
// first collects signals not yet seen by the event loop, so it is current.
//
// The capable count (Multiple Message Capable) is what VFIO reports for the
// MSI index; MME is clamped to it. The 64-bit and per-vector-mask bits are
// the device's.

import {
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_MSI_FLAGS_QMASK,
  PCI_MSI_FLAGS_QSIZE,
} from '../../pci/regs.js';
import { msiEnabledLog2, msiLayout, msiVectorBits, withMsiEnabledLog2, type MsiLayout } from '../../pci/caps/msi-layout.js';
import { pciIrq } from '../../uapi/vfio.js';
import { applyOrRollBack, ShadowBlock, type ConfigHandler, type ViewContext } from './registers.js';

/** An MSI or MSI-X message as the driver programmed it: address and data. */
export interface MsiMessage {
  address: bigint;
  data: number;
}

export class MsiCapability implements ConfigHandler {
  readonly name = 'MSI';
  /** Offset of the capability (its ID byte). */
  readonly cap: number;
  readonly start: number;
  readonly end: number;
  readonly is64: boolean;
  readonly hasMask: boolean;
  /** log2 of the vectors the backend grants (Multiple Message Capable). */
  readonly mmc: number;
  /** Vectors the backend reports for MSI. */
  readonly backendVectors: number;
  readonly #ctx: ViewContext;
  readonly #regs: ShadowBlock;
  readonly #at: MsiLayout;
  #pending = 0;

  constructor(ctx: ViewContext, cap: number) {
    this.#ctx = ctx;
    this.cap = cap;
    const at = msiLayout(ctx.device.config.read16(cap + PCI_MSI_FLAGS));
    this.#at = at;
    this.start = cap + PCI_MSI_FLAGS;
    this.end = cap + at.length;
    this.is64 = at.is64;
    this.hasMask = at.perVectorMask;
    const info = pciIrq.MSI < ctx.device.info.numIrqs ? ctx.device.irqInfo(pciIrq.MSI) : undefined;
    this.backendVectors = info?.eventfd ? info.count : 0;
    this.mmc = this.backendVectors > 0 ? Math.min(5, Math.floor(Math.log2(this.backendVectors))) : 0;
    this.#regs = new ShadowBlock(at.length);
    const r = this.#regs;
    r.allow(PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
    r.allow(at.addressLo, 4, 0xfffffffc);
    if (at.addressHi !== undefined) r.allow(at.addressHi, 4, 0xffffffff);
    r.allow(at.data, 2, 0xffff);
    if (this.hasMask) r.allow(at.mask, 4, msiVectorBits(1 << this.mmc));
    this.reset();
  }

  /** Back to power-on: disabled, MME 0, address, data and masks 0, nothing pending. */
  reset(): void {
    const fixed =
      (this.is64 ? PCI_MSI_FLAGS_64BIT : 0) | (this.hasMask ? PCI_MSI_FLAGS_MASKBIT : 0) | ((this.mmc << 1) & PCI_MSI_FLAGS_QMASK);
    this.#regs.bytes.fill(0);
    this.#regs.set(PCI_MSI_FLAGS, 2, fixed);
    this.#pending = 0;
  }

  get #flags(): number {
    return this.#regs.get(PCI_MSI_FLAGS, 2);
  }

  get enabled(): boolean {
    return (this.#flags & PCI_MSI_FLAGS_ENABLE) !== 0;
  }

  /** Vectors enabled: 2^MME, as far as the backend grants them. */
  get vectorCount(): number {
    return Math.min(1 << msiEnabledLog2(this.#flags), this.backendVectors);
  }

  /** The per-vector mask register (0 when the capability has none). */
  get maskBits(): number {
    return this.hasMask ? this.#regs.get(this.#at.mask, 4) : 0;
  }

  masked(vector: number): boolean {
    return ((this.maskBits >>> vector) & 1) === 1;
  }

  /** Pending bits, after collecting the signals of masked vectors the event loop has not seen yet. */
  get pendingBits(): number {
    this.#collect();
    return this.#pending >>> 0;
  }

  /** The message vector `vector` sends: the programmed address, the data with the vector in its low MME bits. */
  message(vector: number): MsiMessage {
    const r = this.#regs;
    const at = this.#at;
    const lo = BigInt(r.get(at.addressLo, 4));
    const hi = at.addressHi !== undefined ? BigInt(r.get(at.addressHi, 4)) << 32n : 0n;
    const count = 1 << msiEnabledLog2(this.#flags);
    const data = ((r.get(at.data, 2) & ~(count - 1)) | vector) & 0xffff;
    return { address: hi | lo, data };
  }

  /** A signal of `vector` arrived: true to deliver it, false when masked (now pending). */
  accept(vector: number): boolean {
    if (!this.masked(vector)) return true;
    this.#pending = (this.#pending | (1 << vector)) >>> 0;
    return false;
  }

  #collect(): void {
    const active = this.#ctx.activeMode;
    if (active?.kind !== 'msi' || !this.hasMask) return;
    const mask = this.maskBits;
    for (let v = 0; v < active.count; v++) {
      if (((mask >>> v) & 1) === 1 && this.#ctx.device.pollInterrupt(v, 0) > 0) this.#pending = (this.#pending | (1 << v)) >>> 0;
    }
  }

  read(offset: number, size: number): number {
    const rel = offset - this.cap;
    const pendingAt = this.#at.pending;
    if (this.hasMask && rel < pendingAt + 4 && rel + size > pendingAt) {
      this.#regs.set(pendingAt, 4, this.pendingBits);
    }
    return this.#regs.get(rel, size);
  }

  write(offset: number, size: number, value: number): void {
    const rel = offset - this.cap;
    const before = Uint8Array.from(this.#regs.bytes);
    const wasEnabled = this.enabled;
    const oldCount = this.vectorCount;
    const oldMask = this.maskBits;
    this.#regs.merge(rel, size, value);
    // Multiple Message Enable is clamped to what the function is capable of.
    const flags = this.#flags;
    if (msiEnabledLog2(flags) > this.mmc) this.#regs.set(PCI_MSI_FLAGS, 2, withMsiEnabledLog2(flags, this.mmc));
    if (this.enabled !== wasEnabled || (this.enabled && this.vectorCount !== oldCount)) {
      if (this.enabled && !wasEnabled) this.#pending = 0;
      applyOrRollBack(this.#ctx, this.#regs, before);
      if (!this.enabled) this.#pending = 0;
    }
    const unmasked = (oldMask & ~this.maskBits) >>> 0;
    if (unmasked !== 0 && this.enabled) {
      this.#collect();
      for (let v = 0; v < 32; v++) {
        const bit = (1 << v) >>> 0;
        if ((unmasked & bit) !== 0 && (this.#pending & bit) !== 0) {
          this.#pending = (this.#pending & ~bit) >>> 0;
          this.#ctx.deliver('msi', v, true);
        }
      }
    }
  }
}
