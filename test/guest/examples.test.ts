// The examples that need a real device, run in the guest as a user would run
// them: examples/kernel-driver.ts on QEMU's edu through /dev/vfio.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EDU, guestTest } from './helpers.js';

const example = fileURLToPath(new URL('../../examples/kernel-driver.js', import.meta.url));

guestTest('examples/kernel-driver drives QEMU’s edu: factorial by MSI, DMA round trip, exit 0', { timeout: 60_000 }, () => {
  const r = spawnSync(process.execPath, [example, EDU], { encoding: 'utf8', timeout: 50_000 });
  assert.equal(r.signal, null, `killed at the deadline: ${r.stdout}${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], `edu 1.0 at ${EDU}, alive: true`);
  assert.equal(lines[1], '10! = 3628800 (completed by MSI)');
  assert.equal(lines[2], 'DMA round trip of 32 bytes: hello through the IOMMU and back');
  assert.equal(lines.at(-1), 'ok');
});
