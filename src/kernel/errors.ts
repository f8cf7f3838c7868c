// Set-up mistakes, diagnosed. When the kernel refuses to hand out a device
// the errno alone ("EACCES", "ENOENT", "ENOMEM") rarely says what to do, so
// the kernel backend checks the usual causes in sysfs and /proc and throws a
// VfioSetupError: a stable `code` to branch on, the kernel's errno (`cause`,
// a SysError, and `errnoName`) when there was one, and a `hint` that names
// the file, the driver, the other devices or the limit in question and says
// how to fix it. The causes, in the order a device is opened:
//
//   VFIO_NO_DEVICE         no such PCI device in sysfs
//   VFIO_NO_IOMMU          the device has no iommu_group link (IOMMU off)
//   VFIO_NOT_BOUND         the device is bound to another driver, or to none
//   VFIO_NO_VFIO           /dev/vfio/vfio (or the group file) does not exist
//   VFIO_NO_PERMISSION     EACCES/EPERM opening a group file, cdev or /dev/iommu
//   VFIO_GROUP_BUSY        EBUSY: another process (or this one) holds the group
//   VFIO_GROUP_NOT_VIABLE  other devices of the group are bound to host drivers
//   VFIO_MEMLOCK           ENOMEM/EPERM mapping DMA: RLIMIT_MEMLOCK too low
//   VFIO_NO_CDEV           the iommufd flow was asked for but the device has no vfio cdev
//   VFIO_NO_IOMMUFD        the device has its cdev but /dev/iommu is missing
//
// Bad PCI-address syntax is an ErrnoError EINVAL (src/vfio/bdf.ts).

import { existsSync } from 'node:fs';
import { SysError, VfioTsError } from '../errors.js';
import {
  deviceExists,
  deviceIds,
  describeOwner,
  driverOf,
  formatBytes,
  groupMembers,
  iommufdFile,
  iommuGroupOf,
  isVfioDriver,
  isViableDriver,
  memlockLimit,
  pciDeviceDir,
  userName,
  vfioCdevOf,
  vfioPciLoaded,
  type VfioPaths,
} from './sysfs.js';

/** What went wrong in setting a device up through /dev/vfio: the `code` of a {@link VfioSetupError}. */
export type VfioSetupCode =
  | 'VFIO_NO_DEVICE'
  | 'VFIO_NO_IOMMU'
  | 'VFIO_NOT_BOUND'
  | 'VFIO_NO_VFIO'
  | 'VFIO_NO_PERMISSION'
  | 'VFIO_GROUP_BUSY'
  | 'VFIO_GROUP_NOT_VIABLE'
  | 'VFIO_MEMLOCK'
  | 'VFIO_NO_CDEV'
  | 'VFIO_NO_IOMMUFD';

export interface VfioSetupDetail {
  bdf?: string;
  /** The file the failure is about (group file, cdev, /dev/vfio/vfio). */
  path?: string;
  cause?: unknown;
}

/** A device could not be opened or used because of how the machine is set up. */
export class VfioSetupError extends VfioTsError {
  declare readonly code: VfioSetupCode;
  /** What to do about it. Also the end of `message`. */
  readonly hint: string;
  readonly bdf: string | undefined;
  readonly path: string | undefined;
  /** The kernel's errno name ("EACCES"...) when a system call failed. */
  readonly errnoName: string | undefined;

  constructor(code: VfioSetupCode, summary: string, hint: string, detail: VfioSetupDetail = {}) {
    super(code, `${summary}. Hint: ${hint}`, detail.cause !== undefined ? { cause: detail.cause } : undefined);
    this.hint = hint;
    this.bdf = detail.bdf;
    this.path = detail.path;
    this.errnoName = detail.cause instanceof VfioTsError ? detail.cause.code : undefined;
  }
}

function me(paths: VfioPaths): string {
  const uid = process.getuid?.();
  return uid === undefined ? 'this user' : userName(paths, uid);
}

const BIND_HOWTO = (bdf: string, bound: boolean): string =>
  `bind it as root: \`vfio-ts bind ${bdf} --user $USER\` (src/vfio/bind.ts), or by hand: ` +
  `echo vfio-pci > /sys/bus/pci/devices/${bdf}/driver_override; ` +
  (bound ? `echo ${bdf} > /sys/bus/pci/devices/${bdf}/driver/unbind; ` : '') +
  `echo ${bdf} > /sys/bus/pci/drivers_probe`;

/**
 * Checks, before any open, that `bdf` exists, sits behind an IOMMU and is
 * bound to vfio-pci (or a vfio variant driver). Returns its group number.
 */
