// VFIO_USER_DEVICE_GET_REGION_INFO: one region's size, access rights,
// mappability and capability chain (struct vfio_region_info and the
// vfio_info_cap_header chain of <linux/vfio.h>).
//
// Payload (32 bytes, then capabilities in the reply):
//   0 u32 argsz  4 u32 flags (READ 1, WRITE 2, MMAP 4, CAPS 8)  8 u32 index
//   12 u32 cap_offset  16 u64 size  24 u64 offset (to mmap the attached fd at)
// In the request only argsz (the room for the reply, at least 32) and index
// are set; the rest is zero. The reply's argsz is the size of the full reply,
// structure plus capabilities. When that is more than the request's argsz the
// reply is cut to the bare 32-byte structure (CAPS clear, cap_offset 0, no fd)
// so the client can ask again with the argsz it was told.
//
// Each capability starts with u16 id, u16 version, u32 next (offset of the next
// one from the start of the structure, 0 ends the chain):
//   id 1 SPARSE_MMAP v1: u32 nr_areas, u32 reserved, nr_areas x {u64 offset, u64 size}
//   id 2 TYPE v1:        u32 type, u32 subtype
//   id 3 MSIX_MAPPABLE:  header only
// A region with MMAP comes with one fd (SCM_RIGHTS) that the client mmaps at
// `offset` (+ an area's offset for sparse regions).

import { fail } from '../errors.js';
import { Command } from './commands.js';
import { HEADER_SIZE } from './header.js';
import { decodeInfoQuery, encodeInfoQuery, type InfoQuery } from './info-query.js';
import { newReply, openCommand, openReply } from './message.js';
import { struct } from './struct.js';
import {
  checkU16,
  checkU32,
  checkU64,
  overflowsU64,
  readU16,
  readU32,
  readU64,
  requireAtLeast,
  requireZero,
  toBigInt,
  writeU16,
  writeU32,
  writeU64,
  type U64,
} from './wire.js';
import { pciRegion, regionCap, regionFlags } from '../uapi/vfio.js';

/** struct vfio_region_info: request and reply. */
const REGION_INFO = struct('DEVICE_GET_REGION_INFO', [
  ['argsz', 'u32'],
  ['flags', 'u32'],
  ['index', 'u32'],
  ['capOffset', 'u32'],
  ['size', 'u64'],
  ['offset', 'u64'],
] as const);
/** Size of struct vfio_region_info, the DEVICE_GET_REGION_INFO payload before capabilities (32 bytes). */
export const REGION_INFO_SIZE = REGION_INFO.size;
const QUERY: InfoQuery = {
  command: Command.DEVICE_GET_REGION_INFO,
  name: 'DEVICE_GET_REGION_INFO',
  layout: REGION_INFO,
  minimum: 'structure',
  index: { what: 'region', unit: 'regions' },
};

/** Region info flag: the region supports reads. */
export const REGION_INFO_FLAG_READ = regionFlags.READ;
/** Region info flag: the region supports writes. */
export const REGION_INFO_FLAG_WRITE = regionFlags.WRITE;
/** Region info flag: the region may be mmapped through the descriptor sent with the reply. */
export const REGION_INFO_FLAG_MMAP = regionFlags.MMAP;
/** Region info flag: a capability chain starts at cap_offset. */
export const REGION_INFO_FLAG_CAPS = regionFlags.CAPS;
const REGION_INFO_FLAGS = 0xf;

/** Region capability ID 1: only the listed areas may be mmapped. */
export const REGION_INFO_CAP_SPARSE_MMAP = regionCap.SPARSE_MMAP;
/** Region capability ID 2: the region's type and subtype. */
export const REGION_INFO_CAP_TYPE = regionCap.TYPE;
/** Region capability ID 3: the MSI-X table's part of the BAR may be mmapped too. */
export const REGION_INFO_CAP_MSIX_MAPPABLE = regionCap.MSIX_MAPPABLE;
/** Size of a region capability header (struct vfio_info_cap_header: u16 id, u16 version, u32 next). */
export const CAP_HEADER_SIZE = 8;

/** PCI region indexes (vfio-pci): BAR0-5 are 0-5. */
export const PCI_ROM_REGION_INDEX = pciRegion.ROM;
/** vfio-pci region index of config space. */
export const PCI_CONFIG_REGION_INDEX = pciRegion.CONFIG;
/** vfio-pci region index of the legacy VGA ranges. */
export const PCI_VGA_REGION_INDEX = pciRegion.VGA;

/** One mmappable area of a region, relative to the region's start. */
export interface SparseMmapArea {
  offset: bigint;
  size: bigint;
}

