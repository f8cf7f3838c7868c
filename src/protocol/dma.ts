// VFIO_USER_DMA_MAP and VFIO_USER_DMA_UNMAP: the client tells the server
// which ranges of its memory ("DMA addresses", IOVAs) the device may reach.
//
// DMA_MAP request (32 bytes, like struct vfio_iommu_type1_dma_map):
//   0 u32 argsz (32)  4 u32 flags (bit 0 read, bit 1 write)
//   8 u64 offset into the attached fd (0 without one)  16 u64 address  24 u64 size
// At most one fd rides along (SCM_RIGHTS): the memory, which the server mmaps.
// Without an fd the server reaches the range only through DMA_READ/DMA_WRITE.
// The reply has no payload. Mapping over an existing range fails with EEXIST
// (the server's decision, not the codec's).
//
// DMA_UNMAP request (24 bytes, like struct vfio_iommu_type1_dma_unmap):
//   0 u32 argsz  4 u32 flags  8 u64 address  16 u64 size
// The current specification leaves flags unused; QEMU's client sends
// VFIO_DMA_UNMAP_FLAG_ALL (bit 1: unmap everything, address and size 0) and
// drafts before 0.9.2 (still in libvfio-user) define
// VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP (bit 0), which appends a bitmap header
//   24 u64 pgsize  32 u64 size (bytes of bitmap)
// to the request, and header plus bitmap to the reply. The reply otherwise
// echoes the request's 24 bytes. argsz is the room the client has for the reply.

import { fail } from '../errors.js';
import { Command } from './commands.js';
import { HEADER_SIZE } from './header.js';
import { newCommand, newReply, openCommand, openReply } from './message.js';
import {
  checkU32,
  checkU64,
  isPowerOfTwo,
  overflowsU64,
  readU32,
  readU64,
  readU64Number,
  requireLength,
  requireNoFds,
  toBigInt,
  writeU32,
  writeU64,
  type U64,
} from './wire.js';
import { dmaMapFlags, dmaUnmapFlags } from '../uapi/vfio.js';

/** DMA_MAP flag: the device may read the range. */
export const DMA_MAP_FLAG_READ = dmaMapFlags.READ;
/** DMA_MAP flag: the device may write the range. */
export const DMA_MAP_FLAG_WRITE = dmaMapFlags.WRITE;
const DMA_MAP_FLAGS = DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE;
/** Size of the DMA_MAP request payload (struct vfio_user_dma_map, 32 bytes). */
export const DMA_MAP_SIZE = 32;

/** DMA_UNMAP flag (drafts before 0.9.2): return the range's dirty-page bitmap with the reply. */
export const DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = dmaUnmapFlags.GET_DIRTY_BITMAP;
/** DMA_UNMAP flag: unmap every mapping (address and size 0). */
export const DMA_UNMAP_FLAG_ALL = dmaUnmapFlags.ALL;
/** Size of the DMA_UNMAP request payload without a bitmap (struct vfio_user_dma_unmap, 24 bytes). */
export const DMA_UNMAP_SIZE = 24;
/** Size of the bitmap header (u64 pgsize, u64 size) that GET_DIRTY_BITMAP appends. */
export const DMA_BITMAP_HEADER_SIZE = 16;

// ------------------------------------------------------------------ DMA_MAP

/** A DMA_MAP request to encode. */
export interface DmaMapArgs {
  /** DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE; at least one. */
  flags: number;
  /** Offset into the fd sent with the message; 0 (the default) without one. */
  offset?: U64;
  address: U64;
  size: U64;
  /** Defaults to 32. */
  argsz?: number;
}

/** A decoded DMA_MAP request. */
export interface DmaMapRequest {
  argsz: number;
  flags: number;
  offset: bigint;
  address: bigint;
  size: bigint;
  readable: boolean;
  writable: boolean;
  /** The memory's fd, when one came with the message. */
  fd: number | undefined;
}

function checkMapRange(flags: number, address: bigint, size: bigint): void {
  if (flags & ~DMA_MAP_FLAGS) throw fail('EINVAL', `DMA_MAP: unknown flags 0x${(flags & ~DMA_MAP_FLAGS).toString(16)}`);
  if ((flags & DMA_MAP_FLAGS) === 0) throw fail('EINVAL', 'DMA_MAP: flags grant neither read nor write');
  if (size === 0n) throw fail('EINVAL', 'DMA_MAP: size is zero');
  if (overflowsU64(address, size)) throw fail('EINVAL', `DMA_MAP: range 0x${address.toString(16)}+0x${size.toString(16)} wraps past 2^64`);
}

