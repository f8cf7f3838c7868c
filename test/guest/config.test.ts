// What the kernel backend reports about real devices, checked against what
// the kernel says elsewhere: config space read through VFIO against the
// device's sysfs `config` file, device/region/IRQ info against the devices'
// known shapes, and the objects (container, group) used one by one.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { closeFd } from '../../src/sys/fd.js';
import { Container, Group, Ioas, Iommufd, uapi } from '../../src/kernel/index.js';
import { Mapping } from '../../src/sys/memory.js';
import { openKernelBackend, openKernelDevice, VfioSetupError } from './vfio-api.js';
import { openGroupCount } from '../../src/client/kernel/open.js';
import { EDU, FLOW, guestTest, NVME } from './helpers.js';

/**
 * Bits of the first 64 bytes that may differ between VFIO's view and the
 * hardware's (sysfs shows the hardware): vfio-pci virtualises the command
 * register's INTx-disable bit (0x0400, it drives INTx masking itself), and the
 * status register's interrupt-status bit (0x0008) is live. Everything else in
 * the header - IDs, class, header type, BARs (VFIO's virtual BARs start as the
 * hardware's values and are only changed by the user's writes), subsystem IDs,
 * capability pointer, interrupt line and pin - must read the same.
 */
const RW = { read: true, write: true };

const MAY_DIFFER = new Map<number, number>([
  [0x05, 0x04], // command bit 10: INTx disable
  [0x06, 0x08], // status bit 3: interrupt status
]);

for (const [name, bdf] of [
  ['edu', EDU],
  ['nvme', NVME],
] as const) {
  guestTest(`config space of ${name}: the first 64 bytes read through VFIO equal sysfs config`, {}, (t) => {
    // Opening the device changes the hardware (vfio-pci enables it, may reset it
    // and clears bus mastering): read sysfs while we hold it, not before.
    const dev = openKernelDevice(bdf);
    try {
      // An unprivileged reader of sysfs `config` gets the first 64 bytes only: exactly the standard header.
      const sysfs = readFileSync(`/sys/bus/pci/devices/${bdf}/config`).subarray(0, 64);
      assert.equal(sysfs.length, 64);
      const ours = new Uint8Array(64);
      dev.config.read(0, ours);
      const diffs: string[] = [];
      for (let i = 0; i < 64; i++) {
        const mask = ~(MAY_DIFFER.get(i) ?? 0) & 0xff;
        if ((ours[i]! & mask) !== (sysfs[i]! & mask))
          diffs.push(`0x${i.toString(16)}: vfio 0x${ours[i]!.toString(16)} sysfs 0x${sysfs[i]!.toString(16)}`);
        else if (ours[i] !== sysfs[i])
          t.diagnostic(
            `byte 0x${i.toString(16)} differs in a virtualised bit: vfio 0x${ours[i]!.toString(16)} sysfs 0x${sysfs[i]!.toString(16)}`,
          );
      }
      assert.deepEqual(diffs, [], 'VFIO and sysfs agree');
      // And the typed accessors see the same values.
      const hw = Buffer.from(sysfs);
      assert.equal(dev.config.read16(0x00), hw.readUInt16LE(0x00), 'vendor');
      assert.equal(dev.config.read16(0x02), hw.readUInt16LE(0x02), 'device');
      assert.equal(dev.config.read32(0x10), hw.readUInt32LE(0x10), 'BAR0');
      assert.equal(dev.config.read8(0x3d), hw[0x3d], 'interrupt pin');
    } finally {
      dev.close();
    }
  });
}

