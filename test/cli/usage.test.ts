// The command's grammar as a new user meets it: --help for every command,
// --version, exit 2 with a message naming the option for every bad value,
// extra argument or unknown option.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { bytes, group, integer, socketMode, user } from '../../src/cli/options.js';
import { UsageError } from '../../src/cli/usage.js';
import { run } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-usage-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sock = join(dir, 'x.sock');

test('--help for every command prints its usage and exits 0 (and runs nothing)', () => {
  for (const cmd of ['demo', 'serve', 'lspci', 'trace', 'watch', 'bind', 'unbind', 'broker']) {
    const r = run([cmd, '--help']);
    assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: vfio-ts ${cmd}\\b`), cmd);
    assert.doesNotMatch(r.stdout + r.stderr, /Unknown option|== serving/, cmd);
  }
  const top = run(['--help']);
  assert.equal(top.status, 0);
  assert.match(top.stdout, /npm run bench/);
  assert.doesNotMatch(top.stdout, /^\s+bench /m, 'bench is not a command');
});

test('--version prints the version of package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const r = run(['--version']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('bad usage exits 2 with one message naming what is wrong', () => {
  const cases: [string[], RegExp][] = [
    [['serve', 'edu', '--socket', sock, '--mode', '999'], /--mode: '999' is not an octal permission mode/],
    [['serve', 'edu', '--socket', sock, '--mode', '7777'], /--mode: '7777'/],
    [['serve', 'nvme', '--socket', sock, '--size', '1099511627776'], /--size: 1099511627776 bytes do not fit in memory/],
    [['serve', 'nvme', '--socket', sock, '--size', '1e6'], /--size: '1e6' is not a size/],
    [['serve', 'nvme', '--socket', sock, '--size', '1.5M'], /--size: '1.5M' is not a size/],
    [['serve', 'nvme', '--socket', sock, '--size', '1000'], /--size: 1000 bytes is not a whole number of 512-byte blocks/],
    [['serve', 'edu', 'nvme', '--socket', sock], /unexpected argument 'nvme'/],
    [['serve', 'edu', '--socket', sock, '--size', '1M'], /serve edu: --size is for the nvme model only/],
    [['serve', 'edu', '--socket', sock, '--allow-uid', 'no-such-user-here'], /--allow-uid: unknown user 'no-such-user-here'/],
    [['serve', 'edu', '--socket', sock, '--linger-us', '-1'], /--linger-us/],
    [['serve', 'edu', '--socket', sock, '--linger-us', '2000000'], /--linger-us: 2000000 is more than 1000000/],
    [['serve', 'edu', '--socket'], /--socket needs a value/],
    [['serve', 'edu'], /serve needs --socket PATH/],
    [['serve', 'toaster', '--socket', sock], /unknown device model 'toaster'/],
    [['serve', 'edu', '--socket', sock, '--colour', 'red'], /unknown option --colour/],
    [['demo', 'extra'], /demo: unexpected argument 'extra'/],
    [['lspci'], /lspci needs <socket\|BDF>/],
    [['lspci', '01:00'], /'01:00' is not a PCI address/],
    [['lspci', '0000:01:20.0'], /'0000:01:20.0' is not a PCI address/],
    [['unbind', 'bogus'], /unbind: bad PCI address "bogus"/],
    [['bind', '01:00.0', '--user', 'no-such-user-here'], /--user: unknown user/],
    [['watch', '1:2:3'], /watch: bad PCI address/],
    [['broker', '--config', '/nonexistent.json'], /^vfio-ts: --config \/nonexistent\.json: cannot read it \(no such file\)\n$/],
    [['broker', '01:00.0', '--socket', sock, '--allow-uid', 'bob-is-nobody'], /--allow-uid: unknown user/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}${r.stdout}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /out of range|Invalid typed array| {4}at /, args.join(' '));
  }
});

test('option values: sizes with binary suffixes, modes up to 0777, users and groups by name or number', () => {
  assert.equal(bytes('1G', '--size'), 2 ** 30);
  assert.equal(bytes('64M', '--size'), 64 * 2 ** 20);
  assert.equal(bytes('4k', '--size'), 4096);
  assert.equal(bytes('1048576', '--size'), 1048576);
  for (const bad of ['1e6', '1.5G', '0x100', '', '-1', '1P', 'G'])
    assert.throws(
      () => bytes(bad, '--size'),
      (e) => e instanceof UsageError && /--size/.test(e.message),
      bad,
    );
  assert.equal(socketMode('0660', '--mode'), 0o660);
  assert.equal(socketMode('777', '--mode'), 0o777);
  for (const bad of ['7777', '4755', '999', '66', 'rw']) assert.throws(() => socketMode(bad, '--mode'), UsageError, bad);
  assert.equal(user('root', '--allow-uid'), 0);
  assert.equal(user('1234', '--allow-uid'), 1234);
  assert.equal(group('root', '--allow-gid'), 0);
  assert.throws(() => user('no-such-user-here', '--allow-uid'), /--allow-uid: unknown user/);
  assert.throws(() => group('no-such-group-here', '--allow-gid'), /--allow-gid: unknown group/);
  assert.throws(() => integer('1.5', '--grace-ms'), /--grace-ms: '1.5' is not a non-negative integer/);
});
