// Starts a device model's vfio-user server in a child process (see
// serve-child.ts) and stops it again.

import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface ChildServer {
  path: string;
  child: ChildProcess;
  /** Client events the server reported ('connect', 'owner', 'disconnect', 'released', ...). */
  events: string[];
  /** Resolves when the server reported `type` (counting from the start). */
  waitEvent(type: string, nth?: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const ENTRY = fileURLToPath(new URL('./serve-child.js', import.meta.url));

/**
 * Serves `exportName` of the compiled module at `modulePath` (relative to
 * dist/, e.g. 'test/server/fixtures/test-device.js') on a fresh socket.
 */
export async function startChildServer(
  modulePath: string,
  exportName: string,
  options: { model?: unknown; server?: Record<string, unknown> } = {},
): Promise<ChildServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-srv-'));
  const path = join(dir, 'device.sock');
  const url = pathToFileURL(fileURLToPath(new URL(`../../${modulePath}`, import.meta.url))).href;
  const child = fork(ENTRY, [url, exportName, path, JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const events: string[] = [];
  const waiters: (() => void)[] = [];
  child.on('message', (m: { event?: string; type?: string }) => {
    if (m.event === 'client' && m.type) {
      events.push(m.type);
      for (const w of waiters.splice(0)) w();
    }
  });
  await new Promise<void>((resolve, reject) => {
    const onMsg = (m: { ready?: boolean; error?: string }): void => {
      if (m.ready) resolve();
      else if (m.error) reject(new Error(`server child failed: ${m.error}`));
    };
    child.on('message', onMsg);
    child.once('exit', (code) => reject(new Error(`server child exited with ${code} before it was ready`)));
  });
  const waitEvent = (type: string, nth = 1, timeoutMs = 5000): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not report '${type}' x${nth} (saw ${events.join(', ')})`)), timeoutMs);
      const check = (): void => {
        if (events.filter((e) => e === type).length >= nth) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.send('stop');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { path, child, events, waitEvent, stop };
}
