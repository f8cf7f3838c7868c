// Interrupts of a virtual PCI function, with the kernel's vfio-pci semantics
// (drivers/vfio/pci/vfio_pci_intrs.c) for SET_IRQS and the PCI rules for
// delivery.
//
// Indexes: INTx 0, MSI 1, MSI-X 2, ERR 3, REQ 4. INTx, MSI and MSI-X are
// mutually exclusive modes: SET_IRQS TRIGGER with eventfds enables a mode
// only when none is enabled (EINVAL otherwise, as the kernel answers); TRIGGER
// with DATA_NONE and count 0 disables the enabled one; DATA_NONE/DATA_BOOL
// with count > 0 signals the bound eventfds (loopback); MASK/UNMASK exist for
// INTx only (ENOTTY elsewhere, and for an INTx MASK with an eventfd). ERR and
// REQ hold one eventfd each, independent of the mode.
//
// Delivery (what the device model asks for):
// - INTx is level-triggered. While the line is asserted the Interrupt Status
//   bit of config space is set; it is delivered when INTx is the mode, not
//   masked and INTx Disable is clear in the command register, and it masks
//   itself on delivery until the client unmasks (SET_IRQS UNMASK, or the
//   unmask eventfd); an unmask with the line still asserted delivers again.
//   Setting INTx Disable masks, clearing it unmasks (the kernel's virq_disabled).
// - MSI vector v (< the enabled count): if the per-vector mask bit in config
//   space is set the pending bit is set instead, and the interrupt is
//   delivered when the client clears the mask.
// - MSI-X vector v: masked by its table entry or the function mask -> the PBA
//   bit is set, delivered and cleared on unmask. Binding a vector's eventfd
//   unmasks its table entry and unbinding masks it, as the host's MSI layer
//   does for vfio-pci (so clients that keep the table to themselves, like
//   QEMU, mask by unbinding and see pending vectors in the PBA), and a client
//   may mask and unmask through the table as well.
// - REQ asks the client to release the device; ERR reports an error. Each
//   signals its eventfd, if one is bound.
// Eventfds received are owned here and closed when replaced, unbound, when
// the mode is disabled, and when the client goes.

import { readFileSync } from 'node:fs';
import { fail } from '../errors.js';
import type { ConfigSpace } from '../pci/index.js';
import { regs } from '../pci/index.js';
import {
  IRQ_INFO_AUTOMASKED,
  IRQ_INFO_EVENTFD,
  IRQ_INFO_MASKABLE,
  IRQ_INFO_NORESIZE,
  PCI_ERR_IRQ_INDEX,
  PCI_INTX_IRQ_INDEX,
  PCI_MSI_IRQ_INDEX,
  PCI_MSIX_IRQ_INDEX,
  PCI_NUM_IRQS,
  PCI_REQ_IRQ_INDEX,
  type SetIrqsRequest,
} from '../protocol/index.js';
import { closeQuietly, EventFd } from '../sys/index.js';

/** Which interrupts a served device's client enabled. */
export type IrqMode = 'none' | 'intx' | 'msi' | 'msix';

/** What became of an interrupt the device raised. */
export type IrqResult = 'delivered' | 'pending' | 'dropped';

/** DEVICE_GET_IRQ_INFO's answer for one index. */
export interface IrqInfoResult {
  flags: number;
  count: number;
}

const MODE_INDEX: Record<Exclude<IrqMode, 'none'>, number> = { intx: PCI_INTX_IRQ_INDEX, msi: PCI_MSI_IRQ_INDEX, msix: PCI_MSIX_IRQ_INDEX };

/** Whether fd is an eventfd (the kernel's eventfd_ctx_fdget check), from /proc/self/fdinfo. */
export function isEventFd(fd: number): boolean {
  try {
    return readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1').includes('eventfd-count:');
  } catch {
    return false;
  }
}

export type WarnFn = (message: string, cause?: unknown) => void;

/** A served device's interrupts: the mode the client set (INTx, MSI, MSI-X), masking, and delivery to its eventfds. */
export class Interrupts {
  readonly #config: ConfigSpace;
  readonly #warn: WarnFn;
  #mode: IrqMode = 'none';

