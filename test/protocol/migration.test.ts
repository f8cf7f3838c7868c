// VFIO_USER_MIG_DATA_READ and VFIO_USER_MIG_DATA_WRITE.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeMigDataReadReply,
  decodeMigDataReadRequest,
  decodeMigDataWriteReply,
  decodeMigDataWriteRequest,
  encodeMigDataReadReply,
  encodeMigDataReadRequest,
  encodeMigDataWriteReply,
  encodeMigDataWriteRequest,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg, patch32, resize, u32 } from './helpers.js';

test('READ request: argsz (room for the reply) and size', () => {
  const m = encodeMigDataReadRequest(1, 4096);
  assert.deepEqual(m, bytes(hdr(1, 17, 24), u32(4104), u32(4096)));
  assert.deepEqual(decodeMigDataReadRequest(m), { argsz: 4104, size: 4096 });
});

test('READ request errors', () => {
  const m = encodeMigDataReadRequest(1, 4096);
  assertErrno(() => decodeMigDataReadRequest(patch32(m, 16, 4103)), 'EINVAL', /no room for 4096/);
  assertErrno(() => decodeMigDataReadRequest(m, [], { maxDataXferSize: 1024 }), 'E2BIG');
  assertErrno(() => decodeMigDataReadRequest(resize(m, 1)), 'EINVAL', /too long/);
  assertErrno(() => decodeMigDataReadRequest(resize(m, -1)), 'EINVAL', /truncated/);
  assertErrno(() => decodeMigDataReadRequest(m, [3]), 'EINVAL');
  assertErrno(() => encodeMigDataReadRequest(1, 16, 8), 'EINVAL');
});

test('READ reply: argsz 8 + size, size, data; fewer bytes than asked end the stream', () => {
  const r = encodeMigDataReadReply(1, Uint8Array.from([9, 8, 7]), 4096);
  assert.deepEqual(r, bytes(hdr(1, 17, 27, 1), u32(11), u32(3), [9, 8, 7]));
  const d = decodeMigDataReadReply(r, 4096);
  assert.equal(d.size, 3);
  assert.deepEqual([...d.data], [9, 8, 7]);
  assert.deepEqual(decodeMigDataReadReply(encodeMigDataReadReply(1, new Uint8Array(0))).size, 0);
});

test('READ reply errors', () => {
  const r = encodeMigDataReadReply(1, Uint8Array.from([9, 8, 7]));
  assertErrno(() => decodeMigDataReadReply(patch32(r, 16, 12)), 'EINVAL', /argsz 12 for 3/);
  assertErrno(() => decodeMigDataReadReply(patch32(r, 20, 4)), 'EINVAL', /truncated/);
  assertErrno(() => decodeMigDataReadReply(resize(r, 1)), 'EINVAL', /too long/);
  assertErrno(() => decodeMigDataReadReply(r, 2), 'EINVAL', /more than the 2 asked for/);
  assertErrno(() => encodeMigDataReadReply(1, new Uint8Array(3), 2), 'EINVAL');
});

test('WRITE request: argsz, size, data; the reply has no payload', () => {
  const m = encodeMigDataWriteRequest(4, Uint8Array.from([1, 2, 3, 4]));
  assert.deepEqual(m, bytes(hdr(4, 18, 28), u32(12), u32(4), [1, 2, 3, 4]));
  const w = decodeMigDataWriteRequest(m);
  assert.equal(w.size, 4);
  assert.deepEqual([...w.data], [1, 2, 3, 4]);
  assert.deepEqual(encodeMigDataWriteReply(4), bytes(hdr(4, 18, 16, 1)));
  decodeMigDataWriteReply(encodeMigDataWriteReply(4));
  assertErrno(() => decodeMigDataWriteReply(msg(4, 18, 1, [0])), 'EINVAL');
});

test('WRITE request errors', () => {
  const m = encodeMigDataWriteRequest(4, Uint8Array.from([1, 2, 3, 4]));
  assertErrno(() => decodeMigDataWriteRequest(patch32(m, 20, 5)), 'EINVAL', /truncated/);
  assertErrno(() => decodeMigDataWriteRequest(patch32(m, 20, 3)), 'EINVAL', /too long/);
  assertErrno(() => decodeMigDataWriteRequest(patch32(m, 16, 4)), 'EINVAL', /argsz 4/);
  assertErrno(() => decodeMigDataWriteRequest(m, [], { maxDataXferSize: 2 }), 'E2BIG');
  assertErrno(() => decodeMigDataWriteRequest(msg(4, 18, 0, [1])), 'EINVAL', /truncated/);
});
