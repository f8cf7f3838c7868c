// Device Serial Number: a read-only 64-bit serial after the extended header.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace } from '../../src/pci/builder.js';
import { dsnSerial } from '../../src/pci/caps/dsn.js';
import * as R from '../../src/pci/regs.js';
import { NVME, errorWith } from './fixtures.js';

test('the serial number reads as two little-endian dwords, lower first', () => {
  const cs = createConfigSpace(NVME);
  const at = cs.findExtendedCapability(R.PCI_EXT_CAP_ID_DSN)!;
  assert.equal(at, 0x12c);
  const hdr = cs.read(at, 4);
  assert.equal(R.PCI_EXT_CAP_ID(hdr), R.PCI_EXT_CAP_ID_DSN);
  assert.equal(R.PCI_EXT_CAP_VER(hdr), 1);
  assert.equal(R.PCI_EXT_CAP_NEXT(hdr), 0);
  assert.equal(cs.read(at + 4, 4), 0x44556677);
  assert.equal(cs.read(at + 8, 4), 0x00112233);
  assert.equal(dsnSerial(cs.read(at + 4, 4), cs.read(at + 8, 4)), 0x0011223344556677n);
});

test('the capability is read-only', () => {
  const cs = createConfigSpace(NVME);
  const at = cs.findExtendedCapability(R.PCI_EXT_CAP_ID_DSN)!;
  const before = cs.readBytes(at, 12);
  cs.writeBytes(at, new Uint8Array(12).fill(0xaa));
  assert.deepEqual(cs.readBytes(at, 12), before);
});

test('a serial outside 64 bits is refused', () => {
  assert.throws(
    () => createConfigSpace({ ...NVME, extendedCapabilities: [{ id: 'dsn', serial: 1n << 64n }] }),
    errorWith('EINVAL', 'bad-value'),
  );
  assert.throws(() => createConfigSpace({ ...NVME, extendedCapabilities: [{ id: 'dsn', serial: -1n }] }), errorWith('EINVAL', 'bad-value'));
});
