// DMA_MAP: maps with and without descriptors, what the device model then
// reaches, overlaps (EEXIST), alignment, limits, descriptor counts and
// malformed payloads.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, DMA_MAP_FLAG_READ, DMA_MAP_FLAG_WRITE, encodeDmaMapRequest, encodeDmaUnmapRequest } from '../../src/protocol/index.js';
import { EventFd, MemFd } from '../../src/sys/index.js';
import { DmaError } from '../../src/server/errors.js';
import {
  assertError,
  assertNoLeak,
  assertOk,
  ClientMemory,
  CONFIG,
  resources,
  sleep,
  TestClient,
  type TestServer,
  eachClient,
  rawRequest,
} from './helpers.js';

const RW = DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE;

function rawMap(
  id: number,
  fields: { argsz?: number; flags?: number; offset?: bigint; address?: bigint; size?: bigint },
  payloadLength = 32,
): Buffer {
  const b = rawRequest(Command.DMA_MAP, id, payloadLength);
  if (payloadLength >= 32) {
    b.writeUInt32LE(fields.argsz ?? 32, 16);
    b.writeUInt32LE(fields.flags ?? RW, 20);
    b.writeBigUInt64LE(fields.offset ?? 0n, 24);
    b.writeBigUInt64LE(fields.address ?? 0n, 32);
    b.writeBigUInt64LE(fields.size ?? 4096n, 40);
  }
  return b;
}

async function enableBusMaster(c: TestClient): Promise<void> {
  await c.write16(CONFIG, 4, (await c.read16(CONFIG, 4)) | 0x6);
}

