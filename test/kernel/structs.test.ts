// The kernel backend's struct codecs (src/vfio/structs.ts), on the host:
// region info with capability chains (sparse mmap, type, MSI-X mappable; the
// argsz re-query; corrupt chains), IRQ info and SET_IRQS encoding, IOMMU info
// with IOVA ranges and DMA_AVAIL, DMA map/unmap, hot-reset info, and the
// iommufd/cdev structs. Layouts and ioctl numbers are cross-checked against
// the machine's <linux/vfio.h> with a C compiler where there is one.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as s from '../../src/kernel/structs.js';
import { cdevIoctl, iommufdIoctl, vfioIoctl, structSize } from '../../src/uapi/vfio.js';

const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** A region-info answer as the kernel would write it. */
function regionAnswer(opts: {
  index: number;
  flags: number;
  size: number;
  offset: bigint;
  argsz?: number;
  caps?: Uint8Array[];
  length?: number;
}): Uint8Array {
  const caps = opts.caps ?? [];
  const capBytes = caps.reduce((n, c) => n + c.length, 0);
  const length = opts.length ?? 32 + capBytes;
  const b = new Uint8Array(length);
  const v = dv(b);
  v.setUint32(0, opts.argsz ?? 32 + capBytes, true);
  v.setUint32(4, opts.flags, true);
  v.setUint32(8, opts.index, true);
  v.setUint32(12, caps.length ? 32 : 0, true);
  v.setBigUint64(16, BigInt(opts.size), true);
  v.setBigUint64(24, opts.offset, true);
  let off = 32;
  caps.forEach((c, i) => {
    if (off + c.length <= length) {
      b.set(c, off);
      dv(b).setUint32(off + 4, i + 1 < caps.length ? off + c.length : 0, true);
    }
    off += c.length;
  });
  return b;
}

function cap(id: number, version: number, body: number[]): Uint8Array {
  const b = new Uint8Array(8 + body.length * 4);
  const v = dv(b);
  v.setUint16(0, id, true);
  v.setUint16(2, version, true);
  body.forEach((x, i) => {
    v.setUint32(8 + i * 4, x, true);
  });
  return b;
}

const sparse = (areas: [number, number][]): Uint8Array => {
  const body = [areas.length, 0];
  for (const [o, sz] of areas) body.push(o, 0, sz, 0);
  return cap(1, 1, body);
};

test('region info: a plain mappable BAR is one mmap area, its fd offset as the kernel gave it', () => {
  const info = s.decodeRegionInfo(regionAnswer({ index: 0, flags: 0x7, size: 1 << 20, offset: 0n }));
  assert.deepEqual(
    { ...info },
    {
      index: 0,
      flags: 7,
      size: 1 << 20,
      readable: true,
      writable: true,
      mappable: true,
      mmapAreas: [{ offset: 0, size: 1 << 20 }],
      fdOffset: 0n,
    },
  );
  const cfg = s.decodeRegionInfo(regionAnswer({ index: 7, flags: 0x3, size: 256, offset: 7n << 40n }));
  assert.equal(cfg.mappable, false);
  assert.deepEqual(cfg.mmapAreas, []);
  assert.equal(cfg.fdOffset, 7n << 40n, 'taken from the answer');
  const empty = s.decodeRegionInfo(regionAnswer({ index: 3, flags: 0, size: 0, offset: 3n << 40n }));
  assert.equal(empty.size, 0);
});

test('region info: sparse mmap, type and MSI-X mappable capabilities', () => {
  const b = regionAnswer({
    index: 2,
    flags: 0xf,
    size: 0x4000,
    offset: 2n << 40n,
    caps: [
      sparse([
        [0, 0x2000],
        [0x3000, 0x1000],
      ]),
      cap(2, 1, [0x80000000 | 0x8086, 1]),
      cap(3, 1, []),
    ],
  });
  const info = s.decodeRegionInfo(b);
  assert.deepEqual(info.mmapAreas, [
    { offset: 0, size: 0x2000 },
    { offset: 0x3000, size: 0x1000 },
  ]);
  assert.deepEqual(info.type, { type: 0x80008086, subtype: 1 });
  assert.equal(info.msixMappable, true);
});

