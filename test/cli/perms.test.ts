// vfio-ts lspci --perms against a served edu device.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startServerChild } from '../../src/cli/demo.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('lspci --perms: writable bits per register, probed and restored; actions not probed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-perms-'));
  const socket = join(dir, 'edu.sock');
  const child = await startServerChild('edu', socket);
  try {
    const before = run(['lspci', socket, '--dump']);
    const r = run(['lspci', socket, '--perms']);
    assert.equal(r.status, 0, r.stderr);
    const line = (name: string): string => {
      const l = r.stdout.split('\n').find((x) => new RegExp(`\\] ${name.replace(/[.-]/g, '\\$&')}\\s`).test(x));
      assert.ok(l, `a line for ${name}:\n${r.stdout}`);
      return l;
    };
    assert.match(r.stdout, /Unclassified device/, 'the decoded config space comes first');
    assert.match(line('COMMAND'), /writable 0x0*[1-9a-f][0-9a-f]* \(.*MEMORY.*MASTER/);
    assert.match(line('VENDOR_ID'), /= 0x1234\s+writable none/);
    // The permission model's masks beside the probe: the kernel's tables.
    assert.match(line('VENDOR_ID'), /\[model: virtual 0xffff, writable 0x0000\]/);
    assert.match(line('COMMAND'), /\[model: virtual 0x0400, writable 0xffff\]/);
    assert.match(line('INTERRUPT_PIN'), /\[model: virtual 0xff, writable 0x00\]/);
    assert.match(line('DEVICE_ID'), /writable none/);
    assert.match(line('BAR0'), /writable 0xfff00000/);
    assert.match(line('STATUS'), /not probed \(write-1-to-clear/);
    assert.match(line('MSI.CONTROL'), /not probed \(action\): 0x0001 MSI enable/);
    assert.match(line('MSI.ADDRESS_LO'), /writable 0xffffffff/);
    assert.doesNotMatch(r.stdout, /after restoring|write refused/);
    // Everything probed was put back.
    const after = run(['lspci', socket, '--dump']);
    assert.equal(after.stdout, before.stdout);
  } finally {
    const exited = new Promise((res) => child.once('exit', res));
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