/** A region capability from the chain, decoded. */
export type RegionCapability =
  | { kind: 'sparse-mmap'; areas: SparseMmapArea[] }
  | { kind: 'type'; type: number; subtype: number }
  | { kind: 'msix-mappable' }
  /** A capability this codec does not interpret: its bytes after the 8-byte header. */
  | { kind: 'unknown'; id: number; version: number; data: Uint8Array };

/** A decoded DEVICE_GET_REGION_INFO request: room for the reply and the region index. */
export interface RegionInfoRequest {
  argsz: number;
  index: number;
}

/** What a server describes; the CAPS flag and cap_offset are derived from `caps`. */
export interface RegionInfo {
  /** READ / WRITE / MMAP. */
  flags: number;
  index: number;
  size: U64;
  offset: U64;
  caps?: RegionCapability[];
}

/** A decoded DEVICE_GET_REGION_INFO reply. */
export interface RegionInfoReply {
  argsz: number;
  flags: number;
  index: number;
  capOffset: number;
  size: bigint;
  offset: bigint;
  caps: RegionCapability[];
  /** The full reply did not fit the request's argsz: ask again with `argsz`. */
  truncated: boolean;
  /** The region's fd, for MMAP regions. */
  fd: number | undefined;
}

// ----------------------------------------------------------------- request

/** Encodes DEVICE_GET_REGION_INFO for region `index` with `argsz` bytes of room for the reply; EINVAL for argsz below 32. */
export function encodeRegionInfoRequest(msgId: number, index: number, argsz = REGION_INFO_SIZE, flags = 0): Buffer {
  return encodeInfoQuery(QUERY, msgId, index, argsz, flags);
}

/**
 * Decodes the request: 32 bytes, argsz at least 32, every field but argsz and
 * index zero, and, when the caller knows the device's `numRegions`, an index
 * below it. All failures EINVAL.
 */
export function decodeRegionInfoRequestPayload(
  p: Uint8Array,
  fds: readonly number[] = [],
  opts: { numRegions?: number } = {},
): RegionInfoRequest {
  return decodeInfoQuery(QUERY, p, fds, opts.numRegions);
}

/** Decodes a DEVICE_GET_REGION_INFO command (checks as decodeRegionInfoRequestPayload); EINVAL when malformed. */
export function decodeRegionInfoRequest(
  message: Uint8Array,
  fds: readonly number[] = [],
  opts: { numRegions?: number } = {},
): RegionInfoRequest {
  return decodeRegionInfoRequestPayload(openCommand(message, Command.DEVICE_GET_REGION_INFO).payload, fds, opts);
}

// ------------------------------------------------------------ capabilities

function capSize(c: RegionCapability): number {
  switch (c.kind) {
    case 'sparse-mmap':
      return CAP_HEADER_SIZE + 8 + 16 * c.areas.length;
    case 'type':
      return CAP_HEADER_SIZE + 8;
    case 'msix-mappable':
      return CAP_HEADER_SIZE;
    case 'unknown':
      return CAP_HEADER_SIZE + c.data.length;
  }
}

/** Capabilities are laid out back to back, each starting 8-byte aligned. */
function align8(n: number): number {
  return (n + 7) & ~7;
}

function checkCaps(caps: readonly RegionCapability[], flags: number, regionSize: bigint): void {
  for (const c of caps) {
    if (c.kind === 'sparse-mmap') {
      if (!(flags & REGION_INFO_FLAG_MMAP)) throw fail('EINVAL', 'sparse mmap areas on a region without MMAP');
      for (const a of c.areas) {
        if (a.size === 0n) throw fail('EINVAL', `sparse mmap area at 0x${a.offset.toString(16)} is empty`);
        if (overflowsU64(a.offset, a.size) || a.offset + a.size > regionSize) {
          throw fail(
            'EINVAL',
            `sparse mmap area 0x${a.offset.toString(16)}+0x${a.size.toString(16)} exceeds the region (0x${regionSize.toString(16)})`,
          );
        }
      }
    } else if (c.kind === 'type') {
      checkU32(c.type, 'region type');
      checkU32(c.subtype, 'region subtype');
    } else if (c.kind === 'unknown') {
      checkU16(c.id, 'capability id');
      checkU16(c.version, 'capability version');
    }
  }
}

