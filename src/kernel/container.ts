// The VFIO container (/dev/vfio/vfio): one IOMMU context, an IOVA space that
// one or more groups share. It is opened, its API version checked, groups are
// attached to it (Group.setContainer), and only then can an IOMMU model be
// chosen (SET_IOMMU: type1v2 where offered, else type1), after which it maps
// process memory at IOVAs (MAP_DMA with the memory's virtual address: the
// kernel pins the pages and counts them against RLIMIT_MEMLOCK) and reports
// the IOMMU's page sizes, usable IOVA windows and how many more mappings it
// takes (GET_INFO with its capability chain). A Container owns its fd; it is
// closed by whoever opened it once no group uses it any more.

import { constants as fsc } from 'node:fs';
import { fail } from '../errors.js';
import type { DmaAccess, IovaRange } from '../uapi/types.js';
import { closeFd, ioctl, openFd } from '../sys/fd.js';
import { explainDmaMapError, explainOpenError } from './errors.js';
import { argszBuffer, decodeDmaUnmapSize, decodeIommuInfo, encodeDmaMap, encodeDmaUnmap, type IommuInfo } from './structs.js';
import { containerFile, resolvePaths, type VfioPaths } from './sysfs.js';
import { vfioIoctl as VFIO, iommuType, structSize, VFIO_API_VERSION } from '../uapi/vfio.js';

/** An IOVA space that DMA buffers are mapped into: a type1 container or an iommufd IOAS. */
export interface IommuSpace {
  readonly kind: 'type1' | 'iommufd';
  /** IOVA windows, page sizes (bit mask) and the number of mappings still allowed, if known. */
  info(): { ranges: IovaRange[]; pageSizes: bigint; maxMappings?: number };
  /** Maps `size` bytes of this process at `vaddr` to `iova`. */
  map(vaddr: bigint, iova: bigint, size: number, access: DmaAccess, bdf?: string): void;
  unmap(iova: bigint, size: number): void;
}

/** Where a container finds /dev/vfio (tests point it at a fake tree). */
export interface ContainerOptions {
  paths?: Partial<VfioPaths>;
}

export class Container implements IommuSpace {
  readonly kind = 'type1' as const;
  readonly paths: VfioPaths;
  #fd: number;
  #iommuType: number | null = null;
  #info: IommuInfo | null = null;
  /** Groups attached (counted by Group.setContainer / unsetContainer). */
  #groups = 0;

  private constructor(fd: number, paths: VfioPaths) {
    this.#fd = fd;
    this.paths = paths;
  }

  /** Opens /dev/vfio/vfio and checks the API version. */
  static open(options: ContainerOptions = {}): Container {
    const paths = resolvePaths(options.paths);
    const file = containerFile(paths);
    let fd: number;
    try {
      fd = openFd(file, fsc.O_RDWR);
    } catch (err) {
      throw explainOpenError(err, paths, file);
    }
    try {
      const version = ioctl(fd, VFIO.GET_API_VERSION);
      if (version !== VFIO_API_VERSION)
        throw fail('EPROTO', `${file} speaks VFIO API version ${version}, vfio-ts knows ${VFIO_API_VERSION}`);
    } catch (err) {
      closeFd(fd);
      throw err;
    }
    return new Container(fd, paths);
  }

