// The PCI-like view on an NVMe controller: a minimal bare-metal host (admin
// queue only, Identify Controller) that programs MSI-X through the capability
// and the vector table, masks the admin completion queue's vector, and
// resets the function through PCIe Device Control. Run on our NVMe model
// over vfio-user (test/pci-like/nvme.test.ts) and on QEMU's nvme through the
// kernel backend in the guest (test/guest/pci-like.test.ts).

import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Device } from '../../src/client/device.js';
import type { DmaBuffer } from '../../src/client/dma.js';
import { PciLikeDevice, type PciLikeBar } from '../../src/client/pci-like/index.js';
import { regs } from '../../src/pci/index.js';
import { recordInterrupts, settle, until } from './helpers.js';

const CC = 0x14;
const CSTS = 0x1c;
const AQA = 0x24;
const ASQ = 0x28;
const ACQ = 0x30;
const DEPTH = 16;

/** The admin queue of a bare-metal NVMe host, on the PCI-like view. */
class AdminQueue {
  readonly sq: DmaBuffer;
  readonly cq: DmaBuffer;
  readonly id: DmaBuffer;
  readonly stride: number;
  tail = 0;
  head = 0;
  phase = 1;
  cid = 0;

  constructor(
    readonly pci: PciLikeDevice,
    readonly bar: PciLikeBar,
  ) {
    const dev = pci.device;
    this.sq = dev.allocDma(4096);
    this.cq = dev.allocDma(4096);
    this.id = dev.allocDma(4096);
    this.stride = 4 << (bar.read32(4) & 0xf); // CAP.DSTRD
  }

  async enable(): Promise<void> {
    const bar = this.bar;
    bar.write32(CC, 0);
    await until('CSTS.RDY = 0', () => (bar.read32(CSTS) & 1) === 0);
    this.sq.bytes.fill(0);
    this.cq.bytes.fill(0);
    this.tail = this.head = 0;
    this.phase = 1;
    bar.write32(AQA, (DEPTH - 1) | ((DEPTH - 1) << 16));
    bar.write32(ASQ, Number(this.sq.iova & 0xffffffffn));
    bar.write32(ASQ + 4, Number(this.sq.iova >> 32n));
    bar.write32(ACQ, Number(this.cq.iova & 0xffffffffn));
    bar.write32(ACQ + 4, Number(this.cq.iova >> 32n));
    bar.write32(CC, 1 | (6 << 16) | (4 << 20)); // EN, IOSQES 64, IOCQES 16
    await until('CSTS.RDY = 1', () => (bar.read32(CSTS) & 1) === 1);
  }

  /** Submits Identify Controller; returns its command id. */
  identify(): number {
    const v = this.sq.view;
    const o = this.tail * 64;
    this.cid = (this.cid + 1) & 0xffff;
    const cid = this.cid;
    this.sq.bytes.fill(0, o, o + 64);
    v.setUint32(o, 0x06 | (cid << 16), true);
    v.setBigUint64(o + 24, this.id.iova, true);
    v.setUint32(o + 40, 1, true); // CNS 1: the controller
    this.tail = (this.tail + 1) % DEPTH;
    this.bar.write32(0x1000, this.tail);
    return cid;
  }

  /** The completion at the head, once posted. */
  peek(): { cid: number; status: number } | undefined {
    const dw3 = this.cq.view.getUint32(this.head * 16 + 12, true);
    if (((dw3 >>> 16) & 1) !== this.phase) return undefined;
    return { cid: dw3 & 0xffff, status: dw3 >>> 17 };
  }

  /** Consumes the head completion and rings the CQ head doorbell. */
  pop(): void {
    this.head = (this.head + 1) % DEPTH;
    if (this.head === 0) this.phase ^= 1;
    this.bar.write32(0x1000 + this.stride, this.head);
  }

  async next(): Promise<{ cid: number; status: number }> {
    await until('a completion', () => this.peek() !== undefined);
    const c = this.peek()!;
    this.pop();
    return c;
  }

  free(): void {
    for (const b of [this.sq, this.cq, this.id]) b.free();
  }
}

export interface NvmePciLikeSuiteOptions {
  skip?: string | false;
  timeout?: number;
}

