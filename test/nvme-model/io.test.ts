// I/O commands over I/O queues: Read/Write with PRP1 only, PRP1+PRP2, PRP
// lists (64 KiB, 128 KiB, chained list pages), Flush, Write Zeroes, DSM
// deallocate, Compare; error statuses; MSI-X per completion queue; polling.

import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DmaBuffer } from '../../src/client/dma.js';
import { NvmeTestHost, pattern, type HostQueue } from './host.js';

const READ = 0x02;
const WRITE = 0x01;

/** PRP1/PRP2 for `len` bytes at `offset` of `data` (4 KiB pages), building a list in `list` when needed. */
function prps(data: DmaBuffer, offset: number, len: number, list: DmaBuffer, listOffset = 0): { prp1: bigint; prp2: bigint } {
  const prp1 = data.iova + BigInt(offset);
  const first = Math.min(len, 4096 - (offset % 4096));
  let rem = len - first;
  if (rem === 0) return { prp1, prp2: 0n };
  let page = offset - (offset % 4096) + 4096;
  if (rem <= 4096) return { prp1, prp2: data.iova + BigInt(page) };
  // A list; entries chained to the next list page when a page fills.
  let lo = listOffset;
  const prp2 = list.iova + BigInt(lo);
  while (rem > 0) {
    const slotsLeft = (4096 - (lo % 4096)) / 8;
    if (slotsLeft === 1 && rem > 4096) {
      const next = lo + 8; // the next page of the list buffer
      list.view.setBigUint64(lo, list.iova + BigInt(next), true);
      lo = next;
      continue;
    }
    list.view.setBigUint64(lo, data.iova + BigInt(page), true);
    lo += 8;
    page += 4096;
    rem -= Math.min(rem, 4096);
  }
  return { prp1, prp2 };
}

