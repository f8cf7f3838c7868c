// Choosing the hint for a set-up mistake (src/vfio/errors.ts), on fake sysfs
// trees: which check fires for which machine, what the message names (driver,
// group members, file owner, memlock limit) and that errors nobody can
// explain pass through untouched.

import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, test } from 'node:test';
import { errnoOf, ErrnoError, SysError } from '../../src/errors.js';
import { checkDeviceSetup, explainDmaMapError, explainOpenError, notViableError, VfioSetupError } from '../../src/kernel/errors.js';
import { Group } from '../../src/kernel/group.js';
import { openKernelDevice } from '../../src/client/kernel/open.js';
import { isVfioDriver, memlockLimit, userName } from '../../src/kernel/sysfs.js';
import { fakeMachine } from './fake-sysfs.js';

const m = fakeMachine();
after(() => m.cleanup());
m.addDriver('vfio-pci');
m.addDevice({ bdf: '0000:00:04.0', group: 1, driver: 'vfio-pci' });
m.addDevice({ bdf: '0000:00:06.0', group: 3, driver: 'virtio-pci', vendor: '0x1af4', device: '0x1009' });
m.addDevice({ bdf: '0000:00:07.0', group: 4 }); // no driver
m.addDevice({ bdf: '0000:00:08.0' }); // no IOMMU group
m.addDevice({ bdf: '0000:3b:00.0', group: 5, driver: 'vfio-pci' });
m.addDevice({ bdf: '0000:3b:00.1', group: 5, driver: 'ahci' });
m.addDevice({ bdf: '0000:3b:00.2', group: 5 });
m.addDevice({ bdf: '0000:3a:00.0', group: 5, driver: 'pcieport' });
m.addDevice({ bdf: '0000:00:09.0', group: 6, driver: 'mlx5_vfio_pci' });
const P = m.paths;

