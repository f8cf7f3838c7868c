// Little-endian field access and the small checks every codec shares.
//
// vfio-user puts every integer on the wire in the host's byte order; the
// protocol is only specified (and only used) between peers on one little-endian
// host, so this module fixes little-endian. Reads and writes work on any
// Uint8Array (a Buffer, a view into a preallocated receive buffer, a subarray)
// and allocate nothing, except u64 reads that return a bigint. The checks throw
// ErrnoError with the errno a server answers for a malformed message (EINVAL
// unless the caller says otherwise) and a message naming the field.

import { type ErrnoName, fail } from '../errors.js';

/** Largest u32 (2^32 - 1). */
export const U32_MAX = 0xffff_ffff;
/** Largest u64 (2^64 - 1), as a bigint. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;
const TWO_32 = 0x1_0000_0000;

/** A u64 field as the codecs accept it: a bigint, or a non-negative safe integer. */
export type U64 = bigint | number;

export function readU16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function readU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

export function readU64(b: Uint8Array, o: number): bigint {
  return BigInt(readU32(b, o)) | (BigInt(readU32(b, o + 4)) << 32n);
}

/** The high and low halves of a u64 field compared against a number, without bigints. */
export function u64Equals(b: Uint8Array, o: number, v: number): boolean {
  return readU32(b, o) === v % TWO_32 && readU32(b, o + 4) === Math.floor(v / TWO_32);
}

/**
 * A u64 field as a number, for fields the protocol bounds well below 2^53
 * (transfer counts). Larger values fail with `code`.
 */
export function readU64Number(b: Uint8Array, o: number, field: string, code: ErrnoName = 'EINVAL'): number {
  const hi = readU32(b, o + 4);
  if (hi >= 0x20_0000) throw fail(code, `${field} ${readU64(b, o)} is too large`);
  return hi * TWO_32 + readU32(b, o);
}

export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/** Writes a u64 given as a number (no bigint allocated) or a bigint. */
export function writeU64(b: Uint8Array, o: number, v: U64): void {
  if (typeof v === 'number') {
    writeU32(b, o, v % TWO_32);
    writeU32(b, o + 4, Math.floor(v / TWO_32));
  } else {
    writeU32(b, o, Number(v & 0xffff_ffffn));
    writeU32(b, o + 4, Number(v >> 32n));
  }
}

// ---- argument checks for encoders (the caller's values, before they reach the wire)

export function checkU16(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw fail('EINVAL', `${field} ${v} is not a u16`);
  return v;
}

export function checkU32(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw fail('EINVAL', `${field} ${v} is not a u32`);
  return v;
}

export function checkU64(v: U64, field: string): U64 {
  if (typeof v === 'bigint') {
    if (v < 0n || v > U64_MAX) throw fail('EINVAL', `${field} ${v} is not a u64`);
  } else if (!Number.isSafeInteger(v) || v < 0) {
    throw fail('EINVAL', `${field} ${v} is not a u64 (use a bigint beyond 2^53)`);
  }
  return v;
}

export function toBigInt(v: U64): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

// ---- payload checks for decoders

export function requireLength(p: Uint8Array, n: number, what: string): void {
  if (p.length < n) throw fail('EINVAL', `${what}: payload of ${p.length} bytes is truncated (needs ${n})`);
  if (p.length > n) throw fail('EINVAL', `${what}: payload of ${p.length} bytes is too long (expected ${n})`);
}

export function requireAtLeast(p: Uint8Array, n: number, what: string): void {
  if (p.length < n) throw fail('EINVAL', `${what}: payload of ${p.length} bytes is truncated (needs at least ${n})`);
}

export function requireZero(v: number | bigint, field: string): void {
  if (v !== 0 && v !== 0n) throw fail('EINVAL', `${field} must be zero, got ${v}`);
}

export function requireNoFds(fds: readonly number[], what: string): void {
  if (fds.length !== 0) throw fail('EINVAL', `${what} carries no file descriptors, got ${fds.length}`);
}

export function isPowerOfTwo(v: bigint): boolean {
  return v > 0n && (v & (v - 1n)) === 0n;
}

/** True when base + length (both u64) wraps past 2^64. */
export function overflowsU64(base: bigint, length: bigint): boolean {
  return base + length > U64_MAX + 1n;
}
