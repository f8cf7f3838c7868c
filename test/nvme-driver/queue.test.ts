// QueuePair against a fake in-memory controller: phase tags across many
// wrap-arounds, command ids = slots, doorbells, the synchronous path (no
// allocation, batching), the asynchronous path with status errors and
// time-outs, stray completions, and closing with commands outstanding.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompletionRing, QueuePair, SubmissionRing } from '../../src/drivers/nvme/queue.js';
import { NVM } from '../../src/drivers/nvme/index.js';
import { NvmeControllerError, NvmeError, NvmeTimeoutError } from '../../src/drivers/nvme/index.js';
import { FakeController, FakeMemory } from './fake.js';

function setup(entries: number, opts: { slots?: number; slotBytes?: number; listPages?: number; timeoutMs?: number } = {}) {
  const mem = new FakeMemory();
  const fake = new FakeController(mem, entries);
  const q = new QueuePair({
    qid: 1,
    entries,
    doorbells: fake,
    doorbellStride: 4,
    alloc: mem.alloc,
    pageSize: 4096,
    slotBytes: opts.slotBytes ?? 8192,
    listPages: opts.listPages ?? 1,
    ...(opts.slots !== undefined ? { slots: opts.slots } : {}),
    timeoutMs: opts.timeoutMs ?? 1000,
  });
  fake.sqBase = q.sqMem.iova;
  fake.cqBase = q.cqMem.iova;
  return { mem, fake, q };
}

test('CompletionRing: phase tag 1 on the first pass, 0 on the second, flipping at each wrap', () => {
  const mem = { bytes: new Uint8Array(4 * 16) };
  const ring = new CompletionRing(mem, 4);
  const v = new DataView(mem.bytes.buffer);
  const post = (i: number, phase: number, cid: number): void => v.setUint32(i * 16 + 12, cid | (phase << 16), true);
  assert.equal(ring.peek(), -1, 'zeroed memory holds nothing new');
  for (let pass = 0; pass < 5; pass++) {
    const phase = pass % 2 === 0 ? 1 : 0;
    for (let i = 0; i < 4; i++) {
      assert.equal(ring.peek(), -1, `pass ${pass} entry ${i}: stale entry not taken`);
      post(i, phase, pass * 4 + i);
      assert.equal(ring.peek() & 0xffff, pass * 4 + i);
      ring.pop();
    }
    assert.equal(ring.head, 0);
    assert.equal(ring.phase, phase ^ 1, 'phase flipped at the wrap');
  }
});

test('SubmissionRing: tail wraps', () => {
  const ring = new SubmissionRing({ bytes: new Uint8Array(3 * 64) }, 3);
  assert.deepEqual([ring.advance(), ring.advance(), ring.advance(), ring.advance()], [1, 2, 0, 1]);
  assert.equal(ring.tailIndex, 16);
});

test('async commands across 10 wraps of a 4-entry queue: ids are slots, completions found by phase', async () => {
  const { fake, q } = setup(4);
  assert.equal(q.slots, 3, 'entries - 1 slots');
  const seen: number[] = [];
  fake.onCommand = (c) => seen.push(c.cid);
  for (let i = 0; i < 40; i++) {
    const c = await q.execute({ opcode: NVM.FLUSH, nsid: 1 });
    assert.equal(c.status, 0);
  }
  assert.equal(seen.length, 40);
  assert.ok(seen.every((cid) => cid >= 0 && cid < 3));
  assert.equal(q.outstanding, 0);
  assert.equal(q.freeSlots, 3);
  assert.equal(q.strayCompletions, 0);
  // every CQ head doorbell write is the ring's head after consumption
  const cqWrites = fake.doorbellWrites.filter((w) => w.offset === 0x100c).map((w) => w.value);
  assert.equal(cqWrites.at(-1), 40 % 4);
  assert.equal(q.cq.phase, Math.floor(40 / 4) % 2 === 0 ? 1 : 0, 'phase after 10 wraps');
});

