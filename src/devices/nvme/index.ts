// The NVMe controller model (see docs/nvme-model.md).

export { NvmeController, type NvmeControllerOptions, type NvmePollOptions, type NvmeStats, type FeatureState, type AsyncEvent } from './controller.js';
export { Namespace, MemoryBacking, FileBacking, DEFAULT_NAMESPACE_SIZE, type NamespaceOptions, type Backing } from './namespace.js';
export { ST, status, sctOf, scOf, DNR, SCT_GENERIC, SCT_COMMAND_SPECIFIC, SCT_MEDIA } from './status.js';
export * as nvmeRegs from './regs.js';
export { serveNvme, type ServeNvmeOptions, type NvmeServer } from './serve.js';
