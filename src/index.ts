// vfio-ts public entry point.
export * from './errors.js';
export * as pci from './pci/index.js';
export * as protocol from './protocol/index.js';