test('sync path: batches of commands, one doorbell per batch, completions in any order, slot buffers', () => {
  const { fake, q } = setup(8, { slotBytes: 4096 });
  fake.hold = true;
  fake.onCommand = (c) => {
    if (c.opcode === NVM.READ) fake.data(c, 4096, new Uint8Array(4096).fill(c.cdw10 & 0xff));
  };
  const done: [number, number][] = [];
  q.onIo = (slot, status) => done.push([slot, status]);
  let lba = 0;
  for (let round = 0; round < 6; round++) {
    const before = fake.doorbellWrites.length;
    const slots: number[] = [];
    for (;;) {
      const s = q.submitIo(NVM.READ, 1, lba, 8, 4096, false);
      if (s < 0) break;
      slots.push(s);
      lba++;
    }
    assert.equal(slots.length, 7, 'all 7 slots taken, then -1');
    q.ring();
    assert.equal(fake.doorbellWrites.length, before + 1, 'one SQ doorbell for the batch');
    // complete them in reverse order
    fake.held.reverse();
    fake.release();
    done.length = 0;
    assert.equal(q.reap(), 7);
    assert.equal(done.length, 7);
    for (const [slot, status] of done) {
      assert.equal(status, 0);
      assert.ok(q.slotBuffer(slot)[0] !== undefined);
    }
    assert.equal(q.outstanding, 0);
  }
  assert.equal(q.reap(), 0, 'nothing left');
  assert.equal(q.slotBuffer(0), q.slotBuffer(0), 'slot views are fixed objects');
});

test('sync path: error statuses are counted and reported to onIo', () => {
  const { fake, q } = setup(4);
  fake.statusFor = (c) => (c.cdw10 === 99 ? 0x80 : 0);
  const statuses: number[] = [];
  q.onIo = (_s, st) => statuses.push(st);
  q.submitIo(NVM.READ, 1, 99, 1, 512);
  q.submitIo(NVM.READ, 1, 1, 1, 512);
  assert.equal(q.reap(), 2);
  assert.deepEqual(statuses, [0x80, 0]);
  assert.equal(q.ioErrors, 1);
});

test('sync path: PRPs of the slot buffer (1 page, 2 pages, a list) and the command dwords', () => {
  const { fake, q } = setup(4, { slotBytes: 32768, listPages: 1 });
  const cmds: { length: number; pages: bigint[] }[] = [];
  let nextLength = 0;
  fake.onCommand = (c) => {
    cmds.push({ length: nextLength, pages: fake.pages(c, nextLength) });
    assert.equal(c.cdw10, 0x89abcdef);
    assert.equal(c.cdw11, 0x12);
    assert.equal(c.cdw12 & 0xffff, 7);
  };
  const lba = 0x12 * 0x100000000 + 0x89abcdef;
  for (const len of [4096, 8192, 32768]) {
    nextLength = len;
    const s = q.submitIo(NVM.READ, 1, lba, 8, len);
    q.reap();
    const pages = cmds.at(-1)!.pages;
    assert.equal(pages.length, len / 4096);
    pages.forEach((p, i) => {
      assert.equal(p, pages[0]! + BigInt(i * 4096), `contiguous page ${i} of slot ${s}`);
    });
  }
});

test('async: data through the slot buffer both ways, and through caller memory with PRP lists', async () => {
  const { mem, fake, q } = setup(8, { slotBytes: 16384, listPages: 1 });
  const disk = new Uint8Array(64 * 1024);
  fake.onCommand = (c) => {
    const length = ((c.cdw12 & 0xffff) + 1) * 512;
    const off = c.cdw10 * 512;
    if (c.opcode === NVM.WRITE) disk.set(fake.data(c, length), off);
    if (c.opcode === NVM.READ) fake.data(c, length, disk.subarray(off, off + length));
  };
  const src = new Uint8Array(16384).map((_, i) => (i * 13) & 0xff);
  await q.execute({ opcode: NVM.WRITE, nsid: 1, cdw10: 4, cdw12: 31, slotData: { length: 16384, fill: (b) => b.set(src) } });
  assert.deepEqual(disk.subarray(2048, 2048 + 16384), src);
  let got: Uint8Array | undefined;
  await q.execute({ opcode: NVM.READ, nsid: 1, cdw10: 4, cdw12: 31, slotData: { length: 16384, drain: (b) => (got = b.slice()) } });
  assert.deepEqual(got, src);
  // caller-owned memory at an odd (dword) offset: 5 pages spanned, a PRP list
  const user = mem.alloc(32768);
  const off = 100;
  await q.execute({ opcode: NVM.READ, nsid: 1, cdw10: 4, cdw12: 31, data: { iova: user.iova + BigInt(off), length: 16384 } });
  assert.deepEqual(user.bytes.subarray(off, off + 16384), src);
  // the slot buffer path still works after the slot's list was reused for caller memory
  for (let i = 0; i < 10; i++) {
    let again: Uint8Array | undefined;
    await q.execute({ opcode: NVM.READ, nsid: 1, cdw10: 4, cdw12: 31, slotData: { length: 16384, drain: (b) => (again = b.slice()) } });
    assert.deepEqual(again, src);
  }
});