function writeCaps(b: Uint8Array, base: number, caps: readonly RegionCapability[]): void {
  let off = REGION_INFO_SIZE;
  caps.forEach((c, i) => {
    const at = base + off;
    const next = i + 1 < caps.length ? align8(off + capSize(c)) : 0;
    switch (c.kind) {
      case 'sparse-mmap':
        writeU16(b, at, REGION_INFO_CAP_SPARSE_MMAP);
        writeU16(b, at + 2, 1);
        writeU32(b, at + 8, c.areas.length);
        c.areas.forEach((a, j) => {
          writeU64(b, at + 16 + 16 * j, a.offset);
          writeU64(b, at + 24 + 16 * j, a.size);
        });
        break;
      case 'type':
        writeU16(b, at, REGION_INFO_CAP_TYPE);
        writeU16(b, at + 2, 1);
        writeU32(b, at + 8, c.type);
        writeU32(b, at + 12, c.subtype);
        break;
      case 'msix-mappable':
        writeU16(b, at, REGION_INFO_CAP_MSIX_MAPPABLE);
        writeU16(b, at + 2, 1);
        break;
      case 'unknown':
        writeU16(b, at, c.id);
        writeU16(b, at + 2, c.version);
        b.set(c.data, at + CAP_HEADER_SIZE);
        break;
    }
    writeU32(b, at + 4, next);
    off = align8(off + capSize(c));
  });
}

function capsLength(caps: readonly RegionCapability[]): number {
  let n = 0;
  caps.forEach((c, i) => {
    n = i + 1 < caps.length ? align8(n + capSize(c)) : n + capSize(c);
  });
  return n;
}

/**
 * Walks the chain from cap_offset. Every capability must lie inside the
 * payload, after the structure and after the previous one (so the walk always
 * ends), and the known ones must have their exact size. EINVAL otherwise.
 */
function parseCaps(p: Uint8Array, capOffset: number, flags: number, regionSize: bigint): RegionCapability[] {
  const caps: RegionCapability[] = [];
  let off = capOffset;
  let floor = REGION_INFO_SIZE;
  while (off !== 0) {
    if (off < floor) throw fail('EINVAL', `region capability at ${off} overlaps what precedes it (ends at ${floor})`);
    if (off + CAP_HEADER_SIZE > p.length) throw fail('EINVAL', `region capability at ${off} runs past the ${p.length}-byte reply`);
    const id = readU16(p, off);
    const version = readU16(p, off + 2);
    const next = readU32(p, off + 4);
    let end: number;
    if (id === REGION_INFO_CAP_SPARSE_MMAP && version === 1) {
      if (off + 16 > p.length) throw fail('EINVAL', `sparse mmap capability at ${off} is truncated`);
      const n = readU32(p, off + 8);
      requireZero(readU32(p, off + 12), 'sparse mmap reserved field');
      end = off + 16 + 16 * n;
      if (end > p.length) throw fail('EINVAL', `sparse mmap capability at ${off} claims ${n} areas, more than the reply holds`);
      const areas: SparseMmapArea[] = [];
      for (let i = 0; i < n; i++) areas.push({ offset: readU64(p, off + 16 + 16 * i), size: readU64(p, off + 24 + 16 * i) });
      caps.push({ kind: 'sparse-mmap', areas });
    } else if (id === REGION_INFO_CAP_TYPE && version === 1) {
      end = off + 16;
      if (end > p.length) throw fail('EINVAL', `type capability at ${off} is truncated`);
      caps.push({ kind: 'type', type: readU32(p, off + 8), subtype: readU32(p, off + 12) });
    } else if (id === REGION_INFO_CAP_MSIX_MAPPABLE) {
      end = off + CAP_HEADER_SIZE;
      caps.push({ kind: 'msix-mappable' });
    } else {
      end = next !== 0 ? next : p.length;
      if (end < off + CAP_HEADER_SIZE || end > p.length) {
        throw fail('EINVAL', `region capability ${id} at ${off}: next ${next} is outside the reply`);
      }
      caps.push({ kind: 'unknown', id, version, data: p.subarray(off + CAP_HEADER_SIZE, end) });
    }
    if (next !== 0 && next < end) throw fail('EINVAL', `region capability at ${off}: next ${next} points inside or before it`);
    floor = end;
    off = next;
  }
  checkCaps(caps, flags, regionSize);
  return caps;
}

// ------------------------------------------------------------------- reply

/**
 * Builds the reply to a request whose argsz was `requestArgsz`. When the full
 * reply (structure plus capabilities) fits, it is sent whole with CAPS set if
 * there are capabilities; otherwise only the 32-byte structure goes, with argsz
 * telling the size needed, CAPS clear and cap_offset 0. `sendFd` says whether
 * the region's fd belongs with this reply (MMAP and not cut short).
 */
