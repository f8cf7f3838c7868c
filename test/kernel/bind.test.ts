// bind/unbind (src/vfio/bind.ts) on a fake sysfs tree: which files are
// written with what, in which cases it refuses, and the group file's new
// owner. (The real thing, in the guest as root: test/guest/root-bind.test.ts.)

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
  assert.deepEqual(r, { bdf: '0000:00:04.0', previousDriver: 'vfio-pci', group: 1, groupFile: file, cdev: null, iommuFile: null });
  const st = statSync(file);
  assert.equal(st.uid, 1000);
  assert.equal(st.gid, 993);
  await bind('0000:00:04.0', { paths: P, user: 0 });
  assert.equal(statSync(file).uid, 0);
  assert.equal(statSync(file).gid, 993, 'the group is kept when none is given');
});

test('bind on a kernel with the vfio cdev: waits for /dev/vfio/devices/vfioN too and names it and /dev/iommu', async () => {
  const k = fakeMachine();
  try {
    k.addDriver('vfio-pci');
    k.addDevice({ bdf: '0000:00:04.0', group: 1, driver: 'vfio-pci' });
    k.addDevice({ bdf: '0000:00:05.0', group: 2, driver: 'vfio-pci' });
    const group1 = k.addDevFile('1');
    k.addDevFile('2');
    // Old kernel: no cdev (6.1 lists vfio-dev/vfio0 but gives it no dev number), so only the group file, even with /dev/iommu there.
    mkdirSync(join(k.paths.sys, 'bus', 'pci', 'devices', '0000:00:04.0', 'vfio-dev', 'vfio0'), { recursive: true });
    const iommu = k.addIommu();
    const old = await bind('0000:00:04.0', { paths: k.paths });
    assert.equal(old.cdev, null);
    assert.equal(old.iommuFile, null, '/dev/iommu is only handed out with a cdev');
    // sysfs names the cdev but /dev lacks it (yet): bind waits, then times out naming it.
    const missing = k.addCdev('0000:00:05.0', 'vfio1', { inDev: false });
    await assert.rejects(
      bind('0000:00:05.0', { paths: k.paths, timeoutMs: 50 }),
      (e: { code?: string; message?: string }) => e.code === 'ETIMEDOUT' && (e.message ?? '').includes(`${missing} did not appear`),
    );
    const cdev = k.addCdev('0000:00:04.0', 'vfio0');
    const me = process.getuid!();
    const r = await bind('0000:00:04.0', { paths: k.paths, user: me });
    assert.deepEqual(r, { bdf: '0000:00:04.0', previousDriver: 'vfio-pci', group: 1, groupFile: group1, cdev, iommuFile: iommu });
    for (const f of [group1, cdev, iommu]) assert.equal(statSync(f).uid, me, `${f} owned by the user`);
  } finally {
    k.cleanup();
  }
});

test(`bind gives the cdev and /dev/iommu to the user and group${asRoot ? '' : ' (SKIPPED: chown needs root)'}`, {
  skip: asRoot ? false : 'chown needs root',
}, async () => {
  const k = fakeMachine();
  try {
    k.addDriver('vfio-pci');
    k.addDevice({ bdf: '0000:00:04.0', group: 1, driver: 'vfio-pci' });
    k.addDevFile('1');
    const cdev = k.addCdev('0000:00:04.0', 'vfio0');
    const iommu = k.addIommu();
    await bind('0000:00:04.0', { paths: k.paths, user: 'alice', group: 'kvm' });
    for (const f of [cdev, iommu]) {
      assert.equal(statSync(f).uid, 1000, f);
      assert.equal(statSync(f).gid, 993, f);
    }
  } finally {
    k.cleanup();
  }
});
