// The tree keeps one style: Biome (biome.json) formats and lints every
// TypeScript file the project owns, and `npm run lint` is the same check.
// The second test shows the check is live on a file that breaks both.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)); // out/test/architecture -> checkout
const BIOME = join(ROOT, 'node_modules', '.bin', 'biome');

function check(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(BIOME, ['check', '--colors=off', '--max-diagnostics=20'], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('the tree passes the formatter and the linter (biome check)', { timeout: 90_000 }, () => {
  const r = check(ROOT);
  assert.equal(r.status, 0, `run \`npx biome check --write\` and fix what is left:\n${r.out}`);
});

test('the style check refuses a badly formatted file and a lint error', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-style-'));
  try {
    copyFileSync(join(ROOT, 'biome.json'), join(dir, 'biome.json'));
    mkdirSync(join(dir, 'src'));
    writeFileSync(
      join(dir, 'src', 'bad.ts'),
      'export   const  x = ( 1 );\nexport function f(a: number) { if (a == 1) debugger; return a }\n',
    );
    const r = check(dir);
    assert.notEqual(r.status, 0, r.out);
    assert.match(r.out, /format/i, 'the formatter objects');
    assert.match(r.out, /noDebugger|noDoubleEquals/, 'the linter objects');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
