/**
 * vfio-ts: the Driver API. A driver gets a `Device` from either backend -
 * `connectVfioUser` (a vfio-user socket) or `openKernelDevice` (/dev/vfio) -
 * and never needs to know which. Servers, the kernel's setup tools, the
 * PCI-like view and the reference devices have entry points of their own
 * (vfio-ts/server, vfio-ts/kernel, vfio-ts/pci-like, ...).
 *
 * @module vfio-ts
 */

export {
  Device,
  type DeviceEvents,
  type DeviceOptions,
  type InterruptEvent,
  type InterruptKind,
  type UnplugEvent,
  type UnplugReason,
} from './client/device.js';
export { Region } from './client/region.js';
export { DmaBuffer, type DmaAllocOptions } from './client/dma.js';
export type { DeviceBackend, BackendEvents, DmaMemory, MappedSpan } from './client/backend.js';
export type { DeviceInfo, DmaAccess, IovaRange, IrqAction, IrqData, IrqInfo, MmapArea, RegionInfo } from './uapi/types.js';
export { connectVfioUser, VfioUserBackend, type VfioUserOptions } from './client/vfio-user/backend.js';
export {
  openKernelDevice,
  openKernelBackend,
  type IommuFlow,
  type KernelOpenOptions,
  type OpenKernelDeviceOptions,
} from './client/kernel/open.js';
export { KernelBackend } from './client/kernel/backend.js';
/** Every error class vfio-ts throws on purpose, each with a stable `code`: `err instanceof errors.ErrnoError`. */
export * as errors from './errors-all.js';
export { VfioTsError, SysError, ErrnoError } from './errors.js';
