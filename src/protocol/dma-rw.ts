// VFIO_USER_DMA_READ and VFIO_USER_DMA_WRITE: the server reads or writes
// client memory it could not map (a DMA_MAP without fd). Server-to-client
// commands, carried on the twin socket when one was negotiated.
//
// Payload (offsets from the end of the header; +16 for the whole message):
//   0 u64 address  8 u64 count  16 data
//   READ  request: no data          reply: `count` bytes read
//   WRITE request: `count` bytes    reply: address and count, no data
// The count must not exceed the receiver's max_data_xfer_size (E2BIG).
// The specification's table gives the DMA_WRITE reply's count 4 bytes, against
// 8 everywhere else; libvfio-user sends and expects 8 (a 16-byte reply), which
// is what we send. On receipt we accept 16 bytes, the table's 12, and the bare
// header QEMU's client sends.
//
// Like region-rw.ts, the hot-path encoders have *Into variants writing into a
// caller's buffer, and check*Reply validates a reply in place.

import { fail } from '../errors.js';
import { Command } from './commands.js';
import { HEADER_SIZE, MessageType, commandFlags, writeHeaderFields } from './header.js';
import { openCommand, openReply, requireRoom } from './message.js';
import { checkEchoedU64, checkReplyHead } from './reply-check.js';
import {
  ACCESS_DATA_OFFSET,
  ACCESS_HEAD_SIZE,
  accessMessageSize,
  checkAccessRange,
  putAccessData,
  readAccessWithData,
} from './access-data.js';
import { checkU16, checkU64, readU32, readU64, readU64Number, requireLength, requireNoFds, u64Equals, writeU64, type U64 } from './wire.js';

/** Size of the DMA_READ/DMA_WRITE head (u64 address, u64 count). */
export const DMA_RW_HEAD_SIZE = ACCESS_HEAD_SIZE;
/** Where the data starts in a whole DMA_READ reply / DMA_WRITE request. */
export const DMA_RW_DATA_OFFSET = ACCESS_DATA_OFFSET;

/** A DMA_READ/DMA_WRITE head: client memory address and byte count. */
export interface DmaRwHead {
  address: bigint;
  count: number;
}

/** A DMA_READ reply / DMA_WRITE request: its head and data. */
export interface DmaRwWithData extends DmaRwHead {
  /** A view into the message. */
  data: Uint8Array;
}

/** Receiver limits the DMA_READ/DMA_WRITE decoders check. */
export interface DmaRwLimits {
  /** Our max_data_xfer_size: larger counts fail with E2BIG. */
  maxDataXferSize?: number;
}

function writeHead(b: Uint8Array, msgId: number, command: number, size: number, flags: number, address: U64, count: number): void {
  writeHeaderFields(b, msgId, command, size, flags, 0);
  writeU64(b, HEADER_SIZE, address);
  writeU64(b, HEADER_SIZE + 8, count);
}

function readHead(p: Uint8Array, what: string, limits: DmaRwLimits): DmaRwHead {
  const address = readU64(p, 0);
  const count = readU64Number(p, 8, `${what} count`, 'E2BIG');
  checkAccessRange(what, 'address', address, count, limits.maxDataXferSize);
  return { address, count };
}

function checkCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 0) throw fail('EINVAL', `count ${count} is not a byte count`);
}

// --------------------------------------------------------------- DMA_READ

/** Writes DMA_READ of `count` bytes at `address` into `b` and returns its length (32); EMSGSIZE when `b` is too small. */
export function encodeDmaReadRequestInto(b: Uint8Array, msgId: number, address: U64, count: number, flags = 0): number {
  requireRoom(b, DMA_RW_DATA_OFFSET, 'DMA_READ request');
  writeHead(b, msgId, Command.DMA_READ, DMA_RW_DATA_OFFSET, commandFlags(flags), address, count);
  return DMA_RW_DATA_OFFSET;
}

