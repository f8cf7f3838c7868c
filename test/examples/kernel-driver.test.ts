// examples/kernel-driver.ts on this machine: only its usage errors (it would
// open a real device; the guest suite runs it on QEMU's edu:
// test/guest/examples.test.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runExample } from './run-example.js';

test('examples/kernel-driver without a PCI address: usage, exit 2', { timeout: 20_000 }, () => {
  const r = runExample('kernel-driver', [], 15_000);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^kernel-driver: expected one PCI address\nusage: node kernel-driver\.js </);
  assert.equal(r.stdout, '');
});

test('examples/kernel-driver with a malformed PCI address: refused before any open, exit 2', { timeout: 20_000 }, () => {
  const r = runExample('kernel-driver', ['00:zz.9'], 15_000);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /bad PCI address "00:zz\.9"/);
});
