// The layer map (.dependency-cruiser.cjs, docs/architecture.md) holds for src/:
// no import from a layer above, siblings apart, no cycle. The second test
// shows the check is live: a tree with one upward import and one cycle fails it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)); // out/test/architecture -> checkout
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');

function cruise(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(DEPCRUISE, ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('src/ keeps the layer map: no upward import, no sibling import, no cycle', { timeout: 150_000 }, () => {
  const r = cruise(ROOT);
  assert.equal(r.status, 0, r.out);
});

test('the layer check refuses an upward import, a sibling import and a cycle', { timeout: 150_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-layers-'));
  try {
    copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src'] }),
    );
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    const files: Record<string, string> = {
      'src/protocol/codec.ts': "import type { Backend } from '../kernel/backend.js';\nexport const codec = (b: Backend) => b;\n",
      'src/kernel/backend.ts': 'export interface Backend { fd: number }\n',
      'src/client/a.ts': "import { b } from './b.js';\nimport { s } from '../server/s.js';\nexport const a = () => b + s;\n",
      'src/client/b.ts': "import { a } from './a.js';\nexport const b = 1; export const c = a;\n",
      'src/server/s.ts': 'export const s = 2;\n',
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    const r = cruise(dir);
    assert.notEqual(r.status, 0, r.out);
    assert.match(r.out, /layer-protocol/);
    assert.match(r.out, /apart-client-server/);
    assert.match(r.out, /no-cycle/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
