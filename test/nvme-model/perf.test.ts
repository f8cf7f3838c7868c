// Throughput of the model: QD32 4 KiB random reads over mapped doorbells
// with polling (IEN=0), driven by the minimal test host; prints IOPS and the
// model process's CPU time per command. The assertion is a loose floor (a
// correctness check of the fast path under load), not the target.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NvmeTestHost } from './host.js';

describe('NVMe model: performance', () => {
  let h: NvmeTestHost;
  before(async () => {
    h = await NvmeTestHost.start({ namespaces: [{ size: 256 << 20 }] });
    assert.equal(await h.enable(16), 1);
  });
  after(async () => h.close());

  it('QD32 4 KiB random reads, polling', async () => {
    const qd = 32;
    const q = await h.createQueuePair(1, 256);
    const buf = h.dev.allocDma(qd * 4096);
    const blocks = (256 << 20) / 512;
    const sqv = q.sq.view;
    const cqv = q.cq.view;
    let tail = 0;
    let head = 0;
    let phase = 1;
    const submit = (slot: number): void => {
      const o = tail * 64;
      const lba = Math.floor(Math.random() * (blocks / 8)) * 8;
      sqv.setUint32(o, 0x02 | (slot << 16), true);
      sqv.setUint32(o + 4, 1, true);
      sqv.setBigUint64(o + 24, buf.iova + BigInt(slot * 4096), true);
      sqv.setBigUint64(o + 32, 0n, true);
      sqv.setUint32(o + 40, lba, true);
      sqv.setUint32(o + 44, 0, true);
      sqv.setUint32(o + 48, 7, true);
      tail = (tail + 1) % 256;
    };
    for (let i = 0; i < qd; i++) submit(i);
    h.bar.write32(0x1008, tail);
    const cpu0 = await h.request<{ user: number; system: number }>('cpu');
    const s0 = await h.request<{ polls: number; busyPolls: number; commands: number }>('stats');
    const t0 = performance.now();
    const durationMs = 2000;
    let done = 0;
    let errors = 0;
    let spins = 0;
    while (performance.now() - t0 < durationMs) {
      let got = 0;
      for (;;) {
        const o = head * 16;
        const dw3 = cqv.getUint32(o + 12, true);
        if (((dw3 >>> 16) & 1) !== phase) break;
        if (dw3 >>> 17) errors++;
        submit(dw3 & 0xffff);
        head = (head + 1) % 256;
        if (head === 0) phase ^= 1;
        got++;
      }
      if (got > 0) {
        done += got;
        h.bar.write32(0x100c, head);
        h.bar.write32(0x1008, tail);
      } else if (++spins % 4096 === 0) {
        await new Promise((r) => setImmediate(r));
      }
    }
    const secs = (performance.now() - t0) / 1000;
    const cpu1 = await h.request<{ user: number; system: number }>('cpu');
    const s1 = await h.request<{ polls: number; busyPolls: number; commands: number }>('stats');
    const iops = Math.round(done / secs);
    const cpuUs = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / Math.max(1, s1.commands - s0.commands);
    const perPoll = (s1.commands - s0.commands) / Math.max(1, s1.busyPolls - s0.busyPolls);
    console.log(`# QD${qd} 4KiB random read: ${iops} IOPS; model CPU ${cpuUs.toFixed(2)} us/command; ${perPoll.toFixed(1)} commands per busy poll; ${s1.polls - s0.polls} polls`);
    assert.equal(errors, 0);
    assert.ok(iops > 10_000, `${iops} IOPS`);
    // Drain what is in flight.
    await new Promise((r) => setTimeout(r, 50));
  });

  it('idle cost of the poller', async () => {
    await new Promise((r) => setTimeout(r, 1200)); // past the spin and the 1 ms phase
    const c0 = await h.request<{ user: number; system: number }>('cpu');
    const s0 = await h.request<{ timerPolls: number }>('stats');
    await new Promise((r) => setTimeout(r, 1000));
    const c1 = await h.request<{ user: number; system: number }>('cpu');
    const s1 = await h.request<{ timerPolls: number }>('stats');
    const pct = ((c1.user + c1.system - c0.user - c0.system) / 1e6) * 100;
    console.log(`# idle: ${(s1.timerPolls - s0.timerPolls)} timer polls/s, model CPU ${pct.toFixed(2)}%`);
    assert.ok(pct < 20);
  });
});
