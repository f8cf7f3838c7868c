// `vfio-ts serve`: what it does to files - the backing file (created and said,
// used and said, never resized without --resize), the socket's mode with an
// allow-list - and the hint when the socket cannot be created.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { run, runDetached } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-serve-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Serves until 'serving' is printed, then SIGTERM; returns the output and what `inspect` saw meanwhile. */
async function serveBriefly<T>(args: string[], inspect: () => T): Promise<{ output: string; seen: T; code: number | null }> {
  const d = runDetached(['serve', ...args]);
  await d.waitFor(/serving /);
  const seen = inspect();
  d.child.kill('SIGTERM');
  const { code } = await d.exited;
  return { output: d.output(), seen, code };
}

test('--backing: a new file is created and said; an existing one is used at its size and said', async () => {
  const disk = join(dir, 'new.img');
  const sock = join(dir, 'a.sock');
  const made = await serveBriefly(['nvme', '--socket', sock, '--backing', disk, '--size', '1M'], () => statSync(disk).size);
  assert.equal(made.code, 0, made.output);
  assert.match(made.output, new RegExp(`created ${disk} of 1048576 bytes`));
  assert.equal(made.seen, 1048576);
  const used = await serveBriefly(['nvme', '--socket', sock, '--backing', disk], () => statSync(disk).size);
  assert.match(used.output, new RegExp(`using ${disk} of 1048576 bytes`));
  assert.equal(statSync(disk).size, 1048576);
});

test('--backing: growing or shrinking an existing file needs --resize; odd sizes are refused', async () => {
  const small = join(dir, 'small.txt');
  writeFileSync(small, 'fourteen bytes');
  const sock = join(dir, 'b.sock');
  const odd = run(['serve', 'nvme', '--socket', sock, '--backing', small]);
  assert.equal(odd.status, 2, odd.stderr);
  assert.match(odd.stderr, /small\.txt has 14 bytes, not a whole number of 512-byte blocks/);
  const grow = run(['serve', 'nvme', '--socket', sock, '--backing', small, '--size', '1M']);
  assert.equal(grow.status, 2, grow.stderr);
  assert.match(grow.stderr, /--size: .*small\.txt has 14 bytes; to grow it to 1048576, add --resize/);
  assert.equal(statSync(small).size, 14, 'the file is left as it was');
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, new Uint8Array(4096));
  const shrink = run(['serve', 'nvme', '--socket', sock, '--backing', disk, '--size', '1K']);
  assert.equal(shrink.status, 2);
  assert.match(shrink.stderr, /to shrink it to 1024, add --resize/);
  assert.equal(statSync(disk).size, 4096);
  const resized = await serveBriefly(['nvme', '--socket', sock, '--backing', disk, '--size', '8K', '--resize'], () => statSync(disk).size);
  assert.match(resized.output, /resized .*disk\.img from 4096 to 8192 bytes/);
  assert.equal(resized.seen, 8192);
  assert.equal(existsSync(sock), false);
});

test('--allow-uid without --mode leaves the socket (and its trace) reachable: mode 0666; --mode wins when given', async () => {
  const sock = join(dir, 'c.sock');
  const mode = (p: string): number => statSync(p).mode & 0o777;
  const open = await serveBriefly(['edu', '--socket', sock, '--allow-uid', '1000'], () => [mode(sock), mode(`${sock}.trace`)]);
  assert.deepEqual(open.seen, [0o666, 0o666]);
  const tight = await serveBriefly(['edu', '--socket', sock, '--allow-uid', '1000', '--mode', '0600'], () => mode(sock));
  assert.equal(tight.seen, 0o600);
  const plain = await serveBriefly(['edu', '--socket', sock], () => mode(sock));
  assert.equal(plain.seen & 0o002, 0, 'without an allow-list the socket is not opened to others');
});

test('a socket in a missing folder: says the folder is missing, with no hint about a server running', () => {
  const r = run(['serve', 'edu', '--socket', join(dir, 'missing', 'x.sock')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot create the socket .*missing\/x\.sock: the folder .*missing does not exist/);
  assert.doesNotMatch(r.stderr, /server running/);
});