export function checkDeviceSetup(paths: VfioPaths, bdf: string): { group: number; driver: string } {
  if (!deviceExists(paths, bdf)) {
    throw new VfioSetupError(
      'VFIO_NO_DEVICE',
      `no PCI device ${bdf}`,
      `${pciDeviceDir(paths, bdf)} does not exist; \`ls ${paths.sys}/bus/pci/devices\` or \`lspci -D\` lists the addresses of this machine`,
      { bdf },
    );
  }
  const group = iommuGroupOf(paths, bdf);
  if (group === null) {
    throw new VfioSetupError(
      'VFIO_NO_IOMMU',
      `PCI device ${bdf} has no IOMMU group`,
      `${pciDeviceDir(paths, bdf)}/iommu_group is missing: the IOMMU is off or absent. Enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on; without an IOMMU VFIO cannot protect memory from the device`,
      { bdf },
    );
  }
  const driver = driverOf(paths, bdf);
  if (!isVfioDriver(driver)) {
    const ids = deviceIds(paths, bdf);
    const what = ids ? ` (${ids.vendor.replace(/^0x/, '')}:${ids.device.replace(/^0x/, '')})` : '';
    const load = vfioPciLoaded(paths) ? '' : 'vfio-pci is not loaded either: `modprobe vfio-pci` first, then ';
    throw new VfioSetupError(
      'VFIO_NOT_BOUND',
      driver === null
        ? `PCI device ${bdf}${what} is not bound to any driver, so not to vfio-pci`
        : `PCI device ${bdf}${what} is bound to ${driver}, not to vfio-pci`,
      `${load}${driver !== null ? `take it from ${driver} and ` : ''}${BIND_HOWTO(bdf, driver !== null)}`,
      { bdf },
    );
  }
  return { group, driver: driver! };
}

function errnoOf(err: unknown): string | undefined {
  return err instanceof SysError ? err.code : undefined;
}

/** Explains a failure to open /dev/vfio/vfio, /dev/vfio/N, a cdev or /dev/iommu. */
export function explainOpenError(err: unknown, paths: VfioPaths, file: string, bdf?: string): unknown {
  const e = errnoOf(err);
  const detail = { bdf, path: file, cause: err };
  if (e === 'EACCES' || e === 'EPERM') {
    const owner = describeOwner(paths, file);
    // The udev match differs: group files are subsystem vfio, cdevs vfio-dev, /dev/iommu the misc device "iommu".
    const rule =
      file === iommufdFile(paths)
        ? 'KERNEL=="iommu", SUBSYSTEM=="misc", GROUP="<a group of the user>", MODE="0660"'
        : file.startsWith(`${paths.dev}/vfio/devices/`)
          ? 'SUBSYSTEM=="vfio-dev", OWNER="$USER"'
          : 'SUBSYSTEM=="vfio", OWNER="$USER"';
    return new VfioSetupError(
      'VFIO_NO_PERMISSION',
      `${me(paths)} may not open ${file}${owner ? ` (${owner})` : ''}: ${e}`,
      `give the file to the user who runs the driver, as root: \`chown $USER ${file}\` (\`vfio-ts bind ${bdf ?? '<bdf>'} --user $USER\` does it), or for good a udev rule such as ${rule}`,
      detail,
    );
  }
  if (e === 'EBUSY') {
    return new VfioSetupError(
      'VFIO_GROUP_BUSY',
      `${file} is already open${bdf ? ` (group of ${bdf})` : ''}: ${e}`,
      `a VFIO group can be opened by one process at a time: another process (QEMU, another driver) or an earlier open in this one holds it; \`fuser -v ${file}\` shows who`,
      detail,
    );
  }
  if (e === 'ENOENT' || e === 'ENODEV' || e === 'ENXIO') {
    return new VfioSetupError(
      'VFIO_NO_VFIO',
      `${file} does not exist: ${e}`,
      vfioPciLoaded(paths)
        ? `the VFIO module is loaded but the file is missing: is ${paths.dev} a devtmpfs, and is the device bound to vfio-pci${bdf ? ` (${driverOf(paths, bdf) ?? 'no driver'} now)` : ''}?`
        : 'load the VFIO modules as root: `modprobe vfio-pci` (vfio_iommu_type1 comes with it)',
      detail,
    );
  }
  return err;
}

/**
 * Why the iommufd flow cannot be taken for `bdf`: no vfio cdev for the device
 * (VFIO_NO_CDEV: an older kernel, or one without CONFIG_VFIO_DEVICE_CDEV), or
 * the cdev but no /dev/iommu (VFIO_NO_IOMMUFD). Undefined when both are there.
 */
