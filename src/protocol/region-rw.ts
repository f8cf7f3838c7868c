// VFIO_USER_REGION_READ and VFIO_USER_REGION_WRITE: MMIO / port / config
// accesses the client forwards because the region (or that part of it) is not
// mapped. These are the hot path: every unmapped register access of a driver
// is one round trip.
//
// Payload (offsets from the end of the header; +16 for the whole message):
//   0 u64 offset into the region  8 u32 region index  12 u32 count  16 data
//   READ  request: no data          reply: `count` bytes of data read
//   WRITE request: `count` bytes    reply: no data
// The count must not exceed the receiver's max_data_xfer_size (E2BIG). A reply
// repeats offset and region; its count says how much was transferred, which a
// reader accepts if it is not more than asked.
//
// Besides encoders that return a new Buffer there are *Into variants that
// write into a caller's buffer at offset 0 and return the message length, and
// check*Reply functions that validate a reply in place; with a number offset
// none of them allocates.

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
import { checkU16, checkU32, checkU64, readU32, readU64, requireLength, requireNoFds, writeU32, writeU64, type U64 } from './wire.js';

/** Size of the REGION_READ/REGION_WRITE head (u64 offset, u32 region, u32 count). */
export const REGION_ACCESS_SIZE = ACCESS_HEAD_SIZE;
/** Where the data starts in a whole REGION_READ reply / REGION_WRITE request. */
export const REGION_RW_DATA_OFFSET = ACCESS_DATA_OFFSET;

/** A REGION_READ/REGION_WRITE head: region index, offset in it and byte count. */
export interface RegionAccess {
  offset: bigint;
  region: number;
  count: number;
}

/** A region access with its data. */
export interface RegionAccessWithData extends RegionAccess {
  /** A view into the message. */
  data: Uint8Array;
}

/** Receiver limits the REGION_READ/REGION_WRITE decoders check. */
export interface RegionAccessLimits {
  /** Our max_data_xfer_size: larger counts fail with E2BIG. */
  maxDataXferSize?: number;
  /** The device's region count: larger indexes fail with EINVAL. */
  numRegions?: number;
}

// ------------------------------------------------------------ shared pieces

function checkArgs(region: number, offset: U64, count: number): void {
  checkU32(region, 'region index');
  checkU64(offset, 'region offset');
  checkU32(count, 'count');
}

function writeAccess(
  b: Uint8Array,
  msgId: number,
  command: number,
  size: number,
  flags: number,
  region: number,
  offset: U64,
  count: number,
): void {
  writeHeaderFields(b, msgId, command, size, flags, 0);
  writeU64(b, HEADER_SIZE, offset);
  writeU32(b, HEADER_SIZE + 8, region);
  writeU32(b, HEADER_SIZE + 12, count);
}

function readAccess(p: Uint8Array, what: string, limits: RegionAccessLimits): RegionAccess {
  const offset = readU64(p, 0);
  const region = readU32(p, 8);
  const count = readU32(p, 12);
  if (limits.numRegions !== undefined && region >= limits.numRegions) {
    throw fail('EINVAL', `${what}: region index ${region} out of range (${limits.numRegions} regions)`);
  }
  checkAccessRange(what, 'offset', offset, count, limits.maxDataXferSize);
  return { offset, region, count };
}

// ----------------------------------------------------------- REGION_READ

/** Request for `count` bytes at `offset` of `region`: 32 bytes. */
export function encodeRegionReadRequestInto(b: Uint8Array, msgId: number, region: number, offset: U64, count: number, flags = 0): number {
  const size = REGION_RW_DATA_OFFSET;
  requireRoom(b, size, 'REGION_READ request');
  writeAccess(b, msgId, Command.REGION_READ, size, commandFlags(flags), region, offset, count);
  return size;
}

/** Encodes REGION_READ of `count` bytes at `offset` of `region`; EINVAL for an argument out of its range. */
export function encodeRegionReadRequest(msgId: number, region: number, offset: U64, count: number, flags = 0): Buffer {
  checkU16(msgId, 'message id');
  checkArgs(region, offset, count);
  const b = Buffer.alloc(REGION_RW_DATA_OFFSET);
  encodeRegionReadRequestInto(b, msgId, region, offset, count, flags);
  return b;
}

