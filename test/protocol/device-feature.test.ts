// VFIO_USER_DEVICE_FEATURE: the head, GET/SET/PROBE rules, and the data of
// the migration and DMA logging features.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEVICE_FEATURE_GET,
  DEVICE_FEATURE_PROBE,
  DEVICE_FEATURE_SET,
  DeviceState,
  Feature,
  MIGRATION_PRE_COPY,
  MIGRATION_STOP_COPY,
  decodeDeviceFeatureReply,
  decodeDeviceFeatureRequest,
  decodeDmaLoggingControl,
  decodeDmaLoggingReportReply,
  decodeMigStateData,
  decodeMigrationFeatureData,
  dmaLoggingBitmapBytes,
  encodeDeviceFeatureReply,
  encodeDeviceFeatureRequest,
  encodeDmaLoggingControl,
  encodeDmaLoggingReportReply,
  encodeDmaLoggingReportRequest,
  encodeMigStateData,
  encodeMigrationFeatureData,
  interpretDeviceFeatureRequest,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg, u32, u64 } from './helpers.js';

function feature(argsz: number, flags: number, data: number[] = []): Buffer {
  return msg(1, 16, 0, [...u32(argsz), ...u32(flags), ...data]);
}

test('GET MIGRATION: request head only, reply with the u64 flags', () => {
  const m = encodeDeviceFeatureRequest(2, { feature: Feature.MIGRATION, get: true, argsz: 16 });
  assert.deepEqual(m, bytes(hdr(2, 16, 24), u32(16), u32(0x10001)));
  const req = decodeDeviceFeatureRequest(m);
  assert.deepEqual(interpretDeviceFeatureRequest(req), { kind: 'migration-get' });
  const reply = encodeDeviceFeatureReply(2, req, encodeMigrationFeatureData(MIGRATION_STOP_COPY | MIGRATION_PRE_COPY));
  assert.deepEqual(reply, bytes(hdr(2, 16, 32, 1), u32(16), u32(0x10001), u64(5)));
  const r = decodeDeviceFeatureReply(reply);
  assert.equal(r.truncated, false);
  assert.deepEqual(decodeMigrationFeatureData(r.data), { flags: 5n });
});

test('a GET whose argsz cannot hold the data gets the head with the needed argsz', () => {
  const req = decodeDeviceFeatureRequest(encodeDeviceFeatureRequest(2, { feature: Feature.MIGRATION, get: true }));
  assert.equal(req.argsz, 8);
  const reply = encodeDeviceFeatureReply(2, req, encodeMigrationFeatureData(MIGRATION_STOP_COPY));
  assert.deepEqual(reply, bytes(hdr(2, 16, 24, 1), u32(16), u32(0x10001)));
  const r = decodeDeviceFeatureReply(reply);
  assert.equal(r.truncated, true);
  assert.equal(r.argsz, 16);
});

test('SET MIG_DEVICE_STATE: state and data_fd; the reply echoes the request', () => {
  const data = encodeMigStateData(DeviceState.STOP_COPY);
  assert.deepEqual([...data], [...u32(3), ...u32(0xffff_ffff)]);
  const m = encodeDeviceFeatureRequest(3, { feature: Feature.MIG_DEVICE_STATE, set: true, data });
  assert.deepEqual(m, bytes(hdr(3, 16, 32), u32(16), u32(0x20002), u32(3), u32(0xffff_ffff)));
  const req = decodeDeviceFeatureRequest(m);
  assert.deepEqual(interpretDeviceFeatureRequest(req), { kind: 'mig-state-set', state: 3 });
  const reply = encodeDeviceFeatureReply(3, req);
  assert.deepEqual(reply.subarray(16), m.subarray(16));
  assert.deepEqual(decodeMigStateData(decodeDeviceFeatureReply(reply).data, 'get'), { state: 3 });
});

test('MIG_DEVICE_STATE states a client may not ask for are EINVAL', () => {
  for (const s of [DeviceState.ERROR, DeviceState.RUNNING_P2P, DeviceState.PRE_COPY_P2P, 8]) {
    const d = [...u32(s), ...u32(0)];
    assertErrno(() => interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(16, 0x20002, d))), 'EINVAL');
  }
  assert.deepEqual(decodeMigStateData(Uint8Array.from([...u32(0), ...u32(0)]), 'get'), { state: 0 });
  assertErrno(() => decodeMigStateData(new Uint8Array(4), 'get'), 'EINVAL', /truncated/);
  assert.deepEqual(interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(16, 0x10002))), { kind: 'mig-state-get' });
  assertErrno(() => interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(16, 0x10002, [0, 0, 0, 0]))), 'EINVAL', /too long/);
});

