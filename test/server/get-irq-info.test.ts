// DEVICE_GET_IRQ_INFO: counts and flags as the kernel's vfio-pci reports them
// (INTx maskable and automasked; MSI/MSI-X/ERR/REQ noresize; ERR only on PCI
// Express functions), and the refusals.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Command,
  IRQ_INFO_AUTOMASKED,
  IRQ_INFO_EVENTFD,
  IRQ_INFO_MASKABLE,
  IRQ_INFO_NORESIZE,
  decodeIrqInfoReply,
  encodeIrqInfoRequest,
} from '../../src/protocol/index.js';
import { EventFd } from '../../src/sys/index.js';
import {
  assertError,
  assertNoLeak,
  assertOk,
  resources,
  startServer,
  TestClient,
  type TestServer,
  eachClient,
  rawWordsRequest,
} from './helpers.js';

const raw = (id: number, words: number[], length = 16): Buffer => rawWordsRequest(Command.DEVICE_GET_IRQ_INFO, id, words, length);

async function irqInfo(c: TestClient, index: number): Promise<{ flags: number; count: number }> {
  const r = await c.request(encodeIrqInfoRequest(c.id(), index));
  assertOk(r, `index ${index}`);
  const d = decodeIrqInfoReply(r.message, { index });
  assert.equal(d.argsz, 16);
  return { flags: d.flags, count: d.count };
}

describe('DEVICE_GET_IRQ_INFO', () => {
  let c: TestClient;
  eachClient({}, (_server, client) => {
    c = client;
  });

  it('reports every interrupt type of the fixture', async () => {
    assert.deepEqual(await irqInfo(c, 0), { flags: IRQ_INFO_EVENTFD | IRQ_INFO_MASKABLE | IRQ_INFO_AUTOMASKED, count: 1 });
    assert.deepEqual(await irqInfo(c, 1), { flags: IRQ_INFO_EVENTFD | IRQ_INFO_NORESIZE, count: 4 });
    assert.deepEqual(await irqInfo(c, 2), { flags: IRQ_INFO_EVENTFD | IRQ_INFO_NORESIZE, count: 8 });
    assert.deepEqual(await irqInfo(c, 3), { flags: IRQ_INFO_EVENTFD | IRQ_INFO_NORESIZE, count: 1 });
    assert.deepEqual(await irqInfo(c, 4), { flags: IRQ_INFO_EVENTFD | IRQ_INFO_NORESIZE, count: 1 });
  });

  it('refuses indexes beyond REQ (EINVAL)', async () => {
    assertError(await c.request(encodeIrqInfoRequest(c.id(), 5)), 'EINVAL');
    assertError(await c.request(encodeIrqInfoRequest(c.id(), 0x7fffffff)), 'EINVAL');
  });

  it('refuses argsz below 16, non-zero flags or count, wrong sizes (EINVAL)', async () => {
    assertError(await c.request(raw(c.id(), [8, 0, 0, 0])), 'EINVAL', 'argsz');
    assertError(await c.request(raw(c.id(), [16, 1, 0, 0])), 'EINVAL', 'flags');
    assertError(await c.request(raw(c.id(), [16, 0, 0, 1])), 'EINVAL', 'count');
    assertError(await c.request(raw(c.id(), [16, 0, 0], 8)), 'EINVAL', 'short');
    assertError(await c.request(raw(c.id(), [16, 0, 0, 0], 20)), 'EINVAL', 'long');
  });

  it('refuses a descriptor (EINVAL) and closes it', async () => {
    const before = resources();
    const e = EventFd.create();
    assertError(await c.request(encodeIrqInfoRequest(c.id(), 0), [e.fd]), 'EINVAL');
    e.close();
    await assertNoLeak(before);
  });
});

describe('DEVICE_GET_IRQ_INFO on a conventional function without INTx', () => {
  let t: TestServer;
  before(() => {
    t = startServer({ device: { pin: 0, pcie: false } });
  });
  after(() => t.stop());

  it('reports INTx with count 0 and refuses ERR like the kernel (EINVAL)', async () => {
    const c = await TestClient.open(t.path);
    assert.equal((await irqInfo(c, 0)).count, 0);
    assertError(await c.request(encodeIrqInfoRequest(c.id(), 3)), 'EINVAL');
    assert.equal((await irqInfo(c, 4)).count, 1);
    c.close();
    await c.ended;
  });
});
