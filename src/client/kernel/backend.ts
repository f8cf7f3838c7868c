// A VFIO device fd as a DeviceBackend: the kernel half of the Driver API.
//
// Every operation is the device fd's own: GET_INFO, GET_REGION_INFO (with its
// capability chain, re-queried with a bigger argsz when the kernel says it
// did not fit), GET_IRQ_INFO, SET_IRQS, RESET, GET_PCI_HOT_RESET_INFO; region
// access is pread/pwrite at the region's offset in the fd and mmap of the fd,
// the offset always taken from REGION_INFO, never computed. DMA goes to the
// IOVA space the device was attached to (a type1 container or an iommufd
// IOAS, behind IommuSpace). A KernelBackend owns its device fd and its region
// mappings; what it was opened through (group, container, iommufd) is given
// back through the `release` callback when it closes.

import { fail } from '../../errors.js';
import type { DeviceBackend, DmaMemory, MappedSpan, BackendEvents } from '../backend.js';
import type { DeviceInfo, DmaAccess, IovaRange, IrqAction, IrqData, IrqInfo, RegionInfo } from '../../uapi/types.js';
import { closeFd, ioctl, pread, pwrite } from '../../sys/fd.js';
import { Mapping, PROT_READ, PROT_WRITE } from '../../sys/memory.js';
import type { IommuSpace } from '../../kernel/container.js';
import {
  argszBuffer,
  decodeDeviceInfo,
  decodeHotResetInfo,
  decodeIrqInfo,
  decodeRegionInfo,
  encodeIrqInfoQuery,
  encodeIrqSet,
  encodeRegionInfoQuery,
  needsMore,
  type HotResetDevice,
} from '../../kernel/structs.js';
import { deviceFeature, vfioIoctl as VFIO, structSize } from '../../uapi/vfio.js';

/** What VFIO_DEVICE_GET_PCI_HOT_RESET_INFO reported. */
export type HotResetInfo = { available: true; devices: HotResetDevice[] } | { available: false; reason: string; errno?: string };

export interface KernelDeviceInit {
  /** The PCI address (the backend's name). */
  bdf: string;
  /** The device fd; the KernelBackend owns it from now on. */
  fd: number;
  dma: IommuSpace;
  /** 'container' (group + type1 container) or 'iommufd' (cdev + IOAS). */
  flow: 'container' | 'iommufd';
  /** Gives back what the device was opened through; called once, after the fd is closed. */
  release: () => void;
}

/** The kernel's backend: a device fd from vfio-pci (through a container or iommufd), its DMA mapped by the IOMMU. Usually reached through `openKernelDevice`. */
export class KernelBackend implements DeviceBackend {
  readonly kind = 'kernel';
  readonly name: string;
  readonly flow: 'container' | 'iommufd';
  readonly dma: IommuSpace;
  #fd: number;
  #info: DeviceInfo | null = null;
  readonly #regions = new Map<number, RegionInfo>();
  readonly #spans = new Set<Mapping>();
  #release: (() => void) | null;

  constructor(init: KernelDeviceInit) {
    this.name = init.bdf;
    this.flow = init.flow;
    this.dma = init.dma;
    this.#fd = init.fd;
    this.#release = init.release;
  }

