// A VFIO group (/dev/vfio/N): the set of devices the IOMMU cannot tell apart,
// and so the unit of ownership. A device's group is the target of its
// /sys/bus/pci/devices/<BDF>/iommu_group link. The group file is opened (one
// process at a time), checked viable (every member bound to vfio-pci or to no
// driver), attached to a container (SET_CONTAINER), and then hands out fds of
// its devices by name (GET_DEVICE_FD). A Group owns its fd; closing it
// detaches it from its container.

import { constants as fsc } from 'node:fs';
import { fail } from '../errors.js';
import { closeFd, ioctl, openFd } from '../sys/fd.js';
import type { Container } from './container.js';
import { checkDeviceSetup, explainOpenError, notViableError } from './errors.js';
import { argszBuffer, decodeGroupStatus } from './structs.js';
import { groupFile, resolvePaths, type VfioPaths } from './sysfs.js';
import { vfioIoctl as VFIO, structSize } from '../uapi/vfio.js';
import { normalizeBdf } from './bdf.js';

/** Where a group finds /dev/vfio (tests point it at a fake tree). */
export interface GroupOptions {
  paths?: Partial<VfioPaths>;
}

/** A VFIO group (/dev/vfio/N): checked viable, set into a container, asked for its devices' fds. */
export class Group {
  readonly id: number;
  readonly file: string;
  readonly paths: VfioPaths;
  #fd: number;
  #container: Container | null = null;

  private constructor(id: number, file: string, fd: number, paths: VfioPaths) {
    this.id = id;
    this.file = file;
    this.#fd = fd;
    this.paths = paths;
  }

  /** Opens /dev/vfio/<id>. `bdf` only improves error messages. */
  static open(id: number, options: GroupOptions & { bdf?: string } = {}): Group {
    if (!Number.isInteger(id) || id < 0) throw fail('EINVAL', `bad IOMMU group number ${id}`);
    const paths = resolvePaths(options.paths);
    const file = groupFile(paths, id);
    let fd: number;
    try {
      fd = openFd(file, fsc.O_RDWR);
    } catch (err) {
      throw explainOpenError(err, paths, file, options.bdf);
    }
    return new Group(id, file, fd, paths);
  }

  /**
   * Opens the group of PCI device `bdf` after checking that it exists, has an
   * IOMMU group and is bound to vfio-pci (VfioSetupError otherwise).
   */
  static forDevice(bdf: string, options: GroupOptions = {}): Group {
    const paths = resolvePaths(options.paths);
    const name = normalizeBdf(bdf);
    const { group } = checkDeviceSetup(paths, name);
    return Group.open(group, { paths, bdf: name });
  }

  get fd(): number {
    return this.#live();
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  get container(): Container | null {
    return this.#container;
  }

  /** VFIO_GROUP_GET_STATUS. */
  status(): { viable: boolean; containerSet: boolean } {
    const buf = argszBuffer(structSize.GROUP_STATUS);
    ioctl(this.#live(), VFIO.GROUP_GET_STATUS, buf);
    const s = decodeGroupStatus(buf);
    return { viable: s.viable, containerSet: s.containerSet };
  }

  /** Throws VFIO_GROUP_NOT_VIABLE, naming the culprits, unless the group is viable. */
  checkViable(bdf: string): void {
    if (!this.status().viable) throw notViableError(this.paths, this.id, this.file, bdf);
  }

  /** VFIO_GROUP_SET_CONTAINER. */
  setContainer(container: Container): void {
    const fd = this.#live();
    if (this.#container === container) return;
    if (this.#container !== null) throw fail('EBUSY', `group ${this.id} is already attached to a container`);
    const arg = new Int32Array([container.fd]);
    ioctl(fd, VFIO.GROUP_SET_CONTAINER, arg);
    this.#container = container;
    container._attached(1);
  }

  /** VFIO_GROUP_UNSET_CONTAINER (the container's mappings stay while other groups use it). */
  unsetContainer(): void {
    const c = this.#container;
    if (c === null) return;
    // EBUSY while a device fd of the group is still open: close devices first.
    if (this.#fd >= 0 && !c.closed) ioctl(this.#fd, VFIO.GROUP_UNSET_CONTAINER);
    this.#container = null;
    c._attached(-1);
  }

  /** VFIO_GROUP_GET_DEVICE_FD: an fd of device `bdf` of this group (the caller owns it). */
  deviceFd(bdf: string): number {
    const fd = this.#live();
    if (this.#container === null) throw fail('EINVAL', `group ${this.id} has no container: devices are only handed out once it has one`);
    const name = Buffer.from(`${normalizeBdf(bdf)}\0`, 'latin1');
    return ioctl(fd, VFIO.GROUP_GET_DEVICE_FD, name);
  }

  /** Detaches from the container and closes the group file. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    try {
      this.unsetContainer();
    } catch {
      // closing the fd detaches it anyway
      const c = this.#container;
      this.#container = null;
      c?._attached(-1);
    }
    const fd = this.#fd;
    this.#fd = -1;
    closeFd(fd);
  }

  #live(): number {
    if (this.#fd < 0) throw fail('EBADF', `group ${this.id} is closed`);
    return this.#fd;
  }
}
