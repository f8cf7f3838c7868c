// MSI-X in the PCI-like view: the capability's control bits, and the vector
// table and Pending Bit Array inside their BAR, trigger the vectors.
//
// A bare-metal driver enables MSI-X in the capability (with the Function
// Mask set while it fills the table, often), writes each vector's address
// and data into the table, and clears each entry's mask bit. The view keeps
// the capability's Message Control and the whole table as a shadow, and
// answers the BAR accesses that fall on the table or the PBA itself (the
// device's own table is the backend's business: the kernel programs the real
// one, a vfio-user server keeps its own). Enable set ->
// enableInterrupts('msix', table size) (as far as the backend grants vectors);
// Enable cleared -> disableInterrupts(). Every entry starts masked (as after
// reset on hardware).
//
// Masking is emulated: VFIO has no MASK action for MSI-X, so the eventfds of
// every vector stay bound and a signal on a vector that is masked (its entry's
// mask bit or the Function Mask) sets its PBA bit instead of reaching the
// driver; unmasking delivers it and clears the bit. A PBA read first collects
// the signals not yet seen by the event loop, so it is current. Address and
// data read back as written and travel with each delivered interrupt.
// The Table and PBA offset registers of the capability are the device's,
// read-only.

import {
  PCI_MSIX_ENTRY_CTRL_MASKBIT,
  PCI_MSIX_ENTRY_DATA,
  PCI_MSIX_ENTRY_LOWER_ADDR,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_UPPER_ADDR,
  PCI_MSIX_ENTRY_VECTOR_CTRL,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSIX_PBA,
  PCI_MSIX_TABLE,
} from '../../pci/regs.js';
import { decodeMsix } from '../../pci/caps/msix.js';
import { decodeMsixEntry, msixEntryMasked, resetMsixEntries } from '../../pci/msix-table.js';
import { pciIrq } from '../../uapi/vfio.js';
import type { BarIntercept } from './bars.js';
import type { MsiMessage } from './msi.js';
import { applyOrRollBack, ShadowBlock, type ConfigHandler, type ViewContext } from './registers.js';

export class MsixCapability implements ConfigHandler {
  readonly name = 'MSI-X';
  readonly cap: number;
  readonly start: number;
  readonly end: number;
  readonly tableSize: number;
  readonly tableBar: number;
  readonly tableOffset: number;
  readonly pbaBar: number;
  readonly pbaOffset: number;
  readonly pbaBytes: number;
  readonly backendVectors: number;
  readonly #ctx: ViewContext;
  readonly #ctrl = new ShadowBlock(4);
  readonly #table: ShadowBlock;
  readonly #pending: Uint8Array;

  constructor(ctx: ViewContext, cap: number) {
    this.#ctx = ctx;
    this.cap = cap;
    this.start = cap + PCI_MSIX_FLAGS;
    this.end = cap + PCI_MSIX_FLAGS + 2;
    const cfg = ctx.device.config;
    const layout = decodeMsix(cfg.read16(cap + PCI_MSIX_FLAGS), cfg.read32(cap + PCI_MSIX_TABLE), cfg.read32(cap + PCI_MSIX_PBA));
    this.tableSize = layout.tableSize;
    this.tableBar = layout.tableBar;
    this.tableOffset = layout.tableOffset;
    this.pbaBar = layout.pbaBar;
    this.pbaOffset = layout.pbaOffset;
    this.pbaBytes = layout.pbaBytes;
    const info = pciIrq.MSIX < ctx.device.info.numIrqs ? ctx.device.irqInfo(pciIrq.MSIX) : undefined;
    this.backendVectors = info?.eventfd ? info.count : 0;
    this.#ctrl.allow(PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    this.#table = new ShadowBlock(layout.tableBytes);
    for (let v = 0; v < this.tableSize; v++) {
      const e = v * PCI_MSIX_ENTRY_SIZE;
      this.#table.allow(e + PCI_MSIX_ENTRY_LOWER_ADDR, 4, 0xfffffffc);
      this.#table.allow(e + PCI_MSIX_ENTRY_UPPER_ADDR, 4, 0xffffffff);
      this.#table.allow(e + PCI_MSIX_ENTRY_DATA, 4, 0xffffffff);
      this.#table.allow(e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, PCI_MSIX_ENTRY_CTRL_MASKBIT);
    }
    this.#pending = new Uint8Array(this.tableSize);
    this.reset();
  }