guestTest('device, region and IRQ info of edu and nvme as the kernel reports them', {}, (t) => {
  const edu = openKernelBackend(EDU);
  const nvme = openKernelBackend(NVME);
  try {
    assert.equal(edu.flow, FLOW, `this run opens through the ${FLOW} flow`);
    assert.equal(edu.dma.kind, FLOW === 'iommufd' ? 'iommufd' : 'type1');
    for (const [name, d] of [
      ['edu', edu],
      ['nvme', nvme],
    ] as const) {
      const info = d.deviceInfo();
      assert.equal(info.pci, true, `${name} is a vfio-pci device`);
      assert.equal(info.numRegions, uapi.pciRegion.NUM_REGIONS, `${name}: BAR0-5, ROM, config, VGA`);
      assert.equal(info.numIrqs, uapi.pciIrq.NUM_IRQS, `${name}: INTx, MSI, MSI-X, ERR, REQ`);
      const cfg = d.regionInfo(uapi.pciRegion.CONFIG);
      assert.equal(cfg.mappable, false, 'config space is never mmapped');
      assert.equal(cfg.readable && cfg.writable, true);
      for (let i = 1; i <= 5; i++) assert.equal(d.regionInfo(i).size, 0, `${name}: BAR${i} unimplemented`);
      const hot = d.hotResetInfo();
      t.diagnostic(
        `${name}: reset ${info.reset}; hot reset ${hot.available ? `resets ${hot.devices.map((x) => `${x.bdf} (group ${x.groupId})`).join(', ')}` : `not available: ${hot.reason}`}`,
      );
      const irqs = [0, 1, 2, 3, 4].map((i) => d.irqInfo(i));
      t.diagnostic(
        `${name}: IRQ counts INTx ${irqs[0]!.count}, MSI ${irqs[1]!.count}, MSI-X ${irqs[2]!.count}, ERR ${irqs[3]!.count}, REQ ${irqs[4]!.count}`,
      );
      assert.equal(irqs[4]!.count, 1, `${name}: one REQ (unplug request) notification`);
    }
    const eduBar = edu.regionInfo(0);
    assert.equal(eduBar.size, 1 << 20);
    assert.deepEqual(eduBar.mmapAreas, [{ offset: 0, size: 1 << 20 }]);
    assert.equal(edu.regionInfo(uapi.pciRegion.CONFIG).size, 256, 'edu: conventional PCI config space');
    assert.equal(nvme.regionInfo(uapi.pciRegion.CONFIG).size, 4096, 'nvme: PCIe extended config space');
    assert.equal(edu.irqInfo(uapi.pciIrq.MSI).count, 1);
    assert.ok(nvme.irqInfo(uapi.pciIrq.MSIX).count >= 1, 'nvme has MSI-X');
    const nvmeBar = nvme.regionInfo(0);
    t.diagnostic(
      `nvme BAR0: ${nvmeBar.size} bytes, flags 0x${nvmeBar.flags.toString(16)}, msixMappable ${nvmeBar.msixMappable ?? false}, mmap areas ${JSON.stringify(nvmeBar.mmapAreas)}`,
    );
    assert.ok(nvmeBar.mappable && nvmeBar.mmapAreas.length >= 1);
    assert.ok(eduBar.fdOffset !== nvme.regionInfo(7).fdOffset, 'fd offsets come from REGION_INFO per region');
  } finally {
    edu.close();
    nvme.close();
  }
  assert.equal(openGroupCount(), 0, 'both groups released');
});

guestTest('container and group objects one by one: viability, type1v2, IOMMU info', {}, (t) => {
  const container = Container.open();
  const group = Group.forDevice(EDU);
  try {
    assert.equal(container.checkExtension(uapi.iommuType.TYPE1v2), true, 'type1v2 is offered');
    const st = group.status();
    assert.equal(st.viable, true);
    assert.equal(st.containerSet, false);
    group.setContainer(container);
    assert.equal(group.status().containerSet, true);
    assert.equal(container.setIommu(), uapi.iommuType.TYPE1v2);
    const info = container.iommuInfo();
    t.diagnostic(
      `IOMMU: page sizes 0x${info.pageSizes.toString(16)}, ranges ${info.ranges.map((r) => `0x${r.start.toString(16)}-0x${r.end.toString(16)}`).join(' ')}, DMA_AVAIL ${info.dmaAvail}`,
    );
    assert.ok((info.pageSizes & 0x1000n) !== 0n, '4 KiB pages');
    assert.ok(info.ranges.length >= 1, 'IOVA range capability present');
    assert.ok(typeof info.dmaAvail === 'number' && info.dmaAvail > 0, 'DMA_AVAIL capability present');
    const fd = group.deviceFd(EDU);
    assert.ok(fd >= 0);
    // A device fd of our own, closed before the group goes (UNSET_CONTAINER needs it).
    closeFd(fd);
  } finally {
    group.close();
    container.close();
  }
  assert.equal(container.groupCount, 0);
});

guestTest('two devices of one process: each its own IOVA space, DMA buffers on both; a second open of one device', {}, () => {
  const a = openKernelDevice(EDU);
  const b = openKernelDevice(NVME);
  try {
    // Groups are kept open only by the container flow; the cdev flow has none.
    assert.equal(openGroupCount(), FLOW === 'container' ? 2 : 0);
    const ba = a.allocDma(8192);
    const bb = b.allocDma(8192);
    assert.equal(ba.iova, bb.iova, 'separate IOVA spaces: both allocators may pick the same IOVA');
    if (FLOW === 'container') {
      const a2 = openKernelDevice(EDU); // a second handle on the same device shares the group
      try {
        assert.equal(a2.bar(0).read32(0), 0x010000ed);
      } finally {
        a2.close();
      }
    } else {
      // The kernel binds a device to one iommufd at a time (VFIO_DEVICE_BIND_IOMMUFD: EINVAL).
      assert.throws(
        () => openKernelDevice(EDU),
        (e: unknown) =>
          e instanceof VfioSetupError && e.code === 'VFIO_GROUP_BUSY' && e.errnoName === 'EINVAL' && /already in use/.test(e.message),
      );
    }
    assert.equal(a.bar(0).read32(0), 0x010000ed, 'the first handle still works after the second closed or was refused');
  } finally {
    a.close();
    b.close();
  }
  assert.equal(openGroupCount(), 0);
});