/** Encodes DMA_MAP: a range of client memory the device may reach (the fd, if any, goes to sendmsg); EINVAL for no or unknown access flags, an empty or wrapping range, or argsz below 32. */
export function encodeDmaMapRequest(msgId: number, a: DmaMapArgs, flags = 0): Buffer {
  checkU32(a.flags, 'DMA_MAP flags');
  const address = toBigInt(checkU64(a.address, 'DMA_MAP address'));
  const size = toBigInt(checkU64(a.size, 'DMA_MAP size'));
  checkMapRange(a.flags, address, size);
  const argsz = checkU32(a.argsz ?? DMA_MAP_SIZE, 'DMA_MAP argsz');
  if (argsz < DMA_MAP_SIZE) throw fail('EINVAL', `DMA_MAP: argsz ${argsz} is below ${DMA_MAP_SIZE}`);
  const b = newCommand(msgId, Command.DMA_MAP, DMA_MAP_SIZE, flags);
  writeU32(b, 16, argsz);
  writeU32(b, 20, a.flags);
  writeU64(b, 24, checkU64(a.offset ?? 0, 'DMA_MAP offset'));
  writeU64(b, 32, address);
  writeU64(b, 40, size);
  return b;
}

/**
 * Decodes a DMA_MAP payload: exactly 32 bytes, argsz at least 32, only the
 * read/write flags and at least one of them, a non-empty range that does not
 * wrap, at most one fd, and offset 0 when no fd came. All failures EINVAL.
 */
export function decodeDmaMapRequestPayload(p: Uint8Array, fds: readonly number[] = []): DmaMapRequest {
  requireLength(p, DMA_MAP_SIZE, 'DMA_MAP');
  const argsz = readU32(p, 0);
  if (argsz < DMA_MAP_SIZE) throw fail('EINVAL', `DMA_MAP: argsz ${argsz} is below ${DMA_MAP_SIZE}`);
  const flags = readU32(p, 4);
  const offset = readU64(p, 8);
  const address = readU64(p, 16);
  const size = readU64(p, 24);
  checkMapRange(flags, address, size);
  if (fds.length > 1) throw fail('EINVAL', `DMA_MAP: ${fds.length} file descriptors, at most 1 allowed`);
  if (fds.length === 0 && offset !== 0n) {
    throw fail('EINVAL', `DMA_MAP: offset 0x${offset.toString(16)} without a file descriptor`);
  }
  return {
    argsz,
    flags,
    offset,
    address,
    size,
    readable: (flags & DMA_MAP_FLAG_READ) !== 0,
    writable: (flags & DMA_MAP_FLAG_WRITE) !== 0,
    fd: fds[0],
  };
}

/** Decodes a DMA_MAP command and its descriptors (checks as decodeDmaMapRequestPayload); EINVAL when malformed. */
export function decodeDmaMapRequest(message: Uint8Array, fds: readonly number[] = []): DmaMapRequest {
  return decodeDmaMapRequestPayload(openCommand(message, Command.DMA_MAP).payload, fds);
}

/** The DMA_MAP reply (no payload). */
export function encodeDmaMapReply(msgId: number): Buffer {
  return newReply(msgId, Command.DMA_MAP, 0);
}

/** Checks a DMA_MAP reply: no payload (an error reply throws PeerError). */
export function decodeDmaMapReply(message: Uint8Array): void {
  requireLength(openReply(message, Command.DMA_MAP).payload, 0, 'DMA_MAP reply');
}

// ---------------------------------------------------------------- DMA_UNMAP

/** The dirty bitmap a DMA_UNMAP request asks for. */
export interface DmaBitmapArgs {
  /** Bytes of memory one bit stands for; a power of two. */
  pgsize: U64;
  /** Bytes of bitmap the client has room for. */
  size: number;
}

/** A DMA_UNMAP request to encode. */
export interface DmaUnmapArgs {
  /** DMA_UNMAP_FLAG_ALL and/or DMA_UNMAP_FLAG_GET_DIRTY_BITMAP (the latter set automatically with `bitmap`). */
  flags?: number;
  address: U64;
  size: U64;
  bitmap?: DmaBitmapArgs;
  /** Defaults to the size of the whole reply (24, plus 16 + bitmap size). */
  argsz?: number;
}

/** A dirty bitmap header: page size per bit and bitmap bytes. */
export interface DmaBitmap {
  pgsize: bigint;
  /** Bytes of bitmap data. */
  size: number;
}

/** A decoded DMA_UNMAP request. */
export interface DmaUnmapRequest {
  argsz: number;
  flags: number;
  address: bigint;
  size: bigint;
  /** Unmap every mapping (address and size are 0). */
  all: boolean;
  /** Present with GET_DIRTY_BITMAP. */
  bitmap: DmaBitmap | undefined;
}

