// The byte layouts of the structs the kernel backend passes to VFIO and
// iommufd ioctls: pure encoders and decoders, no I/O, unit-tested on the host.
//
// Every VFIO struct starts with `argsz`: the caller says how big its buffer
// is, and for the "info" ioctls whose answer may carry a capability chain
// (region info, IOMMU info) the kernel writes back the size it needs when the
// chain does not fit. The caller then asks again with a buffer that big
// (needsMore()). A chain is a list of headers {u16 id, u16 version, u32 next}
// linked by offsets from the start of the struct, 0 ending it; walkCaps()
// follows it with bounds and loop checks, so a corrupt chain is an error and
// never an endless loop or a read out of bounds. All integers are
// little-endian (x86-64; VFIO is native-endian and so are we).

import { fail } from '../errors.js';
import { formatBdf } from './bdf.js';
import type { DeviceInfo, IrqAction, IrqData, IrqInfo, IovaRange, MmapArea, RegionInfo } from '../uapi/types.js';
import {
  deviceFlags,
  GROUP_FLAGS_CONTAINER_SET,
  GROUP_FLAGS_VIABLE,
  dmaMapFlags,
  ioasMapFlags,
  iommuCap,
  iommuInfoFlags,
  iommufdStructSize,
  irqInfoFlags,
  irqSetFlags,
  regionCap,
  regionFlags,
  structSize,
} from '../uapi/vfio.js';

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** A u64 read as a number; throws when it cannot be one exactly. */
function u64n(v: DataView, off: number, what: string): number {
  const x = v.getBigUint64(off, true);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw fail('EOVERFLOW', `${what} 0x${x.toString(16)} does not fit a JavaScript number`);
  return Number(x);
}

/** A zeroed buffer of `size` bytes with argsz (u32 at 0) set to `size`. */
export function argszBuffer(size: number): Uint8Array {
  const b = new Uint8Array(size);
  view(b).setUint32(0, size, true);
  return b;
}

/** The argsz the kernel asked for, when larger than the buffer it was given. */
export function needsMore(buf: Uint8Array): number | undefined {
  const want = view(buf).getUint32(0, true);
  return want > buf.length ? want : undefined;
}

/** One capability of a chain: its id, version and offset in the struct. */
export interface CapEntry {
  id: number;
  version: number;
  offset: number;
}

/** Walks the capability chain that starts at `first` (an offset in `buf`). */
export function walkCaps(buf: Uint8Array, first: number, what: string): CapEntry[] {
  const v = view(buf);
  const caps: CapEntry[] = [];
  const seen = new Set<number>();
  let off = first;
  while (off !== 0) {
    if (off < 0 || off + structSize.INFO_CAP_HEADER > buf.length || off % 4 !== 0) {
      throw fail('EIO', `${what}: capability at offset ${off} is outside the ${buf.length}-byte answer`);
    }
    if (seen.has(off)) throw fail('EIO', `${what}: the capability chain loops at offset ${off}`);
    seen.add(off);
    caps.push({ id: v.getUint16(off, true), version: v.getUint16(off + 2, true), offset: off });
    off = v.getUint32(off + 4, true);
  }
  return caps;
}

// --- vfio_group_status ------------------------------------------------------

export function decodeGroupStatus(buf: Uint8Array): { flags: number; viable: boolean; containerSet: boolean } {
  const flags = view(buf).getUint32(4, true);
  return { flags, viable: (flags & GROUP_FLAGS_VIABLE) !== 0, containerSet: (flags & GROUP_FLAGS_CONTAINER_SET) !== 0 };
}

// --- vfio_device_info -------------------------------------------------------

export function decodeDeviceInfo(buf: Uint8Array): DeviceInfo {
  const v = view(buf);
  const flags = v.getUint32(4, true);
  return {
    flags,
    reset: (flags & deviceFlags.RESET) !== 0,
    pci: (flags & deviceFlags.PCI) !== 0,
    numRegions: v.getUint32(8, true),
    numIrqs: v.getUint32(12, true),
  };
}

// --- vfio_region_info and its capabilities ----------------------------------

/** A vfio_region_info query for region `index`, `size` bytes big (at least 32). */
export function encodeRegionInfoQuery(index: number, size: number = structSize.REGION_INFO): Uint8Array {
  if (size < structSize.REGION_INFO) throw new RangeError(`region info needs ${structSize.REGION_INFO} bytes`);
  const b = argszBuffer(size);
  view(b).setUint32(8, index, true);
  return b;
}

/**
 * Decodes a vfio_region_info answer with its capabilities (sparse mmap, type,
 * MSI-X mappable). When the chain did not fit, needsMore(buf) says so and the
 * capabilities are ignored here: re-query first.
 */
