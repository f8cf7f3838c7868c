// Running the vfio-ts command as a user would, for the CLI tests: to the end
// (spawnSync), or detached in its own process group to be signalled; and
// what it left behind (processes whose command line names a path).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(args: string[], options: { timeout?: number; env?: NodeJS.ProcessEnv } = {}): Ran {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    timeout: options.timeout ?? 60_000,
    ...(options.env ? { env: options.env } : {}),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The command in its own process group, with its output collected. */
export interface Detached {
  child: ChildProcess;
  output: () => string;
  /** Resolves once the output matches `re` (rejects when it exits first or after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runDetached(args: string[], env?: NodeJS.ProcessEnv): Detached {
  const child = spawn(process.execPath, [MAIN, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  let out = '';
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => out,
    exited,
    waitFor(re, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in: ${out}`)), ms);
        const check = (): void => {
          if (re.test(out)) {
            clearTimeout(t);
            resolve();
          }
        };
        waiters.push(check);
        void exited.then(() => {
          if (!re.test(out)) {
            clearTimeout(t);
            reject(new Error(`exited before ${re}: ${out}`));
          }
        });
        check();
      });
    },
  };
}

/** Pids of live processes (zombies have no command line) whose command line contains `text`. */
export function processesNaming(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Waits (up to `ms`) until no process names `text`; returns those still there. */
export async function noProcessNaming(text: string, ms = 10_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = processesNaming(text);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}