/** 16 bytes, no data; count within `maxDataXferSize`, region within `numRegions`, no wrap. */
export function decodeRegionReadRequestPayload(p: Uint8Array, fds: readonly number[] = [], limits: RegionAccessLimits = {}): RegionAccess {
  requireNoFds(fds, 'REGION_READ');
  requireLength(p, REGION_ACCESS_SIZE, 'REGION_READ');
  return readAccess(p, 'REGION_READ', limits);
}

/** Decodes a REGION_READ command: EINVAL when malformed, carrying descriptors or wrapping past 2^64, E2BIG for a count above `maxDataXferSize`. */
export function decodeRegionReadRequest(message: Uint8Array, fds: readonly number[] = [], limits: RegionAccessLimits = {}): RegionAccess {
  return decodeRegionReadRequestPayload(openCommand(message, Command.REGION_READ).payload, fds, limits);
}

/**
 * Reply carrying `count` bytes read. With `data` they are copied in; without,
 * the caller writes them at REGION_RW_DATA_OFFSET (before or after). Returns
 * the message length, 32 + count.
 */
export function encodeRegionReadReplyInto(
  b: Uint8Array,
  msgId: number,
  region: number,
  offset: U64,
  count: number,
  data?: Uint8Array,
): number {
  const size = accessMessageSize(b, 'REGION_READ reply', count, data);
  writeAccess(b, msgId, Command.REGION_READ, size, MessageType.REPLY, region, offset, count);
  putAccessData(b, data);
  return size;
}

/** Encodes the REGION_READ reply carrying `data`, read at `offset` of `region`. */
export function encodeRegionReadReply(msgId: number, region: number, offset: U64, data: Uint8Array): Buffer {
  checkU16(msgId, 'message id');
  checkArgs(region, offset, data.length);
  const b = Buffer.alloc(REGION_RW_DATA_OFFSET + data.length);
  encodeRegionReadReplyInto(b, msgId, region, offset, data.length, data);
  return b;
}

/** 16 bytes plus exactly `count` bytes of data. */
export function decodeRegionReadReply(message: Uint8Array): RegionAccessWithData {
  const p = openReply(message, Command.REGION_READ).payload;
  return readAccessWithData(p, 'REGION_READ reply', (head) => readAccess(head, 'REGION_READ reply', {}));
}

// ---------------------------------------------------------- REGION_WRITE

/**
 * Request writing `count` bytes. With `data` they are copied in; without, the
 * caller has put (or will put) them at REGION_RW_DATA_OFFSET. Returns the
 * message length, 32 + count.
 */
export function encodeRegionWriteRequestInto(
  b: Uint8Array,
  msgId: number,
  region: number,
  offset: U64,
  count: number,
  data?: Uint8Array,
  flags = 0,
): number {
  const size = accessMessageSize(b, 'REGION_WRITE', count, data);
  writeAccess(b, msgId, Command.REGION_WRITE, size, commandFlags(flags), region, offset, count);
  putAccessData(b, data);
  return size;
}

/** Encodes REGION_WRITE of `data` at `offset` of `region`; EINVAL for an argument out of its range. */
export function encodeRegionWriteRequest(msgId: number, region: number, offset: U64, data: Uint8Array, flags = 0): Buffer {
  checkU16(msgId, 'message id');
  checkArgs(region, offset, data.length);
  const b = Buffer.alloc(REGION_RW_DATA_OFFSET + data.length);
  encodeRegionWriteRequestInto(b, msgId, region, offset, data.length, data, flags);
  return b;
}

/** 16 bytes plus exactly `count` bytes of data; count within `maxDataXferSize` (E2BIG). */
export function decodeRegionWriteRequestPayload(
  p: Uint8Array,
  fds: readonly number[] = [],
  limits: RegionAccessLimits = {},
): RegionAccessWithData {
  requireNoFds(fds, 'REGION_WRITE');
  return readAccessWithData(p, 'REGION_WRITE', (head) => readAccess(head, 'REGION_WRITE', limits));
}

