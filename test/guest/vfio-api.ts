// What guest child snippets import as `vfio`: the Driver API and the kernel
// entry point together, as an application using both would see them.
export * from '../../src/index.js';
export * from '../../src/kernel/index.js';
export { openGroupCount } from '../../src/client/kernel/open.js';
