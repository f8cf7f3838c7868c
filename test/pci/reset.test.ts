// Reset: capability registers back to power-on, BAR programming kept (FLR), or everything (power-on).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace } from '../../src/pci/builder.js';
import * as R from '../../src/pci/regs.js';
import { NVME } from './fixtures.js';

function programmed() {
  const cmds: number[] = [];
  const cs = createConfigSpace(NVME, { hooks: { onCommandChange: (c) => cmds.push(c) } });
  const pristine = cs.snapshot();
  cs.write(0x10, 4, 0xfebf0000);
  cs.write(0x14, 4, 0x1);
  cs.write(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER | R.PCI_COMMAND_INTX_DISABLE);
  cs.write(R.PCI_INTERRUPT_LINE, 1, 10);
  cs.write(R.PCI_CACHE_LINE_SIZE, 1, 0x10);
  cs.write(0x48 + R.PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
  cs.write(0x48 + R.PCI_MSI_MASK_64, 4, 0x3);
  cs.setMsiEnabled(4);
  cs.setMsixEnabled(true);
  cs.msixTable!.writeTable(12, 4, 0);
  cs.msixTable!.setPending(3);
  cs.write(0x40 + R.PCI_PM_CTRL, 2, 3);
  cs.write(0x6c + R.PCI_EXP_DEVCTL, 2, (3 << 5) | R.PCI_EXP_DEVCTL_CERE);
  cs.recordAerError({ correctable: R.PCI_ERR_COR_RCVR });
  cs.write(0x100 + R.PCI_ERR_UNCOR_MASK, 4, R.PCI_ERR_UNC_UNSUP);
  cs.setInterruptStatus(true);
  return { cs, pristine, cmds };
}

test('FLR-style reset restores capability registers and keeps BAR and command programming', () => {
  const { cs, pristine, cmds } = programmed();
  const cmdsBefore = cmds.length;
  cs.reset('flr');
  assert.equal(cmds.length, cmdsBefore, 'command unchanged: no notification');
  assert.equal(cs.read(0x10, 4), 0xfebf0004);
  assert.equal(cs.read(0x14, 4), 0x1);
  assert.equal(cs.barAddress(0), 0x1febf0000n);
  assert.equal(cs.command, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER | R.PCI_COMMAND_INTX_DISABLE);
  assert.equal(cs.interruptLine, 10);
  assert.equal(cs.read(R.PCI_CACHE_LINE_SIZE, 1), 0x10);
  assert.equal(cs.status, R.PCI_STATUS_CAP_LIST, 'interrupt status cleared');
  assert.equal(cs.msi?.enabled, false);
  assert.equal(cs.msi?.address, 0n);
  assert.equal(cs.msi?.mask, 0);
  assert.equal(cs.msix?.enabled, false);
  assert.equal(cs.msixTable?.enabled, false);
  assert.equal(cs.msixTable?.vectorMasked(0), true);
  assert.equal(cs.msixTable?.pending(3), false);
  assert.equal(cs.powerState, 0);
  assert.equal(cs.read(0x6c + R.PCI_EXP_DEVCTL, 2), pristine[0x6c + 8]! | (pristine[0x6c + 9]! << 8));
  assert.equal(cs.read(0x100 + R.PCI_ERR_COR_STATUS, 4), 0);
  assert.equal(cs.read(0x100 + R.PCI_ERR_UNCOR_MASK, 4), 0);
  // Everything outside the kept header fields is back to power-on.
  const now = cs.snapshot();
  for (let i = 0x40; i < 4096; i++) assert.equal(now[i], pristine[i], `byte 0x${i.toString(16)}`);
});

test('after a reset the interrupt API starts over', () => {
  const { cs } = programmed();
  cs.reset();
  cs.write(0x48 + R.PCI_MSI_FLAGS, 1, 2 << 4);
  assert.equal(cs.msi?.count, 4, 'MME clamps to capable again, not to the old allocation');
  cs.setMsiEnabled(1);
  assert.equal(cs.msi?.enabled, true);
});

test('power-on reset returns everything to the declared state and notifies a command change', () => {
  const { cs, pristine, cmds } = programmed();
  cmds.length = 0;
  cs.reset('power-on');
  assert.deepEqual(cs.snapshot(), pristine);
  assert.deepEqual(cmds, [0]);
  assert.equal(cs.memoryEnabled, false);
});