export function decodeRegionInfo(buf: Uint8Array): RegionInfo {
  const v = view(buf);
  const flags = v.getUint32(4, true);
  const index = v.getUint32(8, true);
  const capOffset = v.getUint32(12, true);
  const size = u64n(v, 16, `region ${index} size`);
  const fdOffset = v.getBigUint64(24, true);
  const info: RegionInfo = {
    index,
    flags,
    size,
    readable: (flags & regionFlags.READ) !== 0,
    writable: (flags & regionFlags.WRITE) !== 0,
    mappable: (flags & regionFlags.MMAP) !== 0,
    mmapAreas: [],
    fdOffset,
  };
  let sparse: MmapArea[] | undefined;
  if ((flags & regionFlags.CAPS) !== 0 && capOffset !== 0 && needsMore(buf) === undefined) {
    for (const cap of walkCaps(buf, capOffset, `region ${index} info`)) {
      const at = cap.offset;
      switch (cap.id) {
        case regionCap.SPARSE_MMAP: {
          if (at + 16 > buf.length) throw fail('EIO', `region ${index}: truncated sparse-mmap capability`);
          const n = v.getUint32(at + 8, true);
          if (at + 16 + n * 16 > buf.length)
            throw fail('EIO', `region ${index}: sparse-mmap capability with ${n} areas overruns the answer`);
          sparse = [];
          for (let i = 0; i < n; i++) {
            const o = at + 16 + i * 16;
            sparse.push({ offset: u64n(v, o, 'sparse area offset'), size: u64n(v, o + 8, 'sparse area size') });
          }
          break;
        }
        case regionCap.TYPE:
          if (at + 16 > buf.length) throw fail('EIO', `region ${index}: truncated type capability`);
          info.type = { type: v.getUint32(at + 8, true), subtype: v.getUint32(at + 12, true) };
          break;
        case regionCap.MSIX_MAPPABLE:
          info.msixMappable = true;
          break;
        default:
          break; // unknown capabilities are skipped, as the kernel intends
      }
    }
  }
  if (info.mappable) {
    info.mmapAreas = sparse ?? (size > 0 ? [{ offset: 0, size }] : []);
    for (const a of info.mmapAreas) {
      if (a.offset + a.size > size)
        throw fail('EIO', `region ${index}: mmap area ${a.offset}+${a.size} is outside the ${size}-byte region`);
    }
  }
  return info;
}

// --- vfio_irq_info / vfio_irq_set -------------------------------------------

export function encodeIrqInfoQuery(index: number): Uint8Array {
  const b = argszBuffer(structSize.IRQ_INFO);
  view(b).setUint32(8, index, true);
  return b;
}

export function decodeIrqInfo(buf: Uint8Array): IrqInfo {
  const v = view(buf);
  const flags = v.getUint32(4, true);
  return {
    index: v.getUint32(8, true),
    flags,
    count: v.getUint32(12, true),
    eventfd: (flags & irqInfoFlags.EVENTFD) !== 0,
    maskable: (flags & irqInfoFlags.MASKABLE) !== 0,
    automasked: (flags & irqInfoFlags.AUTOMASKED) !== 0,
    noresize: (flags & irqInfoFlags.NORESIZE) !== 0,
  };
}

const ACTION_FLAG: Record<IrqAction, number> = {
  mask: irqSetFlags.ACTION_MASK,
  unmask: irqSetFlags.ACTION_UNMASK,
  trigger: irqSetFlags.ACTION_TRIGGER,
};

/**
 * struct vfio_irq_set for SET_IRQS: `count` comes from the data (booleans are
 * one byte each, eventfds an s32 each, -1 unbinding one).
 */