test('DMA_LOGGING_START: page size, ranges; reserved zero, no overlap', () => {
  const data = encodeDmaLoggingControl({
    pageSize: 4096,
    ranges: [
      { iova: 0x10_0000, length: 0x1000 },
      { iova: 0, length: 0x8000 },
    ],
  });
  const wire = [...u64(4096), ...u32(2), ...u32(0), ...u64(0x10_0000), ...u64(0x1000), ...u64(0), ...u64(0x8000)];
  assert.deepEqual([...data], wire);
  const req = decodeDeviceFeatureRequest(feature(8 + wire.length, DEVICE_FEATURE_SET | 6, wire));
  const r = interpretDeviceFeatureRequest(req);
  assert.ok(r.kind === 'dma-logging-start');
  assert.equal(r.control.ranges.length, 2);
  // The reply echoes, possibly with the page size the device chose.
  const chosen = encodeDmaLoggingControl({ pageSize: 8192, ranges: r.control.ranges });
  const rep = decodeDeviceFeatureReply(encodeDeviceFeatureReply(1, req, chosen));
  assert.equal(decodeDmaLoggingControl(rep.data).pageSize, 8192n);
  // num_ranges 0: log everything.
  assert.deepEqual(decodeDmaLoggingControl(Uint8Array.from([...u64(4096), ...u32(0), ...u32(0)])).ranges, []);

  const bad: [number[], RegExp][] = [
    [[...u64(4096), ...u32(1), ...u32(1), ...u64(0), ...u64(0x1000)], /reserved must be zero/],
    [[...u64(4096), ...u32(2), ...u32(0), ...u64(0), ...u64(0x1000)], /num_ranges 2/],
    [[...u64(4096), ...u32(1), ...u32(0), ...u64(0), ...u64(0x1000), 0], /too long/],
    [[...u64(3000), ...u32(1), ...u32(0), ...u64(0), ...u64(0x1000)], /not a power of two/],
    [[...u64(4096), ...u32(1), ...u32(0), ...u64(0), ...u64(0)], /empty range/],
    [[...u64(4096), ...u32(1), ...u32(0), ...u64(0xffff_ffff_ffff_f000n), ...u64(0x2000)], /wraps/],
    [[...u64(4096), ...u32(2), ...u32(0), ...u64(0), ...u64(0x2000), ...u64(0x1000), ...u64(0x1000)], /overlap/],
    [[...u64(4096)], /truncated/],
  ];
  for (const [d, re] of bad) {
    assertErrno(() => interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(8 + d.length, 0x20006, d))), 'EINVAL', re);
  }
});

test('DMA_LOGGING_STOP has no data', () => {
  assert.deepEqual(interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(8, 0x20007))), { kind: 'dma-logging-stop' });
  assertErrno(() => interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(12, 0x20007, [0, 0, 0, 0]))), 'EINVAL');
});

test('DMA_LOGGING_REPORT: range in, range and bitmap of u64 words out', () => {
  const range = { iova: 0x100_0000n, length: 0x10_0000n, pageSize: 4096n };
  const data = encodeDmaLoggingReportRequest(range);
  assert.deepEqual([...data], [...u64(0x100_0000), ...u64(0x10_0000), ...u64(4096)]);
  // 256 pages -> 4 u64 words -> 32 bytes
  assert.equal(dmaLoggingBitmapBytes(range.length, range.pageSize), 32n);
  assert.equal(dmaLoggingBitmapBytes(4096n * 65n, 4096n), 16n);
  const m = encodeDeviceFeatureRequest(5, { feature: Feature.DMA_LOGGING_REPORT, get: true, data, argsz: 8 + 24 + 32 });
  const req = decodeDeviceFeatureRequest(m);
  const r = interpretDeviceFeatureRequest(req);
  assert.deepEqual(r, { kind: 'dma-logging-report', range });
  const bitmap = new Uint8Array(32);
  bitmap[0] = 0b1001;
  const reply = decodeDeviceFeatureReply(encodeDeviceFeatureReply(5, req, encodeDmaLoggingReportReply(range, bitmap)));
  assert.equal(reply.argsz, 64);
  const rep = decodeDmaLoggingReportReply(reply.data);
  assert.equal(rep.bitmap[0], 9);
  assertErrno(() => encodeDmaLoggingReportReply(range, new Uint8Array(31)), 'EINVAL', /needs 32/);
  assertErrno(() => decodeDmaLoggingReportReply(reply.data.subarray(0, 52)), 'EINVAL', /range needs 32/);
  assertErrno(() => encodeDmaLoggingReportRequest({ ...range, pageSize: 100 }), 'EINVAL');
  assertErrno(
    () => interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(64, 0x10008, [...u64(0), ...u64(0), ...u64(4096)]))),
    'EINVAL',
    /empty range/,
  );
});