/** Decodes a REGION_WRITE command: EINVAL when malformed or with a data length other than count, E2BIG for a count above `maxDataXferSize`. */
export function decodeRegionWriteRequest(
  message: Uint8Array,
  fds: readonly number[] = [],
  limits: RegionAccessLimits = {},
): RegionAccessWithData {
  return decodeRegionWriteRequestPayload(openCommand(message, Command.REGION_WRITE).payload, fds, limits);
}

/** Reply to a write of `count` bytes: 32 bytes, no data. */
export function encodeRegionWriteReplyInto(b: Uint8Array, msgId: number, region: number, offset: U64, count: number): number {
  const size = REGION_RW_DATA_OFFSET;
  requireRoom(b, size, 'REGION_WRITE reply');
  writeAccess(b, msgId, Command.REGION_WRITE, size, MessageType.REPLY, region, offset, count);
  return size;
}

/** Encodes the REGION_WRITE reply: the request's offset and region, and the count written. */
export function encodeRegionWriteReply(msgId: number, region: number, offset: U64, count: number): Buffer {
  checkU16(msgId, 'message id');
  checkArgs(region, offset, count);
  const b = Buffer.alloc(REGION_RW_DATA_OFFSET);
  encodeRegionWriteReplyInto(b, msgId, region, offset, count);
  return b;
}

/** Exactly 16 bytes. */
export function decodeRegionWriteReply(message: Uint8Array): RegionAccess {
  const p = openReply(message, Command.REGION_WRITE).payload;
  requireLength(p, REGION_ACCESS_SIZE, 'REGION_WRITE reply');
  return readAccess(p, 'REGION_WRITE reply', {});
}

// ------------------------------------------------- in-place reply checks

function checkRegionReplyHead(m: Uint8Array, len: number, command: number, msgId: number): void {
  checkReplyHead(m, len, command, msgId);
  if (len < REGION_RW_DATA_OFFSET) throw fail('EINVAL', `reply of ${len} bytes is shorter than a region access reply`);
}

function checkReplyAccess(m: Uint8Array, region: number, offset: U64, requested: number): number {
  const off = HEADER_SIZE;
  checkEchoedU64(m, off, offset, 'offset');
  if (readU32(m, off + 8) !== region) throw fail('EINVAL', `reply for region ${readU32(m, off + 8)}, expected ${region}`);
  const count = readU32(m, off + 12);
  if (count > requested) throw fail('E2BIG', `reply count ${count} exceeds the ${requested} bytes asked for`);
  return count;
}

/**
 * Validates a REGION_READ reply in place against the request it answers;
 * returns the count of bytes read, which are at REGION_RW_DATA_OFFSET. The
 * reply is the first `length` bytes of `m` (default: all of it), so a
 * preallocated receive buffer needs no view. An error reply throws PeerError.
 * Allocates nothing when `offset` is a number.
 */
export function checkRegionReadReply(m: Uint8Array, msgId: number, region: number, offset: U64, count: number, length = m.length): number {
  checkRegionReplyHead(m, length, Command.REGION_READ, msgId);
  const n = checkReplyAccess(m, region, offset, count);
  if (length !== REGION_RW_DATA_OFFSET + n) throw fail('EINVAL', `REGION_READ reply of ${length} bytes for count ${n}`);
  return n;
}

/** Validates a REGION_WRITE reply (the first `length` bytes of `m`) in place; returns the count written. */
export function checkRegionWriteReply(m: Uint8Array, msgId: number, region: number, offset: U64, count: number, length = m.length): number {
  checkRegionReplyHead(m, length, Command.REGION_WRITE, msgId);
  const n = checkReplyAccess(m, region, offset, count);
  if (length !== REGION_RW_DATA_OFFSET) throw fail('EINVAL', `REGION_WRITE reply of ${length} bytes carries data`);
  return n;
}
