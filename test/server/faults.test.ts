// Faults: a client process killed mid-traffic (SIGKILL), a valid message
// stream cut at every byte offset, streams that cannot be resynchronised
// (oversized and undersized messages, too many descriptors). After each, the
// server still serves the next client and holds no descriptor or mapping of
// the one that went.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  Command,
  DMA_MAP_FLAG_READ,
  DMA_MAP_FLAG_WRITE,
  DMA_UNMAP_FLAG_ALL,
  encodeDeviceResetRequest,
  encodeDmaMapRequest,
  encodeDmaUnmapRequest,
  encodeRegionReadRequest,
  encodeRegionWriteRequest,
  encodeSetIrqsRequest,
  encodeVersionRequest,
} from '../../src/protocol/index.js';
import { EventFd, MemFd, UnixConnection } from '../../src/sys/index.js';
import type { ClientEvent } from '../../src/server/server.js';
import { REG } from './fixtures/test-device.js';
import { assertError, assertNoLeak, CONFIG, DEFAULT_CAPS, resources, sleep, startServer, TestClient, type TestServer } from './helpers.js';

const SYS_URL = new URL('../../src/sys/index.js', import.meta.url).href;
const PROTO_URL = new URL('../../src/protocol/index.js', import.meta.url).href;

/** Resolves on the next 'client' event of `type`. */
function nextEvent(t: TestServer, type: ClientEvent['type']): Promise<ClientEvent> {
  return new Promise((resolve) => {
    const on = (e: ClientEvent): void => {
      if (e.type !== type) return;
      t.server.off('client', on);
      resolve(e);
    };
    t.server.on('client', on);
  });
}

async function assertServes(t: TestServer): Promise<void> {
  await t.server.settled();
  const c = await TestClient.open(t.path);
  await c.write16(CONFIG, 4, 0x2);
  assert.equal(await c.read32(0, REG.ID), 0x7e571de5);
  c.close();
  await c.ended;
  await sleep(5);
  await t.server.settled();
}

const CHILD = `
import * as sys from ${JSON.stringify(SYS_URL)};
import * as p from ${JSON.stringify(PROTO_URL)};
const c = sys.UnixConnection.connect(process.argv[1]);
const buf = new Uint8Array(1 << 20);
const call = (m, fds) => { c.sendSync(m, fds); c.receiveSync(buf); };
call(p.encodeVersionRequest(1, { major: 0, minor: 2, capabilities: { maxMsgFds: 8 } }));
call(p.encodeRegionWriteRequest(2, 7, 4, Uint8Array.of(6, 0)));
const mem = sys.MemFd.create('child-dma', 1 << 16);
call(p.encodeDmaMapRequest(3, { flags: 3, address: 0x100000, size: 1 << 16 }), [mem.fd]);
call(p.encodeDmaMapRequest(4, { flags: 3, address: 0x200000, size: 1 << 16 }));
const efds = [sys.EventFd.create(), sys.EventFd.create()];
call(p.encodeSetIrqsRequest(5, { data: 'eventfd', action: 'trigger', index: 2, start: 0, count: 2 }, 2), efds.map((e) => e.fd));
call(p.encodeSetIrqsRequest(6, { data: 'eventfd', action: 'trigger', index: 4, start: 0, count: 1 }, 1), [efds[0].fd]);
c.receive(() => {});
let id = 10;
const w = new Uint8Array(4);
const dma = (reg, v) => { new DataView(w.buffer).setUint32(0, v, true); c.send(p.encodeRegionWriteRequest(id++ & 0xffff, 0, reg, w)); };
dma(0x10, 0x200000); dma(0x18, 0x100000); dma(0x20, 4096);
setInterval(() => {
  for (let i = 0; i < 200; i++) {
    c.send(p.encodeRegionWriteRequest(id++ & 0xffff, 0, 4, w));
    c.send(p.encodeRegionReadRequest(id++ & 0xffff, 0, 4, 4));
    if (i % 50 === 0) { new DataView(w.buffer).setUint32(0, 1, true); c.send(p.encodeRegionWriteRequest(id++ & 0xffff, 0, 0x24, w)); }
  }
}, 1);
console.log('ready');
`;