/** Encodes DMA_READ (server to client) of `count` bytes at `address`; EINVAL for an argument out of its range. */
export function encodeDmaReadRequest(msgId: number, address: U64, count: number, flags = 0): Buffer {
  checkU16(msgId, 'message id');
  checkU64(address, 'DMA address');
  checkCount(count);
  const b = Buffer.alloc(DMA_RW_DATA_OFFSET);
  encodeDmaReadRequestInto(b, msgId, address, count, flags);
  return b;
}

/** 16 bytes; count within `maxDataXferSize` (E2BIG); the range must not wrap (EINVAL). */
export function decodeDmaReadRequestPayload(p: Uint8Array, fds: readonly number[] = [], limits: DmaRwLimits = {}): DmaRwHead {
  requireNoFds(fds, 'DMA_READ');
  requireLength(p, DMA_RW_HEAD_SIZE, 'DMA_READ');
  return readHead(p, 'DMA_READ', limits);
}

/** Decodes a DMA_READ command: EINVAL when malformed, carrying descriptors or wrapping past 2^64, E2BIG for a count above `maxDataXferSize`. */
export function decodeDmaReadRequest(message: Uint8Array, fds: readonly number[] = [], limits: DmaRwLimits = {}): DmaRwHead {
  return decodeDmaReadRequestPayload(openCommand(message, Command.DMA_READ).payload, fds, limits);
}

/** Reply with `count` bytes; copies `data` in, or leaves DMA_RW_DATA_OFFSET.. to the caller. */
export function encodeDmaReadReplyInto(b: Uint8Array, msgId: number, address: U64, count: number, data?: Uint8Array): number {
  const size = accessMessageSize(b, 'DMA_READ reply', count, data);
  writeHead(b, msgId, Command.DMA_READ, size, MessageType.REPLY, address, count);
  putAccessData(b, data);
  return size;
}

/** Encodes the DMA_READ reply carrying `data`, read at `address`. */
export function encodeDmaReadReply(msgId: number, address: U64, data: Uint8Array): Buffer {
  checkU16(msgId, 'message id');
  checkU64(address, 'DMA address');
  const b = Buffer.alloc(DMA_RW_DATA_OFFSET + data.length);
  encodeDmaReadReplyInto(b, msgId, address, data.length, data);
  return b;
}

/** 16 bytes plus exactly `count` bytes of data. */
export function decodeDmaReadReply(message: Uint8Array): DmaRwWithData {
  const p = openReply(message, Command.DMA_READ).payload;
  return readAccessWithData(p, 'DMA_READ reply', (head) => readHead(head, 'DMA_READ reply', {}));
}

// -------------------------------------------------------------- DMA_WRITE

/** Request writing `count` bytes; copies `data` in, or leaves DMA_RW_DATA_OFFSET.. to the caller. */
export function encodeDmaWriteRequestInto(b: Uint8Array, msgId: number, address: U64, count: number, data?: Uint8Array, flags = 0): number {
  const size = accessMessageSize(b, 'DMA_WRITE', count, data);
  writeHead(b, msgId, Command.DMA_WRITE, size, commandFlags(flags), address, count);
  putAccessData(b, data);
  return size;
}

/** Encodes DMA_WRITE (server to client) of `data` at `address`; EINVAL for an address out of range. */
export function encodeDmaWriteRequest(msgId: number, address: U64, data: Uint8Array, flags = 0): Buffer {
  checkU16(msgId, 'message id');
  checkU64(address, 'DMA address');
  const b = Buffer.alloc(DMA_RW_DATA_OFFSET + data.length);
  encodeDmaWriteRequestInto(b, msgId, address, data.length, data, flags);
  return b;
}

/** 16 bytes plus exactly `count` bytes; count within `maxDataXferSize` (E2BIG). */
export function decodeDmaWriteRequestPayload(p: Uint8Array, fds: readonly number[] = [], limits: DmaRwLimits = {}): DmaRwWithData {
  requireNoFds(fds, 'DMA_WRITE');
  return readAccessWithData(p, 'DMA_WRITE', (head) => readHead(head, 'DMA_WRITE', limits));
}

