// The kernel backend: real devices through /dev/vfio (docs/kernel-backend.md).

export * as uapi from './uapi.js';
export { parseBdf, formatBdf, normalizeBdf, type PciAddress } from './bdf.js';
export { Container, type ContainerOptions, type DmaSpace } from './container.js';
export { Group, type GroupOptions } from './group.js';
export { Iommufd, Ioas } from './iommufd.js';
export { KernelDevice, type HotResetInfo, type KernelDeviceInit } from './device.js';
export { openKernelDevice, openKernelBackend, openGroupCount, type IommuFlow, type KernelOpenOptions, type OpenKernelDeviceOptions } from './open.js';
export { VfioSetupError, checkDeviceSetup, explainOpenError, explainDmaMapError, notViableError, type VfioSetupCode } from './errors.js';
export { bind, unbind, type BindOptions, type BindResult, type UnbindOptions, type UnbindResult } from './bind.js';
export { DEFAULT_PATHS, resolvePaths, cdevFlowAvailable, memlockLimit, type VfioPaths } from './sysfs.js';
export type { HotResetDevice, IommuInfo } from './structs.js';