export function encodeIrqSet(index: number, action: IrqAction, start: number, data: IrqData): Uint8Array {
  const actionFlag = ACTION_FLAG[action];
  if (actionFlag === undefined) throw fail('EINVAL', `unknown IRQ action ${String(action)}`);
  for (const [n, what] of [
    [index, 'index'],
    [start, 'start'],
  ] as const) {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw fail('EINVAL', `IRQ ${what} ${n} is not a u32`);
  }
  let count: number;
  let dataFlag: number;
  let payload = 0;
  switch (data.kind) {
    case 'none':
      count = data.count;
      dataFlag = irqSetFlags.DATA_NONE;
      break;
    case 'bool':
      count = data.values.length;
      dataFlag = irqSetFlags.DATA_BOOL;
      payload = count;
      break;
    case 'eventfd':
      count = data.fds.length;
      dataFlag = irqSetFlags.DATA_EVENTFD;
      payload = count * 4;
      break;
    default:
      throw fail('EINVAL', `unknown IRQ data kind ${String((data as { kind: unknown }).kind)}`);
  }
  if (!Number.isInteger(count) || count < 0 || count > 0xffff) throw fail('EINVAL', `IRQ count ${count} out of range`);
  const b = argszBuffer(structSize.IRQ_SET + payload);
  const v = view(b);
  v.setUint32(4, dataFlag | actionFlag, true);
  v.setUint32(8, index, true);
  v.setUint32(12, start, true);
  v.setUint32(16, count, true);
  if (data.kind === 'bool')
    data.values.forEach((x, i) => {
      b[structSize.IRQ_SET + i] = x ? 1 : 0;
    });
  if (data.kind === 'eventfd') {
    data.fds.forEach((fd, i) => {
      if (!Number.isInteger(fd) || fd < -1 || fd > 0x7fffffff) throw fail('EINVAL', `bad eventfd ${fd}`);
      v.setInt32(structSize.IRQ_SET + i * 4, fd, true);
    });
  }
  return b;
}

// --- vfio_pci_hot_reset_info ------------------------------------------------

/** A device affected by a hot (bus/slot) reset, and its group. */
export interface HotResetDevice {
  groupId: number;
  /** "ssss:bb:dd.f" */
  bdf: string;
}

export function decodeHotResetInfo(buf: Uint8Array): { flags: number; count: number; devices: HotResetDevice[] } {
  const v = view(buf);
  const flags = v.getUint32(4, true);
  const count = v.getUint32(8, true);
  const devices: HotResetDevice[] = [];
  const fit = Math.min(count, Math.floor((buf.length - structSize.HOT_RESET_INFO) / structSize.PCI_DEPENDENT_DEVICE));
  for (let i = 0; i < fit; i++) {
    const o = structSize.HOT_RESET_INFO + i * structSize.PCI_DEPENDENT_DEVICE;
    const seg = v.getUint16(o + 4, true);
    const bus = v.getUint8(o + 6);
    const devfn = v.getUint8(o + 7);
    devices.push({ groupId: v.getUint32(o, true), bdf: formatBdf({ domain: seg, bus, device: devfn >> 3, function: devfn & 7 }) });
  }
  return { flags, count, devices };
}

// --- vfio_iommu_type1_info --------------------------------------------------

/** VFIO_IOMMU_GET_INFO decoded: page sizes and usable IOVA ranges. */
export interface IommuInfo {
  flags: number;
  /** Bit mask of the IOMMU's page sizes (0n when not reported). */
  pageSizes: bigint;
  /** IOVA windows (VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE), empty when not reported. */
  ranges: IovaRange[];
  /** How many more DMA mappings the container accepts (DMA_AVAIL), when reported. */
  dmaAvail?: number;
  /** The answer was truncated: re-query with this argsz. */
  needsArgsz?: number;
}

export function decodeIommuInfo(buf: Uint8Array): IommuInfo {
  const v = view(buf);
  const flags = v.getUint32(4, true);
  const info: IommuInfo = {
    flags,
    pageSizes: (flags & iommuInfoFlags.PGSIZES) !== 0 ? v.getBigUint64(8, true) : 0n,
    ranges: [],
  };
  const more = needsMore(buf);
  if (more !== undefined) {
    info.needsArgsz = more;
    return info;
  }
  const capOffset = buf.length >= 24 ? v.getUint32(16, true) : 0;
  if ((flags & iommuInfoFlags.CAPS) === 0 || capOffset === 0) return info;
  for (const cap of walkCaps(buf, capOffset, 'IOMMU info')) {
    const at = cap.offset;
    if (cap.id === iommuCap.IOVA_RANGE) {
      if (at + 16 > buf.length) throw fail('EIO', 'IOMMU info: truncated IOVA-range capability');
      const n = v.getUint32(at + 8, true);
      if (at + 16 + n * 16 > buf.length) throw fail('EIO', `IOMMU info: IOVA-range capability with ${n} ranges overruns the answer`);
      for (let i = 0; i < n; i++) {
        const o = at + 16 + i * 16;
        info.ranges.push({ start: v.getBigUint64(o, true), end: v.getBigUint64(o + 8, true) });
      }
    } else if (cap.id === iommuCap.DMA_AVAIL) {
      if (at + 12 > buf.length) throw fail('EIO', 'IOMMU info: truncated DMA-avail capability');
      info.dmaAvail = v.getUint32(at + 8, true);
    }
  }
  return info;
}

// --- vfio_iommu_type1_dma_map / unmap -----------------------------------------

