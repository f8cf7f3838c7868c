// Opening a real device: the kernel backend's front door.
//
// openKernelDevice(bdf) checks the set-up (the device exists, has an IOMMU
// group, is bound to vfio-pci) and then takes one of two flows:
//
//  - container (every kernel): open the device's group /dev/vfio/N, check it
//    is viable, attach it to a container (/dev/vfio/vfio), set the type1
//    IOMMU, and get the device fd from the group;
//  - iommufd (Linux 6.6+ with the vfio cdev): open /dev/vfio/devices/vfioN,
//    bind it to a fresh /dev/iommu, allocate an IOAS and attach the device.
//
// 'auto' (the default) takes the iommufd flow where /dev/iommu and the
// device's cdev both exist, else the container; `iommu` forces either.
//
// Lifetimes: a group file can be opened once system-wide, so the groups this
// process has open are kept in a registry, shared by every device of the
// group opened here, each device holding a reference; a group's container
// (its own, unless the caller passed one) lives as long as the group. When
// the last device of a group closes, the group is detached and closed and its
// container too if it was ours. Devices of different groups get different
// containers unless a `container` is given: each Device allocates IOVAs on
// its own, and two allocators in one IOVA space would collide.

import { constants as fsc } from 'node:fs';
import { fail } from '../../errors.js';
import { Device, type DeviceOptions } from '../device.js';
import { DeviceMonitor } from '../../kernel/monitor.js';
import { closeFd, openFd } from '../../sys/fd.js';
import { normalizeBdf } from '../../kernel/bdf.js';
import { Container } from '../../kernel/container.js';
import { KernelBackend } from './backend.js';
import { cdevFlowError, checkDeviceSetup, deviceBusyError, explainOpenError, notViableError } from '../../kernel/errors.js';
import { Group } from '../../kernel/group.js';
import { Iommufd } from '../../kernel/iommufd.js';
import { cdevFlowAvailable, groupMembers, isViableDriver, resolvePaths, vfioCdevOf, type VfioPaths } from '../../kernel/sysfs.js';

/** How DMA reaches the IOMMU: the legacy container (/dev/vfio/N), iommufd (the vfio cdev), or whichever the kernel offers. */
export type IommuFlow = 'auto' | 'container' | 'iommufd';

/** How the kernel backend opens a device: the IOMMU flow and where /sys and /dev are. */
export interface KernelOpenOptions {
  /** Which flow to use (default 'auto': iommufd where the kernel offers the cdev, else the container). */
  iommu?: IommuFlow;
  /**
   * A container to attach the device's group to (container flow), owned by
   * the caller: share it between devices whose DMA must share IOVAs (and then
   * keep their IOVAs apart: each Device allocates on its own). Default: a new
   * container per group, closed with it.
   */
  container?: Container;
  /** Where sysfs, /dev and /proc/self/limits are (tests). */
  paths?: Partial<VfioPaths>;
}

/** Options of `openKernelDevice`: the backend's and the Device's, and the uevent watch. */
export interface OpenKernelDeviceOptions extends KernelOpenOptions, DeviceOptions {
  /**
   * Watch the kernel's uevents for this device (default true): its removal or
   * unbinding reaches the driver as the same 'unplug' event as a REQ. Where
   * uevents cannot be read, REQ alone is used.
   */
  monitor?: boolean;
}

interface GroupEntry {
  group: Group;
  container: Container;
  ownsContainer: boolean;
  users: number;
}

/** Groups this process has open, by group file. */
const groups = new Map<string, GroupEntry>();

/** How many groups this process holds open through openKernelDevice (for tests and leak checks). */
export function openGroupCount(): number {
  return groups.size;
}

/** Opens `bdf` through the kernel and returns the bare backend (see openKernelDevice for the Driver API). */
export function openKernelBackend(bdf: string, options: KernelOpenOptions = {}): KernelBackend {
  const paths = resolvePaths(options.paths);
  const name = normalizeBdf(bdf);
  const flow = options.iommu ?? 'auto';
  if (flow !== 'auto' && flow !== 'container' && flow !== 'iommufd')
    throw fail('EINVAL', `iommu must be 'auto', 'container' or 'iommufd', not ${String(flow)}`);
  const { group } = checkDeviceSetup(paths, name);
  if (flow === 'iommufd' || (flow === 'auto' && options.container === undefined && cdevFlowAvailable(paths, name))) {
    if (options.container !== undefined) throw fail('EINVAL', 'a container cannot be used with the iommufd flow');
    return openThroughIommufd(paths, name, group);
  }
  return openThroughContainer(paths, name, group, options.container);
}

/**
 * Opens PCI device `bdf` (bound to vfio-pci) for this process and returns
 * the Driver API over it. The device's group, container or iommufd are owned
 * by the returned Device and released when it closes.
 */
