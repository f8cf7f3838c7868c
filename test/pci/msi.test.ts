// MSI capability: enable only through the interrupt API, MME clamping, virtual address/data, masking.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace } from '../../src/pci/builder.js';
import { msiLength } from '../../src/pci/caps/msi.js';
import * as R from '../../src/pci/regs.js';
import { EDU, NVME, errorWith, withSpy } from './fixtures.js';

const MSI = 0x48; // in NVME: after PM at 0x40
const FLAGS = MSI + R.PCI_MSI_FLAGS;

test('capability length follows Message Control', () => {
  assert.equal(msiLength(0), 10);
  assert.equal(msiLength(R.PCI_MSI_FLAGS_64BIT), 14);
  assert.equal(msiLength(R.PCI_MSI_FLAGS_MASKBIT), 20);
  assert.equal(msiLength(R.PCI_MSI_FLAGS_64BIT | R.PCI_MSI_FLAGS_MASKBIT), 24);
  const cs = createConfigSpace(NVME);
  assert.equal(cs.findCapability(R.PCI_CAP_ID_MSI), MSI);
  assert.equal(cs.capabilities.find((c) => c.id === R.PCI_CAP_ID_MSI)?.length, 24);
});

test('the ENABLE bit is not user-writable; the interrupt API owns it', () => {
  const cs = createConfigSpace(EDU);
  const flags = 0x40 + R.PCI_MSI_FLAGS;
  assert.equal(cs.read(flags, 2), R.PCI_MSI_FLAGS_64BIT);
  cs.write(flags, 2, R.PCI_MSI_FLAGS_ENABLE);
  assert.equal(cs.read(flags, 2) & R.PCI_MSI_FLAGS_ENABLE, 0);
  assert.equal(cs.msi?.enabled, false);
  cs.setMsiEnabled(1);
  assert.equal(cs.read(flags, 2) & R.PCI_MSI_FLAGS_ENABLE, R.PCI_MSI_FLAGS_ENABLE);
  cs.write(flags, 2, 0); // the user cannot disable it either
  assert.equal(cs.msi?.enabled, true);
  cs.disableMsi();
  assert.equal(cs.msi?.enabled, false);
  assert.equal(cs.read(flags, 2) & R.PCI_MSI_FLAGS_ENABLE, 0);
});

test('Multiple Message Enable is clamped to capable, and to the allocation while enabled', () => {
  const cs = createConfigSpace(NVME);
  assert.equal(cs.msi?.capable, 4);
  assert.equal(cs.msi?.count, 1);
  cs.write(FLAGS, 1, 5 << 4); // ask for 32
  assert.equal(cs.msi?.count, 4);
  cs.write(FLAGS, 1, 1 << 4);
  assert.equal(cs.msi?.count, 2);
  cs.setMsiEnabled(2);
  assert.equal(cs.msi?.count, 2);
  cs.write(FLAGS, 1, 2 << 4); // more than allocated
  assert.equal(cs.msi?.count, 2);
  assert.equal(cs.msi?.enabled, true);
  cs.setMsiEnabled(3); // rounds up to a power of two
  assert.equal(cs.msi?.count, 4);
  assert.throws(() => cs.setMsiEnabled(5), errorWith('EINVAL'));
  assert.throws(() => cs.setMsiEnabled(0), errorWith('EINVAL'));
});

test('Multiple Message Capable and the 64-bit bit are read-only', () => {
  const cs = createConfigSpace(NVME);
  const before = cs.read(FLAGS, 2);
  cs.write(FLAGS, 2, 0xffff & ~(R.PCI_MSI_FLAGS_QSIZE | R.PCI_MSI_FLAGS_ENABLE));
  assert.equal(cs.read(FLAGS, 2), before);
});

test('address and data are virtual and writable; vectors merge their number into the data', () => {
  const { cs, spy } = withSpy(NVME);
  cs.write(MSI + R.PCI_MSI_ADDRESS_LO, 4, 0xfee01000);
  cs.write(MSI + R.PCI_MSI_ADDRESS_HI, 4, 0x00000001);
  cs.write(MSI + R.PCI_MSI_DATA_64, 2, 0x4020);
  assert.deepEqual(
    spy.writes().filter((w) => w.offset !== FLAGS),
    [],
    'address and data never reach the device',
  );
  cs.setMsiEnabled(4);
  const s = cs.msi!;
  assert.equal(s.address, 0x1fee01000n);
  assert.equal(s.data, 0x4020);
  assert.deepEqual(cs.msiVector(3), { address: 0x1fee01000n, data: 0x4023, masked: false, pending: false });
  assert.throws(() => cs.msiVector(4), errorWith('EINVAL'));
  // The 32-bit layout puts data at 0x08.
  const edu32 = createConfigSpace({ ...EDU, capabilities: [{ id: 'msi', address64: false }] });
  edu32.write(0x40 + R.PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
  edu32.write(0x40 + R.PCI_MSI_DATA_32, 2, 0x0031);
  assert.equal(edu32.msi?.address, 0xfee00000n);
  assert.equal(edu32.msi?.data, 0x31);
  assert.equal(edu32.msi?.address64, false);
});

test('mask bits pass through to the device (implemented vectors only) and changes are notified', () => {
  const seen: [number, boolean][] = [];
  const { cs, spy } = withSpy(NVME, { hooks: { onMsiMaskChange: (v, m) => seen.push([v, m]) } });
  const mask = MSI + R.PCI_MSI_MASK_64;
  cs.write(mask, 4, 0xffffffff);
  assert.equal(cs.read(mask, 4), 0xf);
  assert.equal(spy.read(mask, 4), 0xf);
  cs.write(mask, 4, 0x5);
  assert.deepEqual(seen, [
    [0, true],
    [1, true],
    [2, true],
    [3, true],
    [1, false],
    [3, false],
  ]);
  cs.setMsiEnabled(4);
  assert.equal(cs.msiVector(0).masked, true);
  assert.equal(cs.msiVector(1).masked, false);
});

test('pending bits are set by the device and read-only to the user', () => {
  const cs = createConfigSpace(NVME);
  const pending = MSI + R.PCI_MSI_PENDING_64;
  cs.setMsiPending(2, true);
  assert.equal(cs.read(pending, 4), 0x4);
  cs.write(pending, 4, 0);
  assert.equal(cs.read(pending, 4), 0x4);
  cs.setMsiEnabled(4);
  assert.equal(cs.msiVector(2).pending, true);
  cs.setMsiPending(2, false);
  assert.equal(cs.msi?.pending, 0);
  assert.throws(() => createConfigSpace(EDU).setMsiPending(0, true), errorWith('EINVAL'));
});

test('MSI methods on a function without MSI fail with EINVAL', () => {
  const cs = createConfigSpace({ vendorId: 1, deviceId: 1, classCode: 0 });
  assert.equal(cs.msi, undefined);
  assert.equal(cs.hasMsi, false);
  assert.throws(() => cs.setMsiEnabled(1), errorWith('EINVAL'));
});

test('bad MSI declarations are refused', () => {
  assert.throws(() => createConfigSpace({ ...EDU, capabilities: [{ id: 'msi', vectors: 3 }] }), errorWith('EINVAL', 'not-power-of-two'));
  assert.throws(() => createConfigSpace({ ...EDU, capabilities: [{ id: 'msi', vectors: 64 }] }), errorWith('EINVAL', 'bad-value'));
});
