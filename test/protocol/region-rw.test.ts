// VFIO_USER_REGION_READ and VFIO_USER_REGION_WRITE, including the
// allocation-free encoders and in-place reply checks of the hot path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Command,
  PeerError,
  REGION_RW_DATA_OFFSET,
  checkRegionReadReply,
  checkRegionWriteReply,
  decodeRegionReadReply,
  decodeRegionReadRequest,
  decodeRegionWriteReply,
  decodeRegionWriteRequest,
  encodeErrorReply,
  encodeRegionReadReply,
  encodeRegionReadReplyInto,
  encodeRegionReadRequest,
  encodeRegionReadRequestInto,
  encodeRegionWriteReply,
  encodeRegionWriteReplyInto,
  encodeRegionWriteRequest,
  encodeRegionWriteRequestInto,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg, patch32, resize, u32, u64 } from './helpers.js';

const DATA = [0xde, 0xad, 0xbe, 0xef];

test('READ request: offset u64, region u32, count u32 (16 + 16 bytes)', () => {
  const expected = bytes(hdr(0x42, 9, 32), u64(0x10), u32(7), u32(4));
  assert.deepEqual(encodeRegionReadRequest(0x42, 7, 0x10, 4), expected);
  const buf = Buffer.alloc(256, 0xee);
  assert.equal(encodeRegionReadRequestInto(buf, 0x42, 7, 0x10, 4), 32);
  assert.deepEqual(buf.subarray(0, 32), expected);
  assert.equal(buf[32], 0xee, 'nothing written past the message');
  assert.deepEqual(decodeRegionReadRequest(expected), { offset: 0x10n, region: 7, count: 4 });
});

test('READ reply: the access then count bytes of data', () => {
  const expected = bytes(hdr(0x42, 9, 36, 1), u64(0x10), u32(7), u32(4), DATA);
  assert.deepEqual(encodeRegionReadReply(0x42, 7, 0x10, Buffer.from(DATA)), expected);
  const buf = Buffer.alloc(64);
  assert.equal(encodeRegionReadReplyInto(buf, 0x42, 7, 0x10, 4, Buffer.from(DATA)), 36);
  assert.deepEqual(buf.subarray(0, 36), expected);
  // The data can be written by the caller at REGION_RW_DATA_OFFSET instead.
  const buf2 = Buffer.alloc(64);
  buf2.set(DATA, REGION_RW_DATA_OFFSET);
  assert.equal(encodeRegionReadReplyInto(buf2, 0x42, 7, 0x10, 4), 36);
  assert.deepEqual(buf2.subarray(0, 36), expected);
  const r = decodeRegionReadReply(expected);
  assert.deepEqual([...r.data], DATA);
  assert.equal(r.count, 4);
});

test('WRITE request: the access then data; reply without data', () => {
  const expected = bytes(hdr(3, 10, 36, 0x10), u64(0x2000), u32(0), u32(4), DATA);
  assert.deepEqual(encodeRegionWriteRequest(3, 0, 0x2000, Buffer.from(DATA), 0x10), expected);
  const buf = Buffer.alloc(64);
  buf.set(DATA, REGION_RW_DATA_OFFSET);
  assert.equal(encodeRegionWriteRequestInto(buf, 3, 0, 0x2000, 4, undefined, 0x10), 36);
  assert.deepEqual(buf.subarray(0, 36), expected);
  const w = decodeRegionWriteRequest(expected);
  assert.deepEqual([...w.data], DATA);
  assert.equal(w.offset, 0x2000n);

  const reply = bytes(hdr(3, 10, 32, 1), u64(0x2000), u32(0), u32(4));
  assert.deepEqual(encodeRegionWriteReply(3, 0, 0x2000, 4), reply);
  const rb = Buffer.alloc(32);
  assert.equal(encodeRegionWriteReplyInto(rb, 3, 0, 0x2000, 4), 32);
  assert.deepEqual(rb, reply);
  assert.deepEqual(decodeRegionWriteReply(reply), { offset: 0x2000n, region: 0, count: 4 });
});

