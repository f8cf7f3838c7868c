// Failures a user meets, each as one clear message and exit 1 (never a stack
// trace, never the same hint twice): trace on a server that was killed or
// broke off, lspci on a file that is not a socket, unbind of a device that is
// not on vfio-pci (on a fake sysfs tree, never this machine's), and bench's
// --out checked before any work.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { unbind } from '../../src/kernel/bind.js';
import { fakeMachine } from '../kernel/fake-sysfs.js';
import { run, runDetached } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-fail-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const NO_STACK = /Unhandled| {4}at |node:internal/;

test('trace of a server that was killed: a message and exit 1', async () => {
  const sock = join(dir, 'killed.sock');
  const d = runDetached(['serve', 'edu', '--socket', sock]);
  await d.waitFor(/serving edu/);
  d.child.kill('SIGKILL');
  await d.exited;
  assert.ok(existsSync(`${sock}.trace`), 'a killed server leaves its trace socket file');
  const r = run(['trace', sock]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^vfio-ts: no trace socket: .*nothing listens on .*killed\.sock\.trace/);
  assert.doesNotMatch(r.stderr, NO_STACK);
});

test('trace of a stream carrying lines it cannot render (a hello without a device, not JSON): a note each, no crash', async () => {
  const tsock = join(dir, 'broken.sock.trace');
  const script = `const s=require('net').createServer(c=>{c.end('{"type":"hello"}\\n{"type":"config"}\\nnot json\\n')}).listen(${JSON.stringify(tsock)},()=>console.log('up'));process.on('SIGTERM',()=>{s.close();process.exit(0)})`;
  const peer = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((r) => peer.stdout!.once('data', r));
    const r = spawnSync(process.execPath, [fileURLToPath(new URL('../../src/cli/main.js', import.meta.url)), 'trace', tsock], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /unreadable trace line: \{"type":"hello"\}/);
    assert.match(r.stdout, /unreadable trace line: not json/);
    assert.match(r.stdout, /the server closed the trace/);
    assert.doesNotMatch(r.stderr + r.stdout, NO_STACK);
  } finally {
    peer.kill('SIGTERM');
  }
});

test('lspci on a regular file: "nothing is listening" once', () => {
  const f = join(dir, 'regular');
  writeFileSync(f, 'x');
  const r = run(['lspci', f]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.match(/nothing is listening/g)?.length, 1, r.stderr);
});

test('unbind refuses a device bound to another driver (saying which), unless forced; a vfio-pci device is unbound', () => {
  const m = fakeMachine();
  try {
    m.addDriver('vfio-pci');
    m.addDevice({ bdf: '0000:00:06.0', group: 3, driver: 'nvme' });
    m.addDevice({ bdf: '0000:00:04.0', group: 1, driver: 'vfio-pci' });
    const devFile = (bdf: string, f: string): string => join(m.paths.sys, 'devices', 'pci0000:00', bdf, f);
    const unbindFile = join(m.paths.sys, 'bus', 'pci', 'drivers', 'nvme', 'unbind');
    assert.throws(
      () => unbind('0000:00:06.0', { paths: m.paths }),
      (e: Error & { code?: string }) => e.code === 'EBUSY' && /0000:00:06\.0 is bound to nvme, not to vfio-pci: refusing/.test(e.message),
    );
    assert.equal(readFileSync(devFile('0000:00:06.0', 'driver_override'), 'utf8'), '(null)\n', 'nothing was written');
    assert.equal(readFileSync(unbindFile, 'utf8'), '');
    const forced = unbind('0000:00:06.0', { paths: m.paths, force: true });
    assert.equal(forced.previousDriver, 'nvme');
    assert.equal(readFileSync(unbindFile, 'utf8'), '0000:00:06.0');
    assert.equal(unbind('0000:00:04.0', { paths: m.paths }).previousDriver, 'vfio-pci');
  } finally {
    m.cleanup();
  }
});

test('bench: a --out in a missing folder is refused (exit 2, naming --out) before any benchmark runs', () => {
  const runJs = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
  const r = spawnSync(process.execPath, [runJs, '--out', join(dir, 'no', 'such', 'chart.svg')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^bench: --out .*chart\.svg: the folder .*no\/such does not exist/);
  assert.doesNotMatch(r.stderr, /building the C ping-pong/, 'nothing ran');
  const bad = spawnSync(process.execPath, [runJs, '--quik'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--quik/);
});