  get fd(): number {
    return this.#live();
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The IOMMU model set (iommuType.TYPE1v2 or TYPE1), or null before setIommu. */
  get iommuType(): number | null {
    return this.#iommuType;
  }

  /** Number of groups attached. */
  get groupCount(): number {
    return this.#groups;
  }

  /** VFIO_CHECK_EXTENSION: whether the container supports an IOMMU type or extension. */
  checkExtension(extension: number): boolean {
    return ioctl(this.#live(), VFIO.CHECK_EXTENSION, extension) > 0;
  }

  /**
   * Chooses the IOMMU model (needs a group attached first): `type`, or
   * type1v2 where offered, else type1. Returns the type set.
   */
  setIommu(type?: number): number {
    const fd = this.#live();
    if (this.#iommuType !== null) return this.#iommuType;
    if (this.#groups === 0) throw fail('EINVAL', 'VFIO_SET_IOMMU needs a group attached to the container first');
    const t =
      type ??
      (this.checkExtension(iommuType.TYPE1v2) ? iommuType.TYPE1v2 : this.checkExtension(iommuType.TYPE1) ? iommuType.TYPE1 : undefined);
    if (t === undefined)
      throw fail('ENOTSUP', 'the container offers neither the type1v2 nor the type1 IOMMU (is vfio_iommu_type1 loaded?)');
    ioctl(fd, VFIO.SET_IOMMU, t);
    this.#iommuType = t;
    return t;
  }

  /** VFIO_IOMMU_GET_INFO: page sizes, IOVA windows, DMA_AVAIL (re-queried when the caps don't fit). */
  iommuInfo(): IommuInfo {
    const fd = this.#live();
    if (this.#iommuType === null) throw fail('EINVAL', 'no IOMMU set on the container yet');
    let buf = argszBuffer(structSize.IOMMU_TYPE1_INFO);
    for (let tries = 0; ; tries++) {
      ioctl(fd, VFIO.IOMMU_GET_INFO, buf);
      const info = decodeIommuInfo(buf);
      if (info.needsArgsz === undefined) return info;
      if (tries >= 3 || info.needsArgsz > 1 << 20)
        throw fail('EIO', `VFIO_IOMMU_GET_INFO keeps asking for more room (${info.needsArgsz} bytes)`);
      buf = argszBuffer(info.needsArgsz);
    }
  }

  /** VFIO_IOMMU_MAP_DMA of `size` bytes at process address `vaddr` to `iova`. */
  mapDma(vaddr: bigint, iova: bigint, size: number, access: DmaAccess, bdf?: string): void {
    const fd = this.#live();
    try {
      ioctl(fd, VFIO.IOMMU_MAP_DMA, encodeDmaMap(vaddr, iova, size, access));
    } catch (err) {
      throw explainDmaMapError(err, this.paths, size, 'VFIO_IOMMU_MAP_DMA', bdf);
    }
  }

  /** VFIO_IOMMU_UNMAP_DMA; returns the number of bytes the kernel unmapped. */
  unmapDma(iova: bigint, size: number): bigint {
    const buf = encodeDmaUnmap(iova, size);
    ioctl(this.#live(), VFIO.IOMMU_UNMAP_DMA, buf);
    return decodeDmaUnmapSize(buf);
  }

  // IommuSpace
  info(): { ranges: IovaRange[]; pageSizes: bigint; maxMappings?: number } {
    this.#info ??= this.iommuInfo();
    const i = this.#info;
    const out: { ranges: IovaRange[]; pageSizes: bigint; maxMappings?: number } = { ranges: i.ranges, pageSizes: i.pageSizes };
    if (i.dmaAvail !== undefined) out.maxMappings = i.dmaAvail;
    return out;
  }

  map(vaddr: bigint, iova: bigint, size: number, access: DmaAccess, bdf?: string): void {
    this.mapDma(vaddr, iova, size, access, bdf);
  }

  unmap(iova: bigint, size: number): void {
    this.unmapDma(iova, size);
  }

  /** @internal Group bookkeeping. */
  _attached(delta: 1 | -1): void {
    this.#groups += delta;
    if (this.#groups === 0) {
      // The kernel drops the IOMMU model with the last group.
      this.#iommuType = null;
      this.#info = null;
    }
  }

  /** Closes the fd (the kernel detaches any group still attached). Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    closeFd(fd);
  }

  #live(): number {
    if (this.#fd < 0) throw fail('EBADF', 'the VFIO container is closed');
    return this.#fd;
  }
}
