// Binding devices to vfio-pci and back, for administrators (root).
//
// bind(bdf, {user}) makes a device usable by an unprivileged driver: it sets
// the device's driver_override to vfio-pci (so no other driver takes it, now
// or at the next probe), unbinds it from its current driver, asks the PCI bus
// to probe it again (drivers_probe: only vfio-pci may take it now), waits for
// its group file /dev/vfio/N and gives that file to the user (and group).
// On a kernel with the vfio cdev (6.6+) it also waits for the device's
// /dev/vfio/devices/vfioN (named in sysfs vfio-dev/) and gives that, and
// /dev/iommu when it exists, to the same owner, so that the iommufd flow
// works for the user too. /dev/iommu is one file for every device: binding
// devices for different users gives it to the last one; a shared group
// (`group`) is the way to let several users in.
// unbind(bdf) gives the device back: clears driver_override, unbinds it from
// vfio-pci and, unless told not to, probes again so that its usual driver
// (if one is loaded) takes it. No module is ever loaded here: if vfio-pci is
// not registered, bind says so. Every step is a write to a sysfs file, the
// same as `echo` would do; errors name the file.

import { chownSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fail, VfioTsError } from '../errors.js';
import { normalizeBdf } from './bdf.js';
import { VfioSetupError } from './errors.js';
import {
  deviceExists,
  driverOf,
  isVfioDriver,
  groupFile,
  iommufdFile,
  iommuGroupOf,
  pciDeviceDir,
  resolveGroup,
  resolvePaths,
  resolveUser,
  vfioCdevName,
  vfioPciLoaded,
  type VfioPaths,
} from './sysfs.js';

/** How `bind` hands a device to vfio-pci: who gets its group file, how long to wait. */
export interface BindOptions {
  /** Owner to give the group file: a user name or uid. */
  user?: string | number;
  /** Group to give the group file: a group name or gid. */
  group?: string | number;
  /** How long to wait for /dev/vfio/N to appear (default 2000 ms). */
  timeoutMs?: number;
  paths?: Partial<VfioPaths>;
}

/** What `bind` did: the driver the device had, its group and the files it gave away. */
export interface BindResult {
  bdf: string;
  /** The driver the device had before ("nvme"), or null. */
  previousDriver: string | null;
  /** Its IOMMU group and group file. */
  group: number;
  groupFile: string;
  /** The device's vfio cdev (/dev/vfio/devices/vfioN), or null on a kernel without it. */
  cdev: string | null;
  /** /dev/iommu when it exists (it was given to the same owner), else null. */
  iommuFile: string | null;
}

/** How `unbind` gives a device back: probe afterwards, and whether any driver may be unbound. */
export interface UnbindOptions {
  /** Probe the device again after unbinding so its usual driver takes it (default true). */
  probe?: boolean;
  /** Unbind from whatever driver has the device, not only from vfio-pci (default false). */
  force?: boolean;
  paths?: Partial<VfioPaths>;
}

/** What `unbind` did: the driver it took the device from, and which took it after. */
export interface UnbindResult {
  bdf: string;
  previousDriver: string | null;
  /** The driver that took the device after the probe, or null. */
  driver: string | null;
}

function sysWrite(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const e = new VfioTsError(
      code,
      `writing "${value.trim()}" to ${file} failed: ${code}${code === 'EACCES' || code === 'EPERM' ? ' (binding drivers needs root)' : ''}`,
      { cause: err },
    );
    throw e;
  }
}

