// DEVICE_GET_REGION_IO_FDS: the server offers no ioeventfds, so every region
// answers with the 16-byte head and count 0 (no descriptors); the refusals.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, decodeRegionIoFdsReply, encodeRegionIoFdsRequest } from '../../src/protocol/index.js';
import { EventFd } from '../../src/sys/index.js';
import { assertError, assertNoLeak, assertOk, resources, type TestClient, eachClient, rawWordsRequest } from './helpers.js';

const raw = (id: number, words: number[], length = 16): Buffer => rawWordsRequest(Command.DEVICE_GET_REGION_IO_FDS, id, words, length);

describe('DEVICE_GET_REGION_IO_FDS', () => {
  let c: TestClient;
  eachClient({}, (_server, client) => {
    c = client;
  });

  it('answers count 0 without descriptors for every region', async () => {
    for (let index = 0; index < 9; index++) {
      const r = await c.request(encodeRegionIoFdsRequest(c.id(), index, 1024));
      assertOk(r, `region ${index}`);
      assert.equal(r.fds.length, 0);
      const d = decodeRegionIoFdsReply(r.message, r.fds, { index });
      assert.deepEqual(
        { argsz: d.argsz, index: d.index, count: d.count, truncated: d.truncated, subRegions: d.subRegions },
        { argsz: 16, index, count: 0, truncated: false, subRegions: [] },
      );
    }
  });

  it('answers with the minimal argsz too', async () => {
    const r = await c.request(encodeRegionIoFdsRequest(c.id(), 0, 16));
    assertOk(r);
    assert.equal(r.payload.length, 16);
  });

  it('refuses a region index beyond 9, argsz below 16, non-zero flags or count, wrong sizes (EINVAL)', async () => {
    assertError(await c.request(encodeRegionIoFdsRequest(c.id(), 9)), 'EINVAL', 'index');
    assertError(await c.request(raw(c.id(), [8, 0, 0, 0])), 'EINVAL', 'argsz');
    assertError(await c.request(raw(c.id(), [16, 1, 0, 0])), 'EINVAL', 'flags');
    assertError(await c.request(raw(c.id(), [16, 0, 0, 1])), 'EINVAL', 'count');
    assertError(await c.request(raw(c.id(), [16, 0, 0], 12)), 'EINVAL', 'short');
    assertError(await c.request(raw(c.id(), [16, 0, 0, 0], 24)), 'EINVAL', 'long');
  });

  it('refuses a descriptor (EINVAL) and closes it', async () => {
    const before = resources();
    const e = EventFd.create();
    assertError(await c.request(encodeRegionIoFdsRequest(c.id(), 0), [e.fd]), 'EINVAL');
    e.close();
    await assertNoLeak(before);
  });
});
