// The iommufd flow (Linux 6.6+): instead of container and group files, a
// device is opened through its own character device /dev/vfio/devices/vfioN
// (its name is in /sys/bus/pci/devices/<BDF>/vfio-dev/), bound to an iommufd
// (/dev/iommu, VFIO_DEVICE_BIND_IOMMUFD) and attached to an IO address space
// allocated there (IOMMU_IOAS_ALLOC, VFIO_DEVICE_ATTACH_IOMMUFD_PT). DMA
// buffers are mapped into the IOAS (IOMMU_IOAS_MAP with FIXED_IOVA and the
// buffer's virtual address, IOMMU_IOAS_UNMAP), whose allowed IOVA windows
// IOMMU_IOAS_IOVA_RANGES reports. Group viability is checked by the kernel at
// bind time. An Iommufd owns its fd, an Ioas its id (destroyed on release).

import { constants as fsc } from 'node:fs';
import { fail } from '../errors.js';
import type { DmaAccess, IovaRange } from '../uapi/types.js';
import { closeFd, ioctl, openFd } from '../sys/fd.js';
import { Mapping, PAGE_SIZE } from '../sys/memory.js';
import type { IommuSpace } from './container.js';
import { explainDmaMapError, explainOpenError } from './errors.js';
import {
  decodeAttachIommufdPt,
  decodeBindIommufd,
  decodeIoasAlloc,
  decodeIoasIovaRanges,
  encodeAttachIommufdPt,
  encodeBindIommufd,
  encodeIoasAlloc,
  encodeIoasIovaRanges,
  encodeIoasMap,
  encodeIoasUnmap,
  encodeIommuDestroy,
} from './structs.js';
import { iommufdFile, resolvePaths, type VfioPaths } from './sysfs.js';
import { cdevIoctl, iommufdIoctl, iommufdStructSize } from '../uapi/vfio.js';

/** An iommufd (/dev/iommu) and its I/O address spaces, for devices opened through the vfio cdev. */
export class Iommufd {
  readonly paths: VfioPaths;
  #fd: number;

  private constructor(fd: number, paths: VfioPaths) {
    this.#fd = fd;
    this.paths = paths;
  }

  /** Opens /dev/iommu. */
  static open(options: { paths?: Partial<VfioPaths> } = {}): Iommufd {
    const paths = resolvePaths(options.paths);
    const file = iommufdFile(paths);
    try {
      return new Iommufd(openFd(file, fsc.O_RDWR), paths);
    } catch (err) {
      throw explainOpenError(err, paths, file);
    }
  }

  get fd(): number {
    if (this.#fd < 0) throw fail('EBADF', 'the iommufd is closed');
    return this.#fd;
  }

  /** IOMMU_IOAS_ALLOC: a new, empty IO address space. */
  allocIoas(): Ioas {
    const buf = encodeIoasAlloc();
    ioctl(this.fd, iommufdIoctl.IOAS_ALLOC, buf);
    return new Ioas(this, decodeIoasAlloc(buf).ioasId);
  }

  /** IOMMU_DESTROY of any object id. */
  destroy(id: number): void {
    ioctl(this.fd, iommufdIoctl.DESTROY, encodeIommuDestroy(id));
  }

  /** VFIO_DEVICE_BIND_IOMMUFD on a device cdev fd; returns the device id. */
  bindDevice(deviceFd: number): number {
    const buf = encodeBindIommufd(this.fd);
    ioctl(deviceFd, cdevIoctl.DEVICE_BIND_IOMMUFD, buf);
    return decodeBindIommufd(buf).devId;
  }

  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    closeFd(fd);
  }
}

/** An IO address space of an iommufd. */
export class Ioas implements IommuSpace {
  readonly kind = 'iommufd' as const;
  readonly iommufd: Iommufd;
  readonly id: number;
  #destroyed = false;

  constructor(iommufd: Iommufd, id: number) {
    this.iommufd = iommufd;
    this.id = id;
  }

  /** VFIO_DEVICE_ATTACH_IOMMUFD_PT of a bound device cdev to this IOAS. */
  attach(deviceFd: number): number {
    const buf = encodeAttachIommufdPt(this.id);
    ioctl(deviceFd, cdevIoctl.DEVICE_ATTACH_IOMMUFD_PT, buf);
    return decodeAttachIommufdPt(buf).ptId;
  }

  /** IOMMU_IOAS_IOVA_RANGES: the allowed windows and the IOVA alignment. */
  iovaRanges(): { ranges: IovaRange[]; alignment: bigint } {
    let capacity = PAGE_SIZE / iommufdStructSize.IOVA_RANGE;
    for (let tries = 0; tries < 4; tries++) {
      // The kernel writes the ranges at an address: give it pages of our own.
      const out = Mapping.anonymous(capacity * iommufdStructSize.IOVA_RANGE);
      try {
        const req = encodeIoasIovaRanges(this.id, capacity, out.address);
        try {
          ioctl(this.iommufd.fd, iommufdIoctl.IOAS_IOVA_RANGES, req);
        } catch (err) {
          if ((err as { code?: string }).code !== 'EMSGSIZE') throw err;
          capacity = Math.max(capacity * 2, new DataView(req.buffer).getUint32(8, true));
          continue;
        }
        const r = decodeIoasIovaRanges(req, out.bytes());
        return { ranges: r.ranges, alignment: r.alignment };
      } finally {
        out.unmap();
      }
    }
    throw fail('EIO', 'IOMMU_IOAS_IOVA_RANGES keeps growing');
  }

  info(): { ranges: IovaRange[]; pageSizes: bigint } {
    const r = this.iovaRanges();
    const align = r.alignment > BigInt(PAGE_SIZE) ? r.alignment : BigInt(PAGE_SIZE);
    return { ranges: r.ranges, pageSizes: align };
  }

  map(vaddr: bigint, iova: bigint, size: number, access: DmaAccess, bdf?: string): void {
    try {
      ioctl(this.iommufd.fd, iommufdIoctl.IOAS_MAP, encodeIoasMap(this.id, vaddr, size, iova, access));
    } catch (err) {
      throw explainDmaMapError(err, this.iommufd.paths, size, 'IOMMU_IOAS_MAP', bdf);
    }
  }

  unmap(iova: bigint, size: number): void {
    ioctl(this.iommufd.fd, iommufdIoctl.IOAS_UNMAP, encodeIoasUnmap(this.id, iova, size));
  }

  /** Destroys the IOAS (after its devices are detached or closed). Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.iommufd.destroy(this.id);
  }
}
