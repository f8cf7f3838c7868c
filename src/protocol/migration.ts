// VFIO_USER_MIG_DATA_READ and VFIO_USER_MIG_DATA_WRITE: the migration data
// stream, carried over the socket instead of the kernel's data_fd.
//
// MIG_DATA_READ  request: 0 u32 argsz (room for the reply)  4 u32 size (bytes wanted)
//                reply:   0 u32 argsz (8 + size)  4 u32 size (bytes given)  8 data
//                A reply shorter than asked means the stream is drained.
// MIG_DATA_WRITE request: 0 u32 argsz  4 u32 size  8 data (size bytes)
//                reply:   no payload
// The source reads while in PRE_COPY or STOP_COPY, the destination writes
// while RESUMING; that state check is the server's, not the codec's.

import { fail } from '../errors.js';
import { Command } from './commands.js';
import { HEADER_SIZE } from './header.js';
import { newCommand, newReply, openCommand, openReply } from './message.js';
import { checkU32, readU32, requireAtLeast, requireLength, requireNoFds, writeU32 } from './wire.js';

/** Size of the MIG_DATA_READ/MIG_DATA_WRITE head (u32 argsz, u32 size). */
export const MIG_DATA_SIZE = 8;

/** Receiver limits the MIG_DATA decoders check. */
export interface MigDataLimits {
  /** Largest size accepted in one message (E2BIG beyond). */
  maxDataXferSize?: number;
}

// ---------------------------------------------------------- MIG_DATA_READ

/** Encodes MIG_DATA_READ asking for up to `size` bytes of the migration stream; EINVAL when argsz has no room for them. */
export function encodeMigDataReadRequest(msgId: number, size: number, argsz = MIG_DATA_SIZE + size, flags = 0): Buffer {
  checkU32(size, 'MIG_DATA_READ size');
  checkU32(argsz, 'MIG_DATA_READ argsz');
  if (argsz < MIG_DATA_SIZE + size) throw fail('EINVAL', `MIG_DATA_READ: argsz ${argsz} has no room for ${size} bytes`);
  const b = newCommand(msgId, Command.MIG_DATA_READ, MIG_DATA_SIZE, flags);
  writeU32(b, HEADER_SIZE, argsz);
  writeU32(b, HEADER_SIZE + 4, size);
  return b;
}

/** 8 bytes; argsz at least 8 + size (EINVAL); size within `maxDataXferSize` (E2BIG). */
export function decodeMigDataReadRequestPayload(
  p: Uint8Array,
  fds: readonly number[] = [],
  limits: MigDataLimits = {},
): { argsz: number; size: number } {
  requireNoFds(fds, 'MIG_DATA_READ');
  requireLength(p, MIG_DATA_SIZE, 'MIG_DATA_READ');
  const argsz = readU32(p, 0);
  const size = readU32(p, 4);
  if (limits.maxDataXferSize !== undefined && size > limits.maxDataXferSize) {
    throw fail('E2BIG', `MIG_DATA_READ: size ${size} exceeds ${limits.maxDataXferSize}`);
  }
  if (argsz < MIG_DATA_SIZE + size) throw fail('EINVAL', `MIG_DATA_READ: argsz ${argsz} has no room for ${size} bytes of data`);
  return { argsz, size };
}

/** Decodes a MIG_DATA_READ command: EINVAL when malformed or argsz has no room for size, E2BIG for a size above `maxDataXferSize`. */
export function decodeMigDataReadRequest(
  message: Uint8Array,
  fds: readonly number[] = [],
  limits: MigDataLimits = {},
): { argsz: number; size: number } {
  return decodeMigDataReadRequestPayload(openCommand(message, Command.MIG_DATA_READ).payload, fds, limits);
}

/** The reply with `data` (at most the size asked for; fewer bytes end the stream). */
export function encodeMigDataReadReply(msgId: number, data: Uint8Array, requestedSize?: number): Buffer {
  if (requestedSize !== undefined && data.length > requestedSize) {
    throw fail('EINVAL', `MIG_DATA_READ reply: ${data.length} bytes for a request of ${requestedSize}`);
  }
  const b = newReply(msgId, Command.MIG_DATA_READ, MIG_DATA_SIZE + data.length);
  writeU32(b, HEADER_SIZE, MIG_DATA_SIZE + data.length);
  writeU32(b, HEADER_SIZE + 4, data.length);
  b.set(data, HEADER_SIZE + MIG_DATA_SIZE);
  return b;
}

