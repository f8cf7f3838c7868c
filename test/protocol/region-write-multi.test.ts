// VFIO_USER_REGION_WRITE_MULTI.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeRegionWriteMultiReply,
  decodeRegionWriteMultiRequest,
  encodeRegionWriteMultiReply,
  encodeRegionWriteMultiRequest,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg, patch32, resize, u32, u64, zeros } from './helpers.js';

// Two posted doorbell writes as QEMU batches them: wr_cnt, then 24-byte entries
// whose 8-byte data field carries `count` bytes.
const wire = [
  ...u64(2),
  ...u64(0x1000),
  ...u32(0),
  ...u32(4),
  1,
  0,
  0,
  0,
  ...zeros(4),
  ...u64(0x1008),
  ...u32(0),
  ...u32(8),
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
];

test('request: wr_cnt then 24-byte entries', () => {
  const m = encodeRegionWriteMultiRequest(
    7,
    [
      { offset: 0x1000, region: 0, data: Uint8Array.from([1, 0, 0, 0]) },
      { offset: 0x1008, region: 0, data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) },
    ],
    0x10,
  );
  assert.deepEqual(m, bytes(hdr(7, 15, 16 + 56, 0x10), wire));
  const w = decodeRegionWriteMultiRequest(m);
  assert.equal(w.length, 2);
  assert.deepEqual([...w[0]!.data], [1, 0, 0, 0]);
  assert.equal(w[1]!.offset, 0x1008n);
  assert.deepEqual([...w[1]!.data], [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('the unused tail of an entry is ignored', () => {
  const m = msg(7, 15, 0, wire);
  m[16 + 8 + 16 + 6] = 0xff;
  assert.deepEqual([...decodeRegionWriteMultiRequest(m)[0]!.data], [1, 0, 0, 0]);
});

test('malformed requests are EINVAL', () => {
  const m = msg(7, 15, 0, wire);
  const cases: [Buffer, RegExp][] = [
    [msg(7, 15, 0, u64(0)), /wr_cnt is zero/],
    [patch32(m, 16, 3), /wr_cnt 3 but the payload holds 2/],
    [patch32(m, 20, 1), /too large|holds 2/],
    [resize(m, 24), /too long/],
    [resize(m, -1), /holds 1|truncated/],
    [msg(7, 15, 0, [1, 2, 3]), /truncated/],
    [patch32(m, 16 + 8 + 12, 0), /count 0, 1 to 8/],
    [patch32(m, 16 + 8 + 12, 9), /count 9/],
    [msg(7, 15, 0, [...u64(1), ...u64(0xffff_ffff_ffff_fffcn), ...u32(0), ...u32(8), ...zeros(8)]), /wraps/],
  ];
  for (const [b, re] of cases) assertErrno(() => decodeRegionWriteMultiRequest(b), 'EINVAL', re);
  assertErrno(() => decodeRegionWriteMultiRequest(m, [], { numRegions: 0 }), 'EINVAL', /region index 0 out of range/);
  assertErrno(() => decodeRegionWriteMultiRequest(m, [1]), 'EINVAL');
});

test('the encoder refuses empty batches and oversized writes', () => {
  assertErrno(() => encodeRegionWriteMultiRequest(1, []), 'EINVAL');
  assertErrno(() => encodeRegionWriteMultiRequest(1, [{ offset: 0, region: 0, data: new Uint8Array(9) }]), 'EINVAL', /9 bytes/);
  assertErrno(() => encodeRegionWriteMultiRequest(1, [{ offset: 0, region: 0, data: new Uint8Array(0) }]), 'EINVAL');
});

test('reply: the number of writes completed', () => {
  assert.deepEqual(encodeRegionWriteMultiReply(7, 2), bytes(hdr(7, 15, 24, 1), u64(2)));
  assert.deepEqual(decodeRegionWriteMultiReply(encodeRegionWriteMultiReply(7, 2)), { completed: 2 });
  assertErrno(() => decodeRegionWriteMultiReply(msg(7, 15, 1, u32(2))), 'EINVAL', /truncated/);
});