test('flag rules: GET and SET only together with PROBE; one of the three; known bits', () => {
  const cases: [number, RegExp][] = [
    [DEVICE_FEATURE_GET | DEVICE_FEATURE_SET | 2, /GET and SET together need PROBE/],
    [2, /none of GET, SET, PROBE/],
    [DEVICE_FEATURE_GET | 1 | (1 << 19), /unknown flags 0x80000/],
  ];
  for (const [f, re] of cases) assertErrno(() => decodeDeviceFeatureRequest(feature(8, f)), 'EINVAL', re);
  const probe = decodeDeviceFeatureRequest(feature(11, DEVICE_FEATURE_PROBE | DEVICE_FEATURE_GET | DEVICE_FEATURE_SET | 2, [1, 2, 3]));
  assertErrno(
    () => decodeDeviceFeatureRequest(feature(10, DEVICE_FEATURE_PROBE | 2, [1, 2, 3])),
    'EINVAL',
    /argsz 10 is smaller than the 11-byte payload/,
  );
  assertErrno(() => decodeDeviceFeatureRequest(feature(8, DEVICE_FEATURE_SET | 7, [0, 0, 0, 0])), 'EINVAL', /argsz 8/);
  assert.deepEqual(interpretDeviceFeatureRequest(probe), { kind: 'probe', feature: 2, get: true, set: true });
  const reply = decodeDeviceFeatureReply(encodeDeviceFeatureReply(1, probe));
  assert.equal(reply.probe, true);
  assertErrno(() => decodeDeviceFeatureRequest(feature(7, 0x10001)), 'EINVAL', /argsz 7/);
  assertErrno(() => decodeDeviceFeatureRequest(msg(1, 16, 0, [1, 2, 3])), 'EINVAL', /truncated/);
  assertErrno(() => decodeDeviceFeatureRequest(feature(8, 0x10001), [4]), 'EINVAL');
});

test('unknown features are ENOTTY; operations a feature lacks are EINVAL', () => {
  assertErrno(() => interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(8, 0x10003))), 'ENOTTY', /unknown feature 3/);
  assertErrno(() => interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(8, 0x40000))), 'ENOTTY', /feature 0/);
  assertErrno(
    () => interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(16, 0x20001, [0, 0, 0, 0, 0, 0, 0, 0]))),
    'EINVAL',
    /no SET/,
  );
  assertErrno(() => interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(8, 0x10006))), 'EINVAL', /no GET/);
  assertErrno(() => interpretDeviceFeatureRequest(decodeDeviceFeatureRequest(feature(16, 0x10001, [0, 0, 0, 0]))), 'EINVAL', /too long/);
});

test('migration flags must include STOP_COPY and nothing unknown', () => {
  assertErrno(() => decodeMigrationFeatureData(Uint8Array.from(u64(4))), 'EINVAL', /STOP_COPY/);
  assertErrno(() => decodeMigrationFeatureData(Uint8Array.from(u64(9))), 'EINVAL', /unknown bits/);
  assertErrno(() => encodeMigrationFeatureData(0), 'EINVAL');
});

test('reply size rules', () => {
  const get = decodeDeviceFeatureRequest(feature(64, 0x10001));
  const rep = encodeDeviceFeatureReply(1, get, encodeMigrationFeatureData(1n));
  const grown = Buffer.concat([rep, Buffer.alloc(4)]);
  grown.writeUInt32LE(grown.length, 4);
  assertErrno(() => decodeDeviceFeatureReply(grown), 'EINVAL', /too long/);
  const set = decodeDeviceFeatureRequest(feature(8, 0x20007));
  const setRep = Buffer.from(encodeDeviceFeatureReply(1, set, new Uint8Array(8)));
  assertErrno(() => decodeDeviceFeatureReply(setRep), 'EINVAL', /more than its argsz 8/);
});