export function cdevFlowError(paths: VfioPaths, bdf: string): VfioSetupError | undefined {
  const sysDir = `${pciDeviceDir(paths, bdf)}/vfio-dev/`;
  const cdev = vfioCdevOf(paths, bdf);
  if (cdev === null) {
    return new VfioSetupError(
      'VFIO_NO_CDEV',
      `the iommufd flow is not available for ${bdf}: it has no vfio cdev (no ${sysDir}vfioN/dev number in sysfs, or no ${paths.dev}/vfio/devices/vfioN)`,
      `the vfio cdev needs Linux 6.6 or later built with CONFIG_VFIO_DEVICE_CDEV=y (and CONFIG_IOMMUFD); on this kernel use the container flow (iommu: 'container'; the default 'auto' falls back to it)`,
      { bdf, path: sysDir },
    );
  }
  const file = iommufdFile(paths);
  if (!existsSync(file)) {
    return new VfioSetupError(
      'VFIO_NO_IOMMUFD',
      `the iommufd flow is not available for ${bdf}: its cdev ${cdev} is there but ${file} is not`,
      `${file} is the iommufd device: load it as root (\`modprobe iommufd\`, CONFIG_IOMMUFD=m) or build the kernel with CONFIG_IOMMUFD=y, and check that ${paths.dev} is a devtmpfs; or use the container flow (iommu: 'container')`,
      { bdf, path: file },
    );
  }
  return undefined;
}

/**
 * The device is in use: VFIO_DEVICE_BIND_IOMMUFD refused it because another
 * process (or an earlier open in this one: the cdev flow gives one open per
 * device) has it, through its cdev or its group.
 */
export function deviceBusyError(paths: VfioPaths, group: number, cdev: string, bdf: string, cause: unknown): VfioSetupError {
  return new VfioSetupError(
    'VFIO_GROUP_BUSY',
    `${bdf} is already in use (${cdev} bound by another open, or its group ${paths.dev}/vfio/${group} open): ${errnoOf(cause) ?? 'refused'}`,
    `a device can be bound to one iommufd at a time: another process (QEMU, another driver) or an earlier open in this one holds it (close that Device first; share one Device instead of opening twice); \`fuser -v ${cdev} ${paths.dev}/vfio/${group}\` shows who`,
    { bdf, path: cdev, cause },
  );
}

/** The group is not viable: names the members bound to host drivers. */
export function notViableError(paths: VfioPaths, group: number, file: string, bdf: string): VfioSetupError {
  const members = groupMembers(paths, group);
  const culprits = members.filter((m) => !isViableDriver(m.driver));
  const list = culprits.length
    ? culprits.map((m) => `${m.bdf} (bound to ${m.driver})`).join(', ')
    : 'none found in sysfs (a device may be being bound or unbound right now)';
  const names = culprits.map((m) => m.bdf).join(' ');
  return new VfioSetupError(
    'VFIO_GROUP_NOT_VIABLE',
    `IOMMU group ${group} of ${bdf} is not viable: every device of a group must be bound to vfio-pci (or to no driver) before any of them can be used; bound to host drivers: ${list}`,
    `as root, bind ${culprits.length > 1 ? 'those devices' : 'that device'} to vfio-pci (${names ? `\`for d in ${names}; do vfio-ts bind $d; done\`` : 'vfio-ts bind <bdf>'}) or unbind ${culprits.length > 1 ? 'them' : 'it'} from ${culprits.length > 1 ? 'their drivers' : 'its driver'}; a group is the smallest set of devices the IOMMU can isolate from each other (all of it: ${paths.sys}/kernel/iommu_groups/${group}/devices)`,
    { bdf, path: file },
  );
}

/** Explains a failed DMA map (VFIO_IOMMU_MAP_DMA or IOMMU_IOAS_MAP). */
export function explainDmaMapError(err: unknown, paths: VfioPaths, size: number, what: string, bdf?: string): unknown {
  const e = errnoOf(err);
  if (e !== 'ENOMEM' && e !== 'EPERM') return err;
  const lim = memlockLimit(paths);
  const limit = lim
    ? `RLIMIT_MEMLOCK (Max locked memory in ${paths.limits}) is ${formatBytes(lim.soft)} soft, ${formatBytes(lim.hard)} hard`
    : `RLIMIT_MEMLOCK could not be read from ${paths.limits}`;
  return new VfioSetupError(
    'VFIO_MEMLOCK',
    `${what} of ${size} bytes failed: ${e}: the IOMMU pins DMA memory, which counts against the locked-memory limit; ${limit}`,
    'raise the limit for the user who runs the driver: `ulimit -l unlimited` in a root shell before dropping privileges, a line `USER - memlock unlimited` in /etc/security/limits.conf, LimitMEMLOCK=infinity in a systemd unit, or `prlimit --memlock=unlimited --pid PID` as root',
    { bdf, cause: err },
  );
}