guestTest(
  "the IOAS of the iommufd flow: its IOVA ranges are the IOMMU's (as type1 reports them), DMA outside them refused",
  { flow: 'iommufd' },
  (t) => {
    const edu = openKernelBackend(EDU);
    let ioasRanges: { start: bigint; end: bigint }[];
    try {
      assert.equal(edu.flow, 'iommufd');
      assert.ok(edu.dma instanceof Ioas);
      const info = edu.dma.info();
      ioasRanges = info.ranges;
      t.diagnostic(
        `IOAS ${edu.dma.id}: ranges ${ioasRanges.map((r) => `0x${r.start.toString(16)}-0x${r.end.toString(16)}`).join(' ')}, page size 0x${info.pageSizes.toString(16)}`,
      );
      assert.ok(ioasRanges.length >= 2, 'the MSI window splits the IOVA space');
      // VT-d reserves the interrupt window 0xfee00000-0xfeefffff.
      assert.ok(!ioasRanges.some((r) => r.start <= 0xfee00000n && r.end >= 0xfee00000n), 'the MSI window is not an allowed range');
      assert.throws(
        () => edu.dma.map(0n, 0xfee00000n, 4096, RW),
        (e: { code?: string }) => typeof e.code === 'string',
        'mapping into the MSI window fails',
      );
    } finally {
      edu.close();
    }
    // The same device through a type1 container: the same windows.
    const container = Container.open();
    const group = Group.forDevice(EDU);
    try {
      group.setContainer(container);
      container.setIommu();
      assert.deepEqual(
        container.iommuInfo().ranges.map((r) => [r.start, r.end]),
        ioasRanges.map((r) => [r.start, r.end]),
      );
    } finally {
      group.close();
      container.close();
    }
  },
);

guestTest('iommufd objects one by one: an IOAS of a fresh /dev/iommu maps and unmaps, then is destroyed', { flow: 'iommufd' }, () => {
  const fd = Iommufd.open();
  try {
    const ioas = fd.allocIoas();
    const buf = Mapping.anonymous(8192);
    try {
      ioas.map(buf.address, 0x100000n, 8192, RW);
      assert.throws(
        () => ioas.map(buf.address, 0x100000n, 4096, RW),
        (e: { code?: string }) => e.code === 'EEXIST',
        'an IOVA maps once',
      );
      ioas.unmap(0x100000n, 8192);
      assert.throws(
        () => ioas.unmap(0x100000n, 8192),
        (e: { code?: string }) => e.code === 'ENOENT',
        'nothing left to unmap',
      );
    } finally {
      buf.unmap();
    }
    ioas.destroy();
    assert.throws(
      () => fd.destroy(ioas.id),
      (e: { code?: string }) => e.code === 'ENOENT',
      'the IOAS is gone',
    );
  } finally {
    fd.close();
  }
});

guestTest('two groups in one caller-owned container: one IOVA space, shared by both devices', {}, () => {
  const container = Container.open();
  const edu = openKernelDevice(EDU, { container });
  const nvme = openKernelDevice(NVME, { container });
  try {
    assert.equal(container.groupCount, 2);
    assert.equal(container.iommuType, uapi.iommuType.TYPE1v2, 'the IOMMU was set once, with the first group');
    const a = edu.allocDma(4096);
    // One IOVA space: the same IOVA cannot be mapped twice...
    assert.throws(
      () => nvme.allocDma(4096, { iova: a.iova }),
      (e: { code?: string }) => e.code === 'EEXIST',
    );
    // ...so devices sharing a container keep their IOVAs apart.
    const b = nvme.allocDma(4096, { iova: 0x10000000n });
    assert.equal(b.iova, 0x10000000n);
  } finally {
    edu.close();
    nvme.close();
  }
  assert.equal(container.groupCount, 0, 'both groups detached');
  assert.equal(container.closed, false, "the container is the caller's: still open");
  container.close();
  assert.equal(openGroupCount(), 0);
});
