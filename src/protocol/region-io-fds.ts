// VFIO_USER_DEVICE_GET_REGION_IO_FDS: sub-ranges of a region the server
// wants to be told about through file descriptors (ioeventfd / ioregionfd,
// e.g. registered with KVM) instead of REGION_WRITE messages.
//
// Request (16 bytes): 0 u32 argsz  4 u32 flags (0)  8 u32 index  12 u32 count (0)
// Reply: the same 16 bytes (argsz = size of the full reply, flags 0, count =
// number of sub-regions), then `count` descriptors of 40 bytes:
//   0 u64 offset  8 u64 size  16 u32 fd_index  20 u32 type  24 u32 flags
//   28 u32 padding (0)  32 u64 datamatch (ioeventfd) / user_data (ioregionfd)
// The reply's descriptors ride along (SCM_RIGHTS); fd_index picks one, and
// sub-regions may share one. If argsz is too small for the array the reply is
// the 16 bytes alone (argsz and count say what is needed) without descriptors.
// The specification places entry i at i * ((argsz - 32) / count); the fixed
// part is 16 bytes, so we read the stride as (argsz - 16) / count, which is
// what libvfio-user sends (40).

import { fail } from '../errors.js';
import { Command } from './commands.js';
import { HEADER_SIZE } from './header.js';
import { decodeInfoQuery, encodeInfoQuery, type InfoQuery } from './info-query.js';
import { newReply, openCommand, openReply } from './message.js';
import { struct } from './struct.js';
import { checkU32, checkU64, overflowsU64, requireAtLeast, requireLength, requireNoFds, requireZero, toBigInt, type U64 } from './wire.js';

/** struct vfio_region_io_fds_request: the request, and the head of the reply. */
const REGION_IO_FDS = struct('DEVICE_GET_REGION_IO_FDS', [
  ['argsz', 'u32'],
  ['flags', 'u32'],
  ['index', 'u32'],
  ['count', 'u32'],
] as const);
/** One entry of the reply's array; `data` is datamatch (ioeventfd) or user_data (ioregionfd). */
const SUB_REGION = struct('sub-region', [
  ['offset', 'u64'],
  ['size', 'u64'],
  ['fdIndex', 'u32'],
  ['type', 'u32'],
  ['flags', 'u32'],
  ['padding', 'u32'],
  ['data', 'u64'],
] as const);
/** Size of the DEVICE_GET_REGION_IO_FDS request, and of the reply before its array (16 bytes). */
export const REGION_IO_FDS_SIZE = REGION_IO_FDS.size;
/** Size of one sub-region entry of the DEVICE_GET_REGION_IO_FDS reply (40 bytes). */
export const SUB_REGION_SIZE = SUB_REGION.size;
const QUERY: InfoQuery = {
  command: Command.DEVICE_GET_REGION_IO_FDS,
  name: 'DEVICE_GET_REGION_IO_FDS',
  layout: REGION_IO_FDS,
  minimum: 'reply',
  index: { what: 'region', unit: 'regions' },
};

/** Sub-region type 0: an ioeventfd, signalled on writes (optionally matching datamatch). */
export const IO_FD_TYPE_IOEVENTFD = 0;
/** Sub-region type 1: an ioregionfd, which carries the reads and writes themselves. */
export const IO_FD_TYPE_IOREGIONFD = 1;

/** KVM_IOEVENTFD flags allowed for an ioeventfd sub-region. */
export const KVM_IOEVENTFD_FLAG_DATAMATCH = 1 << 0;
/** ioeventfd flag: the sub-region is port I/O rather than MMIO. */
export const KVM_IOEVENTFD_FLAG_PIO = 1 << 1;
/** ioeventfd flag: a virtio-ccw notification (s390). */
export const KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY = 1 << 3;
const IOEVENTFD_FLAGS = KVM_IOEVENTFD_FLAG_DATAMATCH | KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY;

/** ioregionfd flags (from the KVM ioregionfd proposal the specification cites). */
export const KVM_IOREGION_PIO = 1 << 0;
/** ioregionfd flag: writes are posted (no response is awaited). */
export const KVM_IOREGION_POSTED_WRITES = 1 << 1;
const IOREGION_FLAGS = KVM_IOREGION_PIO | KVM_IOREGION_POSTED_WRITES;

/** A decoded sub-region entry. */
export type SubRegion =
  | { type: 'ioeventfd'; offset: bigint; size: bigint; fdIndex: number; flags: number; datamatch: bigint }
  | { type: 'ioregionfd'; offset: bigint; size: bigint; fdIndex: number; flags: number; userData: bigint };

/** A sub-region as a server describes it for the reply. */
export type SubRegionArgs =
  | { type: 'ioeventfd'; offset: U64; size: U64; fdIndex: number; flags: number; datamatch?: U64 }
  | { type: 'ioregionfd'; offset: U64; size: U64; fdIndex: number; flags: number; userData?: U64 };

