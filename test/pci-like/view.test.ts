// The PCI-like view over our test device model (test/server/fixtures/
// test-device.ts: PM, MSI with 4 vectors and per-vector masks, MSI-X with 8
// vectors in BAR4, PCIe with FLR, INTx pin A; optionally AF) served by the
// vfio-user server in a child process. The model raises interrupts on
// request (BAR0 registers), so each config write's effect is checked by what
// reaches the driver.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import type { Device } from '../../src/client/device.js';
import { PciLikeDevice } from '../../src/client/pci-like/index.js';
import { regs } from '../../src/pci/index.js';
import { DEVICE_ID, REG } from '../server/fixtures/test-device.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';
import { recordInterrupts, settle, until } from './helpers.js';

const FIXTURE = 'test/server/fixtures/test-device.js';

interface Fixture {
  dev: Device;
  pci: PciLikeDevice;
}

function open(path: string): Fixture {
  const dev = connectVfioUser(path);
  const pci = PciLikeDevice.attach(dev);
  pci.config.write16(regs.PCI_COMMAND, pci.config.read16(regs.PCI_COMMAND) | regs.PCI_COMMAND_MEMORY | regs.PCI_COMMAND_MASTER);
  return { dev, pci };
}

describe('PCI-like view over the test device (vfio-user)', () => {
  let srv: ChildServer;
  let srvAf: ChildServer;
  let srvSoft: ChildServer;
  before(async () => {
    srv = await startChildServer(FIXTURE, 'TestDevice');
    srvAf = await startChildServer(FIXTURE, 'TestDevice', { model: { af: true, pcie: false } });
    srvSoft = await startChildServer(FIXTURE, 'TestDevice', { model: { noSoftReset: false } });
  });
  after(async () => {
    await srv?.stop();
    await srvAf?.stop();
    await srvSoft?.stop();
  });

  const t = (name: string, fn: (f: Fixture) => Promise<void> | void, which: () => ChildServer = () => srv): void => {
    test(name, async () => {
      const f = open(which().path);
      try {
        await fn(f);
      } finally {
        f.pci.close();
        f.dev.close();
      }
    });
  };

  t('attaches: config reads like the device, capabilities found, INTx live at power-on', ({ dev, pci }) => {
    assert.equal(pci.config.read16(0), 0x1de5);
    assert.equal(pci.config.read16(2), 0x7e57);
    assert.equal(pci.config.read32(0), dev.config.read32(0));
    assert.equal(pci.config.read8(regs.PCI_INTERRUPT_PIN), 1);
    const caps = pci.capabilities;
    assert.equal(caps.msi?.vectors, 4);
    assert.equal(caps.msi?.perVectorMask, true);
    assert.equal(caps.msix?.tableSize, 8);
    assert.equal(caps.msix?.tableBar, 4);
    assert.equal(caps.msix?.pbaOffset, 0x1000);
    assert.equal(caps.pcieFlr, true);
    assert.equal(pci.findCapability(regs.PCI_CAP_ID_MSI), caps.msi?.offset);
    assert.equal(pci.findCapability(regs.PCI_CAP_ID_MSIX), caps.msix?.offset);
    assert.equal(pci.findCapability(0x0a), undefined);
    assert.equal(pci.interruptMode, 'intx');
    assert.equal(dev.interruptMode, 'intx');
    assert.equal(pci.bar(0).read32(REG.ID), DEVICE_ID);
  });

  t('bad input: typed errors, nothing crashes', async ({ dev, pci }) => {
    assert.throws(() => pci.config.read(0, 3 as 4), { code: 'EINVAL' });
    assert.throws(() => pci.config.read32(2), { code: 'EINVAL' });
    assert.throws(() => pci.config.read16(4095), { code: 'EINVAL' });
    assert.throws(() => pci.config.read8(4096), { code: 'EINVAL' });
    assert.throws(() => pci.config.read8(-1), { code: 'EINVAL' });
    assert.throws(() => pci.config.write8(0x3c, 0x100), { code: 'EINVAL' });
    assert.throws(() => pci.config.write16(0x3c, 1.5), { code: 'EINVAL' });
    assert.throws(() => pci.bar(6), { code: 'EINVAL' });
    assert.throws(() => pci.bar(1), { code: 'EINVAL' }, 'unimplemented BAR');
    assert.throws(() => pci.bar(0).read32(4096), { code: 'EINVAL' });
    assert.throws(() => pci.barAddress(3), { code: 'EINVAL' }, 'upper half of a 64-bit BAR');
    await assert.rejects(pci.waitInterrupt(-1), { code: 'EINVAL' });
    await assert.rejects(pci.waitInterrupt(0, 10), { code: 'ETIMEDOUT' });
    assert.throws(() => PciLikeDevice.attach(dev), { code: 'EBUSY' }, 'a second view: the interrupt mode is taken');
    // ~0 is all-ones.
    pci.config.write32(regs.PCI_BASE_ADDRESS_0, ~0);
    assert.equal(pci.config.read32(regs.PCI_BASE_ADDRESS_0), 0xfffff000);
    pci.close();
    assert.throws(() => pci.config.read16(0), { code: 'ENODEV' });
    assert.throws(() => pci.bar(0), { code: 'ENODEV' });
    assert.equal(dev.interruptMode, null, 'closing the view disabled its interrupts');
  });

  t('BARs are virtual: sized with all-ones, relocated, and still reached', ({ dev, pci }) => {
    const cfg = pci.config;
    const before0 = dev.config.read32(regs.PCI_BASE_ADDRESS_0);
    cfg.write32(0x10, 0xffffffff);
    assert.equal(cfg.read32(0x10), 0xfffff000, 'BAR0: 4 KiB, 32-bit memory');
    cfg.write32(0x18, 0xffffffff);
    cfg.write32(0x1c, 0xffffffff);
    assert.equal(cfg.read32(0x18), 0xffffc004, 'BAR2: 16 KiB, 64-bit');
    assert.equal(cfg.read32(0x1c), 0xffffffff);
    cfg.write32(0x24, 0xffffffff);
    assert.equal(cfg.read32(0x24), 0xffffffe1, 'BAR5: 32 bytes of I/O');
    cfg.write32(0x14, 0xffffffff);
    assert.equal(cfg.read32(0x14), 0, 'BAR1 is not implemented');
    cfg.write32(0x30, 0xffffffff);
    assert.equal(cfg.read32(0x30), 0xfffff801, 'ROM: 2 KiB, enable bit');
    // Relocate.
    cfg.write32(0x10, 0xfe000000);
    cfg.write32(0x18, 0x40000000);
    cfg.write32(0x1c, 0x8);
    cfg.write16(0x20, 0x2000); // 16-bit write into BAR4
    assert.equal(cfg.read32(0x10), 0xfe000000);
    assert.equal(pci.barAddress(0), 0xfe000000n);
    assert.equal(pci.barAddress(2), 0x8_4000_0000n);
    assert.equal(pci.barAddress(4), 0x2000n);
    assert.equal(cfg.read8(0x11), 0x00);
    assert.equal(cfg.read8(0x13), 0xfe);
    assert.equal(dev.config.read32(regs.PCI_BASE_ADDRESS_0), before0, "the device's own BAR register was not touched");
    // Access keeps working wherever the driver put the BAR.
    assert.equal(pci.bar(0).read32(REG.ID), DEVICE_ID);
    pci.bar(0).write32(REG.SCRATCH, 0x12345678);
    assert.equal(pci.bar(0).read32(REG.SCRATCH), 0x12345678);
    pci.bar(2).write32(0x1000, 0xcafef00d);
    assert.equal(pci.bar(2).read32(0x1000), 0xcafef00d);
  });

  t('MSI: address, data, Multiple Message Enable and Enable written like PCI set the vectors up', async ({ dev, pci }) => {
    const cfg = pci.config;
    const msi = pci.findCapability(regs.PCI_CAP_ID_MSI)!;
    const flags = cfg.read16(msi + regs.PCI_MSI_FLAGS);
    assert.equal(flags & regs.PCI_MSI_FLAGS_QMASK, 2 << 1, 'capable of 4 vectors');
    assert.ok(flags & regs.PCI_MSI_FLAGS_64BIT);
    assert.ok(flags & regs.PCI_MSI_FLAGS_MASKBIT);
    cfg.write32(msi + regs.PCI_MSI_ADDRESS_LO, 0xfee01000);
    cfg.write32(msi + regs.PCI_MSI_ADDRESS_HI, 0x1);
    cfg.write16(msi + regs.PCI_MSI_DATA_64, 0x4440);
    assert.equal(cfg.read32(msi + regs.PCI_MSI_ADDRESS_LO), 0xfee01000);
    assert.equal(cfg.read32(msi + regs.PCI_MSI_ADDRESS_HI), 1);
    assert.equal(cfg.read16(msi + regs.PCI_MSI_DATA_64), 0x4440);
    // MME beyond MMC is clamped.
    cfg.write16(msi + regs.PCI_MSI_FLAGS, flags | (7 << 4));
    assert.equal((cfg.read16(msi + regs.PCI_MSI_FLAGS) >> 4) & 7, 2);
    assert.equal(pci.interruptMode, 'intx', 'not enabled yet');
    cfg.write16(msi + regs.PCI_MSI_FLAGS, cfg.read16(msi + regs.PCI_MSI_FLAGS) | regs.PCI_MSI_FLAGS_ENABLE);
    assert.equal(pci.interruptMode, 'msi');
    assert.equal(dev.interruptMode, 'msi');
    assert.ok(cfg.read16(msi + regs.PCI_MSI_FLAGS) & regs.PCI_MSI_FLAGS_ENABLE);

    const got = pci.waitInterrupt(2);
    pci.bar(0).write32(REG.MSI, 2);
    const ev = await got;
    assert.deepEqual(ev, { kind: 'msi', vector: 2, address: 0x1_fee01000n, data: 0x4442 });

    // Per-vector mask: held back, pending, delivered on unmask.
    const seen = recordInterrupts(pci);
    cfg.write32(msi + regs.PCI_MSI_MASK_64, 0b0010);
    assert.equal(cfg.read32(msi + regs.PCI_MSI_MASK_64), 0b0010);
    pci.bar(0).write32(REG.MSI, 1);
    await until('the pending bit of vector 1', () => (cfg.read32(msi + regs.PCI_MSI_PENDING_64) & 0b0010) !== 0);
    await settle();
    assert.equal(seen.length, 0, 'a masked vector does not reach the driver');
    const one = pci.waitInterrupt(1);
    cfg.write32(msi + regs.PCI_MSI_MASK_64, 0);
    assert.equal(cfg.read32(msi + regs.PCI_MSI_PENDING_64), 0, 'pending cleared by the delivery');
    assert.equal((await one).data, 0x4441);
    // Mask bits beyond the capable vectors do not stick; pending is read-only.
    cfg.write32(msi + regs.PCI_MSI_MASK_64, 0xffffffff);
    assert.equal(cfg.read32(msi + regs.PCI_MSI_MASK_64), 0xf);
    cfg.write32(msi + regs.PCI_MSI_PENDING_64, 0xf);
    assert.equal(cfg.read32(msi + regs.PCI_MSI_PENDING_64), 0);
    cfg.write32(msi + regs.PCI_MSI_MASK_64, 0);

    // Fewer vectors: MME 0 while enabled sets up one vector.
    cfg.write16(msi + regs.PCI_MSI_FLAGS, (cfg.read16(msi + regs.PCI_MSI_FLAGS) & ~regs.PCI_MSI_FLAGS_QSIZE) | regs.PCI_MSI_FLAGS_ENABLE);
    assert.throws(() => dev.pollInterrupt(1), { code: 'EINVAL' }, 'vector 1 is gone');
    const zero = pci.waitInterrupt(0);
    pci.bar(0).write32(REG.MSI, 0);
    assert.equal((await zero).data, 0x4440);

    // Clearing Enable tears the vectors down; INTx comes back (INTx Disable is clear).
    cfg.write16(msi + regs.PCI_MSI_FLAGS, cfg.read16(msi + regs.PCI_MSI_FLAGS) & ~regs.PCI_MSI_FLAGS_ENABLE);
    assert.equal(pci.interruptMode, 'intx');
    assert.equal(cfg.read32(msi + regs.PCI_MSI_ADDRESS_LO), 0xfee01000, 'address kept');
    cfg.write16(regs.PCI_COMMAND, cfg.read16(regs.PCI_COMMAND) | regs.PCI_COMMAND_INTX_DISABLE);
    assert.equal(pci.interruptMode, null);
    assert.equal(dev.interruptMode, null);
  });

  t('MSI-X: Enable and Function Mask in the capability, the table and PBA in BAR4', async ({ dev, pci }) => {
    const cfg = pci.config;
    const cap = pci.findCapability(regs.PCI_CAP_ID_MSIX)!;
    const ctl = cap + regs.PCI_MSIX_FLAGS;
    assert.equal(cfg.read16(ctl) & regs.PCI_MSIX_FLAGS_QSIZE, 7);
    assert.equal(cfg.read32(cap + regs.PCI_MSIX_TABLE), 4, 'table in BAR4 at 0');
    assert.equal(cfg.read32(cap + regs.PCI_MSIX_PBA), 0x1004, 'PBA in BAR4 at 0x1000');
    const bar4 = pci.bar(4);
    for (let v = 0; v < 8; v++) assert.equal(bar4.read32(v * 16 + 12), 1, `entry ${v} masked at power-on`);
    // Enable with the function masked, fill the table, unmask.
    cfg.write16(ctl, regs.PCI_MSIX_FLAGS_ENABLE | regs.PCI_MSIX_FLAGS_MASKALL);
    assert.equal(pci.interruptMode, 'msix');
    assert.equal(dev.interruptMode, 'msix');
    for (let v = 0; v < 8; v++) {
      bar4.write64(v * 16, 0xfee00000n + BigInt(v << 12));
      bar4.write32(v * 16 + 8, 0x30 + v);
      bar4.write32(v * 16 + 12, 0);
    }
    assert.equal(bar4.read64(3 * 16), 0xfee03000n);
    assert.equal(bar4.read32(3 * 16 + 8), 0x33);
    const seen = recordInterrupts(pci);
    // Function mask still set: vector 3 goes pending.
    bar4.write32(0, 0); // (entry 0 address low: a harmless write)
    pci.bar(0).write32(REG.MSIX, 3);
    await until('PBA bit 3', () => (bar4.read32(0x1000) & 0x8) !== 0);
    await settle();
    assert.equal(seen.length, 0);
    const three = pci.waitInterrupt(3);
    cfg.write16(ctl, regs.PCI_MSIX_FLAGS_ENABLE);
    assert.equal(bar4.read32(0x1000), 0, 'PBA clears on delivery');
    assert.deepEqual(await three, { kind: 'msix', vector: 3, address: 0xfee03000n, data: 0x33 });

    // Entry mask: vector 5.
    bar4.write32(5 * 16 + 12, 1);
    assert.equal(bar4.read32(5 * 16 + 12), 1);
    pci.bar(0).write32(REG.MSIX, 5);
    await until('PBA bit 5', () => (bar4.read8(0x1000) & 0x20) !== 0);
    await settle();
    assert.equal(seen.filter((e) => e.vector === 5).length, 0, 'masked: no event');
    const five = pci.waitInterrupt(5);
    bar4.write32(5 * 16 + 12, 0);
    assert.equal(bar4.read32(0x1000), 0);
    assert.equal((await five).data, 0x35);
    // Unmasked vectors arrive directly.
    const seven = pci.waitInterrupt(7);
    pci.bar(0).write32(REG.MSIX, 7);
    assert.equal((await seven).address, 0xfee07000n);
    // The PBA is read-only; reserved vector-control bits do not stick.
    bar4.write32(0x1000, 0xff);
    assert.equal(bar4.read32(0x1000), 0);
    bar4.write32(2 * 16 + 12, 0xfffffffe);
    assert.equal(bar4.read32(2 * 16 + 12), 0);
    // Bytes of BAR4 outside the table and PBA are the device's (none here: plain read).
    // MSI cannot be enabled at the same time.
    const msi = pci.capabilities.msi!.offset;
    assert.throws(() => cfg.write16(msi + 2, cfg.read16(msi + 2) | 1), { code: 'EBUSY' });
    assert.equal(cfg.read16(msi + 2) & 1, 0, 'the refused Enable reads 0');
    assert.equal(pci.interruptMode, 'msix', 'MSI-X still on');
    // Disable.
    cfg.write16(ctl, 0);
    assert.equal(pci.interruptMode, 'intx');
  });

  t("INTx: delivered while INTx Disable is clear; the driver's acknowledging write unmasks it", async ({ pci }) => {
    const bar0 = pci.bar(0);
    const first = pci.waitInterrupt(0);
    bar0.write32(REG.INTX, 1); // the device asserts its line
    assert.deepEqual(await first, { kind: 'intx', vector: 0 });
    assert.equal(pci.intxInService, true);
    bar0.write32(REG.INTX, 0); // the driver quiets the device: the view unmasks
    assert.equal(pci.intxInService, false);
    const second = pci.waitInterrupt(0);
    bar0.write32(REG.INTX, 1);
    await second;
    // Level-triggered: an EOI with the line still asserted fires again.
    const again = pci.waitInterrupt(0);
    pci.eoi();
    await again;
    bar0.write32(REG.INTX, 0);
    // INTx Disable: no mode, nothing delivered.
    pci.config.write16(regs.PCI_COMMAND, pci.config.read16(regs.PCI_COMMAND) | regs.PCI_COMMAND_INTX_DISABLE);
    assert.equal(pci.interruptMode, null);
    assert.ok(pci.config.read16(regs.PCI_COMMAND) & regs.PCI_COMMAND_INTX_DISABLE);
    const seen = recordInterrupts(pci);
    bar0.write32(REG.INTX, 1);
    await settle();
    assert.equal(seen.length, 0);
    bar0.write32(REG.INTX, 0);
    pci.config.write16(regs.PCI_COMMAND, pci.config.read16(regs.PCI_COMMAND) & ~regs.PCI_COMMAND_INTX_DISABLE);
    assert.equal(pci.interruptMode, 'intx');
  });

  t('FLR by PCIe Device Control: the device is reset, BAR programming kept, interrupts back to INTx', async ({ pci }) => {
    const cfg = pci.config;
    cfg.write32(0x10, 0xfe001000);
    cfg.write32(0x18, 0x40000000);
    cfg.write32(0x1c, 0x8);
    pci.bar(0).write32(REG.SCRATCH, 0xabcdef01);
    const msi = pci.capabilities.msi!.offset;
    cfg.write32(msi + 4, 0xfee00000);
    cfg.write16(msi + 2, cfg.read16(msi + 2) | 1);
    assert.equal(pci.interruptMode, 'msi');
    const resets = pci.bar(0).read32(REG.RESETS);
    const pcie = pci.findCapability(regs.PCI_CAP_ID_EXP)!;
    const devctl = pcie + regs.PCI_EXP_DEVCTL;
    const ev = new Promise((r) => pci.once('reset', r));
    cfg.write16(devctl, cfg.read16(devctl) | regs.PCI_EXP_DEVCTL_BCR_FLR);
    assert.deepEqual(await ev, { source: 'pcie-flr' });
    assert.equal(cfg.read16(devctl) & regs.PCI_EXP_DEVCTL_BCR_FLR, 0, 'FLR reads 0');
    assert.equal(pci.bar(0).read32(REG.RESETS), resets + 1, 'the device was reset');
    assert.equal(pci.bar(0).read32(REG.SCRATCH), 0, 'its registers are back to reset values');
    assert.equal(cfg.read32(0x10), 0xfe001000, 'BAR0 as programmed');
    assert.equal(pci.barAddress(2), 0x8_4000_0000n, 'BAR2 as programmed');
    assert.equal(cfg.read16(msi + 2) & 1, 0, 'MSI disabled by the reset');
    assert.equal(cfg.read32(msi + 4), 0, 'MSI address reset');
    assert.equal(pci.interruptMode, 'intx');
    assert.ok(cfg.read16(regs.PCI_COMMAND) & regs.PCI_COMMAND_MEMORY, 'the command register is kept');
    // And it works.
    pci.bar(0).write32(REG.SCRATCH, 7);
    assert.equal(pci.bar(0).read32(REG.SCRATCH), 7);
    const irq = pci.waitInterrupt(0);
    pci.bar(0).write32(REG.INTX, 1);
    await irq;
    pci.bar(0).write32(REG.INTX, 0);
    // The other Device Control bits go to the device as written.
    cfg.write16(devctl, cfg.read16(devctl) | regs.PCI_EXP_DEVCTL_URRE);
    assert.ok(cfg.read16(devctl) & regs.PCI_EXP_DEVCTL_URRE);
  });

  t(
    'FLR by the Advanced Features capability',
    async ({ pci }) => {
      assert.equal(pci.capabilities.afFlr, true);
      const af = pci.findCapability(regs.PCI_CAP_ID_AF)!;
      pci.config.write32(0x10, 0xfd000000);
      pci.bar(0).write32(REG.SCRATCH, 5);
      const ev = new Promise((r) => pci.once('reset', r));
      pci.config.write8(af + regs.PCI_AF_CTRL, regs.PCI_AF_CTRL_FLR);
      assert.deepEqual(await ev, { source: 'af-flr' });
      assert.equal(pci.config.read8(af + regs.PCI_AF_CTRL), 0);
      assert.equal(pci.bar(0).read32(REG.SCRATCH), 0);
      assert.equal(pci.config.read32(0x10), 0xfd000000);
    },
    () => srvAf,
  );

  t('D3hot through PMCSR: BAR access fails until D0', ({ pci }) => {
    const pm = pci.findCapability(regs.PCI_CAP_ID_PM)!;
    const pmcsr = pm + regs.PCI_PM_CTRL;
    pci.bar(0).write32(REG.SCRATCH, 0x55);
    const changes: unknown[] = [];
    pci.on('powerState', (e) => changes.push(e));
    pci.config.write16(pmcsr, (pci.config.read16(pmcsr) & ~3) | 3);
    assert.equal(pci.config.read16(pmcsr) & 3, 3, 'the device is in D3hot');
    assert.equal(pci.powerState, 3);
    assert.throws(() => pci.bar(0).read32(REG.SCRATCH), { code: 'EIO' });
    assert.throws(() => pci.bar(0).write32(REG.SCRATCH, 1), { code: 'EIO' });
    assert.throws(() => pci.bar(4).read32(0), { code: 'EIO' }, 'the MSI-X table too');
    assert.equal(pci.config.read16(0), 0x1de5, 'config space answers in D3hot');
    pci.config.write16(pmcsr, pci.config.read16(pmcsr) & ~3);
    assert.equal(pci.powerState, 0);
    assert.equal(pci.bar(0).read32(REG.SCRATCH), 0x55, 'No_Soft_Reset: the registers survived');
    assert.deepEqual(changes, [
      { from: 0, to: 3 },
      { from: 3, to: 0 },
    ]);
  });

  t(
    'D3hot -> D0 without No_Soft_Reset resets the function: the view resets its MSI state',
    async ({ pci }) => {
      const pm = pci.findCapability(regs.PCI_CAP_ID_PM)!;
      const pmcsr = pm + regs.PCI_PM_CTRL;
      const msi = pci.capabilities.msi!.offset;
      pci.config.write16(msi + 2, pci.config.read16(msi + 2) | 1);
      assert.equal(pci.interruptMode, 'msi');
      pci.config.write16(pmcsr, 3);
      const ev = new Promise((r) => pci.once('reset', r));
      pci.config.write16(pmcsr, 0);
      assert.deepEqual(await ev, { source: 'pm-soft-reset' });
      assert.equal(pci.config.read16(msi + 2) & 1, 0);
      assert.equal(pci.interruptMode, 'intx');
      assert.equal(pci.bar(0).read32(REG.ID), DEVICE_ID);
    },
    () => srvSoft,
  );

  t(
    'FLR while in D3hot: one reset, back in D0, BARs reachable again',
    ({ pci }) => {
      const pmcsr = pci.capabilities.pm! + regs.PCI_PM_CTRL;
      const resets: unknown[] = [];
      pci.on('reset', (e) => resets.push(e));
      pci.config.write16(pmcsr, 3);
      assert.throws(() => pci.bar(0).read32(REG.ID), { code: 'EIO' });
      const devctl = pci.findCapability(regs.PCI_CAP_ID_EXP)! + regs.PCI_EXP_DEVCTL;
      pci.config.write16(devctl, regs.PCI_EXP_DEVCTL_BCR_FLR);
      assert.deepEqual(resets, [{ source: 'pcie-flr' }], 'the FLR, not a second soft reset');
      assert.equal(pci.powerState, 0);
      assert.equal(pci.bar(0).read32(REG.ID), DEVICE_ID);
    },
    () => srvSoft,
  );

  test('the view closes with its Device', () => {
    const dev = connectVfioUser(srv.path);
    const pci = PciLikeDevice.attach(dev);
    let closed = false;
    pci.on('close', () => (closed = true));
    dev.close();
    assert.equal(closed, true);
    assert.equal(pci.closed, true);
    assert.throws(() => pci.config.read16(0), { code: 'ENODEV' });
  });
});
