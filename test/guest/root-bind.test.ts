// The administrator's side, as root in the guest (test/vm/guest-suite.test.ts
// runs this file as root after the unprivileged suite): edu is taken from
// vfio-pci (unbind) and given back (bind, which also hands its group file to
// the user), and the two refusals that need root to arrange are checked on
// the way: a device bound to no driver, and a group file the user may not
// open (owned by root again), the latter from a child running as the user.
//
// The guest's /init bound edu with vfio-pci's new_id, so vfio-pci would take
// it back at the next probe; the test removes that id first (and restores it)
// so that after unbind the device really has no driver.

import assert from 'node:assert/strict';
import { chownSync, chmodSync, existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { bind, openKernelDevice, unbind, VfioSetupError } from './vfio-api.js';
import { GUEST_DEVICES } from '../../vm/qemu.js';
import { AUTO_FLOW, childScript, EDU, guestTest, runNode } from './helpers.js';

const USER = { uid: 1000, gid: 1000 };
const EDU_ID = `${GUEST_DEVICES.edu.vendor.toString(16)} ${GUEST_DEVICES.edu.device.toString(16)}`;
const driverLink = `/sys/bus/pci/devices/${EDU}/driver`;

guestTest("bind/unbind edu as root: no driver after unbind, vfio-pci and the user's group file after bind", { root: true }, async (t) => {
  writeFileSync('/sys/bus/pci/drivers/vfio-pci/remove_id', EDU_ID);
  try {
    const u = unbind(EDU);
    assert.equal(u.previousDriver, 'vfio-pci');
    assert.equal(u.driver, null, 'no driver took edu back');
    assert.equal(existsSync(driverLink), false);

    assert.throws(
      () => openKernelDevice(EDU),
      (e: unknown) => {
        if (!(e instanceof VfioSetupError)) return false;
        t.diagnostic(e.message);
        return e.code === 'VFIO_NOT_BOUND' && /not bound to any driver/.test(e.message) && /vfio-ts bind/.test(e.hint);
      },
    );

    const b = await bind(EDU, { user: USER.uid, group: USER.gid });
    assert.equal(b.previousDriver, null);
    assert.match(b.groupFile, /^\/dev\/vfio\/\d+$/);
    assert.equal(statSync(`${driverLink}/`).isDirectory(), true);
    const st = statSync(b.groupFile);
    assert.equal(st.uid, USER.uid, 'group file owned by the user');
    assert.equal(st.gid, USER.gid);
    if (AUTO_FLOW === 'iommufd') {
      // A kernel with the vfio cdev: the cdev and /dev/iommu go to the user too.
      assert.match(b.cdev ?? '', /^\/dev\/vfio\/devices\/vfio\d+$/);
      assert.equal(b.iommuFile, '/dev/iommu');
      for (const f of [b.cdev!, b.iommuFile]) assert.equal(statSync(f).uid, USER.uid, `${f} owned by the user`);
      t.diagnostic(`bound: ${b.groupFile}, ${b.cdev}, ${b.iommuFile}`);
    } else {
      assert.equal(b.cdev, null, 'Linux 6.1: no vfio cdev');
      assert.equal(b.iommuFile, null);
    }

    // Binding a device already on vfio-pci only re-owns its file.
    const again = await bind(EDU, { user: USER.uid });
    assert.equal(again.previousDriver, 'vfio-pci');

    // And the user can drive it.
    const r = runNode(
      childScript(
        `const d = vfio.openKernelDevice(${JSON.stringify(EDU)}); const id = d.bar(0).read32(0); d.close(); if (id !== 0x010000ed) throw new Error('id ' + id);`,
      ),
      { asUser: USER },
    );
    assert.deepEqual(r.json, { ok: true }, r.stderr);
  } finally {
    try {
      writeFileSync('/sys/bus/pci/drivers/vfio-pci/new_id', EDU_ID);
    } catch {
      // already there
    }
  }
});

guestTest(
  'refusal: a group file owned by root is VFIO_NO_PERMISSION for the user, naming the file and its owner',
  { root: true },
  async (t) => {
    const b = await bind(EDU, { user: USER.uid, group: USER.gid });
    chownSync(b.groupFile, 0, 0);
    chmodSync(b.groupFile, 0o600);
    try {
      // The group file is the container flow's (the cdev flow never opens it).
      const r = runNode(childScript(`vfio.openKernelDevice(${JSON.stringify(EDU)}, { iommu: 'container' }).close();`), { asUser: USER });
      const e = r.json!;
      assert.equal(e?.ok, false, r.stderr);
      t.diagnostic(String(e.message));
      assert.equal(e.code, 'VFIO_NO_PERMISSION', String(e.message));
      assert.equal(e.errnoName, 'EACCES');
      assert.ok(String(e.message).includes(b.groupFile), 'names the file');
      assert.match(String(e.message), /owner root \(uid 0\)/);
      assert.match(String(e.message), /mode 0600/);
      assert.match(String(e.hint), new RegExp(`chown \\$USER ${b.groupFile}`));
    } finally {
      chownSync(b.groupFile, USER.uid, USER.gid);
    }
  },
);

guestTest(
  `refusal: a vfio cdev owned by root is VFIO_NO_PERMISSION for the user, naming the cdev${AUTO_FLOW === 'iommufd' ? '' : ' (SKIPPED: this kernel has no vfio cdev)'}`,
  { root: true },
  async (t) => {
    if (AUTO_FLOW !== 'iommufd') return t.skip('this kernel has no vfio cdev');
    const b = await bind(EDU, { user: USER.uid, group: USER.gid });
    const cdev = b.cdev!;
    chownSync(cdev, 0, 0);
    chmodSync(cdev, 0o600);
    try {
      const r = runNode(childScript(`vfio.openKernelDevice(${JSON.stringify(EDU)}, { iommu: 'iommufd' }).close();`), { asUser: USER });
      const e = r.json!;
      assert.equal(e?.ok, false, r.stderr);
      t.diagnostic(String(e.message));
      assert.equal(e.code, 'VFIO_NO_PERMISSION', String(e.message));
      assert.equal(e.errnoName, 'EACCES');
      assert.ok(String(e.message).includes(`may not open ${cdev} (owner root (uid 0)`), String(e.message));
      assert.ok(String(e.hint).includes(`chown $USER ${cdev}`));
      assert.ok(String(e.hint).includes('SUBSYSTEM=="vfio-dev"'));
    } finally {
      chownSync(cdev, USER.uid, USER.gid);
    }
  },
);

guestTest(
  `refusal: with /dev/iommu gone, forcing iommufd is VFIO_NO_IOMMUFD naming it, and auto takes the container${AUTO_FLOW === 'iommufd' ? '' : ' (SKIPPED: this kernel has no vfio cdev)'}`,
  { root: true },
  (t) => {
    if (AUTO_FLOW !== 'iommufd') return t.skip('this kernel has no vfio cdev');
    renameSync('/dev/iommu', '/dev/iommu.away');
    try {
      assert.throws(
        () => openKernelDevice(EDU, { iommu: 'iommufd' }),
        (e: unknown) => {
          if (!(e instanceof VfioSetupError)) return false;
          t.diagnostic(e.message);
          return e.code === 'VFIO_NO_IOMMUFD' && e.path === '/dev/iommu' && /modprobe iommufd/.test(e.hint);
        },
      );
      const d = openKernelDevice(EDU, { iommu: 'auto' });
      try {
        assert.equal((d.backend as { flow?: string }).flow, 'container');
      } finally {
        d.close();
      }
    } finally {
      renameSync('/dev/iommu.away', '/dev/iommu');
    }
  },
);
