/**
 * The vfio-user wire format: pure codecs (no I/O) for every message of
 * protocol 0.2 (QEMU docs/interop/vfio-user.rst), the stream framer, and the
 * handshake's negotiation. See docs/protocol.md for the message table, what
 * each decoder checks and the errno each failure carries.
 *
 * @module vfio-ts/protocol
 */

export * from './commands.js';
export * from './header.js';
export * from './reply.js';
export * from './message.js';
export * from './framer.js';
export * from './version.js';
export * from './dma.js';
export * from './device-info.js';
export * from './region-info.js';
export * from './region-io-fds.js';
export * from './irq-info.js';
export * from './set-irqs.js';
export * from './region-rw.js';
export * from './region-peek.js';
export * from './region-write-multi.js';
export * from './dma-rw.js';
export * from './reset.js';
export * from './device-feature.js';
export * from './migration.js';
export { U32_MAX, U64_MAX, type U64 } from './wire.js';
