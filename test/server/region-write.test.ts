// REGION_WRITE: handler BARs, shared memory, the MSI-X table (engine only)
// and PBA (dropped), config space through the permission model, the
// read-only ROM, gating (EIO), asynchronous handlers and failures, posted
// (no-reply) writes, and the refusals.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, FLAG_NO_REPLY, encodeRegionReadRequest, encodeRegionWriteRequest } from '../../src/protocol/index.js';
import { EventFd } from '../../src/sys/index.js';
import { DEVICE_ID, REG } from './fixtures/test-device.js';
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

function raw(id: number, offset: bigint, region: number, count: number, data: Uint8Array, flags = 0): Buffer {
  const b = rawRequest(Command.REGION_WRITE, id, 16 + data.length, flags);
  b.writeBigUInt64LE(offset, 16);
  b.writeUInt32LE(region, 24);
  b.writeUInt32LE(count, 28);
  b.set(data, 32);
  return b;
}

describe('REGION_WRITE', () => {
  let t: TestServer;
  let c: TestClient;
  let pmCap: number;
  eachClient({ start: { server: { maxDataXferSize: 65536 } }, command: 0x3 }, (server, client) => {
    t = server;
    c = client;
    pmCap = t.device.config.findCapability(0x01)!;
  });

  it('writes registers through the model handler and echoes offset, region and count', async () => {
    const r = await c.request(encodeRegionWriteRequest(c.id(), 0, REG.SCRATCH, Buffer.from([1, 2, 3, 4])));
    assertOk(r);
    assert.equal(r.payload.length, 16);
    assert.equal(r.payload.readBigUInt64LE(0), BigInt(REG.SCRATCH));
    assert.equal(r.payload.readUInt32LE(8), 0);
    assert.equal(r.payload.readUInt32LE(12), 4);
    assert.equal(t.model.reg(REG.SCRATCH), 0x04030201);
    await c.write32(0, REG.ID, 0);
    assert.equal(await c.read32(0, REG.ID), DEVICE_ID, 'read-only register');
    await c.write(0, 0x200, Buffer.alloc(1000, 7));
    assert.deepEqual([...t.model.regs.subarray(0x200, 0x203)], [7, 7, 7]);
  });

  it('writes config space through the permission model (RO bits dropped, BAR sizing)', async () => {
    await c.write16(CONFIG, 0, 0xffff);
    assert.equal(await c.read16(CONFIG, 0), 0x1de5, 'vendor ID is read-only; the write succeeds silently');
    await c.write32(CONFIG, 0x10, 0xffffffff);
    assert.equal(await c.read32(CONFIG, 0x10), 0xfffff000, 'BAR0 sizes as 4 KiB');
    await c.write32(CONFIG, 0x10, 0xfebc1000);
    assert.equal(await c.read32(CONFIG, 0x10), 0xfebc1000);
    assert.equal(t.device.config.barAddress(0), 0xfebc1000n);
  });

  it('writes shared memory directly and the MSI-X table only in the engine; PBA writes are dropped', async () => {
    await c.write32(2, 0x2000, 0xa1b2c3d4);
    assert.equal(new DataView(t.device.barMemory(2)!.buffer).getUint32(0x2000, true), 0xa1b2c3d4);
    const entry = Buffer.alloc(16);
    entry.writeUInt32LE(0xfee00000, 0);
    entry.writeUInt32LE(0x4041, 8);
    entry.writeUInt32LE(0, 12);
    await c.write(4, 16, entry);
    const e = t.device.config.msixTable!.entry(1);
    assert.deepEqual(e, { address: 0xfee00000n, data: 0x4041, masked: false });
    await c.write(4, 0x1000, Buffer.alloc(8, 0xff));
    assert.deepEqual([...(await c.read(4, 0x1000, 8))], new Array(8).fill(0));
  });

  it('refuses writes to the ROM (EINVAL)', async () => {
    assert.equal(await c.writeError(ROM, 0, Buffer.from([1])), 'EINVAL');
  });

  it('fails with EIO while memory decode is off or in D3hot; I/O BAR while I/O is off', async () => {
    await c.write16(CONFIG, 4, 0x1);
    assert.equal(await c.writeError(0, REG.SCRATCH, Buffer.alloc(4)), 'EIO');
    assert.equal(await c.writeError(2, 0x1000, Buffer.alloc(4)), 'EIO', 'shared memory through messages too');
    assert.equal(await c.writeError(4, 0, Buffer.alloc(4)), 'EIO', 'MSI-X table');
    await c.write16(CONFIG, 4, 0x2);
    assert.equal(await c.writeError(5, 0, Buffer.alloc(4)), 'EIO');
    await c.write16(CONFIG, pmCap + 4, 3);
    assert.equal(await c.writeError(0, REG.SCRATCH, Buffer.alloc(4)), 'EIO');
    await c.write16(CONFIG, pmCap + 4, 0);
    assert.equal(await c.writeError(0, REG.SCRATCH, Buffer.alloc(4)), '');
  });

  it('waits for asynchronous handlers; an asynchronous failure is EIO and a warning', async () => {
    await c.write32(0, REG.SLOW, 77);
    assert.equal(t.model.reg(REG.SLOW), 77);
    const before = t.warnings.length;
    assert.equal(await c.writeError(0, REG.ASYNC_FAIL, Buffer.alloc(4)), 'EIO');
    assert.ok(t.warnings.slice(before).some((w) => w.code === 'model-error'));
    assert.equal(await c.writeError(0, REG.EPERM, Buffer.alloc(4)), 'EPERM');
  });

  it('applies posted (no-reply) writes in order without replying', async () => {
    const b = Buffer.alloc(4);
    for (let i = 1; i <= 50; i++) {
      b.writeUInt32LE(i);
      c.send(encodeRegionWriteRequest(c.id(), 0, REG.SCRATCH, b, FLAG_NO_REPLY));
    }
    b.writeUInt32LE(999);
    c.send(encodeRegionWriteRequest(c.id(), 0, REG.SLOW, b, FLAG_NO_REPLY));
    const r = await c.request(encodeRegionReadRequest(c.id(), 0, REG.SLOW, 4));
    assert.equal(r.message.readUInt32LE(32), 999);
    assert.equal(t.model.reg(REG.SCRATCH), 50);
    assert.equal(c.unsolicited.length, 0);
  });

  it('refuses ranges outside regions and absent regions (EINVAL)', async () => {
    assert.equal(await c.writeError(0, 4094, Buffer.alloc(4)), 'EINVAL');
    assert.equal(await c.writeError(CONFIG, 4096, Buffer.alloc(1)), 'EINVAL');
    assert.equal(await c.writeError(1, 0, Buffer.alloc(4)), 'EINVAL');
    assert.equal(await c.writeError(8, 0, Buffer.alloc(4)), 'EINVAL');
    assert.equal(await c.writeError(9, 0, Buffer.alloc(4)), 'EINVAL');
  });

  it('refuses a count that disagrees with the data, counts above the limit (E2BIG), descriptors', async () => {
    assertError(await c.request(raw(c.id(), 4n, 0, 8, Buffer.alloc(4))), 'EINVAL', 'count 8, 4 bytes');
    assertError(await c.request(raw(c.id(), 4n, 0, 2, Buffer.alloc(4))), 'EINVAL', 'count 2, 4 bytes');
    assertError(await c.request(raw(c.id(), 0n, CONFIG, 65537, Buffer.alloc(65537))), 'E2BIG');
    const short = raw(c.id(), 0n, 0, 0, Buffer.alloc(0)).subarray(0, 24);
    short.writeUInt32LE(24, 4);
    assertError(await c.request(short), 'EINVAL', 'truncated header');
    const before = resources();
    const e = EventFd.create();
    assertError(await c.request(raw(c.id(), 4n, 0, 4, Buffer.alloc(4)), [e.fd]), 'EINVAL');
    e.close();
    await assertNoLeak(before);
  });
});
