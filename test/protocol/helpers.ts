// Helpers for the protocol tests: little-endian byte builders for writing the
// expected wire bytes by hand from the specification's tables, and an
// assertion that a call fails with a given errno name.

import assert from 'node:assert/strict';
import { ErrnoError } from '../../src/errors.js';

export function u8(v: number): number[] {
  return [v & 0xff];
}

export function u16(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff];
}

export function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

export function u64(v: bigint | number): number[] {
  const b = BigInt(v);
  const out: number[] = [];
  for (let i = 0n; i < 8n; i++) out.push(Number((b >> (8n * i)) & 0xffn));
  return out;
}

export function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}

/** Concatenates byte lists into one Buffer. */
export function bytes(...parts: (number[] | Uint8Array)[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p)));
}

/** The 16 header bytes: id, command, size, flags, errno. */
export function hdr(msgId: number, command: number, size: number, flags = 0, errno = 0): number[] {
  return [...u16(msgId), ...u16(command), ...u32(size), ...u32(flags), ...u32(errno)];
}

/** A whole message: header with the right size, then the payload. */
export function msg(msgId: number, command: number, flags: number, payload: number[] | Uint8Array): Buffer {
  const p = Buffer.from(payload);
  return bytes(hdr(msgId, command, 16 + p.length, flags), p);
}

export const CMD = 0;
export const REPLY = 1;
export const NO_REPLY = 0x10;

/** Asserts fn throws an ErrnoError with `code`, optionally matching `re`; returns it. */
export function assertErrno(fn: () => unknown, code: string, re?: RegExp): ErrnoError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected ${code}, but nothing was thrown`);
  assert.ok(caught instanceof ErrnoError, `expected ErrnoError ${code}, got ${String(caught)}`);
  assert.equal((caught as ErrnoError).code, code, `expected ${code}: ${(caught as Error).message}`);
  if (re) assert.match((caught as Error).message, re);
  return caught as ErrnoError;
}

/** A copy of `m` with the u32 at message offset `at` replaced. */
export function patch32(m: Uint8Array, at: number, v: number): Buffer {
  const b = Buffer.from(m);
  b.writeUInt32LE(v >>> 0, at);
  return b;
}

/** A copy of `m` with the payload extended (or cut) by `delta` bytes and the header size fixed up. */
export function resize(m: Uint8Array, delta: number): Buffer {
  const b = delta >= 0 ? Buffer.concat([Buffer.from(m), Buffer.alloc(delta)]) : Buffer.from(m.subarray(0, m.length + delta));
  b.writeUInt32LE(b.length, 4);
  return b;
}
