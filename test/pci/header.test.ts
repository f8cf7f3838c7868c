// The type-0 header: IDs, command register effects and notifications, status, interrupt registers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace } from '../../src/pci/builder.js';
import * as R from '../../src/pci/regs.js';
import { EDU, NVME, withSpy } from './fixtures.js';

test('identity registers read as declared', () => {
  const cs = createConfigSpace(NVME);
  assert.equal(cs.vendorId, 0x1b36);
  assert.equal(cs.deviceId, 0x0010);
  assert.equal(cs.revision, 2);
  assert.equal(cs.classCode, 0x010802);
  assert.equal(cs.subsystemVendorId, 0x1af4);
  assert.equal(cs.subsystemId, 0x1100);
  assert.equal(cs.read(R.PCI_HEADER_TYPE, 1), 0);
});

test('command: every bit is writable, the hardware keeps what it implements; getters follow', () => {
  const cs = createConfigSpace(NVME);
  assert.equal(cs.command, 0);
  assert.equal(cs.memoryEnabled, false);
  cs.write(R.PCI_COMMAND, 2, 0xffff);
  // IO, MEMORY, MASTER, PARITY, SERR stick in the backing; INTx-disable in the shadow; the rest are hardwired 0.
  assert.equal(
    cs.command,
    R.PCI_COMMAND_IO | R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER | R.PCI_COMMAND_PARITY | R.PCI_COMMAND_SERR | R.PCI_COMMAND_INTX_DISABLE,
  );
  assert.equal(cs.memoryEnabled, true);
  assert.equal(cs.ioEnabled, true);
  assert.equal(cs.busMaster, true);
  assert.equal(cs.intxDisabled, true);
  cs.write(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
  assert.equal(cs.memoryEnabled, true);
  assert.equal(cs.ioEnabled, false);
  assert.equal(cs.busMaster, false);
  assert.equal(cs.intxDisabled, false);
  assert.equal(cs.memoryAccessible, true);
  assert.equal(cs.ioAccessible, false);
});

test('command changes are notified with the new and previous value, and only on change', () => {
  const seen: [number, number][] = [];
  const cs = createConfigSpace(EDU, { hooks: { onCommandChange: (now, prev) => seen.push([now, prev]) } });
  cs.write(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
  cs.write(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY); // same value: no notification
  cs.write(R.PCI_COMMAND, 1, R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER); // byte write
  cs.write(R.PCI_COMMAND + 1, 1, R.PCI_COMMAND_INTX_DISABLE >> 8); // high byte only
  cs.write(R.PCI_COMMAND, 2, 0);
  cs.write(R.PCI_STATUS, 2, 0xffff); // not the command register
  assert.deepEqual(seen, [
    [0x0002, 0x0000],
    [0x0006, 0x0002],
    [0x0406, 0x0006],
    [0x0000, 0x0406],
  ]);
});

test('INTx-disable is virtual: the device never sees it', () => {
  const { cs, spy } = withSpy(EDU);
  cs.write(R.PCI_COMMAND, 2, R.PCI_COMMAND_INTX_DISABLE);
  assert.equal(cs.intxDisabled, true);
  assert.equal(spy.read(R.PCI_COMMAND, 2) & R.PCI_COMMAND_INTX_DISABLE, 0);
});

test('status is read-only; Cap+ is virtual; the device sets Interrupt status', () => {
  const cs = createConfigSpace(EDU);
  assert.equal(cs.status, R.PCI_STATUS_CAP_LIST);
  cs.write(R.PCI_STATUS, 2, 0xffff);
  assert.equal(cs.status, R.PCI_STATUS_CAP_LIST);
  cs.setInterruptStatus(true);
  assert.equal(cs.status, R.PCI_STATUS_CAP_LIST | R.PCI_STATUS_INTERRUPT);
  cs.write(R.PCI_STATUS, 2, 0); // the user cannot clear it
  assert.equal(cs.status & R.PCI_STATUS_INTERRUPT, R.PCI_STATUS_INTERRUPT);
  cs.setInterruptStatus(false);
  assert.equal(cs.status, R.PCI_STATUS_CAP_LIST);
  const nocaps = createConfigSpace({ vendorId: 1, deviceId: 2, classCode: 0 });
  assert.equal(nocaps.status & R.PCI_STATUS_CAP_LIST, 0);
  assert.equal(nocaps.read(R.PCI_CAPABILITY_LIST, 1), 0);
});

test('capability pointer is read-only; interrupt line read-write; interrupt pin read-only', () => {
  const cs = createConfigSpace(EDU);
  assert.equal(cs.read(R.PCI_CAPABILITY_LIST, 1), 0x40);
  cs.write(R.PCI_CAPABILITY_LIST, 1, 0x80);
  assert.equal(cs.read(R.PCI_CAPABILITY_LIST, 1), 0x40);
  cs.write(R.PCI_INTERRUPT_LINE, 1, 11);
  assert.equal(cs.interruptLine, 11);
  cs.write(R.PCI_INTERRUPT_PIN, 1, 4);
  assert.equal(cs.interruptPin, 1);
  const nopin = createConfigSpace({ ...EDU, interruptPin: 0 });
  assert.equal(nopin.interruptPin, 0);
});

test('cache line size sticks; latency timer is hardwired 0 on PCIe, read-write on conventional PCI', () => {
  const pcie = createConfigSpace(NVME);
  pcie.write(R.PCI_CACHE_LINE_SIZE, 2, 0x4010);
  assert.equal(pcie.read(R.PCI_CACHE_LINE_SIZE, 1), 0x10);
  assert.equal(pcie.read(R.PCI_LATENCY_TIMER, 1), 0);
  const pci = createConfigSpace(EDU);
  pci.write(R.PCI_LATENCY_TIMER, 1, 0x40);
  assert.equal(pci.read(R.PCI_LATENCY_TIMER, 1), 0x40);
  // BIST: writable per the kernel, but the device has no BIST: it stays 0.
  pci.write(R.PCI_BIST, 1, 0xff);
  assert.equal(pci.read(R.PCI_BIST, 1), 0);
});
