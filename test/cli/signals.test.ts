// Ctrl-C and friends: whatever stop signal (SIGINT, SIGTERM, SIGHUP), once
// or twice, to the process or to its process group, `vfio-ts demo` and
// `vfio-ts serve` leave no process and no file behind. Each run gets its own
// folder (TMPDIR for the demo, the socket's folder for serve), so "nothing
// left" is: the folder is empty and no live process names it.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import { noProcessNaming, runDetached, type Detached } from './run-cli.js';

type Sig = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

function send(d: Detached, signal: Sig, toGroup: boolean): void {
  process.kill(toGroup ? -d.child.pid! : d.child.pid!, signal);
}

async function assertNothingLeft(dir: string, d: Detached, what: string): Promise<void> {
  await d.exited;
  const left = await noProcessNaming(dir);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  assert.deepEqual(left, [], `${what}: no process is left (output: ${d.output()})`);
  assert.deepEqual(readdirSync(dir), [], `${what}: no file is left`);
}

const DEMO_CASES: [Sig, number, boolean][] = [
  ['SIGINT', 1, false],
  ['SIGINT', 1, true],
  ['SIGINT', 2, true],
  ['SIGTERM', 1, false],
  ['SIGTERM', 2, false],
  ['SIGHUP', 1, true],
];

for (const [signal, times, toGroup] of DEMO_CASES) {
  test(`demo: ${signal} x${times} to the ${toGroup ? 'process group' : 'process'} leaves no server and no folder`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-sig-'));
    try {
      const d = runDetached(['demo'], { ...process.env, TMPDIR: dir });
      await d.waitFor(/server pid \d+/);
      for (let i = 0; i < times; i++) send(d, signal, toGroup);
      const { code } = await d.exited;
      assert.ok(code !== 0, 'an interrupted demo does not claim success');
      await assertNothingLeft(dir, d, `demo ${signal} x${times}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

const SERVE_CASES: [Sig, number, boolean][] = [
  ['SIGINT', 1, false],
  ['SIGINT', 2, false],
  ['SIGINT', 2, true],
  ['SIGTERM', 2, true],
  ['SIGHUP', 1, false],
  ['SIGHUP', 2, false],
];

for (const [signal, times, toGroup] of SERVE_CASES) {
  test(`serve with an owner that does not leave: ${signal} x${times} to the ${toGroup ? 'process group' : 'process'} removes both sockets`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-sig-'));
    const sock = join(dir, 'edu.sock');
    const d = runDetached(['serve', 'edu', '--socket', sock]);
    let dev;
    try {
      await d.waitFor(/serving edu/);
      dev = connectVfioUser(sock); // the owner: it ignores the REQ, so the server waits out its grace period
      send(d, signal, toGroup);
      await d.waitFor(/asking the owner to release/);
      if (times === 2) send(d, signal, toGroup); // during the grace period
      const { code, signal: killedBy } = await d.exited;
      assert.equal(killedBy, null, 'exits, is not killed by the signal');
      assert.equal(code, times === 2 ? 128 + { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[signal] : 0);
      assert.equal(existsSync(`${sock}.trace`), false);
      await assertNothingLeft(dir, d, `serve ${signal} x${times}`);
    } finally {
      try {
        dev?.close();
      } catch {
        // the server is gone
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
