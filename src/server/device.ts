// The device framework: a virtual PCI function built from a DeviceModel.
//
// Model. The framework owns the function's config space (the engine of
// src/pci with the kernel's permission model), its regions as vfio-pci lays
// them out (BAR0-5 = 0-5, ROM 6, config 7, VGA 8 absent), the interrupt state
// (irqs.ts) and the DMA access of the model (dma.ts). A region access is
// checked and routed here before the model sees it:
//   - config space (7) goes to the engine, whose side effects (FLR, D-state,
//     INTx Disable, MSI masks) come back through its hooks;
//   - a BAR access fails with EIO while its decode bit (MEMORY, or IO for an
//     I/O BAR) is clear or the function is in D3hot, as the kernel's does;
//     otherwise it is cut into pieces: the MSI-X table and PBA go to the
//     engine's MsixTable (never to the model), shared-memory areas read and
//     write the memory itself, everything else goes to the model's handler;
//   - the ROM (6) reads the model's bytes (EIO while MEMORY is clear; writes EINVAL);
//   - anything beyond a region, or in an absent one, is EINVAL.
// Shared-memory areas of a BAR live in one memfd per BAR, mmap'ed here (the
// model's `barMemory(i)`) and handed to the client with GET_REGION_INFO.
//
// Ownership. One client at a time is attached (its DMA space becomes the
// model's DMA; interrupts go to its eventfds). When it leaves the function is
// returned to power-on: interrupts torn down, config space reset to the
// declared state, fresh (zeroed) shared memory in new memfds - the old client
// keeps nothing it could use to reach the next one - and the model's reset.

import { EventEmitter } from 'node:events';
import { fail } from '../errors.js';
import { createConfigSpace, type BarSpec, type ConfigSpace, type PowerState, type ResetSource } from '../pci/index.js';
import {
  PCI_CONFIG_REGION_INDEX,
  PCI_NUM_REGIONS,
  PCI_ROM_REGION_INDEX,
  REGION_INFO_FLAG_MMAP,
  REGION_INFO_FLAG_READ,
  REGION_INFO_FLAG_WRITE,
} from '../protocol/index.js';
import { MemFd, PAGE_SIZE, type Mapping } from '../sys/index.js';
import { DeviceDma } from './dma.js';
import type { DmaSpace, DmaTransport } from './dma-space.js';
import { hex, hexDigits } from '../util/format.js';
import { isPromise, type MaybePromise } from '../util/promise.js';
import type { ServerWarning } from './errors.js';
import { Interrupts, type IrqInfoResult } from './irqs.js';
import type { RegionDescription, ServedDevice } from './served-device.js';
import type { SetIrqsRequest } from '../protocol/index.js';
import type { BarHandler, ClientIdentity, DeviceModel, MappableArea, ModelDevice } from './model.js';

type PieceKind = 'table' | 'pba' | 'mem';

interface Special {
  start: number;
  end: number;
  kind: PieceKind;
}

/** One implemented BAR: geometry, handler, shared memory and the ranges the model does not see. */
interface BarState {
  index: number;
  spec: BarSpec;
  handler: BarHandler | undefined;
  areas: MappableArea[];
  special: Special[];
  memfd: MemFd | undefined;
  mapping: Mapping | undefined;
  memory: Uint8Array | undefined;
}

/** Options of the framework object built from a device model. */
export interface VirtualDeviceOptions {
  /** Name used in messages (default: the vendor:device IDs). */
  name?: string;
}

/** The events a `VirtualDevice` emits: problems that do not stop it. */
export interface VirtualDeviceEvents {
  warning: [w: ServerWarning];
}

/** The absolute limit on shared BAR memory per BAR (the addon maps at most 2^32 bytes at once). */
const MAX_MAPPED_BAR = 2 ** 32;

export class VirtualDevice extends EventEmitter<VirtualDeviceEvents> implements ServedDevice, ModelDevice {
  readonly model: DeviceModel;
  readonly name: string;
  /** The config-space engine: the model may read it and drive device-side bits (status, AER, MSI pending). */
  readonly config: ConfigSpace;
  /** Interrupts: INTx level, MSI, MSI-X, REQ, ERR. */
  readonly irq: Interrupts;
  /** DMA through the current client's maps. */
  readonly dma: DeviceDma;

