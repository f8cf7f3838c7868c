// REGION_WRITE_MULTI: only when write_multiple was negotiated; writes in
// order (asynchronous handlers awaited), the first failure stops the rest and
// is the reply; malformed batches refused.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Command, decodeRegionWriteMultiReply, encodeRegionWriteMultiRequest } from '../../src/protocol/index.js';
import { EventFd } from '../../src/sys/index.js';
import { REG } from './fixtures/test-device.js';
import {
  assertError,
  assertNoLeak,
  assertOk,
  CONFIG,
  resources,
  sleep,
  startServer,
  TestClient,
  type TestServer,
  eachClient,
  rawRequest,
} from './helpers.js';

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};

function raw(id: number, wrCnt: bigint, entries: { offset: bigint; region: number; count: number }[]): Buffer {
  const b = rawRequest(Command.REGION_WRITE_MULTI, id, 8 + 24 * entries.length);
  b.writeBigUInt64LE(wrCnt, 16);
  entries.forEach((e, i) => {
    const at = 24 + 24 * i;
    b.writeBigUInt64LE(e.offset, at);
    b.writeUInt32LE(e.region, at + 8);
    b.writeUInt32LE(e.count, at + 12);
  });
  return b;
}

describe('REGION_WRITE_MULTI', () => {
  let t: TestServer;
  let c: TestClient;
  eachClient({ command: 0x3 }, (server, client) => {
    t = server;
    c = client;
  });

  it('applies every write in order and answers the count', async () => {
    const r = await c.request(
      encodeRegionWriteMultiRequest(c.id(), [
        { region: 0, offset: REG.SCRATCH, data: u32(1) },
        { region: 0, offset: REG.SLOW, data: u32(2) },
        { region: 0, offset: REG.SCRATCH, data: u32(3) },
        { region: CONFIG, offset: 0x3c, data: Buffer.from([0x0b]) },
        { region: 2, offset: 0x1000, data: Buffer.alloc(8, 0x66) },
      ]),
    );
    assertOk(r);
    assert.equal(decodeRegionWriteMultiReply(r.message).completed, 5);
    assert.equal(t.model.reg(REG.SCRATCH), 3);
    assert.equal(t.model.reg(REG.SLOW), 2, 'the asynchronous write was awaited');
    assert.equal((await c.read32(CONFIG, 0x3c)) & 0xff, 0x0b);
    assert.equal(t.device.barMemory(2)![0x1007], 0x66);
  });

  it('stops at the first failing write and answers its errno', async () => {
    t.model.regs.fill(0, REG.SCRATCH, REG.SCRATCH + 4);
    const r = await c.request(
      encodeRegionWriteMultiRequest(c.id(), [
        { region: 0, offset: REG.SCRATCH, data: u32(0x11) },
        { region: 0, offset: 4094, data: u32(0) },
        { region: 0, offset: REG.IRQ_VEC, data: u32(0x22) },
      ]),
    );
    assertError(r, 'EINVAL');
    assert.equal(t.model.reg(REG.SCRATCH), 0x11, 'the write before it took effect');
    assert.equal(t.model.reg(REG.IRQ_VEC), 0, 'the write after it did not');
    assertError(await c.request(encodeRegionWriteMultiRequest(c.id(), [{ region: 0, offset: REG.EPERM, data: u32(1) }])), 'EPERM');
  });

  it('refuses malformed batches (EINVAL)', async () => {
    assertError(await c.request(raw(c.id(), 0n, [])), 'EINVAL', 'wr_cnt 0');
    assertError(await c.request(raw(c.id(), 2n, [{ offset: 4n, region: 0, count: 4 }])), 'EINVAL', 'wr_cnt above the entries');
    assertError(
      await c.request(
        raw(c.id(), 1n, [
          { offset: 4n, region: 0, count: 4 },
          { offset: 4n, region: 0, count: 4 },
        ]),
      ),
      'EINVAL',
      'wr_cnt below the entries',
    );
    assertError(await c.request(raw(c.id(), 1n, [{ offset: 4n, region: 0, count: 0 }])), 'EINVAL', 'count 0');
    assertError(await c.request(raw(c.id(), 1n, [{ offset: 4n, region: 0, count: 9 }])), 'EINVAL', 'count 9');
    assertError(await c.request(raw(c.id(), 1n, [{ offset: 4n, region: 9, count: 4 }])), 'EINVAL', 'region 9');
    assertError(await c.request(raw(c.id(), 1n, [{ offset: 0xffff_ffff_ffff_fffen, region: 0, count: 4 }])), 'EINVAL', 'wraps');
    const before = resources();
    const e = EventFd.create();
    assertError(
      await c.request(encodeRegionWriteMultiRequest(c.id(), [{ region: 0, offset: 4, data: u32(1) }]), [e.fd]),
      'EINVAL',
      'descriptor',
    );
    e.close();
    await assertNoLeak(before);
  });

  it('is refused (ENOTSUP) when the client did not negotiate write_multiple', async () => {
    const d = TestClient.connect(t.path);
    c.close();
    await c.ended;
    await sleep(5);
    await t.server.settled();
    const { encodeVersionRequest } = await import('../../src/protocol/index.js');
    assertOk(await d.request(encodeVersionRequest(d.id(), { major: 0, minor: 2, capabilities: { maxMsgFds: 4 } })));
    assertError(await d.request(encodeRegionWriteMultiRequest(d.id(), [{ region: 0, offset: 4, data: u32(1) }])), 'ENOTSUP');
    d.close();
    await d.ended;
  });
});

describe('REGION_WRITE_MULTI on a server that does not offer it', () => {
  let t: TestServer;
  before(() => {
    t = startServer({ server: { writeMultiple: false } });
  });
  after(() => t.stop());

  it('negotiates write_multiple false and refuses the command (ENOTSUP)', async () => {
    const c = await TestClient.open(t.path);
    assertError(
      await c.request(encodeRegionWriteMultiRequest(c.id(), [{ region: CONFIG, offset: 0x3c, data: Buffer.from([1]) }])),
      'ENOTSUP',
    );
    c.close();
    await c.ended;
  });
});
