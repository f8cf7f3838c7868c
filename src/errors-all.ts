// Every error class vfio-ts throws on purpose, in one place: the root entry
// exports this module as `errors`. Each carries a stable `code`, typed as the
// union of the codes the class can carry.

export { VfioTsError, SysError, ErrnoError, errnoName, errnoOf, isErrnoName, type ErrnoName, type SysErrnoName } from './errors.js';
export { LayoutError } from './pci/layout-error.js';
export { PeerError } from './protocol/reply.js';
export { StreamError } from './protocol/framer.js';
export { VfioSetupError, type VfioSetupCode } from './kernel/errors.js';
export { DmaError } from './server/errors.js';
export { WorkerServeError } from './server/worker-errors.js';
export { NvmeError, NvmeTimeoutError, NvmeControllerError, type NvmeControllerCode } from './drivers/nvme/status.js';
export type { NvmeStatusCode } from './hw/nvme/status.js';
