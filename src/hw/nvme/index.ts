// NVMe facts shared by the controller model (src/devices/nvme) and the
// driver (src/drivers/nvme), as Linux shares include/linux/nvme.h between
// host and target: registers, queue entries, commands, status, identify.

export * from './regs.js';
export * from './entries.js';
export * from './commands.js';
export * from './status.js';
export * from './identify.js';
