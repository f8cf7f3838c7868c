// DEVICE_RESET and the resets config space triggers (PCIe FLR, AF FLR, PM
// soft reset): BAR and command programming kept, interrupts disabled (their
// eventfds released, ERR/REQ kept), MSI-X table back to masked, the model
// reset with the right reason; refusals.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Command, encodeDeviceResetRequest } from '../../src/protocol/index.js';
import { EventFd } from '../../src/sys/index.js';
import { REG } from './fixtures/test-device.js';
import {
  assertError,
  assertNoLeak,
  assertOk,
  CONFIG,
  eventfds,
  MSIX,
  REQ,
  resources,
  setIrqs,
  startServer,
  TestClient,
  type TestServer,
  eachClient,
} from './helpers.js';

describe('DEVICE_RESET', () => {
  let t: TestServer;
  let c: TestClient;
  eachClient({ start: { device: { af: true } }, command: 0x6 }, (server, client) => {
    t = server;
    c = client;
  });

  it('resets the function: BARs and command kept, interrupts off, model reset', async () => {
    const before = resources();
    await c.write32(CONFIG, 0x10, 0xfe000000);
    await c.write32(0, REG.SCRATCH, 1234);
    const [v0, v1, req] = eventfds(3);
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSIX, start: 0, count: 2 }, [v0!.fd, v1!.fd]));
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: REQ, count: 1 }, [req!.fd]));
    const resets = t.model.resets.length;
    const r = await c.request(encodeDeviceResetRequest(c.id()));
    assertOk(r);
    assert.equal(r.payload.length, 0);
    assert.deepEqual(t.model.resets.slice(resets), ['device-reset']);
    assert.equal(await c.read32(CONFIG, 0x10), 0xfe000000, 'BAR programming kept');
    assert.equal((await c.read16(CONFIG, 4)) & 0x6, 0x6, 'command kept');
    assert.equal(await c.read32(0, REG.SCRATCH), 0, 'the model reset its registers');
    assert.equal(t.device.irq.mode, 'none');
    assert.equal(t.device.irq.boundEventFds, 1, 'only REQ stays');
    assert.equal(t.device.config.msix?.enabled, false);
    assert.equal((await c.read(4, 12, 4)).readUInt32LE(0), 1, 'MSI-X vectors masked again');
    assert.equal(t.device.irq.requestRelease(), true);
    assert.equal(req!.read(), 1);
    for (const e of [v0!, v1!, req!]) e.close();
    assertOk(await setIrqs(c, { data: 'none', action: 'trigger', index: REQ, count: 0 }));
    await assertNoLeak(before);
  });

  it('resets on a PCIe FLR and an AF FLR written to config space', async () => {
    const pcie = t.device.config.findCapability(0x10)!;
    const af = t.device.config.findCapability(0x13)!;
    const e = EventFd.create();
    assertOk(await setIrqs(c, { data: 'eventfd', action: 'trigger', index: MSIX, start: 0, count: 1 }, [e.fd]));
    let n = t.model.resets.length;
    await c.write16(CONFIG, pcie + 8, 0x8000);
    assert.deepEqual(t.model.resets.slice(n), ['pcie-flr']);
    assert.equal(t.device.irq.mode, 'none', 'interrupts disabled by the FLR');
    n = t.model.resets.length;
    await c.write(CONFIG, af + 4, Buffer.from([1]));
    assert.deepEqual(t.model.resets.slice(n), ['af-flr']);
    e.close();
  });

  it('refuses a payload or a descriptor (EINVAL)', async () => {
    const m = Buffer.concat([encodeDeviceResetRequest(c.id()), Buffer.alloc(4)]);
    m.writeUInt32LE(m.length, 4);
    const n = t.model.resets.length;
    assertError(await c.request(m), 'EINVAL');
    const before = resources();
    const e = EventFd.create();
    assertError(await c.request(encodeDeviceResetRequest(c.id()), [e.fd]), 'EINVAL');
    e.close();
    await assertNoLeak(before);
    assert.equal(t.model.resets.length, n, 'no reset happened');
    const bad = encodeDeviceResetRequest(c.id());
    bad.writeUInt16LE(Command.DEVICE_RESET, 2);
    bad.writeUInt32LE(0x40, 8);
    assertError(await c.request(bad), 'EINVAL', 'reserved flag bit');
  });
});

describe('PM soft reset', () => {
  let t: TestServer;
  before(() => {
    t = startServer({ device: { noSoftReset: false } });
  });
  after(() => t.stop());

  it('resets the model on D3hot -> D0 without No_Soft_Reset', async () => {
    const c = await TestClient.open(t.path);
    const pm = t.device.config.findCapability(0x01)!;
    await c.write16(CONFIG, pm + 4, 3);
    const n = t.model.resets.length;
    await c.write16(CONFIG, pm + 4, 0);
    assert.deepEqual(t.model.resets.slice(n), ['pm-soft-reset']);
    assert.deepEqual(t.model.powerChanges, [
      [0, 3],
      [3, 0],
    ]);
    c.close();
    await c.ended;
  });
});
