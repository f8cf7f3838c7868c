// examples/edu-device-and-driver.ts runs to its end: the model in a worker
// answers the driver's registers, MSI and DMA, and the program exits by itself.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runExample } from './run-example.js';

test('examples/edu-device-and-driver runs and exits 0', { timeout: 40_000 }, () => {
  const r = runExample('edu-device-and-driver');
  assert.equal(r.signal, null, `killed at the deadline: ${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0] ?? '', /^edu 1\.0 on .*edu\.sock, alive: true$/);
  assert.equal(lines[1], '10! = 3628800 (completed by MSI)');
  assert.equal(lines[2], 'DMA round trip of 43 bytes: hello from the driver, through edu and back');
  assert.equal(lines.at(-1), 'ok');
});