  // INTx
  #intxTrigger: EventFd | null = null;
  #intxUnmaskFd: EventFd | null = null;
  #intxMasked = false;
  #intxLevel = false;
  #virqDisabled = false;

  // MSI / MSI-X: one slot per vector of the enabled mode
  #vectors: (EventFd | null)[] = [];

  #err: EventFd | null = null;
  #req: EventFd | null = null;

  constructor(config: ConfigSpace, warn: WarnFn) {
    this.#config = config;
    this.#warn = warn;
    this.#virqDisabled = config.intxDisabled;
  }

  /** The enabled mode. */
  get mode(): IrqMode {
    return this.#mode;
  }

  /** INTx line level as the device drives it. */
  get intxAsserted(): boolean {
    return this.#intxLevel;
  }

  /** INTx is masked (auto-masked after a delivery, or by the client). */
  get intxMasked(): boolean {
    return this.#intxMasked;
  }

  /** Vectors of an index: what GET_IRQ_INFO reports and SET_IRQS ranges are checked against. */
  count(index: number): number {
    const c = this.#config;
    switch (index) {
      case PCI_INTX_IRQ_INDEX:
        return c.interruptPin !== 0 ? 1 : 0;
      case PCI_MSI_IRQ_INDEX:
        return c.msi?.capable ?? 0;
      case PCI_MSIX_IRQ_INDEX:
        return c.msix?.tableSize ?? 0;
      case PCI_ERR_IRQ_INDEX:
        return c.findCapability(regs.PCI_CAP_ID_EXP) !== undefined ? 1 : 0;
      case PCI_REQ_IRQ_INDEX:
        return 1;
      default:
        return 0;
    }
  }

  /** GET_IRQ_INFO: the kernel's flags; ERR exists only on PCI Express functions (EINVAL otherwise, as the kernel). */
  info(index: number): IrqInfoResult {
    if (!Number.isInteger(index) || index < 0 || index >= PCI_NUM_IRQS) throw fail('EINVAL', `irq index ${index} out of range`);
    if (index === PCI_ERR_IRQ_INDEX && this.count(index) === 0) {
      throw fail('EINVAL', 'the ERR irq exists only on PCI Express functions');
    }
    const flags =
      index === PCI_INTX_IRQ_INDEX ? IRQ_INFO_EVENTFD | IRQ_INFO_MASKABLE | IRQ_INFO_AUTOMASKED : IRQ_INFO_EVENTFD | IRQ_INFO_NORESIZE;
    return { flags, count: this.count(index) };
  }

  // ------------------------------------------------------------ SET_IRQS

  /**
   * DEVICE_SET_IRQS (request already decoded by the protocol codec). Takes
   * ownership of every descriptor in `fds`: keeps the ones it binds, closes
   * the rest, on success and on failure alike.
   */
  setIrqs(req: SetIrqsRequest, fds: readonly number[]): void {
    const kept = new Set<number>();
    try {
      this.#setIrqs(req, fds, kept);
    } finally {
      for (const fd of fds) if (!kept.has(fd)) closeQuietly(fd);
    }
  }

