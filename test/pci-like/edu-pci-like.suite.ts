// One test suite for the edu driver written on the PCI-like model
// (src/drivers/edu/pci-like.ts), run against our edu model over vfio-user on
// the host (test/pci-like/edu.test.ts) and against QEMU's edu through the
// kernel backend in the test guest (test/guest/pci-like.test.ts). The driver
// programs interrupts only by config writes; the tests check what that set up
// underneath (the Device's interrupt mode) and what reached the driver.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Device } from '../../src/client/device.js';
import { EDU_DEFAULT_MSI, EduPciLikeDriver } from '../../src/drivers/edu/index.js';
import { regs } from '../../src/pci/index.js';
import { recordInterrupts, settle } from './helpers.js';

export interface EduPciLikeSuiteOptions {
  skip?: string | false;
  timeout?: number;
}

function factorial(n: number): number {
  let r = 1n;
  for (let i = 2n; i <= BigInt(n); i++) r = (r * i) % (1n << 32n);
  return Number(r);
}

export function eduPciLikeSuite(label: string, open: () => Device, options: EduPciLikeSuiteOptions = {}): void {
  const skip = options.skip ?? false;
  const t = (name: string, fn: (edu: EduPciLikeDriver) => Promise<void> | void): void => {
    test(`${label}: ${name}${skip ? ` (SKIPPED: ${skip})` : ''}`, { skip, timeout: options.timeout ?? 60_000 }, async () => {
      const edu = EduPciLikeDriver.open(open);
      try {
        await fn(edu);
      } finally {
        edu.close();
      }
    });
  };

  t('probe: IDs and the MSI capability found through the view; quiet until a scheme is chosen', async (edu) => {
    assert.deepEqual(edu.version(), { major: 1, minor: 0 });
    assert.equal(edu.isAlive(0x13572468), true);
    assert.equal(edu.pci.config.read8(edu.msiCap), regs.PCI_CAP_ID_MSI);
    const cmd = edu.pci.config.read16(regs.PCI_COMMAND);
    assert.equal(cmd & 0x406, 0x406, 'memory, bus master, INTx Disable');
    assert.equal(edu.pci.interruptMode, null);
    assert.equal(edu.device.interruptMode, null);
    assert.equal(await edu.factorial(6), 720);
  });

  t('MSI enabled by config writes; the factorial-done interrupt arrives as vector 0 with the programmed message', async (edu) => {
    edu.enableMsi({ address: 0xfee0_2000n, data: 0x0052 });
    const c = edu.msiCap;
    const cfg = edu.pci.config;
    assert.ok(cfg.read16(c + regs.PCI_MSI_FLAGS) & regs.PCI_MSI_FLAGS_ENABLE, 'Enable reads back');
    assert.equal(cfg.read32(c + regs.PCI_MSI_ADDRESS_LO), 0xfee02000, 'address reads back as written');
    assert.equal(cfg.read16(c + regs.PCI_MSI_DATA_64), 0x0052, 'data reads back as written');
    assert.equal(edu.device.interruptMode, 'msi', 'SET_IRQS underneath');
    for (const n of [5, 10]) {
      assert.equal(await edu.factorialByInterrupt(n, { timeoutMs: 20_000 }), factorial(n));
      assert.deepEqual(edu.lastInterrupt, { kind: 'msi', vector: 0, address: 0xfee02000n, data: 0x0052 });
    }
    assert.equal(edu.interruptStatus(), 0);
  });

  t('INTx by the command register: the acknowledging write ends each interrupt (two rounds prove the unmask)', async (edu) => {
    edu.enableIntx();
    assert.equal(edu.pci.interruptMode, 'intx');
    assert.equal(edu.device.interruptMode, 'intx');
    for (const n of [4, 7]) {
      assert.equal(await edu.factorialByInterrupt(n, { timeoutMs: 20_000 }), factorial(n));
      assert.deepEqual(edu.lastInterrupt, { kind: 'intx', vector: 0 });
    }
    assert.equal(edu.pci.intxInService, false);
  });

  t('clearing MSI Enable tears the vector down: a raised interrupt no longer arrives', async (edu) => {
    edu.enableMsi();
    const got = edu.waitInterrupt(0x1000, { timeoutMs: 20_000 });
    edu.raiseInterrupt(0x1000);
    assert.equal((await got) & 0x1000, 0x1000);
    edu.disableInterrupts();
    assert.equal(edu.device.interruptMode, null);
    const seen = recordInterrupts(edu.pci);
    edu.raiseInterrupt(0x2000);
    await settle();
    assert.equal(seen.length, 0);
    assert.equal(edu.interruptStatus() & 0x2000, 0x2000);
    edu.ackInterrupt(0x2000);
  });

  t('DMA round trip completed by MSI', async (edu) => {
    edu.enableMsi(EDU_DEFAULT_MSI);
    const data = new Uint8Array(1500).map((_, i) => (i * 13 + 1) & 0xff);
    const back = await edu.roundTrip(data, 0x100, { timeoutMs: 20_000 });
    assert.deepEqual(Buffer.from(back), Buffer.from(data));
    assert.equal(edu.lastInterrupt?.kind, 'msi');
  });

  t('BAR0 sized and relocated by config writes; edu still answers', async (edu) => {
    const cfg = edu.pci.config;
    cfg.write32(regs.PCI_BASE_ADDRESS_0, 0xffffffff);
    assert.equal(cfg.read32(regs.PCI_BASE_ADDRESS_0), 0xfff00000, '1 MiB, 32-bit, non-prefetchable');
    cfg.write32(regs.PCI_BASE_ADDRESS_0, 0xc0000000);
    assert.equal(cfg.read32(regs.PCI_BASE_ADDRESS_0), 0xc0000000);
    assert.equal(edu.pci.barAddress(0), 0xc0000000n);
    assert.equal(edu.isAlive(), true);
    assert.equal(await edu.factorial(3), 6);
  });

  t('bad input is refused with typed errors', async (edu) => {
    await assert.rejects(edu.factorialByInterrupt(3), { code: 'EINVAL' }, 'no scheme chosen');
    assert.throws(() => edu.pci.config.write16(edu.msiCap + 3, 0), { code: 'EINVAL' }, 'unaligned');
    assert.throws(() => edu.pci.bar(2), { code: 'EINVAL' }, 'edu has only BAR0');
    await assert.rejects(edu.roundTrip(new Uint8Array(10), 4090), { code: 'EINVAL' });
  });
}
