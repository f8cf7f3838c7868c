// DMA buffers: memory a device reads and writes by IOVA.
//
// A buffer is a memfd mapped into this process and mapped for the device at
// an IOVA. The memfd is what a vfio-user server receives (DMA_MAP carries the
// fd), the mapping's virtual address is what the kernel's type1 IOMMU pins
// (VFIO_IOMMU_MAP_DMA carries a vaddr): one kind of buffer serves both
// backends. IOVAs are chosen by the caller or assigned first-fit inside the
// IOMMU's windows, aligned to the buffer's size rounded to a power of two (up
// to 2 MiB) so huge-page-backed mappings stay aligned.

import { fail } from '../errors.js';
import { MemFd, type Mapping, PAGE_SIZE } from '../sys/memory.js';
import type { DeviceBackend, DmaMemory } from './backend.js';
import type { DmaAccess, IovaRange } from '../uapi/types.js';

/** Where and how a DMA buffer is mapped for the device (`Device.allocDma`). */
export interface DmaAllocOptions {
  /** A fixed IOVA (page aligned); default: the allocator picks one. */
  iova?: bigint;
  /** Device access; default read and write. */
  access?: Partial<DmaAccess>;
  /** Name of the memfd (shows in /proc/PID/maps). */
  name?: string;
  /** Highest IOVA + 1 the device can address (its DMA mask); default: any. */
  limit?: bigint;
}

/** A DMA buffer: host memory mapped at `iova` for the device. */
export class DmaBuffer implements DmaMemory {
  readonly iova: bigint;
  readonly size: number;
  /** The memory, shared with the device. */
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly #memfd: MemFd;
  readonly #mapping: Mapping;
  readonly #release: (buf: DmaBuffer) => void;
  #freed = false;

  constructor(memfd: MemFd, mapping: Mapping, iova: bigint, release: (buf: DmaBuffer) => void) {
    this.#memfd = memfd;
    this.#mapping = mapping;
    this.iova = iova;
    this.size = mapping.length;
    this.bytes = new Uint8Array(mapping.buffer);
    this.view = new DataView(mapping.buffer);
    this.#release = release;
  }

  get fd(): number {
    return this.#memfd.fd;
  }
  get fdOffset(): number {
    return 0;
  }
  get address(): bigint {
    return this.#mapping.address;
  }
  get buffer(): ArrayBuffer {
    return this.#mapping.buffer;
  }
  get freed(): boolean {
    return this.#freed;
  }

  /** Unmaps the buffer from the device and frees the memory. Idempotent. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    try {
      this.#release(this);
    } finally {
      this.#mapping.unmap();
      this.#memfd.close();
    }
  }
}

/** Hands out IOVA space and DMA buffers for one device. */
export class DmaAllocator {
  readonly #backend: DeviceBackend;
  readonly #ranges: IovaRange[];
  readonly #pageSize: bigint;
  /** Live buffers, sorted by IOVA. */
  readonly #live: DmaBuffer[] = [];

  constructor(backend: DeviceBackend) {
    this.#backend = backend;
    const info = backend.dmaInfo();
    this.#ranges = [...info.ranges].sort((a, b) => (a.start < b.start ? -1 : 1));
    // Smallest IOMMU page size (lowest set bit), at least the host's.
    const ps = info.pageSizes & -info.pageSizes;
    this.#pageSize = ps > BigInt(PAGE_SIZE) ? ps : BigInt(PAGE_SIZE);
  }

  get buffers(): readonly DmaBuffer[] {
    return this.#live;
  }

  /** Allocates `size` bytes (rounded up to pages) and maps them for the device. */
  alloc(size: number, options: DmaAllocOptions = {}): DmaBuffer {
    if (!Number.isSafeInteger(size) || size <= 0) throw fail('EINVAL', `DMA buffer size must be a positive integer, got ${size}`);
    const ps = Number(this.#pageSize);
    const length = Math.ceil(size / ps) * ps;
    const iova = options.iova ?? this.#findIova(BigInt(length), options.limit);
    if (options.iova !== undefined) this.#checkIova(iova, BigInt(length), options.limit);
    const memfd = MemFd.create(options.name ?? 'vfio-ts-dma', length);
    let mapping: Mapping | undefined;
    try {
      mapping = memfd.map(0, length);
      const buf = new DmaBuffer(memfd, mapping, iova, (b) => this.#free(b));
      const access = { read: options.access?.read ?? true, write: options.access?.write ?? true };
      this.#backend.dmaMap(buf, iova, access);
      this.#insert(buf);
      return buf;
    } catch (err) {
      mapping?.unmap();
      memfd.close();
      throw err;
    }
  }

  /** Frees every live buffer (on close). */
  freeAll(): void {
    for (const b of [...this.#live]) b.free();
  }

  #free(buf: DmaBuffer): void {
    const i = this.#live.indexOf(buf);
    if (i < 0) return;
    this.#live.splice(i, 1);
    this.#backend.dmaUnmap(buf.iova, buf.size);
  }

  #insert(buf: DmaBuffer): void {
    let i = 0;
    while (i < this.#live.length && this.#live[i]!.iova < buf.iova) i++;
    this.#live.splice(i, 0, buf);
  }

  #checkIova(iova: bigint, length: bigint, limit?: bigint): void {
    if (iova % this.#pageSize !== 0n) throw fail('EINVAL', `IOVA 0x${iova.toString(16)} is not aligned to the IOMMU page size`);
    const end = iova + length - 1n;
    if (limit !== undefined && end >= limit) throw fail('EINVAL', `IOVA range ends beyond the device's DMA limit 0x${limit.toString(16)}`);
    if (this.#ranges.length && !this.#ranges.some((r) => iova >= r.start && end <= r.end)) {
      throw fail('EINVAL', `IOVA 0x${iova.toString(16)}+0x${length.toString(16)} is outside the IOMMU's windows`);
    }
    for (const b of this.#live) {
      if (iova <= b.iova + BigInt(b.size) - 1n && b.iova <= end)
        throw fail('EEXIST', `IOVA 0x${iova.toString(16)} overlaps a live DMA buffer`);
    }
  }

  #findIova(length: bigint, limit?: bigint): bigint {
    let align = this.#pageSize;
    while (align < length && align < 0x200000n) align <<= 1n;
    const ranges = this.#ranges.length ? this.#ranges : [{ start: 0n, end: (1n << 64n) - 1n }];
    for (const r of ranges) {
      // Never hand out IOVA 0: a zero address is a common "unset" value in devices.
      let cand = roundUp(r.start > 0n ? r.start : this.#pageSize, align);
      for (const b of this.#live) {
        const bEnd = b.iova + BigInt(b.size);
        if (bEnd <= cand) continue;
        if (b.iova >= cand + length) break;
        cand = roundUp(bEnd, align);
      }
      const last = cand + length - 1n;
      if (last <= r.end && (limit === undefined || last < limit)) return cand;
    }
    throw fail('ENOSPC', `no free IOVA range of ${length} bytes${limit !== undefined ? ` below 0x${limit.toString(16)}` : ''}`);
  }
}

function roundUp(v: bigint, align: bigint): bigint {
  return ((v + align - 1n) / align) * align;
}
