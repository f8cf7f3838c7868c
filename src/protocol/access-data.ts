// What REGION_READ/REGION_WRITE (region-rw.ts) and DMA_READ/DMA_WRITE
// (dma-rw.ts) have in common: a 16-byte head naming a range and a byte count,
// then, in one direction, exactly `count` bytes of data. The count is bounded
// by the receiver's max_data_xfer_size and the range must not wrap past 2^64.

import { fail } from '../errors.js';
import { hex } from '../util/format.js';
import { HEADER_SIZE } from './header.js';
import { requireRoom } from './message.js';
import { U64_MAX, requireAtLeast, requireLength } from './wire.js';

/** Bytes of the access head (the range and count) before the data. */
export const ACCESS_HEAD_SIZE = 16;
/** Where the data starts in a whole message. */
export const ACCESS_DATA_OFFSET = HEADER_SIZE + ACCESS_HEAD_SIZE;

/** E2BIG for a count above `maxDataXferSize`; EINVAL for `start` + count past 2^64 (`startName` says which field). */
export function checkAccessRange(what: string, startName: string, start: bigint, count: number, maxDataXferSize: number | undefined): void {
  if (maxDataXferSize !== undefined && count > maxDataXferSize) {
    throw fail('E2BIG', `${what}: count ${count} exceeds max_data_xfer_size ${maxDataXferSize}`);
  }
  if (start + BigInt(count) > U64_MAX + 1n) throw fail('EINVAL', `${what}: ${startName} ${hex(start)} + count ${count} wraps past 2^64`);
}

/**
 * The length of a message of the head and `count` bytes of data, checked to fit in `b` (EMSGSIZE) and, when
 * `data` is given, that it is `count` bytes (EINVAL).
 */
export function accessMessageSize(b: Uint8Array, what: string, count: number, data: Uint8Array | undefined): number {
  const size = ACCESS_DATA_OFFSET + count;
  requireRoom(b, size, what);
  if (data !== undefined && data.length !== count) throw fail('EINVAL', `${what}: ${data.length} bytes of data for count ${count}`);
  return size;
}

/** Copies `data` to where a message's data starts; without it the caller writes the data there. */
export function putAccessData(b: Uint8Array, data: Uint8Array | undefined): void {
  if (data !== undefined) b.set(data, ACCESS_DATA_OFFSET);
}

/** A payload of the head, read by `readHead`, then exactly its count of data bytes (EINVAL otherwise). */
export function readAccessWithData<A extends { count: number }>(
  p: Uint8Array,
  what: string,
  readHead: (p: Uint8Array) => A,
): A & { data: Uint8Array } {
  requireAtLeast(p, ACCESS_HEAD_SIZE, what);
  const a = readHead(p);
  requireLength(p, ACCESS_HEAD_SIZE + a.count, `${what} with count ${a.count}`);
  return { ...a, data: p.subarray(ACCESS_HEAD_SIZE) };
}