describe('NVMe model: I/O', () => {
  let h: NvmeTestHost;
  let q: HostQueue;
  let data: DmaBuffer;
  let check: DmaBuffer;
  let list: DmaBuffer;
  const dir = mkdtempSync(join(tmpdir(), 'nvme-file-'));
  const file = join(dir, 'ns2.img');

  before(async () => {
    h = await NvmeTestHost.start({ namespaces: [{ size: 16 << 20 }, { size: 1 << 20, file }] });
    assert.equal(await h.enable(16), 1);
    q = await h.createQueuePair(1, 64);
    data = h.dev.allocDma(256 * 1024);
    check = h.dev.allocDma(256 * 1024);
    list = h.dev.allocDma(3 * 4096);
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function rw(opc: number, buf: DmaBuffer, offset: number, slba: number, blocks: number, nsid = 1, listOffset = 0) {
    const { prp1, prp2 } = prps(buf, offset, blocks * 512, list, listOffset);
    return q.run({ opc, nsid, prp1, prp2, cdw10: slba, cdw11: 0, cdw12: blocks - 1 });
  }

  async function roundTrip(offset: number, slba: number, blocks: number, seed: number, listOffset = 0): Promise<void> {
    const len = blocks * 512;
    pattern(data.bytes.subarray(offset, offset + len), seed);
    let c = await rw(WRITE, data, offset, slba, blocks, 1, listOffset);
    assert.equal(c.status, 0, `write of ${len} bytes`);
    assert.equal(c.sqid, 1);
    check.bytes.fill(0xee);
    c = await rw(READ, check, offset, slba, blocks, 1, listOffset);
    assert.equal(c.status, 0, `read of ${len} bytes`);
    assert.ok(
      Buffer.from(check.bytes.subarray(offset, offset + len)).equals(data.bytes.subarray(offset, offset + len)),
      `data of ${len} bytes at offset ${offset}`,
    );
    assert.equal(check.bytes[offset + len], 0xee, 'nothing written beyond the transfer');
  }

  it('PRP1 only: one block, one page, an unaligned part of a page', async () => {
    await roundTrip(0, 0, 1, 1);
    await roundTrip(0, 8, 8, 2);
    await roundTrip(1024, 100, 4, 3);
  });

  it('PRP1 + PRP2: 8 KiB aligned, 4 KiB straddling two pages', async () => {
    await roundTrip(0, 200, 16, 4);
    await roundTrip(2048, 300, 8, 5);
  });

  it('PRP lists: 64 KiB, 128 KiB, unaligned 128 KiB, 512 KiB (MDTS)', async () => {
    await roundTrip(0, 1000, 128, 6);
    await roundTrip(0, 2000, 256, 7);
    await roundTrip(512, 3000, 256, 8);
    const big = h.dev.allocDma(512 * 1024);
    const bigCheck = h.dev.allocDma(512 * 1024);
    pattern(big.bytes, 9);
    let { prp1, prp2 } = prps(big, 0, 512 * 1024, list);
    assert.equal((await q.run({ opc: WRITE, nsid: 1, prp1, prp2, cdw10: 8192, cdw12: 1023 })).status, 0);
    ({ prp1, prp2 } = prps(bigCheck, 0, 512 * 1024, list));
    assert.equal((await q.run({ opc: READ, nsid: 1, prp1, prp2, cdw10: 8192, cdw12: 1023 })).status, 0);
    assert.ok(Buffer.from(bigCheck.bytes).equals(big.bytes));
    // Beyond MDTS: Invalid Field.
    const c = await q.run({ opc: READ, nsid: 1, prp1, prp2, cdw10: 0, cdw12: 1024 });
    assert.deepEqual([c.sct, c.sc], [0, 0x02]);
  });

  it('PRP list chained across list pages', async () => {
    // The list starts 16 bytes before the end of a page: one entry, then a chain pointer.
    await roundTrip(0, 4000, 64, 10, 4096 - 16);
    await roundTrip(0, 4100, 256, 11, 2 * 4096 - 24);
  });

  it('errors: LBA out of range, invalid namespace, invalid opcode, PRP offset invalid, unmapped memory', async () => {
    let c = await rw(READ, data, 0, 32768 - 1, 2);
    assert.deepEqual([c.sct, c.sc], [0, 0x80], 'LBA Out of Range');
    c = await q.run({ opc: READ, nsid: 1, prp1: data.iova, cdw10: 0, cdw11: 1, cdw12: 0 });
    assert.deepEqual([c.sct, c.sc], [0, 0x80], 'SLBA above 2^32');
    c = await rw(READ, data, 0, 0, 1, 9);
    assert.deepEqual([c.sct, c.sc], [0, 0x0b], 'Invalid Namespace or Format');
    c = await q.run({ opc: 0x7d, nsid: 1 });
    assert.deepEqual([c.sct, c.sc], [0, 0x01], 'Invalid Command Opcode');
    c = await q.run({ opc: READ, nsid: 1, prp1: data.iova + 1n, cdw12: 0 });
    assert.deepEqual([c.sct, c.sc], [0, 0x13], 'PRP1 not dword aligned');
    c = await q.run({ opc: READ, nsid: 1, prp1: data.iova, prp2: data.iova + 4096n + 512n, cdw12: 15 });
    assert.deepEqual([c.sct, c.sc], [0, 0x13], 'PRP2 not page aligned');
    list.view.setBigUint64(0, data.iova + 4096n + 8n, true);
    c = await q.run({ opc: READ, nsid: 1, prp1: data.iova, prp2: list.iova, cdw12: 31 });
    assert.deepEqual([c.sct, c.sc], [0, 0x13], 'list entry not page aligned');
    c = await q.run({ opc: READ, nsid: 1, prp1: data.iova, prp2: list.iova + 4n, cdw12: 31 });
    assert.deepEqual([c.sct, c.sc], [0, 0x13], 'list pointer not qword aligned');
    c = await q.run({ opc: READ, nsid: 1, prp1: 0x6000_0000_0000n, cdw12: 0 });
    assert.deepEqual([c.sct, c.sc], [0, 0x04], 'Data Transfer Error');
    c = await q.run({ opc: READ, nsid: 1, prp1: data.iova, cdw12: 0, flags: 1 << 14 });
    assert.deepEqual([c.sct, c.sc], [0, 0x02], 'SGLs: Invalid Field');
    assert.ok(c.dnr);
  });

  it('Flush, Write Zeroes, DSM deallocate, Compare', async () => {
    await roundTrip(0, 5000, 16, 12);
    assert.equal((await q.run({ opc: 0x00, nsid: 1 })).status, 0, 'Flush');
    assert.equal((await q.run({ opc: 0x00, nsid: 0xffffffff })).status, 0, 'Flush all');
    assert.equal((await q.run({ opc: 0x00, nsid: 7 })).sc, 0x0b);
    // Compare equal, then different.
    let c = await rw(0x05, data, 0, 5000, 16);
    assert.equal(c.status, 0, 'Compare equal');
    data.bytes[100] ^= 1;
    c = await rw(0x05, data, 0, 5000, 16);
    assert.deepEqual([c.sct, c.sc], [2, 0x85], 'Compare Failure');
    // Write Zeroes of blocks 5002..5005.
    c = await q.run({ opc: 0x08, nsid: 1, cdw10: 5002, cdw12: 3 });
    assert.equal(c.status, 0);
    c = await rw(READ, check, 0, 5000, 16);
    assert.ok(check.bytes.subarray(1024, 3072).every((b) => b === 0));
    assert.ok(check.bytes.subarray(3072, 4096).some((b) => b !== 0));
    c = await q.run({ opc: 0x08, nsid: 1, cdw10: 32767, cdw12: 1 });
    assert.equal(c.sc, 0x80, 'Write Zeroes out of range');
    // DSM deallocate two ranges.
    const r = h.dev.allocDma(4096);
    r.view.setUint32(4, 2, true);
    r.view.setBigUint64(8, 5008n, true);
    r.view.setUint32(16 + 4, 1, true);
    r.view.setBigUint64(16 + 8, 5015n, true);
    c = await q.run({ opc: 0x09, nsid: 1, prp1: r.iova, cdw10: 1, cdw11: 4 });
    assert.equal(c.status, 0);
    await rw(READ, check, 0, 5000, 16);
    assert.ok(check.bytes.subarray(8 * 512, 10 * 512).every((b) => b === 0));
    assert.ok(check.bytes.subarray(15 * 512, 16 * 512).every((b) => b === 0));
    assert.ok(check.bytes.subarray(10 * 512, 15 * 512).some((b) => b !== 0));
    r.view.setBigUint64(8, 40000n, true);
    c = await q.run({ opc: 0x09, nsid: 1, prp1: r.iova, cdw10: 0, cdw11: 4 });
    assert.equal(c.sc, 0x80, 'DSM range out of range');
  });

  it('a file-backed namespace holds the data in its file', async () => {
    pattern(data.bytes.subarray(0, 4096), 13);
    const { prp1, prp2 } = prps(data, 0, 4096, list);
    assert.equal((await q.run({ opc: WRITE, nsid: 2, prp1, prp2, cdw10: 16, cdw12: 7 })).status, 0);
    assert.equal((await q.run({ opc: 0x00, nsid: 2 })).status, 0);
    const f = readFileSync(file);
    assert.equal(f.length, 1 << 20);
    assert.ok(f.subarray(16 * 512, 16 * 512 + 4096).equals(data.bytes.subarray(0, 4096)));
    check.bytes.fill(0);
    assert.equal((await q.run({ opc: READ, nsid: 2, prp1: check.iova, prp2: check.iova + 4096n, cdw10: 16, cdw12: 7 })).status, 0);
    assert.ok(Buffer.from(check.bytes.subarray(0, 4096)).equals(data.bytes.subarray(0, 4096)));
  });

  it('many commands per doorbell; a small CQ fills and drains', async () => {
    const sq = await h.createQueuePair(2, 32, { cqDepth: 4 });
    const cids = new Set<number>();
    for (let i = 0; i < 20; i++) cids.add(sq.put({ opc: READ, nsid: 1, prp1: check.iova + BigInt(i * 512), cdw10: i, cdw12: 0 }));
    sq.ring();
    for (let i = 0; i < 20; i++) {
      const c = await sq.next();
      assert.equal(c.status, 0);
      assert.ok(cids.delete(c.cid));
      assert.equal(c.sqid, 2);
    }
    assert.equal(cids.size, 0);
  });

  it('MSI-X: one vector per completion queue; IEN=0 queues are polled', async () => {
    h.dev.enableInterrupts('msix', 4);
    const q3 = await h.createQueuePair(3, 16, { ien: true, iv: 2 });
    const q4 = await h.createQueuePair(4, 16, { ien: true, iv: 3 });
    const w2 = h.dev.waitInterrupt(2, 2000);
    q3.put({ opc: READ, nsid: 1, prp1: check.iova, cdw12: 0 });
    q3.ring();
    assert.equal((await w2).vector, 2);
    assert.equal((await q3.next()).status, 0);
    const w3 = h.dev.waitInterrupt(3, 2000);
    q4.put({ opc: READ, nsid: 1, prp1: check.iova, cdw12: 0 });
    q4.ring();
    assert.equal((await w3).vector, 3);
    assert.equal((await q4.next()).status, 0);
    // Queue 1 (IEN=0): no interrupt on any vector.
    h.dev.pollInterrupt(1, 0);
    await q.run({ opc: READ, nsid: 1, prp1: check.iova, cdw12: 0 });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.dev.pollInterrupt(1, 0) + h.dev.pollInterrupt(2, 0) + h.dev.pollInterrupt(3, 0), 0);
    // The admin CQ interrupts on vector 0.
    const w0 = h.dev.waitInterrupt(0, 2000);
    h.admin.put({ opc: 0x06, prp1: check.iova, cdw10: 1 });
    h.admin.ring();
    assert.equal((await w0).vector, 0);
    assert.equal((await h.admin.next()).status, 0);
    h.dev.disableInterrupts();
  });

  it('disable deletes the I/O queues; re-enable starts clean', async () => {
    assert.equal(await h.disable(), 0);
    let s = await h.request<{ sqs: number[] }>('state');
    assert.deepEqual(s.sqs, []);
    assert.equal(await h.enable(16), 1);
    q = await h.createQueuePair(1, 64);
    await roundTrip(0, 6000, 8, 14);
    s = await h.request<{ sqs: number[] }>('state');
    assert.deepEqual(s.sqs, [0, 1]);
  });
});
