// Choosing the hint for a set-up mistake (src/vfio/errors.ts), on fake sysfs
// trees: which check fires for which machine, what the message names (driver,
// group members, file owner, memlock limit) and that errors nobody can
// explain pass through untouched.

import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, test } from 'node:test';
import { errnoOf, ErrnoError, SysError } from '../../src/errors.js';
import {
  cdevFlowError,
  checkDeviceSetup,
  deviceBusyError,
  explainDmaMapError,
  explainOpenError,
  notViableError,
  VfioSetupError,
} from '../../src/kernel/errors.js';
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

test('iommufd forced where the kernel offers no cdev: VFIO_NO_CDEV, naming the sysfs folder and the kernel option', () => {
  const e = setupError(() => openKernelDevice('0000:00:04.0', { paths: P, iommu: 'iommufd' }), 'VFIO_NO_CDEV');
  assert.match(e.hint, /Linux 6\.6/);
  assert.match(e.hint, /CONFIG_VFIO_DEVICE_CDEV=y/);
  assert.match(e.hint, /iommu: 'container'/);
  assert.equal(e.path, `${P.sys}/bus/pci/devices/0000:00:04.0/vfio-dev/`);
  assert.ok(e.message.includes(e.path!));
  assert.equal(cdevFlowError(P, '0000:00:04.0')?.code, 'VFIO_NO_CDEV');
  assert.throws(
    () => openKernelDevice('0000:00:04.0', { paths: P, iommu: 'bogus' as 'auto' }),
    (x: unknown) => x instanceof ErrnoError && x.code === 'EINVAL',
  );
});

test('the cdev but no /dev/iommu: VFIO_NO_IOMMUFD names /dev/iommu and how to get it; with both, no error', () => {
  const k = fakeMachine();
  try {
    k.addDriver('vfio-pci');
    k.addDevice({ bdf: '0000:00:04.0', group: 1, driver: 'vfio-pci' });
    const cdev = k.addCdev('0000:00:04.0', 'vfio0');
    const e = setupError(() => openKernelDevice('0000:00:04.0', { paths: k.paths, iommu: 'iommufd' }), 'VFIO_NO_IOMMUFD');
    assert.equal(e.path, `${k.paths.dev}/iommu`);
    assert.ok(e.message.includes(cdev), 'names the cdev that is there');
    assert.ok(e.hint.includes(`${k.paths.dev}/iommu is the iommufd device`));
    assert.match(e.hint, /modprobe iommufd/);
    assert.match(e.hint, /CONFIG_IOMMUFD=y/);
    k.addIommu();
    assert.equal(cdevFlowError(k.paths, '0000:00:04.0'), undefined);
  } finally {
    k.cleanup();
  }
});

test('a cdev or /dev/iommu the user may not open: VFIO_NO_PERMISSION naming the file, with the udev rule for its kind', () => {
  const k = fakeMachine();
  try {
    k.addDevice({ bdf: '0000:00:04.0', group: 1, driver: 'vfio-pci' });
    const cdev = k.addCdev('0000:00:04.0', 'vfio0', { mode: 0o600 });
    const iommu = k.addIommu(0o600);
    const c = explainOpenError(new SysError('open', errnoOf('EACCES'), cdev), k.paths, cdev, '0000:00:04.0');
    assert.ok(c instanceof VfioSetupError && c.code === 'VFIO_NO_PERMISSION');
    assert.equal(c.path, cdev);
    assert.ok(c.message.includes(`may not open ${cdev}`) && /mode 0600/.test(c.message), c.message);
    assert.ok(c.hint.includes(`chown $USER ${cdev}`) && c.hint.includes('vfio-ts bind 0000:00:04.0 --user $USER'));
    assert.ok(c.hint.includes('SUBSYSTEM=="vfio-dev"'), c.hint);
    const i = explainOpenError(new SysError('open', errnoOf('EACCES'), iommu), k.paths, iommu);
    assert.ok(i instanceof VfioSetupError && i.code === 'VFIO_NO_PERMISSION');
    assert.ok(i.hint.includes(`chown $USER ${iommu}`));
    assert.ok(i.hint.includes('KERNEL=="iommu"'), i.hint);
  } finally {
    k.cleanup();
  }
});

test('a device bound elsewhere (VFIO_DEVICE_BIND_IOMMUFD refused): VFIO_GROUP_BUSY naming the cdev and the group file', () => {
  const cdev = `${P.dev}/vfio/devices/vfio0`;
  const e = deviceBusyError(P, 1, cdev, '0000:00:04.0', new SysError('ioctl', errnoOf('EINVAL')));
  assert.equal(e.code, 'VFIO_GROUP_BUSY');
  assert.equal(e.errnoName, 'EINVAL');
  assert.ok(
    e.message.includes(`0000:00:04.0 is already in use (${cdev} bound by another open, or its group ${P.dev}/vfio/1 open)`),
    e.message,
  );
  assert.ok(e.hint.includes(`fuser -v ${cdev} ${P.dev}/vfio/1`));
});