/** 8 bytes plus exactly `size` bytes, argsz = 8 + size, size not above `requestedSize` when given. */
export function decodeMigDataReadReply(message: Uint8Array, requestedSize?: number): { size: number; data: Uint8Array } {
  const p = openReply(message, Command.MIG_DATA_READ).payload;
  requireAtLeast(p, MIG_DATA_SIZE, 'MIG_DATA_READ reply');
  const argsz = readU32(p, 0);
  const size = readU32(p, 4);
  requireLength(p, MIG_DATA_SIZE + size, `MIG_DATA_READ reply with size ${size}`);
  if (argsz !== MIG_DATA_SIZE + size) throw fail('EINVAL', `MIG_DATA_READ reply: argsz ${argsz} for ${size} bytes of data`);
  if (requestedSize !== undefined && size > requestedSize) {
    throw fail('EINVAL', `MIG_DATA_READ reply: ${size} bytes, more than the ${requestedSize} asked for`);
  }
  return { size, data: p.subarray(MIG_DATA_SIZE) };
}

// --------------------------------------------------------- MIG_DATA_WRITE

/** Encodes MIG_DATA_WRITE carrying `data` of the migration stream; EINVAL for argsz below 8. */
export function encodeMigDataWriteRequest(msgId: number, data: Uint8Array, argsz = MIG_DATA_SIZE + data.length, flags = 0): Buffer {
  checkU32(argsz, 'MIG_DATA_WRITE argsz');
  if (argsz < MIG_DATA_SIZE) throw fail('EINVAL', `MIG_DATA_WRITE: argsz ${argsz} is below ${MIG_DATA_SIZE}`);
  const b = newCommand(msgId, Command.MIG_DATA_WRITE, MIG_DATA_SIZE + data.length, flags);
  writeU32(b, HEADER_SIZE, argsz);
  writeU32(b, HEADER_SIZE + 4, checkU32(data.length, 'MIG_DATA_WRITE size'));
  b.set(data, HEADER_SIZE + MIG_DATA_SIZE);
  return b;
}

/** 8 bytes plus exactly `size` bytes; argsz at least 8 (EINVAL); size within `maxDataXferSize` (E2BIG). */
export function decodeMigDataWriteRequestPayload(
  p: Uint8Array,
  fds: readonly number[] = [],
  limits: MigDataLimits = {},
): { argsz: number; size: number; data: Uint8Array } {
  requireNoFds(fds, 'MIG_DATA_WRITE');
  requireAtLeast(p, MIG_DATA_SIZE, 'MIG_DATA_WRITE');
  const argsz = readU32(p, 0);
  const size = readU32(p, 4);
  if (limits.maxDataXferSize !== undefined && size > limits.maxDataXferSize) {
    throw fail('E2BIG', `MIG_DATA_WRITE: size ${size} exceeds ${limits.maxDataXferSize}`);
  }
  requireLength(p, MIG_DATA_SIZE + size, `MIG_DATA_WRITE with size ${size}`);
  if (argsz < MIG_DATA_SIZE) throw fail('EINVAL', `MIG_DATA_WRITE: argsz ${argsz} is below ${MIG_DATA_SIZE}`);
  return { argsz, size, data: p.subarray(MIG_DATA_SIZE) };
}

/** Decodes a MIG_DATA_WRITE command: EINVAL when malformed, E2BIG for a size above `maxDataXferSize`. */
export function decodeMigDataWriteRequest(
  message: Uint8Array,
  fds: readonly number[] = [],
  limits: MigDataLimits = {},
): { argsz: number; size: number; data: Uint8Array } {
  return decodeMigDataWriteRequestPayload(openCommand(message, Command.MIG_DATA_WRITE).payload, fds, limits);
}

/** The MIG_DATA_WRITE reply (no payload). */
export function encodeMigDataWriteReply(msgId: number): Buffer {
  return newReply(msgId, Command.MIG_DATA_WRITE, 0);
}

/** Checks a MIG_DATA_WRITE reply has no payload (EINVAL otherwise); an error reply throws PeerError. */
export function decodeMigDataWriteReply(message: Uint8Array): void {
  requireLength(openReply(message, Command.MIG_DATA_WRITE).payload, 0, 'MIG_DATA_WRITE reply');
}