/** A decoded DMA_UNMAP reply, with the dirty bitmap when one was asked for. */
export interface DmaUnmapReply {
  argsz: number;
  flags: number;
  address: bigint;
  size: bigint;
  bitmap: (DmaBitmap & { data: Uint8Array }) | undefined;
}

/** Bytes of dirty bitmap needed to cover `size` bytes at one bit per `pgsize`. */
export function dirtyBitmapBytes(size: bigint, pgsize: bigint): bigint {
  const pages = (size + pgsize - 1n) / pgsize;
  return (pages + 7n) / 8n;
}

function unmapReplySize(bitmap: DmaBitmap | undefined): number {
  return DMA_UNMAP_SIZE + (bitmap ? DMA_BITMAP_HEADER_SIZE + bitmap.size : 0);
}

function checkUnmapFlags(flags: number): void {
  const known = DMA_UNMAP_FLAG_ALL | DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
  if (flags & ~known) throw fail('EINVAL', `DMA_UNMAP: unknown flags 0x${(flags & ~known).toString(16)}`);
  if (flags & DMA_UNMAP_FLAG_ALL && flags & DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
    throw fail('EINVAL', 'DMA_UNMAP: ALL cannot be combined with GET_DIRTY_BITMAP');
  }
}

function checkUnmap(flags: number, address: bigint, size: bigint, bitmap: DmaBitmap | undefined, argsz: number): void {
  checkUnmapFlags(flags);
  if ((flags & DMA_UNMAP_FLAG_ALL) !== 0) {
    if (address !== 0n || size !== 0n) {
      throw fail('EINVAL', `DMA_UNMAP: ALL needs address and size 0, got 0x${address.toString(16)}+0x${size.toString(16)}`);
    }
  } else {
    if (size === 0n) throw fail('EINVAL', 'DMA_UNMAP: size is zero');
    if (overflowsU64(address, size))
      throw fail('EINVAL', `DMA_UNMAP: range 0x${address.toString(16)}+0x${size.toString(16)} wraps past 2^64`);
  }
  if (bitmap) {
    if (!isPowerOfTwo(bitmap.pgsize)) throw fail('EINVAL', `DMA_UNMAP: bitmap pgsize ${bitmap.pgsize} is not a power of two`);
    const need = dirtyBitmapBytes(size, bitmap.pgsize);
    if (BigInt(bitmap.size) < need) {
      throw fail('EINVAL', `DMA_UNMAP: bitmap of ${bitmap.size} bytes cannot cover 0x${size.toString(16)} bytes (needs ${need})`);
    }
  }
  const min = unmapReplySize(bitmap);
  if (argsz < min) throw fail('EINVAL', `DMA_UNMAP: argsz ${argsz} is below the ${min}-byte reply`);
}

/** Encodes DMA_UNMAP of a range (or ALL), optionally asking for its dirty bitmap; EINVAL for unknown or conflicting flags, a bad range, a bitmap too small or argsz without room for the reply. */
export function encodeDmaUnmapRequest(msgId: number, a: DmaUnmapArgs, flags = 0): Buffer {
  let uflags = checkU32(a.flags ?? 0, 'DMA_UNMAP flags');
  if (a.bitmap) uflags |= DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
  else if (uflags & DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) throw fail('EINVAL', 'DMA_UNMAP: GET_DIRTY_BITMAP without a bitmap');
  const address = toBigInt(checkU64(a.address, 'DMA_UNMAP address'));
  const size = toBigInt(checkU64(a.size, 'DMA_UNMAP size'));
  const bitmap = a.bitmap
    ? { pgsize: toBigInt(checkU64(a.bitmap.pgsize, 'bitmap pgsize')), size: checkU32(a.bitmap.size, 'bitmap size') }
    : undefined;
  const argsz = checkU32(a.argsz ?? unmapReplySize(bitmap), 'DMA_UNMAP argsz');
  checkUnmap(uflags, address, size, bitmap, argsz);
  const b = newCommand(msgId, Command.DMA_UNMAP, DMA_UNMAP_SIZE + (bitmap ? DMA_BITMAP_HEADER_SIZE : 0), flags);
  writeU32(b, 16, argsz);
  writeU32(b, 20, uflags);
  writeU64(b, 24, address);
  writeU64(b, 32, size);
  if (bitmap) {
    writeU64(b, 40, bitmap.pgsize);
    writeU64(b, 48, bitmap.size);
  }
  return b;
}

