/**
 * The kernel backend: real devices through /dev/vfio (docs/kernel-backend.md).
 *
 * @module vfio-ts/kernel
 */

/** Facts of Linux's VFIO user API (include/uapi/linux/vfio.h, iommufd.h): ioctl numbers, flags, sizes. */
export * as uapi from '../uapi/vfio.js';
export {
  DeviceMonitor,
  parsePciEvent,
  parseUevent,
  pciEventOf,
  type DeviceMonitorEvents,
  type DeviceMonitorOptions,
  type PciDeviceEvent,
  type PciEventKind,
  type Uevent,
} from './monitor.js';
export { parseBdf, formatBdf, normalizeBdf, type PciAddress } from './bdf.js';
export { Container, type ContainerOptions, type IommuSpace } from './container.js';
export { Group, type GroupOptions } from './group.js';
export { Iommufd, Ioas } from './iommufd.js';
export { VfioSetupError, checkDeviceSetup, explainOpenError, explainDmaMapError, notViableError, type VfioSetupCode } from './errors.js';
export { bind, unbind, type BindOptions, type BindResult, type UnbindOptions, type UnbindResult } from './bind.js';
export { DEFAULT_PATHS, resolvePaths, cdevFlowAvailable, memlockLimit, type VfioPaths } from './sysfs.js';
export type { HotResetDevice, IommuInfo } from './structs.js';
