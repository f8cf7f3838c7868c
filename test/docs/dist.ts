// The package as a user gets it is dist/ (package.json `exports`); tests that
// check against it build it when it is missing or older than a source file.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function newestSource(root: string): number {
  let newest = statSync(join(root, 'tsconfig.json')).mtimeMs;
  for (const f of readdirSync(join(root, 'src'), { recursive: true }) as string[]) {
    if (f.endsWith('.ts')) newest = Math.max(newest, statSync(join(root, 'src', f)).mtimeMs);
  }
  return newest;
}

/** Builds dist/ (`tsc -p .`) unless it is there and newer than every source; throws saying why it could not. */
export function ensureDist(root: string): void {
  const marker = join(root, 'dist', 'index.d.ts');
  const fresh = () => existsSync(marker) && statSync(marker).mtimeMs >= newestSource(root);
  if (fresh()) return;
  // Test files run in parallel: one builds, the others wait for it, so that none reads a half-written dist/.
  const lock = join(tmpdir(), `vfio-ts-dist-${createHash('sha256').update(root).digest('hex').slice(0, 12)}.lock`);
  const deadline = Date.now() + 240_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (Date.now() > deadline) throw new Error(`dist/ is being built by another test for too long (lock ${lock}; remove it if stale)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!fresh()) build(root, marker);
  } finally {
    rmdirSync(lock);
  }
}

function build(root: string, marker: string): void {
  const r = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: root, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0 || !existsSync(marker)) {
    throw new Error(`dist/ is missing or stale and \`tsc -p .\` could not build it (status ${r.status}):\n${r.stdout}${r.stderr}`);
  }
}