test('region info: caps that did not fit are reported by needsMore, then decoded from the re-query', () => {
  const full = regionAnswer({ index: 0, flags: 0xf, size: 0x4000, offset: 0n, caps: [sparse([[0x1000, 0x3000]])] });
  // The first answer: the caller gave 32 bytes, the kernel wrote argsz = 32 + caps and no chain.
  const first = full.slice(0, 32);
  dv(first).setUint32(12, 0, true);
  assert.equal(s.needsMore(first), full.length);
  const partial = s.decodeRegionInfo(first);
  assert.deepEqual(partial.mmapAreas, [{ offset: 0, size: 0x4000 }], 'no chain yet');
  assert.equal(s.needsMore(full), undefined);
  assert.deepEqual(s.decodeRegionInfo(full).mmapAreas, [{ offset: 0x1000, size: 0x3000 }]);
  const q = s.encodeRegionInfoQuery(5, 96);
  assert.equal(q.length, 96);
  assert.equal(dv(q).getUint32(0, true), 96, 'argsz');
  assert.equal(dv(q).getUint32(8, true), 5, 'index');
  assert.throws(() => s.encodeRegionInfoQuery(0, 16), RangeError);
});

test('region info: corrupt chains are EIO, never a loop or an out-of-bounds read', () => {
  const loop = regionAnswer({ index: 0, flags: 0xf, size: 0x1000, offset: 0n, caps: [cap(2, 1, [1, 2])] });
  dv(loop).setUint32(36, 32, true); // next -> itself
  assert.throws(
    () => s.decodeRegionInfo(loop),
    (e: { code?: string }) => e.code === 'EIO',
  );
  const outside = regionAnswer({ index: 0, flags: 0xf, size: 0x1000, offset: 0n, caps: [cap(2, 1, [1, 2])] });
  dv(outside).setUint32(36, 4096, true);
  assert.throws(
    () => s.decodeRegionInfo(outside),
    (e: { code?: string }) => e.code === 'EIO',
  );
  const many = regionAnswer({ index: 0, flags: 0xf, size: 0x1000, offset: 0n, caps: [sparse([[0, 0x1000]])] });
  dv(many).setUint32(40, 1000, true); // nr_areas beyond the answer
  assert.throws(
    () => s.decodeRegionInfo(many),
    (e: { code?: string }) => e.code === 'EIO',
  );
  const beyond = regionAnswer({ index: 0, flags: 0xf, size: 0x1000, offset: 0n, caps: [sparse([[0, 0x2000]])] });
  assert.throws(() => s.decodeRegionInfo(beyond), /outside the 4096-byte region/);
  const unknown = regionAnswer({ index: 0, flags: 0xf, size: 0x1000, offset: 0n, caps: [cap(99, 1, [7])] });
  assert.deepEqual(s.decodeRegionInfo(unknown).mmapAreas, [{ offset: 0, size: 0x1000 }], 'unknown capabilities are skipped');
});

