// What a device model declares: the shape of the device (a DeviceDecl for the
// config-space engine), per-BAR handlers for region accesses, the areas of
// BARs that live in shared memory, an optional expansion ROM, and handlers
// for reset, power-state and command changes (migration is a declared hook,
// not implemented yet).
//
// The framework (VirtualDevice) owns everything else: config space with the
// kernel's permission model, BAR gating by the command register and power
// state, the MSI-X table and PBA, interrupt delivery, DMA through the current
// client's maps only. A model never sees an access the framework refused,
// never sees the MSI-X table, and never sees accesses to its shared-memory
// areas (it polls that memory instead; see `mappedWrite` for the one
// notification it may ask for).
//
// Handlers may be synchronous or return a Promise. The server awaits the
// promise before it handles the client's next message (per-client order is
// kept), so an asynchronous handler may itself wait for DMA through messages.
// The `src`/`dst` views a handler receives stay valid until it returns or its
// promise settles, and no longer.

import type { ConfigSpace, DeviceDecl, PowerState } from '../pci/index.js';
import type { MaybePromise } from '../util/promise.js';
import type { DeviceDma } from './dma.js';
import type { ServerWarning } from './errors.js';
import type { Interrupts } from './irqs.js';

export type { MaybePromise } from '../util/promise.js';

/**
 * What a model may use of the framework object it is attached to (a
 * VirtualDevice implements it; see docs/server.md, "The framework object").
 */
export interface ModelDevice {
  /** Used in messages. */
  readonly name: string;
  /** The config-space engine: read registers, drive device-side bits (status, AER, MSI pending). */
  readonly config: ConfigSpace;
  /** Interrupts: INTx level, MSI, MSI-X, REQ, ERR. */
  readonly irq: Interrupts;
  /** DMA through the current client's maps. */
  readonly dma: DeviceDma;
  /** The client that owns the device now. */
  readonly owner: ClientIdentity | undefined;
  /** The shared memory of BAR `i` (undefined for a BAR without mappable areas; replaced by a 'release' reset). */
  barMemory(i: number): Uint8Array | undefined;
  /** Emits a 'warning'. */
  warn(w: ServerWarning): void;
}

/** An area of a BAR backed by shared memory the client may mmap. */
export interface MappableArea {
  /** Offset inside the BAR; a multiple of the page size. */
  offset: number;
  /** Bytes; a non-zero multiple of the page size. */
  size: number;
}

/** Region accesses to one BAR. Offsets are relative to the BAR's start. */
export interface BarHandler {
  /**
   * Fill `dst` with the bytes at `offset` (`dst.length` of them, 1 or more).
   * Without a handler the BAR reads as zeros.
   */
  read?(offset: number, dst: Uint8Array): MaybePromise<void>;
  /** Take the bytes `src` written at `offset`. Without a handler writes are dropped. */
  write?(offset: number, src: Uint8Array): MaybePromise<void>;
  /**
   * Areas backed by shared memory: the client gets them through the
   * sparse-mmap capability and the memfd; the model sees the same bytes in
   * `device.barMemory(index)`. REGION_READ/WRITE inside an area read and write
   * that memory directly (the handler is not called).
   */
  mappable?: readonly MappableArea[];
  /** Told after a REGION_WRITE stored `length` bytes at `offset` of a mappable area. */
  mappedWrite?(offset: number, length: number): void;
}

/**
 * Why the framework resets the model:
 * - 'device-reset'  DEVICE_RESET from the client (function reset: BAR programming kept)
 * - 'pcie-flr' / 'af-flr' the client set an FLR bit in config space
 * - 'pm-soft-reset' D3hot -> D0 on a function without No_Soft_Reset
 * - 'release'       the owner left: config space is back to power-on, the
 *                   shared BAR memory is fresh (zeroed, new memfds); the next
 *                   client must not see anything of the previous one
 */
export type ResetReason = 'device-reset' | 'pcie-flr' | 'af-flr' | 'pm-soft-reset' | 'release';

/** Who owns the device (the peer credentials of its socket). */
export interface ClientIdentity {
  /** The server's number for the connection. */
  id: number;
  pid: number;
  uid: number;
  gid: number;
}

/** A device written in TypeScript: its config space, BAR handlers, and hooks for attach, reset and the client's life; the framework does the rest (docs/server.md). */
export interface DeviceModel {
  /** IDs, class, BARs, ROM, capabilities (MSI, MSI-X, PM, PCIe, ...). */
  readonly config: DeviceDecl;
  /** Handlers by BAR index (0-5); BARs without one read zeros and drop writes. */
  readonly bars?: Readonly<Partial<Record<number, BarHandler>>>;
  /** Contents of the expansion ROM (region 6); needs `config.rom`. Shorter contents read as zeros after the end. */
  readonly rom?: Uint8Array;
  /**
   * DMA needs Bus Master Enable in the command register, as on real hardware
   * (default true). Interrupts are not gated.
   */
  readonly dmaRequiresBusMaster?: boolean;
  /** Called once, when the framework object exists. */
  attach?(device: ModelDevice): void;
  /** Reset the model's own state (registers, queues). The framework has already reset config space and interrupts. */
  reset?(reason: ResetReason): MaybePromise<void>;
  /** The client moved the function to another D-state (PMCSR). */
  powerStateChanged?(from: PowerState, to: PowerState): void;
  /** The command register changed (memory/io decode, bus master, INTx disable). */
  commandChanged?(command: number, previous: number): void;
  /** A client became the owner (or the owner left: undefined). */
  ownerChanged?(owner: ClientIdentity | undefined): void;
}