describe('DMA_MAP', () => {
  let t: TestServer;
  let c: TestClient;
  eachClient({ start: { server: { maxDmaMaps: 6, maxDmaBytes: 1 << 24, maxMsgFds: 4 } } }, async (server, client) => {
    t = server;
    c = client;
    await enableBusMaster(c);
  });

  it('maps memory with a descriptor: the model reads and writes it directly, both ways', async () => {
    const mem = new ClientMemory(8192);
    mem.bytes.set([1, 2, 3, 4], 100);
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x10000n, size: 8192n }), [mem.memfd.fd]));
    const buf = new Uint8Array(4);
    t.device.dma.readSync(0x10000n + 100n, buf);
    assert.deepEqual([...buf], [1, 2, 3, 4]);
    t.device.dma.writeSync(0x10000 + 200, Uint8Array.of(9, 8, 7));
    assert.deepEqual([...mem.bytes.subarray(200, 203)], [9, 8, 7]);
    const view = t.device.dma.view(0x10000n + 4096n, 16);
    view[0] = 0x5a;
    assert.equal(mem.bytes[4096], 0x5a);
    mem.bytes[4097] = 0xa5;
    assert.equal(view[1], 0xa5);
    assert.ok(t.device.dma.isDirect(0x10000n, 8192));
    mem.close();
  });

  it('honours the descriptor offset', async () => {
    const mem = new ClientMemory(3 * 4096);
    mem.bytes[2 * 4096 + 5] = 0x77;
    assertOk(
      await c.request(encodeDmaMapRequest(c.id(), { flags: DMA_MAP_FLAG_READ, offset: 8192, address: 0x200000n, size: 4096n }), [
        mem.memfd.fd,
      ]),
    );
    const b = new Uint8Array(1);
    t.device.dma.readSync(0x200005n, b);
    assert.equal(b[0], 0x77);
    mem.close();
  });

  it('maps memory without a descriptor (reached only asynchronously)', async () => {
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x40000n, size: 4096n })));
    assert.equal(t.device.dma.isDirect(0x40000n, 16), false);
    assert.throws(
      () => t.device.dma.readSync(0x40000n, new Uint8Array(4)),
      (e) => e instanceof DmaError && e.reason === 'needs-async' && e.code === 'ENOTSUP',
    );
    const maps = t.device.dma.maps();
    assert.equal(maps.length, 1);
    assert.equal(maps[0]!.direct, false);
  });

  it('keeps permissions: a read-only map refuses writes', async () => {
    const mem = new ClientMemory(4096);
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: DMA_MAP_FLAG_READ, address: 0x1000n, size: 4096n }), [mem.memfd.fd]));
    assert.throws(
      () => t.device.dma.writeSync(0x1000n, Uint8Array.of(1)),
      (e) => e instanceof DmaError && e.reason === 'permission' && e.code === 'EACCES',
    );
    assert.equal(mem.bytes[0], 0);
    mem.close();
  });

  it('refuses overlapping maps with EEXIST, accepts adjacent ones', async () => {
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x10000n, size: 0x2000n })));
    assertError(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x10000n, size: 0x2000n })), 'EEXIST', 'same range');
    assertError(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x11000n, size: 0x2000n })), 'EEXIST', 'tail overlap');
    assertError(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0xf000n, size: 0x2000n })), 'EEXIST', 'head overlap');
    assertError(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x8000n, size: 0x10000n })), 'EEXIST', 'covering');
    const mem = new ClientMemory(4096);
    assertError(
      await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x11000n, size: 0x1000n }), [mem.memfd.fd]),
      'EEXIST',
      'with a descriptor',
    );
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x12000n, size: 0x1000n }), [mem.memfd.fd]));
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0xf000n, size: 0x1000n })));
    assert.equal(t.device.dma.maps().length, 3);
    mem.close();
  });

  it('refuses unaligned addresses, sizes and offsets with EINVAL', async () => {
    const mem = new ClientMemory(3 * 4096);
    assertError(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x10010n, size: 4096n })), 'EINVAL', 'address');
    assertError(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x10000n, size: 100n })), 'EINVAL', 'size');
    assertError(
      await c.request(encodeDmaMapRequest(c.id(), { flags: RW, offset: 12, address: 0x10000n, size: 4096n }), [mem.memfd.fd]),
      'EINVAL',
      'offset',
    );
    assert.equal(t.device.dma.maps().length, 0);
    mem.close();
  });

  it('refuses malformed requests with EINVAL', async () => {
    assertError(await c.request(rawMap(c.id(), { size: 0n })), 'EINVAL', 'size 0');
    assertError(await c.request(rawMap(c.id(), { flags: 0 })), 'EINVAL', 'no permission');
    assertError(await c.request(rawMap(c.id(), { flags: 4 | RW })), 'EINVAL', 'unknown flag');
    assertError(await c.request(rawMap(c.id(), { argsz: 16 })), 'EINVAL', 'argsz');
    assertError(await c.request(rawMap(c.id(), { offset: 4096n })), 'EINVAL', 'offset without a descriptor');
    assertError(await c.request(rawMap(c.id(), { address: 0xffff_ffff_ffff_f000n, size: 0x2000n })), 'EINVAL', 'wraps');
    assertError(await c.request(rawMap(c.id(), {}, 31)), 'EINVAL', 'short payload');
    assertError(await c.request(rawMap(c.id(), {}, 33)), 'EINVAL', 'long payload');
    assertError(await c.request(rawMap(c.id(), {}, 0)), 'EINVAL', 'no payload');
  });

  it('refuses two descriptors, a file too small and a descriptor that is not memory; closes them all', async () => {
    const before = resources();
    const a = new ClientMemory(4096);
    const b = new ClientMemory(4096);
    assertError(
      await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x1000n, size: 4096n }), [a.memfd.fd, b.memfd.fd]),
      'EINVAL',
      'two fds',
    );
    assertError(
      await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x1000n, size: 8192n }), [a.memfd.fd]),
      'EINVAL',
      'file too small',
    );
    const e = EventFd.create();
    assertError(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x1000n, size: 4096n }), [e.fd]), 'EINVAL', 'an eventfd');
    e.close();
    a.close();
    b.close();
    assert.equal(t.device.dma.maps().length, 0);
    await assertNoLeak(before, 'refused maps');
  });

  it('refuses a map with a descriptor above 4 GiB (E2BIG)', async () => {
    const big = MemFd.create('big', 5 * 2 ** 30);
    assertError(
      await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x1_0000_0000n, size: 5n * 2n ** 30n }), [big.fd]),
      'E2BIG',
    );
    big.close();
  });

  it('enforces max_dma_maps (ENOSPC) and the byte limit (ENOMEM)', async () => {
    for (let i = 0; i < 6; i++)
      assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: BigInt(i) * 0x10000n, size: 0x1000n })));
    assertError(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x100000n, size: 0x1000n })), 'ENOSPC');
    assertOk(await c.request(encodeDmaUnmapRequest(c.id(), { flags: 2, address: 0, size: 0 })));
    assertError(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0n, size: BigInt(1 << 24) + 4096n })), 'ENOMEM');
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0n, size: BigInt(1 << 24) })));
  });

  it('counts a DMA_MAP before VERSION as out of order (EINVAL, closed)', async () => {
    const d = TestClient.connect(t.path);
    assertError(await d.request(encodeDmaMapRequest(d.id(), { flags: RW, address: 0n, size: 4096n })), 'EINVAL');
    await d.ended;
  });

  it('unmaps everything and closes the memory when the client leaves', async () => {
    const before = resources();
    const mem = new ClientMemory(16384);
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x10000n, size: 16384n }), [mem.memfd.fd]));
    const view = t.device.dma.view(0x10000n, 16);
    assert.equal(view.length, 16);
    mem.close();
    c.close();
    await c.ended;
    await sleep(5);
    await t.server.settled();
    assert.equal(view.length, 0, 'a view of a map that went is empty');
    assert.throws(
      () => t.device.dma.readSync(0x10000n, new Uint8Array(1)),
      (e) => e instanceof DmaError && e.reason === 'no-client',
    );
    await assertNoLeak(before, 'after the client left');
  });
});
