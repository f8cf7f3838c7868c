// VFIO_USER_DMA_MAP.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Command,
  DMA_MAP_FLAG_READ,
  DMA_MAP_FLAG_WRITE,
  decodeDmaMapReply,
  decodeDmaMapRequest,
  decodeDmaMapRequestPayload,
  encodeDmaMapReply,
  encodeDmaMapRequest,
  encodeErrorReply,
  PeerError,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg, patch32, resize, u32, u64 } from './helpers.js';

// argsz 32, flags R|W, offset 0x1000, address 4 GiB, size 2 MiB (spec table: 0/4/8/16/24).
const payload = [...u32(32), ...u32(3), ...u64(0x1000), ...u64(0x1_0000_0000), ...u64(0x20_0000)];

test('request bytes follow the table (16 + 32 bytes)', () => {
  const m = encodeDmaMapRequest(5, {
    flags: DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE,
    offset: 0x1000,
    address: 0x1_0000_0000,
    size: 0x20_0000,
  });
  assert.deepEqual(m, bytes(hdr(5, 2, 48, 0), payload));
});

test('decodes with its fd', () => {
  const r = decodeDmaMapRequest(msg(5, 2, 0, payload), [42]);
  assert.deepEqual(r, {
    argsz: 32,
    flags: 3,
    offset: 0x1000n,
    address: 0x1_0000_0000n,
    size: 0x20_0000n,
    readable: true,
    writable: true,
    fd: 42,
  });
});

test('without an fd (DMA through messages) the offset is 0', () => {
  const m = encodeDmaMapRequest(6, { flags: DMA_MAP_FLAG_READ, address: 0x10000, size: 0x1000 });
  const r = decodeDmaMapRequest(m);
  assert.equal(r.fd, undefined);
  assert.equal(r.writable, false);
  assert.equal(r.offset, 0n);
  assertErrno(() => decodeDmaMapRequest(msg(5, 2, 0, payload), []), 'EINVAL', /offset 0x1000 without a file descriptor/);
});

test('u64 fields beyond 2^53 round-trip as bigints', () => {
  const m = encodeDmaMapRequest(1, { flags: 1, address: 0xffff_ffff_ffff_e000n, size: 0x2000n, offset: 0x7fff_ffff_ffff_f000n });
  const r = decodeDmaMapRequest(m, [3]);
  assert.equal(r.address, 0xffff_ffff_ffff_e000n);
  assert.equal(r.offset, 0x7fff_ffff_ffff_f000n);
});

test('the no-reply flag is carried', () => {
  const m = encodeDmaMapRequest(1, { flags: 1, address: 0, size: 4096 }, 0x10);
  assert.equal(m.readUInt32LE(8), 0x10);
  decodeDmaMapRequest(m);
});

test('malformed requests are EINVAL', () => {
  const m = msg(5, 2, 0, payload);
  const cases: [Buffer, number[], RegExp][] = [
    [resize(m, -1), [1], /truncated/],
    [resize(m, 1), [1], /too long/],
    [patch32(m, 16, 31), [1], /argsz 31/],
    [patch32(m, 20, 4), [1], /unknown flags 0x4/],
    [patch32(m, 20, 0), [1], /neither read nor write/],
    [bytes(m.subarray(0, 40), u64(0)), [1], /size is zero/],
    [bytes(hdr(5, 2, 48), u32(32), u32(1), u64(0), u64(0xffff_ffff_ffff_f000n), u64(0x2000)), [], /wraps/],
    [m, [1, 2], /2 file descriptors/],
  ];
  for (const [b, fds, re] of cases) assertErrno(() => decodeDmaMapRequest(b, fds), 'EINVAL', re);
  assertErrno(() => decodeDmaMapRequest(bytes(hdr(5, 3, 48), payload), [1]), 'EINVAL', /expected a DMA_MAP command/);
  assertErrno(() => decodeDmaMapRequestPayload(new Uint8Array(32)), 'EINVAL', /argsz 0/);
});

test('the encoder checks its arguments', () => {
  assertErrno(() => encodeDmaMapRequest(1, { flags: 8, address: 0, size: 1 }), 'EINVAL');
  assertErrno(() => encodeDmaMapRequest(1, { flags: 1, address: -1, size: 1 }), 'EINVAL');
  assertErrno(() => encodeDmaMapRequest(1, { flags: 1, address: 2 ** 53, size: 1 }), 'EINVAL', /bigint/);
  assertErrno(() => encodeDmaMapRequest(1, { flags: 1, address: 0, size: 0 }), 'EINVAL');
  assertErrno(() => encodeDmaMapRequest(1, { flags: 1, address: 0, size: 1, argsz: 16 }), 'EINVAL');
  assertErrno(() => encodeDmaMapRequest(1, { flags: 1, address: 0, size: 1 }, 0x20), 'EINVAL', /no-reply/);
});

test('reply: header only; EEXIST comes back as a PeerError', () => {
  assert.deepEqual(encodeDmaMapReply(5), bytes(hdr(5, 2, 16, 1)));
  decodeDmaMapReply(encodeDmaMapReply(5));
  assertErrno(() => decodeDmaMapReply(bytes(hdr(5, 2, 17, 1), [0])), 'EINVAL', /too long/);
  const e = assertErrno(() => decodeDmaMapReply(encodeErrorReply({ msgId: 5, command: Command.DMA_MAP }, 'EEXIST')), 'EEXIST');
  assert.ok(e instanceof PeerError);
});
