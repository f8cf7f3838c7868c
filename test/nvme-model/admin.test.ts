// Admin commands: Identify, queue creation/deletion with their errors,
// features, log pages, AER and Abort, completion fields and phase tags.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NvmeTestHost, type HostQueue } from './host.js';

const ascii = (b: Uint8Array, o: number, n: number): string =>
  Buffer.from(b.subarray(o, o + n))
    .toString('latin1')
    .trimEnd();

describe('NVMe model: admin commands', () => {
  let h: NvmeTestHost;
  let a: HostQueue;
  before(async () => {
    h = await NvmeTestHost.start({ namespaces: [{ size: 8 << 20 }, { size: 4 << 20, lbaSize: 4096 }], serial: 'SN-TEST-1' });
    assert.equal(await h.enable(8), 1);
    a = h.admin;
  });
  after(async () => h.close());

  it('Identify Controller', async () => {
    const buf = h.dev.allocDma(4096);
    const c = await a.run({ opc: 0x06, prp1: buf.iova, cdw10: 1 });
    assert.equal(c.status, 0);
    assert.equal(c.sqid, 0);
    const v = buf.view;
    const b = buf.bytes;
    assert.equal(v.getUint16(0, true), 0x1b36, 'VID');
    assert.equal(v.getUint16(2, true), 0x1af4, 'SSVID');
    assert.equal(ascii(b, 4, 20), 'SN-TEST-1');
    assert.equal(ascii(b, 24, 40), 'vfio-ts NVMe controller model');
    assert.equal(ascii(b, 64, 8), '1.0');
    assert.equal(b[77], 7, 'MDTS');
    assert.equal(v.getUint32(80, true), 0x00010400, 'VER');
    assert.equal(b[512], 0x66, 'SQES');
    assert.equal(b[513], 0x44, 'CQES');
    assert.equal(v.getUint32(516, true), 2, 'NN');
    assert.equal(v.getUint16(520, true) & 0x0d, 0x0d, 'ONCS: compare, DSM, write zeroes');
    assert.equal(b[525]! & 1, 1, 'VWC');
  });

  it('Identify Namespace, active list, descriptors; invalid NSID and CNS', async () => {
    const buf = h.dev.allocDma(4096);
    let c = await a.run({ opc: 0x06, nsid: 2, prp1: buf.iova, cdw10: 0 });
    assert.equal(c.status, 0);
    assert.equal(buf.view.getBigUint64(0, true), 1024n, 'NSZE');
    assert.equal(buf.view.getBigUint64(8, true), 1024n, 'NCAP');
    assert.equal(buf.bytes[26]! & 0xf, 0, 'FLBAS');
    assert.equal((buf.view.getUint32(128, true) >>> 16) & 0xff, 12, 'LBADS 4096');
    c = await a.run({ opc: 0x06, nsid: 1, prp1: buf.iova, cdw10: 0 });
    assert.equal(buf.view.getBigUint64(0, true), 16384n);
    assert.equal((buf.view.getUint32(128, true) >>> 16) & 0xff, 9);
    c = await a.run({ opc: 0x06, nsid: 0, prp1: buf.iova, cdw10: 2 });
    assert.equal(c.status, 0);
    assert.deepEqual([buf.view.getUint32(0, true), buf.view.getUint32(4, true), buf.view.getUint32(8, true)], [1, 2, 0]);
    c = await a.run({ opc: 0x06, nsid: 1, prp1: buf.iova, cdw10: 2 });
    assert.deepEqual([buf.view.getUint32(0, true), buf.view.getUint32(4, true)], [2, 0]);
    c = await a.run({ opc: 0x06, nsid: 1, prp1: buf.iova, cdw10: 3 });
    assert.equal(c.status, 0);
    assert.equal(buf.bytes[0], 2, 'NGUID descriptor');
    assert.equal(buf.bytes[20], 3, 'UUID descriptor');
    c = await a.run({ opc: 0x06, nsid: 3, prp1: buf.iova, cdw10: 0 });
    assert.equal(c.sct, 0);
    assert.equal(c.sc, 0x0b, 'Invalid Namespace or Format');
    assert.ok(c.dnr);
    c = await a.run({ opc: 0x06, nsid: 0, prp1: buf.iova, cdw10: 0x55 });
    assert.equal(c.sc, 0x02, 'Invalid Field in Command');
    c = await a.run({ opc: 0x06, nsid: 0, prp1: buf.iova + 2n, cdw10: 1 });
    assert.equal(c.sc, 0x13, 'PRP Offset Invalid');
    c = await a.run({ opc: 0x06, nsid: 0, prp1: 0x7000_0000_0000n, cdw10: 1 });
    assert.equal(c.sc, 0x04, 'Data Transfer Error for unmapped memory');
  });

  it('an invalid admin opcode', async () => {
    const c = await a.run({ opc: 0x7f });
    assert.equal(c.sct, 0);
    assert.equal(c.sc, 0x01);
  });

  it('completion fields and phase tags wrap around an 8-entry admin queue', async () => {
    const buf = h.dev.allocDma(4096);
    for (let i = 0; i < 20; i++) {
      const cid = a.put({ opc: 0x06, prp1: buf.iova, cdw10: 1, cid: 0x1000 + i });
      a.ring();
      const c = await a.next();
      assert.equal(c.cid, cid);
      assert.equal(c.sqhd, a.sqTail, 'SQ head reported');
      assert.equal(c.sqid, 0);
      assert.equal(c.status, 0);
    }
    // Several commands in one ring.
    const cids = [
      a.put({ opc: 0x06, prp1: buf.iova, cdw10: 1 }),
      a.put({ opc: 0x06, prp1: buf.iova, cdw10: 1 }),
      a.put({ opc: 0x06, prp1: buf.iova, cdw10: 1 }),
    ];
    a.ring();
    for (const cid of cids) assert.equal((await a.next()).cid, cid);
  });

  it('Create/Delete I/O queues: validation', async () => {
    const mem = h.dev.allocDma(64 * 1024);
    const run = (opc: number, cdw10: number, cdw11: number, prp1: bigint = mem.iova) => a.run({ opc, prp1, cdw10, cdw11 });
    let c = await run(0x05, (15 << 16) | 0, 1);
    assert.deepEqual([c.sct, c.sc], [1, 0x01], 'CQ qid 0: Invalid Queue Identifier');
    c = await run(0x05, (15 << 16) | 65, 1);
    assert.deepEqual([c.sct, c.sc], [1, 0x01], 'CQ qid beyond the maximum');
    c = await run(0x05, (0 << 16) | 1, 1);
    assert.deepEqual([c.sct, c.sc], [1, 0x02], 'one entry: Invalid Queue Size');
    c = await run(0x05, (2000 << 16) | 1, 1);
    assert.deepEqual([c.sct, c.sc], [1, 0x02], 'beyond MQES');
    c = await run(0x05, (15 << 16) | 1, 0);
    assert.deepEqual([c.sct, c.sc], [0, 0x02], 'PC=0: Invalid Field');
    c = await run(0x05, (15 << 16) | 1, (65 << 16) | 3);
    assert.deepEqual([c.sct, c.sc], [1, 0x08], 'Invalid Interrupt Vector');
    c = await run(0x05, (15 << 16) | 1, 1, mem.iova + 0x100n);
    assert.deepEqual([c.sct, c.sc], [0, 0x13], 'unaligned queue: PRP Offset Invalid');
    c = await run(0x05, (15 << 16) | 1, (1 << 16) | 3);
    assert.equal(c.status, 0, 'CQ 1 created');
    c = await run(0x05, (15 << 16) | 1, 1, mem.iova + 0x1000n);
    assert.deepEqual([c.sct, c.sc], [1, 0x01], 'CQ 1 again: Invalid Queue Identifier');
    c = await run(0x01, (15 << 16) | 1, (2 << 16) | 1, mem.iova + 0x2000n);
    assert.deepEqual([c.sct, c.sc], [1, 0x00], 'SQ on a missing CQ: Completion Queue Invalid');
    c = await run(0x01, (15 << 16) | 1, (0 << 16) | 1, mem.iova + 0x2000n);
    assert.deepEqual([c.sct, c.sc], [1, 0x00], 'SQ on the admin CQ');
    c = await run(0x01, (15 << 16) | 0, (1 << 16) | 1, mem.iova + 0x2000n);
    assert.deepEqual([c.sct, c.sc], [1, 0x01], 'SQ qid 0');
    c = await run(0x01, (15 << 16) | 1, (1 << 16) | 0, mem.iova + 0x2000n);
    assert.deepEqual([c.sct, c.sc], [0, 0x02], 'SQ PC=0');
    c = await run(0x01, (15 << 16) | 1, (1 << 16) | 1, mem.iova + 0x2000n);
    assert.equal(c.status, 0, 'SQ 1 created');
    c = await run(0x04, 1, 0);
    assert.deepEqual([c.sct, c.sc], [1, 0x0c], 'CQ with an SQ: Invalid Queue Deletion');
    c = await run(0x00, 0, 0);
    assert.deepEqual([c.sct, c.sc], [1, 0x01], 'delete SQ 0');
    c = await run(0x00, 5, 0);
    assert.deepEqual([c.sct, c.sc], [1, 0x01], 'delete a missing SQ');
    c = await run(0x04, 0, 0);
    assert.deepEqual([c.sct, c.sc], [1, 0x01], 'delete CQ 0');
    assert.equal((await run(0x00, 1, 0)).status, 0);
    assert.equal((await run(0x04, 1, 0)).status, 0);
    const s = await h.request<{ sqs: number[]; cqs: number[] }>('state');
    assert.deepEqual([s.sqs, s.cqs], [[0], [0]]);
  });

  it('Get/Set Features', async () => {
    const set = (fid: number, cdw11: number) => a.run({ opc: 0x09, cdw10: fid, cdw11 });
    const get = (fid: number, sel = 0, cdw11 = 0) => a.run({ opc: 0x0a, cdw10: fid | (sel << 8), cdw11 });
    let c = await get(0x07);
    assert.equal(c.dw0, (63 << 16) | 63, 'Number of Queues: 64 pairs');
    c = await set(0x07, (3 << 16) | 7);
    assert.equal(c.status, 0);
    assert.equal(c.dw0, (3 << 16) | 7, 'allocated as asked');
    assert.equal((await get(0x07)).dw0, (3 << 16) | 7);
    c = await set(0x07, 0xffff);
    assert.equal(c.sc, 0x02);
    assert.equal((await get(0x06)).dw0, 1, 'write cache enabled');
    assert.equal((await set(0x06, 0)).status, 0);
    assert.equal((await get(0x06)).dw0, 0);
    assert.equal((await get(0x06, 1)).dw0, 1, 'default');
    assert.equal((await set(0x01, 0x03020103)).status, 0);
    assert.equal((await get(0x01)).dw0, 0x03020103);
    assert.equal((await set(0x08, 0x0a05)).status, 0);
    assert.equal((await get(0x08)).dw0, 0x0a05);
    assert.equal((await set(0x09, (1 << 16) | 3)).status, 0);
    assert.equal((await get(0x09, 0, 3)).dw0, (1 << 16) | 3);
    assert.equal((await set(0x09, 65)).sc, 0x02, 'vector out of range');
    assert.equal((await set(0x02, 1)).sc, 0x02, 'power state 1 does not exist');
    assert.equal((await get(0x7e)).sc, 0x02, 'unknown feature');
    c = await a.run({ opc: 0x09, cdw10: 0x80000006, cdw11: 1 });
    assert.deepEqual([c.sct, c.sc], [1, 0x0d], 'Feature Identifier Not Saveable');
    assert.equal((await get(0x06, 3)).dw0 & 4, 4, 'supported capabilities: changeable');
    // Number of Queues limits the queue identifiers.
    const mem = h.dev.allocDma(8192);
    c = await a.run({ opc: 0x05, prp1: mem.iova, cdw10: (15 << 16) | 5, cdw11: 1 });
    assert.deepEqual([c.sct, c.sc], [1, 0x01], 'CQ 5 beyond the 4 allocated');
    assert.equal((await a.run({ opc: 0x05, prp1: mem.iova, cdw10: (15 << 16) | 4, cdw11: 1 })).status, 0);
    assert.equal((await set(0x07, 0)).sc, 0x0c, 'Command Sequence Error once queues exist');
    assert.equal((await a.run({ opc: 0x04, cdw10: 4 })).status, 0);
    await set(0x06, 1);
  });

  it('Get Log Page: SMART / Health, Error Information, Firmware Slot, invalid log', async () => {
    const buf = h.dev.allocDma(8192);
    const log = (lid: number, dwords: number, offset = 0) =>
      a.run({ opc: 0x02, nsid: 0xffffffff, prp1: buf.iova, prp2: buf.iova + 4096n, cdw10: lid | ((dwords - 1) << 16), cdw12: offset });
    let c = await log(0x02, 128);
    assert.equal(c.status, 0);
    assert.equal(buf.view.getUint16(1, true), 313, 'temperature');
    assert.equal(buf.bytes[3], 100, 'available spare');
    assert.ok(buf.view.getBigUint64(176, true) > 0n, 'error entries counted (earlier failures)');
    c = await log(0x01, 1024);
    assert.equal(c.status, 0);
    const count = buf.view.getBigUint64(0, true);
    assert.ok(count > 0n);
    assert.equal(buf.view.getUint16(8, true), 0, 'SQID of the latest error');
    assert.equal((buf.view.getUint16(12, true) >>> 1) & 0xff, 0x0c, 'status of the latest error (the Command Sequence Error above)');
    c = await log(0x03, 128);
    assert.equal(c.status, 0);
    assert.equal(buf.bytes[0], 1);
    assert.equal(ascii(buf.bytes, 8, 8), '1.0');
    c = await log(0x02, 4, 8);
    assert.equal(buf.view.getUint32(0, true) >>> 0, 0, 'offset 8 (data units read low bytes... zero here)');
    c = await log(0x02, 1, 2);
    assert.equal(c.sc, 0x02, 'unaligned offset');
    c = await log(0x02, 1, 1024);
    assert.equal(c.sc, 0x02, 'offset beyond the log');
    c = await log(0x70, 16);
    assert.deepEqual([c.sct, c.sc], [1, 0x09], 'Invalid Log Page');
  });

  it('Asynchronous Event Request: held, completed by an event, limit, Abort', async () => {
    const cids = [a.put({ opc: 0x0c }), a.put({ opc: 0x0c })];
    a.ring();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(a.peek(), undefined, 'AERs are held');
    assert.equal((await h.request<{ aers: number }>('state')).aers, 2);
    // An invalid doorbell value (SQ 0 tail beyond the queue) raises an error event.
    h.bar.write32(0x1000, 100);
    const ev = await a.next();
    assert.equal(ev.cid, cids[0]);
    assert.equal(ev.status, 0);
    assert.equal(ev.dw0 & 7, 0, 'error event');
    assert.equal((ev.dw0 >>> 8) & 0xff, 1, 'invalid doorbell write value');
    assert.equal((ev.dw0 >>> 16) & 0xff, 1, 'error log');
    h.bar.write32(0x1000, a.sqTail); // back to the real tail
    // Abort the other.
    const abortCid = a.put({ opc: 0x08, cdw10: (cids[1]! << 16) | 0 });
    a.ring();
    // The aborted AER completes first, then the Abort.
    let c = await a.next();
    assert.equal(c.cid, cids[1], 'the AER completed');
    assert.deepEqual([c.sct, c.sc], [0, 0x07], 'Command Abort Requested');
    c = await a.next();
    assert.equal(c.cid, abortCid);
    assert.equal(c.status, 0);
    assert.equal(c.dw0 & 1, 0, 'aborted');
    c = await a.run({ opc: 0x08, cdw10: (0x4242 << 16) | 1 });
    assert.equal(c.dw0 & 1, 1, 'nothing to abort');
    // Limit: AERL + 1 = 4 outstanding.
    for (let i = 0; i < 4; i++) a.put({ opc: 0x0c });
    a.ring();
    c = await a.run({ opc: 0x0c });
    assert.deepEqual([c.sct, c.sc], [1, 0x05], 'Asynchronous Event Request Limit Exceeded');
    // A masked event type waits until its log page is read (RAE clear).
    await h.request('event', 2, 0, 0x04);
    c = await a.next();
    assert.equal(c.dw0, 0x040002);
    await h.request('event', 0, 0x01, 0x01);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(a.peek(), undefined, 'error events masked until the error log is read');
    const buf = h.dev.allocDma(4096);
    const cid = a.put({ opc: 0x02, prp1: buf.iova, cdw10: 1 | (15 << 16) });
    a.ring();
    const first = await a.next();
    const second = await a.next();
    const got = [first, second].sort((x, y) => (x.cid === cid ? -1 : y.cid === cid ? 1 : 0));
    assert.equal(got[0]!.cid, cid);
    assert.equal(got[1]!.dw0, 0x010100, 'the error event after the log was read');
  });
});
