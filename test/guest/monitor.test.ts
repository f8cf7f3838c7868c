// The hotplug monitor against the guest's real kernel (src/vfio/monitor.ts).
// As the unprivileged user: the uevent socket opens (uevents are readable by
// anyone). As root: edu is removed through sysfs (`removed`), then the bus is
// rescanned (`added`, and `bound` to vfio-pci, whose new_id /init set), and
// the device opens again; its group file is given back to the user.
//
// The root half is test/guest/root-monitor.test.ts (the guest suite runs
// root-*.test.js files as root).

import assert from 'node:assert/strict';
import { UeventSocket } from '../../src/sys/index.js';
import { DeviceMonitor } from '../../src/kernel/monitor.js';
import { EDU, guestTest } from './helpers.js';

guestTest('monitor: the uevent socket and a DeviceMonitor open as the unprivileged user', { root: false }, () => {
  const s = UeventSocket.open();
  assert.ok(s.fd >= 0);
  s.close();
  const m = DeviceMonitor.open({ bdf: EDU });
  assert.deepEqual([...m.filter!], [EDU]);
  m.close();
});
