// REGION_READ: every kind of region (handler BAR, mapped areas, MSI-X table
// and PBA, I/O BAR, ROM, config), asynchronous handlers and message order,
// gating by the command register and D3hot (EIO), model failures, and the
// refusals (ranges, absent regions, sizes, limits, descriptors).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, encodeRegionReadRequest, encodeRegionWriteRequest } from '../../src/protocol/index.js';
import { EventFd } from '../../src/sys/index.js';
import { DEVICE_ID, REG, ROM_TEXT } from './fixtures/test-device.js';
import {
  assertError,
  assertNoLeak,
  assertOk,
  CONFIG,
  resources,
  ROM,
  type TestClient,
  type TestServer,
  eachClient,
  rawRequest,
} from './helpers.js';

function raw(id: number, offset: bigint, region: number, count: number, length = 16): Buffer {
  const b = rawRequest(Command.REGION_READ, id, length);
  if (length >= 16) {
    b.writeBigUInt64LE(offset, 16);
    b.writeUInt32LE(region, 24);
    b.writeUInt32LE(count, 28);
  }
  return b;
}

describe('REGION_READ', () => {
  let t: TestServer;
  let c: TestClient;
  let pmCap: number;
  eachClient({ start: { server: { maxDataXferSize: 65536 } }, command: 0x3 }, (server, client) => {
    t = server;
    c = client;
    pmCap = t.device.config.findCapability(0x01)!;
  });

  it('reads registers through the model handler, at any size', async () => {
    assert.equal(await c.read32(0, REG.ID), DEVICE_ID);
    t.model.regs.set([1, 2, 3, 4, 5, 6, 7, 8], 0x100);
    assert.deepEqual([...(await c.read(0, 0x100, 1))], [1]);
    assert.deepEqual([...(await c.read(0, 0x101, 2))], [2, 3]);
    assert.deepEqual([...(await c.read(0, 0x100, 8))], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal((await c.read(0, 0x100, 4096 - 0x100)).length, 4096 - 0x100);
  });

  it('reads config space, the I/O BAR and the ROM', async () => {
    assert.equal(await c.read16(CONFIG, 0), 0x1de5);
    assert.equal(await c.read16(CONFIG, 2), 0x7e57);
    assert.equal((await c.read(CONFIG, 0, 4096)).length, 4096);
    t.model.io.set([0xaa, 0xbb], 30);
    assert.deepEqual([...(await c.read(5, 30, 2))], [0xaa, 0xbb]);
    const rom = await c.read(ROM, 0, 2048);
    assert.equal(rom.subarray(0, ROM_TEXT.length).toString(), ROM_TEXT);
    assert.equal(rom[200], 0, "past the model's contents the ROM reads zeros");
  });

  it('reads the MSI-X table and PBA from the engine, not the model', async () => {
    const entry = await c.read(4, 0, 16);
    assert.equal(entry.readUInt32LE(12), 1, 'vectors start masked');
    assert.deepEqual([...(await c.read(4, 0x1000, 8))], [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...(await c.read(4, 0x800, 4))], [0, 0, 0, 0], 'the rest of BAR4 has no handler: zeros');
  });

  it('reads across a handler/shared-memory boundary', async () => {
    t.model.bar2.fill(0x11, 0xff8, 0x1000);
    t.device.barMemory(2)!.fill(0x22, 0x1000, 0x1008);
    const b = await c.read(2, 0xff8, 16);
    assert.deepEqual([...b], [...new Array(8).fill(0x11), ...new Array(8).fill(0x22)]);
  });

  it('waits for an asynchronous handler and keeps message order', async () => {
    const w = Buffer.alloc(4);
    w.writeUInt32LE(0x5eed);
    const writing = c.request(encodeRegionWriteRequest(c.id(), 0, REG.SLOW, w));
    const reading = c.request(encodeRegionReadRequest(c.id(), 0, REG.SLOW, 4));
    const quick = c.request(encodeRegionReadRequest(c.id(), 0, REG.ID, 4));
    const order: string[] = [];
    await Promise.all([writing.then(() => order.push('w')), reading.then(() => order.push('r')), quick.then(() => order.push('q'))]);
    assert.deepEqual(order, ['w', 'r', 'q']);
    assert.equal((await reading).message.readUInt32LE(32), 0x5eed);
  });

  it('answers a read of 0 bytes with an empty reply', async () => {
    const r = await c.request(encodeRegionReadRequest(c.id(), 0, 0, 0));
    assertOk(r);
    assert.equal(r.payload.length, 16);
  });

  it('fails with EIO while memory decode is off, in D3hot, and for the I/O BAR while I/O decode is off', async () => {
    await c.write16(CONFIG, 4, 0x1); // I/O only
    assert.equal(await c.readError(0, 0, 4), 'EIO');
    assert.equal(await c.readError(ROM, 0, 4), 'EIO');
    assert.equal(await c.readError(4, 0, 4), 'EIO', 'the MSI-X table too');
    assert.equal(await c.readError(5, 0, 4), '', 'I/O still decodes');
    await c.write16(CONFIG, 4, 0x2);
    assert.equal(await c.readError(5, 0, 4), 'EIO');
    assert.equal(await c.readError(0, 0, 4), '');
    await c.write16(CONFIG, pmCap + 4, 3); // D3hot
    assert.equal(await c.readError(0, 0, 4), 'EIO');
    assert.equal(await c.readError(CONFIG, 0, 4), '', 'config space stays accessible');
    await c.write16(CONFIG, pmCap + 4, 0);
    assert.equal(await c.readError(0, 0, 4), '');
    assert.deepEqual(t.model.powerChanges.slice(-2), [
      [0, 3],
      [3, 0],
    ]);
  });

  it('turns model failures into errnos: EPERM from the model, EIO (and a warning) for a bug', async () => {
    const before = t.warnings.length;
    assert.equal(await c.readError(0, REG.EPERM, 4), 'EPERM');
    assert.equal(t.warnings.length, before, 'an ErrnoError is not a warning');
    assert.equal(await c.readError(0, REG.BOOM, 4), 'EIO');
    assert.ok(t.warnings.slice(before).some((w) => w.code === 'model-error'));
    assert.equal(await c.read32(0, REG.ID), DEVICE_ID, 'still serving');
  });

  it('refuses accesses outside a region or in an absent one (EINVAL)', async () => {
    assert.equal(await c.readError(0, 4093, 4), 'EINVAL', 'crosses the end');
    assert.equal(await c.readError(0, 4096, 1), 'EINVAL', 'at the end');
    assert.equal(await c.readError(0, 1n << 63n, 1), 'EINVAL', 'far away');
    assert.equal(await c.readError(0, 0xffff_ffff_ffff_fff0n, 16), 'EINVAL', 'up to 2^64');
    assert.equal(await c.readError(CONFIG, 4095, 2), 'EINVAL', 'config end');
    assert.equal(await c.readError(ROM, 2047, 2), 'EINVAL', 'ROM end');
    assert.equal(await c.readError(1, 0, 4), 'EINVAL', 'absent BAR1');
    assert.equal(await c.readError(3, 0, 4), 'EINVAL', 'upper half of BAR2');
    assert.equal(await c.readError(8, 0, 4), 'EINVAL', 'VGA');
    assert.equal(await c.readError(9, 0, 4), 'EINVAL', 'index 9');
  });

  it('refuses counts above max_data_xfer_size (E2BIG), malformed requests and descriptors (EINVAL)', async () => {
    assertError(await c.request(raw(c.id(), 0n, CONFIG, 65537)), 'E2BIG');
    assertError(await c.request(raw(c.id(), 0xffff_ffff_ffff_fffcn, 0, 8)), 'EINVAL', 'wraps');
    assertError(await c.request(raw(c.id(), 0n, 0, 4, 12)), 'EINVAL', 'short');
    assertError(await c.request(raw(c.id(), 0n, 0, 4, 20)), 'EINVAL', 'long');
    const before = resources();
    const e = EventFd.create();
    assertError(await c.request(raw(c.id(), 0n, 0, 4), [e.fd]), 'EINVAL', 'descriptor');
    e.close();
    await assertNoLeak(before);
  });
});
