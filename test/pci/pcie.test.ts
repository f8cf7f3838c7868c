// PCI Express capability: FLR, virtual MPS/MRRS, pass-through control bits, read-only rest.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace, type DeviceDecl } from '../../src/pci/builder.js';
import * as R from '../../src/pci/regs.js';
import { NVME, withSpy } from './fixtures.js';

const EXP = 0x6c;
const DEVCTL = EXP + R.PCI_EXP_DEVCTL;

const withPcie = (pcie: Record<string, unknown>): DeviceDecl => ({
  ...NVME,
  capabilities: [{ id: 'pcie', ...pcie }],
});

test('an Express v2 endpoint with the declared link and FLR advertised', () => {
  const cs = createConfigSpace(NVME);
  assert.equal(cs.findCapability(R.PCI_CAP_ID_EXP), EXP);
  const flags = cs.read(EXP + R.PCI_EXP_FLAGS, 2);
  assert.equal(flags & R.PCI_EXP_FLAGS_VERS, 2);
  assert.equal((flags & R.PCI_EXP_FLAGS_TYPE) >> 4, R.PCI_EXP_TYPE_ENDPOINT);
  const devcap = cs.read(EXP + R.PCI_EXP_DEVCAP, 4);
  assert.equal(devcap & R.PCI_EXP_DEVCAP_FLR, R.PCI_EXP_DEVCAP_FLR);
  assert.equal(devcap & R.PCI_EXP_DEVCAP_PAYLOAD, 2); // 512 bytes
  assert.equal(cs.read(EXP + R.PCI_EXP_LNKCAP, 4) & 0x3ff, 3 | (4 << 4));
  assert.equal(cs.read(EXP + R.PCI_EXP_LNKSTA, 2), 3 | (4 << 4));
  assert.equal(cs.read(EXP + R.PCI_EXP_LNKCAP2, 4), 0b1110);
  assert.equal(cs.capabilities.find((c) => c.id === R.PCI_CAP_ID_EXP)?.length, R.PCI_CAP_EXP_ENDPOINT_SIZEOF_V2);
  assert.equal(cs.flrCapable, true);
});

test('writing Initiate-FLR resets the function, tells the owner, and reads back 0', () => {
  const resets: string[] = [];
  const cs = createConfigSpace(NVME, { hooks: { onReset: (s) => resets.push(s) } });
  cs.write(0x10, 4, 0xfebf0000);
  cs.write(R.PCI_COMMAND, 2, R.PCI_COMMAND_MEMORY);
  cs.setMsiEnabled(1);
  cs.write(DEVCTL, 2, cs.read(DEVCTL, 2) | R.PCI_EXP_DEVCTL_BCR_FLR);
  assert.deepEqual(resets, ['pcie-flr']);
  assert.equal(cs.read(DEVCTL, 2) & R.PCI_EXP_DEVCTL_BCR_FLR, 0);
  assert.equal(cs.msi?.enabled, false, 'interrupts disabled by the reset');
  assert.equal(cs.read(0x10, 4), 0xfebf0004, 'BARs survive FLR');
  assert.equal(cs.memoryEnabled, true);
  // A byte write of the high byte triggers it too.
  cs.write(DEVCTL + 1, 1, R.PCI_EXP_DEVCTL_BCR_FLR >> 8);
  assert.deepEqual(resets, ['pcie-flr', 'pcie-flr']);
});

test('without FLR capability the bit is ignored and still reads 0', () => {
  const resets: string[] = [];
  const cs = createConfigSpace(withPcie({ flr: false }), { hooks: { onReset: (s) => resets.push(s) } });
  cs.write(0x40 + R.PCI_EXP_DEVCTL, 2, R.PCI_EXP_DEVCTL_BCR_FLR);
  assert.deepEqual(resets, []);
  assert.equal(cs.read(0x40 + R.PCI_EXP_DEVCTL, 2) & R.PCI_EXP_DEVCTL_BCR_FLR, 0);
  assert.equal(cs.flrCapable, false);
});