test('async: an error status rejects with NvmeError (code, sct/sc, queue, command id)', async () => {
  const { fake, q } = setup(4);
  fake.statusFor = () => 0x80 | (1 << 14); // LBA out of range, DNR
  await assert.rejects(q.execute({ opcode: NVM.READ, nsid: 1, name: 'Read' }), (err: unknown) => {
    assert.ok(err instanceof NvmeError);
    assert.equal(err.code, 'NVME_LBA_OUT_OF_RANGE');
    assert.equal(err.sct, 0);
    assert.equal(err.sc, 0x80);
    assert.equal(err.dnr, true);
    assert.equal(err.qid, 1);
    assert.match(err.message, /Read failed on queue 1: LBA Out of Range/);
    return true;
  });
  const c = await q.execute({ opcode: NVM.READ, nsid: 1, allowError: true });
  assert.equal(c.status & 0xff, 0x80, 'allowError resolves with the status');
  assert.equal(q.freeSlots, 3);
});

test('async: a time-out rejects with NvmeTimeoutError; the id stays reserved until the late completion', async () => {
  const { fake, q } = setup(4, { timeoutMs: 30 });
  fake.hold = true;
  await assert.rejects(q.execute({ opcode: NVM.FLUSH, name: 'Flush' }), (err: unknown) => {
    assert.ok(err instanceof NvmeTimeoutError);
    assert.equal(err.code, 'NVME_TIMEOUT');
    assert.match(err.message, /Flush \(queue 1, command id \d\) got no completion within 30 ms/);
    return true;
  });
  assert.equal(q.freeSlots, 2, 'the timed-out slot is not reused');
  assert.equal(q.outstanding, 1);
  fake.release();
  assert.equal(q.process(), 1, 'the late completion is consumed');
  assert.equal(q.freeSlots, 3);
  assert.equal(q.strayCompletions, 0);
});

test('stray completions (unknown command id) are counted, not fatal', () => {
  const { fake, q } = setup(4);
  fake.complete({ opcode: 0, cid: 2, nsid: 0, prp1: 0n, prp2: 0n, cdw10: 0, cdw11: 0, cdw12: 0 });
  fake.complete({ opcode: 0, cid: 999, nsid: 0, prp1: 0n, prp2: 0n, cdw10: 0, cdw11: 0, cdw12: 0 });
  assert.equal(q.process(), 2);
  assert.equal(q.strayCompletions, 2);
  assert.equal(q.freeSlots, 3);
});

test('EBUSY when every slot is busy; close() fails outstanding commands and frees the memory', async () => {
  const { mem, fake, q } = setup(4);
  fake.hold = true;
  const ps = [q.execute({ opcode: 0 }), q.execute({ opcode: 0 }), q.execute({ opcode: 0 })];
  await assert.rejects(q.execute({ opcode: 0 }), { code: 'EBUSY' });
  assert.equal(q.submitIo(NVM.READ, 1, 0, 1, 512), -1, 'sync path: full is -1');
  const before = mem.buffers.length;
  q.close();
  for (const p of ps) await assert.rejects(p, (e: unknown) => e instanceof NvmeControllerError && e.code === 'NVME_QUEUE_CLOSED');
  assert.equal(mem.buffers.length, before - 4, 'SQ, CQ, data and PRP list memory freed');
  await assert.rejects(q.execute({ opcode: 0 }), { code: 'NVME_QUEUE_CLOSED' });
});

test('drainSync spins until completions arrive', () => {
  const { q } = setup(8);
  for (let i = 0; i < 5; i++) q.submitIo(NVM.READ, 1, i, 1, 512, false);
  q.ring();
  assert.equal(q.drainSync(1000), 0);
});
