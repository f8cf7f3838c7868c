// Shared helpers of the system-layer tests: fd counting (leak checks through
// /proc/self/fd), O_CLOEXEC inspection, temporary paths and child processes.

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** URL of the compiled src/sys index, for child processes and workers. */
export const SYS_URL = new URL('../../src/sys/index.js', import.meta.url).href;
export const ERRORS_URL = new URL('../../src/errors.js', import.meta.url).href;
export const SYS_PATH = fileURLToPath(SYS_URL);

/** Number of open fds of this process. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Whether fd is open. */
export function isOpen(fd: number): boolean {
  try {
    readFileSync(`/proc/self/fdinfo/${fd}`);
    return true;
  } catch {
    return false;
  }
}

/** Whether fd has O_CLOEXEC (from /proc/self/fdinfo). */
export function isCloexec(fd: number): boolean {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const m = /^flags:\s+([0-7]+)/m.exec(info);
  if (!m) throw new Error(`no flags in fdinfo of ${fd}`);
  return (parseInt(m[1]!, 8) & 0o2000000) !== 0;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-sys-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Whether [address, address + 1) lies in a mapping listed in /proc/self/maps. */
export function isMapped(address: bigint): boolean {
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (m && address >= BigInt(`0x${m[1]}`) && address < BigInt(`0x${m[2]}`)) return true;
  }
  return false;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/**
 * Runs an ES module snippet in a child node process (SYS_URL is available to
 * it as the `sys` import). Kills it after timeoutMs and reports that.
 */
export function runChild(code: string, options: { timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<ChildResult> {
  const source = `import * as sys from ${JSON.stringify(SYS_URL)};\nimport * as errors from ${JSON.stringify(ERRORS_URL)};\n${code}`;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--input-type=module', '-e', source], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 5000);
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ code: exitCode, signal, stdout, stderr, ms: Date.now() - started, timedOut });
    });
  });
}

/** Resolves after ms. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves on the first emission of `event`. */
export function once<T = void>(emitter: { once(event: string, cb: (arg: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve));
}
