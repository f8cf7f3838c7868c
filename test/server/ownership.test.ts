// One owner at a time: a second client is refused EBUSY; when the owner
// leaves everything of it is released and the device is reset to power-on
// before the next one is admitted (even one that raced in); the command in
// progress settles first (bounded); close() asks the owner to leave with REQ.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  DMA_MAP_FLAG_READ,
  DMA_MAP_FLAG_WRITE,
  encodeDmaMapRequest,
  encodeRegionWriteRequest,
  encodeVersionRequest,
} from '../../src/protocol/index.js';
import { UnixConnection } from '../../src/sys/index.js';
import type { ClientEvent } from '../../src/server/server.js';
import { REG } from './fixtures/test-device.js';
import {
  assertError,
  assertNoLeak,
  assertOk,
  ClientMemory,
  CONFIG,
  DEFAULT_CAPS,
  eventfds,
  MSIX,
  REQ,
  resources,
  setIrqs,
  sleep,
  startServer,
  TestClient,
} from './helpers.js';

describe('ownership', () => {
  it('refuses a second client with EBUSY and closes it', async () => {
    const t = startServer();
    const events: ClientEvent[] = [];
    t.server.on('client', (e) => events.push(e));
    const a = await TestClient.open(t.path);
    await a.write16(CONFIG, 4, 0x2);
    const b = TestClient.connect(t.path);
    const r = await b.request(encodeVersionRequest(b.id(), { major: 0, minor: 2, capabilities: DEFAULT_CAPS }));
    assertError(r, 'EBUSY');
    await b.ended;
    assert.equal(await a.read32(0, REG.ID), 0x7e571de5, 'the owner is unaffected');
    const busy = events.find((e) => e.type === 'busy');
    assert.ok(busy);
    assert.equal(busy.pid, process.pid);
    assert.equal(busy.uid, process.getuid!());
    assert.deepEqual(
      events.map((e) => e.type),
      ['connect', 'owner', 'connect', 'busy', 'disconnect'],
    );
    a.close();
    await t.stop();
  });

  it('releases everything of a departed owner and shows the next one a power-on device', async () => {
    const t = startServer();
    const before = resources();
    const a = await TestClient.open(t.path);
    await a.write16(CONFIG, 4, 0x6);
    await a.write32(CONFIG, 0x10, 0xfe000000);
    await a.write32(0, REG.SCRATCH, 0x1234);
    const mem = new ClientMemory(8192);
    assertOk(
      await a.request(encodeDmaMapRequest(a.id(), { flags: DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE, address: 0x10000n, size: 8192n }), [
        mem.memfd.fd,
      ]),
    );
    const es = eventfds(3);
    assertOk(await setIrqs(a, { data: 'eventfd', action: 'trigger', index: MSIX, count: 2 }, [es[0]!.fd, es[1]!.fd]));
    assertOk(await setIrqs(a, { data: 'eventfd', action: 'trigger', index: REQ, count: 1 }, [es[2]!.fd]));
    t.device.barMemory(2)![0x1000] = 0x99;
    const released = new Promise<void>((resolve) => t.server.on('client', (e) => e.type === 'released' && resolve()));
    a.close();
    await released;
    assert.equal(t.device.irq.boundEventFds, 0);
    assert.deepEqual(t.device.dma.maps(), []);
    assert.equal(t.model.resets.at(-1), 'release');
    mem.close();
    es.forEach((e) => {
      e.close();
    });
    await assertNoLeak(before, 'after the owner left');

    const b = await TestClient.open(t.path);
    assert.equal(await b.read16(CONFIG, 4), 0, 'command register at power-on');
    assert.equal(await b.read32(CONFIG, 0x10), 0, 'BAR0 unprogrammed');
    await b.write16(CONFIG, 4, 0x2);
    assert.equal(await b.read32(0, REG.SCRATCH), 0, 'model registers reset');
    assert.equal(t.device.barMemory(2)![0x1000], 0, 'fresh shared memory');
    assert.equal(t.device.config.msix?.enabled, false);
    assert.deepEqual(t.model.owners.slice(-3), [1, undefined, 2]);
    b.close();
    await t.stop();
  });

  it('admits a client that raced in while the previous owner was being released', async () => {
    const t = startServer();
    for (let i = 0; i < 20; i++) {
      const a = await TestClient.open(t.path);
      await a.write16(CONFIG, 4, 0x2);
      await a.write32(0, REG.SCRATCH, i + 1);
      a.close();
      const b = await TestClient.open(t.path);
      await b.write16(CONFIG, 4, 0x2);
      assert.equal(await b.read32(0, REG.SCRATCH), 0, `round ${i}`);
      b.close();
      await b.ended;
    }
    await t.stop();
  });

  it('lets the command in progress finish before the release reset', async () => {
    const t = startServer({ device: { slowMs: 30 } });
    const a = await TestClient.open(t.path);
    await a.write16(CONFIG, 4, 0x2);
    const v = Buffer.alloc(4);
    v.writeUInt32LE(7);
    a.send(encodeRegionWriteRequest(a.id(), 0, REG.SLOW, v));
    await sleep(5);
    a.close();
    await sleep(5);
    assert.equal(t.model.resets.includes('release'), false, 'the release waits for the slow write');
    await t.server.settled();
    assert.equal(t.model.resets.at(-1), 'release');
    assert.equal(t.model.reg(REG.SLOW), 0, 'and resets after it');
    await t.stop();
  });

  it('releases anyway when the command in progress does not settle in time (with a warning)', async () => {
    const t = startServer({ device: { slowMs: 400 }, server: { releaseTimeoutMs: 50 } });
    const a = await TestClient.open(t.path);
    await a.write16(CONFIG, 4, 0x2);
    a.send(encodeRegionWriteRequest(a.id(), 0, REG.SLOW, Buffer.alloc(4)));
    await sleep(5);
    a.close();
    const started = Date.now();
    await sleep(5);
    await t.server.settled();
    assert.ok(Date.now() - started < 300);
    assert.ok(t.warnings.some((w) => w.code === 'release-timeout'));
    const b = await TestClient.open(t.path);
    b.close();
    await sleep(450);
    await t.stop();
  });

  it('close() signals REQ to the owner, waits for it within the grace period, removes the socket', async () => {
    const t = startServer();
    const a = await TestClient.open(t.path);
    const [req] = eventfds(1);
    assertOk(await setIrqs(a, { data: 'eventfd', action: 'trigger', index: REQ, count: 1 }, [req!.fd]));
    req!.watch(() => a.close()); // a well-behaved client releases the device on REQ
    const started = Date.now();
    await t.server.close({ graceMs: 2000 });
    assert.ok(Date.now() - started < 1000, 'the owner left on REQ before the grace period ended');
    assert.ok(!existsSync(t.path), 'socket file removed');
    assert.throws(() => UnixConnection.connect(t.path));
    req!.close();
    await t.stop();
  });

  it('close() ends an owner that ignores REQ after the grace period', async () => {
    const t = startServer();
    const a = await TestClient.open(t.path);
    const [req] = eventfds(1);
    assertOk(await setIrqs(a, { data: 'eventfd', action: 'trigger', index: REQ, count: 1 }, [req!.fd]));
    const started = Date.now();
    await t.server.close({ graceMs: 100 });
    assert.ok(Date.now() - started >= 90);
    assert.equal(req!.read(), 1, 'REQ was signalled');
    await a.ended;
    req!.close();
    await t.stop();
  });
});
