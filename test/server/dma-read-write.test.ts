// DMA_READ / DMA_WRITE (server to client): the model's asynchronous DMA over
// maps without descriptors, chunked by the client's max_data_xfer_size,
// mixed with direct maps; an asynchronous region handler waiting for it while
// replies keep flowing; the client's errors, silence (timeout), departure,
// malformed and unmatched replies; and what never reaches the wire (unmapped
// ranges, bus mastering off).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Command,
  DMA_MAP_FLAG_READ,
  DMA_MAP_FLAG_WRITE,
  HEADER_SIZE,
  MessageType,
  encodeDmaMapRequest,
  encodeDmaReadReply,
  encodeRegionReadRequest,
  encodeRegionWriteRequest,
  writeHeaderFields,
} from '../../src/protocol/index.js';
import { DmaError } from '../../src/server/errors.js';
import { DMA_DONE, DMA_ERROR, DMA_START, DMA_SYNC, DMA_WAIT, REG } from './fixtures/test-device.js';
import { assertOk, ClientMemory, CONFIG, sleep, type TestClient, type TestServer, eachClient } from './helpers.js';

const RW = DMA_MAP_FLAG_READ | DMA_MAP_FLAG_WRITE;
const SRC = 0x100000n;
const DST = 0x200000n;

async function setupCopy(c: TestClient, src: bigint, dst: bigint, len: number): Promise<void> {
  await c.write32(0, REG.DMA_SRC, Number(src & 0xffffffffn));
  await c.write32(0, REG.DMA_SRC + 4, Number(src >> 32n));
  await c.write32(0, REG.DMA_DST, Number(dst & 0xffffffffn));
  await c.write32(0, REG.DMA_DST + 4, Number(dst >> 32n));
  await c.write32(0, REG.DMA_LEN, len);
}

function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