test('offsets past 2^53 as bigints; a reused buffer gives identical messages', () => {
  const big = 0xffff_ffff_0000_0000n;
  const m = encodeRegionReadRequest(1, 2, big, 8);
  assert.equal(decodeRegionReadRequest(m).offset, big);
  const buf = Buffer.alloc(64);
  for (let i = 0; i < 3; i++) {
    encodeRegionWriteRequestInto(buf, 9, 1, 0x100 + i, 2, Uint8Array.from([i, i]));
    const w = decodeRegionWriteRequest(buf.subarray(0, 34));
    assert.deepEqual({ ...w, data: [...w.data] }, { offset: BigInt(0x100 + i), region: 1, count: 2, data: [i, i] });
  }
});

test('request errors: sizes (EINVAL), counts above max_data_xfer_size (E2BIG), indexes, wrap', () => {
  const rd = encodeRegionReadRequest(1, 7, 0, 4);
  assertErrno(() => decodeRegionReadRequest(resize(rd, -1)), 'EINVAL', /truncated/);
  assertErrno(() => decodeRegionReadRequest(resize(rd, 4)), 'EINVAL', /too long/);
  assertErrno(() => decodeRegionReadRequest(patch32(rd, 28, 4097), [], { maxDataXferSize: 4096 }), 'E2BIG', /max_data_xfer_size 4096/);
  decodeRegionReadRequest(patch32(rd, 28, 4096), [], { maxDataXferSize: 4096 });
  assertErrno(() => decodeRegionReadRequest(rd, [], { numRegions: 7 }), 'EINVAL', /region index 7 out of range/);
  assertErrno(() => decodeRegionReadRequest(msg(1, 9, 0, [...u64(0xffff_ffff_ffff_fffen), ...u32(0), ...u32(4)])), 'EINVAL', /wraps/);
  assertErrno(() => decodeRegionReadRequest(rd, [3]), 'EINVAL');

  const wr = encodeRegionWriteRequest(1, 0, 0, Buffer.from(DATA));
  assertErrno(() => decodeRegionWriteRequest(resize(wr, -1)), 'EINVAL', /truncated/);
  assertErrno(() => decodeRegionWriteRequest(resize(wr, 1)), 'EINVAL', /too long/);
  assertErrno(() => decodeRegionWriteRequest(patch32(wr, 28, 2)), 'EINVAL', /too long/);
  assertErrno(() => decodeRegionWriteRequest(msg(1, 10, 0, [1, 2, 3])), 'EINVAL', /truncated/);
  assertErrno(() => decodeRegionWriteRequest(wr, [], { maxDataXferSize: 2 }), 'E2BIG');
});

test('reply errors', () => {
  const rr = encodeRegionReadReply(1, 7, 0, Buffer.from(DATA));
  assertErrno(() => decodeRegionReadReply(resize(rr, -1)), 'EINVAL', /truncated/);
  assertErrno(() => decodeRegionReadReply(resize(rr, 1)), 'EINVAL', /too long/);
  assertErrno(() => decodeRegionWriteReply(resize(encodeRegionWriteReply(1, 0, 0, 4), 4)), 'EINVAL', /too long/);
  assertErrno(() => decodeRegionReadReply(encodeErrorReply({ msgId: 1, command: Command.REGION_READ }, 'EFAULT')), 'EFAULT');
});

test('encoder argument checks', () => {
  assertErrno(() => encodeRegionReadRequestInto(Buffer.alloc(31), 1, 0, 0, 4), 'EMSGSIZE');
  assertErrno(() => encodeRegionWriteRequestInto(Buffer.alloc(35), 1, 0, 0, 4), 'EMSGSIZE');
  assertErrno(() => encodeRegionWriteRequestInto(Buffer.alloc(64), 1, 0, 0, 4, new Uint8Array(3)), 'EINVAL');
  assertErrno(() => encodeRegionReadRequest(1, -1, 0, 4), 'EINVAL');
  assertErrno(() => encodeRegionReadRequest(1, 0, 2 ** 60, 4), 'EINVAL');
  assertErrno(() => encodeRegionReadRequest(1, 0, 0, 4, 0x20), 'EINVAL', /no-reply/);
});

