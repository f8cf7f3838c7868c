// VFIO_USER_DMA_UNMAP, including unmap-all and the dirty bitmap of earlier drafts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DMA_UNMAP_FLAG_ALL,
  DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  decodeDmaUnmapReply,
  decodeDmaUnmapRequest,
  dirtyBitmapBytes,
  encodeDmaUnmapReply,
  encodeDmaUnmapRequest,
} from '../../src/protocol/index.js';
import { assertErrno, bytes, hdr, msg, patch32, resize, u32, u64 } from './helpers.js';

// argsz 24, flags 0, address 0x10000, size 0x4000 (offsets 0/4/8/16).
const plain = [...u32(24), ...u32(0), ...u64(0x10000), ...u64(0x4000)];

test('request bytes follow the table (16 + 24 bytes)', () => {
  assert.deepEqual(encodeDmaUnmapRequest(9, { address: 0x10000, size: 0x4000 }), bytes(hdr(9, 3, 40), plain));
  const r = decodeDmaUnmapRequest(msg(9, 3, 0, plain));
  assert.deepEqual(r, { argsz: 24, flags: 0, address: 0x10000n, size: 0x4000n, all: false, bitmap: undefined });
});

test('unmap-all as QEMU sends it: flags VFIO_DMA_UNMAP_FLAG_ALL, address and size 0', () => {
  const wire = [...u32(24), ...u32(2), ...u64(0), ...u64(0)];
  assert.deepEqual(encodeDmaUnmapRequest(1, { flags: DMA_UNMAP_FLAG_ALL, address: 0, size: 0 }), bytes(hdr(1, 3, 40), wire));
  assert.equal(decodeDmaUnmapRequest(msg(1, 3, 0, wire)).all, true);
  assertErrno(
    () => decodeDmaUnmapRequest(msg(1, 3, 0, [...u32(24), ...u32(2), ...u64(0x1000), ...u64(0)])),
    'EINVAL',
    /ALL needs address and size 0/,
  );
});

test('dirty bitmap request: 24 + 16 bytes, argsz room for the bitmap', () => {
  // 0x4000 bytes at 4 KiB pages = 4 bits = 1 byte of bitmap; ask for 8.
  const wire = [...u32(24 + 16 + 8), ...u32(1), ...u64(0x10000), ...u64(0x4000), ...u64(4096), ...u64(8)];
  const m = encodeDmaUnmapRequest(2, { address: 0x10000, size: 0x4000, bitmap: { pgsize: 4096, size: 8 } });
  assert.deepEqual(m, bytes(hdr(2, 3, 56), wire));
  const r = decodeDmaUnmapRequest(m);
  assert.deepEqual(r.bitmap, { pgsize: 4096n, size: 8 });
  assert.equal(r.flags, DMA_UNMAP_FLAG_GET_DIRTY_BITMAP);
});

test('reply echoes the request; with a bitmap, header and data follow', () => {
  const r = decodeDmaUnmapRequest(msg(9, 3, 0, plain));
  const reply = encodeDmaUnmapReply(9, r);
  assert.deepEqual(reply, bytes(hdr(9, 3, 40, 1), plain));
  assert.deepEqual(decodeDmaUnmapReply(reply), { argsz: 24, flags: 0, address: 0x10000n, size: 0x4000n, bitmap: undefined });

  const rb = decodeDmaUnmapRequest(encodeDmaUnmapRequest(2, { address: 0x10000, size: 0x4000, bitmap: { pgsize: 4096, size: 8 } }));
  const data = Buffer.from([0b0101, 0, 0, 0, 0, 0, 0, 0]);
  const rep = encodeDmaUnmapReply(2, rb, data);
  assert.deepEqual(rep, bytes(hdr(2, 3, 16 + 48, 1), u32(48), u32(1), u64(0x10000), u64(0x4000), u64(4096), u64(8), data));
  const d = decodeDmaUnmapReply(rep);
  assert.deepEqual([...d.bitmap!.data], [...data]);
  assert.equal(d.bitmap!.pgsize, 4096n);
});

test('malformed requests are EINVAL', () => {
  const m = msg(9, 3, 0, plain);
  const bm = encodeDmaUnmapRequest(2, { address: 0x10000, size: 0x4000, bitmap: { pgsize: 4096, size: 8 } });
  const cases: [Buffer, RegExp][] = [
    [resize(m, -1), /truncated/],
    [resize(m, 4), /too long/],
    [msg(9, 3, 0, [1, 2, 3]), /truncated/],
    [patch32(m, 16, 23), /argsz 23/],
    [patch32(m, 20, 4), /unknown flags 0x4/],
    [patch32(m, 20, 3), /ALL cannot be combined/],
    [patch32(m, 20, 1), /truncated/],
    [msg(9, 3, 0, [...u32(24), ...u32(0), ...u64(0x1000), ...u64(0)]), /size is zero/],
    [msg(9, 3, 0, [...u32(24), ...u32(0), ...u64(0xffff_ffff_ffff_f000n), ...u64(0x2000)]), /wraps/],
    [patch32(bm, 16, 40), /argsz 40 is below the 48-byte reply/],
    [patch32(bm, 40, 3000), /not a power of two/],
    [patch32(bm, 48, 0), /cannot cover/],
  ];
  for (const [b, re] of cases) assertErrno(() => decodeDmaUnmapRequest(b), 'EINVAL', re);
  assertErrno(() => decodeDmaUnmapRequest(m, [4]), 'EINVAL', /no file descriptors/);
});

test('bitmap sizing', () => {
  assert.equal(dirtyBitmapBytes(0x4000n, 4096n), 1n);
  assert.equal(dirtyBitmapBytes(0x8000n * 8n + 1n, 4096n), 9n);
  assertErrno(() => encodeDmaUnmapRequest(1, { address: 0, size: 0x100000, bitmap: { pgsize: 4096, size: 31 } }), 'EINVAL', /needs 32/);
  encodeDmaUnmapRequest(1, { address: 0, size: 0x100000, bitmap: { pgsize: 4096, size: 32 } });
});

test('reply checks', () => {
  const rb = decodeDmaUnmapRequest(encodeDmaUnmapRequest(2, { address: 0x10000, size: 0x4000, bitmap: { pgsize: 4096, size: 8 } }));
  assertErrno(() => encodeDmaUnmapReply(2, rb), 'EINVAL', /needs 8 bytes of bitmap/);
  assertErrno(() => encodeDmaUnmapReply(2, rb, new Uint8Array(7)), 'EINVAL');
  const plainReq = decodeDmaUnmapRequest(msg(9, 3, 0, plain));
  assertErrno(() => encodeDmaUnmapReply(9, plainReq, new Uint8Array(1)), 'EINVAL', /without GET_DIRTY_BITMAP/);
  const rep = encodeDmaUnmapReply(2, rb, new Uint8Array(8));
  assertErrno(() => decodeDmaUnmapReply(resize(rep, -1)), 'EINVAL', /truncated/);
  assertErrno(() => decodeDmaUnmapReply(resize(rep, 1)), 'EINVAL', /too long/);
  assertErrno(() => decodeDmaUnmapReply(resize(encodeDmaUnmapReply(9, plainReq), -24)), 'EINVAL', /truncated/);
});
