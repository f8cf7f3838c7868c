/**
 * Drivers for QEMU's edu device (and our model of it): EduDriver on the
 * Driver API, EduPciLikeDriver on the PCI-like view (docs/edu.md,
 * docs/pci-like.md), and the device's facts (src/hw/edu.ts).
 *
 * @module vfio-ts/drivers/edu
 */

export { EduDriver, type EduDmaOptions } from './driver.js';
export { EduPciLikeDriver, EDU_DEFAULT_MSI } from './pci-like.js';
export type { EduWaitOptions } from './engine.js';
export * from '../../hw/edu.js';
