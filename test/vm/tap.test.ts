// The TAP reader of the guest suite (test/vm/tap.ts), on output of Node's own
// TAP reporter: nesting, YAML blocks, skips, diagnostics, the summary.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTap } from './tap.js';

const SAMPLE = `TAP version 13
# Subtest: one
ok 1 - one
  ---
  duration_ms: 2.476427
  ...
# Subtest: two
    # Subtest: sub a
    ok 1 - sub a
      ---
      duration_ms: 0.35146
      ...
    # sub a said this
    # Subtest: sub b
    not ok 2 - sub b
      ---
      duration_ms: 0.839145
      error: |-
        boom
        line2
      code: 'ERR_TEST_FAILURE'
      ...
    1..2
not ok 2 - two
  ---
  duration_ms: 2.516322
  error: '1 subtest failed'
  ...
# Subtest: three (SKIPPED: why not)
ok 3 - three (SKIPPED: why not) # SKIP why not
  ---
  duration_ms: 0.233298
  ...
# Subtest: four \\# with a hash
ok 4 - four \\# with a hash
  ---
  duration_ms: 0.323727
  ...
# hello diag
# IOMMU: page sizes 0x40201000
1..4
# tests 6
# suites 0
# pass 3
# fail 2
# skipped 1
# duration_ms 352.139822
`;

test('tap: test points, nesting, YAML, skips, escapes, diagnostics and summary', () => {
  const r = parseTap(SAMPLE);
  assert.deepEqual(
    r.tests.map((t) => [t.name, t.ok, t.skip]),
    [
      ['one', true, undefined],
      ['two', false, undefined],
      ['three (SKIPPED: why not)', true, 'why not'],
      ['four # with a hash', true, undefined],
    ],
  );
  const two = r.tests[1]!;
  assert.deepEqual(
    two.subtests.map((s) => [s.name, s.ok]),
    [
      ['sub a', true],
      ['sub b', false],
    ],
  );
  assert.deepEqual(two.subtests[0]!.diagnostics, ['sub a said this']);
  assert.match(two.subtests[1]!.yaml, /error: \|-\n {2}boom\n {2}line2/);
  assert.match(two.yaml, /1 subtest failed/);
  assert.deepEqual(r.tests[3]!.diagnostics, ['hello diag', 'IOMMU: page sizes 0x40201000']);
  assert.equal(r.summary.tests, 6);
  assert.equal(r.summary.fail, 2);
  assert.equal(r.summary.duration_ms, 352.139822);
});

test('tap: empty and truncated output', () => {
  assert.deepEqual(parseTap('').tests, []);
  const r = parseTap('TAP version 13\n# Subtest: a\nnot ok 1 - a\n  ---\n  error: cut');
  assert.equal(r.tests.length, 1);
  assert.equal(r.tests[0]!.ok, false);
  assert.match(r.tests[0]!.yaml, /error: cut/);
  assert.equal(parseTap('Bail out! no guest\n').bailOut, 'no guest');
});
