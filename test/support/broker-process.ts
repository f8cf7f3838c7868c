// Runs `vfio-ts broker ... --json` as a child process and follows the JSON
// lines it prints (the broker's events), for tests on the host (a broker in
// front of a model's vfio-user server) and in the guest (a broker as root in
// front of QEMU's devices, clients as another user).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface BrokerEventLine {
  event: string;
  [key: string]: unknown;
}

export interface BrokerProcess {
  child: ChildProcess;
  events: BrokerEventLine[];
  stderr: string[];
  /** Resolves with the first event (counting from the start) that `match` accepts. */
  waitFor(match: (e: BrokerEventLine) => boolean, what: string, timeoutMs?: number): Promise<BrokerEventLine>;
  /** Client events of one type ('owner', 'refused', 'busy', 'released', ...). */
  clientEvents(type: string): BrokerEventLine[];
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Starts the broker with `args` (after `broker`; --json is added) and waits until it serves `socket`. */
export async function startBroker(args: string[], socket: string, options: { prefix?: string[] } = {}): Promise<BrokerProcess> {
  const argv = [...(options.prefix ?? []), process.execPath, CLI, 'broker', ...args, '--json'];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: BrokerEventLine[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as BrokerEventLine);
    } catch {
      stderr.push(`(stdout) ${line}`);
    }
    for (const w of [...waiters]) w();
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    for (const w of [...waiters]) w();
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
    for (const w of [...waiters]) w();
  });
  const waitFor = (match: (e: BrokerEventLine) => boolean, what: string, timeoutMs = 10_000): Promise<BrokerEventLine> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = events.find(match);
        if (hit) {
          cleanup();
          resolve(hit);
        } else if (exited) {
          cleanup();
          reject(new Error(`the broker exited (${child.exitCode ?? child.signalCode}) before ${what}; stderr: ${stderr.join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(events)}; stderr: ${stderr.join('\n')}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  await waitFor((e) => e.event === 'ready', 'the ready line');
  if (!existsSync(socket)) throw new Error(`the broker said ready but ${socket} does not exist`);
  return {
    child,
    events,
    stderr,
    waitFor,
    clientEvents: (type) => events.filter((e) => e.event === 'client' && (e.client as { type?: string } | undefined)?.type === type),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await done;
      clearTimeout(t);
      return code;
    },
  };
}
