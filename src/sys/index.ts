// The system layer: typed, fd-owning wrappers over the native addon.

export * from './fd.js';
export * from './poll.js';
export * from './eventfd.js';
export * from './memory.js';
export * from './unix-socket.js';
export * from './netlink.js';
export { native, receivedFdCount, addonPath, type Bytes, type FdList, type PeerCred } from './native.js';
