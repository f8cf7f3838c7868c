// PCI address parsing (src/vfio/bdf.ts): what sysfs names, what users type,
// and what is refused with EINVAL.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrnoError } from '../../src/errors.js';
import { formatBdf, normalizeBdf, parseBdf } from '../../src/kernel/bdf.js';

test('bdf: full, short, upper-case and wide-domain addresses', () => {
  assert.deepEqual(parseBdf('0000:00:04.0'), { domain: 0, bus: 0, device: 4, function: 0 });
  assert.deepEqual(parseBdf('3a:1f.7'), { domain: 0, bus: 0x3a, device: 0x1f, function: 7 });
  assert.equal(normalizeBdf('00:05.0'), '0000:00:05.0');
  assert.equal(normalizeBdf('0000:3A:00.1'), '0000:3a:00.1');
  assert.equal(normalizeBdf(' 0000:00:04.0\n'), '0000:00:04.0', 'surrounding blanks (from a file) are forgiven');
  assert.equal(normalizeBdf('10000:e1:00.0'), '10000:e1:00.0', 'VMD domains keep five digits');
  assert.equal(formatBdf({ domain: 1, bus: 2, device: 3, function: 4 }), '0001:02:03.4');
});

test('bdf: malformed addresses are EINVAL', () => {
  for (const bad of [
    '',
    '00:04',
    '0000:00:04',
    'zz:00.0',
    '0000:00:20.0',
    '0000:00:04.8',
    '0000:100:00.0',
    '0000:00:04.0.1',
    '/dev/vfio/1',
    'vfio0',
  ]) {
    assert.throws(
      () => parseBdf(bad),
      (e: unknown) => e instanceof ErrnoError && e.code === 'EINVAL' && e.errno === 22,
      JSON.stringify(bad),
    );
  }
  assert.throws(
    () => parseBdf(4 as unknown as string),
    (e: unknown) => e instanceof ErrnoError && e.code === 'EINVAL',
  );
});
