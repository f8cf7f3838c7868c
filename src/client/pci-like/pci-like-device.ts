// The PCI-like driver model: a Device programmed the way bare-metal code
// programs a PCI function.
//
// VFIO was first proposed as a virtual PCI device whose config registers are
// read and written like PCI's and *trigger* its actions; the VFIO that Linux
// merged has an ioctl for each action instead (SET_IRQS, RESET, ...). This
// opt-in view puts the first model back on top of the second, over an opened
// Device of either backend: config accesses of 1, 2 and 4 bytes; writes to
// the MSI and MSI-X capabilities, the MSI-X table and PBA in their BAR, the
// command register's INTx Disable, PMCSR and the FLR bits perform what they
// do on hardware, through the same Device API a driver would call (so the
// same backend policy applies: the view can do nothing the Device cannot).
// Every other config byte goes to the device's config space as written, and
// BAR accesses go to the Device's regions (mapped wherever they are).
//
//   const pci = PciLikeDevice.attach(device);
//   pci.config.write16(msi + 2, pci.config.read16(msi + 2) | 1); // MSI on: vector 0 is live
//   pci.on('interrupt', ({ kind, vector }) => ...);
//
// One concern per file: registers.ts (the dispatch building blocks), bars.ts
// (virtual BAR registers, BAR access), intx.ts (command register, INTx),
// msi.ts, msix.ts (vectors, masking, PBA), power.ts (PMCSR, D3hot), flr.ts
// (PCIe and AF function level reset). The view owns the Device's interrupt
// mode while attached: it refuses to attach when a mode is already enabled,
// and a driver using it should not call enableInterrupts() behind it.

import { EventEmitter } from 'node:events';
import { nextInterrupt } from '../wait-interrupt.js';
import { fail } from '../../errors.js';
import { walkCapabilities } from '../../pci/cap-walk.js';
import {
  PCI_CAP_ID_AF,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CAP_LIST_ID,
  PCI_CAP_LIST_NEXT,
  PCI_CAPABILITY_LIST,
  PCI_CFG_SPACE_SIZE,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
} from '../../pci/regs.js';
import type { Device, InterruptEvent, InterruptKind } from '../device.js';
import { BarRegisters, PciLikeBar, RomRegister, type BarGate } from './bars.js';
import { afControl, pcieDeviceControl, type FlrControl } from './flr.js';
import { CommandRegister, IntxState } from './intx.js';
import { MsiCapability } from './msi.js';
import { MsixCapability } from './msix.js';
import { D3HOT, PmCapability } from './power.js';
import { checkConfigAccess, checkValue, deviceRead, deviceWrite, type ConfigHandler, type ViewContext } from './registers.js';
import type { ResetSource } from '../../pci/region.js';

/** An interrupt as the driver receives it: which vector of which mode, and the message it carries (MSI, MSI-X). */
export interface PciLikeInterrupt {
  kind: InterruptKind;
  vector: number;
  /** The message address the driver programmed (MSI, MSI-X). */
  address?: bigint;
  /** The message data the device sends (MSI: the programmed data with the vector in its low MME bits). */
  data?: number;
}

/** The events a {@link PciLikeDevice} emits. */
export interface PciLikeEvents {
  interrupt: [PciLikeInterrupt];
  /** The function was reset by a config write (FLR) or by a D3hot -> D0 soft reset. */
  reset: [{ source: ResetSource }];
  /** The function changed power state (PMCSR). */
  powerState: [{ from: number; to: number }];
  /** The view was closed, or its Device went away. */
  close: [];
}

/** Config space as a bare-metal driver accesses it. */
export class PciLikeConfig {
  readonly size: number;
  readonly #read: (offset: number, size: number) => number;
  readonly #write: (offset: number, size: number, value: number) => void;

  constructor(size: number, read: (offset: number, size: number) => number, write: (offset: number, size: number, value: number) => void) {
    this.size = size;
    this.#read = read;
    this.#write = write;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    return this.#read(offset, size);
  }
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.#write(offset, size, value);
  }
  read8(offset: number): number {
    return this.#read(offset, 1);
  }
  read16(offset: number): number {
    return this.#read(offset, 2);
  }
  read32(offset: number): number {
    return this.#read(offset, 4);
  }
  write8(offset: number, value: number): void {
    this.#write(offset, 1, value);
  }
  write16(offset: number, value: number): void {
    this.#write(offset, 2, value);
  }
  write32(offset: number, value: number): void {
    this.#write(offset, 4, value);
  }
}

