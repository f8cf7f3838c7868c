// Vendor-specific capability: declared bytes, read-only unless a write mask says otherwise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace } from '../../src/pci/builder.js';
import { ConfigSpace } from '../../src/pci/config-space.js';
import * as R from '../../src/pci/regs.js';
import { EDU, errorWith, withSpy } from './fixtures.js';

test('declared bytes follow the ID/next/length header and are read-only by default', () => {
  const cs = createConfigSpace({ ...EDU, capabilities: [{ id: 'vendor', data: [0xde, 0xad, 0xbe, 0xef, 0x01] }] });
  const at = cs.findCapability(R.PCI_CAP_ID_VNDR)!;
  assert.deepEqual(Array.from(cs.readBytes(at, 8)), [0x09, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef, 0x01]);
  cs.writeBytes(at, new Uint8Array(8));
  assert.deepEqual(Array.from(cs.readBytes(at, 8)), [0x09, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef, 0x01]);
});

test('a declared write mask makes those bits writable through to the device', () => {
  const { cs, spy } = withSpy({ ...EDU, capabilities: [{ id: 'vendor', data: [0, 0, 0, 0], writeMask: [0xff, 0x0f, 0, 0x80] }] });
  const at = cs.findCapability(R.PCI_CAP_ID_VNDR)!;
  cs.writeBytes(at + 3, Uint8Array.of(0x12, 0xff, 0xff, 0xff));
  assert.deepEqual(Array.from(cs.readBytes(at + 3, 4)), [0x12, 0x0f, 0x00, 0x80]);
  assert.deepEqual(Array.from(spy.bytes.subarray(at + 3, at + 7)), [0x12, 0x0f, 0x00, 0x80]);
  cs.write(at, 4, 0xffffffff);
  assert.equal(cs.read(at, 2), 0x0009, 'ID and next are not writable');
  assert.equal(cs.read(at + 2, 1), 7, 'length is not writable');
});

test('several vendor capabilities may coexist; a mask of the wrong length is refused', () => {
  const cs = createConfigSpace({
    ...EDU,
    capabilities: [
      { id: 'vendor', data: [1] },
      { id: 'vendor', data: [2] },
    ],
  });
  assert.deepEqual(
    cs.capabilities.map((c) => [c.id, c.offset]),
    [
      [9, 0x40],
      [9, 0x44],
    ],
  );
  assert.throws(
    () => createConfigSpace({ ...EDU, capabilities: [{ id: 'vendor', data: [1, 2], writeMask: [1] }] }),
    errorWith('EINVAL', 'bad-value'),
  );
});

test('a vendor capability from a raw space is writable raw, as the kernel does', () => {
  const raw = new Uint8Array(256);
  raw.set([0x34, 0x12, 0x01, 0x00], 0);
  raw[R.PCI_STATUS] = R.PCI_STATUS_CAP_LIST;
  raw[R.PCI_CAPABILITY_LIST] = 0x80;
  raw.set([0x09, 0x00, 0x08, 1, 2, 3, 4, 5], 0x80);
  const cs = ConfigSpace.fromRaw(raw);
  cs.writeBytes(0x83, Uint8Array.of(9, 8, 7, 6, 5));
  assert.deepEqual(Array.from(cs.readBytes(0x80, 8)), [0x09, 0x00, 0x08, 9, 8, 7, 6, 5]);
});
