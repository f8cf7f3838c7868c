/**
 * The PCI config-space engine: facts, builder, access engine, capabilities,
 * decoding and lspci-format dumps.
 *
 * @module vfio-ts/pci
 */
/** PCI configuration-space register offsets, bits and capability IDs, named as in Linux's pci_regs.h. */
export * as regs from './regs.js';
export * from './backing.js';
export * from './bars.js';
export * from './builder.js';
export * from './config-space.js';
export * from './decode.js';
export * from './layout.js';
export * from './layout-error.js';
export * from './lspci-dump.js';
export * from './msix-table.js';
export * from './perms.js';
export * from './raw-layout.js';
export type { RegionSpec, RegionKind, ResetKind, ResetSource, PowerState, ConfigSpaceHooks } from './region.js';
export { recordAerError, AER_COR_WRITABLE, AER_UNCOR_WRITABLE, AER_DEFAULT_SEVERITY, type AerDecl } from './caps/aer.js';
export type { AfDecl } from './caps/af.js';
export { dsnSerial, type DsnDecl } from './caps/dsn.js';
export { msiLength, type MsiDecl, type MsiState, type MsiVector } from './caps/msi.js';
export { decodeMsix, msixPbaBytes, msixTableBytes, validateMsix, type MsixDecl, type MsixInfo, type MsixLocation } from './caps/msix.js';
export { pcieLength, type PcieDecl, type PcieEndpointType } from './caps/pcie.js';
export type { PmDecl } from './caps/pm.js';
export type { VendorDecl } from './caps/vendor.js';
export { capabilityName, extCapLength, stdCapLength } from './caps/registry.js';
