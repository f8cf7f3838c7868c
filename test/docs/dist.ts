// The package as a user gets it is dist/ (package.json `exports`); tests that
// check against it build it when it is missing or older than a source file.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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
  if (existsSync(marker) && statSync(marker).mtimeMs >= newestSource(root)) return;
  const r = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: root, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0 || !existsSync(marker)) {
    throw new Error(`dist/ is missing or stale and \`tsc -p .\` could not build it (status ${r.status}):\n${r.stdout}${r.stderr}`);
  }
}
