// A real device served over vfio-user: the broker's ServedDevice.
//
// The broker holds the device (a DeviceBackend: the kernel's /dev/vfio, or for
// tests and chaining another vfio-user server) and its clients hold nothing of
// it but what the protocol hands them. The model, per command:
//
// - Config space: an engine built from the device's own config region
//   (ConfigSpace.fromRaw) whose backing reads and writes that region. The
//   framework's permission model therefore sits on top of the kernel's: BARs
//   and the ROM BAR are virtual (sized and "relocated" in the shadow only),
//   MSI and MSI-X enables move only through SET_IRQS, capabilities the
//   framework does not present are hidden, DEVCTL/AF FLR becomes a device
//   reset, PMCSR D-state writes are performed by the device.
// - BARs and the ROM: REGION_READ/WRITE forwarded to the device; the kernel
//   refuses what its own policy refuses (memory decode off, D3, the MSI-X
//   table) and that errno is the client's reply.
// - Interrupts: SET_IRQS for INTx, MSI, MSI-X and ERR goes to the device with
//   the client's own eventfds, so interrupts reach the client without passing
//   through the broker. REQ stays here: the device's REQ belongs to the
//   broker, which relays it to the client and revokes access after a grace
//   period (see broker.ts).
// - DMA: each DMA_MAP of the owner is mmapped here (the DmaSpace does it) and
//   that mapping is what the device's IOMMU maps at the client's IOVA, so the
//   device reaches exactly the client's pages and nothing else. A map without
//   a file descriptor cannot be given to an IOMMU: refused.
// - Release: when the owner goes, bus mastering and interrupts are turned off,
//   its IOMMU maps undone, then the device is closed - the kernel's own
//   release resets it and restores its state - and opened afresh for the next
//   owner. If the device is being taken away (withdraw()), it is not reopened
//   until reinstate().

import { EventEmitter } from 'node:events';
import type { DeviceBackend } from '../client/backend.js';
import type { IrqData } from '../uapi/types.js';
import { fail } from '../errors.js';
import { ConfigSpace, regs, type BarDecl, type HideQuery, type RomDecl } from '../pci/index.js';
import type { RegionCapability, SetIrqsRequest } from '../protocol/index.js';
import type { RegionDescription } from '../server/served-device.js';
import type { DmaHooks, DmaRegion, DmaSpace, DmaTransport } from '../server/dma-space.js';
import type { ServerWarning } from '../server/errors.js';
import type { IrqInfoResult } from '../server/irqs.js';
import type { ClientIdentity } from '../server/model.js';
import type { ServedDevice } from '../server/served-device.js';
import { closeQuietly, EventFd, PAGE_SIZE } from '../sys/index.js';
import { irqInfoFlags, pciIrq, pciRegion, regionFlags } from '../uapi/vfio.js';
import { DirectBar, type Hole } from './direct-bar.js';
import { RegionConfigBacking } from './region-backing.js';

/** How a {@link BrokeredDevice} opens its device and what it lets clients do. */
export interface BrokeredDeviceOptions {
  /** Opens the device; called at start and again after every owner. */
  open: () => DeviceBackend;
  /** Name in messages (default: the backend's). */
  name?: string;
  /** Capabilities to hide beyond what the kernel and the framework hide. */
  hide?: (cap: HideQuery) => boolean;
  /**
   * The device's sysfs directory (/sys/bus/pci/devices/BDF): its memory BARs
   * are offered for direct mapping through their resource files (see
   * direct-bar.ts). Absent: BAR access by messages only.
   */
  directBars?: string;
}

/** Where a brokered device is: serving, taken back (unplug), or closed. */
export type BrokeredState = 'ready' | 'withdrawn' | 'closed';

/** The events a `BrokeredDevice` emits. */
export interface BrokeredDeviceEvents {
  warning: [w: ServerWarning];
  /** The device asked for its release (its REQ fired): the broker decides what follows. */
  'release-request': [];
  /** The device was withdrawn and is open again: it can take an owner. */
  ready: [];
}