/**
 * Decodes a DMA_UNMAP payload: 24 bytes, or 40 with GET_DIRTY_BITMAP; known
 * flags only, ALL alone and with a zero range, otherwise a non-empty range
 * that does not wrap; a power-of-two bitmap page size and a bitmap big enough
 * for the range; argsz room for the whole reply; no fds. All failures EINVAL.
 */
export function decodeDmaUnmapRequestPayload(p: Uint8Array, fds: readonly number[] = []): DmaUnmapRequest {
  requireNoFds(fds, 'DMA_UNMAP');
  if (p.length < 8) requireLength(p, DMA_UNMAP_SIZE, 'DMA_UNMAP');
  const flags = readU32(p, 4);
  checkUnmapFlags(flags);
  const withBitmap = (flags & DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
  requireLength(p, DMA_UNMAP_SIZE + (withBitmap ? DMA_BITMAP_HEADER_SIZE : 0), 'DMA_UNMAP');
  const argsz = readU32(p, 0);
  const address = readU64(p, 8);
  const size = readU64(p, 16);
  const bitmap = withBitmap ? { pgsize: readU64(p, 24), size: readU64Number(p, 32, 'DMA_UNMAP bitmap size') } : undefined;
  if (bitmap && bitmap.size > 0xffff_ffff) throw fail('EINVAL', `DMA_UNMAP: bitmap size ${bitmap.size} exceeds any argsz`);
  checkUnmap(flags, address, size, bitmap, argsz);
  return { argsz, flags, address, size, all: (flags & DMA_UNMAP_FLAG_ALL) !== 0, bitmap };
}

/** Decodes a DMA_UNMAP command (checks as decodeDmaUnmapRequestPayload); EINVAL when malformed. */
export function decodeDmaUnmapRequest(message: Uint8Array, fds: readonly number[] = []): DmaUnmapRequest {
  return decodeDmaUnmapRequestPayload(openCommand(message, Command.DMA_UNMAP).payload, fds);
}

/**
 * The reply: the request's 24 bytes echoed, plus, for GET_DIRTY_BITMAP, the
 * bitmap header and `bitmapData` (exactly the requested bitmap size).
 */
export function encodeDmaUnmapReply(msgId: number, req: DmaUnmapRequest, bitmapData?: Uint8Array): Buffer {
  if (req.bitmap) {
    if (!bitmapData || bitmapData.length !== req.bitmap.size) {
      throw fail('EINVAL', `DMA_UNMAP reply needs ${req.bitmap.size} bytes of bitmap, got ${bitmapData?.length ?? 0}`);
    }
  } else if (bitmapData) {
    throw fail('EINVAL', 'DMA_UNMAP reply: bitmap data without GET_DIRTY_BITMAP');
  }
  const b = newReply(msgId, Command.DMA_UNMAP, unmapReplySize(req.bitmap));
  writeU32(b, HEADER_SIZE, req.argsz);
  writeU32(b, HEADER_SIZE + 4, req.flags);
  writeU64(b, HEADER_SIZE + 8, req.address);
  writeU64(b, HEADER_SIZE + 16, req.size);
  if (req.bitmap && bitmapData) {
    writeU64(b, HEADER_SIZE + 24, req.bitmap.pgsize);
    writeU64(b, HEADER_SIZE + 32, req.bitmap.size);
    b.set(bitmapData, HEADER_SIZE + 40);
  }
  return b;
}

/** Decodes a DMA_UNMAP reply: 24 bytes, or 40 + bitmap size with GET_DIRTY_BITMAP. */
export function decodeDmaUnmapReply(message: Uint8Array): DmaUnmapReply {
  const p = openReply(message, Command.DMA_UNMAP).payload;
  if (p.length < 8) requireLength(p, DMA_UNMAP_SIZE, 'DMA_UNMAP reply');
  const flags = readU32(p, 4);
  const reply: DmaUnmapReply = { argsz: readU32(p, 0), flags, address: 0n, size: 0n, bitmap: undefined };
  if (flags & DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
    if (p.length < DMA_UNMAP_SIZE + DMA_BITMAP_HEADER_SIZE) {
      requireLength(p, DMA_UNMAP_SIZE + DMA_BITMAP_HEADER_SIZE, 'DMA_UNMAP reply');
    }
    const size = readU64Number(p, 32, 'DMA_UNMAP reply bitmap size');
    requireLength(p, DMA_UNMAP_SIZE + DMA_BITMAP_HEADER_SIZE + size, 'DMA_UNMAP reply');
    reply.bitmap = { pgsize: readU64(p, 24), size, data: p.subarray(40) };
  } else {
    requireLength(p, DMA_UNMAP_SIZE, 'DMA_UNMAP reply');
  }
  reply.address = readU64(p, 8);
  reply.size = readU64(p, 16);
  return reply;
}
