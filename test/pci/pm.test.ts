// Power Management capability: trapped D-state changes, PME unsupported, soft reset.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace, type DeviceDecl } from '../../src/pci/builder.js';
import { ConfigSpace } from '../../src/pci/config-space.js';
import * as R from '../../src/pci/regs.js';
import type { PowerState } from '../../src/pci/region.js';
import { NVME } from './fixtures.js';

const PM = 0x40;
const PMCSR = PM + R.PCI_PM_CTRL;

test('PMC advertises the declared states and no PME', () => {
  const cs = createConfigSpace(NVME);
  assert.equal(cs.findCapability(R.PCI_CAP_ID_PM), PM);
  const pmc = cs.read(PM + R.PCI_PM_PMC, 2);
  assert.equal(pmc & R.PCI_PM_CAP_VER_MASK, 3);
  assert.equal(pmc & R.PCI_PM_CAP_D1, 0);
  assert.equal(pmc & R.PCI_PM_CAP_D2, R.PCI_PM_CAP_D2);
  assert.equal(pmc & R.PCI_PM_CAP_PME_MASK, 0);
  assert.equal(cs.read(PMCSR, 2), R.PCI_PM_CTRL_NO_SOFT_RESET);
  cs.write(PM + R.PCI_PM_PMC, 2, 0xffff);
  assert.equal(cs.read(PM + R.PCI_PM_PMC, 2), pmc, 'PMC is read-only');
});

test('D-state writes are trapped, performed, notified and read back; D3hot blocks memory access', () => {
  const seen: [PowerState, PowerState][] = [];
  const cs = createConfigSpace(NVME, { hooks: { onPowerStateChange: (from, to) => seen.push([from, to]) } });
  cs.write(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
  assert.equal(cs.powerState, 0);
  cs.write(PMCSR, 2, 3);
  assert.equal(cs.powerState, 3);
  assert.equal(cs.read(PMCSR, 2) & R.PCI_PM_CTRL_STATE_MASK, 3);
  assert.equal(cs.memoryEnabled, true);
  assert.equal(cs.memoryAccessible, false, 'D3hot blocks BAR access');
  cs.write(PMCSR, 2, 3); // same state: nothing
  cs.write(PMCSR, 4, 0); // dword write back to D0
  assert.equal(cs.powerState, 0);
  assert.equal(cs.memoryAccessible, true);
  cs.write(PMCSR, 1, 2); // D2 is supported
  assert.equal(cs.powerState, 2);
  cs.write(PMCSR, 1, 1); // D1 is not: ignored
  assert.equal(cs.powerState, 2);
  assert.deepEqual(seen, [
    [0, 3],
    [3, 0],
    [0, 2],
  ]);
});

test('writes not covering the state field do not change it', () => {
  const seen: unknown[] = [];
  const cs = createConfigSpace(NVME, { hooks: { onPowerStateChange: (...a) => seen.push(a) } });
  cs.write(PMCSR + 1, 1, 0xff); // PME_En would be here: virtual, not writable
  cs.write(PM + 2, 2, 0xffff);
  assert.equal(cs.powerState, 0);
  assert.deepEqual(seen, []);
  assert.equal(cs.read(PMCSR, 2) & (R.PCI_PM_CTRL_PME_ENABLE | R.PCI_PM_CTRL_PME_STATUS), 0);
});

test('PME support and PME status from the hardware are hidden (virtual zeros)', () => {
  const base = createConfigSpace(NVME).layout.hardware.slice();
  const dv = new DataView(base.buffer);
  dv.setUint16(PM + R.PCI_PM_PMC, dv.getUint16(PM + R.PCI_PM_PMC, true) | R.PCI_PM_CAP_PME_MASK, true);
  dv.setUint16(PMCSR, R.PCI_PM_CTRL_PME_ENABLE | R.PCI_PM_CTRL_PME_STATUS | R.PCI_PM_CTRL_NO_SOFT_RESET, true);
  const cs = ConfigSpace.fromRaw(base);
  assert.equal(cs.read(PM + R.PCI_PM_PMC, 2) & R.PCI_PM_CAP_PME_MASK, 0);
  assert.equal(cs.read(PMCSR, 2), R.PCI_PM_CTRL_NO_SOFT_RESET);
});

test('D3hot -> D0 without No_Soft_Reset resets the function (BARs kept)', () => {
  const decl: DeviceDecl = {
    ...NVME,
    capabilities: [
      { id: 'pm', noSoftReset: false },
      { id: 'msi', vectors: 1 },
    ],
  };
  const resets: string[] = [];
  const cs = createConfigSpace(decl, { hooks: { onReset: (s) => resets.push(s) } });
  cs.write(0x10, 4, 0xfe000000);
  cs.setMsiEnabled(1);
  cs.write(PMCSR, 2, 3);
  assert.deepEqual(resets, []);
  cs.write(PMCSR, 2, 0);
  assert.deepEqual(resets, ['pm-soft-reset']);
  assert.equal(cs.powerState, 0);
  assert.equal(cs.msi?.enabled, false);
  assert.equal(cs.read(0x10, 4), 0xfe000004);
});

test('a function without PM is always in D0', () => {
  const cs = createConfigSpace({ vendorId: 1, deviceId: 1, classCode: 0 });
  assert.equal(cs.powerState, 0);
});
