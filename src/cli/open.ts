// Opening a device named on the command line: a path to a vfio-user socket,
// or a PCI address (0000:01:00.0 / 01:00.0) of a device bound to vfio-pci.

import { existsSync } from 'node:fs';
import type { Device } from '../client/device.js';
import { connectVfioUser } from '../client/vfio-user/backend.js';
import { openKernelDevice } from '../client/kernel/open.js';

const BDF = /^([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;

export function isBdf(target: string): boolean {
  return BDF.test(target);
}

export function openTarget(target: string, options: { map?: boolean } = {}): Device {
  if (isBdf(target) && !existsSync(target)) return openKernelDevice(target, options);
  return connectVfioUser(target, options);
}
