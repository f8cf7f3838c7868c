// VFIO_USER_DEVICE_GET_REGION_IO_FDS.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KVM_IOEVENTFD_FLAG_DATAMATCH,
  KVM_IOREGION_POSTED_WRITES,
  decodeRegionIoFdsReply,
  decodeRegionIoFdsRequest,
  encodeRegionIoFdsReply,
  encodeRegionIoFdsRequest,
  type SubRegionArgs,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg, patch32, resize, u32, u64 } from './helpers.js';

test('request: argsz, flags 0, index, count 0', () => {
  const m = encodeRegionIoFdsRequest(6, 0, 256);
  assert.deepEqual(m, bytes(hdr(6, 6, 32), u32(256), u32(0), u32(0), u32(0)));
  assert.deepEqual(decodeRegionIoFdsRequest(m), { argsz: 256, index: 0 });
});

test('request errors are EINVAL', () => {
  const m = encodeRegionIoFdsRequest(6, 2);
  assertErrno(() => decodeRegionIoFdsRequest(patch32(m, 16, 8)), 'EINVAL', /argsz 8/);
  assertErrno(() => decodeRegionIoFdsRequest(patch32(m, 20, 1)), 'EINVAL', /flags must be zero/);
  assertErrno(() => decodeRegionIoFdsRequest(patch32(m, 28, 1)), 'EINVAL', /count must be zero/);
  assertErrno(() => decodeRegionIoFdsRequest(m, [], { numRegions: 2 }), 'EINVAL', /out of range/);
  assertErrno(() => decodeRegionIoFdsRequest(resize(m, 4)), 'EINVAL', /too long/);
  assertErrno(() => decodeRegionIoFdsRequest(m, [9]), 'EINVAL');
});

const subs: SubRegionArgs[] = [
  { type: 'ioeventfd', offset: 0x1000, size: 4, fdIndex: 0, flags: KVM_IOEVENTFD_FLAG_DATAMATCH, datamatch: 0x1234_5678_9abc_def0n },
  { type: 'ioregionfd', offset: 0x2000, size: 0, fdIndex: 1, flags: KVM_IOREGION_POSTED_WRITES, userData: 7 },
];
const wire = [
  ...u32(16 + 80),
  ...u32(0),
  ...u32(0),
  ...u32(2),
  ...u64(0x1000),
  ...u64(4),
  ...u32(0),
  ...u32(0),
  ...u32(1),
  ...u32(0),
  ...u64(0x1234_5678_9abc_def0n),
  ...u64(0x2000),
  ...u64(0),
  ...u32(1),
  ...u32(1),
  ...u32(2),
  ...u32(0),
  ...u64(7),
];

test('reply with an ioeventfd and an ioregionfd, 40 bytes each', () => {
  const { message, sendFds, argsz } = encodeRegionIoFdsReply(6, 4096, 0, subs, 2);
  assert.deepEqual(message, bytes(hdr(6, 6, 16 + 96, 1), wire));
  assert.equal(sendFds, true);
  assert.equal(argsz, 96);
  const r = decodeRegionIoFdsReply(message, [30, 31], { index: 0 });
  assert.equal(r.count, 2);
  assert.equal(r.truncated, false);
  assert.deepEqual(r.subRegions, [
    { type: 'ioeventfd', offset: 0x1000n, size: 4n, fdIndex: 0, flags: 1, datamatch: 0x1234_5678_9abc_def0n },
    { type: 'ioregionfd', offset: 0x2000n, size: 0n, fdIndex: 1, flags: 2, userData: 7n },
  ]);
});

test('argsz too small: the 16-byte head with the needed argsz and count, no fds', () => {
  const { message, sendFds } = encodeRegionIoFdsReply(6, 16, 0, subs, 2);
  assert.deepEqual(message, bytes(hdr(6, 6, 32, 1), u32(96), u32(0), u32(0), u32(2)));
  assert.equal(sendFds, false);
  const r = decodeRegionIoFdsReply(message);
  assert.equal(r.truncated, true);
  assert.equal(r.count, 2);
  assertErrno(() => decodeRegionIoFdsReply(message, [3]), 'EINVAL', /no file descriptors/);
});

test('an empty list and a wider entry stride decode', () => {
  const empty = encodeRegionIoFdsReply(6, 16, 3, [], 0);
  assert.deepEqual(empty.message, bytes(hdr(6, 6, 32, 1), u32(16), u32(0), u32(3), u32(0)));
  assert.deepEqual(decodeRegionIoFdsReply(empty.message).subRegions, []);
  // A future 48-byte entry: the stride comes from argsz.
  const wide = [
    ...u32(16 + 48),
    ...u32(0),
    ...u32(0),
    ...u32(1),
    ...u64(8),
    ...u64(4),
    ...u32(0),
    ...u32(0),
    ...u32(0),
    ...u32(0),
    ...u64(1),
    ...u64(0),
  ];
  assert.equal(decodeRegionIoFdsReply(msg(1, 6, 1, wide), [5]).subRegions.length, 1);
});

test('malformed replies are EINVAL', () => {
  const good = msg(6, 6, 1, wire);
  const base = 16 + 16;
  const cases: [Buffer, number[], RegExp][] = [
    [good, [30], /fd_index 1 but 1 descriptors/],
    [good, [], /sub-regions without descriptors/],
    [patch32(good, 20, 1), [1, 2], /flags must be zero/],
    [patch32(good, base + 20, 2), [1, 2], /unknown type 2/],
    [patch32(good, base + 24, 4), [1, 2], /ioeventfd flags 0x4/],
    [patch32(good, base + 40 + 24, 0), [1, 2], /size 0 needs POSTED_WRITES/],
    [patch32(good, base + 28, 1), [1, 2], /padding must be zero/],
    [patch32(good, 28, 3), [1, 2], /do not hold 3 entries/],
    [patch32(good, 28, 0), [1, 2], /count 0/],
    [patch32(good, 16, 8), [1, 2], /argsz 8/],
    [patch32(good, 16, 40), [1, 2], /too long/],
    [msg(6, 6, 1, [1, 2, 3]), [], /truncated/],
  ];
  for (const [b, fds, re] of cases) assertErrno(() => decodeRegionIoFdsReply(b, fds), 'EINVAL', re);
  assertErrno(() => decodeRegionIoFdsReply(good, [1, 2], { index: 1 }), 'EINVAL', /asked for 1/);
});

test('the encoder checks fd indexes and flags', () => {
  assertErrno(() => encodeRegionIoFdsReply(6, 4096, 0, subs, 1), 'EINVAL', /fd_index 1/);
  assertErrno(() => encodeRegionIoFdsReply(6, 8, 0, subs, 2), 'EINVAL', /argsz 8/);
  assertErrno(() => encodeRegionIoFdsReply(6, 4096, 0, [{ ...subs[1]!, flags: 0 }], 2), 'EINVAL', /POSTED_WRITES/);
  assertErrno(() => encodeRegionIoFdsReply(6, 4096, 0, [{ type: 'ioeventfd', offset: 0, size: 4, fdIndex: 0, flags: 0x10 }], 1), 'EINVAL');
});
