// DEVICE_GET_REGION_INFO: every region of the fixture (BARs, absent BARs, the
// upper half of a 64-bit BAR, ROM, config, VGA), the sparse-mmap capability
// and the memfd of a mappable BAR (shared both ways, fresh for a new owner),
// the argsz rule, and the refusals.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Command,
  REGION_INFO_FLAG_CAPS,
  REGION_INFO_FLAG_MMAP,
  REGION_INFO_FLAG_READ,
  REGION_INFO_FLAG_WRITE,
  decodeRegionInfoReply,
  encodeRegionInfoRequest,
} from '../../src/protocol/index.js';
import { closeFd, EventFd, Mapping } from '../../src/sys/index.js';
import { REG } from './fixtures/test-device.js';
import {
  assertError,
  assertNoLeak,
  assertOk,
  CONFIG,
  resources,
  sleep,
  TestClient,
  type Reply,
  type TestServer,
  eachClient,
  rawRequest,
} from './helpers.js';

const RW = REGION_INFO_FLAG_READ | REGION_INFO_FLAG_WRITE;

function raw(
  id: number,
  f: { argsz?: number; flags?: number; index?: number; capOffset?: number; size?: bigint; offset?: bigint },
  length = 32,
): Buffer {
  const b = rawRequest(Command.DEVICE_GET_REGION_INFO, id, length);
  if (length >= 32) {
    b.writeUInt32LE(f.argsz ?? 32, 16);
    b.writeUInt32LE(f.flags ?? 0, 20);
    b.writeUInt32LE(f.index ?? 0, 24);
    b.writeUInt32LE(f.capOffset ?? 0, 28);
    b.writeBigUInt64LE(f.size ?? 0n, 32);
    b.writeBigUInt64LE(f.offset ?? 0n, 40);
  }
  return b;
}

