// The Driver API: an opened VFIO device, whatever carries it.
//
// A Device is built on a DeviceBackend (the kernel's /dev/vfio or a vfio-user
// socket) and gives a driver what bare metal gives it, the VFIO way:
//  - config space and BARs as Regions: synchronous 8/16/32/64-bit accesses,
//    through mapped memory wherever the region allows it;
//  - DMA buffers mapped at IOVAs (DmaAllocator);
//  - interrupts (INTx, MSI, MSI-X) bound to eventfds the Device owns, reported
//    as 'interrupt' events, or waited for synchronously by polling drivers;
//  - the device's requests: 'unplug' when the device is going away - its
//    owner asks for it back (VFIO's REQ, signalled again and again until the
//    device is released) or a monitor saw it removed - once per Device, with
//    a deadline after which the Device closes itself; 'deviceError' on an AER
//    error (ERR);
//  - reset and close.
// INTx is level-triggered: the backend masks it when it fires and the driver
// calls unmaskIntx() once it has quietened the device.

import { EventEmitter } from 'node:events';
import { nextInterrupt } from './wait-interrupt.js';
import { fail } from '../errors.js';
import { EventFd } from '../sys/eventfd.js';
import type { DeviceBackend } from './backend.js';
import { DmaAllocator, type DmaAllocOptions, type DmaBuffer } from './dma.js';
import { decodeRefusalReason } from './decode-reason.js';
import { Region } from './region.js';
import type { DeviceInfo, IrqInfo, RegionInfo } from '../uapi/types.js';
import { pciIrq, pciRegion } from '../uapi/vfio.js';

/** The PCI interrupt kinds a device may offer: INTx, MSI, MSI-X. */
export type InterruptKind = 'intx' | 'msi' | 'msix';

export const KIND_INDEX: Record<InterruptKind, number> = { intx: pciIrq.INTX, msi: pciIrq.MSI, msix: pciIrq.MSIX };

/** One interrupt delivery: `count` signals of `vector` of `kind` since the last. */
export interface InterruptEvent {
  kind: InterruptKind;
  vector: number;
  count: number;
}

/** How a {@link Device} is opened. */
export interface DeviceOptions {
  /** Map mappable regions for direct access (default true). */
  map?: boolean;
  /**
   * After an unplug, how long the driver has to finish and close before the
   * Device closes itself (default 10 000 ms; 0: never).
   */
  unplugGraceMs?: number;
}

/** Why a device is going away: its owner asked for it back (REQ), or it was removed or unbound. */
export type UnplugReason = 'request' | 'removed';

/** Why the device is going away, and until when the driver may use it. */
export interface UnplugEvent {
  reason: UnplugReason;
  /** Date.now() after which the Device closes itself (Infinity: never). */
  deadline: number;
}

/** The events a {@link Device} emits. */
export interface DeviceEvents {
  interrupt: [InterruptEvent];
  /** The device's owner asks for it back (REQ): finish, then close(). */
  unplug: [UnplugEvent];
  /** A device error was reported (ERR / AER). */
  deviceError: [];
  /** A suspended device asks to be woken (suspend({ wakeup: true })). */
  wakeup: [];
  /** The backend went away or the device was closed. */
  close: [Error | undefined];
}

/** An opened PCI device, the Driver API: config space, BARs as {@link Region}s, DMA buffers, interrupts, reset and unplug, the same over either backend (`connectVfioUser`, `openKernelDevice`). */
export class Device extends EventEmitter<DeviceEvents> {
  readonly backend: DeviceBackend;
  readonly info: DeviceInfo;
  readonly dma: DmaAllocator;
  readonly #regions = new Map<number, Region>();
  readonly #options: DeviceOptions;
  /** Enabled interrupt mode (INTx, MSI and MSI-X are exclusive) and its eventfds. */
  #irqKind: InterruptKind | null = null;
  #irqFds: EventFd[] = [];
  #notifyFds: EventFd[] = [];
  #closed = false;
  #unplug: UnplugEvent | null = null;
  #suspended = false;
  #wakeupFd: EventFd | null = null;
  /** Regions unmapped by suspend(), mapped again by resume(). */
  #remap: Region[] = [];
  #unplugTimer: NodeJS.Timeout | undefined;