  readonly #bars: (BarState | undefined)[] = [];
  readonly #rom: Uint8Array | undefined;
  /** Work started by engine hooks (model resets) that the current access must wait for. */
  #pending: Promise<void>[] = [];
  #owner: ClientIdentity | undefined;
  #closed = false;

  constructor(model: DeviceModel, options: VirtualDeviceOptions = {}) {
    super();
    this.model = model;
    let irq: Interrupts | undefined;
    this.config = createConfigSpace(model.config, {
      hooks: {
        onCommandChange: (command, previous) => {
          irq?.commandChanged(command);
          this.#callModel('commandChanged', () => model.commandChanged?.(command, previous));
        },
        onPowerStateChange: (from: PowerState, to: PowerState) => {
          this.#callModel('powerStateChanged', () => model.powerStateChanged?.(from, to));
        },
        onReset: (source: ResetSource) => {
          irq?.resetModes();
          this.#callModel('reset', () => model.reset?.(source));
        },
        onMsiMaskChange: (vector, masked) => irq?.msiMaskChanged(vector, masked),
      },
      msixHooks: { onMaskChange: (vector, masked) => irq?.msixMaskChanged(vector, masked) },
    });
    this.name = options.name ?? `${hexDigits(this.config.vendorId, 4)}:${hexDigits(this.config.deviceId, 4)}`;
    irq = new Interrupts(this.config, (message, cause) => this.warn({ code: 'signal-failed', message, cause }));
    this.irq = irq;
    const needsMaster = model.dmaRequiresBusMaster ?? true;
    this.dma = new DeviceDma(needsMaster ? () => this.config.busMaster : null);

    if (model.rom !== undefined) {
      const romSize = this.config.romSize;
      if (romSize === undefined) throw fail('EINVAL', 'the model has ROM contents but its declaration has no ROM');
      if (model.rom.length > romSize) throw fail('EINVAL', `ROM contents of ${model.rom.length} bytes exceed the ${romSize}-byte ROM`);
      this.#rom = model.rom;
    }
    const handlers = model.bars ?? {};
    for (const key of Object.keys(handlers)) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i > 5 || !this.config.bar(i)) {
        throw fail('EINVAL', `a handler is declared for BAR ${key}, which the device does not implement`);
      }
    }
    try {
      for (let i = 0; i < 6; i++) this.#bars.push(this.#buildBar(i, handlers[i]));
    } catch (err) {
      this.#closeMemory();
      throw err;
    }
    this.#callModel('attach', () => model.attach?.(this));
  }

  #buildBar(i: number, handler: BarHandler | undefined): BarState | undefined {
    const spec = this.config.bar(i);
    if (!spec) return undefined;
    const areas = [...(handler?.mappable ?? [])].sort((a, b) => a.offset - b.offset);
    const special: Special[] = [];
    const msix = this.config.msix;
    if (msix && msix.tableBar === i) special.push({ start: msix.tableOffset, end: msix.tableOffset + msix.tableBytes, kind: 'table' });
    if (msix && msix.pbaBar === i) special.push({ start: msix.pbaOffset, end: msix.pbaOffset + msix.pbaBytes, kind: 'pba' });
    if (areas.length) {
      if (spec.kind === 'io') throw fail('EINVAL', `BAR${i}: an I/O BAR cannot have mappable areas`);
      if (spec.size > MAX_MAPPED_BAR) throw fail('EINVAL', `BAR${i}: BARs with mappable areas are limited to 4 GiB`);
      let last = 0;
      for (const a of areas) {
        if (!Number.isSafeInteger(a.offset) || !Number.isSafeInteger(a.size) || a.size <= 0 || a.offset % PAGE_SIZE || a.size % PAGE_SIZE) {
          throw fail('EINVAL', `BAR${i}: mappable area ${hex(a.offset)}+${hex(a.size)} is not a non-empty page-aligned range`);
        }
        if (a.offset < last || a.offset + a.size > spec.size) {
          throw fail(
            'EINVAL',
            `BAR${i}: mappable area ${hex(a.offset)}+${hex(a.size)} overlaps another or leaves the ${hex(spec.size)}-byte BAR`,
          );
        }
        for (const s of special) {
          // The kernel never lets the MSI-X table's pages be mapped.
          const from = Math.floor(s.start / PAGE_SIZE) * PAGE_SIZE;
          const to = Math.ceil(s.end / PAGE_SIZE) * PAGE_SIZE;
          if (a.offset < to && from < a.offset + a.size)
            throw fail(
              'EINVAL',
              `BAR${i}: mappable area ${hex(a.offset)} covers a page of the MSI-X ${s.kind === 'table' ? 'table' : 'PBA'}`,
            );
        }
        last = a.offset + a.size;
      }
      for (const a of areas) special.push({ start: a.offset, end: a.offset + a.size, kind: 'mem' });
    }
    special.sort((a, b) => a.start - b.start);
    const bar: BarState = { index: i, spec, handler, areas, special, memfd: undefined, mapping: undefined, memory: undefined };
    if (areas.length) this.#allocMemory(bar);
    return bar;
  }

  #allocMemory(bar: BarState): void {
    const memfd = MemFd.create(`vfio-ts-bar${bar.index}`, bar.spec.size);
    try {
      bar.mapping = memfd.map(0, bar.spec.size);
    } catch (err) {
      memfd.close();
      throw err;
    }
    bar.memfd = memfd;
    bar.memory = new Uint8Array(bar.mapping.buffer);
  }

  #freeMemory(bar: BarState): void {
    bar.mapping?.unmap();
    bar.memfd?.close();
    bar.mapping = undefined;
    bar.memfd = undefined;
    bar.memory = undefined;
  }

  #closeMemory(): void {
    for (const b of this.#bars) if (b) this.#freeMemory(b);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The client that owns the device now. */
  get owner(): ClientIdentity | undefined {
    return this.#owner;
  }

  /**
   * The shared memory of BAR `i` (all of the BAR; the mappable areas are the
   * parts the client can mmap), or undefined for BARs without mappable areas.
   * A 'release' reset replaces it: fetch it again after one.
   */
  barMemory(i: number): Uint8Array | undefined {
    return this.#bars[i]?.memory;
  }

  /** Emits a 'warning' (never throws, never 'error'). */
  warn(w: ServerWarning): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', w);
  }

  /** Runs a model hook; a throw or a rejection becomes a warning, a promise is awaited by the current access. */
  #callModel(what: string, fn: () => MaybePromise<void> | undefined): void {
    let r: MaybePromise<void> | undefined;
    try {
      r = fn();
    } catch (cause) {
      this.warn({ code: 'model-error', message: `the device model's ${what} handler threw`, cause });
      return;
    }
    if (isPromise(r)) {
      this.#pending.push(
        r.catch((cause) => this.warn({ code: 'model-error', message: `the device model's ${what} handler failed`, cause })),
      );
    }
  }

  #takePending(): Promise<void> | undefined {
    if (this.#pending.length === 0) return undefined;
    const all = this.#pending;
    this.#pending = [];
    return Promise.all(all).then(() => undefined);
  }

  // ------------------------------------------------------------ regions

  /** GET_REGION_INFO. EINVAL for an index beyond the 9 regions of a PCI function. */
  regionInfo(index: number): RegionDescription {
    const none: RegionDescription = { index, flags: 0, size: 0n, offset: 0n, caps: [], fd: undefined };
    if (!Number.isInteger(index) || index < 0 || index >= PCI_NUM_REGIONS) throw fail('EINVAL', `region index ${index} out of range`);
    if (index < 6) {
      const bar = this.#bars[index];
      if (!bar) return none;
      const d: RegionDescription = { ...none, flags: REGION_INFO_FLAG_READ | REGION_INFO_FLAG_WRITE, size: BigInt(bar.spec.size) };
      if (bar.memfd && !this.#closed) {
        d.flags |= REGION_INFO_FLAG_MMAP;
        d.fd = bar.memfd.fd;
        const whole = bar.areas.length === 1 && bar.areas[0]!.offset === 0 && bar.areas[0]!.size === bar.spec.size;
        if (!whole) d.caps = [{ kind: 'sparse-mmap', areas: bar.areas.map((a) => ({ offset: BigInt(a.offset), size: BigInt(a.size) })) }];
      }
      return d;
    }
    if (index === PCI_ROM_REGION_INDEX) {
      const size = this.config.romSize;
      return size === undefined ? none : { ...none, flags: REGION_INFO_FLAG_READ, size: BigInt(size) };
    }
    if (index === PCI_CONFIG_REGION_INDEX) {
      return { ...none, flags: REGION_INFO_FLAG_READ | REGION_INFO_FLAG_WRITE, size: BigInt(this.config.size) };
    }
    return none; // VGA: absent
  }

  /** Size of region `index` (0 when absent); EINVAL beyond the 9 regions. */
  regionSize(index: number): number {
    if (index < 6) return this.#bars[index]?.spec.size ?? 0;
    if (index === PCI_ROM_REGION_INDEX) return this.config.romSize ?? 0;
    if (index === PCI_CONFIG_REGION_INDEX) return this.config.size;
    if (index < PCI_NUM_REGIONS) return 0;
    throw fail('EINVAL', `region index ${index} out of range`);
  }

  /** The offset as a number once `length` bytes from it lie inside region `index`. */
  #checkRange(index: number, offset: bigint | number, length: number): number {
    const size = this.regionSize(index);
    if (size === 0) throw fail('EINVAL', `region ${index} is not implemented`);
    // A number offset (the session's fast path) avoids bigints; it must be a safe integer.
    const inside =
      typeof offset === 'number'
        ? Number.isSafeInteger(offset) && offset >= 0 && offset + length <= size
        : offset >= 0n && offset + BigInt(length) <= BigInt(size);
    if (!inside) {
      throw fail('EINVAL', `access of ${length} bytes at ${hex(offset)} is outside region ${index} (${hex(size)} bytes)`);
    }
    return Number(offset);
  }

  /** REGION_READ of `dst.length` bytes at `offset` of region `index`. */
  regionRead(index: number, offset: bigint | number, dst: Uint8Array): MaybePromise<void> {
    if (this.#closed) throw fail('ENODEV', 'the device is closed');
    const off = this.#checkRange(index, offset, dst.length);
    if (dst.length === 0) return;
    if (index === PCI_CONFIG_REGION_INDEX) {
      this.config.readInto(off, dst);
      return this.#takePending();
    }
    if (index === PCI_ROM_REGION_INDEX) {
      if (!this.config.memoryAccessible) throw fail('EIO', 'ROM access while memory decode is off or the function is in D3hot');
      const rom = this.#rom ?? new Uint8Array(0);
      dst.fill(0);
      if (off < rom.length) dst.set(rom.subarray(off, Math.min(rom.length, off + dst.length)));
      return;
    }
    return this.#barAccess(this.#bars[index]!, off, dst, false);
  }

  /** REGION_WRITE of `src` at `offset` of region `index`. */
  regionWrite(index: number, offset: bigint | number, src: Uint8Array): MaybePromise<void> {
    if (this.#closed) throw fail('ENODEV', 'the device is closed');
    const off = this.#checkRange(index, offset, src.length);
    if (index === PCI_ROM_REGION_INDEX) throw fail('EINVAL', 'the ROM is read-only');
    if (src.length === 0) return;
    if (index === PCI_CONFIG_REGION_INDEX) {
      this.config.writeBytes(off, src);
      return this.#takePending();
    }
    return this.#barAccess(this.#bars[index]!, off, src, true);
  }

  #barAccess(bar: BarState, off: number, buf: Uint8Array, write: boolean): MaybePromise<void> {
    const enabled = bar.spec.kind === 'io' ? this.config.ioAccessible : this.config.memoryAccessible;
    if (!enabled) {
      throw fail(
        'EIO',
        `BAR${bar.index} access while ${bar.spec.kind === 'io' ? 'I/O' : 'memory'} decode is off or the function is in D3hot`,
      );
    }
    if (bar.special.length === 0) return this.#handlerPiece(bar, off, buf, write);
    return this.#pieces(bar, off, buf, write, off);
  }

  /** Walks [from, off + buf.length) piece by piece, resuming after an asynchronous handler. */
  #pieces(bar: BarState, off: number, buf: Uint8Array, write: boolean, from: number): MaybePromise<void> {
    const end = off + buf.length;
    let pos = from;
    while (pos < end) {
      let kind: PieceKind | 'handler' = 'handler';
      let stop = end;
      for (const s of bar.special) {
        if (s.end <= pos) continue;
        if (s.start <= pos) {
          kind = s.kind;
          stop = Math.min(end, s.end);
        } else {
          stop = Math.min(end, s.start);
        }
        break;
      }
      const part = buf.subarray(pos - off, stop - off);
      const at = pos;
      pos = stop;
      let r: MaybePromise<void> | undefined; // only a handler can answer later
      switch (kind) {
        case 'handler':
          r = this.#handlerPiece(bar, at, part, write);
          break;
        case 'table': {
          const t = this.config.msixTable!;
          const o = at - this.config.msix!.tableOffset;
          if (write) t.writeTableBytes(o, part);
          else t.readTableBytes(o, part);
          break;
        }
        case 'pba': {
          const t = this.config.msixTable!;
          const o = at - this.config.msix!.pbaOffset;
          if (write) t.writePbaBytes(o, part);
          else t.readPbaBytes(o, part);
          break;
        }
        case 'mem': {
          const mem = bar.memory!;
          if (write) {
            mem.set(part, at);
            const h = bar.handler;
            if (h?.mappedWrite) this.#callModel('mappedWrite', () => h.mappedWrite!(at, part.length));
          } else {
            part.set(mem.subarray(at, at + part.length));
          }
          break;
        }
      }
      if (isPromise(r)) {
        const resume = pos;
        return r.then(() => this.#pieces(bar, off, buf, write, resume));
      }
    }
    return this.#takePending();
  }

  #handlerPiece(bar: BarState, at: number, part: Uint8Array, write: boolean): MaybePromise<void> {
    const h = bar.handler;
    if (write) return h?.write ? h.write(at, part) : undefined;
    if (h?.read) return h.read(at, part);
    part.fill(0);
    return undefined;
  }

  // ------------------------------------------------------------ reset and ownership

  /**
   * DEVICE_RESET: a function reset. Interrupts disabled (INTx/MSI/MSI-X
   * eventfds released; ERR/REQ kept), config registers back to power-on
   * except BAR/ROM/command programming (the engine's 'flr'), then the model's
   * reset. A model failure is the caller's error.
   */
  functionReset(): MaybePromise<void> {
    this.irq.resetModes();
    this.config.reset('flr');
    const pending = this.#takePending();
    const r = this.model.reset?.('device-reset');
    if (pending && isPromise(r)) return Promise.all([pending, r]).then(() => undefined);
    return isPromise(r) ? r : pending;
  }

  /** GET_IRQ_INFO (the server calls it). */
  irqInfo(index: number): IrqInfoResult {
    return this.irq.info(index);
  }

  /** SET_IRQS with the descriptors that came with it (the server calls it). */
  setIrqs(req: SetIrqsRequest, fds: number[]): void {
    this.irq.setIrqs(req, fds);
  }

  /** Signals REQ to the owner. */
  requestRelease(): boolean {
    return this.irq.requestRelease();
  }

  /** No DMA into the owner's memory from now on (the server calls it when the owner goes). */
  detachDma(): void {
    this.dma.unbind();
  }

  /** The framework attaches the new owner (internal; the server calls it). */
  attachOwner(owner: ClientIdentity, space: DmaSpace, transport: DmaTransport): void {
    if (this.#closed) throw fail('ENODEV', 'the device is closed');
    this.#owner = owner;
    this.dma.bind(space, transport);
    this.#callModel('ownerChanged', () => this.model.ownerChanged?.(owner));
  }

  /**
   * The owner left (internal): its interrupts are released, DMA detached,
   * config space back to power-on, shared BAR memory replaced by fresh
   * memfds, then the model's 'release' reset (awaited; failures are warnings).
   */
  releaseOwner(): Promise<void> | undefined {
    const had = this.#owner !== undefined;
    this.#owner = undefined;
    this.dma.unbind();
    this.irq.releaseAll();
    if (this.#closed) return undefined;
    this.config.reset('power-on');
    for (const b of this.#bars) {
      if (!b?.memfd) continue;
      this.#freeMemory(b);
      try {
        this.#allocMemory(b);
      } catch (cause) {
        this.warn({ code: 'model-error', message: `could not allocate fresh memory for BAR${b.index}`, cause });
      }
    }
    if (had) this.#callModel('ownerChanged', () => this.model.ownerChanged?.(undefined));
    this.#callModel('reset', () => this.model.reset?.('release'));
    return this.#takePending();
  }

  /** Releases the shared memory and every interrupt descriptor. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.dma.unbind();
    this.irq.releaseAll();
    this.#closeMemory();
  }
}
