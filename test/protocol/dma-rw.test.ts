// VFIO_USER_DMA_READ and VFIO_USER_DMA_WRITE (server to client).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Command,
  DMA_RW_DATA_OFFSET,
  checkDmaReadReply,
  checkDmaWriteReply,
  decodeDmaReadReply,
  decodeDmaReadRequest,
  decodeDmaWriteReply,
  decodeDmaWriteRequest,
  encodeDmaReadReply,
  encodeDmaReadReplyInto,
  encodeDmaReadRequest,
  encodeDmaReadRequestInto,
  encodeDmaWriteReply,
  encodeDmaWriteReplyInto,
  encodeDmaWriteRequest,
  encodeDmaWriteRequestInto,
  encodeErrorReply,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg, patch32, resize, u32, u64 } from './helpers.js';

const ADDR = 0x1_0000_0000_0000n;
const DATA = [1, 2, 3, 4, 5, 6, 7, 8];

test('READ request: address u64, count u64 (16 + 16 bytes)', () => {
  const expected = bytes(hdr(0x300, 11, 32), u64(ADDR), u64(8));
  assert.deepEqual(encodeDmaReadRequest(0x300, ADDR, 8), expected);
  const b = Buffer.alloc(32);
  assert.equal(encodeDmaReadRequestInto(b, 0x300, Number(ADDR), 8), 32);
  assert.deepEqual(b, expected);
  assert.deepEqual(decodeDmaReadRequest(expected), { address: ADDR, count: 8 });
});

test('READ reply: address, count, data', () => {
  const expected = bytes(hdr(0x300, 11, 40, 1), u64(ADDR), u64(8), DATA);
  assert.deepEqual(encodeDmaReadReply(0x300, ADDR, Buffer.from(DATA)), expected);
  const b = Buffer.alloc(64);
  b.set(DATA, DMA_RW_DATA_OFFSET);
  assert.equal(encodeDmaReadReplyInto(b, 0x300, ADDR, 8), 40);
  assert.deepEqual(b.subarray(0, 40), expected);
  const r = decodeDmaReadReply(expected);
  assert.deepEqual([...r.data], DATA);
  checkDmaReadReply(expected, 0x300, ADDR, 8);
  checkDmaReadReply(expected, 0x300, Number(ADDR), 8);
});

test('WRITE request carries the data; the reply is address and count (16 bytes)', () => {
  const expected = bytes(hdr(9, 12, 40), u64(0x2000), u64(8), DATA);
  assert.deepEqual(encodeDmaWriteRequest(9, 0x2000, Buffer.from(DATA)), expected);
  const b = Buffer.alloc(64);
  assert.equal(encodeDmaWriteRequestInto(b, 9, 0x2000, 8, Buffer.from(DATA)), 40);
  assert.deepEqual(b.subarray(0, 40), expected);
  const w = decodeDmaWriteRequest(expected);
  assert.equal(w.address, 0x2000n);
  assert.deepEqual([...w.data], DATA);

  const reply = bytes(hdr(9, 12, 32, 1), u64(0x2000), u64(8));
  assert.deepEqual(encodeDmaWriteReply(9, 0x2000, 8), reply);
  const rb = Buffer.alloc(32);
  assert.equal(encodeDmaWriteReplyInto(rb, 9, 0x2000, 8), 32);
  assert.deepEqual(rb, reply);
  assert.deepEqual(decodeDmaWriteReply(reply), { address: 0x2000n, count: 8 });
  checkDmaWriteReply(reply, 9, 0x2000, 8);
});

test("WRITE replies in the specification table's form (u32 count) and QEMU's (header only) are accepted", () => {
  const table = bytes(hdr(9, 12, 28, 1), u64(0x2000), u32(8));
  assert.deepEqual(decodeDmaWriteReply(table), { address: 0x2000n, count: 8 });
  checkDmaWriteReply(table, 9, 0x2000, 8);
  const qemu = bytes(hdr(9, 12, 16, 1));
  assert.deepEqual(decodeDmaWriteReply(qemu), { address: undefined, count: undefined });
  checkDmaWriteReply(qemu, 9, 0x2000, 8);
  assertErrno(() => decodeDmaWriteReply(bytes(hdr(9, 12, 24, 1), u64(0x2000))), 'EINVAL', /truncated/);
  assertErrno(() => checkDmaWriteReply(bytes(hdr(9, 12, 24, 1), u64(0x2000)), 9, 0x2000, 8), 'EINVAL');
  assertErrno(() => checkDmaWriteReply(table, 9, 0x2000, 4), 'EINVAL', /count 8, expected 4/);
});

