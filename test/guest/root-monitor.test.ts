// The hotplug monitor against the guest's real kernel (src/vfio/monitor.ts).
// As the unprivileged user: the uevent socket opens (uevents are readable by
// anyone). As root: edu is removed through sysfs (`removed`), then the bus is
// rescanned (`added`, and `bound` to vfio-pci, whose new_id /init set), and
// the device opens again; its group file is given back to the user.
//
// test/vm/guest-suite.test.ts runs root-*.test.js files as root; by hand:
// node out/vm/cli.js --root -- node --test out/test/guest/root-monitor.test.js

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { openKernelDevice } from './vfio-api.js';
import { DeviceMonitor } from '../../src/kernel/monitor.js';
import { EDU, giveToUser, guestTest } from './helpers.js';

const USER = { uid: 1000, gid: 1000 };

guestTest(
  'monitor (root): edu removed through sysfs gives `removed`; a rescan gives `added` and `bound` to vfio-pci; edu opens again',
  { root: true, timeout: 60_000 },
  async (t) => {
    const m = DeviceMonitor.open({ bdf: EDU });
    try {
      const removed = m.next('removed', { timeoutMs: 15_000 });
      writeFileSync(`/sys/bus/pci/devices/${EDU}/remove`, '1');
      const r = await removed;
      assert.equal(r.bdf, EDU);
      assert.equal(r.vendor, 0x1234);
      assert.equal(r.device, 0x11e8);

      const added = m.next('added', { timeoutMs: 15_000 });
      const bound = m.next('bound', { timeoutMs: 15_000 });
      writeFileSync('/sys/bus/pci/rescan', '1');
      const a = await added;
      assert.equal(a.vendor, 0x1234);
      const b = await bound;
      assert.equal(b.driver, 'vfio-pci');
      assert.equal(b.isVfio, true);
      assert.ok(a.seqnum === null || b.seqnum === null || a.seqnum < b.seqnum, 'added before bound');
      t.diagnostic(`removed #${r.seqnum}, added #${a.seqnum}, bound #${b.seqnum}`);
    } finally {
      m.close();
    }
    const dev = openKernelDevice(EDU);
    try {
      assert.equal(dev.bar(0).read32(0), 0x010000ed, 'edu identification register');
    } finally {
      dev.close();
    }
    // The group file (and cdev) were made anew (root's): give them back to the user as /init did.
    giveToUser(EDU, USER);
  },
);