  #setIrqs(req: SetIrqsRequest, fds: readonly number[], kept: Set<number>): void {
    const { index, start, count } = req;
    // vfio_set_irqs_validate_and_prepare
    if (index >= PCI_NUM_IRQS) throw fail('EINVAL', `SET_IRQS: irq index ${index} out of range`);
    const n = this.count(index);
    if (start >= n || start + count > n) {
      throw fail('EINVAL', `SET_IRQS: vectors ${start}+${count} outside the ${n} of index ${index}`);
    }
    // The eventfd of each vector of the range, -1 to unbind ("no descriptors" unbinds them all).
    const efds = req.data === 'eventfd' ? Array.from({ length: count }, (_, i) => fds[i] ?? -1) : [];
    // vfio_pci_set_irqs_ioctl: the action decides the handler, ENOTTY when there is none.
    switch (index) {
      case PCI_INTX_IRQ_INDEX:
        if (req.action === 'mask') return this.#intxMaskAction(req);
        if (req.action === 'unmask') return this.#intxUnmaskAction(req, efds, kept);
        return this.#intxTriggerAction(req, efds, kept);
      case PCI_MSI_IRQ_INDEX:
      case PCI_MSIX_IRQ_INDEX:
        if (req.action !== 'trigger')
          throw fail('ENOTTY', `SET_IRQS: ${req.action.toUpperCase()} is not supported for ${index === 1 ? 'MSI' : 'MSI-X'}`);
        return this.#msiTriggerAction(req, efds, kept);
      case PCI_ERR_IRQ_INDEX:
      case PCI_REQ_IRQ_INDEX:
        if (req.action !== 'trigger')
          throw fail('ENOTTY', `SET_IRQS: ${req.action.toUpperCase()} is not supported for ${index === 3 ? 'ERR' : 'REQ'}`);
        return this.#singleTriggerAction(index, req, efds, kept);
      default:
        throw fail('ENOTTY', `SET_IRQS: index ${index}`);
    }
  }

  /** Wraps a received descriptor after checking it is an eventfd (EINVAL otherwise, like eventfd_ctx_fdget). */
  #adopt(fd: number, kept: Set<number>): EventFd {
    if (!isEventFd(fd)) throw fail('EINVAL', `SET_IRQS: descriptor ${fd} is not an eventfd`);
    kept.add(fd);
    return new EventFd(fd);
  }

  #signal(e: EventFd | null, what: string): boolean {
    if (e === null) return false;
    try {
      e.signal();
      return true;
    } catch (err) {
      this.#warn(`signalling the ${what} eventfd failed`, err);
      return false;
    }
  }

  // ---- INTx (vfio_pci_set_intx_mask / _unmask / _trigger)

  #intxMaskAction(req: SetIrqsRequest): void {
    if (this.#mode !== 'intx' || req.start !== 0 || req.count !== 1)
      throw fail('EINVAL', 'SET_IRQS: INTx MASK needs INTx enabled, start 0, count 1');
    if (req.data === 'eventfd') throw fail('ENOTTY', 'SET_IRQS: INTx MASK with an eventfd is not supported');
    if (req.data === 'none' || req.bools![0]) this.#intxMask();
  }

  #intxUnmaskAction(req: SetIrqsRequest, efds: number[], kept: Set<number>): void {
    if (this.#mode !== 'intx' || req.start !== 0 || req.count !== 1)
      throw fail('EINVAL', 'SET_IRQS: INTx UNMASK needs INTx enabled, start 0, count 1');
    if (req.data === 'none' || (req.data === 'bool' && req.bools![0])) {
      this.#intxUnmask();
    } else if (req.data === 'eventfd') {
      const fd = efds[0]!;
      this.#intxUnmaskFd?.close();
      this.#intxUnmaskFd = null;
      if (fd >= 0) {
        const e = this.#adopt(fd, kept);
        e.unref().watch(this.#onUnmaskEventFd);
        this.#intxUnmaskFd = e;
      }
    }
  }

  readonly #onUnmaskEventFd = (): void => {
    if (this.#mode === 'intx') this.#intxUnmask();
  };

  #intxTriggerAction(req: SetIrqsRequest, efds: number[], kept: Set<number>): void {
    if (this.#mode === 'intx' && req.count === 0 && req.data === 'none') {
      this.#intxDisable();
      return;
    }
    if (!(this.#mode === 'intx' || this.#mode === 'none') || req.start !== 0 || req.count !== 1) {
      throw fail('EINVAL', `SET_IRQS: INTx TRIGGER needs INTx or no mode enabled (now ${this.#mode}), start 0, count 1`);
    }
    if (req.data === 'eventfd') {
      const fd = efds[0]!;
      const trigger = fd >= 0 ? this.#adopt(fd, kept) : null;
      if (this.#mode === 'intx') {
        this.#intxTrigger?.close();
        this.#intxTrigger = trigger;
      } else {
        this.#intxEnable(trigger);
      }
      return;
    }
    if (this.#mode !== 'intx') throw fail('EINVAL', 'SET_IRQS: INTx is not enabled');
    if (req.data === 'none' || req.bools![0]) this.#sendIntx();
  }

  #intxEnable(trigger: EventFd | null): void {
    this.#mode = 'intx';
    this.#intxTrigger = trigger;
    this.#intxMasked = this.#virqDisabled;
    // A line already asserted fires as soon as INTx is unmasked.
    if (this.#intxLevel) this.#intxDeliver();
  }

  #intxDisable(): void {
    this.#intxUnmaskFd?.close();
    this.#intxUnmaskFd = null;
    this.#intxTrigger?.close();
    this.#intxTrigger = null;
    this.#intxMasked = false;
    this.#mode = 'none';
  }

  /** vfio_send_intx_eventfd: signal unless INTx is disabled in config (loopback and unmask paths). */
  #sendIntx(): boolean {
    if (this.#mode !== 'intx' || this.#virqDisabled) return false;
    return this.#signal(this.#intxTrigger, 'INTx');
  }

  #intxMask(): void {
    if (this.#mode === 'intx') this.#intxMasked = true;
  }

  /** vfio_pci_intx_unmask: an asserted line delivers again (and stays masked). */
  #intxUnmask(): void {
    if (this.#mode !== 'intx' || !this.#intxMasked || this.#virqDisabled) return;
    if (this.#intxLevel) this.#sendIntx();
    else this.#intxMasked = false;
  }

  #intxDeliver(): IrqResult {
    if (this.#mode !== 'intx' || this.#intxMasked || this.#virqDisabled) return 'pending';
    this.#intxMasked = true;
    return this.#sendIntx() ? 'delivered' : 'dropped';
  }

  // ---- MSI / MSI-X (vfio_pci_set_msi_trigger)

  #msiTriggerAction(req: SetIrqsRequest, efds: number[], kept: Set<number>): void {
    const mode: IrqMode = req.index === PCI_MSIX_IRQ_INDEX ? 'msix' : 'msi';
    if (this.#mode === mode && req.count === 0 && req.data === 'none') {
      this.#msiDisable();
      return;
    }
    if (!(this.#mode === mode || this.#mode === 'none')) {
      throw fail('EINVAL', `SET_IRQS: ${mode === 'msix' ? 'MSI-X' : 'MSI'} while ${this.#mode} is enabled`);
    }
    if (req.data === 'eventfd') {
      if (this.#mode === mode) {
        this.#setBlock(req.start, efds, kept);
        return;
      }
      this.#msiEnable(mode, req.start + req.count);
      try {
        this.#setBlock(req.start, efds, kept);
      } catch (err) {
        this.#msiDisable();
        throw err;
      }
      return;
    }
    if (this.#mode !== mode) throw fail('EINVAL', `SET_IRQS: ${mode === 'msix' ? 'MSI-X' : 'MSI'} is not enabled`);
    for (let i = 0; i < req.count; i++) {
      if (req.data === 'none' || req.bools![i]) this.#signal(this.#vectors[req.start + i] ?? null, `vector ${req.start + i}`);
    }
  }

  #msiEnable(mode: 'msi' | 'msix', nvec: number): void {
    if (mode === 'msi') {
      this.#config.setMsiEnabled(nvec);
      this.#vectors = new Array<EventFd | null>(this.count(PCI_MSI_IRQ_INDEX)).fill(null);
    } else {
      this.#config.setMsixEnabled(true);
      this.#vectors = new Array<EventFd | null>(this.count(PCI_MSIX_IRQ_INDEX)).fill(null);
    }
    this.#mode = mode;
  }

  #msiDisable(): void {
    const msix = this.#mode === 'msix';
    const table = this.#config.msixTable;
    for (let v = 0; v < this.#vectors.length; v++) {
      if (this.#vectors[v]) this.#setVector(v, -1, new Set());
    }
    this.#vectors = [];
    this.#mode = 'none';
    if (msix) {
      this.#config.setMsixEnabled(false);
      if (table) {
        for (let v = 0; v < table.size; v++) {
          this.#setEntryMask(v, true);
          table.clearPending(v);
        }
      }
    } else {
      this.#config.disableMsi();
      const st = this.#config.msi;
      if (st?.perVectorMask) for (let v = 0; v < st.capable; v++) this.#config.setMsiPending(v, false);
    }
  }

  /** vfio_msi_set_block: bind or unbind vectors start.., undoing this call's bindings on failure. */
  #setBlock(start: number, efds: number[], kept: Set<number>): void {
    let j = start;
    try {
      for (let i = 0; i < efds.length; i++, j++) this.#setVector(j, efds[i]!, kept);
    } catch (err) {
      for (let v = start; v < j; v++) this.#setVector(v, -1, kept);
      throw err;
    }
  }

  #setVector(v: number, fd: number, kept: Set<number>): void {
    const old = this.#vectors[v];
    if (old) {
      if (this.#mode === 'msix') this.#setEntryMask(v, true);
      old.close();
      this.#vectors[v] = null;
    }
    if (fd < 0) return;
    this.#vectors[v] = this.#adopt(fd, kept);
    // The host MSI layer unmasks a vector when its interrupt is requested; a pending one fires now.
    if (this.#mode === 'msix') this.#setEntryMask(v, false);
  }

  #setEntryMask(v: number, masked: boolean): void {
    const table = this.#config.msixTable;
    if (!table) return;
    const at = v * regs.PCI_MSIX_ENTRY_SIZE + regs.PCI_MSIX_ENTRY_VECTOR_CTRL;
    const ctrl = table.readTable(at, 4);
    const next = masked ? ctrl | 1 : ctrl & ~1;
    if (next !== ctrl) table.writeTable(at, 4, next >>> 0);
  }

  // ---- ERR / REQ (vfio_pci_set_ctx_trigger_single)

  #singleTriggerAction(index: number, req: SetIrqsRequest, efds: number[], kept: Set<number>): void {
    const which = index === PCI_ERR_IRQ_INDEX ? 'ERR' : 'REQ';
    let ctx = index === PCI_ERR_IRQ_INDEX ? this.#err : this.#req;
    const set = (e: EventFd | null): void => {
      if (index === PCI_ERR_IRQ_INDEX) this.#err = e;
      else this.#req = e;
    };
    if (req.data === 'none') {
      if (ctx === null) throw fail('EINVAL', `SET_IRQS: no ${which} eventfd is bound`);
      if (req.count) this.#signal(ctx, which);
      else {
        ctx.close();
        set(null);
      }
      return;
    }
    if (req.count === 0) throw fail('EINVAL', `SET_IRQS: ${which} needs count 1`);
    if (req.data === 'bool') {
      if (req.bools![0] && ctx) this.#signal(ctx, which);
      return;
    }
    const fd = efds[0]!;
    if (fd < 0) {
      ctx?.close();
      set(null);
      return;
    }
    const e = this.#adopt(fd, kept);
    ctx?.close();
    ctx = e;
    set(ctx);
  }

  // ------------------------------------------------------------ device side

  /** Drives the INTx line (level-triggered). Returns what happened to an assertion. */
  setIntx(level: boolean): IrqResult {
    if (this.#config.interruptPin === 0) return 'dropped';
    if (level === this.#intxLevel) return level ? 'pending' : 'dropped';
    this.#intxLevel = level;
    this.#config.setInterruptStatus(level);
    return level ? this.#intxDeliver() : 'dropped';
  }

  /** Raises MSI vector `v`. */
  msi(v: number): IrqResult {
    if (this.#mode !== 'msi') return 'dropped';
    const st = this.#config.msi;
    if (!st || !Number.isInteger(v) || v < 0 || v >= st.count) return 'dropped';
    if (st.perVectorMask && ((st.mask >>> v) & 1) === 1) {
      this.#config.setMsiPending(v, true);
      return 'pending';
    }
    return this.#signal(this.#vectors[v] ?? null, `MSI vector ${v}`) ? 'delivered' : 'dropped';
  }

  /** Raises MSI-X vector `v`. */
  msix(v: number): IrqResult {
    const table = this.#config.msixTable;
    if (this.#mode !== 'msix' || !table || !Number.isInteger(v) || v < 0 || v >= table.size) return 'dropped';
    if (table.masked(v)) {
      table.setPending(v);
      return 'pending';
    }
    return this.#signal(this.#vectors[v] ?? null, `MSI-X vector ${v}`) ? 'delivered' : 'dropped';
  }

  /** Raises vector `v` of whichever of MSI-X and MSI is enabled (INTx, being a level, is setIntx's). */
  signal(v: number): IrqResult {
    if (this.#mode === 'msix') return this.msix(v);
    if (this.#mode === 'msi') return this.msi(v);
    return 'dropped';
  }

  /** Asks the client to release the device (REQ). False when no REQ eventfd is bound. */
  requestRelease(): boolean {
    return this.#signal(this.#req, 'REQ');
  }

  /** Reports an error to the client (ERR). False when no ERR eventfd is bound. */
  reportError(): boolean {
    return this.#signal(this.#err, 'ERR');
  }

  // ------------------------------------------------------------ engine hooks

  /** INTx Disable changed in the command register (the kernel's virq_disabled). */
  commandChanged(command: number): void {
    const disabled = (command & regs.PCI_COMMAND_INTX_DISABLE) !== 0;
    if (disabled && !this.#virqDisabled) {
      this.#virqDisabled = true;
      this.#intxMask();
    } else if (!disabled && this.#virqDisabled) {
      this.#virqDisabled = false;
      this.#intxUnmask();
      // A line asserted while INTx was disabled and never delivered fires now.
      if (this.#mode === 'intx' && this.#intxLevel && !this.#intxMasked) this.#intxDeliver();
    }
  }

  /** The client changed an MSI per-vector mask bit. */
  msiMaskChanged(v: number, masked: boolean): void {
    if (masked || this.#mode !== 'msi') return;
    const st = this.#config.msi;
    if (!st || ((st.pending >>> v) & 1) === 0) return;
    this.#config.setMsiPending(v, false);
    if (v < st.count) this.#signal(this.#vectors[v] ?? null, `MSI vector ${v}`);
  }

  /** An MSI-X vector's effective mask changed (table entry or function mask). */
  msixMaskChanged(v: number, masked: boolean): void {
    const table = this.#config.msixTable;
    if (masked || this.#mode !== 'msix' || !table || !table.pending(v)) return;
    table.clearPending(v);
    this.#signal(this.#vectors[v] ?? null, `MSI-X vector ${v}`);
  }

  // ------------------------------------------------------------ teardown

  /** Function reset: INTx/MSI/MSI-X disabled (their eventfds closed), the line deasserted. ERR/REQ stay. */
  resetModes(): void {
    if (this.#mode === 'intx') this.#intxDisable();
    else if (this.#mode === 'msi' || this.#mode === 'msix') this.#msiDisable();
    this.#mode = 'none';
    if (this.#intxLevel) {
      this.#intxLevel = false;
      try {
        this.#config.setInterruptStatus(false);
      } catch {
        // a backing without device-side updates: nothing to clear
      }
    }
    this.#virqDisabled = this.#config.intxDisabled;
  }

  /** The client left: every eventfd closed, everything disabled. */
  releaseAll(): void {
    this.resetModes();
    this.#err?.close();
    this.#err = null;
    this.#req?.close();
    this.#req = null;
  }

  /** Descriptors held (for tests and tracing). */
  get boundEventFds(): number {
    let n = 0;
    for (const e of [this.#intxTrigger, this.#intxUnmaskFd, this.#err, this.#req, ...this.#vectors]) if (e) n++;
    return n;
  }

  /** Index of the enabled mode, -1 for none. */
  get modeIndex(): number {
    return this.#mode === 'none' ? -1 : MODE_INDEX[this.#mode];
  }
}