export function openKernelDevice(bdf: string, options: OpenKernelDeviceOptions = {}): Device {
  const backend = openKernelBackend(bdf, options);
  try {
    const deviceOptions: DeviceOptions = {};
    if (options.map !== undefined) deviceOptions.map = options.map;
    if (options.unplugGraceMs !== undefined) deviceOptions.unplugGraceMs = options.unplugGraceMs;
    const device = new Device(backend, deviceOptions);
    if (options.monitor ?? true) watchRemoval(device, normalizeBdf(bdf));
    return device;
  } catch (err) {
    backend.close();
    throw err;
  }
}

/** Turns uevents saying `bdf` was removed or unbound into the Device's unplug. */
function watchRemoval(device: Device, bdf: string): void {
  let monitor: DeviceMonitor;
  try {
    monitor = DeviceMonitor.open({ bdf });
  } catch {
    return; // no uevents here (sandbox, permissions): REQ still reaches the driver
  }
  monitor.unref();
  monitor.on('removed', () => device.signalUnplug('removed'));
  monitor.on('unbound', () => device.signalUnplug('removed'));
  monitor.on('error', () => {});
  device.once('close', () => monitor.close());
}

function openThroughContainer(paths: VfioPaths, bdf: string, groupId: number, shared: Container | undefined): KernelBackend {
  const key = `${paths.dev}/vfio/${groupId}`;
  let entry = groups.get(key);
  if (entry !== undefined && shared !== undefined && entry.container !== shared) {
    throw fail('EINVAL', `group ${groupId} of ${bdf} is already attached to another container in this process`);
  }
  let created = false;
  if (entry === undefined) {
    const group = Group.open(groupId, { paths, bdf });
    let container: Container | undefined;
    try {
      group.checkViable(bdf);
      container = shared ?? Container.open({ paths });
      try {
        group.setContainer(container);
      } catch (err) {
        // SET_CONTAINER refuses a group that is not viable with EPERM, whatever GET_STATUS said.
        if ((err as { code?: string }).code === 'EPERM') throw notViableError(paths, groupId, group.file, bdf);
        throw err;
      }
      container.setIommu();
    } catch (err) {
      group.close();
      if (container !== undefined && shared === undefined) container.close();
      throw err;
    }
    entry = { group, container, ownsContainer: shared === undefined, users: 0 };
    groups.set(key, entry);
    created = true;
  }
  let fd: number;
  try {
    fd = entry.group.deviceFd(bdf);
  } catch (err) {
    if (created) releaseGroup(key, entry);
    throw err;
  }
  entry.users++;
  const e = entry;
  return new KernelBackend({
    bdf,
    fd,
    dma: e.container,
    flow: 'container',
    release: () => {
      e.users--;
      if (e.users === 0) releaseGroup(key, e);
    },
  });
}

function releaseGroup(key: string, e: GroupEntry): void {
  if (groups.get(key) === e) groups.delete(key);
  try {
    e.group.close();
  } finally {
    if (e.ownsContainer) e.container.close();
  }
}

function openThroughIommufd(paths: VfioPaths, bdf: string, group: number): KernelBackend {
  const missing = cdevFlowError(paths, bdf);
  if (missing !== undefined) throw missing;
  const cdev = vfioCdevOf(paths, bdf)!;
  let fd: number;
  try {
    fd = openFd(cdev, fsc.O_RDWR);
  } catch (err) {
    throw explainOpenError(err, paths, cdev, bdf);
  }
  let iommufd: Iommufd | undefined;
  let ioas: ReturnType<Iommufd['allocIoas']> | undefined;
  try {
    iommufd = Iommufd.open({ paths });
    try {
      iommufd.bindDevice(fd);
    } catch (err) {
      // Binding claims the group's DMA ownership: EBUSY when a host driver has
      // another member (not viable) or another owner has the group; EINVAL when
      // the device is already bound through a cdev (one open per device).
      const code = (err as { code?: string }).code;
      if (code === 'EBUSY' && groupMembers(paths, group).some((m) => !isViableDriver(m.driver)))
        throw notViableError(paths, group, cdev, bdf);
      if (code === 'EBUSY' || code === 'EINVAL') throw deviceBusyError(paths, group, cdev, bdf, err);
      throw err;
    }
    ioas = iommufd.allocIoas();
    ioas.attach(fd);
  } catch (err) {
    closeFd(fd);
    try {
      ioas?.destroy();
    } catch {
      // gone with the iommufd
    }
    iommufd?.close();
    throw err;
  }
  const fdIommu = iommufd;
  const space = ioas;
  return new KernelBackend({
    bdf,
    fd,
    dma: space,
    flow: 'iommufd',
    release: () => {
      try {
        space.destroy();
      } catch {
        // closing the iommufd frees it anyway
      }
      fdIommu.close();
    },
  });
}
