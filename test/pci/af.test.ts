// PCI Advanced Features capability: FLR through AF control.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createConfigSpace, type DeviceDecl } from '../../src/pci/builder.js';
import * as R from '../../src/pci/regs.js';
import { EDU } from './fixtures.js';

const withAf = (af: Record<string, unknown> = {}): DeviceDecl => ({ ...EDU, capabilities: [{ id: 'msi' }, { id: 'af', ...af }] });

test('the capability advertises TP and FLR with its length', () => {
  const cs = createConfigSpace(withAf());
  const at = cs.findCapability(R.PCI_CAP_ID_AF)!;
  assert.equal(at, 0x50);
  assert.equal(cs.read(at + R.PCI_AF_LENGTH, 1), R.PCI_CAP_AF_SIZEOF);
  assert.equal(cs.read(at + R.PCI_AF_CAP, 1), R.PCI_AF_CAP_TP | R.PCI_AF_CAP_FLR);
  assert.equal(cs.flrCapable, true);
});

test('writing the FLR bit resets the function and reads back 0', () => {
  const resets: string[] = [];
  const cs = createConfigSpace(withAf(), { hooks: { onReset: (s) => resets.push(s) } });
  const at = cs.findCapability(R.PCI_CAP_ID_AF)!;
  cs.write(0x10, 4, 0xfe000000);
  cs.setMsiEnabled(1);
  cs.write(at + R.PCI_AF_CTRL, 1, R.PCI_AF_CTRL_FLR);
  assert.deepEqual(resets, ['af-flr']);
  assert.equal(cs.read(at + R.PCI_AF_CTRL, 1), 0);
  assert.equal(cs.msi?.enabled, false);
  assert.equal(cs.read(0x10, 4), 0xfe000000);
  // A dword write covering control and status works the same.
  cs.write(at + R.PCI_AF_CTRL, 2, 0xffff);
  assert.deepEqual(resets, ['af-flr', 'af-flr']);
  assert.equal(cs.read(at + R.PCI_AF_CTRL, 2), 0, 'status is read-only, control reads 0');
});

test('FLR needs both the FLR and TP capability bits', () => {
  for (const af of [{ tp: false }, { flr: false }]) {
    const resets: string[] = [];
    const cs = createConfigSpace(withAf(af), { hooks: { onReset: (s) => resets.push(s) } });
    const at = cs.findCapability(R.PCI_CAP_ID_AF)!;
    cs.write(at + R.PCI_AF_CTRL, 1, R.PCI_AF_CTRL_FLR);
    assert.deepEqual(resets, [], JSON.stringify(af));
    assert.equal(cs.read(at + R.PCI_AF_CTRL, 1), 0);
    assert.equal(cs.flrCapable, false);
  }
});

test('capability and length bytes are read-only', () => {
  const cs = createConfigSpace(withAf());
  const at = cs.findCapability(R.PCI_CAP_ID_AF)!;
  cs.write(at, 4, 0);
  assert.equal(cs.read(at, 4), (0x13 | (0 << 8) | (6 << 16) | (3 << 24)) >>> 0);
});
