// VFIO_USER_DEVICE_GET_REGION_INFO, with its capability chain and the
// "argsz too small" reply.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  REGION_INFO_FLAG_CAPS,
  REGION_INFO_FLAG_MMAP,
  REGION_INFO_FLAG_READ,
  REGION_INFO_FLAG_WRITE,
  decodeRegionInfoReply,
  decodeRegionInfoRequest,
  encodeRegionInfoReply,
  encodeRegionInfoRequest,
  type RegionInfo,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg, patch32, resize, u16, u32, u64, zeros } from './helpers.js';

const RW = REGION_INFO_FLAG_READ | REGION_INFO_FLAG_WRITE;

test('request: argsz, index; all else zero (16 + 32 bytes)', () => {
  const m = encodeRegionInfoRequest(2, 7);
  assert.deepEqual(m, bytes(hdr(2, 5, 48), u32(32), u32(0), u32(7), u32(0), u64(0), u64(0)));
  assert.deepEqual(decodeRegionInfoRequest(m), { argsz: 32, index: 7 });
  assert.deepEqual(decodeRegionInfoRequest(encodeRegionInfoRequest(2, 0, 4096)), { argsz: 4096, index: 0 });
});

test('request errors are EINVAL', () => {
  const m = encodeRegionInfoRequest(2, 7);
  const cases: [Buffer, RegExp][] = [
    [patch32(m, 16, 31), /argsz 31 is smaller than the 32-byte structure/],
    [patch32(m, 20, 1), /flags must be zero/],
    [patch32(m, 28, 32), /cap_offset must be zero/],
    [patch32(m, 36, 1), /size must be zero/],
    [patch32(m, 44, 1), /offset must be zero/],
    [resize(m, -8), /truncated/],
    [resize(m, 8), /too long/],
  ];
  for (const [b, re] of cases) assertErrno(() => decodeRegionInfoRequest(b), 'EINVAL', re);
  assertErrno(() => decodeRegionInfoRequest(m, [], { numRegions: 7 }), 'EINVAL', /region index 7 out of range/);
  decodeRegionInfoRequest(m, [], { numRegions: 9 });
  assertErrno(() => decodeRegionInfoRequest(m, [1]), 'EINVAL');
  assertErrno(() => encodeRegionInfoRequest(2, 0, 16), 'EINVAL');
});

test('reply without capabilities', () => {
  const { message, sendFd, argsz } = encodeRegionInfoReply(2, 32, { flags: RW, index: 0, size: 0x1000, offset: 0 });
  assert.deepEqual(message, bytes(hdr(2, 5, 48, 1), u32(32), u32(3), u32(0), u32(0), u64(0x1000), u64(0)));
  assert.equal(sendFd, false);
  assert.equal(argsz, 32);
  assert.deepEqual(decodeRegionInfoReply(message), {
    argsz: 32,
    flags: 3,
    index: 0,
    capOffset: 0,
    size: 0x1000n,
    offset: 0n,
    caps: [],
    truncated: false,
    fd: undefined,
  });
});

// BAR0 of an NVMe-like device: 16 KiB, registers trapped, doorbell page and
// the last page mappable; region type capability after the sparse one.
const bar0: RegionInfo = {
  flags: RW | REGION_INFO_FLAG_MMAP,
  index: 0,
  size: 0x4000,
  offset: 0x10000,
  caps: [
    {
      kind: 'sparse-mmap',
      areas: [
        { offset: 0x1000n, size: 0x1000n },
        { offset: 0x3000n, size: 0x1000n },
      ],
    },
    { kind: 'type', type: 0x8000_8086, subtype: 1 },
  ],
};
// structure (32) | sparse at 32: header, nr_areas 2, reserved, 2 areas = 48 | type at 80: 16  => 96
const bar0Wire = [
  ...u32(96),
  ...u32(RW | REGION_INFO_FLAG_MMAP | REGION_INFO_FLAG_CAPS),
  ...u32(0),
  ...u32(32),
  ...u64(0x4000),
  ...u64(0x10000),
  ...u16(1),
  ...u16(1),
  ...u32(80),
  ...u32(2),
  ...u32(0),
  ...u64(0x1000),
  ...u64(0x1000),
  ...u64(0x3000),
  ...u64(0x1000),
  ...u16(2),
  ...u16(1),
  ...u32(0),
  ...u32(0x8000_8086),
  ...u32(1),
];

test('reply with a sparse mmap and a type capability, byte for byte', () => {
  const { message, sendFd, argsz } = encodeRegionInfoReply(3, 4096, bar0);
  assert.deepEqual(message, bytes(hdr(3, 5, 16 + 96, 1), bar0Wire));
  assert.equal(sendFd, true);
  assert.equal(argsz, 96);
  const r = decodeRegionInfoReply(message, [77], { index: 0 });
  assert.equal(r.fd, 77);
  assert.equal(r.truncated, false);
  assert.deepEqual(r.caps, bar0.caps);
});

test('argsz too small: the bare structure with the needed argsz, no caps, no fd', () => {
  for (const argsz of [32, 95]) {
    const { message, sendFd } = encodeRegionInfoReply(3, argsz, bar0);
    assert.deepEqual(message, bytes(hdr(3, 5, 48, 1), u32(96), u32(RW | REGION_INFO_FLAG_MMAP), u32(0), u32(0), u64(0x4000), u64(0x10000)));
    assert.equal(sendFd, false);
    const r = decodeRegionInfoReply(message, []);
    assert.equal(r.truncated, true);
    assert.equal(r.argsz, 96);
    assert.deepEqual(r.caps, []);
  }
  // Exactly enough room: the whole reply.
  assert.equal(encodeRegionInfoReply(3, 96, bar0).message.length, 16 + 96);
});