export function encodeDmaMap(vaddr: bigint, iova: bigint, size: number | bigint, access: { read: boolean; write: boolean }): Uint8Array {
  const b = argszBuffer(structSize.DMA_MAP);
  const v = view(b);
  v.setUint32(4, (access.read ? dmaMapFlags.READ : 0) | (access.write ? dmaMapFlags.WRITE : 0), true);
  v.setBigUint64(8, vaddr, true);
  v.setBigUint64(16, iova, true);
  v.setBigUint64(24, BigInt(size), true);
  return b;
}

export function encodeDmaUnmap(iova: bigint, size: number | bigint, flags = 0): Uint8Array {
  const b = argszBuffer(structSize.DMA_UNMAP);
  const v = view(b);
  v.setUint32(4, flags, true);
  v.setBigUint64(8, iova, true);
  v.setBigUint64(16, BigInt(size), true);
  return b;
}

/** The size the kernel reports as unmapped (it writes it back into `size`). */
export function decodeDmaUnmapSize(buf: Uint8Array): bigint {
  return view(buf).getBigUint64(16, true);
}

// --- cdev + iommufd (Linux 6.6+) ---------------------------------------------

export function encodeBindIommufd(iommufd: number): Uint8Array {
  const b = argszBuffer(structSize.BIND_IOMMUFD);
  view(b).setInt32(8, iommufd, true);
  return b;
}

export function decodeBindIommufd(buf: Uint8Array): { devId: number } {
  return { devId: view(buf).getUint32(12, true) };
}

export function encodeAttachIommufdPt(ptId: number): Uint8Array {
  const b = argszBuffer(structSize.ATTACH_IOMMUFD_PT);
  view(b).setUint32(8, ptId, true);
  return b;
}

export function decodeAttachIommufdPt(buf: Uint8Array): { ptId: number } {
  return { ptId: view(buf).getUint32(8, true) };
}

export function encodeDetachIommufdPt(): Uint8Array {
  return argszBuffer(structSize.DETACH_IOMMUFD_PT);
}

export function encodeIoasAlloc(): Uint8Array {
  return argszBuffer(iommufdStructSize.IOAS_ALLOC);
}

export function decodeIoasAlloc(buf: Uint8Array): { ioasId: number } {
  return { ioasId: view(buf).getUint32(8, true) };
}

export function encodeIommuDestroy(id: number): Uint8Array {
  const b = argszBuffer(iommufdStructSize.DESTROY);
  view(b).setUint32(4, id, true);
  return b;
}

/** IOMMU_IOAS_IOVA_RANGES: `ranges` points at room for `capacity` iommu_iova_range. */
export function encodeIoasIovaRanges(ioasId: number, capacity: number, rangesAddress: bigint): Uint8Array {
  const b = argszBuffer(iommufdStructSize.IOAS_IOVA_RANGES);
  const v = view(b);
  v.setUint32(4, ioasId, true);
  v.setUint32(8, capacity, true);
  v.setBigUint64(16, rangesAddress, true);
  return b;
}

export function decodeIoasIovaRanges(buf: Uint8Array, ranges: Uint8Array): { count: number; alignment: bigint; ranges: IovaRange[] } {
  const v = view(buf);
  const count = v.getUint32(8, true);
  const rv = view(ranges);
  const out: IovaRange[] = [];
  const fit = Math.min(count, Math.floor(ranges.length / iommufdStructSize.IOVA_RANGE));
  for (let i = 0; i < fit; i++) out.push({ start: rv.getBigUint64(i * 16, true), end: rv.getBigUint64(i * 16 + 8, true) });
  return { count, alignment: v.getBigUint64(24, true), ranges: out };
}

export function encodeIoasMap(
  ioasId: number,
  userVa: bigint,
  length: number | bigint,
  iova: bigint,
  access: { read: boolean; write: boolean },
): Uint8Array {
  const b = argszBuffer(iommufdStructSize.IOAS_MAP);
  const v = view(b);
  const flags = ioasMapFlags.FIXED_IOVA | (access.read ? ioasMapFlags.READABLE : 0) | (access.write ? ioasMapFlags.WRITEABLE : 0);
  v.setUint32(4, flags, true);
  v.setUint32(8, ioasId, true);
  v.setBigUint64(16, userVa, true);
  v.setBigUint64(24, BigInt(length), true);
  v.setBigUint64(32, iova, true);
  return b;
}

export function encodeIoasUnmap(ioasId: number, iova: bigint, length: number | bigint): Uint8Array {
  const b = argszBuffer(iommufdStructSize.IOAS_UNMAP);
  const v = view(b);
  v.setUint32(4, ioasId, true);
  v.setBigUint64(8, iova, true);
  v.setBigUint64(16, BigInt(length), true);
  return b;
}
