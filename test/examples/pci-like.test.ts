// examples/pci-like.ts: MSI enabled by config writes through the PCI-like
// view, an interrupt raised by the device comes back with the programmed
// message; the program exits by itself.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runExample } from './run-example.js';

test('examples/pci-like runs and exits 0', { timeout: 40_000 }, () => {
  const r = runExample('pci-like');
  assert.equal(r.signal, null, `killed at the deadline: ${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'MSI capability at 0x40 enabled, mode msi',
    'interrupt: msi vector 0, address 0xfee00000, data 0x41',
    'status 0x1',
    'acknowledged, status 0x0',
    'ok',
  ]);
});