function setupError(fn: () => unknown, code: string): VfioSetupError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VfioSetupError, `expected a VfioSetupError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.endsWith(`Hint: ${e.hint}`), 'the hint ends the message');
    return e;
  }
  return assert.fail(`no error, expected ${code}`);
}

test('set-up check: a device bound to vfio-pci (or a vfio variant driver) passes, with its group', () => {
  assert.deepEqual(checkDeviceSetup(P, '0000:00:04.0'), { group: 1, driver: 'vfio-pci' });
  assert.deepEqual(checkDeviceSetup(P, '0000:00:09.0'), { group: 6, driver: 'mlx5_vfio_pci' });
  assert.equal(isVfioDriver('vfio-pci'), true);
  assert.equal(isVfioDriver('hisi_acc_vfio_pci'), true);
  assert.equal(isVfioDriver('virtio-pci'), false);
  assert.equal(isVfioDriver(null), false);
});

test('set-up check: no such device, no IOMMU group', () => {
  const e = setupError(() => checkDeviceSetup(P, '0000:00:1e.0'), 'VFIO_NO_DEVICE');
  assert.ok(e.message.includes(`${P.sys}/bus/pci/devices/0000:00:1e.0`));
  assert.equal(e.bdf, '0000:00:1e.0');
  const n = setupError(() => checkDeviceSetup(P, '0000:00:08.0'), 'VFIO_NO_IOMMU');
  assert.match(n.hint, /intel_iommu=on/);
});

test('set-up check: bound to another driver, or to none, says which and how to bind', () => {
  const e = setupError(() => checkDeviceSetup(P, '0000:00:06.0'), 'VFIO_NOT_BOUND');
  assert.match(e.message, /0000:00:06\.0 \(1af4:1009\) is bound to virtio-pci, not to vfio-pci/);
  assert.match(e.hint, /take it from virtio-pci/);
  assert.match(e.hint, /vfio-ts bind 0000:00:06\.0/);
  assert.ok(e.hint.includes('echo vfio-pci > /sys/bus/pci/devices/0000:00:06.0/driver_override'));
  assert.ok(e.hint.includes('echo 0000:00:06.0 > /sys/bus/pci/drivers_probe'));
  const none = setupError(() => checkDeviceSetup(P, '0000:00:07.0'), 'VFIO_NOT_BOUND');
  assert.match(none.message, /is not bound to any driver/);
  assert.doesNotMatch(none.hint, /modprobe/, 'vfio-pci is loaded here');
  assert.doesNotMatch(none.hint, /driver\/unbind/, 'nothing to unbind from');
  assert.match(e.hint, /driver\/unbind/);
  // The same check guards every way in, before any file is opened.
  setupError(() => Group.forDevice('00:06.0', { paths: P }), 'VFIO_NOT_BOUND');
  setupError(() => openKernelDevice('0000:00:06.0', { paths: P }), 'VFIO_NOT_BOUND');
  assert.throws(
    () => openKernelDevice('0000:00:06', { paths: P }),
    (e: unknown) => e instanceof ErrnoError && e.code === 'EINVAL',
  );
});

test('set-up check: vfio-pci not loaded is part of the hint', () => {
  const bare = fakeMachine();
  try {
    bare.addDevice({ bdf: '0000:01:00.0', group: 2, driver: 'nvme' });
    const e = setupError(() => checkDeviceSetup(bare.paths, '0000:01:00.0'), 'VFIO_NOT_BOUND');
    assert.match(e.hint, /modprobe vfio-pci/);
    const o = explainOpenError(new SysError('open', errnoOf('ENOENT')), bare.paths, `${bare.paths.dev}/vfio/vfio`);
    assert.ok(o instanceof VfioSetupError && o.code === 'VFIO_NO_VFIO' && /modprobe vfio-pci/.test(o.hint));
  } finally {
    bare.cleanup();
  }
});

test('group not viable: names the members bound to host drivers (bridges and unbound devices are fine)', () => {
  const e = notViableError(P, 5, `${P.dev}/vfio/5`, '0000:3b:00.0');
  assert.equal(e.code, 'VFIO_GROUP_NOT_VIABLE');
  assert.match(e.message, /bound to host drivers: 0000:3b:00\.1 \(bound to ahci\)\. Hint/);
  assert.doesNotMatch(e.message, /3a:00\.0|3b:00\.2/, 'not the bridge on pcieport, nor the unbound device');
  assert.ok(e.hint.includes('for d in 0000:3b:00.1; do vfio-ts bind $d; done'), e.hint);
});

test('opening a group file: EACCES/EPERM name the file and its owner; EBUSY, ENOENT explained; others pass through', () => {
  const file = m.addDevFile('1', 0o600);
  const st = statSync(file);
  for (const errno of ['EACCES', 'EPERM']) {
    const e = explainOpenError(new SysError('open', errnoOf(errno), file), P, file, '0000:00:04.0');
    assert.ok(e instanceof VfioSetupError);
    assert.equal(e.code, 'VFIO_NO_PERMISSION');
    assert.equal(e.errnoName, errno);
    assert.equal(e.path, file);
    assert.ok(e.message.includes(`may not open ${file} (owner ${userName(P, st.uid)}, group`), e.message);
    assert.match(e.message, /mode 0600/);
    assert.ok(e.hint.includes(`chown $USER ${file}`));
    assert.ok(e.cause instanceof SysError);
  }
  const busy = explainOpenError(new SysError('open', errnoOf('EBUSY'), file), P, file, '0000:00:04.0');
  assert.ok(busy instanceof VfioSetupError && busy.code === 'VFIO_GROUP_BUSY' && /one process at a time/.test(busy.hint));
  const gone = explainOpenError(new SysError('open', errnoOf('ENOENT')), P, `${P.dev}/vfio/9`, '0000:00:04.0');
  assert.ok(gone instanceof VfioSetupError && gone.code === 'VFIO_NO_VFIO' && /vfio-pci \(vfio-pci now\)/.test(gone.hint));
  const other = new SysError('open', errnoOf('EIO'));
  assert.equal(explainOpenError(other, P, file), other);
  // The name comes from the passwd file given.
  assert.equal(userName(P, 1000), 'alice (uid 1000)');
  assert.equal(userName(P, 4242), 'uid 4242');
});

test('DMA map: ENOMEM/EPERM are the memlock limit, read from /proc/self/limits', () => {
  m.setMemlock('65536', '131072');
  assert.deepEqual(memlockLimit(P), { soft: 65536n, hard: 131072n });
  const e = explainDmaMapError(new SysError('ioctl', errnoOf('ENOMEM')), P, 1 << 20, 'VFIO_IOMMU_MAP_DMA', '0000:00:04.0');
  assert.ok(e instanceof VfioSetupError);
  assert.equal(e.code, 'VFIO_MEMLOCK');
  assert.equal(e.errnoName, 'ENOMEM');
  assert.match(e.message, /VFIO_IOMMU_MAP_DMA of 1048576 bytes failed: ENOMEM/);
  assert.match(e.message, /is 65536 bytes \(64 KiB\) soft, 131072 bytes \(128 KiB\) hard/);
  assert.match(e.hint, /ulimit -l unlimited/);
  const eperm = explainDmaMapError(new SysError('ioctl', errnoOf('EPERM')), P, 4096, 'IOMMU_IOAS_MAP');
  assert.ok(eperm instanceof VfioSetupError && eperm.code === 'VFIO_MEMLOCK');
  m.setMemlock('unlimited', 'unlimited');
  assert.deepEqual(memlockLimit(P), { soft: 'unlimited', hard: 'unlimited' });
  const exists = new SysError('ioctl', errnoOf('EEXIST'));
  assert.equal(explainDmaMapError(exists, P, 4096, 'VFIO_IOMMU_MAP_DMA'), exists, 'an overlapping map is not a limit problem');
  const noLimits = explainDmaMapError(
    new SysError('ioctl', errnoOf('ENOMEM')),
    { ...P, limits: `${m.root}/none` },
    4096,
    'VFIO_IOMMU_MAP_DMA',
  );
  assert.ok(noLimits instanceof VfioSetupError && /could not be read/.test(noLimits.message));
});

test('iommufd forced where the kernel offers no cdev: VFIO_NO_CDEV', () => {
  const e = setupError(() => openKernelDevice('0000:00:04.0', { paths: P, iommu: 'iommufd' }), 'VFIO_NO_CDEV');
  assert.match(e.hint, /Linux 6\.6/);
  assert.throws(
    () => openKernelDevice('0000:00:04.0', { paths: P, iommu: 'bogus' as 'auto' }),
    (x: unknown) => x instanceof ErrnoError && x.code === 'EINVAL',
  );
});
