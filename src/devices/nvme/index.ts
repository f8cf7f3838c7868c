/**
 * The NVMe controller model (docs/nvme-model.md), served over vfio-user, and
 * the NVMe facts it shares with the driver (src/hw/nvme).
 *
 * @module vfio-ts/devices/nvme
 */

export { NvmeModel, type NvmeModelOptions, type NvmeStats } from './model.js';
export type { NvmePollOptions } from './poller.js';
export type { FeatureState } from './features.js';
export type { AsyncEvent } from './events.js';
export { Namespace, MemoryBacking, FileBacking, DEFAULT_NAMESPACE_SIZE, type NamespaceOptions, type Backing } from './namespace.js';
export { BAR0_SIZE, DOORBELL_OFFSET, DOORBELL_PAGE_SIZE, MSIX_TABLE_OFFSET, MSIX_PBA_OFFSET } from './bar.js';
export { serveNvme, type ServeNvmeOptions, type NvmeServer } from './serve.js';
export * from '../../hw/nvme/index.js';
