// What the vfio-user server serves: the device-facing half of every command.
//
// The server and its sessions speak the protocol, enforce ownership, limits
// and message order, and keep each client's DMA space; everything about the
// device itself goes through this interface. Two implementations exist:
// VirtualDevice (a device model written in TypeScript, with the framework's
// config space, interrupts and DMA) and the broker's KernelServedDevice (a
// real device opened through /dev/vfio, with the same config-space policy
// layered over the kernel's).
//
// Calls are made in the owner's message order. Offsets and indexes have been
// decoded but not range-checked against the device; errors are thrown as
// errno-bearing errors and become the client's error reply.

import type { RegionCapability, SetIrqsRequest } from '../protocol/index.js';
import type { MaybePromise } from '../util/promise.js';
import type { DmaHooks, DmaSpace, DmaTransport } from './dma-space.js';
import type { ServerWarning } from './errors.js';
import type { IrqInfoResult } from './irqs.js';
import type { ClientIdentity } from './model.js';

/** What GET_REGION_INFO reports for one region. */
export interface RegionDescription {
  index: number;
  flags: number;
  size: bigint;
  /** mmap offset in `fd` (0: every mappable BAR has its own memfd). */
  offset: bigint;
  caps: RegionCapability[];
  /** The memfd of a mappable BAR (owned by the device: send a copy, do not close). */
  fd: number | undefined;
}

/** What a server needs of the device it serves: a model's VirtualDevice or the broker's BrokeredDevice. */
export interface ServedDevice {
  /** Used in messages. */
  readonly name: string;
  /** DEVICE_GET_INFO's reset flag (default true): whether DEVICE_RESET can work. */
  readonly canReset?: boolean;
  /** GET_REGION_INFO of region `index` (0-8). */
  regionInfo(index: number): RegionDescription;
  /** REGION_READ: fill `dst` (zeroed) from region `index` at `offset`. */
  regionRead(index: number, offset: bigint | number, dst: Uint8Array): MaybePromise<void>;
  /** REGION_WRITE. */
  regionWrite(index: number, offset: bigint | number, src: Uint8Array): MaybePromise<void>;
  /** GET_IRQ_INFO of index `index` (0-4). */
  irqInfo(index: number): IrqInfoResult;
  /** SET_IRQS; the descriptors are the device's from now on (it closes what it does not keep). */
  setIrqs(req: SetIrqsRequest, fds: number[]): void;
  /** DEVICE_RESET. */
  functionReset(): MaybePromise<void>;
  /** Mirrors of the owner's DMA maps (e.g. into an IOMMU), given to its DmaSpace. */
  readonly dmaHooks?: DmaHooks;
  /** Throws (e.g. ENODEV) when no client can own the device now; checked before a VERSION is granted. */
  checkAvailable?(): void;
  /** A client became the owner (after VERSION); its DMA space and the transport for maps without a descriptor. */
  attachOwner(owner: ClientIdentity, space: DmaSpace, transport: DmaTransport): void;
  /** The owner is gone: no DMA into its memory from now on (before its maps are released). */
  detachDma(): void;
  /** The owner left and its DMA maps are released: return the device to power-on for the next owner. */
  releaseOwner(): Promise<void> | undefined;
  /** Signal REQ (a release request) to the owner; false if it has no REQ eventfd bound. */
  requestRelease(): boolean;
  /** Releases what the device holds. Idempotent. */
  close(): void;
  on(event: 'warning', listener: (w: ServerWarning) => void): this;
}

/** A ServedDevice rather than a DeviceModel (which has no methods of its own). */
export function isServedDevice(x: object): x is ServedDevice {
  const d = x as Partial<ServedDevice>;
  return typeof d.regionInfo === 'function' && typeof d.attachOwner === 'function' && typeof d.releaseOwner === 'function';
}
