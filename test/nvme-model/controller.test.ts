// Registers and the controller state machine: CAP/VS, the enable handshake,
// a bad configuration (CFS), disable, shutdown, re-enable, reset.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NvmeTestHost } from './host.js';

describe('NVMe model: registers and controller states', () => {
  let h: NvmeTestHost;
  before(async () => {
    h = await NvmeTestHost.start({ maxQueueEntries: 1024 });
  });
  after(async () => h.close());

  it('PCI identity: class 010802, vendor/device, MSI-X with 65 vectors, BAR0 64-bit 16 KiB', () => {
    const cfg = h.dev.config;
    assert.equal(cfg.read16(0), 0x1b36);
    assert.equal(cfg.read16(2), 0x0010);
    assert.equal(cfg.read32(8) >>> 8, 0x010802);
    assert.equal(cfg.read32(0x10) & 0x6, 0x4, '64-bit memory BAR');
    assert.equal(h.bar.size, 0x4000);
    assert.equal(h.dev.irqInfo(2).count, 65);
    assert.ok(h.bar.mapped, 'the doorbell page is mmapped');
  });

  it('CAP and VS', () => {
    const cap = h.cap;
    assert.equal(Number(cap & 0xffffn), 1023, 'MQES');
    assert.equal(Number((cap >> 16n) & 1n), 1, 'CQR');
    assert.equal(Number((cap >> 24n) & 0xffn), 20, 'TO');
    assert.equal(Number((cap >> 32n) & 0xfn), 0, 'DSTRD');
    assert.equal(Number((cap >> 37n) & 0xffn), 1, 'CSS: NVM');
    assert.equal(Number((cap >> 48n) & 0xfn), 0, 'MPSMIN');
    assert.equal(Number((cap >> 52n) & 0xfn), 4, 'MPSMAX');
    assert.equal(h.bar.read32(8), 0x00010400);
    h.bar.write32(8, 0); // read-only
    assert.equal(h.bar.read32(8), 0x00010400);
  });

  it('enable: RDY set; AQA/ASQ/ACQ read back; disable clears RDY', async () => {
    const csts = await h.enable(16);
    assert.equal(csts & 3, 1, 'RDY, no CFS');
    assert.equal(h.bar.read32(0x24), (15 << 16) | 15);
    assert.equal(h.bar.read64(0x28), h.admin.sq.iova);
    assert.equal(h.bar.read64(0x30), h.admin.cq.iova);
    assert.equal(h.cc & 1, 1);
    assert.equal(await h.disable(), 0);
  });

  it('a bad configuration sets CFS instead of RDY; disable clears it', async () => {
    h.bar.write32(0x24, 0); // one-entry queues
    h.bar.write64(0x28, h.admin.sq.iova);
    h.bar.write64(0x30, h.admin.cq.iova);
    h.cc = NvmeTestHost.ccValue(true);
    assert.equal((await h.waitCsts((s) => (s & 3) !== 0)) & 3, 2, 'CFS');
    assert.equal(await h.disable(), 0);
    // MPS above MPSMAX
    h.bar.write32(0x24, 0x000f000f);
    h.cc = NvmeTestHost.ccValue(true, 5);
    assert.equal((await h.waitCsts((s) => (s & 3) !== 0)) & 3, 2);
    await h.disable();
    // unaligned ASQ with 8 KiB pages
    h.bar.write64(0x28, h.admin.sq.iova % 0x2000n === 0n ? h.admin.sq.iova + 0x1000n : h.admin.sq.iova);
    h.cc = NvmeTestHost.ccValue(true, 1);
    assert.equal((await h.waitCsts((s) => (s & 3) !== 0)) & 3, 2);
    await h.disable();
  });

  it('INTMS/INTMC set and clear the mask', () => {
    h.bar.write32(0x0c, 0x5);
    assert.equal(h.bar.read32(0x0c), 0x5);
    assert.equal(h.bar.read32(0x10), 0x5);
    h.bar.write32(0x10, 0x1);
    assert.equal(h.bar.read32(0x0c), 0x4);
    h.bar.write32(0x10, 0x4);
  });

  it('shutdown: SHN normal -> SHST complete; commands are not processed until reset; re-enable works', async () => {
    await h.enable(16);
    let c = await h.admin.run({ opc: 0x06, prp1: h.dev.allocDma(4096).iova, cdw10: 1 });
    assert.equal(c.status, 0);
    h.cc = NvmeTestHost.ccValue(true) | (1 << 14);
    const s = await h.waitCsts((v) => ((v >> 2) & 3) === 2);
    assert.equal(s & 1, 1, 'still ready');
    const buf = h.dev.allocDma(4096);
    h.admin.put({ opc: 0x06, prp1: buf.iova, cdw10: 1 });
    h.admin.ring();
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(h.admin.peek(), undefined, 'no processing after shutdown');
    assert.equal(await h.disable(), 0, 'SHST cleared by the reset');
    assert.equal(await h.enable(16), 1);
    c = await h.admin.run({ opc: 0x06, prp1: buf.iova, cdw10: 1 });
    assert.equal(c.status, 0);
    assert.equal(c.sqhd, 1);
    await h.disable();
  });

  it('function reset (DEVICE_RESET) returns the controller to its reset state', async () => {
    assert.equal(await h.enable(16), 1);
    h.dev.reset();
    h.dev.config.write16(4, 0x0006);
    assert.equal(h.csts, 0);
    assert.equal(h.cc, 0);
    assert.equal(h.bar.read32(0x24), 0);
    assert.equal(await h.enable(16), 1);
    const c = await h.admin.run({ opc: 0x06, prp1: h.dev.allocDma(4096).iova, cdw10: 1 });
    assert.equal(c.status, 0);
    await h.disable();
  });

  it('a new client after the old one left finds a fresh controller', async () => {
    await h.enable(16);
    h.dev.close();
    await new Promise((r) => setTimeout(r, 50));
    h.connect();
    assert.equal(h.csts, 0);
    h.admin = undefined as never;
    assert.equal(await h.enable(16), 1);
    const c = await h.admin.run({ opc: 0x06, prp1: h.dev.allocDma(4096).iova, cdw10: 1 });
    assert.equal(c.status, 0);
  });
});
