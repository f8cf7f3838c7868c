// Serves a device model over vfio-user from a child process, for tests that
// drive it with the (synchronous) Driver API: the client blocks its thread on
// every region access, so the server must not share its event loop.
//
//   const srv = await serveEduInChild();
//   const dev = connectVfioUser(srv.path);
//   ...
//   await srv.close();
//
// The child reports the server's warnings and client events as JSON lines;
// they are collected in `warnings` and `events`.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { EduOptions } from '../../src/devices/edu.js';

export interface ChildServer {
  /** The socket to connect to. */
  path: string;
  child: ChildProcess;
  /** Server warnings seen so far ({code, message}). */
  warnings: { code: string; message: string }[];
  /** Client events seen so far. */
  events: { type: string; [k: string]: unknown }[];
  /** Resolves when a warning with `code` has been seen (or rejects after `timeoutMs`). */
  waitWarning(code: string, timeoutMs?: number): Promise<{ code: string; message: string }>;
  /** Stops the child (SIGTERM, then SIGKILL) and removes the socket directory. */
  close(): Promise<void>;
}

const CHILD = new URL('./edu-server.child.js', import.meta.url);

export async function serveEduInChild(options: Omit<EduOptions, 'dmaMask'> = {}): Promise<ChildServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-edu-'));
  const path = join(dir, 'edu.sock');
  const child = spawn(process.execPath, [CHILD.pathname, path, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const warnings: ChildServer['warnings'] = [];
  const events: ChildServer['events'] = [];
  const waiters = new Set<() => void>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`edu server child exited before it was ready (${code ?? signal})`)));
    child.once('error', reject);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: { ready?: boolean; warning?: { code: string; message: string }; client?: { type: string } };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (msg.ready) resolve();
      if (msg.warning) warnings.push(msg.warning);
      if (msg.client) events.push(msg.client);
      for (const w of [...waiters]) w();
    });
  });
  try {
    await ready;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    path,
    child,
    warnings,
    events,
    waitWarning(code, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const w = warnings.find((x) => x.code === code);
          if (!w) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(w);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no '${code}' warning within ${timeoutMs} ms (seen: ${warnings.map((w) => w.code).join(', ') || 'none'})`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    close() {
      closed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(kill);
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