describe('DMA_READ / DMA_WRITE', () => {
  let t: TestServer;
  let c: TestClient;
  let src: Uint8Array;
  let dst: Uint8Array;
  eachClient(
    { start: { server: { dmaTimeoutMs: 150 } }, caps: { maxMsgFds: 8, maxDataXferSize: 4096 }, command: 0x6 },
    async (server, client) => {
      t = server;
      c = client;
      src = new Uint8Array(8192);
      dst = new Uint8Array(8192);
      c.memory.push({ iova: SRC, bytes: src }, { iova: DST, bytes: dst });
      assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: DMA_MAP_FLAG_READ, address: SRC, size: 8192n })));
      assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: DST, size: 8192n })));
    },
  );

  it("copies between maps without descriptors through messages, in chunks of the client's limit", async () => {
    src.set(pattern(8192));
    await setupCopy(c, SRC + 100n, DST + 50n, 5000);
    await c.write32(0, REG.DMA_CMD, DMA_START | DMA_WAIT);
    assert.equal(t.model.reg(REG.DMA_STATUS), DMA_DONE, 'the REGION_WRITE waited for the copy');
    assert.deepEqual(dst.subarray(50, 5050), src.subarray(100, 5100));
    assert.equal(dst[49], 0);
    assert.equal(dst[5050], 0);
    const reads = c.serverRequests.filter((h) => h.command === Command.DMA_READ);
    const writes = c.serverRequests.filter((h) => h.command === Command.DMA_WRITE);
    assert.equal(reads.length, 2);
    assert.equal(writes.length, 2);
    assert.ok(c.serverRequests.every((h) => h.size - HEADER_SIZE - 16 <= 4096 && (h.flags & 0xf) === MessageType.COMMAND));
    assert.equal(new Set(c.serverRequests.map((h) => h.msgId)).size, 4, 'each request has its own id');
  });

  it('keeps message order while a handler waits for DMA, reading replies meanwhile', async () => {
    src.set(pattern(8192, 3));
    await setupCopy(c, SRC, DST, 8192);
    c.dmaDelayMs = 20;
    const w = Buffer.alloc(4);
    w.writeUInt32LE(DMA_START | DMA_WAIT);
    const started = c.request(encodeRegionWriteRequest(c.id(), 0, REG.DMA_CMD, w));
    const status = c.request(encodeRegionReadRequest(c.id(), 0, REG.DMA_STATUS, 4));
    const [, s] = await Promise.all([started, status]);
    assert.equal(s.message.readUInt32LE(32), DMA_DONE);
    assert.deepEqual(dst, src);
  });

  it('mixes direct maps and message maps in one copy', async () => {
    const mem = new ClientMemory(8192);
    mem.bytes.set(pattern(8192, 5));
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x300000n, size: 8192n }), [mem.memfd.fd]));
    await setupCopy(c, 0x300000n, DST, 8192);
    await c.write32(0, REG.DMA_CMD, DMA_START | DMA_WAIT);
    assert.equal(t.model.reg(REG.DMA_STATUS), DMA_DONE);
    assert.deepEqual(dst, mem.bytes);
    const n = c.serverRequests.length;
    await setupCopy(c, SRC, 0x300000n, 4096);
    src.fill(0x3c);
    await c.write32(0, REG.DMA_CMD, DMA_START | DMA_WAIT);
    assert.equal(mem.bytes[4095], 0x3c);
    assert.equal(c.serverRequests.length, n + 1, 'only the read needed a message');
    mem.close();
  });

  it('lets the model call read/write directly', async () => {
    src.set([1, 2, 3, 4], 10);
    const b = new Uint8Array(4);
    await t.device.dma.read(SRC + 10n, b);
    assert.deepEqual([...b], [1, 2, 3, 4]);
    await t.device.dma.write(DST + 4000n, Uint8Array.of(9, 9));
    assert.deepEqual([...dst.subarray(4000, 4002)], [9, 9]);
    await assert.rejects(t.device.dma.write(SRC, Uint8Array.of(1)), (e) => e instanceof DmaError && e.reason === 'permission');
  });

  it("fails the model with the client's errno when it answers an error", async () => {
    c.dmaMode = 'error';
    await setupCopy(c, SRC, DST, 16);
    await c.write32(0, REG.DMA_CMD, DMA_START | DMA_WAIT);
    assert.equal(t.model.reg(REG.DMA_STATUS), DMA_ERROR);
    assert.equal(t.model.reg(REG.DMA_ERRNO), 14, 'EFAULT');
    await assert.rejects(
      t.device.dma.read(SRC, new Uint8Array(4)),
      (e) => e instanceof DmaError && e.reason === 'peer-error' && e.code === 'EFAULT',
    );
  });

  it('times out (ETIMEDOUT) when the client does not answer, and answers the late reply EINVAL with a warning', async () => {
    c.dmaDelayMs = 300;
    const before = t.warnings.length;
    const strays = c.unsolicited.length;
    const started = Date.now();
    await assert.rejects(
      t.device.dma.read(SRC, new Uint8Array(4)),
      (e) => e instanceof DmaError && e.reason === 'timeout' && e.code === 'ETIMEDOUT',
    );
    assert.ok(Date.now() - started >= 140);
    await sleep(250);
    assert.ok(t.warnings.slice(before).some((w) => w.code === 'unmatched-reply'));
    const answers = c.unsolicited.slice(strays);
    assert.ok(
      answers.some((r) => r.error && r.code === 'EINVAL' && r.header.command === Command.DMA_READ),
      'the late reply got EINVAL',
    );
    c.dmaDelayMs = 0;
    assert.equal(await c.read32(0, REG.ID), 0x7e571de5, 'the connection still works');
  });

  it('fails pending requests with ECONNRESET when the client leaves', async () => {
    c.dmaMode = 'ignore';
    const p = t.device.dma.read(SRC, new Uint8Array(64));
    await sleep(10);
    c.close();
    await assert.rejects(p, (e) => e instanceof DmaError && e.reason === 'disconnected' && e.code === 'ECONNRESET');
  });

  it('fails on a malformed reply (EPROTO) with a warning, and accepts the short DMA_WRITE reply forms', async () => {
    c.dmaMode = 'ignore';
    const before = t.warnings.length;
    const p = t.device.dma.read(SRC, new Uint8Array(8));
    await sleep(10);
    const h = c.serverRequests.at(-1)!;
    const bad = encodeDmaReadReply(h.msgId, SRC, new Uint8Array(4)); // 4 bytes for 8 asked
    c.send(bad);
    await assert.rejects(p, (e) => e instanceof DmaError && e.reason === 'bad-reply' && e.code === 'EPROTO');
    assert.ok(t.warnings.slice(before).some((w) => w.code === 'bad-reply'));
    for (const length of [0, 12]) {
      const w = t.device.dma.write(DST, Uint8Array.of(1, 2));
      await sleep(10);
      const req = c.serverRequests.at(-1)!;
      const reply = Buffer.alloc(HEADER_SIZE + length);
      writeHeaderFields(reply, req.msgId, Command.DMA_WRITE, reply.length, MessageType.REPLY, 0);
      if (length === 12) {
        reply.writeBigUInt64LE(DST, 16);
        reply.writeUInt32LE(2, 24);
      }
      c.send(reply);
      await w;
    }
  });

  it('never sends a request for an unmapped range or without bus mastering', async () => {
    const n = c.serverRequests.length;
    await assert.rejects(t.device.dma.read(0x900000n, new Uint8Array(4)), (e) => e instanceof DmaError && e.reason === 'unmapped');
    await assert.rejects(
      t.device.dma.read(SRC + 8190n, new Uint8Array(4)),
      (e) => e instanceof DmaError && e.reason === 'unmapped',
      'runs off the end',
    );
    await c.write16(CONFIG, 4, 0x2);
    await assert.rejects(
      t.device.dma.read(SRC, new Uint8Array(4)),
      (e) => e instanceof DmaError && e.reason === 'bus-master' && e.code === 'EPERM',
    );
    assert.equal(c.serverRequests.length, n);
  });

  it('refuses synchronous DMA on maps without descriptors (ENOTSUP) and does it on direct maps', async () => {
    await setupCopy(c, SRC, DST, 16);
    await c.write32(0, REG.DMA_CMD, DMA_SYNC);
    assert.equal(t.model.reg(REG.DMA_STATUS), DMA_ERROR);
    assert.equal(t.model.reg(REG.DMA_ERRNO), 95, 'ENOTSUP');
    const mem = new ClientMemory(8192);
    mem.bytes.set(pattern(4096), 0);
    assertOk(await c.request(encodeDmaMapRequest(c.id(), { flags: RW, address: 0x400000n, size: 8192n }), [mem.memfd.fd]));
    await setupCopy(c, 0x400000n, 0x401000n, 4096);
    await c.write32(0, REG.DMA_CMD, DMA_SYNC);
    assert.equal(t.model.reg(REG.DMA_STATUS), DMA_DONE);
    assert.deepEqual(mem.bytes.subarray(4096), mem.bytes.subarray(0, 4096));
    mem.close();
  });
});