test('Max_Payload_Size and Max_Read_Request_Size are virtual and writable', () => {
  const { cs, spy } = withSpy(NVME);
  const v = (R.PCI_EXP_DEVCTL_PAYLOAD & (2 << 5)) | (5 << 12);
  cs.write(DEVCTL, 2, v);
  assert.equal(cs.read(DEVCTL, 2) & (R.PCI_EXP_DEVCTL_PAYLOAD | R.PCI_EXP_DEVCTL_READRQ), v);
  assert.equal(
    spy.read(DEVCTL, 2) & (R.PCI_EXP_DEVCTL_PAYLOAD | R.PCI_EXP_DEVCTL_READRQ),
    R.PCI_EXP_DEVCTL_READRQ_512B,
    'the device keeps its own',
  );
});

test('other Device Control bits pass through to the device, except Phantom Functions', () => {
  const { cs, spy } = withSpy(NVME);
  cs.write(DEVCTL, 2, 0xffff & ~R.PCI_EXP_DEVCTL_BCR_FLR);
  const ctl = cs.read(DEVCTL, 2);
  for (const bit of [
    R.PCI_EXP_DEVCTL_CERE,
    R.PCI_EXP_DEVCTL_NFERE,
    R.PCI_EXP_DEVCTL_FERE,
    R.PCI_EXP_DEVCTL_URRE,
    R.PCI_EXP_DEVCTL_EXT_TAG,
    R.PCI_EXP_DEVCTL_NOSNOOP_EN,
  ]) {
    assert.equal(ctl & bit, bit, `bit ${bit.toString(16)}`);
    assert.equal(spy.read(DEVCTL, 2) & bit, bit);
  }
  assert.equal(ctl & R.PCI_EXP_DEVCTL_PHANTOM, 0, 'phantom functions not writable');
  assert.equal(ctl & R.PCI_EXP_DEVCTL_AUX_PME, 0, 'aux power PM not implemented by the device');
});

test('Device Control 2 is writable except ARI forwarding; the device keeps what it implements', () => {
  const cs = createConfigSpace(withPcie({ devcap2: R.PCI_EXP_DEVCAP2_LTR | R.PCI_EXP_DEVCAP2_COMP_TMOUT_DIS | 0xf }));
  const at = 0x40 + R.PCI_EXP_DEVCTL2;
  cs.write(at, 2, 0xffff);
  assert.equal(cs.read(at, 2), R.PCI_EXP_DEVCTL2_LTR_EN | R.PCI_EXP_DEVCTL2_COMP_TMOUT_DIS | R.PCI_EXP_DEVCTL2_COMP_TIMEOUT);
  const plain = createConfigSpace(NVME);
  plain.write(EXP + R.PCI_EXP_DEVCTL2, 2, R.PCI_EXP_DEVCTL2_ARI);
  assert.equal(plain.read(EXP + R.PCI_EXP_DEVCTL2, 2), 0);
});

test('capabilities, status and link registers are read-only', () => {
  const cs = createConfigSpace(NVME);
  const before = cs.readBytes(EXP, 0x32);
  for (const off of [
    R.PCI_EXP_FLAGS,
    R.PCI_EXP_DEVCAP,
    R.PCI_EXP_LNKCAP,
    R.PCI_EXP_LNKCTL,
    R.PCI_EXP_DEVCAP2,
    R.PCI_EXP_LNKCAP2,
    R.PCI_EXP_LNKCTL2,
  ]) {
    cs.write(EXP + off, 2, 0xffff);
    if (off % 4 === 0) cs.write(EXP + off, 4, 0xffffffff);
  }
  cs.write(EXP + R.PCI_EXP_DEVSTA, 2, 0xffff);
  cs.write(EXP + R.PCI_EXP_LNKSTA, 2, 0xffff);
  assert.deepEqual(cs.readBytes(EXP, 0x32), before);
});

test('root-complex integrated endpoints have no link registers', () => {
  const cs = createConfigSpace(withPcie({ portType: 'rc-endpoint' }));
  const flags = cs.read(0x40 + R.PCI_EXP_FLAGS, 2);
  assert.equal((flags & R.PCI_EXP_FLAGS_TYPE) >> 4, R.PCI_EXP_TYPE_RC_END);
  assert.equal(cs.capabilities.find((c) => c.id === R.PCI_CAP_ID_EXP)?.length, R.PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V2);
  assert.equal(cs.read(0x40 + R.PCI_EXP_LNKCAP, 4), 0);
});
