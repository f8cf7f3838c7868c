/**
 * The PCI-like driver model (docs/pci-like.md): an opt-in view over an opened
 * Device in which config writes trigger what they trigger on hardware (MSI,
 * MSI-X with its table and PBA, INTx Disable, PMCSR, FLR) and BAR registers
 * are virtual.
 *
 * @module vfio-ts/pci-like
 */

export { PciLikeDevice, PciLikeConfig, type PciLikeInterrupt, type PciLikeEvents } from './pci-like-device.js';
export { PciLikeBar } from './bars.js';
export type { MsiMessage } from './msi.js';
// The same resets as the server's engine: one definition, in src/pci.
export type { ResetSource } from '../../pci/region.js';
