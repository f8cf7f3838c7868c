// Hot-remove and hot-add while a driver holds the device (the guest's real
// kernel, as root, who may write sysfs; through the flow of the run, so over
// iommufd in test/vm/guest-suite-iommufd.test.ts's second run): removing edu while it is open makes
// vfio-pci signal REQ; the Device turns it into one 'unplug' event; the driver
// closes; the removal completes; a rescan brings edu back on vfio-pci and a
// new open works.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { openKernelDevice } from './vfio-api.js';
import { DeviceMonitor } from '../../src/kernel/monitor.js';
import { EDU, FLOW, giveToUser, guestTest, vfioFilesOf } from './helpers.js';

const USER = { uid: 1000, gid: 1000 };

guestTest(
  'unplug (root): edu removed while held: the driver gets one unplug (REQ), closes, the removal completes; after a rescan a new open works',
  { root: true, timeout: 90_000 },
  async (t) => {
    const dev = openKernelDevice(EDU, { unplugGraceMs: 20_000 });
    assert.equal(dev.bar(0).read32(0), 0x010000ed);
    const held = vfioFilesOf(process.pid);
    t.diagnostic(`holding through the ${FLOW} flow: ${held.join(' ')}`);
    if (FLOW === 'iommufd')
      assert.ok(held.includes('/dev/iommu') && held.some((f) => /^\/dev\/vfio\/devices\/vfio\d+$/.test(f)), held.join(' '));
    else assert.ok(held.includes('/dev/vfio/vfio'), held.join(' '));
    const unplugs: string[] = [];
    const unplugged = new Promise<{ reason: string; deadline: number }>((resolve) => dev.once('unplug', resolve));
    dev.on('unplug', (e) => unplugs.push(e.reason));

    // The removal blocks in the kernel until the device is released: run it in a child.
    const t0 = Date.now();
    const remover = spawn('sh', ['-c', `echo 1 > /sys/bus/pci/devices/${EDU}/remove`], { stdio: 'ignore' });
    const removerDone = new Promise<number | null>((resolve) => remover.once('exit', resolve));
    const e = await unplugged;
    t.diagnostic(`unplug (${e.reason}) ${Date.now() - t0} ms after the removal started`);
    assert.equal(e.reason, 'request');
    assert.ok(e.deadline > Date.now());
    assert.equal(remover.exitCode, null, 'the removal waits for the driver');
    // The driver finishes: the device still answers until it closes.
    assert.equal(dev.bar(0).read32(0), 0x010000ed);
    dev.close();
    assert.equal(await removerDone, 0);
    assert.deepEqual(unplugs, ['request'], 'one unplug event');
    assert.equal(existsSync(`/sys/bus/pci/devices/${EDU}`), false, 'edu is gone');

    const m = DeviceMonitor.open({ bdf: EDU });
    try {
      const bound = m.next('bound', { timeoutMs: 15_000 });
      spawn('sh', ['-c', 'echo 1 > /sys/bus/pci/rescan'], { stdio: 'ignore' });
      assert.equal((await bound).driver, 'vfio-pci');
    } finally {
      m.close();
    }
    const again = openKernelDevice(EDU);
    try {
      assert.equal(again.bar(0).read32(0), 0x010000ed, 'a new open after the rescan works');
    } finally {
      again.close();
    }
    // The group file (and cdev) were made anew (root's): give them back to the user as /init did.
    giveToUser(EDU, USER);
  },
);