test('device, group and IRQ info decode', () => {
  const d = new Uint8Array(20);
  dv(d).setUint32(4, 0x3, true);
  dv(d).setUint32(8, 9, true);
  dv(d).setUint32(12, 5, true);
  assert.deepEqual(s.decodeDeviceInfo(d), { flags: 3, reset: true, pci: true, numRegions: 9, numIrqs: 5 });
  const g = s.argszBuffer(8);
  dv(g).setUint32(4, 1, true);
  assert.deepEqual(s.decodeGroupStatus(g), { flags: 1, viable: true, containerSet: false });
  const q = s.encodeIrqInfoQuery(2);
  assert.deepEqual([...q], [16, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
  dv(q).setUint32(4, 0x7, true);
  dv(q).setUint32(12, 1, true);
  assert.deepEqual(s.decodeIrqInfo(q), { index: 2, flags: 7, count: 1, eventfd: true, maskable: true, automasked: true, noresize: false });
});

test('SET_IRQS: vfio_irq_set for each data kind and action', () => {
  const words = (b: Uint8Array): number[] => Array.from({ length: 5 }, (_, i) => dv(b).getUint32(i * 4, true));
  const ev = s.encodeIrqSet(2, 'trigger', 0, { kind: 'eventfd', fds: [7, -1, 9] });
  assert.equal(ev.length, 32);
  assert.deepEqual(words(ev), [32, 0x4 | 0x20, 2, 0, 3]);
  assert.deepEqual([dv(ev).getInt32(20, true), dv(ev).getInt32(24, true), dv(ev).getInt32(28, true)], [7, -1, 9]);
  const off = s.encodeIrqSet(1, 'trigger', 0, { kind: 'none', count: 0 });
  assert.deepEqual(words(off), [20, 0x1 | 0x20, 1, 0, 0], 'disable: DATA_NONE, count 0');
  const unmask = s.encodeIrqSet(0, 'unmask', 0, { kind: 'none', count: 1 });
  assert.deepEqual(words(unmask), [20, 0x1 | 0x10, 0, 0, 1]);
  const bools = s.encodeIrqSet(2, 'mask', 3, { kind: 'bool', values: [true, false, true] });
  assert.deepEqual(words(bools), [23, 0x2 | 0x08, 2, 3, 3]);
  assert.deepEqual([...bools.subarray(20)], [1, 0, 1]);
  assert.throws(
    () => s.encodeIrqSet(0, 'trigger', 0, { kind: 'eventfd', fds: [-2] }),
    (e: { code?: string }) => e.code === 'EINVAL',
  );
  assert.throws(
    () => s.encodeIrqSet(-1, 'trigger', 0, { kind: 'none', count: 0 }),
    (e: { code?: string }) => e.code === 'EINVAL',
  );
  assert.throws(
    () => s.encodeIrqSet(0, 'poke' as 'mask', 0, { kind: 'none', count: 1 }),
    (e: { code?: string }) => e.code === 'EINVAL',
  );
});

test('IOMMU info: page sizes, IOVA ranges and DMA_AVAIL from the chain; truncation says how much room', () => {
  const b = new Uint8Array(24 + 16 + 32 + 12 + 4);
  const v = dv(b);
  v.setUint32(0, b.length, true);
  v.setUint32(4, 0x3, true);
  v.setBigUint64(8, 0x40201000n, true);
  v.setUint32(16, 24, true);
  // IOVA range cap at 24: 2 ranges, next -> 72
  v.setUint16(24, 1, true);
  v.setUint16(26, 1, true);
  v.setUint32(28, 72, true);
  v.setUint32(32, 2, true);
  v.setBigUint64(40, 0n, true);
  v.setBigUint64(48, 0xfedfffffn, true);
  v.setBigUint64(56, 0xfef00000n, true);
  v.setBigUint64(64, 0x7fffffffffn, true);
  // DMA_AVAIL at 72
  v.setUint16(72, 3, true);
  v.setUint16(74, 1, true);
  v.setUint32(76, 0, true);
  v.setUint32(80, 65535, true);
  const info = s.decodeIommuInfo(b);
  assert.equal(info.pageSizes, 0x40201000n);
  assert.deepEqual(info.ranges, [
    { start: 0n, end: 0xfedfffffn },
    { start: 0xfef00000n, end: 0x7fffffffffn },
  ]);
  assert.equal(info.dmaAvail, 65535);
  assert.equal(info.needsArgsz, undefined);
  const small = b.slice(0, 24);
  assert.equal(s.decodeIommuInfo(small).needsArgsz, b.length);
  assert.deepEqual(s.decodeIommuInfo(small).ranges, []);
});

test('DMA map/unmap, hot-reset info', () => {
  const m = s.encodeDmaMap(0x7f0000001000n, 0x100000n, 8192, { read: true, write: false });
  assert.deepEqual([dv(m).getUint32(0, true), dv(m).getUint32(4, true)], [32, 0x1]);
  assert.deepEqual(
    [dv(m).getBigUint64(8, true), dv(m).getBigUint64(16, true), dv(m).getBigUint64(24, true)],
    [0x7f0000001000n, 0x100000n, 8192n],
  );
  const u = s.encodeDmaUnmap(0x100000n, 8192);
  assert.deepEqual(
    [dv(u).getUint32(0, true), dv(u).getUint32(4, true), dv(u).getBigUint64(8, true), dv(u).getBigUint64(16, true)],
    [24, 0, 0x100000n, 8192n],
  );
  assert.equal(s.decodeDmaUnmapSize(u), 8192n);
  const h = new Uint8Array(12 + 16);
  const hv = dv(h);
  hv.setUint32(8, 2, true);
  hv.setUint32(12, 7, true);
  hv.setUint16(16, 0, true);
  hv.setUint8(18, 0x3a);
  hv.setUint8(19, (0x1f << 3) | 6);
  hv.setUint32(20, 8, true);
  hv.setUint8(26, 1);
  assert.deepEqual(s.decodeHotResetInfo(h).devices, [
    { groupId: 7, bdf: '0000:3a:1f.6' },
    { groupId: 8, bdf: '0000:01:00.0' },
  ]);
  assert.equal(s.decodeHotResetInfo(h.slice(0, 12)).devices.length, 0, 'count without room: nothing decoded');
});

test('cdev and iommufd structs (Linux 6.6+ layouts)', () => {
  const bind = s.encodeBindIommufd(5);
  assert.deepEqual([...bind], [16, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
  dv(bind).setUint32(12, 42, true);
  assert.equal(s.decodeBindIommufd(bind).devId, 42);
  const att = s.encodeAttachIommufdPt(3);
  assert.deepEqual([...att], [12, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]);
  assert.deepEqual([...s.encodeDetachIommufdPt()], [8, 0, 0, 0, 0, 0, 0, 0]);
  const alloc = s.encodeIoasAlloc();
  assert.deepEqual([...alloc], [12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  dv(alloc).setUint32(8, 9, true);
  assert.equal(s.decodeIoasAlloc(alloc).ioasId, 9);
  const map = s.encodeIoasMap(9, 0x7f0000000000n, 4096, 0x2000n, { read: true, write: true });
  assert.equal(map.length, 40);
  assert.deepEqual(
    [dv(map).getUint32(0, true), dv(map).getUint32(4, true), dv(map).getUint32(8, true), dv(map).getUint32(12, true)],
    [40, 1 | 2 | 4, 9, 0],
  );
  assert.deepEqual(
    [dv(map).getBigUint64(16, true), dv(map).getBigUint64(24, true), dv(map).getBigUint64(32, true)],
    [0x7f0000000000n, 4096n, 0x2000n],
  );
  const unmap = s.encodeIoasUnmap(9, 0x2000n, 4096);
  assert.deepEqual(
    [dv(unmap).getUint32(0, true), dv(unmap).getUint32(4, true), dv(unmap).getBigUint64(8, true), dv(unmap).getBigUint64(16, true)],
    [24, 9, 0x2000n, 4096n],
  );
  const ranges = s.encodeIoasIovaRanges(9, 4, 0x1000n);
  assert.deepEqual(
    [dv(ranges).getUint32(0, true), dv(ranges).getUint32(4, true), dv(ranges).getUint32(8, true), dv(ranges).getBigUint64(16, true)],
    [32, 9, 4, 0x1000n],
  );
  dv(ranges).setUint32(8, 1, true);
  dv(ranges).setBigUint64(24, 4096n, true);
  const out = new Uint8Array(64);
  dv(out).setBigUint64(0, 0x1000n, true);
  dv(out).setBigUint64(8, 0xffffffffn, true);
  assert.deepEqual(s.decodeIoasIovaRanges(ranges, out), { count: 1, alignment: 4096n, ranges: [{ start: 0x1000n, end: 0xffffffffn }] });
  assert.deepEqual([dv(s.encodeIommuDestroy(9)).getUint32(0, true), dv(s.encodeIommuDestroy(9)).getUint32(4, true)], [8, 9]);
  // ioctl numbers: _IO(';', base + n)
  assert.equal(cdevIoctl.DEVICE_BIND_IOMMUFD, 0x3b76);
  assert.equal(cdevIoctl.DEVICE_ATTACH_IOMMUFD_PT, 0x3b77);
  assert.equal(cdevIoctl.DEVICE_DETACH_IOMMUFD_PT, 0x3b78);
  assert.equal(iommufdIoctl.DESTROY, 0x3b80);
  assert.equal(iommufdIoctl.IOAS_ALLOC, 0x3b81);
  assert.equal(iommufdIoctl.IOAS_IOVA_RANGES, 0x3b84);
  assert.equal(iommufdIoctl.IOAS_MAP, 0x3b85);
  assert.equal(iommufdIoctl.IOAS_UNMAP, 0x3b86);
});

// --- cross-check with the machine's headers ------------------------------------

const HEADER = '/usr/include/linux/vfio.h';

function findCc(): string | undefined {
  for (const cc of ['/usr/bin/cc', '/usr/bin/gcc', '/usr/bin/clang']) if (existsSync(cc)) return cc;
  return undefined;
}

test(`ioctl numbers agree with ${HEADER}${existsSync(HEADER) ? '' : ' (SKIPPED: no header)'}`, {
  skip: existsSync(HEADER) ? false : `no ${HEADER} (apt-get install linux-libc-dev)`,
}, (t) => {
  const text = readFileSync(HEADER, 'utf8');
  const defined = new Map<string, number>();
  for (const m of text.matchAll(/#define\s+(VFIO_\w+)\s+_IO\(VFIO_TYPE,\s*VFIO_BASE\s*\+\s*(\d+)\)/g))
    defined.set(m[1]!, 0x3b00 + 100 + Number(m[2]));
  const ours: Record<string, number> = { ...vfioIoctl, ...cdevIoctl };
  let checked = 0;
  for (const [name, value] of Object.entries(ours)) {
    const theirs = defined.get(`VFIO_${name}`);
    if (theirs === undefined) {
      t.diagnostic(`VFIO_${name} is not in this header (newer than it)`);
      continue;
    }
    assert.equal(value, theirs, `VFIO_${name}`);
    checked++;
  }
  assert.equal(checked, Object.keys(vfioIoctl).length, 'every container/group/device ioctl is in the header');
});

const cc = findCc();
test(`struct layouts agree with ${HEADER} (offsetof/sizeof by ${cc ?? 'a C compiler'})${cc && existsSync(HEADER) ? '' : ' (SKIPPED: no C compiler or header)'}`, {
  skip: cc && existsSync(HEADER) ? false : 'no C compiler or no linux/vfio.h',
}, () => {
  const checks: [string, number][] = [
    ['sizeof(struct vfio_group_status)', structSize.GROUP_STATUS],
    ['sizeof(struct vfio_device_info)', structSize.DEVICE_INFO],
    ['sizeof(struct vfio_region_info)', structSize.REGION_INFO],
    ['offsetof(struct vfio_region_info, cap_offset)', 12],
    ['offsetof(struct vfio_region_info, size)', 16],
    ['offsetof(struct vfio_region_info, offset)', 24],
    ['sizeof(struct vfio_info_cap_header)', structSize.INFO_CAP_HEADER],
    ['sizeof(struct vfio_region_info_cap_sparse_mmap)', 16],
    ['sizeof(struct vfio_region_sparse_mmap_area)', 16],
    ['sizeof(struct vfio_region_info_cap_type)', 16],
    ['sizeof(struct vfio_irq_info)', structSize.IRQ_INFO],
    ['sizeof(struct vfio_irq_set)', structSize.IRQ_SET],
    ['sizeof(struct vfio_pci_hot_reset_info)', structSize.HOT_RESET_INFO],
    ['sizeof(struct vfio_pci_dependent_device)', structSize.PCI_DEPENDENT_DEVICE],
    ['sizeof(struct vfio_iommu_type1_info)', structSize.IOMMU_TYPE1_INFO],
    ['offsetof(struct vfio_iommu_type1_info, cap_offset)', 16],
    ['sizeof(struct vfio_iommu_type1_info_cap_iova_range)', 16],
    ['sizeof(struct vfio_iova_range)', 16],
    ['offsetof(struct vfio_iommu_type1_info_dma_avail, avail)', 8],
    ['sizeof(struct vfio_iommu_type1_dma_map)', structSize.DMA_MAP],
    ['offsetof(struct vfio_iommu_type1_dma_map, vaddr)', 8],
    ['offsetof(struct vfio_iommu_type1_dma_map, iova)', 16],
    ['sizeof(struct vfio_iommu_type1_dma_unmap)', structSize.DMA_UNMAP],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-layout-'));
  try {
    const src = join(dir, 'layout.c');
    writeFileSync(
      src,
      `#include <stddef.h>\n#include <stdio.h>\n#include <linux/vfio.h>\nint main(void) {\n${checks.map(([e]) => `  printf("%zu\\n", (size_t)(${e}));`).join('\n')}\n  return 0;\n}\n`,
    );
    execFileSync(cc!, ['-o', join(dir, 'layout'), src]);
    const got = execFileSync(join(dir, 'layout'), { encoding: 'utf8' }).trim().split('\n').map(Number);
    checks.forEach(([expr, want], i) => {
      assert.equal(want, got[i], expr);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
