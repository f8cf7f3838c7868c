// What the kernel says about a PCI device outside of VFIO's ioctls: sysfs
// (its IOMMU group, the driver it is bound to, the other members of its
// group, its vfio cdev), the files under /dev/vfio, /proc/self/limits for
// RLIMIT_MEMLOCK, and /etc/passwd and /etc/group for naming owners. Every
// root is configurable (VfioPaths) so that the diagnosis of set-up mistakes
// can be unit-tested on fake trees in a temporary directory.

import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Where the kernel's files are; the defaults are the real ones. */
export interface VfioPaths {
  /** sysfs mount (default /sys). */
  sys: string;
  /** devtmpfs (default /dev): /dev/vfio/vfio, /dev/vfio/N, /dev/vfio/devices/vfioN, /dev/iommu. */
  dev: string;
  /** RLIMIT file (default /proc/self/limits). */
  limits: string;
  /** User and group databases for naming owners (default /etc/passwd, /etc/group). */
  passwd: string;
  group: string;
}

/** Where the kernel's files are on a real system. */
export const DEFAULT_PATHS: VfioPaths = {
  sys: '/sys',
  dev: '/dev',
  limits: '/proc/self/limits',
  passwd: '/etc/passwd',
  group: '/etc/group',
};

/** The paths to use: the defaults, with any given ones in their place (tests use a fake tree). */
export function resolvePaths(p?: Partial<VfioPaths>): VfioPaths {
  return { ...DEFAULT_PATHS, ...(p ?? {}) };
}

/** Drivers whose devices VFIO can open: vfio-pci and its variant drivers (mlx5_vfio_pci, ...). */
export function isVfioDriver(driver: string | null): boolean {
  return driver !== null && (driver === 'vfio-pci' || /(^|[_-])vfio([_-]|$)/.test(driver));
}

/**
 * Drivers that do not spoil a group's viability: VFIO ones, pci-stub, and
 * bridge drivers (the kernel lets bridges stay with pcieport/shpchp).
 */
export function isViableDriver(driver: string | null): boolean {
  return driver === null || isVfioDriver(driver) || driver === 'pci-stub' || driver === 'pcieport' || driver === 'shpchp';
}

export function pciDeviceDir(paths: VfioPaths, bdf: string): string {
  return join(paths.sys, 'bus', 'pci', 'devices', bdf);
}

export function deviceExists(paths: VfioPaths, bdf: string): boolean {
  return existsSync(pciDeviceDir(paths, bdf));
}

function linkName(path: string): string | null {
  try {
    return basename(readlinkSync(path));
  } catch {
    return null;
  }
}

/** The device's IOMMU group number, or null when it has none (no IOMMU). */
export function iommuGroupOf(paths: VfioPaths, bdf: string): number | null {
  const name = linkName(join(pciDeviceDir(paths, bdf), 'iommu_group'));
  if (name === null || !/^\d+$/.test(name)) return null;
  return Number(name);
}

/** The driver the device is bound to ("vfio-pci", "nvme"...), or null. */
export function driverOf(paths: VfioPaths, bdf: string): string | null {
  return linkName(join(pciDeviceDir(paths, bdf), 'driver'));
}

/** "0x1234:0x11e8"-style ids of a device, when readable. */
export function deviceIds(paths: VfioPaths, bdf: string): { vendor: string; device: string } | null {
  try {
    const dir = pciDeviceDir(paths, bdf);
    return {
      vendor: readFileSync(join(dir, 'vendor'), 'utf8').trim(),
      device: readFileSync(join(dir, 'device'), 'utf8').trim(),
    };
  } catch {
    return null;
  }
}

/** Every device of IOMMU group `group` with its driver, sorted by address. */
export function groupMembers(paths: VfioPaths, group: number): { bdf: string; driver: string | null }[] {
  let names: string[];
  try {
    names = readdirSync(join(paths.sys, 'kernel', 'iommu_groups', String(group), 'devices'));
  } catch {
    return [];
  }
  return names.sort().map((bdf) => ({ bdf, driver: driverOf(paths, bdf) }));
}

/** Whether the vfio-pci driver is registered (the module is loaded). */
export function vfioPciLoaded(paths: VfioPaths): boolean {
  return existsSync(join(paths.sys, 'bus', 'pci', 'drivers', 'vfio-pci'));
}

export function groupFile(paths: VfioPaths, group: number): string {
  return join(paths.dev, 'vfio', String(group));
}

export function containerFile(paths: VfioPaths): string {
  return join(paths.dev, 'vfio', 'vfio');
}

export function iommufdFile(paths: VfioPaths): string {
  return join(paths.dev, 'iommu');
}