/** A decoded DEVICE_GET_REGION_IO_FDS request: room for the reply and the region index. */
export interface RegionIoFdsRequest {
  argsz: number;
  index: number;
}

/** A decoded DEVICE_GET_REGION_IO_FDS reply, with the descriptors that came with it. */
export interface RegionIoFdsReply {
  argsz: number;
  index: number;
  /** Sub-regions the server has (even when the array did not fit). */
  count: number;
  subRegions: SubRegion[];
  /** The array did not fit the request's argsz: ask again with `argsz`. */
  truncated: boolean;
  fds: readonly number[];
}

// ----------------------------------------------------------------- request

/** Encodes DEVICE_GET_REGION_IO_FDS for region `index` with `argsz` bytes of room for the reply; EINVAL for argsz below 16. */
export function encodeRegionIoFdsRequest(msgId: number, index: number, argsz = REGION_IO_FDS_SIZE, flags = 0): Buffer {
  return encodeInfoQuery(QUERY, msgId, index, argsz, flags);
}

/** 16 bytes; argsz at least 16; flags and count zero; index below `numRegions` when given. EINVAL otherwise. */
export function decodeRegionIoFdsRequestPayload(
  p: Uint8Array,
  fds: readonly number[] = [],
  opts: { numRegions?: number } = {},
): RegionIoFdsRequest {
  return decodeInfoQuery(QUERY, p, fds, opts.numRegions);
}

/** Decodes a DEVICE_GET_REGION_IO_FDS command (checks as decodeRegionIoFdsRequestPayload); EINVAL when malformed. */
export function decodeRegionIoFdsRequest(
  message: Uint8Array,
  fds: readonly number[] = [],
  opts: { numRegions?: number } = {},
): RegionIoFdsRequest {
  return decodeRegionIoFdsRequestPayload(openCommand(message, Command.DEVICE_GET_REGION_IO_FDS).payload, fds, opts);
}

// ------------------------------------------------------------------- reply

function checkSubRegion(s: SubRegion, i: number, nfds: number): void {
  if (s.fdIndex >= nfds) throw fail('EINVAL', `sub-region ${i}: fd_index ${s.fdIndex} but ${nfds} descriptors`);
  if (overflowsU64(s.offset, s.size)) throw fail('EINVAL', `sub-region ${i}: range wraps past 2^64`);
  if (s.type === 'ioeventfd') {
    if (s.flags & ~IOEVENTFD_FLAGS) throw fail('EINVAL', `sub-region ${i}: ioeventfd flags 0x${s.flags.toString(16)}`);
  } else {
    if (s.flags & ~IOREGION_FLAGS) throw fail('EINVAL', `sub-region ${i}: ioregionfd flags 0x${s.flags.toString(16)}`);
    if (s.size === 0n && !(s.flags & KVM_IOREGION_POSTED_WRITES)) {
      throw fail('EINVAL', `sub-region ${i}: an ioregionfd of size 0 needs POSTED_WRITES`);
    }
  }
}

/**
 * Builds the reply for a request with `requestArgsz`, given the sub-regions
 * and the number of descriptors that will accompany it. `sendFds` is false
 * when the array did not fit and only the 16-byte head is sent.
 */
export function encodeRegionIoFdsReply(
  msgId: number,
  requestArgsz: number,
  index: number,
  subRegions: readonly SubRegionArgs[],
  fdCount: number,
): { message: Buffer; sendFds: boolean; argsz: number } {
  checkU32(index, 'region index');
  if (requestArgsz < REGION_IO_FDS_SIZE) {
    throw fail('EINVAL', `DEVICE_GET_REGION_IO_FDS: argsz ${requestArgsz} is smaller than the ${REGION_IO_FDS_SIZE}-byte reply`);
  }
  const subs: SubRegion[] = subRegions.map((s) =>
    s.type === 'ioeventfd'
      ? {
          type: 'ioeventfd',
          offset: toBigInt(checkU64(s.offset, 'sub-region offset')),
          size: toBigInt(checkU64(s.size, 'sub-region size')),
          fdIndex: checkU32(s.fdIndex, 'fd_index'),
          flags: checkU32(s.flags, 'sub-region flags'),
          datamatch: toBigInt(checkU64(s.datamatch ?? 0, 'datamatch')),
        }
      : {
          type: 'ioregionfd',
          offset: toBigInt(checkU64(s.offset, 'sub-region offset')),
          size: toBigInt(checkU64(s.size, 'sub-region size')),
          fdIndex: checkU32(s.fdIndex, 'fd_index'),
          flags: checkU32(s.flags, 'sub-region flags'),
          userData: toBigInt(checkU64(s.userData ?? 0, 'user_data')),
        },
  );
  subs.forEach((s, i) => {
    checkSubRegion(s, i, fdCount);
  });
  if (subs.length > 0 && fdCount === 0) throw fail('EINVAL', 'DEVICE_GET_REGION_IO_FDS reply: sub-regions without descriptors');
  const full = checkU32(REGION_IO_FDS_SIZE + SUB_REGION_SIZE * subs.length, 'region io fds size');
  const whole = requestArgsz >= full;
  const b = newReply(msgId, Command.DEVICE_GET_REGION_IO_FDS, whole ? full : REGION_IO_FDS_SIZE);
  REGION_IO_FDS.write(b, { argsz: full, index, count: subs.length }, HEADER_SIZE);
  if (whole) {
    subs.forEach((s, i) => {
      const ioeventfd = s.type === 'ioeventfd';
      SUB_REGION.write(
        b,
        {
          offset: s.offset,
          size: s.size,
          fdIndex: s.fdIndex,
          type: ioeventfd ? IO_FD_TYPE_IOEVENTFD : IO_FD_TYPE_IOREGIONFD,
          flags: s.flags,
          data: ioeventfd ? s.datamatch : s.userData,
        },
        HEADER_SIZE + REGION_IO_FDS_SIZE + SUB_REGION_SIZE * i,
      );
    });
  }
  return { message: b, sendFds: whole && subs.length > 0, argsz: full };
}

