// The NVMe driver: a controller on the Driver API, its queues and the block API.
export * from './regs.js';
export * from './status.js';
export * from './prp.js';
export * from './queue.js';
export * from './identify.js';
export * from './admin.js';
export * from './controller.js';
export * from './block.js';
