// examples/custom-device.ts: a device written from scratch, served in a
// worker, answers its registers and raises its MSI; the program exits by itself.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runExample } from './run-example.js';

test('examples/custom-device runs and exits 0', { timeout: 40_000 }, () => {
  const r = runExample('custom-device');
  assert.equal(r.signal, null, `killed at the deadline: ${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'device 1234:d0b1',
    'id 0xd0b1e001',
    'scratch 0xcafe',
    'doorbell 21 -> interrupt, result 42',
    'ok',
  ]);
});
