// Runs an example (compiled to out/examples/) as a user would: a child
// process with a deadline. The examples import the package by name
// ('vfio-ts/...'), which resolves through package.json `exports` to dist/.

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Runs out/examples/<name>.js with `args`; killed after `timeoutMs`. */
export function runExample(name: string, args: string[] = [], timeoutMs = 30_000): SpawnSyncReturns<string> {
  const file = fileURLToPath(new URL(`../../examples/${name}.js`, import.meta.url));
  return spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout: timeoutMs });
}