test('cut-short replies in the kernel style (CAPS set, cap_offset 0) and libvfio-user style (zero padding up to argsz) decode', () => {
  const kernel = bytes(hdr(3, 5, 48, 1), u32(96), u32(0xf), u32(0), u32(0), u64(0x4000), u64(0x10000));
  assert.equal(decodeRegionInfoReply(kernel).truncated, true);
  const padded = bytes(hdr(3, 5, 16 + 40, 1), u32(96), u32(7), u32(0), u32(0), u64(0x4000), u64(0x10000), zeros(8));
  assert.equal(decodeRegionInfoReply(padded).truncated, true);
});

test('unknown capabilities are kept as bytes; MSIX_MAPPABLE is known', () => {
  const wire = [
    ...u32(32 + 8 + 16),
    ...u32(RW | REGION_INFO_FLAG_CAPS),
    ...u32(1),
    ...u32(32),
    ...u64(0x100),
    ...u64(0),
    ...u16(3),
    ...u16(1),
    ...u32(40),
    ...u16(99),
    ...u16(7),
    ...u32(0),
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
  ];
  const r = decodeRegionInfoReply(msg(1, 5, 1, wire));
  assert.equal(r.caps.length, 2);
  assert.deepEqual(r.caps[0], { kind: 'msix-mappable' });
  const u = r.caps[1]!;
  assert.ok(u.kind === 'unknown');
  assert.equal(u.id, 99);
  assert.deepEqual([...u.data], [1, 2, 3, 4, 5, 6, 7, 8]);
  // and they encode back to the same bytes
  assert.deepEqual(
    encodeRegionInfoReply(1, 4096, { flags: RW, index: 1, size: 0x100, offset: 0, caps: r.caps }).message,
    msg(1, 5, 1, wire),
  );
});

test('a reply whose argsz exceeds its payload is cut short; its chain is not read', () => {
  const r = decodeRegionInfoReply(patch32(msg(3, 5, 1, bar0Wire), 16, 200), [1]);
  assert.equal(r.truncated, true);
  assert.deepEqual(r.caps, []);
});

test('malformed replies are EINVAL', () => {
  const good = msg(3, 5, 1, bar0Wire);
  const cases: [Buffer, number[], RegExp][] = [
    [patch32(good, 16, 16), [1], /argsz 16 is below 32/],
    [patch32(good, 16, 64), [1], /more than its argsz 64/],
    [patch32(good, 20, 0x1f), [1], /unknown flags 0x10/],
    [patch32(good, 28, 0), [1], /CAPS set but cap_offset is 0/],
    [patch32(good, 28, 16), [1], /overlaps/],
    [patch32(good, 28, 92), [1], /runs past/],
    [patch32(good, 16 + 36, 32), [1], /next 32 points inside or before it/],
    [patch32(good, 16 + 36, 40), [1], /points inside/],
    [patch32(good, 16 + 40, 9), [1], /claims 9 areas/],
    [patch32(good, 16 + 44, 1), [1], /reserved field must be zero/],
    [patch32(good, 16 + 72, 0x2000), [1], /exceeds the region/],
    [patch32(good, 16 + 4, RW | REGION_INFO_FLAG_CAPS), [], /sparse mmap areas on a region without MMAP/],
    [good, [], /MMAP region without its descriptor/],
    [good, [1, 2], /at most 1/],
    [resize(good, -80), [1], /truncated/],
  ];
  for (const [b, fds, re] of cases) assertErrno(() => decodeRegionInfoReply(b, fds), 'EINVAL', re);
  const noMmap = encodeRegionInfoReply(1, 32, { flags: RW, index: 1, size: 16, offset: 0 }).message;
  assertErrno(() => decodeRegionInfoReply(noMmap, [5]), 'EINVAL', /without MMAP/);
  assertErrno(() => decodeRegionInfoReply(noMmap, [], { index: 2 }), 'EINVAL', /asked for 2/);
  assertErrno(() => decodeRegionInfoReply(patch32(noMmap, 28, 32)), 'EINVAL', /cap_offset 32 without CAPS/);
});

test('the encoder checks capabilities against the region', () => {
  assertErrno(() => encodeRegionInfoReply(1, 4096, { ...bar0, flags: RW }), 'EINVAL', /without MMAP/);
  assertErrno(
    () => encodeRegionInfoReply(1, 4096, { ...bar0, caps: [{ kind: 'sparse-mmap', areas: [{ offset: 0x3000n, size: 0x2000n }] }] }),
    'EINVAL',
    /exceeds the region/,
  );
  assertErrno(
    () => encodeRegionInfoReply(1, 4096, { ...bar0, caps: [{ kind: 'sparse-mmap', areas: [{ offset: 0n, size: 0n }] }] }),
    'EINVAL',
    /empty/,
  );
  assertErrno(() => encodeRegionInfoReply(1, 4096, { ...bar0, flags: 0x10 }), 'EINVAL', /unknown region flags/);
  assertErrno(() => encodeRegionInfoReply(1, 16, bar0), 'EINVAL', /argsz 16/);
});
