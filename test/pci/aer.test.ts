// Advanced Error Reporting: the kernel's write masks over hardware W1C status and RW masks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace, type DeviceDecl } from '../../src/pci/builder.js';
import { AER_COR_WRITABLE, AER_DEFAULT_SEVERITY, AER_UNCOR_WRITABLE } from '../../src/pci/caps/aer.js';
import * as R from '../../src/pci/regs.js';
import { EDU, NVME, errorWith } from './fixtures.js';

const AER = 0x100;

test('the header dword is virtual and read-only; defaults follow the spec', () => {
  const cs = createConfigSpace(NVME);
  assert.equal(cs.findExtendedCapability(R.PCI_EXT_CAP_ID_ERR), AER);
  const hdr = cs.read(AER, 4);
  assert.equal(R.PCI_EXT_CAP_ID(hdr), R.PCI_EXT_CAP_ID_ERR);
  assert.equal(R.PCI_EXT_CAP_VER(hdr), 2);
  cs.write(AER, 4, 0);
  assert.equal(cs.read(AER, 4), hdr);
  assert.equal(cs.read(AER + R.PCI_ERR_UNCOR_SEVER, 4), AER_DEFAULT_SEVERITY);
  assert.equal(cs.read(AER + R.PCI_ERR_COR_MASK, 4), R.PCI_ERR_COR_ADV_NFAT);
});

test('status registers are write-1-to-clear for the kernel-writable bits', () => {
  const cs = createConfigSpace(NVME);
  const reserved = 1 << 26; // not in the kernel's mask
  cs.recordAerError({ uncorrectable: R.PCI_ERR_UNC_COMP_TIME | R.PCI_ERR_UNC_UNSUP | reserved, correctable: R.PCI_ERR_COR_BAD_TLP });
  const unc = AER + R.PCI_ERR_UNCOR_STATUS;
  const cor = AER + R.PCI_ERR_COR_STATUS;
  assert.equal(cs.read(unc, 4), (R.PCI_ERR_UNC_COMP_TIME | R.PCI_ERR_UNC_UNSUP | reserved) >>> 0);
  cs.write(unc, 4, 0); // writing 0 keeps
  assert.equal(cs.read(unc, 4), (R.PCI_ERR_UNC_COMP_TIME | R.PCI_ERR_UNC_UNSUP | reserved) >>> 0);
  cs.write(unc, 4, R.PCI_ERR_UNC_COMP_TIME); // writing 1 clears that bit only
  assert.equal(cs.read(unc, 4), (R.PCI_ERR_UNC_UNSUP | reserved) >>> 0);
  cs.write(unc, 4, 0xffffffff); // a bit outside the mask cannot be cleared by the user
  assert.equal(cs.read(unc, 4), reserved);
  cs.write(cor, 4, R.PCI_ERR_COR_BAD_TLP);
  assert.equal(cs.read(cor, 4), 0);
});

test('mask and severity registers are read-write within the kernel masks', () => {
  const cs = createConfigSpace(NVME);
  for (const [off, mask] of [
    [R.PCI_ERR_UNCOR_MASK, AER_UNCOR_WRITABLE],
    [R.PCI_ERR_UNCOR_SEVER, AER_UNCOR_WRITABLE],
    [R.PCI_ERR_COR_MASK, AER_COR_WRITABLE],
  ] as const) {
    cs.write(AER + off, 4, 0xffffffff);
    assert.equal(cs.read(AER + off, 4), mask);
    cs.write(AER + off, 4, 0);
    assert.equal(cs.read(AER + off, 4), 0);
  }
});

test('ECRC enables stick only when the device is capable; the header log is read-only', () => {
  const plain = createConfigSpace(NVME);
  plain.write(AER + R.PCI_ERR_CAP, 4, 0xffffffff);
  assert.equal(plain.read(AER + R.PCI_ERR_CAP, 4), 0);
  const ecrc: DeviceDecl = { ...NVME, extendedCapabilities: [{ id: 'aer', ecrcGenerationCapable: true, ecrcCheckCapable: true }] };
  const cs = createConfigSpace(ecrc);
  cs.write(AER + R.PCI_ERR_CAP, 4, 0xffffffff);
  assert.equal(
    cs.read(AER + R.PCI_ERR_CAP, 4),
    R.PCI_ERR_CAP_ECRC_GENC | R.PCI_ERR_CAP_ECRC_GENE | R.PCI_ERR_CAP_ECRC_CHKC | R.PCI_ERR_CAP_ECRC_CHKE,
  );
  for (let i = 0; i < 16; i += 4) cs.write(AER + R.PCI_ERR_HEADER_LOG + i, 4, 0xffffffff);
  assert.deepEqual(Array.from(cs.readBytes(AER + R.PCI_ERR_HEADER_LOG, 16)), new Array(16).fill(0));
});

test('recording errors needs an AER capability', () => {
  assert.throws(() => createConfigSpace({ ...EDU, configSize: 4096 }).recordAerError({ correctable: 1 }), errorWith('EINVAL'));
});
