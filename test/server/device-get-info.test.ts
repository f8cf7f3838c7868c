// DEVICE_GET_INFO: the PCI device's flags, regions and interrupt types, and
// the refusals (argsz, non-zero fields, sizes, descriptors).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, FLAG_NO_REPLY, decodeDeviceGetInfoReply, encodeDeviceGetInfoRequest } from '../../src/protocol/index.js';
import { deviceFlags } from '../../src/uapi/vfio.js';
import { EventFd } from '../../src/sys/index.js';
import { assertError, assertNoLeak, assertOk, resources, type TestClient, eachClient, rawWordsRequest } from './helpers.js';

const raw = (id: number, words: number[], length = 16): Buffer => rawWordsRequest(Command.DEVICE_GET_INFO, id, words, length);

describe('DEVICE_GET_INFO', () => {
  let c: TestClient;
  eachClient({}, (_server, client) => {
    c = client;
  });

  it('describes a resettable PCI device with 9 regions and 5 interrupt types', async () => {
    const r = await c.request(encodeDeviceGetInfoRequest(c.id()));
    assertOk(r);
    const info = decodeDeviceGetInfoReply(r.message);
    assert.deepEqual(info, { argsz: 16, truncated: false, flags: deviceFlags.PCI | deviceFlags.RESET, numRegions: 9, numIrqs: 5 });
  });

  it('answers a larger argsz with the 16-byte structure', async () => {
    const r = await c.request(encodeDeviceGetInfoRequest(c.id(), 256));
    assertOk(r);
    assert.equal(r.payload.length, 16);
    assert.equal(r.payload.readUInt32LE(0), 16);
  });

  it('refuses argsz below 16, non-zero fields and wrong sizes (EINVAL)', async () => {
    assertError(await c.request(raw(c.id(), [8])), 'EINVAL', 'argsz');
    assertError(await c.request(raw(c.id(), [16, 1])), 'EINVAL', 'flags');
    assertError(await c.request(raw(c.id(), [16, 0, 9])), 'EINVAL', 'num_regions');
    assertError(await c.request(raw(c.id(), [16, 0, 0, 5])), 'EINVAL', 'num_irqs');
    assertError(await c.request(raw(c.id(), [16], 12)), 'EINVAL', 'short');
    assertError(await c.request(raw(c.id(), [16], 20)), 'EINVAL', 'long');
    assertError(await c.request(raw(c.id(), [], 0)), 'EINVAL', 'empty');
  });

  it('refuses a descriptor (EINVAL) and closes it', async () => {
    const before = resources();
    const e = EventFd.create();
    assertError(await c.request(encodeDeviceGetInfoRequest(c.id()), [e.fd]), 'EINVAL');
    e.close();
    await assertNoLeak(before);
  });

  it('sends nothing back for a request with the no-reply flag', async () => {
    c.send(encodeDeviceGetInfoRequest(c.id(), 16, FLAG_NO_REPLY));
    c.send(raw(c.id(), [8]).fill(0x10, 8, 9)); // a failing one with no-reply: no error reply either
    const r = await c.request(encodeDeviceGetInfoRequest(c.id()));
    assertOk(r);
    assert.equal(c.unsolicited.length, 0);
  });
});