describe('faults', () => {
  it('survives a client killed mid-traffic and releases everything of it', async () => {
    const t = startServer({ server: { dmaTimeoutMs: 200 } });
    const before = resources();
    let messages = 0;
    t.server.on('message', () => messages++);
    const owner = nextEvent(t, 'owner');
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, t.path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`child exited ${code}: ${stderr}`)));
    });
    await owner;
    const seen = messages;
    await sleep(150);
    assert.ok(messages > seen + 100, `traffic flows (${messages - seen} messages)`);
    assert.ok(t.device.irq.boundEventFds >= 2);
    assert.equal(t.device.dma.maps().length, 2);
    const released = nextEvent(t, 'released');
    child.kill('SIGKILL');
    await released;
    assert.equal(t.device.irq.boundEventFds, 0);
    assert.equal(t.device.dma.maps().length, 0);
    await assertNoLeak(before, 'after the child was killed');
    await assertServes(t);
    await t.stop();
  });

  it('survives a valid message stream cut at every byte offset', async () => {
    const t = startServer();
    const mem = MemFd.create('cut-dma', 8192);
    const e1 = EventFd.create();
    const e2 = EventFd.create();
    const before = resources();
    const u32 = Buffer.alloc(4);
    u32.writeUInt32LE(0x1234);
    const seq: { m: Buffer; fds: number[] }[] = [
      { m: encodeVersionRequest(1, { major: 0, minor: 2, capabilities: DEFAULT_CAPS }), fds: [] },
      { m: encodeRegionWriteRequest(2, CONFIG, 4, Buffer.from([6, 0])), fds: [] },
      { m: encodeDmaMapRequest(3, { flags: DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE, address: 0x10000n, size: 8192n }), fds: [mem.fd] },
      { m: encodeSetIrqsRequest(4, { data: 'eventfd', action: 'trigger', index: 2, start: 0, count: 2 }, 2), fds: [e1.fd, e2.fd] },
      { m: encodeRegionWriteRequest(5, 0, REG.SCRATCH, u32), fds: [] },
      { m: encodeRegionReadRequest(6, 0, REG.SCRATCH, 4), fds: [] },
      { m: encodeDmaMapRequest(7, { flags: DMA_MAP_FLAG_READ, address: 0x40000n, size: 4096n }), fds: [] },
      { m: encodeDeviceResetRequest(8), fds: [] },
      { m: encodeDmaUnmapRequest(9, { flags: DMA_UNMAP_FLAG_ALL, address: 0, size: 0 }), fds: [] },
    ];
    const total = seq.reduce((n, s) => n + s.m.length, 0);
    let cuts = 0;
    for (let cut = 0; cut <= total; cut++) {
      const gone = nextEvent(t, 'disconnect');
      const conn = UnixConnection.connect(t.path);
      conn.receive(() => {});
      let left = cut;
      for (const s of seq) {
        if (left === 0) break;
        const n = Math.min(left, s.m.length);
        conn.send(s.m.subarray(0, n), s.fds);
        left -= n;
      }
      conn.close();
      await gone;
      cuts++;
    }
    assert.equal(cuts, total + 1);
    await t.server.settled();
    mem.close();
    e1.close();
    e2.close();
    await assertNoLeak(before, 'after every cut');
    await assertServes(t);
    await t.stop();
  });

  it('answers and hangs up on a message above the size limit (E2BIG) or below the header (EPROTO)', async () => {
    const t = startServer({ server: { maxDataXferSize: 4096 } });
    const c = await TestClient.open(t.path);
    const big = encodeRegionReadRequest(c.id(), 0, 0, 4);
    big.writeUInt32LE(16 + 8192 + 4096 + 1, 4);
    assertError(await c.request(big), 'E2BIG');
    await c.ended;
    await t.server.settled();
    const d = await TestClient.open(t.path);
    const tiny = encodeRegionReadRequest(d.id(), 0, 0, 4);
    tiny.writeUInt32LE(8, 4);
    assertError(await d.request(tiny), 'EPROTO');
    await d.ended;
    assert.ok(t.warnings.some((w) => w.code === 'protocol'));
    await assertServes(t);
    await t.stop();
  });

  it('hangs up on too many descriptors on one message and closes them all', async () => {
    const t = startServer({ server: { maxMsgFds: 2 } });
    const before = resources();
    const c = await TestClient.open(t.path);
    const es = [EventFd.create(), EventFd.create(), EventFd.create()];
    const r = await c.request(
      encodeSetIrqsRequest(c.id(), { data: 'eventfd', action: 'trigger', index: 2, start: 0, count: 3 }, 3),
      es.map((e) => e.fd),
    );
    assertError(r, 'EPROTO');
    await c.ended;
    es.forEach((e) => {
      e.close();
    });
    await t.server.settled();
    await assertNoLeak(before);
    await assertServes(t);
    await t.stop();
  });

  it('hangs up on a message cut short by the end of the stream after its header', async () => {
    const t = startServer();
    const c = await TestClient.open(t.path);
    const m = encodeRegionWriteRequest(c.id(), 0, 4, Buffer.alloc(64));
    const gone = nextEvent(t, 'disconnect');
    c.send(m.subarray(0, 40));
    c.conn.end();
    const e = await gone;
    assert.equal(e.reason, 'disconnected');
    await assertServes(t);
    c.close();
    await t.stop();
  });

  it('answers EINVAL (and warns) to a DMA_READ reply for a request it never sent, and keeps serving', async () => {
    const t = startServer();
    const c = await TestClient.open(t.path);
    const reply = encodeRegionReadRequest(c.id(), 0, 0, 4);
    reply.writeUInt32LE(1, 8); // a reply
    reply.writeUInt16LE(Command.DMA_READ, 2);
    const r = await c.request(reply);
    assertError(r, 'EINVAL', 'stray DMA_READ reply');
    assert.equal(r.header.command, Command.DMA_READ);
    await c.write16(CONFIG, 4, 2);
    assert.equal(await c.read32(0, REG.ID), 0x7e571de5);
    assert.ok(t.warnings.some((w) => w.code === 'unmatched-reply' && /matches no request/.test(w.message)));
    c.close();
    await t.stop();
  });

  it('answers EINVAL (and warns) to a reply to anything but DMA_READ/DMA_WRITE, and keeps serving', async () => {
    const t = startServer();
    const c = await TestClient.open(t.path);
    for (const command of [Command.REGION_READ, Command.DEVICE_RESET, Command.VERSION]) {
      const reply = encodeRegionReadRequest(c.id(), 0, 0, 4);
      reply.writeUInt32LE(1, 8); // a reply
      reply.writeUInt16LE(command, 2);
      const before = t.warnings.length;
      const r = await c.request(reply);
      assertError(r, 'EINVAL', `a ${command} reply`);
      assert.equal(r.header.command, command);
      assert.ok(
        t.warnings.slice(before).some((w) => w.code === 'unmatched-reply' && /only answers DMA_READ and DMA_WRITE/.test(w.message)),
      );
    }
    await c.write16(CONFIG, 4, 2);
    assert.equal(await c.read32(0, REG.ID), 0x7e571de5);
    assert.ok(!c.isEnded);
    c.close();
    await t.stop();
  });
});
