// Every error class vfio-ts throws on purpose, in one place: the root entry
// exports this module as `errors`. Each carries a stable `code`.

export { VfioTsError, SysError, ErrnoError, errnoName, errnoOf } from './errors.js';
export { LayoutError } from './pci/layout-error.js';
export { PeerError } from './protocol/reply.js';
export { StreamError } from './protocol/framer.js';
export { VfioSetupError, type VfioSetupCode } from './kernel/errors.js';
export { DmaError } from './server/errors.js';
export { WorkerServeError } from './server/worker-errors.js';
export { NvmeError, NvmeTimeoutError, NvmeControllerError } from './drivers/nvme/status.js';