test('checkRegionReadReply validates in place and returns the count', () => {
  const rr = encodeRegionReadReply(0x42, 7, 0x10, Buffer.from(DATA));
  assert.equal(checkRegionReadReply(rr, 0x42, 7, 0x10, 4), 4);
  assert.equal(checkRegionReadReply(rr, 0x42, 7, 0x10n, 8), 4, 'a short read is accepted');
  assertErrno(() => checkRegionReadReply(rr, 0x43, 7, 0x10, 4), 'EINVAL', /reply to message 66, expected 67/);
  assertErrno(() => checkRegionReadReply(rr, 0x42, 6, 0x10, 4), 'EINVAL', /region 7, expected 6/);
  assertErrno(() => checkRegionReadReply(rr, 0x42, 7, 0x14, 4), 'EINVAL', /offset 0x10, expected 0x14/);
  assertErrno(() => checkRegionReadReply(rr, 0x42, 7, 0x10, 2), 'E2BIG', /exceeds the 2 bytes/);
  assertErrno(() => checkRegionReadReply(resize(rr, 1), 0x42, 7, 0x10, 4), 'EINVAL', /36 bytes for count 4|37 bytes/);
  assertErrno(() => checkRegionReadReply(patch32(rr, 4, 40), 0x42, 7, 0x10, 4), 'EINVAL', /header says 40/);
  assertErrno(() => checkRegionReadReply(patch32(rr, 8, 0), 0x42, 7, 0x10, 4), 'EINVAL', /bad reply flags/);
  assertErrno(() => checkRegionReadReply(encodeRegionWriteReply(0x42, 7, 0x10, 4), 0x42, 7, 0x10, 4), 'EINVAL', /command 10/);
  const e = assertErrno(() => checkRegionReadReply(encodeErrorReply({ msgId: 0x42, command: 9 }, 'EIO'), 0x42, 7, 0x10, 4), 'EIO');
  assert.ok(e instanceof PeerError);
  // Big offsets compare exactly with numbers and bigints.
  const big = encodeRegionReadReply(1, 0, 2 ** 52 + 8, Buffer.from(DATA));
  assert.equal(checkRegionReadReply(big, 1, 0, 2 ** 52 + 8, 4), 4);
  assertErrno(() => checkRegionReadReply(big, 1, 0, 2 ** 52, 4), 'EINVAL', /offset/);
});

test('checkRegionWriteReply', () => {
  const wr = encodeRegionWriteReply(5, 2, 0x300, 4);
  assert.equal(checkRegionWriteReply(wr, 5, 2, 0x300, 4), 4);
  assertErrno(() => checkRegionWriteReply(resize(wr, 4), 5, 2, 0x300, 4), 'EINVAL', /carries data/);
  assertErrno(() => checkRegionWriteReply(bytes(hdr(5, 10, 16, 1)), 5, 2, 0x300, 4), 'EINVAL', /shorter than a region access reply/);
  assertErrno(() => checkRegionWriteReply(bytes(hdr(5, 10, 16, 0x21, 22)), 5, 2, 0x300, 4), 'EINVAL');
  assertErrno(() => checkRegionWriteReply(patch32(wr, 12, 3), 5, 2, 0x300, 4), 'EINVAL', /errno 3 in a reply/);
});

test('in-place checks take the reply length, so a preallocated receive buffer needs no view', () => {
  const rx = Buffer.alloc(4096, 0x77);
  const n = encodeRegionReadReplyInto(rx, 8, 1, 0x40, 4, Buffer.from(DATA));
  assert.equal(checkRegionReadReply(rx, 8, 1, 0x40, 4, n), 4);
  assert.deepEqual([...rx.subarray(REGION_RW_DATA_OFFSET, REGION_RW_DATA_OFFSET + 4)], DATA);
  assertErrno(() => checkRegionReadReply(rx, 8, 1, 0x40, 4), 'EINVAL', /header says 36 bytes but the reply has 4096/);
  assertErrno(() => checkRegionReadReply(rx, 8, 1, 0x40, 4, 8192), 'EINVAL', /exceeds the 4096-byte buffer/);
  const w = encodeRegionWriteReplyInto(rx, 9, 1, 0x40, 4);
  assert.equal(checkRegionWriteReply(rx, 9, 1, 0x40, 4, w), 4);
});