  constructor(backend: DeviceBackend, options: DeviceOptions = {}) {
    super();
    this.backend = backend;
    this.#options = options;
    this.info = backend.deviceInfo();
    this.dma = new DmaAllocator(backend);
    backend.setEvents({ onClose: (err) => this.#gone(err) });
    if (this.info.pci) {
      this.#bindNotification(pciIrq.REQ, () => this.signalUnplug('request'));
      this.#bindNotification(pciIrq.ERR, () => this.emit('deviceError'));
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Region `index` (0-5 BARs, 6 ROM, 7 config, 8 VGA for PCI devices). */
  region(index: number): Region {
    this.#live();
    let r = this.#regions.get(index);
    if (!r) {
      const info = this.regionInfo(index);
      const explain = this.info.pci && index <= pciRegion.ROM ? (i: number) => decodeRefusalReason(this.config, i) : undefined;
      r = new Region(this.backend, info, { map: this.#options.map ?? true, explain });
      this.#regions.set(index, r);
    }
    return r;
  }

  /** PCI config space. */
  get config(): Region {
    return this.region(pciRegion.CONFIG);
  }

  /** BAR `n` (0-5). */
  bar(n: number): Region {
    if (!Number.isInteger(n) || n < 0 || n > 5) throw fail('EINVAL', `BAR index must be 0-5, got ${n}`);
    const r = this.region(n);
    if (r.size === 0) throw fail('EINVAL', `BAR${n} is not implemented by this device`);
    return r;
  }

  regionInfo(index: number): RegionInfo {
    this.#live();
    if (!Number.isInteger(index) || index < 0 || index >= this.info.numRegions) {
      throw fail('EINVAL', `region index ${index} out of range (device has ${this.info.numRegions})`);
    }
    return this.backend.regionInfo(index);
  }

  irqInfo(index: number): IrqInfo {
    this.#live();
    if (!Number.isInteger(index) || index < 0 || index >= this.info.numIrqs) {
      throw fail('EINVAL', `IRQ index ${index} out of range (device has ${this.info.numIrqs})`);
    }
    return this.backend.irqInfo(index);
  }

  /** Allocates a DMA buffer mapped for the device. */
  allocDma(size: number, options?: DmaAllocOptions): DmaBuffer {
    this.#live();
    return this.dma.alloc(size, options);
  }

  /** The pending unplug, once one was signalled. */
  get unplugging(): UnplugEvent | null {
    return this.#unplug;
  }

  /**
   * The device is going away: emits 'unplug' once (REQ is signalled
   * repeatedly; a monitor may report the removal too) and starts the grace
   * period after which the Device closes itself. Backends and monitors call
   * this; drivers listen to 'unplug', finish, and close().
   */
  signalUnplug(reason: UnplugReason): void {
    if (this.#closed || this.#unplug) return;
    const grace = this.#options.unplugGraceMs ?? 10_000;
    this.#unplug = { reason, deadline: grace > 0 ? Date.now() + grace : Infinity };
    if (grace > 0) {
      this.#unplugTimer = setTimeout(() => {
        if (!this.#closed) this.close();
      }, grace).unref();
    }
    this.emit('unplug', this.#unplug);
  }

  /** The interrupt mode now enabled, if any. */
  get interruptMode(): InterruptKind | null {
    return this.#irqKind;
  }

  /**
   * Enables `count` vectors of INTx, MSI or MSI-X (exclusive modes: any other
   * enabled mode is disabled first), each bound to an eventfd.
   */
  enableInterrupts(kind: InterruptKind, count = 1): void {
    this.#live();
    const index = KIND_INDEX[kind];
    if (index === undefined) throw fail('EINVAL', `unknown interrupt kind ${String(kind)}`);
    const info = this.irqInfo(index);
    if (!Number.isInteger(count) || count < 1 || count > info.count) {
      throw fail('EINVAL', `${kind}: ${count} vectors requested, the device has ${info.count}`);
    }
    if (!info.eventfd) throw fail('ENOTSUP', `${kind} cannot signal eventfds on this device`);
    if (this.#irqKind) this.disableInterrupts();
    const fds: EventFd[] = [];
    try {
      for (let v = 0; v < count; v++) fds.push(EventFd.create());
      this.backend.setIrqs(index, 'trigger', 0, { kind: 'eventfd', fds: fds.map((f) => f.fd) });
    } catch (err) {
      for (const f of fds) f.close();
      throw err;
    }
    this.#irqKind = kind;
    this.#irqFds = fds;
    fds.forEach((f, vector) => {
      f.watch((n) => this.emit('interrupt', { kind, vector, count: n })).unref();
    });
  }

  /** Disables the enabled interrupt mode and closes its eventfds. */
  disableInterrupts(): void {
    if (!this.#irqKind) return;
    const index = KIND_INDEX[this.#irqKind];
    this.#irqKind = null;
    const fds = this.#irqFds;
    this.#irqFds = [];
    try {
      if (!this.#closed) this.backend.setIrqs(index, 'trigger', 0, { kind: 'none', count: 0 });
    } finally {
      for (const f of fds) f.close();
    }
  }

  /** Unmasks INTx after the driver has handled it (it is auto-masked when it fires). */
  unmaskIntx(): void {
    this.#live();
    this.backend.setIrqs(pciIrq.INTX, 'unmask', 0, { kind: 'none', count: 1 });
  }

  /** Masks or unmasks one vector of the enabled mode (where the device allows it). */
  setVectorMasked(vector: number, masked: boolean): void {
    const kind = this.#irqKind;
    if (!kind) throw fail('EINVAL', 'no interrupt mode is enabled');
    this.#vector(vector);
    this.backend.setIrqs(KIND_INDEX[kind], masked ? 'mask' : 'unmask', vector, { kind: 'none', count: 1 });
  }

  /**
   * Synchronously takes the signals pending on `vector`, waiting up to
   * `timeoutMs` (0: don't wait; -1: forever). For drivers that poll without
   * returning to the event loop. Returns 0 on time-out.
   */
  pollInterrupt(vector = 0, timeoutMs = 0): number {
    return this.#vector(vector).read(timeoutMs);
  }

  /** Resolves with the next InterruptEvent of `vector`, or rejects after `timeoutMs`. */
  waitInterrupt(vector = 0, timeoutMs = 5000): Promise<InterruptEvent> {
    this.#vector(vector);
    return nextInterrupt<InterruptEvent>(this, vector, timeoutMs, 'the device');
  }

  /** The device was put into low power by suspend() and not resumed yet. */
  get suspended(): boolean {
    return this.#suspended;
  }

  /**
   * Puts the device into low power (the kernel's runtime PM, D3) where the
   * backend offers it; with `wakeup`, 'wakeup' is emitted when the device
   * needs waking (then call resume()). Mapped regions are unmapped first (a
   * mapped access to a device in low power faults); accesses meanwhile go
   * through the backend, which wakes the device for them.
   */
  suspend(options: { wakeup?: boolean } = {}): void {
    this.#live();
    if (this.#suspended) throw fail('EALREADY', `${this.backend.name} is already suspended`);
    const backend = this.backend;
    if (!backend.setLowPower) throw fail('ENOTSUP', `${backend.kind} devices have no low-power operation`);
    const remap = [...this.#regions.values()].filter((r) => r.mapped);
    for (const r of remap) r.unmap();
    let wake: EventFd | null = null;
    try {
      if (options.wakeup) wake = EventFd.create();
      backend.setLowPower('enter', wake?.fd);
    } catch (err) {
      wake?.close();
      for (const r of remap) r.map();
      throw err;
    }
    this.#remap = remap;
    this.#suspended = true;
    if (wake) {
      wake.watch(() => this.emit('wakeup')).unref();
      this.#wakeupFd = wake;
    }
  }

  /** Leaves low power and maps the mappable regions again. */
  resume(): void {
    this.#live();
    if (!this.#suspended) throw fail('EALREADY', `${this.backend.name} is not suspended`);
    this.backend.setLowPower!('exit');
    this.#suspended = false;
    this.#wakeupFd?.close();
    this.#wakeupFd = null;
    for (const r of this.#remap) r.map();
    this.#remap = [];
  }

  /**
   * Function-level reset. The enabled interrupt mode is disabled with it: the
   * backend is told (Linux's VFIO_DEVICE_RESET leaves the vectors and their
   * eventfds in place, so a later enable of another mode would be refused)
   * and the eventfds are closed.
   */
  reset(): void {
    this.#live();
    this.backend.reset();
    if (this.#irqKind) {
      try {
        this.disableInterrupts();
      } catch {
        // a backend whose reset already disabled them may refuse; the eventfds are closed either way
      }
    }
  }

  /** Frees DMA buffers, unbinds interrupts, unmaps regions, closes the backend. Idempotent. */
  close(): void {
    if (this.#closed) return;
    try {
      this.disableInterrupts();
    } catch {
      /* the backend may already be gone */
    }
    try {
      this.dma.freeAll();
    } catch {
      /* idem */
    }
    this.#teardown();
    this.backend.close();
    this.emit('close', undefined);
  }

  #teardown(): void {
    this.#closed = true;
    clearTimeout(this.#unplugTimer);
    for (const r of this.#regions.values()) r.close();
    this.#regions.clear();
    for (const f of [...this.#irqFds, ...this.#notifyFds]) f.close();
    this.#wakeupFd?.close();
    this.#wakeupFd = null;
    this.#irqFds = [];
    this.#notifyFds = [];
    this.#irqKind = null;
  }

  #gone(err?: Error): void {
    if (this.#closed) return;
    this.#teardown();
    this.emit('close', err);
  }

  #bindNotification(index: number, onSignal: () => void): void {
    if (index >= this.info.numIrqs) return;
    let info: IrqInfo;
    try {
      info = this.backend.irqInfo(index);
    } catch {
      return; // the kernel answers EINVAL for ERR on a function without PCIe
    }
    if (info.count < 1 || !info.eventfd) return;
    const fd = EventFd.create();
    try {
      this.backend.setIrqs(index, 'trigger', 0, { kind: 'eventfd', fds: [fd.fd] });
    } catch {
      fd.close();
      return;
    }
    fd.watch(() => onSignal()).unref();
    this.#notifyFds.push(fd);
  }

  #vector(vector: number): EventFd {
    const f = this.#irqFds[vector];
    if (!f) throw fail('EINVAL', `vector ${vector} is not enabled (${this.#irqFds.length} enabled)`);
    return f;
  }

  #live(): void {
    if (this.#closed) throw fail('ENODEV', `device ${this.backend.name} is closed`);
  }
}