test('request errors: counts (E2BIG), sizes and wrap (EINVAL)', () => {
  const rd = encodeDmaReadRequest(1, 0x1000, 8);
  assertErrno(() => decodeDmaReadRequest(rd, [], { maxDataXferSize: 4 }), 'E2BIG', /max_data_xfer_size 4/);
  assertErrno(() => decodeDmaReadRequest(patch32(rd, 28, 0x20_0000)), 'E2BIG', /too large/);
  assertErrno(() => decodeDmaReadRequest(resize(rd, 1)), 'EINVAL', /too long/);
  assertErrno(() => decodeDmaReadRequest(resize(rd, -1)), 'EINVAL', /truncated/);
  assertErrno(() => decodeDmaReadRequest(msg(1, 11, 0, [...u64(0xffff_ffff_ffff_fff0n), ...u64(0x20)])), 'EINVAL', /wraps/);
  assertErrno(() => decodeDmaReadRequest(rd, [2]), 'EINVAL');
  const wr = encodeDmaWriteRequest(1, 0x1000, Buffer.from(DATA));
  assertErrno(() => decodeDmaWriteRequest(resize(wr, -1)), 'EINVAL', /truncated/);
  assertErrno(() => decodeDmaWriteRequest(resize(wr, 1)), 'EINVAL', /too long/);
  assertErrno(() => decodeDmaWriteRequest(wr, [], { maxDataXferSize: 7 }), 'E2BIG');
});

test('reply checks', () => {
  const rr = encodeDmaReadReply(0x300, ADDR, Buffer.from(DATA));
  assertErrno(() => decodeDmaReadReply(resize(rr, -1)), 'EINVAL', /truncated/);
  assertErrno(() => checkDmaReadReply(rr, 0x300, ADDR, 4), 'EINVAL', /40 bytes for count 4/);
  assertErrno(() => checkDmaReadReply(rr, 0x300, ADDR + 8n, 8), 'EINVAL', /address/);
  assertErrno(() => checkDmaReadReply(rr, 0x301, ADDR, 8), 'EINVAL', /message/);
  assertErrno(() => checkDmaReadReply(encodeErrorReply({ msgId: 0x300, command: Command.DMA_READ }, 'EFAULT'), 0x300, ADDR, 8), 'EFAULT');
  assertErrno(() => decodeDmaReadReply(encodeErrorReply({ msgId: 0x300, command: Command.DMA_READ }, 'EPERM')), 'EPERM');
});

test('encoder checks', () => {
  assertErrno(() => encodeDmaReadRequestInto(Buffer.alloc(16), 1, 0, 8), 'EMSGSIZE');
  assertErrno(() => encodeDmaWriteRequestInto(Buffer.alloc(32), 1, 0, 8), 'EMSGSIZE');
  assertErrno(() => encodeDmaReadRequest(1, -5, 8), 'EINVAL');
  assertErrno(() => encodeDmaReadRequest(1, 0, -8), 'EINVAL');
});

test('in-place checks take the reply length', () => {
  const rx = Buffer.alloc(1024);
  const n = encodeDmaReadReplyInto(rx, 2, 0x5000, 8, Buffer.from(DATA));
  checkDmaReadReply(rx, 2, 0x5000, 8, n);
  const w = encodeDmaWriteReplyInto(rx, 3, 0x5000, 8);
  checkDmaWriteReply(rx, 3, 0x5000, 8, w);
  assertErrno(() => checkDmaWriteReply(rx, 3, 0x5000, 8), 'EINVAL', /header says 32 bytes/);
});