export function nvmePciLikeSuite(label: string, open: () => Device, options: NvmePciLikeSuiteOptions = {}): void {
  const skip = options.skip ?? false;
  const t = (name: string, fn: (pci: PciLikeDevice, q: AdminQueue, tc: TestContext) => Promise<void>): void => {
    test(`${label}: ${name}${skip ? ` (SKIPPED: ${skip})` : ''}`, { skip, timeout: options.timeout ?? 60_000 }, async (tc) => {
      const dev = open();
      let pci: PciLikeDevice | undefined;
      let q: AdminQueue | undefined;
      try {
        pci = PciLikeDevice.attach(dev);
        const cmd = pci.config.read16(regs.PCI_COMMAND);
        pci.config.write16(regs.PCI_COMMAND, cmd | regs.PCI_COMMAND_MEMORY | regs.PCI_COMMAND_MASTER | regs.PCI_COMMAND_INTX_DISABLE);
        q = new AdminQueue(pci, pci.bar(0));
        await fn(pci, q, tc);
      } finally {
        try {
          if (pci && !pci.closed && pci.powerState === 0) pci.bar(0).write32(CC, 0);
        } finally {
          q?.free();
          pci?.close();
          dev.close();
        }
      }
    });
  };

  /** MSI-X on with entry 0 programmed and unmasked. */
  const msixOn = (pci: PciLikeDevice): { table: (v: number, reg: number) => number; pba: number; bar: PciLikeBar; ctl: number } => {
    const x = pci.capabilities.msix;
    assert.ok(x, 'an MSI-X capability');
    const ctl = x.offset + regs.PCI_MSIX_FLAGS;
    pci.config.write16(ctl, regs.PCI_MSIX_FLAGS_ENABLE | regs.PCI_MSIX_FLAGS_MASKALL);
    const bar = pci.bar(x.tableBar);
    const table = (v: number, reg: number): number => x.tableOffset + v * regs.PCI_MSIX_ENTRY_SIZE + reg;
    bar.write32(table(0, regs.PCI_MSIX_ENTRY_LOWER_ADDR), 0xfee00000);
    bar.write32(table(0, regs.PCI_MSIX_ENTRY_UPPER_ADDR), 0);
    bar.write32(table(0, regs.PCI_MSIX_ENTRY_DATA), 0x61);
    bar.write32(table(0, regs.PCI_MSIX_ENTRY_VECTOR_CTRL), 0);
    pci.config.write16(ctl, regs.PCI_MSIX_FLAGS_ENABLE);
    assert.equal(pci.interruptMode, 'msix');
    assert.equal(pci.device.interruptMode, 'msix', 'SET_IRQS underneath');
    return { table, pba: x.pbaOffset, bar: pci.bar(x.pbaBar), ctl };
  };

  t('MSI-X table: a masked CQ vector sets its PBA bit and stays quiet; unmasked, it arrives and the PBA clears', async (pci, q) => {
    const { table, pba, bar } = msixOn(pci);
    assert.equal(bar.read32(table(0, regs.PCI_MSIX_ENTRY_DATA)), 0x61, 'entry data reads back');
    assert.equal(bar.read32(table(0, regs.PCI_MSIX_ENTRY_LOWER_ADDR)), 0xfee00000, 'entry address reads back');
    await q.enable();
    // Unmasked: the admin CQ's vector 0 arrives with the completion.
    const first = pci.waitInterrupt(0, 20_000);
    const cid = q.identify();
    const ev = await first;
    assert.deepEqual(ev, { kind: 'msix', vector: 0, address: 0xfee00000n, data: 0x61 });
    const c = await q.next();
    assert.equal(c.cid, cid);
    assert.equal(c.status, 0);
    assert.ok(
      q.id.bytes.some((b) => b !== 0),
      'Identify data arrived',
    );
    // Masked.
    bar.write32(table(0, regs.PCI_MSIX_ENTRY_VECTOR_CTRL), regs.PCI_MSIX_ENTRY_CTRL_MASKBIT);
    assert.equal(bar.read32(table(0, regs.PCI_MSIX_ENTRY_VECTOR_CTRL)), 1);
    const seen = recordInterrupts(pci);
    q.identify();
    await until('the completion posted', () => q.peek() !== undefined, 20_000);
    await until('PBA bit 0', () => (bar.read32(pba) & 1) === 1, 20_000);
    await settle();
    assert.equal(seen.length, 0, 'no interrupt while masked');
    assert.equal(bar.read32(pba) & 1, 1, 'still pending');
    // Unmasked: the pending vector is delivered and the PBA bit clears.
    const later = pci.waitInterrupt(0, 20_000);
    bar.write32(table(0, regs.PCI_MSIX_ENTRY_VECTOR_CTRL), 0);
    assert.equal(bar.read32(pba) & 1, 0, 'PBA cleared');
    assert.equal((await later).data, 0x61);
    await q.next();
    assert.equal(seen.length, 1);
  });

  t('FLR by PCIe Device Control: BARs read back as programmed, the controller is reset and comes up again', async (pci, q, tc) => {
    if (!pci.capabilities.pcieFlr || !pci.device.info.reset) {
      tc.diagnostic('no FLR on this function: nothing to test');
      return;
    }
    const cfg = pci.config;
    // Size and relocate BAR0 (64-bit).
    const size = pci.bar(0).size;
    cfg.write32(0x10, 0xffffffff);
    cfg.write32(0x14, 0xffffffff);
    const lo = cfg.read32(0x10);
    assert.equal((lo & ~0xf) >>> 0, (~(size - 1) & 0xfffffff0) >>> 0, 'BAR0 size mask');
    assert.equal(lo & 0x6, 0x4, '64-bit BAR');
    cfg.write32(0x10, 0xf0000000);
    cfg.write32(0x14, 0x2);
    const programmed = [cfg.read32(0x10), cfg.read32(0x14)];
    assert.equal(pci.barAddress(0), 0x2_f000_0000n);
    msixOn(pci);
    await q.enable();
    const got = pci.waitInterrupt(0, 20_000);
    q.identify();
    await got;
    await q.next();
    // FLR.
    const devctl = pci.findCapability(regs.PCI_CAP_ID_EXP)! + regs.PCI_EXP_DEVCTL;
    const reset = new Promise((r) => pci.once('reset', r));
    cfg.write16(devctl, cfg.read16(devctl) | regs.PCI_EXP_DEVCTL_BCR_FLR);
    assert.deepEqual(await reset, { source: 'pcie-flr' });
    assert.equal(cfg.read16(devctl) & regs.PCI_EXP_DEVCTL_BCR_FLR, 0, 'FLR reads 0');
    assert.deepEqual([cfg.read32(0x10), cfg.read32(0x14)], programmed, 'BAR0 as programmed');
    assert.equal(cfg.read16(pci.capabilities.msix!.offset + 2) & regs.PCI_MSIX_FLAGS_ENABLE, 0, 'MSI-X off after the reset');
    assert.equal(pci.device.interruptMode, null);
    assert.equal(pci.bar(0).read32(CC) & 1, 0, 'the controller was reset (CC.EN = 0)');
    // The device works: MSI-X again, controller up, Identify completed by interrupt.
    cfg.write16(regs.PCI_COMMAND, cfg.read16(regs.PCI_COMMAND) | regs.PCI_COMMAND_MEMORY | regs.PCI_COMMAND_MASTER);
    msixOn(pci);
    await q.enable();
    const again = pci.waitInterrupt(0, 20_000);
    const cid = q.identify();
    await again;
    assert.equal((await q.next()).cid, cid);
  });

  t('D3hot by PMCSR blocks BAR access through the view until D0', async (pci, q, tc) => {
    const pm = pci.capabilities.pm;
    if (pm === undefined) {
      tc.diagnostic('no PM capability on this function: nothing to test');
      return;
    }
    const pmcsr = pm + regs.PCI_PM_CTRL;
    const bar = pci.bar(0);
    const vs = bar.read32(0x08);
    pci.config.write16(pmcsr, (pci.config.read16(pmcsr) & ~3) | 3);
    assert.equal(pci.config.read16(pmcsr) & 3, 3, 'D3hot reads back');
    assert.equal(pci.powerState, 3);
    assert.throws(() => bar.read32(0x08), { code: 'EIO' });
    assert.throws(() => bar.write32(CC, 0), { code: 'EIO' });
    pci.config.write16(pmcsr, pci.config.read16(pmcsr) & ~3);
    assert.equal(pci.powerState, 0);
    assert.equal(bar.read32(0x08), vs, 'the version register answers again');
    cfg(pci);
    await q.enable();
    const cid = q.identify();
    assert.equal((await q.next()).cid, cid, 'the controller works (polled)');
  });
}

/** Memory decoding and bus mastering back on (a soft reset may have cleared them). */
function cfg(pci: PciLikeDevice): void {
  pci.config.write16(regs.PCI_COMMAND, pci.config.read16(regs.PCI_COMMAND) | regs.PCI_COMMAND_MEMORY | regs.PCI_COMMAND_MASTER);
}
