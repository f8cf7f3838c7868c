// Opening a device named on the command line: a path to a vfio-user socket,
// or a PCI address (0000:01:00.0 / 01:00.0) of a device bound to vfio-pci.
// A name that exists as a file, or has a slash, is a socket; one made of hex
// digits, colons and dots is a PCI address and must be a valid one (a typo in
// an address is refused, not tried as a socket path).

import { existsSync } from 'node:fs';
import type { Device } from '../client/device.js';
import { connectVfioUser } from '../client/vfio-user/backend.js';
import { openKernelDevice } from '../client/kernel/open.js';
import { normalizeBdf } from '../kernel/bdf.js';
import { UsageError } from './usage.js';

export type Target = { kind: 'socket'; path: string } | { kind: 'bdf'; bdf: string };

/** What `target` names; UsageError for a malformed PCI address. */
export function parseTarget(target: string): Target {
  if (existsSync(target) || target.includes('/') || !/^[0-9a-f:.]+$/i.test(target) || !target.includes(':'))
    return { kind: 'socket', path: target };
  try {
    return { kind: 'bdf', bdf: normalizeBdf(target) };
  } catch {
    throw new UsageError(
      `'${target}' is not a PCI address ([domain:]bus:device.function in hex, e.g. 0000:00:04.0), and no socket has that name`,
    );
  }
}

export function openTarget(target: Target, options: { map?: boolean } = {}): Device {
  return target.kind === 'bdf' ? openKernelDevice(target.bdf, options) : connectVfioUser(target.path, options);
}
