// Hot-remove and hot-add while a driver holds the device (the guest's real
// kernel, as root, who may write sysfs): removing edu while it is open makes
// vfio-pci signal REQ; the Device turns it into one 'unplug' event; the driver
// closes; the removal completes; a rescan brings edu back on vfio-pci and a
// new open works.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, existsSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { openKernelDevice } from './vfio-api.js';
import { DeviceMonitor } from '../../src/kernel/monitor.js';
import { EDU, guestTest } from './helpers.js';

const USER = { uid: 1000, gid: 1000 };

guestTest(
  'unplug (root): edu removed while held: the driver gets one unplug (REQ), closes, the removal completes; after a rescan a new open works',
  { root: true, timeout: 90_000 },
  async (t) => {
    const dev = openKernelDevice(EDU, { unplugGraceMs: 20_000 });
    assert.equal(dev.bar(0).read32(0), 0x010000ed);
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
    // The group file was made anew (root's): give it back to the user as /init did.
    chownSync(`/dev/vfio/${basename(readlinkSync(`/sys/bus/pci/devices/${EDU}/iommu_group`))}`, USER.uid, USER.gid);
  },
);