describe('DEVICE_GET_REGION_INFO', () => {
  let t: TestServer;
  let c: TestClient;
  eachClient({}, (server, client) => {
    t = server;
    c = client;
  });

  async function info(index: number, argsz = 256): Promise<{ r: Reply; d: ReturnType<typeof decodeRegionInfoReply> }> {
    const r = await c.request(encodeRegionInfoRequest(c.id(), index, argsz));
    assertOk(r, `region ${index}`);
    const d = decodeRegionInfoReply(r.message, r.fds, { index });
    return { r, d };
  }

  it('describes the register BAR, absent BARs and the upper half of a 64-bit BAR', async () => {
    const bar0 = (await info(0)).d;
    assert.equal(bar0.size, 4096n);
    assert.equal(bar0.flags, RW);
    assert.deepEqual(bar0.caps, []);
    assert.equal(bar0.fd, undefined);
    for (const i of [1, 3]) {
      const d = (await info(i)).d;
      assert.equal(d.size, 0n, `BAR${i}`);
      assert.equal(d.flags, 0, `BAR${i}`);
    }
    const bar4 = (await info(4)).d;
    assert.equal(bar4.size, 8192n);
    assert.equal(bar4.flags, RW, 'the MSI-X BAR is not mappable');
    const bar5 = (await info(5)).d;
    assert.equal(bar5.size, 32n);
    assert.equal(bar5.flags, RW);
  });

  it('describes ROM, config space and the absent VGA region', async () => {
    const rom = (await info(6)).d;
    assert.deepEqual([rom.size, rom.flags], [2048n, REGION_INFO_FLAG_READ]);
    const cfg = (await info(7)).d;
    assert.deepEqual([cfg.size, cfg.flags], [4096n, RW]);
    const vga = (await info(8)).d;
    assert.deepEqual([vga.size, vga.flags], [0n, 0]);
  });

  it('gives a mappable BAR its sparse areas and memfd, shared with the model both ways', async () => {
    const { r, d } = await info(2);
    assert.equal(d.size, 16384n);
    assert.equal(d.flags, RW | REGION_INFO_FLAG_MMAP | REGION_INFO_FLAG_CAPS);
    assert.deepEqual(d.caps, [{ kind: 'sparse-mmap', areas: [{ offset: 0x1000n, size: 0x2000n }] }]);
    assert.equal(r.fds.length, 1);
    const m = Mapping.map(r.fds[0]!, d.offset + 0x1000n, 0x2000);
    closeFd(r.fds[0]!);
    const view = new DataView(m.buffer);
    await c.write32(CONFIG, 4, 0x2); // memory decode on
    view.setUint32(0, 0xcafef00d, true); // BAR offset 0x1000
    assert.equal(await c.read32(0, REG.MEM_PEEK), 0xcafef00d, 'the model sees what the client stored through its mapping');
    await c.write32(0, REG.MEM_POKE, 0x12345678);
    assert.equal(view.getUint32(4, true), 0x12345678, 'the client sees what the model stored');
    assert.equal(await c.read32(2, 0x1004), 0x12345678, 'REGION_READ of a mapped area reads the memory');
    await c.write32(2, 0x1008, 0xabcdef01);
    assert.equal(view.getUint32(8, true), 0xabcdef01, 'REGION_WRITE of a mapped area writes the memory');
    assert.deepEqual(t.model.mappedWrites.at(-1), [0x1008, 4]);
    m.unmap();
  });

  it('cuts the reply short when argsz cannot hold the capabilities (no descriptor then)', async () => {
    const r = await c.request(encodeRegionInfoRequest(c.id(), 2, 32));
    assertOk(r);
    assert.equal(r.fds.length, 0);
    const d = decodeRegionInfoReply(r.message, r.fds);
    assert.equal(d.truncated, true);
    assert.equal(d.argsz, 32 + 16 + 16);
    assert.equal(d.capOffset, 0);
    const full = await info(2, d.argsz);
    assert.equal(full.d.truncated, false);
    assert.equal(full.r.fds.length, 1);
    closeFd(full.r.fds[0]!);
  });

  it("gives the next owner fresh memory: the old client's mapping no longer reaches the device", async () => {
    const { r } = await info(2);
    const old = Mapping.map(r.fds[0]!, 0x1000, 0x1000);
    closeFd(r.fds[0]!);
    c.close();
    await c.ended;
    await sleep(5);
    await t.server.settled();
    const next = await TestClient.open(t.path);
    await next.write32(CONFIG, 4, 0x2);
    new DataView(old.buffer).setUint32(0, 0xdeadbeef, true);
    assert.equal(await next.read32(0, REG.MEM_PEEK), 0, 'the new memory is zeroed and separate');
    old.unmap();
    next.close();
    await next.ended;
  });

  it('refuses indexes beyond the 9 regions (EINVAL)', async () => {
    assertError(await c.request(encodeRegionInfoRequest(c.id(), 9)), 'EINVAL');
    assertError(await c.request(encodeRegionInfoRequest(c.id(), 0xffffffff)), 'EINVAL');
  });

  it('refuses argsz below 32, non-zero fields, wrong sizes (EINVAL)', async () => {
    assertError(await c.request(raw(c.id(), { argsz: 16 })), 'EINVAL', 'argsz');
    assertError(await c.request(raw(c.id(), { flags: 1 })), 'EINVAL', 'flags');
    assertError(await c.request(raw(c.id(), { capOffset: 32 })), 'EINVAL', 'cap_offset');
    assertError(await c.request(raw(c.id(), { size: 1n })), 'EINVAL', 'size');
    assertError(await c.request(raw(c.id(), { offset: 1n })), 'EINVAL', 'offset');
    assertError(await c.request(raw(c.id(), {}, 16)), 'EINVAL', 'short');
    assertError(await c.request(raw(c.id(), {}, 40)), 'EINVAL', 'long');
  });

  it('refuses a descriptor (EINVAL) and closes it', async () => {
    const before = resources();
    const e = EventFd.create();
    assertError(await c.request(encodeRegionInfoRequest(c.id(), 0), [e.fd]), 'EINVAL');
    e.close();
    await assertNoLeak(before);
  });
});
