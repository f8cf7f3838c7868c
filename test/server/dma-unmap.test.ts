// DMA_UNMAP: exact and multi-map unmaps, unmap-all, what the model sees
// afterwards, and the refusals (partial ranges, nothing there, bad flags,
// dirty bitmaps, malformed payloads, descriptors).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Command,
  DMA_MAP_FLAG_READ,
  DMA_MAP_FLAG_WRITE,
  DMA_UNMAP_FLAG_ALL,
  decodeDmaUnmapReply,
  encodeDmaMapRequest,
  encodeDmaUnmapRequest,
} from '../../src/protocol/index.js';
import { EventFd } from '../../src/sys/index.js';
import { DmaError } from '../../src/server/errors.js';
import {
  assertError,
  assertNoLeak,
  assertOk,
  ClientMemory,
  memfdMapCount,
  resources,
  type TestClient,
  type TestServer,
  eachClient,
  rawRequest,
} from './helpers.js';

const RW = DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE;

function rawUnmap(id: number, f: { argsz?: number; flags?: number; address?: bigint; size?: bigint }, payloadLength = 24): Buffer {
  const b = rawRequest(Command.DMA_UNMAP, id, payloadLength);
  if (payloadLength >= 24) {
    b.writeUInt32LE(f.argsz ?? 24, 16);
    b.writeUInt32LE(f.flags ?? 0, 20);
    b.writeBigUInt64LE(f.address ?? 0n, 24);
    b.writeBigUInt64LE(f.size ?? 0n, 32);
  }
  return b;
}

describe('DMA_UNMAP', () => {
  let t: TestServer;
  let c: TestClient;
  eachClient({ command: 0x6 }, async (server, client) => {
    t = server;
    c = client;
    for (const a of [0x10000n, 0x11000n, 0x20000n]) {
      assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: a, size: 0x1000n })));
    }
  });

  const iovas = (): bigint[] => t.device.dma.maps().map((m) => m.iova);

  it('unmaps an exact map and echoes the request', async () => {
    const r = await c.request(encodeDmaUnmapRequest(c.id(), { address: 0x11000n, size: 0x1000n }));
    assertOk(r);
    const reply = decodeDmaUnmapReply(r.message);
    assert.deepEqual(
      { argsz: reply.argsz, flags: reply.flags, address: reply.address, size: reply.size },
      { argsz: 24, flags: 0, address: 0x11000n, size: 0x1000n },
    );
    assert.deepEqual(iovas(), [0x10000n, 0x20000n]);
  });

  it('unmaps every map inside a larger range', async () => {
    assertOk(await c.request(encodeDmaUnmapRequest(c.id(), { address: 0x10000n, size: 0x2000n })));
    assert.deepEqual(iovas(), [0x20000n]);
  });

  it('refuses a range that cuts a map (EINVAL, nothing unmapped)', async () => {
    assertError(await c.request(encodeDmaUnmapRequest(c.id(), { address: 0x10000n, size: 0x1800n })), 'EINVAL');
    assertError(await c.request(encodeDmaUnmapRequest(c.id(), { address: 0x10800n, size: 0x1000n })), 'EINVAL');
    assert.deepEqual(iovas(), [0x10000n, 0x11000n, 0x20000n]);
  });

  it('refuses a range without maps (ENOENT)', async () => {
    assertError(await c.request(encodeDmaUnmapRequest(c.id(), { address: 0x30000n, size: 0x1000n })), 'ENOENT');
    assert.equal(iovas().length, 3);
  });

  it('unmaps everything with VFIO_DMA_UNMAP_FLAG_ALL', async () => {
    assertOk(await c.request(encodeDmaUnmapRequest(c.id(), { flags: DMA_UNMAP_FLAG_ALL, address: 0, size: 0 })));
    assert.equal(iovas().length, 0);
    assertOk(
      await c.request(encodeDmaUnmapRequest(c.id(), { flags: DMA_UNMAP_FLAG_ALL, address: 0, size: 0 })),
      'nothing left: still fine',
    );
  });

  it('empties views and unmaps the memory of descriptor maps', async () => {
    const before = resources();
    const mem = new ClientMemory(8192);
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x40000n, size: 8192n }), [mem.memfd.fd]));
    const maps = memfdMapCount();
    const view = t.device.dma.view(0x40000n, 8192);
    assertOk(await c.request(encodeDmaUnmapRequest(c.id(), { address: 0x40000n, size: 8192n })));
    assert.equal(view.length, 0);
    assert.equal(memfdMapCount(), maps - 1);
    assert.throws(
      () => t.device.dma.readSync(0x40000n, new Uint8Array(1)),
      (e) => e instanceof DmaError && e.reason === 'unmapped' && e.code === 'EFAULT',
    );
    mem.close();
    await assertNoLeak(before);
  });

  it('refuses dirty bitmaps (ENOTSUP)', async () => {
    const r = await c.request(encodeDmaUnmapRequest(c.id(), { address: 0x10000n, size: 0x1000n, bitmap: { pgsize: 4096, size: 8 } }));
    assertError(r, 'ENOTSUP');
    assert.equal(iovas().length, 3);
  });

  it('refuses malformed requests (EINVAL)', async () => {
    assertError(await c.request(rawUnmap(c.id(), { address: 0x10000n, size: 0n })), 'EINVAL', 'size 0');
    assertError(
      await c.request(rawUnmap(c.id(), { flags: DMA_UNMAP_FLAG_ALL, address: 0x10000n, size: 0x1000n })),
      'EINVAL',
      'ALL with a range',
    );
    assertError(await c.request(rawUnmap(c.id(), { flags: 4, address: 0x10000n, size: 0x1000n })), 'EINVAL', 'VADDR');
    assertError(await c.request(rawUnmap(c.id(), { flags: 3 })), 'EINVAL', 'ALL with GET_DIRTY_BITMAP');
    assertError(await c.request(rawUnmap(c.id(), { address: 0xffff_ffff_ffff_f000n, size: 0x2000n })), 'EINVAL', 'wraps');
    assertError(await c.request(rawUnmap(c.id(), { argsz: 8, address: 0x10000n, size: 0x1000n })), 'EINVAL', 'argsz');
    assertError(await c.request(rawUnmap(c.id(), { address: 0x10000n, size: 0x1000n }, 23)), 'EINVAL', 'short');
    assertError(await c.request(rawUnmap(c.id(), { address: 0x10000n, size: 0x1000n }, 25)), 'EINVAL', 'long');
    assertError(await c.request(rawUnmap(c.id(), {}, 4)), 'EINVAL', 'truncated');
    assert.equal(iovas().length, 3);
  });

  it('refuses a descriptor (EINVAL) and closes it', async () => {
    const before = resources();
    const e = EventFd.create();
    assertError(await c.request(encodeDmaUnmapRequest(c.id(), { address: 0x10000n, size: 0x1000n }), [e.fd]), 'EINVAL');
    e.close();
    await assertNoLeak(before);
    assert.equal(iovas().length, 3);
  });
});