/** Where `i`'s BAR register says it is I/O, 64-bit memory or 32-bit memory. */
function barDecl(raw: Uint8Array, i: number, size: number): BarDecl {
  const v = raw[regs.PCI_BASE_ADDRESS_0 + 4 * i]!;
  if (v & regs.PCI_BASE_ADDRESS_SPACE_IO) return { index: i, kind: 'io', size };
  const mem64 = (v & regs.PCI_BASE_ADDRESS_MEM_TYPE_MASK) === regs.PCI_BASE_ADDRESS_MEM_TYPE_64;
  return { index: i, kind: mem64 ? 'mem64' : 'mem32', size, prefetchable: (v & regs.PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0 };
}

/** The served device of a broker: a real device's backend behind the server's rules; client DMA maps become IOMMU maps, eventfds go to the kernel. */
export class BrokeredDevice extends EventEmitter<BrokeredDeviceEvents> implements ServedDevice {
  readonly name: string;
  readonly #options: BrokeredDeviceOptions;
  #backend: DeviceBackend | undefined;
  #config: ConfigSpace | undefined;
  /** The device's REQ, bound to the broker's own eventfd. */
  #deviceReq: EventFd | undefined;
  /** The client's REQ eventfd (relayed to). */
  #clientReq: EventFd | undefined;
  #owner: ClientIdentity | undefined;
  /** Region sizes of the open device (regionInfo's), cached by #range; reset with every (re)open. */
  #sizes: number[] | undefined;
  /** BARs served by direct mapping, by index. */
  #direct: (DirectBar | undefined)[] = [];
  #state: BrokeredState = 'ready';
  #openError: Error | undefined;

  readonly dmaHooks: DmaHooks = {
    mapped: (region, source) => this.#dmaMapped(region, source),
    unmapped: (region) => this.#dmaUnmapped(region),
  };

  constructor(options: BrokeredDeviceOptions) {
    super();
    this.#options = options;
    this.#openDevice(); // throws: a broker that cannot open its device does not start
    this.name = options.name ?? this.#backend!.name;
  }

  get state(): BrokeredState {
    return this.#state;
  }

  /** The device is open (false while withdrawn, or when reopening failed). */
  get open(): boolean {
    return this.#backend !== undefined;
  }

  /** The device can be reset (VFIO_DEVICE_FLAGS_RESET: FLR, PM or a bus reset). */
  get canReset(): boolean {
    try {
      return this.#live().backend.deviceInfo().reset;
    } catch {
      return false;
    }
  }

  get owner(): ClientIdentity | undefined {
    return this.#owner;
  }

  /** The broker's config-space engine (for inspection; clients reach it through REGION_READ/WRITE). */
  get config(): ConfigSpace {
    return this.#live().config;
  }

  warn(w: ServerWarning): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', w);
  }

  // ------------------------------------------------------------ open / close

  #openDevice(): void {
    const backend = this.#options.open();
    try {
      const info = backend.deviceInfo();
      if (!info.pci) throw fail('ENODEV', `${backend.name} is not a PCI device`);
      const cfgInfo = backend.regionInfo(pciRegion.CONFIG);
      const raw = new Uint8Array(cfgInfo.size);
      backend.regionRead(pciRegion.CONFIG, 0, raw);
      const bars: BarDecl[] = [];
      for (let i = 0; i < 6; i++) {
        const size = backend.regionInfo(i).size;
        if (size === 0) continue;
        const d = barDecl(raw, i, size);
        bars.push(d);
        if (d.kind === 'mem64') i++;
      }
      const romSize = backend.regionInfo(pciRegion.ROM).size;
      const rom: RomDecl | undefined = romSize > 0 ? { size: romSize } : undefined;
      const config = ConfigSpace.fromRaw(raw, {
        bars,
        ...(rom ? { rom } : {}),
        ...(this.#options.hide ? { hide: this.#options.hide } : {}),
        backing: new RegionConfigBacking(backend),
        hooks: {
          // DEVCTL or AF "initiate FLR": the engine reset its registers; the device resets for real.
          onReset: (source) => {
            try {
              backend.reset();
            } catch (cause) {
              this.warn({ code: 'device-error', message: `${this.name}: reset after a ${source} write failed`, cause });
            }
          },
        },
      });
      this.#backend = backend;
      this.#config = config;
      this.#sizes = undefined;
      if (this.#options.directBars !== undefined) this.#direct = this.#openDirect(backend, config, this.#options.directBars);
      this.#bindDeviceReq(backend);
      backend.setEvents({
        onClose: (err) => {
          if (this.#backend !== backend) return;
          this.warn({ code: 'device-error', message: `${this.name}: the device went away${err ? `: ${err.message}` : ''}`, cause: err });
          this.emit('release-request');
        },
      });
      this.#openError = undefined;
    } catch (err) {
      for (const d of this.#direct) d?.close();
      this.#direct = [];
      this.#backend = undefined;
      this.#config = undefined;
      try {
        backend.close();
      } catch {
        // reported by the error above
      }
      throw err;
    }
  }

  /** The memory BARs the kernel lets users map, mapped through sysfs; a BAR with the MSI-X table only where that may be mapped. */
  #openDirect(backend: DeviceBackend, config: ConfigSpace, dir: string): (DirectBar | undefined)[] {
    const out: (DirectBar | undefined)[] = [];
    const msix = config.msix;
    try {
      for (let i = 0; i < 6; i++) {
        const bar = config.bar(i);
        if (!bar || bar.kind === 'io') continue;
        const info = backend.regionInfo(i);
        if (!info.mappable || info.size === 0 || info.size > 2 ** 32) continue;
        const holes: Hole[] = [];
        if (msix?.tableBar === i) holes.push({ start: msix.tableOffset, end: msix.tableOffset + msix.tableBytes });
        if (msix?.pbaBar === i) holes.push({ start: msix.pbaOffset, end: msix.pbaOffset + msix.pbaBytes });
        if (holes.length > 0 && !info.msixMappable) continue; // the table must not be reachable through a client's descriptor
        out[i] = DirectBar.open(i, `${dir}/resource${i}`, info.size, holes);
      }
    } catch (err) {
      for (const d of out) d?.close();
      throw err;
    }
    return out;
  }

  /**
   * Takes direct BARs back: the broker's own mappings go, then a page of each
   * BAR is mapped through the device fd, which makes vfio-pci claim the BAR
   * and the kernel revoke every sysfs mapping of it (a client's access after
   * this faults).
   */
  #revokeDirect(backend: DeviceBackend): void {
    const direct = this.#direct;
    this.#direct = [];
    for (const d of direct) {
      if (!d) continue;
      d.close();
      try {
        const area = backend.regionInfo(d.index).mmapAreas[0];
        if (!area) throw new Error('the kernel offers no mmap area of the BAR');
        backend.regionMap(d.index, area.offset, Math.min(PAGE_SIZE, area.size), false).unmap();
      } catch (cause) {
        this.warn({
          code: 'device-error',
          message: `${this.name}: revoking direct mappings of BAR${d.index} failed; a former client may keep access until the device is unbound`,
          cause,
        });
      }
    }
  }

  #bindDeviceReq(backend: DeviceBackend): void {
    let count = 0;
    try {
      count = backend.irqInfo(pciIrq.REQ).count;
    } catch {
      return;
    }
    if (count < 1) return;
    const fd = EventFd.create();
    try {
      backend.setIrqs(pciIrq.REQ, 'trigger', 0, { kind: 'eventfd', fds: [fd.fd] });
    } catch (cause) {
      fd.close();
      this.warn({
        code: 'device-error',
        message: `${backend.name}: binding the device's REQ failed; unplug requests will not be relayed`,
        cause,
      });
      return;
    }
    fd.watch(() => this.emit('release-request')).unref();
    this.#deviceReq = fd;
  }

  #closeDevice(): void {
    const backend = this.#backend;
    this.#backend = undefined;
    this.#config = undefined;
    this.#deviceReq?.close();
    this.#deviceReq = undefined;
    if (!backend) return;
    this.#revokeDirect(backend);
    try {
      backend.close();
    } catch (cause) {
      this.warn({ code: 'device-error', message: `${this.name}: closing the device failed`, cause });
    }
  }

  /** Opens the device again; `announce`: it had been withdrawn and is back ('ready'). */
  #reopen(announce: boolean): void {
    if (this.#state !== 'ready' || this.#backend) return;
    try {
      this.#openDevice();
      if (announce) this.emit('ready');
    } catch (err) {
      this.#openError = err as Error;
      this.warn({ code: 'device-error', message: `${this.name}: reopening the device failed: ${(err as Error).message}`, cause: err });
    }
  }

  /** The device is being taken away (unbind, removal): after the owner goes it is closed and not reopened. */
  withdraw(): void {
    if (this.#state !== 'ready') return;
    this.#state = 'withdrawn';
    if (!this.#owner) this.#closeDevice();
  }

  /** The device is back (bound to vfio-pci again): open it for the next owner. */
  reinstate(): void {
    if (this.#state !== 'withdrawn') return;
    this.#state = 'ready';
    if (!this.#owner) this.#reopen(true);
  }

  #live(): { backend: DeviceBackend; config: ConfigSpace } {
    if (this.#state === 'closed') throw fail('ENODEV', `${this.name}: the broker closed the device`);
    if (!this.#backend || !this.#config) {
      const why =
        this.#state === 'withdrawn'
          ? 'it is being unplugged or unbound'
          : `it could not be opened${this.#openError ? ` (${this.#openError.message})` : ''}`;
      throw fail('ENODEV', `${this.name}: the device is not available: ${why}`);
    }
    return { backend: this.#backend, config: this.#config };
  }

  // ------------------------------------------------------------ ServedDevice: regions

  /** Before a VERSION is granted: a reopen that failed (e.g. an upstream still releasing the previous connection) is tried again now. */
  checkAvailable(): void {
    if (!this.#backend && this.#state === 'ready') this.#reopen(false);
    this.#live();
  }

  regionInfo(index: number): RegionDescription {
    const { backend, config } = this.#live();
    if (!Number.isInteger(index) || index < 0 || index >= pciRegion.NUM_REGIONS) throw fail('EINVAL', `region index ${index} out of range`);
    const none: RegionDescription = { index, flags: 0, size: 0n, offset: 0n, caps: [] as RegionCapability[], fd: undefined };
    if (index === pciRegion.CONFIG) return { ...none, flags: regionFlags.READ | regionFlags.WRITE, size: BigInt(config.size) };
    if (index === pciRegion.VGA) return none; // legacy VGA ranges are not brokered
    if (index < 6 && !config.bar(index)) return none;
    const info = backend.regionInfo(index);
    if (info.size === 0) return none;
    let flags = 0;
    if (info.readable) flags |= regionFlags.READ;
    if (info.writable && index !== pciRegion.ROM) flags |= regionFlags.WRITE;
    const d: RegionDescription = { ...none, flags, size: BigInt(info.size) };
    const direct = index < 6 ? this.#direct[index] : undefined;
    if (direct) {
      d.flags |= regionFlags.MMAP;
      d.fd = direct.fd;
      const whole = direct.areas.length === 1 && direct.areas[0]!.offset === 0 && direct.areas[0]!.size === direct.size;
      if (!whole) d.caps = [{ kind: 'sparse-mmap', areas: direct.areas.map((a) => ({ offset: BigInt(a.offset), size: BigInt(a.size) })) }];
    }
    return d;
  }

  #range(index: number, offset: bigint | number, length: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= pciRegion.NUM_REGIONS) throw fail('EINVAL', `region index ${index} out of range`);
    this.#live();
    // Sizes as regionInfo() reports them, computed once per open (this is every access's path).
    this.#sizes ??= Array.from({ length: pciRegion.NUM_REGIONS }, (_, i) => Number(this.regionInfo(i).size));
    const size = this.#sizes[index]!;
    const off = typeof offset === 'bigint' ? (offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offset)) : offset;
    if (size === 0) throw fail('EINVAL', `region ${index} does not exist`);
    if (off < 0 || off + length > size) throw fail('EINVAL', `region ${index}: ${length} bytes at ${off} run past its ${size} bytes`);
    return off;
  }

  regionRead(index: number, offset: bigint | number, dst: Uint8Array): void {
    const off = this.#range(index, offset, dst.length);
    const { backend, config } = this.#live();
    const direct = index < 6 ? this.#direct[index] : undefined;
    if (index === pciRegion.CONFIG) config.readInto(off, dst);
    else if (direct)
      this.#decoding(config, index).read(off, dst); // never through the device fd: that would revoke the client's mapping
    else backend.regionRead(index, off, dst);
  }

  regionWrite(index: number, offset: bigint | number, src: Uint8Array): void {
    const off = this.#range(index, offset, src.length);
    const { backend, config } = this.#live();
    const direct = index < 6 ? this.#direct[index] : undefined;
    if (index === pciRegion.CONFIG) config.writeBytes(off, src);
    else if (index === pciRegion.ROM) throw fail('EINVAL', 'the expansion ROM is read-only');
    else if (direct) this.#decoding(config, index).write(off, src);
    else backend.regionWrite(index, off, src);
  }

  /** A direct BAR, if the function decodes memory and is in D0 (vfio-pci's EIO otherwise, which its own path would give). */
  #decoding(config: ConfigSpace, index: number): DirectBar {
    if (!config.memoryEnabled) throw fail('EIO', `BAR${index}: memory decoding is off (command register)`);
    if (config.powerState !== 0) throw fail('EIO', `BAR${index}: the function is in D${config.powerState}`);
    return this.#direct[index]!;
  }

  // ------------------------------------------------------------ ServedDevice: interrupts

  irqInfo(index: number): IrqInfoResult {
    const { backend } = this.#live();
    if (!Number.isInteger(index) || index < 0 || index >= pciIrq.NUM_IRQS) throw fail('EINVAL', `irq index ${index} out of range`);
    if (index === pciIrq.REQ) return { flags: irqInfoFlags.EVENTFD | irqInfoFlags.NORESIZE, count: 1 };
    const info = backend.irqInfo(index);
    if (index === pciIrq.ERR && info.count === 0) throw fail('EINVAL', 'the ERR irq exists only on PCI Express functions');
    return { flags: info.flags, count: info.count };
  }

  /** `fds` are the descriptors that came with the message (the codec's `req.eventfds` may be the same array, emptied by the session). */
  setIrqs(req: SetIrqsRequest, fds: number[]): void {
    try {
      const { backend, config } = this.#live();
      if (req.index === pciIrq.REQ) {
        this.#setReq(req, fds);
        return;
      }
      const data: IrqData =
        req.data === 'eventfd'
          ? { kind: 'eventfd', fds: [...fds] }
          : req.data === 'bool'
            ? { kind: 'bool', values: Array.from(req.bools ?? [], (b) => b !== 0) }
            : { kind: 'none', count: req.count };
      // The device takes its own references to the eventfds; ours are closed below.
      backend.setIrqs(req.index, req.action, req.start, data);
      if (req.action === 'trigger') this.#mirrorEnable(config, req, fds);
    } finally {
      for (const fd of fds) closeQuietly(fd);
    }
  }

  /** The engine's MSI/MSI-X enable bits follow what SET_IRQS did to the device. */
  #mirrorEnable(config: ConfigSpace, req: SetIrqsRequest, fds: readonly number[]): void {
    const disable = req.data === 'none' && req.count === 0;
    const binds = req.data === 'eventfd' && fds.some((fd) => fd >= 0);
    try {
      if (req.index === pciIrq.MSI && config.hasMsi) {
        if (disable) config.disableMsi();
        else if (binds) config.setMsiEnabled(Math.max(1, req.start + req.count));
      } else if (req.index === pciIrq.MSIX && config.hasMsix) {
        if (disable) config.setMsixEnabled(false);
        else if (binds) config.setMsixEnabled(true);
      }
    } catch (cause) {
      this.warn({ code: 'internal', message: `${this.name}: mirroring an interrupt enable in config space failed`, cause });
    }
  }

  #setReq(req: SetIrqsRequest, fds: number[]): void {
    if (req.start + req.count > 1) throw fail('EINVAL', `REQ has one vector; start ${req.start} count ${req.count}`);
    if (req.action !== 'trigger') throw fail('EINVAL', `REQ supports only the trigger action, not ${req.action}`);
    if (req.data === 'eventfd') {
      this.#clientReq?.close();
      this.#clientReq = undefined;
      const fd = fds[0];
      if (fd !== undefined && fd >= 0) {
        fds.splice(0, 1); // kept: not closed by the cleanup in setIrqs
        this.#clientReq = new EventFd(fd);
      }
      return;
    }
    if (req.count === 0) {
      if (req.data === 'none') {
        this.#clientReq?.close();
        this.#clientReq = undefined;
      }
      return;
    }
    if (req.data === 'none' || req.bools?.[0]) this.#clientReq?.signal();
  }

  requestRelease(): boolean {
    if (!this.#clientReq || this.#clientReq.closed) return false;
    try {
      this.#clientReq.signal();
      return true;
    } catch (cause) {
      this.warn({ code: 'signal-failed', message: `${this.name}: signalling REQ to the owner failed`, cause });
      return false;
    }
  }

  // ------------------------------------------------------------ ServedDevice: reset, DMA, ownership

  functionReset(): void {
    const { backend, config } = this.#live();
    backend.reset();
    // The kernel restores BARs and the command register itself; the shadow keeps what the client programmed.
    config.reset('flr');
  }

  #dmaMapped(region: DmaRegion, source: { fd: number; offset: bigint } | undefined): void {
    const { backend } = this.#live();
    if (!region.mapping || !source) {
      throw fail(
        'EINVAL',
        "DMA_MAP: the broker maps client memory into the device's IOMMU and needs a file descriptor (e.g. a memfd) with every map",
      );
    }
    backend.dmaMap(
      { fd: source.fd, fdOffset: Number(source.offset), address: region.mapping.address, size: Number(region.size) },
      region.iova,
      { read: region.readable, write: region.writable },
    );
  }

  #dmaUnmapped(region: DmaRegion): void {
    const backend = this.#backend;
    if (!backend) return; // closed: the IOMMU maps went with the device
    try {
      backend.dmaUnmap(region.iova, Number(region.size));
    } catch (cause) {
      this.warn({
        code: 'device-error',
        message: `${this.name}: undoing the IOMMU map at 0x${region.iova.toString(16)} failed: ${(cause as Error).message}`,
        cause,
      });
    }
  }

  attachOwner(owner: ClientIdentity, _space: DmaSpace, _transport: DmaTransport): void {
    this.#live();
    this.#owner = owner;
  }

  /** Before the owner's maps go: the device stops mastering and signalling into its memory. */
  detachDma(): void {
    const backend = this.#backend;
    const config = this.#config;
    if (!backend || !config) return;
    try {
      const cmd = config.backing.read(regs.PCI_COMMAND, 2);
      if (cmd & regs.PCI_COMMAND_MASTER) config.backing.write(regs.PCI_COMMAND, 2, cmd & ~regs.PCI_COMMAND_MASTER);
    } catch (cause) {
      this.warn({ code: 'device-error', message: `${this.name}: turning bus mastering off failed`, cause });
    }
    for (const index of [pciIrq.INTX, pciIrq.MSI, pciIrq.MSIX, pciIrq.ERR]) {
      try {
        backend.setIrqs(index, 'trigger', 0, { kind: 'none', count: 0 });
      } catch {
        // an index the device lacks, or nothing bound
      }
    }
  }

  releaseOwner(): undefined {
    this.#owner = undefined;
    this.#clientReq?.close();
    this.#clientReq = undefined;
    if (this.#state === 'closed') return undefined;
    // Closing hands the device back to the kernel, which disables it, resets it
    // and restores its saved state; a fresh open starts the next owner clean.
    const wasWithdrawn = this.#state !== 'ready';
    this.#closeDevice();
    if (!wasWithdrawn) this.#reopen(false);
    return undefined;
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#clientReq?.close();
    this.#clientReq = undefined;
    this.#closeDevice();
  }
}
