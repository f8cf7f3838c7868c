// `vfio-ts broker`: the configuration file's checks and the command line's
// refusals (the broker itself is tested in test/broker/ and, for real, in the
// guest's test/guest/root-broker.test.ts).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { brokerConfigFromArgs, brokerOptions, parseBrokerConfig } from '../../src/cli/broker.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
  return undefined;
}

test('broker config: a valid file gives one entry per device', () => {
  const c = parseBrokerConfig(
    JSON.stringify({
      devices: [
        { bdf: '0000:01:00.0', socket: '/run/a.sock', allowUids: [1000], graceMs: 100, socketMode: '0660' },
        { upstream: '/run/model.sock', socket: '/run/b.sock', allowGids: [100], maxDmaMaps: 8, maxDmaBytes: 65536, lingerUs: 0 },
      ],
    }),
  );
  assert.deepEqual(c, [
    { bdf: '0000:01:00.0', socket: '/run/a.sock', allowUids: [1000], graceMs: 100, socketMode: 0o660 },
    { upstream: '/run/model.sock', socket: '/run/b.sock', allowGids: [100], maxDmaMaps: 8, maxDmaBytes: 65536, lingerUs: 0 },
  ]);
  assert.equal(brokerOptions(c[1]!).lingerUs, 0);
  assert.equal(brokerOptions(c[0]!).lingerUs, undefined, 'the server default');
});

test('broker config: every mistake is an EINVAL naming the place', () => {
  const bad: [unknown, RegExp][] = [
    [{}, /non-empty "devices"/],
    [{ devices: [] }, /non-empty "devices"/],
    [{ devices: [7] }, /devices\[0\] is not an object/],
    [{ devices: [{ socket: '/a' }] }, /exactly one of "bdf" and "upstream"/],
    [{ devices: [{ bdf: 'x', upstream: 'y', socket: '/a' }] }, /exactly one/],
    [{ devices: [{ bdf: 'x' }] }, /devices\[0\]\.socket/],
    [{ devices: [{ bdf: 'x', socket: '/a', allowUids: [-1] }] }, /allowUids/],
    [{ devices: [{ bdf: 'x', socket: '/a', allowGids: 'all' }] }, /allowGids/],
    [{ devices: [{ bdf: 'x', socket: '/a', socketMode: 438 }] }, /socketMode/],
    [{ devices: [{ bdf: 'x', socket: '/a', graceMs: 1.5 }] }, /graceMs/],
    [{ devices: [{ bdf: 'x', socket: '/a', lingerUs: -1 }] }, /lingerUs: microseconds in 0\.\.1000000/],
    [{ devices: [{ bdf: 'x', socket: '/a', lingerUs: 2_000_000 }] }, /lingerUs/],
    [{ devices: [{ bdf: 'x', socket: '/a', colour: 'red' }] }, /unknown key "colour"/],
    [
      {
        devices: [
          { bdf: 'x', socket: '/a' },
          { bdf: 'y', socket: '/a' },
        ],
      },
      /devices\[1\]\.socket: \/a is used twice/,
    ],
  ];
  for (const [doc, re] of bad) {
    const c = code(() => parseBrokerConfig(JSON.stringify(doc)));
    assert.ok(c?.startsWith('EINVAL: ') && re.test(c), `${JSON.stringify(doc)} -> ${c}`);
  }
  assert.match(code(() => parseBrokerConfig('{ not json'))!, /^EINVAL: the broker configuration is not JSON/);
});

test('broker command line: a BDF or --upstream, a socket, and no mixing with --config', () => {
  assert.match(code(() => brokerConfigFromArgs({ socket: '/a' }))!, /PCI address or --upstream/);
  assert.match(code(() => brokerConfigFromArgs({ bdf: '0000:01:00.0' }))!, /--socket/);
  assert.match(code(() => brokerConfigFromArgs({ config: '/etc/x.json', socket: '/a' }))!, /--config names every device/);
  assert.deepEqual(brokerConfigFromArgs({ bdf: '0000:01:00.0', socket: '/a', allowUids: [5], graceMs: 7, lingerUs: 200 }), [
    { bdf: '0000:01:00.0', socket: '/a', allowUids: [5], graceMs: 7, lingerUs: 200 },
  ]);
  assert.match(code(() => brokerConfigFromArgs({ bdf: '0000:01:00.0', socket: '/a', lingerUs: 5_000_000 }))!, /--linger-us: microseconds/);
});

test('vfio-ts broker: bad usage exits 2; a device that cannot be opened exits 1 with the reason, and no socket is left', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-broker-cli-'));
  try {
    const usage = spawnSync(process.execPath, [MAIN, 'broker', '0000:01:00.0'], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /broker needs --socket PATH/);
    const sock = join(dir, 'x.sock');
    const missing = spawnSync(process.execPath, [MAIN, 'broker', '0000:7f:1f.7', '--socket', sock], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(missing.status, 1, missing.stderr);
    assert.match(missing.stderr, /0000:7f:1f\.7/);
    const cfg = join(dir, 'broker.json');
    writeFileSync(cfg, JSON.stringify({ devices: [{ upstream: join(dir, 'nobody.sock'), socket: sock }] }));
    const noUpstream = spawnSync(process.execPath, [MAIN, 'broker', '--config', cfg], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(noUpstream.status, 1, noUpstream.stderr);
    assert.match(noUpstream.stderr, /nobody\.sock|ENOENT/);
    assert.equal(spawnSync('test', ['-e', sock]).status, 1, 'no socket file left behind');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
