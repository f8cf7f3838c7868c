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
  PCI_MSI_ADDRESS_HI,
  PCI_MSI_ADDRESS_LO,
  PCI_MSI_DATA_32,
  PCI_MSI_DATA_64,
  PCI_MSI_FLAGS,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_MSI_FLAGS_QMASK,
  PCI_MSI_FLAGS_QSIZE,
  PCI_MSI_MASK_32,
  PCI_MSI_MASK_64,
  PCI_MSI_PENDING_32,
  PCI_MSI_PENDING_64,
} from '../../pci/regs.js';
import { msiLength } from '../../pci/caps/msi.js';
import { pciIrq } from '../../uapi/vfio.js';
import { ShadowBlock, type ConfigHandler, type ViewContext } from './registers.js';

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
  readonly #data: number;
  readonly #mask: number;
  readonly #pendingAt: number;
  #pending = 0;

  constructor(ctx: ViewContext, cap: number) {
    this.#ctx = ctx;
    this.cap = cap;
    const flags = ctx.device.config.read16(cap + PCI_MSI_FLAGS);
    const length = msiLength(flags);
    this.start = cap + PCI_MSI_FLAGS;
    this.end = cap + length;
    this.is64 = (flags & PCI_MSI_FLAGS_64BIT) !== 0;
    this.hasMask = (flags & PCI_MSI_FLAGS_MASKBIT) !== 0;
    const info = pciIrq.MSI < ctx.device.info.numIrqs ? ctx.device.irqInfo(pciIrq.MSI) : undefined;
    this.backendVectors = info?.eventfd ? info.count : 0;
    this.mmc = this.backendVectors > 0 ? Math.min(5, Math.floor(Math.log2(this.backendVectors))) : 0;
    this.#data = this.is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
    this.#mask = this.is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;
    this.#pendingAt = this.is64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32;
    this.#regs = new ShadowBlock(length);
    const r = this.#regs;
    r.allow(PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
    r.allow(PCI_MSI_ADDRESS_LO, 4, 0xfffffffc);
    if (this.is64) r.allow(PCI_MSI_ADDRESS_HI, 4, 0xffffffff);
    r.allow(this.#data, 2, 0xffff);
    if (this.hasMask) r.allow(this.#mask, 4, this.#capableMask());
    this.reset();
  }

  #capableMask(): number {
    const n = 1 << this.mmc;
    return n >= 32 ? 0xffffffff : (1 << n) - 1;
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
    const mme = (this.#flags & PCI_MSI_FLAGS_QSIZE) >>> 4;
    return Math.min(1 << mme, this.backendVectors);
  }

  /** The per-vector mask register (0 when the capability has none). */
  get maskBits(): number {
    return this.hasMask ? this.#regs.get(this.#mask, 4) : 0;
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
    const lo = BigInt(r.get(PCI_MSI_ADDRESS_LO, 4));
    const hi = this.is64 ? BigInt(r.get(PCI_MSI_ADDRESS_HI, 4)) << 32n : 0n;
    const count = 1 << ((this.#flags & PCI_MSI_FLAGS_QSIZE) >>> 4);
    const data = ((r.get(this.#data, 2) & ~(count - 1)) | vector) & 0xffff;
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
    if (this.hasMask && rel < this.#pendingAt + 4 && rel + size > this.#pendingAt) {
      this.#regs.set(this.#pendingAt, 4, this.pendingBits);
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
    if ((flags & PCI_MSI_FLAGS_QSIZE) >>> 4 > this.mmc) {
      this.#regs.set(PCI_MSI_FLAGS, 2, (flags & ~PCI_MSI_FLAGS_QSIZE) | (this.mmc << 4));
    }
    if (this.enabled !== wasEnabled || (this.enabled && this.vectorCount !== oldCount)) {
      if (this.enabled && !wasEnabled) this.#pending = 0;
      try {
        this.#ctx.applyInterruptMode();
      } catch (err) {
        this.#regs.bytes.set(before);
        try {
          this.#ctx.applyInterruptMode();
        } catch {
          // the previous mode could not be restored either: the error below says why the write failed
        }
        throw err;
      }
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
