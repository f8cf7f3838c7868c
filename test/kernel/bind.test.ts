// bind/unbind (src/vfio/bind.ts) on a fake sysfs tree: which files are
// written with what, in which cases it refuses, and the group file's new
// owner. (The real thing, in the guest as root: test/guest/root-bind.test.ts.)

import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { bind, unbind } from '../../src/kernel/bind.js';
import { fakeMachine } from './fake-sysfs.js';

const m = fakeMachine();
after(() => m.cleanup());
m.addDriver('vfio-pci');
m.addDevice({ bdf: '0000:00:04.0', group: 1, driver: 'vfio-pci' });
m.addDevice({ bdf: '0000:00:06.0', group: 3, driver: 'virtio-pci' });
m.addDevice({ bdf: '0000:00:08.0' });
const P = m.paths;
const sysfile = (...p: string[]): string => join(P.sys, ...p);
const read = (f: string): string => readFileSync(f, 'utf8');
const devFile = (bdf: string, name: string): string => sysfile('devices', 'pci0000:00', bdf, name);

test('unbind: clears driver_override, unbinds from the driver, probes again', () => {
  const r = unbind('00:04.0', { paths: P });
  assert.equal(r.bdf, '0000:00:04.0');
  assert.equal(r.previousDriver, 'vfio-pci');
  assert.equal(read(devFile('0000:00:04.0', 'driver_override')), '\n', 'an empty line clears the override');
  assert.equal(read(sysfile('bus', 'pci', 'drivers', 'vfio-pci', 'unbind')), '0000:00:04.0');
  assert.equal(read(sysfile('bus', 'pci', 'drivers_probe')), '0000:00:04.0');
  writeFileSync(sysfile('bus', 'pci', 'drivers_probe'), '');
  unbind('0000:00:04.0', { paths: P, probe: false });
  assert.equal(read(sysfile('bus', 'pci', 'drivers_probe')), '', 'no probe when asked not to');
  assert.throws(
    () => unbind('0000:00:1e.0', { paths: P }),
    (e: { code?: string }) => e.code === 'ENODEV',
  );
});

test('bind: a device on another driver gets driver_override, unbind and a probe (and an error if vfio-pci did not take it)', async () => {
  await assert.rejects(
    bind('0000:00:06.0', { paths: P }),
    (e: Error & { code?: string }) => e.code === 'EIO' && /bound to virtio-pci after probing/.test(e.message),
  );
  assert.equal(read(devFile('0000:00:06.0', 'driver_override')), 'vfio-pci\n');
  assert.equal(read(sysfile('bus', 'pci', 'drivers', 'virtio-pci', 'unbind')), '0000:00:06.0');
  assert.equal(read(sysfile('bus', 'pci', 'drivers_probe')), '0000:00:06.0');
});

test('bind: refusals before touching anything', async () => {
  await assert.rejects(bind('0000:00:08.0', { paths: P }), (e: { code?: string }) => e.code === 'VFIO_NO_IOMMU');
  await assert.rejects(bind('0000:00:04.0', { paths: P, user: 'nobody-here' }), (e: { code?: string }) => e.code === 'EINVAL');
  await assert.rejects(bind('0000:00:04.0', { paths: P, group: 'nogroup-here' }), (e: { code?: string }) => e.code === 'EINVAL');
  await assert.rejects(bind('0000:00:1e.0', { paths: P }), (e: { code?: string }) => e.code === 'ENODEV');
  await assert.rejects(bind('bogus', { paths: P }), (e: { code?: string }) => e.code === 'EINVAL');
  const bare = fakeMachine();
  try {
    bare.addDevice({ bdf: '0000:01:00.0', group: 2, driver: 'nvme' });
    await assert.rejects(
      bind('0000:01:00.0', { paths: bare.paths }),
      (e: { code?: string; hint?: string }) => e.code === 'VFIO_NO_VFIO' && /modprobe vfio-pci/.test(e.hint ?? ''),
    );
  } finally {
    bare.cleanup();
  }
});

test('bind: waits for the group file, then a time-out', async () => {
  await assert.rejects(
    bind('0000:00:04.0', { paths: P, timeoutMs: 50 }),
    (e: { code?: string; message?: string }) => e.code === 'ETIMEDOUT' && /\/vfio\/1 did not appear/.test(e.message ?? ''),
  );
});

const asRoot = process.getuid?.() === 0;
test(`bind: a device already on vfio-pci only gets its group file re-owned (user and group by name)${asRoot ? '' : ' (SKIPPED: chown needs root)'}`, {
  skip: asRoot ? false : 'chown needs root',
}, async () => {
  const file = m.addDevFile('1', 0o600);
  const r = await bind('0000:00:04.0', { paths: P, user: 'alice', group: 'kvm' });
  assert.deepEqual(r, { bdf: '0000:00:04.0', previousDriver: 'vfio-pci', group: 1, groupFile: file });
  const st = statSync(file);
  assert.equal(st.uid, 1000);
  assert.equal(st.gid, 993);
  await bind('0000:00:04.0', { paths: P, user: 0 });
  assert.equal(statSync(file).uid, 0);
  assert.equal(statSync(file).gid, 993, 'the group is kept when none is given');
});
