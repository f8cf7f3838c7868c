// The device framework without a socket: what a declaration may not do
// (refused at construction), the model-facing DMA API's argument checks and
// direct views, and the tracing events of the server.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeDeviceGetInfoRequest, encodeDmaMapRequest } from '../../src/protocol/index.js';
import { VirtualDevice } from '../../src/server/device.js';
import { DmaError } from '../../src/server/errors.js';
import type { MessageTrace } from '../../src/server/session.js';
import { testDeviceDecl } from './fixtures/test-device.js';
import { assertNoLeak, assertOk, ClientMemory, CONFIG, resources, startServer, TestClient } from './helpers.js';

describe('device declarations', () => {
  const base = testDeviceDecl();

  it('refuses mappable areas that are unaligned, overlapping, outside the BAR, on an I/O BAR or over the MSI-X table', () => {
    const bad = [
      { 2: { mappable: [{ offset: 100, size: 4096 }] } },
      { 2: { mappable: [{ offset: 4096, size: 100 }] } },
      {
        2: {
          mappable: [
            { offset: 4096, size: 8192 },
            { offset: 8192, size: 4096 },
          ],
        },
      },
      { 2: { mappable: [{ offset: 3 * 4096, size: 8192 }] } },
      { 5: { mappable: [{ offset: 0, size: 4096 }] } },
      { 4: { mappable: [{ offset: 0, size: 4096 }] } },
      { 4: { mappable: [{ offset: 4096, size: 4096 }] } },
    ];
    const before = resources();
    for (const bars of bad) {
      assert.throws(
        () => new VirtualDevice({ config: base, bars }),
        (e: { code?: string }) => e.code === 'EINVAL',
        JSON.stringify(bars),
      );
    }
    return assertNoLeak(before, 'refused declarations');
  });

  it('refuses handlers for absent BARs and ROM contents without a ROM (or too long)', () => {
    assert.throws(
      () => new VirtualDevice({ config: base, bars: { 1: {} } }),
      (e: { code?: string }) => e.code === 'EINVAL',
    );
    assert.throws(
      () => new VirtualDevice({ config: base, bars: { 3: {} } }),
      (e: { code?: string }) => e.code === 'EINVAL',
    );
    assert.throws(
      () => new VirtualDevice({ config: { ...base, rom: undefined }, rom: new Uint8Array(4) }),
      (e: { code?: string }) => e.code === 'EINVAL',
    );
    assert.throws(
      () => new VirtualDevice({ config: base, rom: new Uint8Array(4096) }),
      (e: { code?: string }) => e.code === 'EINVAL',
    );
  });

  it('gives a whole-BAR mappable area without the sparse capability', () => {
    const d = new VirtualDevice({ config: base, bars: { 2: { mappable: [{ offset: 0, size: 4 * 4096 }] } } });
    const info = d.regionInfo(2);
    assert.deepEqual(info.caps, []);
    assert.ok(info.fd !== undefined);
    assert.equal(d.barMemory(2)!.length, 4 * 4096);
    d.close();
    assert.equal(d.barMemory(2), undefined);
  });

  it('has no DMA without an owner, and checks DMA arguments', async () => {
    const d = new VirtualDevice({ config: base, dmaRequiresBusMaster: false });
    assert.equal(d.dma.available, false);
    assert.throws(
      () => d.dma.readSync(0, new Uint8Array(1)),
      (e) => e instanceof DmaError && e.reason === 'no-client' && e.code === 'ENODEV',
    );
    await assert.rejects(d.dma.read(0, new Uint8Array(1)), (e) => e instanceof DmaError && e.reason === 'no-client');
    assert.throws(
      () => d.dma.readSync(-1, new Uint8Array(1)),
      (e) => e instanceof DmaError && e.reason === 'bad-args',
    );
    assert.throws(
      () => d.dma.readSync(1.5, new Uint8Array(1)),
      (e) => e instanceof DmaError && e.reason === 'bad-args',
    );
    assert.throws(
      () => d.dma.readSync(2n ** 64n - 1n, new Uint8Array(2)),
      (e) => e instanceof DmaError && e.reason === 'bad-args',
    );
    assert.throws(
      () => d.dma.view(0, -1),
      (e) => e instanceof DmaError && e.reason === 'bad-args',
    );
    d.close();
  });
});

describe('DMA views and tracing through a server', () => {
  it('views one map at a time; readSync/writeSync cross adjacent maps', async () => {
    const t = startServer();
    const c = await TestClient.open(t.path);
    await c.write16(CONFIG, 4, 0x6);
    const a = new ClientMemory(4096);
    const b = new ClientMemory(4096);
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: 3, address: 0x10000n, size: 4096n }), [a.memfd.fd]));
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: 3, address: 0x11000n, size: 4096n }), [b.memfd.fd]));
    t.device.dma.writeSync(0x10ffe, Uint8Array.of(1, 2, 3, 4));
    assert.deepEqual([...a.bytes.subarray(4094)], [1, 2]);
    assert.deepEqual([...b.bytes.subarray(0, 2)], [3, 4]);
    const r = new Uint8Array(4);
    t.device.dma.readSync(0x10ffen, r);
    assert.deepEqual([...r], [1, 2, 3, 4]);
    assert.throws(
      () => t.device.dma.view(0x10ffe, 4),
      (e) => e instanceof DmaError && e.reason === 'not-contiguous',
    );
    assert.equal(t.device.dma.view(0x11000, 0).length, 0);
    assert.equal(t.device.dma.view(0x11000n, 4096, 'read').length, 4096);
    assert.ok(t.device.dma.isDirect(0x10000, 8192, 'rw'));
    assert.ok(!t.device.dma.isDirect(0x10000, 8193));
    a.close();
    b.close();
    c.close();
    await t.stop();
  });

  it("emits 'message' for every message in and out while someone listens", async () => {
    const t = startServer();
    const seen: MessageTrace[] = [];
    const c = await TestClient.open(t.path);
    const listener = (m: MessageTrace): void => {
      seen.push({ ...m, message: Buffer.from(m.message) });
    };
    t.server.on('message', listener);
    assertOk(await c.request(encodeDeviceGetInfoRequest(c.id())));
    assert.deepEqual(
      seen.map((m) => [m.direction, m.name, m.header.size]),
      [
        ['in', 'DEVICE_GET_INFO', 32],
        ['out', 'DEVICE_GET_INFO', 32],
      ],
    );
    assert.equal(seen[0]!.client, t.server.owner!.id);
    t.server.off('message', listener);
    assertOk(await c.request(encodeDeviceGetInfoRequest(c.id())));
    assert.equal(seen.length, 2, 'nothing once nobody listens');
    c.close();
    await t.stop();
  });
});
