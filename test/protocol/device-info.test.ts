// VFIO_USER_DEVICE_GET_INFO.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeDeviceGetInfoReply,
  decodeDeviceGetInfoRequest,
  encodeDeviceGetInfoReply,
  encodeDeviceGetInfoRequest,
} from '../../src/protocol/index.js';
import { deviceFlags } from '../../src/uapi/vfio.js';
import { assertErrno, bytes, hdr, msg, patch32, resize, u32 } from './helpers.js';

test('request: argsz then zeros (16 + 16 bytes)', () => {
  assert.deepEqual(encodeDeviceGetInfoRequest(4), bytes(hdr(4, 4, 32), u32(16), u32(0), u32(0), u32(0)));
  assert.deepEqual(decodeDeviceGetInfoRequest(encodeDeviceGetInfoRequest(4)), { argsz: 16 });
  assert.deepEqual(decodeDeviceGetInfoRequest(encodeDeviceGetInfoRequest(4, 64)), { argsz: 64 });
});

test('request errors are EINVAL: argsz too small, non-zero fields, wrong size, fds', () => {
  const m = encodeDeviceGetInfoRequest(4);
  const cases: [Buffer, RegExp][] = [
    [patch32(m, 16, 15), /argsz 15 is smaller than the 16-byte reply/],
    [patch32(m, 20, 3), /flags must be zero/],
    [patch32(m, 24, 9), /num_regions must be zero/],
    [patch32(m, 28, 5), /num_irqs must be zero/],
    [resize(m, -4), /truncated/],
    [resize(m, 4), /too long/],
    [msg(4, 4, 0, []), /truncated/],
  ];
  for (const [b, re] of cases) assertErrno(() => decodeDeviceGetInfoRequest(b), 'EINVAL', re);
  assertErrno(() => decodeDeviceGetInfoRequest(m, [3]), 'EINVAL');
  assertErrno(() => encodeDeviceGetInfoRequest(4, 8), 'EINVAL');
});

test('reply: argsz 16, flags, num_regions, num_irqs', () => {
  const m = encodeDeviceGetInfoReply(4, 16, { flags: deviceFlags.PCI | deviceFlags.RESET, numRegions: 9, numIrqs: 5 });
  assert.deepEqual(m, bytes(hdr(4, 4, 32, 1), u32(16), u32(3), u32(9), u32(5)));
  assert.deepEqual(decodeDeviceGetInfoReply(m), { argsz: 16, truncated: false, flags: 3, numRegions: 9, numIrqs: 5 });
  // A request with more room still gets the 16 bytes there are.
  assert.equal(encodeDeviceGetInfoReply(4, 4096, { flags: 2, numRegions: 10, numIrqs: 5 }).length, 32);
});

test('reply errors', () => {
  assertErrno(() => encodeDeviceGetInfoReply(4, 12, { flags: 2, numRegions: 9, numIrqs: 5 }), 'EINVAL', /argsz 12/);
  assertErrno(() => encodeDeviceGetInfoReply(4, 16, { flags: 2, numRegions: 8, numIrqs: 5 }), 'EINVAL', /at least 9 regions/);
  const m = encodeDeviceGetInfoReply(4, 16, { flags: 2, numRegions: 9, numIrqs: 5 });
  assertErrno(() => decodeDeviceGetInfoReply(patch32(m, 16, 8)), 'EINVAL', /argsz 8/);
  assertErrno(() => decodeDeviceGetInfoReply(patch32(m, 24, 3)), 'EINVAL', /at least 9 regions/);
  assertErrno(() => decodeDeviceGetInfoReply(resize(m, 4)), 'EINVAL', /too long/);
  assertErrno(() => decodeDeviceGetInfoReply(resize(m, -1)), 'EINVAL', /truncated/);
  // A reply saying more is needed than it carries.
  assert.equal(decodeDeviceGetInfoReply(patch32(m, 16, 24)).truncated, true);
});
