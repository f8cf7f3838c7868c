// The vfio-ts command, run as a user would run it.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startServerChild } from '../../src/cli/demo.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const hasLspci = spawnSync('lspci', ['--version']).status === 0;

function run(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('demo (npm start): serves the NVMe model, drives it, verifies the data, exits 0', () => {
  const r = run(['demo'], 120_000);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /protocol 0\.2/);
  assert.match(r.stdout, /Non-Volatile memory controller/);
  assert.match(r.stdout, /1 MiB written at LBA 2048 and read back: identical/);
  assert.match(r.stdout, /NVME_LBA_OUT_OF_RANGE/);
  assert.match(r.stdout, /BAR0 programming kept across the reset: yes/);
  assert.match(r.stdout, /after the reset, the 1 MiB reads back identical/);
  assert.match(r.stdout, /IOPS, 0 errors\n {3}\(a polled figure: .*depends on how many CPUs are free/);
  assert.match(r.stdout, /\ndemo passed in \d+\.\d s: .*1 MiB written and read back identical.*\n$/);
});

test('serve + lspci: the decoded config space, regions and IRQs of a served device; SIGTERM removes the socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-cli-'));
  const socket = join(dir, 'edu.sock');
  const child = await startServerChild('edu', socket);
  try {
    const r = run(['lspci', socket]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /1234:11e8|Device 1234:11e8|0x1234/);
    assert.match(r.stdout, /Region 0 \(BAR0\): size 0x100000 rw/);
    assert.match(r.stdout, /IRQ 1 \(MSI\): count 1/);
    assert.match(r.stdout, /MSI: Enable- Count=1\/1/);
    if (hasLspci) {
      const dump = run(['lspci', socket, '--dump']);
      assert.equal(dump.status, 0, dump.stderr);
      const f = join(dir, 'dump');
      writeFileSync(f, dump.stdout);
      const ls = spawnSync('lspci', ['-F', f, '-vvv', '-nn'], { encoding: 'utf8' });
      assert.equal(ls.status, 0, ls.stderr);
      assert.match(ls.stdout, /\[1234:11e8\]/);
      assert.match(ls.stdout, /MSI: Enable- Count=1\/1 Maskable- 64bit\+/);
    }
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    assert.equal(existsSync(socket), false, 'the socket file is removed on SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('errors for people: no such socket, not a vfio-user peer, a busy device, bad usage', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-cli-'));
  try {
    const none = run(['lspci', join(dir, 'absent.sock')]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no such socket: is the server running\?/);

    // A socket whose peer speaks something else.
    const bogus = join(dir, 'bogus.sock');
    const script = `const s=require('net').createServer(c=>{c.on('data',()=>c.write(Buffer.alloc(64,0xff)))}).listen(${JSON.stringify(bogus)});process.on('SIGTERM',()=>{s.close();process.exit(0)})`;
    const peer = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !existsSync(bogus); i++) await new Promise((r) => setTimeout(r, 10));
    const wrong = run(['lspci', bogus]);
    peer.kill('SIGTERM');
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /vfio-user/);

    const socket = join(dir, 'edu.sock');
    const child = await startServerChild('edu', socket);
    try {
      // Hold the device from a second process, then ask lspci.
      const holder = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { connectVfioUser } from ${JSON.stringify(new URL('../../src/client/vfio-user/backend.js', import.meta.url).href)};
         const d = connectVfioUser(${JSON.stringify(socket)}); process.stdout.write('held\\n'); setTimeout(() => d.close(), 30000);`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise((r) => holder.stdout!.once('data', r));
      const busy = run(['lspci', socket]);
      holder.kill();
      assert.equal(busy.status, 1);
      assert.match(busy.stderr, /EBUSY|busy/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }

    assert.equal(run(['frobnicate']).status, 2);
    assert.match(run(['serve', 'edu']).stderr, /--socket/);
    assert.match(run(['serve', 'toaster', '--socket', join(dir, 'x.sock')]).stderr, /unknown device model 'toaster'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
