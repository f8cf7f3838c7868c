// ConfigSpace.permissions(): the permission model's masks, as tools show them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace } from '../../src/pci/index.js';

test('permissions() reports the kernel-model virt/write masks per register, and refuses out-of-range', () => {
  const cs = createConfigSpace({
    vendorId: 0x1234,
    deviceId: 0x5678,
    classCode: 0xff0000,
    bars: [{ kind: 'mem32', size: 4096 }],
    capabilities: [{ id: 'msi', vectors: 1 }],
  });
  assert.deepEqual(cs.permissions(0x00, 2), { virt: 0xffff, write: 0 });
  assert.deepEqual(cs.permissions(0x04, 2), { virt: 0x0400, write: 0xffff }, 'COMMAND: INTx disable virtual, all writable');
  assert.equal(cs.permissions(0x06, 2).write, 0, 'STATUS read-only');
  assert.equal(cs.permissions(0x10, 4).virt, 0xffffffff, 'BARs fully virtual');
  assert.deepEqual(cs.permissions(0x3c, 1), { virt: 0xff, write: 0xff }, 'interrupt line virtual RW');
  assert.deepEqual(cs.permissions(0x3d, 1), { virt: 0xff, write: 0 }, 'interrupt pin virtual RO');
  const msi = cs.findCapability(0x05)!;
  assert.equal(cs.permissions(msi, 1).write, 0, 'capability ID read-only');
  assert.throws(() => cs.permissions(255, 2), { code: 'EINVAL' });
});