/** The PCI-like view of a {@link Device}: config writes trigger the matching Driver API operations, as on hardware (docs/pci-like.md). */
export class PciLikeDevice extends EventEmitter<PciLikeEvents> {
  readonly device: Device;
  readonly config: PciLikeConfig;
  readonly #owner: (ConfigHandler | undefined)[];
  readonly #bars: BarRegisters;
  readonly #intx: IntxState;
  readonly #msi: MsiCapability | undefined;
  readonly #msix: MsixCapability | undefined;
  readonly #pm: PmCapability | undefined;
  readonly #devctl: FlrControl | undefined;
  readonly #af: FlrControl | undefined;
  readonly #barViews = new Map<number, PciLikeBar>();
  readonly #ctx: ViewContext;
  readonly #gate: BarGate;
  #mode: { kind: InterruptKind; count: number } | null = null;
  #closed = false;
  /** Inside #afterReset: a power state read back then is the reset's, not a new soft reset. */
  #resetting = false;
  /** Why INTx could not be enabled when the view attached, if it could not. */
  readonly intxError: Error | undefined;

  /** Attaches the view to `device` (which must have no interrupt mode enabled). */
  static attach(device: Device): PciLikeDevice {
    return new PciLikeDevice(device);
  }

  constructor(device: Device) {
    super();
    if (device.closed) throw fail('ENODEV', 'the device is closed');
    if (!device.info.pci) throw fail('ENOTSUP', `${device.backend.name} is not a PCI device`);
    if (device.interruptMode !== null) {
      throw fail(
        'EBUSY',
        `${device.backend.name} has ${device.interruptMode} enabled: the PCI-like view owns the interrupt mode (disable it first)`,
      );
    }
    this.device = device;
    const self = this;
    this.#ctx = {
      device,
      applyInterruptMode: () => this.#applyInterruptMode(),
      deliver: (kind, vector, later) => this.#deliver(kind, vector, later),
      get activeMode() {
        return self.#mode;
      },
      functionReset: (source) => this.#functionReset(source),
      powerStateChanged: (from, to, softReset) => this.#powerStateChanged(from, to, softReset),
    };
    this.#gate = {
      check: (bar) => this.#checkBar(bar),
      afterWrite: () => {
        if (this.#intx.inService) this.#intx.eoi();
      },
    };
    const cfgSize = device.config.size;
    this.config = new PciLikeConfig(
      cfgSize,
      (o, s) => this.#configRead(o, s),
      (o, s, v) => this.#configWrite(o, s, v),
    );
    this.#owner = new Array<ConfigHandler | undefined>(cfgSize);

    // The standard capabilities, as the device presents them.
    const std = new Uint8Array(Math.min(cfgSize, PCI_CFG_SPACE_SIZE));
    device.config.read(0, std);
    const caps = walkCapabilities(std).filter((c) => !c.extended);
    const find = (id: number): number | undefined => caps.find((c) => c.id === id)?.offset;