/** The name ("vfio0") of the device's vfio cdev in sysfs (vfio-dev/vfioN/dev), when the kernel gives it one (6.6+). */
export function vfioCdevName(paths: VfioPaths, bdf: string): string | null {
  let names: string[];
  try {
    names = readdirSync(join(pciDeviceDir(paths, bdf), 'vfio-dev'));
  } catch {
    return null;
  }
  // Linux 6.1-6.5 list vfio-dev/vfioN too, as a plain device; only a kernel with the cdev gives it a dev number.
  return names.find((n) => /^vfio\d+$/.test(n) && existsSync(join(pciDeviceDir(paths, bdf), 'vfio-dev', n, 'dev'))) ?? null;
}

/** The device's vfio cdev (/dev/vfio/devices/vfioN), when the kernel offers one (6.6+) and it is in /dev. */
export function vfioCdevOf(paths: VfioPaths, bdf: string): string | null {
  const name = vfioCdevName(paths, bdf);
  if (name === null) return null;
  const file = join(paths.dev, 'vfio', 'devices', name);
  // Exists, whatever it is: opening it says the rest (and fake trees in tests use plain files).
  return existsSync(file) ? file : null;
}

/** Whether both halves of the cdev flow are here: /dev/iommu and the device's cdev. */
export function cdevFlowAvailable(paths: VfioPaths, bdf: string): boolean {
  return existsSync(iommufdFile(paths)) && vfioCdevOf(paths, bdf) !== null;
}

export interface Limit {
  soft: bigint | 'unlimited';
  hard: bigint | 'unlimited';
}

/** RLIMIT_MEMLOCK in bytes, from /proc/self/limits ("Max locked memory"). */
export function memlockLimit(paths: VfioPaths): Limit | null {
  let text: string;
  try {
    text = readFileSync(paths.limits, 'utf8');
  } catch {
    return null;
  }
  const line = text.split('\n').find((l) => l.startsWith('Max locked memory'));
  if (line === undefined) return null;
  const m = /^Max locked memory\s+(\S+)\s+(\S+)/.exec(line);
  if (!m) return null;
  const val = (s: string): bigint | 'unlimited' => (s === 'unlimited' ? 'unlimited' : BigInt(s));
  try {
    return { soft: val(m[1]!), hard: val(m[2]!) };
  } catch {
    return null;
  }
}

/** Human form of a byte count: "65536 bytes (64 KiB)". */
export function formatBytes(n: bigint | 'unlimited'): string {
  if (n === 'unlimited') return 'unlimited';
  const units: [bigint, string][] = [
    [1n << 30n, 'GiB'],
    [1n << 20n, 'MiB'],
    [1n << 10n, 'KiB'],
  ];
  for (const [u, name] of units) if (n >= u && n % u === 0n) return `${n} bytes (${n / u} ${name})`;
  return `${n} bytes`;
}

function lookupName(file: string, id: number): string | undefined {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && Number(f[2]) === id && f[2] !== '') return f[0];
    }
  } catch {
    // no database: numbers only
  }
  return undefined;
}

function lookupId(file: string, name: string): number | undefined {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && f[0] === name && /^\d+$/.test(f[2]!)) return Number(f[2]);
    }
  } catch {
    // none
  }
  return undefined;
}

export function userName(paths: VfioPaths, uid: number): string {
  const n = lookupName(paths.passwd, uid);
  return n === undefined ? `uid ${uid}` : `${n} (uid ${uid})`;
}

export function groupName(paths: VfioPaths, gid: number): string {
  const n = lookupName(paths.group, gid);
  return n === undefined ? `gid ${gid}` : `${n} (gid ${gid})`;
}

/** A user given by name or number, as a uid; undefined when unknown. */
export function resolveUser(paths: VfioPaths, user: string | number): number | undefined {
  if (typeof user === 'number') return Number.isInteger(user) && user >= 0 ? user : undefined;
  if (/^\d+$/.test(user)) return Number(user);
  return lookupId(paths.passwd, user);
}

/** A group given by name or number, as a gid; undefined when unknown. */
export function resolveGroup(paths: VfioPaths, group: string | number): number | undefined {
  if (typeof group === 'number') return Number.isInteger(group) && group >= 0 ? group : undefined;
  if (/^\d+$/.test(group)) return Number(group);
  return lookupId(paths.group, group);
}

/** Owner, group and mode of a file, named, e.g. "owner root (uid 0), group root (gid 0), mode 0600". */
export function describeOwner(paths: VfioPaths, file: string): string | null {
  try {
    const st = statSync(file);
    return `owner ${userName(paths, st.uid)}, group ${groupName(paths, st.gid)}, mode 0${(st.mode & 0o7777).toString(8)}`;
  } catch {
    return null;
  }
}
