// VFIO_USER_REGION_WRITE_MULTI: several small region writes in one message,
// used by a client whose send queue is backing up (QEMU sends it with
// no-reply). Only between peers that both announced `write_multiple`.
//
// Request: 0 u64 wr_cnt, then wr_cnt entries of 24 bytes:
//   0 u64 offset  8 u32 region  12 u32 count (1..8)  16 data[8] (count bytes used)
// Reply: 0 u64 wr_cnt, the number of writes completed.

import { fail } from '../errors.js';
import { Command } from './commands.js';
import { HEADER_SIZE } from './header.js';
import { newCommand, newReply, openCommand, openReply } from './message.js';
import {
  U64_MAX,
  checkU32,
  checkU64,
  readU32,
  readU64,
  readU64Number,
  requireAtLeast,
  requireLength,
  requireNoFds,
  toBigInt,
  writeU32,
  writeU64,
  type U64,
} from './wire.js';

/** Size of one REGION_WRITE_MULTI entry (u64 offset, u32 region, u32 count, 8 data bytes). */
export const WRITE_MULTI_ENTRY_SIZE = 24;
/** Data bytes one entry can carry. */
export const WRITE_MULTI_MAX_DATA = 8;

/** One decoded write of a REGION_WRITE_MULTI. */
export interface MultiWrite {
  offset: bigint;
  region: number;
  /** `count` bytes (a view into the message). */
  data: Uint8Array;
}

/** One write for a REGION_WRITE_MULTI (1 to 8 bytes). */
export interface MultiWriteArgs {
  offset: U64;
  region: number;
  data: Uint8Array;
}

/** Receiver limits the REGION_WRITE_MULTI decoder checks. */
export interface WriteMultiLimits {
  numRegions?: number;
}

/** Encodes REGION_WRITE_MULTI of `writes`; EINVAL for none, one outside 1 to 8 bytes or a range wrapping past 2^64. */
export function encodeRegionWriteMultiRequest(msgId: number, writes: readonly MultiWriteArgs[], flags = 0): Buffer {
  if (writes.length === 0) throw fail('EINVAL', 'REGION_WRITE_MULTI: no writes');
  const b = newCommand(msgId, Command.REGION_WRITE_MULTI, 8 + WRITE_MULTI_ENTRY_SIZE * writes.length, flags);
  writeU64(b, HEADER_SIZE, writes.length);
  writes.forEach((w, i) => {
    const at = HEADER_SIZE + 8 + WRITE_MULTI_ENTRY_SIZE * i;
    checkU32(w.region, 'region index');
    const offset = toBigInt(checkU64(w.offset, 'region offset'));
    if (w.data.length < 1 || w.data.length > WRITE_MULTI_MAX_DATA) {
      throw fail('EINVAL', `REGION_WRITE_MULTI write ${i}: ${w.data.length} bytes, 1 to ${WRITE_MULTI_MAX_DATA} allowed`);
    }
    if (offset + BigInt(w.data.length) > U64_MAX + 1n) throw fail('EINVAL', `REGION_WRITE_MULTI write ${i}: range wraps past 2^64`);
    writeU64(b, at, offset);
    writeU32(b, at + 8, w.region);
    writeU32(b, at + 12, w.data.length);
    b.set(w.data, at + 16);
  });
  return b;
}

/**
 * Decodes the request: wr_cnt at least 1 and exactly filling the payload;
 * each count 1 to 8; ranges not wrapping; regions below `numRegions` when
 * given. The unused tail of each 8-byte data field is ignored. EINVAL otherwise.
 */
export function decodeRegionWriteMultiRequestPayload(
  p: Uint8Array,
  fds: readonly number[] = [],
  limits: WriteMultiLimits = {},
): MultiWrite[] {
  requireNoFds(fds, 'REGION_WRITE_MULTI');
  requireAtLeast(p, 8, 'REGION_WRITE_MULTI');
  const n = readU64Number(p, 0, 'REGION_WRITE_MULTI wr_cnt');
  if (n === 0) throw fail('EINVAL', 'REGION_WRITE_MULTI: wr_cnt is zero');
  if (n > (p.length - 8) / WRITE_MULTI_ENTRY_SIZE) {
    throw fail(
      'EINVAL',
      `REGION_WRITE_MULTI: wr_cnt ${n} but the payload holds ${Math.floor((p.length - 8) / WRITE_MULTI_ENTRY_SIZE)} entries`,
    );
  }
  requireLength(p, 8 + WRITE_MULTI_ENTRY_SIZE * n, `REGION_WRITE_MULTI with wr_cnt ${n}`);
  const writes: MultiWrite[] = [];
  for (let i = 0; i < n; i++) {
    const at = 8 + WRITE_MULTI_ENTRY_SIZE * i;
    const offset = readU64(p, at);
    const region = readU32(p, at + 8);
    const count = readU32(p, at + 12);
    if (count < 1 || count > WRITE_MULTI_MAX_DATA) {
      throw fail('EINVAL', `REGION_WRITE_MULTI write ${i}: count ${count}, 1 to ${WRITE_MULTI_MAX_DATA} allowed`);
    }
    if (offset + BigInt(count) > U64_MAX + 1n) throw fail('EINVAL', `REGION_WRITE_MULTI write ${i}: range wraps past 2^64`);
    if (limits.numRegions !== undefined && region >= limits.numRegions) {
      throw fail('EINVAL', `REGION_WRITE_MULTI write ${i}: region index ${region} out of range (${limits.numRegions} regions)`);
    }
    writes.push({ offset, region, data: p.subarray(at + 16, at + 16 + count) });
  }
  return writes;
}

/** Decodes a REGION_WRITE_MULTI command (checks as decodeRegionWriteMultiRequestPayload); EINVAL when malformed. */
export function decodeRegionWriteMultiRequest(
  message: Uint8Array,
  fds: readonly number[] = [],
  limits: WriteMultiLimits = {},
): MultiWrite[] {
  return decodeRegionWriteMultiRequestPayload(openCommand(message, Command.REGION_WRITE_MULTI).payload, fds, limits);
}

/** Encodes the REGION_WRITE_MULTI reply: the number of writes completed. */
export function encodeRegionWriteMultiReply(msgId: number, completed: number): Buffer {
  const b = newReply(msgId, Command.REGION_WRITE_MULTI, 8);
  writeU64(b, HEADER_SIZE, checkU64(completed, 'wr_cnt'));
  return b;
}

/** 8 bytes: the number of writes completed. */
export function decodeRegionWriteMultiReply(message: Uint8Array): { completed: number } {
  const p = openReply(message, Command.REGION_WRITE_MULTI).payload;
  requireLength(p, 8, 'REGION_WRITE_MULTI reply');
  return { completed: readU64Number(p, 0, 'REGION_WRITE_MULTI reply wr_cnt') };
}