    this.#intx = new IntxState(this.#ctx);
    this.#bars = new BarRegisters(device);
    const handlers: ConfigHandler[] = [new CommandRegister(this.#ctx, this.#intx), this.#bars, new RomRegister(device)];
    const msi = find(PCI_CAP_ID_MSI);
    const msix = find(PCI_CAP_ID_MSIX);
    const pm = find(PCI_CAP_ID_PM);
    const pcie = find(PCI_CAP_ID_EXP);
    const af = find(PCI_CAP_ID_AF);
    this.#msi = msi === undefined ? undefined : new MsiCapability(this.#ctx, msi);
    this.#msix = msix === undefined ? undefined : new MsixCapability(this.#ctx, msix);
    this.#pm = pm === undefined ? undefined : new PmCapability(this.#ctx, pm);
    this.#devctl = pcie === undefined ? undefined : pcieDeviceControl(this.#ctx, pcie);
    this.#af = af === undefined ? undefined : afControl(this.#ctx, af);
    for (const h of [this.#msi, this.#msix, this.#pm, this.#devctl, this.#af]) if (h !== undefined) handlers.push(h);
    for (const h of handlers) for (let o = h.start; o < h.end && o < cfgSize; o++) this.#owner[o] = h;

    device.on('interrupt', this.#onInterrupt);
    device.on('close', this.#onDeviceClose);
    // INTx is live at power-on when the command register allows it.
    try {
      this.#applyInterruptMode();
    } catch (err) {
      this.intxError = err as Error;
      this.#intx.disabled = true;
    }
  }

  // ------------------------------------------------------------ state

  get closed(): boolean {
    return this.#closed;
  }

  /** The interrupt mode the view has enabled on the Device (INTx, MSI, MSI-X), if any. */
  get interruptMode(): InterruptKind | null {
    return this.#mode?.kind ?? null;
  }

  /** The function's power state (0 = D0 ... 3 = D3hot); 0 when it has no PM capability. */
  get powerState(): number {
    return this.#pm?.state ?? 0;
  }

  /** What the view found: capability offsets, FLR support, MSI/MSI-X geometry. */
  get capabilities(): {
    msi?: { offset: number; vectors: number; perVectorMask: boolean; address64: boolean };
    msix?: { offset: number; tableSize: number; tableBar: number; tableOffset: number; pbaBar: number; pbaOffset: number };
    pm?: number;
    pcieFlr: boolean;
    afFlr: boolean;
    intxPin: number;
  } {
    const m = this.#msi;
    const x = this.#msix;
    return {
      ...(m ? { msi: { offset: m.cap, vectors: m.backendVectors, perVectorMask: m.hasMask, address64: m.is64 } } : {}),
      ...(x
        ? {
            msix: {
              offset: x.cap,
              tableSize: x.tableSize,
              tableBar: x.tableBar,
              tableOffset: x.tableOffset,
              pbaBar: x.pbaBar,
              pbaOffset: x.pbaOffset,
            },
          }
        : {}),
      ...(this.#pm ? { pm: this.#pm.cap } : {}),
      pcieFlr: this.#devctl?.flrCapable ?? false,
      afFlr: this.#af?.flrCapable ?? false,
      intxPin: this.#intx.pin,
    };
  }

  /**
   * Offset of the first standard capability `id`, walking the list through
   * the view's config space as a driver does; undefined when absent.
   */
  findCapability(id: number): number | undefined {
    if ((this.config.read16(PCI_STATUS) & PCI_STATUS_CAP_LIST) === 0) return undefined;
    let at = this.config.read8(PCI_CAPABILITY_LIST) & ~3;
    for (let i = 0; at >= 0x40 && i < 48; i++) {
      if (this.config.read8(at + PCI_CAP_LIST_ID) === id) return at;
      at = this.config.read8(at + PCI_CAP_LIST_NEXT) & ~3;
    }
    return undefined;
  }

  /** The address the driver programmed in BAR `n` (flag bits removed; both halves of a 64-bit BAR). */
  barAddress(n: number): bigint {
    this.#live();
    return this.#bars.address(n);
  }

  // ------------------------------------------------------------ access

  /** BAR `n` (0-5) through the view: MSI-X table and PBA emulated, refused in D3hot. */
  bar(n: number): PciLikeBar {
    this.#live();
    if (!Number.isInteger(n) || n < 0 || n > 5) throw fail('EINVAL', `BAR index must be 0-5, got ${n}`);
    let b = this.#barViews.get(n);
    if (!b) {
      b = new PciLikeBar(n, this.device.bar(n), this.#gate, this.#msix?.intercepts(n) ?? []);
      this.#barViews.set(n, b);
    }
    return b;
  }

  #configRead(offset: number, size: number): number {
    this.#live();
    checkConfigAccess(offset, size, this.config.size);
    const owner = this.#owner;
    let v = 0;
    for (let pos = offset, end = offset + size; pos < end; ) {
      const h = owner[pos];
      let e = pos + 1;
      while (e < end && owner[e] === h) e++;
      const part = h ? h.read(pos, e - pos) : deviceRead(this.device.config, pos, e - pos);
      v += part * 2 ** (8 * (pos - offset));
      pos = e;
    }
    return v >>> 0;
  }

  #configWrite(offset: number, size: number, value: number): void {
    this.#live();
    checkConfigAccess(offset, size, this.config.size);
    const val = checkValue(value, size);
    const owner = this.#owner;
    for (let pos = offset, end = offset + size; pos < end; ) {
      const h = owner[pos];
      let e = pos + 1;
      while (e < end && owner[e] === h) e++;
      const n = e - pos;
      const part = Math.floor(val / 2 ** (8 * (pos - offset))) % 2 ** (8 * n);
      if (h) h.write(pos, n, part);
      else deviceWrite(this.device.config, pos, n, part);
      pos = e;
    }
  }

  // ------------------------------------------------------------ interrupts

  /** Resolves with the next interrupt of `vector` (any mode), or rejects after `timeoutMs` (ETIMEDOUT). */
  waitInterrupt(vector = 0, timeoutMs = 5000): Promise<PciLikeInterrupt> {
    this.#live();
    if (!Number.isInteger(vector) || vector < 0)
      return Promise.reject(fail('EINVAL', `vector must be a non-negative integer, got ${vector}`));
    return nextInterrupt<PciLikeInterrupt>(this, vector, timeoutMs, 'the PCI-like view');
  }

  /**
   * End of interrupt for INTx: unmasks it (VFIO masked it when it fired). A
   * BAR write through the view does the same, so a driver that acknowledges
   * the interrupt in the device's registers never needs to call this.
   */
  eoi(): void {
    this.#live();
    this.#intx.eoi();
  }

  /** An INTx was delivered and has not been unmasked yet. */
  get intxInService(): boolean {
    return this.#intx.inService;
  }

  readonly #onInterrupt = (ev: InterruptEvent): void => {
    const mode = this.#mode;
    if (this.#closed || !mode || ev.kind !== mode.kind) return;
    if (ev.kind === 'msi' && !this.#msi?.accept(ev.vector)) return;
    if (ev.kind === 'msix' && !this.#msix?.accept(ev.vector)) return;
    if (ev.kind === 'intx') this.#intx.signalled();
    this.#deliver(ev.kind, ev.vector, false);
  };

  #deliver(kind: InterruptKind, vector: number, later: boolean): void {
    const msg = kind === 'msi' ? this.#msi?.message(vector) : kind === 'msix' ? this.#msix?.message(vector) : undefined;
    const ev: PciLikeInterrupt = msg ? { kind, vector, address: msg.address, data: msg.data } : { kind, vector };
    if (!later) this.emit('interrupt', ev);
    else
      queueMicrotask(() => {
        if (!this.#closed) this.emit('interrupt', ev);
      });
  }

  /** MSI-X over MSI over INTx, from the emulated registers; applied through the Device's interrupt API. */
  #applyInterruptMode(): void {
    const msi = this.#msi?.enabled ?? false;
    const msix = this.#msix?.enabled ?? false;
    if (msi && msix) throw fail('EBUSY', 'MSI and MSI-X cannot both be enabled: disable one first');
    let want: { kind: InterruptKind; count: number } | null = null;
    if (msix) want = { kind: 'msix', count: this.#msix!.vectorCount };
    else if (msi) want = { kind: 'msi', count: this.#msi!.vectorCount };
    else if (this.#intx.wanted) want = { kind: 'intx', count: 1 };
    const cur = this.#mode;
    if (want && cur && want.kind === cur.kind && want.count === cur.count) return;
    if (!want && !cur) return;
    this.#intx.reset();
    if (cur || this.device.interruptMode) {
      this.#mode = null;
      this.device.disableInterrupts();
    }
    if (!want) return;
    if (want.count < 1) throw fail('ENOTSUP', `${want.kind}: the backend offers no vectors with eventfds`);
    this.device.enableInterrupts(want.kind, want.count);
    this.#mode = want;
  }

  // ------------------------------------------------------------ reset and power

  #functionReset(source: ResetSource): void {
    this.device.reset(); // the Device disables its interrupt mode with it
    this.#afterReset(source);
  }

  /** The function's registers are back to their reset values: so is the emulation (BARs and command excepted). */
  #afterReset(source: ResetSource): void {
    this.#mode = null;
    if (this.device.interruptMode) {
      try {
        this.device.disableInterrupts();
      } catch {
        // the backend's reset may already have disabled them
      }
    }
    this.#msi?.reset();
    this.#msix?.reset();
    this.#intx.reset();
    this.#intx.disabled = (this.device.config.read16(PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) !== 0;
    this.#resetting = true;
    try {
      this.#pm?.refresh();
    } finally {
      this.#resetting = false;
    }
    try {
      this.#applyInterruptMode();
    } catch {
      // INTx could not be enabled again: the driver sees no mode (interruptMode null)
    }
    this.emit('reset', { source });
  }

  #powerStateChanged(from: number, to: number, softReset: boolean): void {
    this.emit('powerState', { from, to });
    if (softReset && !this.#resetting) this.#afterReset('pm-soft-reset');
  }

  #checkBar(bar: number): void {
    this.#live();
    if (this.#pm && this.#pm.state === D3HOT) {
      throw fail('EIO', `BAR${bar}: the function is in D3hot; write D0 to PMCSR before accessing its BARs`);
    }
  }

  // ------------------------------------------------------------ close

  /** Detaches: disables the interrupt mode the view enabled. The Device stays open. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.device.off('interrupt', this.#onInterrupt);
    this.device.off('close', this.#onDeviceClose);
    if (this.#mode && !this.device.closed) {
      this.#mode = null;
      try {
        this.device.disableInterrupts();
      } catch {
        // the backend may be gone
      }
    }
    this.emit('close');
  }

  readonly #onDeviceClose = (): void => {
    if (this.#closed) return;
    this.#closed = true;
    this.#mode = null;
    this.device.off('interrupt', this.#onInterrupt);
    this.device.off('close', this.#onDeviceClose);
    this.emit('close');
  };

  #live(): void {
    if (this.#closed) throw fail('ENODEV', 'the PCI-like view is closed');
  }
}