export function encodeRegionInfoReply(
  msgId: number,
  requestArgsz: number,
  info: RegionInfo,
): { message: Buffer; sendFd: boolean; argsz: number } {
  checkU32(info.flags, 'region flags');
  checkU32(info.index, 'region index');
  if (requestArgsz < REGION_INFO_SIZE) {
    throw fail('EINVAL', `DEVICE_GET_REGION_INFO: argsz ${requestArgsz} is smaller than the ${REGION_INFO_SIZE}-byte structure`);
  }
  const flags = info.flags & ~REGION_INFO_FLAG_CAPS;
  if (flags & ~REGION_INFO_FLAGS) throw fail('EINVAL', `unknown region flags 0x${(flags & ~REGION_INFO_FLAGS).toString(16)}`);
  const size = toBigInt(checkU64(info.size, 'region size'));
  const offset = toBigInt(checkU64(info.offset, 'region offset'));
  const caps = info.caps ?? [];
  checkCaps(caps, flags, size);
  const full = REGION_INFO_SIZE + capsLength(caps);
  checkU32(full, 'region info size');
  const whole = requestArgsz >= full;
  const payload = whole ? full : REGION_INFO_SIZE;
  const b = newReply(msgId, Command.DEVICE_GET_REGION_INFO, payload);
  const withCaps = whole && caps.length > 0;
  REGION_INFO.write(
    b,
    {
      argsz: full,
      flags: withCaps ? flags | REGION_INFO_FLAG_CAPS : flags,
      index: info.index,
      capOffset: withCaps ? REGION_INFO_SIZE : 0,
      size,
      offset,
    },
    HEADER_SIZE,
  );
  if (whole) writeCaps(b, HEADER_SIZE, caps);
  return { message: b, sendFd: whole && (flags & REGION_INFO_FLAG_MMAP) !== 0, argsz: full };
}

/**
 * Decodes a reply. A payload shorter than its argsz is a cut-short reply:
 * its capabilities are not read (CAPS may be set with cap_offset 0, the
 * kernel's way, or clear, libvfio-user's). A whole reply must be exactly argsz
 * long, its chain well formed, its sparse areas inside the region, and an
 * MMAP region must come with its fd. At most one fd, and only for MMAP.
 */
export function decodeRegionInfoReply(message: Uint8Array, fds: readonly number[] = [], opts: { index?: number } = {}): RegionInfoReply {
  const p = openReply(message, Command.DEVICE_GET_REGION_INFO).payload;
  requireAtLeast(p, REGION_INFO_SIZE, 'DEVICE_GET_REGION_INFO reply');
  const { argsz, flags, index, capOffset, size, offset } = REGION_INFO.read(p);
  if (argsz < REGION_INFO_SIZE) throw fail('EINVAL', `DEVICE_GET_REGION_INFO reply: argsz ${argsz} is below ${REGION_INFO_SIZE}`);
  if (p.length > argsz) throw fail('EINVAL', `DEVICE_GET_REGION_INFO reply: ${p.length} bytes, more than its argsz ${argsz}`);
  if (flags & ~REGION_INFO_FLAGS)
    throw fail('EINVAL', `DEVICE_GET_REGION_INFO reply: unknown flags 0x${(flags & ~REGION_INFO_FLAGS).toString(16)}`);
  if (opts.index !== undefined && index !== opts.index) {
    throw fail('EINVAL', `DEVICE_GET_REGION_INFO reply for region ${index}, asked for ${opts.index}`);
  }
  const truncated = p.length < argsz;
  let caps: RegionCapability[] = [];
  if (!truncated) {
    if (flags & REGION_INFO_FLAG_CAPS) {
      if (capOffset === 0) throw fail('EINVAL', 'DEVICE_GET_REGION_INFO reply: CAPS set but cap_offset is 0');
      caps = parseCaps(p, capOffset, flags, size);
    } else if (capOffset !== 0) {
      throw fail('EINVAL', `DEVICE_GET_REGION_INFO reply: cap_offset ${capOffset} without CAPS`);
    }
  }
  if (fds.length > 1) throw fail('EINVAL', `DEVICE_GET_REGION_INFO reply: ${fds.length} descriptors, at most 1`);
  if (fds.length === 1 && !(flags & REGION_INFO_FLAG_MMAP)) {
    throw fail('EINVAL', 'DEVICE_GET_REGION_INFO reply: a descriptor for a region without MMAP');
  }
  if (fds.length === 0 && flags & REGION_INFO_FLAG_MMAP && !truncated) {
    throw fail('EINVAL', 'DEVICE_GET_REGION_INFO reply: MMAP region without its descriptor');
  }
  return { argsz, flags, index, capOffset, size, offset, caps, truncated, fd: fds[0] };
}
