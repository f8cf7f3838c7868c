// REGION_READ / REGION_WRITE without objects: a peek that reads the header
// and the access fields of a received message into a record the caller keeps,
// and the in-place encoder of the reply. The server's region-access paths
// (its allocation-free fast path and its general handler) both answer with
// encodeRegionAccessReplyInto, so a region reply has one wire format.
//
// Layout (region-rw.ts): header, then u64 offset, u32 region, u32 count at
// HEADER_SIZE + 0/8/12; a read's data (reply) and a write's data (request) at
// REGION_RW_DATA_OFFSET.

import { Command } from './commands.js';
import { HEADER_SIZE, MessageType, writeHeaderFields } from './header.js';
import { REGION_RW_DATA_OFFSET } from './region-rw.js';
import { readU16, readU32, writeU32, writeU64, type U64 } from './wire.js';

const TWO_32 = 0x1_0000_0000;
/** Offsets from 2^53 on do not fit a number exactly. */
const SAFE_OFFSET_HIGH = 0x20_0000;

/** The fields of a region access as peekRegionAccess reads them (a record reused from message to message). */
export interface RegionAccessFields {
  msgId: number;
  command: number;
  /** The header's size field (of the whole message). */
  size: number;
  flags: number;
  errno: number;
  /** The offset as a number; exact only when `offsetSafe`. */
  offset: number;
  /** The offset is below 2^53 (so `offset` is exact). */
  offsetSafe: boolean;
  region: number;
  count: number;
}

/** A record for peekRegionAccess to fill. */
export function newRegionAccessFields(): RegionAccessFields {
  return { msgId: 0, command: 0, size: 0, flags: 0, errno: 0, offset: 0, offsetSafe: true, region: 0, count: 0 };
}

/**
 * Reads the header and the access fields of the message at the start of
 * `b` (whose first `length` bytes were received) into `out`, allocating
 * nothing. Returns false, leaving `out` partly filled, when fewer than
 * REGION_RW_DATA_OFFSET bytes are there. It checks nothing else: the command
 * may be any, the sizes may disagree; the caller decides what it accepts.
 */
export function peekRegionAccess(b: Uint8Array, length: number, out: RegionAccessFields): boolean {
  if (length < REGION_RW_DATA_OFFSET || b.length < REGION_RW_DATA_OFFSET) return false;
  out.msgId = readU16(b, 0);
  out.command = readU16(b, 2);
  out.size = readU32(b, 4);
  out.flags = readU32(b, 8);
  out.errno = readU32(b, 12);
  const high = readU32(b, HEADER_SIZE + 4);
  out.offset = high * TWO_32 + readU32(b, HEADER_SIZE);
  out.offsetSafe = high < SAFE_OFFSET_HIGH;
  out.region = readU32(b, HEADER_SIZE + 8);
  out.count = readU32(b, HEADER_SIZE + 12);
  return true;
}

/**
 * Writes the reply to a REGION_READ or REGION_WRITE of `count` bytes at
 * `offset` of `region` into `b` at 0, and returns the reply's
 * length: REGION_RW_DATA_OFFSET + count for a read (whose data the caller has
 * put, or will put, at REGION_RW_DATA_OFFSET), REGION_RW_DATA_OFFSET for a
 * write. Allocates nothing for a number offset; RangeError when `b` is too small or `command` is
 * neither.
 */
export function encodeRegionAccessReplyInto(
  b: Uint8Array,
  msgId: number,
  command: number,
  region: number,
  offset: U64,
  count: number,
): number {
  let size: number;
  if (command === Command.REGION_READ) size = REGION_RW_DATA_OFFSET + count;
  else if (command === Command.REGION_WRITE) size = REGION_RW_DATA_OFFSET;
  else throw new RangeError(`command ${command} is not a region access`);
  if (b.length < size) throw new RangeError(`a ${size}-byte region access reply does not fit ${b.length} bytes`);
  writeHeaderFields(b, msgId, command, size, MessageType.REPLY, 0);
  writeU64(b, HEADER_SIZE, offset);
  writeU32(b, HEADER_SIZE + 8, region);
  writeU32(b, HEADER_SIZE + 12, count);
  return size;
}