/** Binds `bdf` to vfio-pci and gives its group file to `user`/`group`. Root only. */
export async function bind(bdf: string, options: BindOptions = {}): Promise<BindResult> {
  const paths = resolvePaths(options.paths);
  const name = normalizeBdf(bdf);
  const dir = pciDeviceDir(paths, name);
  if (!deviceExists(paths, name)) throw fail('ENODEV', `no PCI device ${name} (${dir} does not exist)`);
  const uid = options.user === undefined ? undefined : resolveUser(paths, options.user);
  if (options.user !== undefined && uid === undefined) throw fail('EINVAL', `unknown user ${options.user}`);
  const gid = options.group === undefined ? undefined : resolveGroup(paths, options.group);
  if (options.group !== undefined && gid === undefined) throw fail('EINVAL', `unknown group ${options.group}`);
  if (!vfioPciLoaded(paths)) {
    throw new VfioSetupError(
      'VFIO_NO_VFIO',
      'the vfio-pci driver is not registered',
      'load it first as root: `modprobe vfio-pci` (bind loads no modules)',
      { bdf: name },
    );
  }
  const group = iommuGroupOf(paths, name);
  if (group === null) {
    throw new VfioSetupError(
      'VFIO_NO_IOMMU',
      `PCI device ${name} has no IOMMU group`,
      'enable the IOMMU (intel_iommu=on / amd_iommu=on, VT-d or AMD-Vi in the firmware): vfio-pci cannot give a device without one to a user',
      { bdf: name },
    );
  }
  const previousDriver = driverOf(paths, name);
  if (previousDriver !== 'vfio-pci') {
    sysWrite(join(dir, 'driver_override'), 'vfio-pci\n');
    if (previousDriver !== null) sysWrite(join(dir, 'driver', 'unbind'), name);
    sysWrite(join(paths.sys, 'bus', 'pci', 'drivers_probe'), name);
    const now = driverOf(paths, name);
    if (now !== 'vfio-pci') {
      throw fail('EIO', `${name} is bound to ${now ?? 'no driver'} after probing with driver_override=vfio-pci (see dmesg)`);
    }
  }
  const deadline = Date.now() + (options.timeoutMs ?? 2000);
  const file = groupFile(paths, group);
  await appear(file, deadline, name);
  const cdevName = vfioCdevName(paths, name);
  const cdev = cdevName === null ? null : join(paths.dev, 'vfio', 'devices', cdevName);
  if (cdev !== null) await appear(cdev, deadline, name);
  const iommu = cdev !== null && existsSync(iommufdFile(paths)) ? iommufdFile(paths) : null;
  if (uid !== undefined || gid !== undefined) {
    for (const f of [file, cdev, iommu]) if (f !== null) chown(f, uid, gid);
  }
  return { bdf: name, previousDriver, group, groupFile: file, cdev, iommuFile: iommu };
}

async function appear(file: string, deadline: number, bdf: string): Promise<void> {
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw fail('ETIMEDOUT', `${file} did not appear after binding ${bdf} to vfio-pci`);
    await sleep(20);
  }
}

function chown(file: string, uid: number | undefined, gid: number | undefined): void {
  try {
    chownSync(file, uid ?? -1, gid ?? -1);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new VfioTsError(code, `chown of ${file} failed: ${code}`, { cause: err });
  }
}

/** Takes `bdf` from vfio-pci (any driver with `force`) and clears driver_override; probes it again unless `probe: false`. Root only. */
export function unbind(bdf: string, options: UnbindOptions = {}): UnbindResult {
  const paths = resolvePaths(options.paths);
  const name = normalizeBdf(bdf);
  const dir = pciDeviceDir(paths, name);
  if (!deviceExists(paths, name)) throw fail('ENODEV', `no PCI device ${name} (${dir} does not exist)`);
  const previousDriver = driverOf(paths, name);
  // Taking a device from its own driver (a disk controller, a NIC) is what bind is for;
  // unbind only gives back what vfio-pci holds, unless told otherwise.
  if (previousDriver !== null && !isVfioDriver(previousDriver) && !options.force) {
    throw fail(
      'EBUSY',
      `${name} is bound to ${previousDriver}, not to vfio-pci: refusing to unbind it (force to take it from ${previousDriver} anyway)`,
    );
  }
  // An empty line clears the override (an empty write would not reach the kernel).
  sysWrite(join(dir, 'driver_override'), '\n');
  if (previousDriver !== null) sysWrite(join(dir, 'driver', 'unbind'), name);
  if (options.probe ?? true) sysWrite(join(paths.sys, 'bus', 'pci', 'drivers_probe'), name);
  return { bdf: name, previousDriver, driver: driverOf(paths, name) };
}
