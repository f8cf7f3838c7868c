// The fast path (src/server/fast-path.ts) and the general path answer a
// plain REGION_READ/REGION_WRITE alike: the same script of region accesses -
// config space, registers at every size, a model that answers later, shared
// BAR memory, and the refusals (out of range, absent region, decode off,
// read-only, a model error, a count above max_data_xfer_size) - is sent to a
// server with the fast path and to one without, and every reply must be the
// same byte for byte. The fast-path server must really have taken the fast
// path, and the other must never have.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRegionReadRequest, encodeRegionWriteRequest } from '../../src/protocol/index.js';
import { REG } from './fixtures/test-device.js';
import { CONFIG, rawRequest, startServer, TestClient, type TestServer } from './helpers.js';
import { Command, FLAG_ERROR } from '../../src/protocol/index.js';

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};

/** The script: each step builds one request from the next message id. */
const SCRIPT: ((id: number) => Uint8Array)[] = [
  (id) => encodeRegionReadRequest(id, CONFIG, 0, 4), // vendor and device id
  (id) => encodeRegionReadRequest(id, 0, REG.ID, 4), // decode still off: refused
  (id) => encodeRegionWriteRequest(id, CONFIG, 4, Buffer.from([0x06, 0x00])), // memory decode + bus master
  (id) => encodeRegionReadRequest(id, CONFIG, 0, 64), // the whole header
  (id) => encodeRegionWriteRequest(id, CONFIG, 0x10, u32(0xffffffff)), // BAR0 sizing
  (id) => encodeRegionReadRequest(id, CONFIG, 0x10, 4),
  (id) => encodeRegionReadRequest(id, 0, REG.ID, 4),
  (id) => encodeRegionWriteRequest(id, 0, REG.SCRATCH, u32(0x12345678)),
  (id) => encodeRegionReadRequest(id, 0, REG.SCRATCH, 1),
  (id) => encodeRegionReadRequest(id, 0, REG.SCRATCH + 1, 2),
  (id) => encodeRegionReadRequest(id, 0, REG.SCRATCH, 8),
  (id) => encodeRegionWriteRequest(id, 0, REG.SLOW, u32(7)), // the model answers later
  (id) => encodeRegionReadRequest(id, 0, REG.SLOW, 4),
  (id) => encodeRegionWriteRequest(id, 0, REG.ID, u32(1)), // read-only: dropped
  (id) => encodeRegionWriteRequest(id, 0, REG.EPERM, u32(1)), // the model refuses
  (id) => encodeRegionWriteRequest(id, 0, REG.BOOM, u32(1)), // the model throws
  (id) => encodeRegionReadRequest(id, 0, 0xfffffffc, 4), // past the BAR
  (id) => encodeRegionReadRequest(id, 5, 0, 4), // an absent region
  (id) => encodeRegionReadRequest(id, 1, 0x1000, 16), // shared BAR memory
  (id) => encodeRegionWriteRequest(id, 1, 0x1000, Buffer.from('fast and general')),
  (id) => encodeRegionReadRequest(id, 1, 0x1000, 16),
  (id) => encodeRegionReadRequest(id, 1, 0, 8192), // above max_data_xfer_size (4096)
  (id) => {
    const b = rawRequest(Command.REGION_READ, id, 12); // payload too short for a region access
    b.writeUInt32LE(4, 16 + 8);
    return b;
  },
];

async function run(fastPath: boolean): Promise<{ replies: Buffer[]; fast: number }> {
  const t: TestServer = startServer({ device: { slowMs: 5 }, server: { fastPath, maxDataXferSize: 4096 } });
  try {
    // A client in another process would get the fast path too; this one is in-process (no lingering), which is fine.
    const c = await TestClient.open(t.path, { maxMsgFds: 4, maxDataXferSize: 4096 });
    const replies: Buffer[] = [];
    for (const step of SCRIPT) replies.push((await c.request(step(c.id()))).message);
    const fast = t.server.clients[0]!.fastAccesses;
    c.close();
    await c.ended;
    return { replies, fast };
  } finally {
    await t.stop();
  }
}

test('the fast and the general path give the same replies, byte for byte', { timeout: 30_000 }, async () => {
  const fast = await run(true);
  const general = await run(false);
  assert.equal(fast.replies.length, SCRIPT.length);
  assert.ok(fast.fast >= SCRIPT.length / 2, `the fast path took ${fast.fast} of ${SCRIPT.length} accesses`);
  assert.equal(general.fast, 0, 'fastPath: false never takes it');
  const errors = fast.replies.filter((r) => (r.readUInt32LE(8) & FLAG_ERROR) !== 0).length;
  assert.ok(errors >= 5, `the script reaches the refusals (${errors} error replies)`);
  for (let i = 0; i < SCRIPT.length; i++) {
    assert.deepEqual(fast.replies[i], general.replies[i], `step ${i}: the replies differ`);
  }
});