/**
 * Decodes a reply: flags zero; a whole reply is exactly argsz bytes with a
 * whole number of entries of at least 40 bytes each, every entry of a known
 * type with its allowed flags, zero padding and an fd_index below the number
 * of descriptors received; at least one descriptor when there are entries. A
 * reply of just the 16-byte head below its argsz is cut short (no entries, no
 * descriptors). EINVAL otherwise.
 */
export function decodeRegionIoFdsReply(message: Uint8Array, fds: readonly number[] = [], opts: { index?: number } = {}): RegionIoFdsReply {
  const p = openReply(message, Command.DEVICE_GET_REGION_IO_FDS).payload;
  requireAtLeast(p, REGION_IO_FDS_SIZE, 'DEVICE_GET_REGION_IO_FDS reply');
  const { argsz, flags, index, count } = REGION_IO_FDS.read(p);
  requireZero(flags, 'DEVICE_GET_REGION_IO_FDS reply flags');
  if (opts.index !== undefined && index !== opts.index) {
    throw fail('EINVAL', `DEVICE_GET_REGION_IO_FDS reply for region ${index}, asked for ${opts.index}`);
  }
  if (argsz < REGION_IO_FDS_SIZE) throw fail('EINVAL', `DEVICE_GET_REGION_IO_FDS reply: argsz ${argsz} is below 16`);
  if (p.length < argsz) {
    requireLength(p, REGION_IO_FDS_SIZE, 'cut-short DEVICE_GET_REGION_IO_FDS reply');
    requireNoFds(fds, 'cut-short DEVICE_GET_REGION_IO_FDS reply');
    return { argsz, index, count, subRegions: [], truncated: true, fds };
  }
  requireLength(p, argsz, 'DEVICE_GET_REGION_IO_FDS reply');
  const arrayBytes = argsz - REGION_IO_FDS_SIZE;
  if (count === 0) {
    if (arrayBytes !== 0) throw fail('EINVAL', `DEVICE_GET_REGION_IO_FDS reply: ${arrayBytes} bytes of entries but count 0`);
    requireNoFds(fds, 'DEVICE_GET_REGION_IO_FDS reply without sub-regions');
    return { argsz, index, count, subRegions: [], truncated: false, fds };
  }
  const stride = arrayBytes / count;
  if (!Number.isInteger(stride) || stride < SUB_REGION_SIZE) {
    throw fail('EINVAL', `DEVICE_GET_REGION_IO_FDS reply: ${arrayBytes} bytes do not hold ${count} entries of at least ${SUB_REGION_SIZE}`);
  }
  if (fds.length === 0) throw fail('EINVAL', 'DEVICE_GET_REGION_IO_FDS reply: sub-regions without descriptors');
  const subRegions: SubRegion[] = [];
  for (let i = 0; i < count; i++) {
    const { type, padding, data, ...common } = SUB_REGION.read(p, REGION_IO_FDS_SIZE + stride * i);
    requireZero(padding, `sub-region ${i} padding`);
    let s: SubRegion;
    if (type === IO_FD_TYPE_IOEVENTFD) s = { type: 'ioeventfd', ...common, datamatch: data };
    else if (type === IO_FD_TYPE_IOREGIONFD) s = { type: 'ioregionfd', ...common, userData: data };
    else throw fail('EINVAL', `sub-region ${i}: unknown type ${type}`);
    checkSubRegion(s, i, fds.length);
    subRegions.push(s);
  }
  return { argsz, index, count, subRegions, truncated: false, fds };
}