  /** Back to power-on: disabled, no function mask, every entry zero and masked, nothing pending. */
  reset(): void {
    this.#ctrl.set(PCI_MSIX_FLAGS, 2, this.tableSize - 1);
    resetMsixEntries(this.#table.bytes);
    this.#pending.fill(0);
  }

  get #flags(): number {
    return this.#ctrl.get(PCI_MSIX_FLAGS, 2);
  }

  get enabled(): boolean {
    return (this.#flags & PCI_MSIX_FLAGS_ENABLE) !== 0;
  }

  get functionMask(): boolean {
    return (this.#flags & PCI_MSIX_FLAGS_MASKALL) !== 0;
  }

  /** Vectors set up when enabled: the table size, as far as the backend grants them. */
  get vectorCount(): number {
    return Math.min(this.tableSize, this.backendVectors);
  }

  #entryMasked(v: number): boolean {
    return msixEntryMasked(this.#table.bytes, v);
  }

  /** The vector is masked by its entry or by the Function Mask. */
  masked(v: number): boolean {
    return this.functionMask || this.#entryMasked(v);
  }

  /** Whether vector `v`'s PBA bit is set (after collecting unseen signals). */
  pending(v: number): boolean {
    this.#collect();
    return this.#pending[v] === 1;
  }

  message(v: number): MsiMessage {
    const { address, data } = decodeMsixEntry(this.#table.bytes, v);
    return { address, data };
  }

  /** A signal of `v` arrived: true to deliver it, false when masked (its PBA bit is set instead). */
  accept(v: number): boolean {
    if (v >= this.tableSize) return false;
    if (!this.masked(v)) return true;
    this.#pending[v] = 1;
    return false;
  }

  #collect(): void {
    const active = this.#ctx.activeMode;
    if (active?.kind !== 'msix') return;
    for (let v = 0; v < active.count; v++) {
      if (this.masked(v) && this.#ctx.device.pollInterrupt(v, 0) > 0) this.#pending[v] = 1;
    }
  }

  /** Delivers the pending vectors that are no longer masked. */
  #flush(): void {
    if (!this.enabled) return;
    for (let v = 0; v < this.tableSize; v++) {
      if (this.#pending[v] === 1 && !this.masked(v)) {
        this.#pending[v] = 0;
        this.#ctx.deliver('msix', v, true);
      }
    }
  }

  // ---- Message Control (config space)

  read(offset: number, size: number): number {
    return this.#ctrl.get(offset - this.cap, size);
  }

  write(offset: number, size: number, value: number): void {
    const before = Uint8Array.from(this.#ctrl.bytes);
    const wasEnabled = this.enabled;
    this.#ctrl.merge(offset - this.cap, size, value);
    if (this.enabled !== wasEnabled) {
      if (this.enabled) this.#pending.fill(0);
      applyOrRollBack(this.#ctx, this.#ctrl, before);
      if (!this.enabled) this.#pending.fill(0);
    }
    this.#flush();
  }

  // ---- the table and the PBA (BAR accesses)

  /** The BAR ranges the view answers: the table, and the PBA. */
  intercepts(bar: number): BarIntercept[] {
    const out: BarIntercept[] = [];
    if (bar === this.tableBar) {
      out.push({
        start: this.tableOffset,
        end: this.tableOffset + this.#table.bytes.length,
        read: (off, dst) => dst.set(this.#table.bytes.subarray(off, off + dst.length)),
        write: (off, src) => this.#writeTable(off, src),
      });
    }
    if (bar === this.pbaBar) {
      out.push({
        start: this.pbaOffset,
        end: this.pbaOffset + this.pbaBytes,
        read: (off, dst) => this.#readPba(off, dst),
        write: () => undefined, // the PBA is read-only
      });
    }
    return out;
  }

  #writeTable(off: number, src: Uint8Array): void {
    const t = this.#table;
    for (let i = 0; i < src.length; i++) {
      const at = off + i;
      const w = t.writable[at]!;
      t.bytes[at] = (t.bytes[at]! & ~w) | (src[i]! & w);
    }
    this.#flush();
  }

  #readPba(off: number, dst: Uint8Array): void {
    this.#collect();
    for (let i = 0; i < dst.length; i++) {
      let b = 0;
      for (let bit = 0; bit < 8; bit++) if (this.#pending[(off + i) * 8 + bit] === 1) b |= 1 << bit;
      dst[i] = b;
    }
  }
}
