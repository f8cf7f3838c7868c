/**
 * The NVMe driver (docs/nvme-driver.md): NvmeDriver brings a controller up on
 * the Driver API, its queue pairs and admin commands, the block API of a
 * namespace, the typed errors, and the NVMe facts it shares with the model
 * (src/hw/nvme).
 *
 * @module vfio-ts/drivers/nvme
 */
export * from '../../hw/nvme/index.js';
export * from './status.js';
export * from './prp.js';
export * from './queue.js';
export * from './identify.js';
export * from './admin.js';
export * from './driver.js';
export * from './block.js';
