// VFIO_USER_DEVICE_GET_IRQ_INFO.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IRQ_INFO_EVENTFD,
  IRQ_INFO_MASKABLE,
  IRQ_INFO_NORESIZE,
  PCI_MSIX_IRQ_INDEX,
  decodeIrqInfoReply,
  decodeIrqInfoRequest,
  encodeIrqInfoReply,
  encodeIrqInfoRequest,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, patch32, resize, u32 } from './helpers.js';

test('request: argsz, flags 0, index, count 0', () => {
  const m = encodeIrqInfoRequest(8, PCI_MSIX_IRQ_INDEX);
  assert.deepEqual(m, bytes(hdr(8, 7, 32), u32(16), u32(0), u32(2), u32(0)));
  assert.deepEqual(decodeIrqInfoRequest(m), { argsz: 16, index: 2 });
  assert.deepEqual(decodeIrqInfoRequest(m, [], { numIrqs: 5 }), { argsz: 16, index: 2 });
});

test('request errors are EINVAL', () => {
  const m = encodeIrqInfoRequest(8, 2);
  assertErrno(() => decodeIrqInfoRequest(patch32(m, 16, 12)), 'EINVAL', /argsz 12/);
  assertErrno(() => decodeIrqInfoRequest(patch32(m, 20, 1)), 'EINVAL', /flags must be zero/);
  assertErrno(() => decodeIrqInfoRequest(patch32(m, 28, 1)), 'EINVAL', /count must be zero/);
  assertErrno(() => decodeIrqInfoRequest(patch32(m, 24, 5), [], { numIrqs: 5 }), 'EINVAL', /irq index 5 out of range/);
  assertErrno(() => decodeIrqInfoRequest(resize(m, -1)), 'EINVAL', /truncated/);
  assertErrno(() => decodeIrqInfoRequest(resize(m, 1)), 'EINVAL', /too long/);
  assertErrno(() => decodeIrqInfoRequest(m, [1]), 'EINVAL');
});

test('reply: argsz 16, flags, index, count', () => {
  const info = { flags: IRQ_INFO_EVENTFD | IRQ_INFO_MASKABLE | IRQ_INFO_NORESIZE, index: 2, count: 2048 };
  const m = encodeIrqInfoReply(8, info);
  assert.deepEqual(m, bytes(hdr(8, 7, 32, 1), u32(16), u32(0xb), u32(2), u32(2048)));
  assert.deepEqual(decodeIrqInfoReply(m, { index: 2 }), { argsz: 16, ...info });
});

test('reply errors are EINVAL', () => {
  const m = encodeIrqInfoReply(8, { flags: 1, index: 2, count: 1 });
  assertErrno(() => decodeIrqInfoReply(patch32(m, 20, 0x10)), 'EINVAL', /unknown flags/);
  assertErrno(() => decodeIrqInfoReply(patch32(m, 16, 4)), 'EINVAL', /argsz 4/);
  assertErrno(() => decodeIrqInfoReply(m, { index: 1 }), 'EINVAL', /asked for 1/);
  assertErrno(() => decodeIrqInfoReply(resize(m, 4)), 'EINVAL', /too long/);
  assertErrno(() => encodeIrqInfoReply(8, { flags: 0x10, index: 0, count: 1 }), 'EINVAL');
});