/** Decodes a DMA_WRITE command: EINVAL when malformed or with a data length other than count, E2BIG for a count above `maxDataXferSize`. */
export function decodeDmaWriteRequest(message: Uint8Array, fds: readonly number[] = [], limits: DmaRwLimits = {}): DmaRwWithData {
  return decodeDmaWriteRequestPayload(openCommand(message, Command.DMA_WRITE).payload, fds, limits);
}

/** Reply to a write: address and count (u64), 32 bytes in all. */
export function encodeDmaWriteReplyInto(b: Uint8Array, msgId: number, address: U64, count: number): number {
  requireRoom(b, DMA_RW_DATA_OFFSET, 'DMA_WRITE reply');
  writeHead(b, msgId, Command.DMA_WRITE, DMA_RW_DATA_OFFSET, MessageType.REPLY, address, count);
  return DMA_RW_DATA_OFFSET;
}

/** Encodes the DMA_WRITE reply: address and u64 count, the 16-byte form libvfio-user uses. */
export function encodeDmaWriteReply(msgId: number, address: U64, count: number): Buffer {
  checkU16(msgId, 'message id');
  checkU64(address, 'DMA address');
  checkCount(count);
  const b = Buffer.alloc(DMA_RW_DATA_OFFSET);
  encodeDmaWriteReplyInto(b, msgId, address, count);
  return b;
}

/**
 * A DMA_WRITE reply: 16 bytes (u64 count), 12 (u32 count, the
 * specification's table) or 0 (QEMU); address and count are undefined for
 * the bare header.
 */
export function decodeDmaWriteReply(message: Uint8Array): { address: bigint | undefined; count: number | undefined } {
  const p = openReply(message, Command.DMA_WRITE).payload;
  if (p.length === 0) return { address: undefined, count: undefined };
  if (p.length === 12) return { address: readU64(p, 0), count: readU32(p, 8) };
  requireLength(p, DMA_RW_HEAD_SIZE, 'DMA_WRITE reply');
  return readHead(p, 'DMA_WRITE reply', {});
}

// ------------------------------------------------- in-place reply checks

function checkAddress(m: Uint8Array, address: U64): void {
  checkEchoedU64(m, HEADER_SIZE, address, 'address');
}

/**
 * Validates a DMA_READ reply (the first `length` bytes of `m`, default all)
 * in place against its request: same address, exactly the count asked for,
 * that much data at DMA_RW_DATA_OFFSET. An error reply throws PeerError.
 * Allocates nothing when `address` is a number.
 */
export function checkDmaReadReply(m: Uint8Array, msgId: number, address: U64, count: number, length = m.length): void {
  checkReplyHead(m, length, Command.DMA_READ, msgId);
  if (length !== DMA_RW_DATA_OFFSET + count) throw fail('EINVAL', `DMA_READ reply of ${length} bytes for count ${count}`);
  checkAddress(m, address);
  if (!u64Equals(m, HEADER_SIZE + 8, count)) throw fail('EINVAL', `DMA_READ reply count ${readU64(m, HEADER_SIZE + 8)}, expected ${count}`);
}

/** Validates a DMA_WRITE reply in place (any of the three accepted forms). */
export function checkDmaWriteReply(m: Uint8Array, msgId: number, address: U64, count: number, length = m.length): void {
  checkReplyHead(m, length, Command.DMA_WRITE, msgId);
  if (length === HEADER_SIZE) return;
  if (length === HEADER_SIZE + 12) {
    checkAddress(m, address);
    if (readU32(m, HEADER_SIZE + 8) !== count)
      throw fail('EINVAL', `DMA_WRITE reply count ${readU32(m, HEADER_SIZE + 8)}, expected ${count}`);
    return;
  }
  if (length !== DMA_RW_DATA_OFFSET) throw fail('EINVAL', `DMA_WRITE reply of ${length} bytes`);
  checkAddress(m, address);
  if (!u64Equals(m, HEADER_SIZE + 8, count))
    throw fail('EINVAL', `DMA_WRITE reply count ${readU64(m, HEADER_SIZE + 8)}, expected ${count}`);
}