  /** The device fd (for ioctls vfio-ts does not wrap). */
  get fd(): number {
    return this.#live();
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  deviceInfo(): DeviceInfo {
    if (this.#info === null) {
      const buf = argszBuffer(structSize.DEVICE_INFO);
      ioctl(this.#live(), VFIO.DEVICE_GET_INFO, buf);
      this.#info = decodeDeviceInfo(buf);
    }
    return { ...this.#info };
  }

  regionInfo(index: number): RegionInfo {
    const fd = this.#live();
    this.#index(index, this.deviceInfo().numRegions, 'region');
    let info = this.#regions.get(index);
    if (info === undefined) {
      let buf = encodeRegionInfoQuery(index);
      ioctl(fd, VFIO.DEVICE_GET_REGION_INFO, buf);
      const want = needsMore(buf);
      if (want !== undefined) {
        // The capability chain did not fit: ask again with the room the kernel asked for.
        if (want > 1 << 20) throw fail('EIO', `region ${index}: the kernel asks for ${want} bytes of region info`);
        buf = encodeRegionInfoQuery(index, want);
        ioctl(fd, VFIO.DEVICE_GET_REGION_INFO, buf);
        if (needsMore(buf) !== undefined) throw fail('EIO', `region ${index}: region info grew between two queries`);
      }
      info = decodeRegionInfo(buf);
      this.#regions.set(index, info);
    }
    return { ...info, mmapAreas: info.mmapAreas.map((a) => ({ ...a })) };
  }

  irqInfo(index: number): IrqInfo {
    const fd = this.#live();
    this.#index(index, this.deviceInfo().numIrqs, 'IRQ');
    const buf = encodeIrqInfoQuery(index);
    try {
      ioctl(fd, VFIO.DEVICE_GET_IRQ_INFO, buf);
    } catch (err) {
      // vfio-pci answers EINVAL for an index it counts but the device lacks
      // (ERR on a conventional-PCI device): that is an index with no vectors.
      if ((err as { code?: string }).code !== 'EINVAL') throw err;
      return { index, flags: 0, count: 0, eventfd: false, maskable: false, automasked: false, noresize: false };
    }
    return decodeIrqInfo(buf);
  }

  regionRead(index: number, offset: number, dst: Uint8Array): void {
    const fd = this.#live();
    const base = this.#regionAccess(index, offset, dst.length, 'read');
    let done = 0;
    while (done < dst.length) {
      const n = pread(fd, dst, base + BigInt(offset + done), done, dst.length - done);
      if (n <= 0) throw fail('EIO', `${this.name}: region ${index}: short read at ${offset + done}`);
      done += n;
    }
  }

  regionWrite(index: number, offset: number, src: Uint8Array): void {
    const fd = this.#live();
    const base = this.#regionAccess(index, offset, src.length, 'write');
    let done = 0;
    while (done < src.length) {
      const n = pwrite(fd, src, base + BigInt(offset + done), done, src.length - done);
      if (n <= 0) throw fail('EIO', `${this.name}: region ${index}: short write at ${offset + done}`);
      done += n;
    }
  }

  regionMap(index: number, offset: number, size: number, writable: boolean): MappedSpan {
    const fd = this.#live();
    const info = this.regionInfo(index);
    if (!info.mappable) throw fail('EINVAL', `${this.name}: region ${index} cannot be mapped`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size <= 0) {
      throw fail('EINVAL', `${this.name}: region ${index}: bad span ${offset}+${size}`);
    }
    if (!info.mmapAreas.some((a) => offset >= a.offset && offset + size <= a.offset + a.size)) {
      throw fail('EINVAL', `${this.name}: region ${index}: ${offset}+${size} is not inside an mmap area`);
    }
    if (writable && !info.writable) throw fail('EACCES', `${this.name}: region ${index} is read-only`);
    const prot = PROT_READ | (writable ? PROT_WRITE : 0);
    const mapping = Mapping.map(fd, info.fdOffset! + BigInt(offset), size, prot);
    this.#spans.add(mapping);
    const spans = this.#spans;
    return {
      buffer: mapping.buffer,
      unmap(): void {
        spans.delete(mapping);
        mapping.unmap();
      },
    };
  }

  dmaInfo(): { ranges: IovaRange[]; pageSizes: bigint; maxMappings?: number } {
    this.#live();
    return this.dma.info();
  }

  dmaMap(memory: DmaMemory, iova: bigint, access: DmaAccess): void {
    this.#live();
    this.dma.map(memory.address, iova, memory.size, access, this.name);
  }

  dmaUnmap(iova: bigint, size: number): void {
    this.#live();
    this.dma.unmap(iova, size);
  }

  setIrqs(index: number, action: IrqAction, start: number, data: IrqData): void {
    const fd = this.#live();
    ioctl(fd, VFIO.DEVICE_SET_IRQS, encodeIrqSet(index, action, start, data));
  }

  reset(): void {
    const fd = this.#live();
    if (!this.deviceInfo().reset) {
      throw fail('ENOTSUP', `${this.name}: the device has no reset method (no FLR, PM or bus reset): VFIO_DEVICE_FLAGS_RESET is clear`);
    }
    ioctl(fd, VFIO.DEVICE_RESET);
  }

  /**
   * VFIO_DEVICE_FEATURE LOW_POWER_ENTRY (or _WITH_WAKEUP when `wakeupFd` is
   * given: the kernel signals it when the device needs waking, e.g. PME) and
   * LOW_POWER_EXIT. The kernel moves the device to D3 through runtime PM and
   * wakes it on any access through the device fd; mmap accesses meanwhile
   * fault, so the caller unmaps first (Device.suspend does).
   */
  setLowPower(state: 'enter' | 'exit', wakeupFd?: number): void {
    const fd = this.#live();
    const feature =
      state === 'exit'
        ? deviceFeature.LOW_POWER_EXIT
        : wakeupFd === undefined
          ? deviceFeature.LOW_POWER_ENTRY
          : deviceFeature.LOW_POWER_ENTRY_WITH_WAKEUP;
    const withData = state === 'enter' && wakeupFd !== undefined;
    const buf = Buffer.alloc(withData ? 16 : 8);
    buf.writeUInt32LE(buf.length, 0); // argsz
    buf.writeUInt32LE((deviceFeature.SET | feature) >>> 0, 4);
    if (withData) buf.writeInt32LE(wakeupFd!, 8); // struct vfio_device_low_power_entry_with_wakeup { s32 wakeup_eventfd; u32 reserved; }
    try {
      ioctl(fd, VFIO.DEVICE_FEATURE, buf);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOTTY') {
        throw fail(
          'ENOTSUP',
          `${this.name}: the kernel offers no low-power feature (VFIO_DEVICE_FEATURE ${feature}: ENOTTY; it needs Linux 6.0+)`,
        );
      }
      throw err;
    }
  }

  /**
   * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: the devices (and their groups) a
   * bus or slot reset would also reset, or why none is possible.
   */
  hotResetInfo(): HotResetInfo {
    const fd = this.#live();
    let buf = argszBuffer(structSize.HOT_RESET_INFO);
    for (let tries = 0; tries < 3; tries++) {
      try {
        ioctl(fd, VFIO.DEVICE_GET_PCI_HOT_RESET_INFO, buf);
        return { available: true, devices: decodeHotResetInfo(buf).devices };
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ENOSPC') {
          const count = decodeHotResetInfo(buf).count;
          buf = argszBuffer(structSize.HOT_RESET_INFO + count * structSize.PCI_DEPENDENT_DEVICE);
          continue;
        }
        if (code === 'ENODEV' || code === 'ENOTTY' || code === 'EINVAL') {
          return {
            available: false,
            errno: code,
            reason: `no slot or bus reset can reach ${this.name} (${code}): it is on a root bus or its bus has other devices the reset cannot cover`,
          };
        }
        throw err;
      }
    }
    throw fail('EIO', `${this.name}: hot-reset device list keeps growing`);
  }

  /**
   * Nothing to register: the kernel never takes a device fd away behind our
   * back (an unplug request arrives on the REQ interrupt, which Device binds).
   */
  setEvents(_events: BackendEvents): void {}

  /** Unmaps regions, closes the device fd and releases the group/container. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    for (const m of this.#spans) m.unmap();
    this.#spans.clear();
    const fd = this.#fd;
    this.#fd = -1;
    try {
      closeFd(fd);
    } finally {
      const release = this.#release;
      this.#release = null;
      release?.();
    }
  }

  #index(index: number, count: number, what: string): void {
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw fail('EINVAL', `${this.name}: ${what} index ${index} out of range (the device has ${count})`);
    }
  }

  /** Checks an access and returns the region's fd offset. */
  #regionAccess(index: number, offset: number, length: number, what: 'read' | 'write'): bigint {
    const info = this.regionInfo(index);
    if (what === 'read' ? !info.readable : !info.writable)
      throw fail('EACCES', `${this.name}: region ${index} is not ${what === 'read' ? 'readable' : 'writable'}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > info.size) {
      throw fail('EINVAL', `${this.name}: region ${index}: ${what} of ${length} bytes at ${offset} is outside its ${info.size} bytes`);
    }
    return info.fdOffset!;
  }

  #live(): number {
    if (this.#fd < 0) throw fail('ENODEV', `device ${this.name} is closed`);
    return this.#fd;
  }
}
