// BrokeredDevice against an in-memory DeviceBackend that records what the
// broker asks of the device: the unit-level rules behind the broker (the
// process-level ones are in broker.test.ts, the real device in the guest).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokeredDevice } from '../../src/broker/brokered-device.js';
import type { BackendEvents, DeviceBackend, DmaMemory, MappedSpan } from '../../src/client/backend.js';
import type { DeviceInfo, DmaAccess, IrqAction, IrqData, IrqInfo, RegionInfo } from '../../src/uapi/types.js';
import { fail } from '../../src/errors.js';
import { createConfigSpace, regs } from '../../src/pci/index.js';
import type { SetIrqsRequest } from '../../src/protocol/index.js';
import { DmaSpace } from '../../src/server/dma-space.js';
import { EventFd, memfdCreate, closeFd, PAGE_SIZE } from '../../src/sys/index.js';
import { ftruncate } from '../../src/sys/fd.js';

/** A device in memory: a 256-byte config space with MSI, a 4 KiB BAR0, no ROM; records calls. */
class MemoryBackend implements DeviceBackend {
  readonly kind = 'memory';
  readonly name = 'memory-device';
  readonly config = createConfigSpace({
    vendorId: 0x1234,
    deviceId: 0x5678,
    classCode: 0xff0000,
    interruptPin: 1,
    bars: [{ kind: 'mem32', size: 4096 }],
    capabilities: [{ id: 'msi', vectors: 1 }],
  });
  readonly bar0 = new Uint8Array(4096);
  readonly calls: string[] = [];
  closed = false;

  deviceInfo(): DeviceInfo {
    return { flags: 3, reset: true, pci: true, numRegions: 9, numIrqs: 5 };
  }
  regionInfo(index: number): RegionInfo {
    const size = index === 7 ? 256 : index === 0 ? 4096 : 0;
    return { index, flags: size ? 3 : 0, size, readable: size > 0, writable: size > 0, mappable: false, mmapAreas: [] };
  }
  irqInfo(index: number): IrqInfo {
    const count = index === 0 || index === 1 || index === 4 ? 1 : 0;
    return { index, flags: 1, count, eventfd: true, maskable: false, automasked: false, noresize: true };
  }
  regionRead(index: number, offset: number, dst: Uint8Array): void {
    if (index === 7) this.config.readInto(offset, dst);
    else dst.set(this.bar0.subarray(offset, offset + dst.length));
  }
  regionWrite(index: number, offset: number, src: Uint8Array): void {
    this.calls.push(`write ${index}@${offset}`);
    if (index === 7) this.config.writeBytes(offset, src);
    else this.bar0.set(src, offset);
  }
  regionMap(): MappedSpan {
    throw fail('EINVAL', 'not mappable');
  }
  dmaInfo(): { ranges: { start: bigint; end: bigint }[]; pageSizes: bigint } {
    return { ranges: [{ start: 0n, end: (1n << 48n) - 1n }], pageSizes: 4096n };
  }
  dmaMap(memory: DmaMemory, iova: bigint, access: DmaAccess): void {
    this.calls.push(
      `map ${iova.toString(16)}+${memory.size} ${access.read ? 'r' : ''}${access.write ? 'w' : ''} addr:${memory.address !== 0n}`,
    );
  }
  dmaUnmap(iova: bigint, size: number): void {
    this.calls.push(`unmap ${iova.toString(16)}+${size}`);
  }
  setIrqs(index: number, action: IrqAction, start: number, data: IrqData): void {
    const what =
      data.kind === 'eventfd'
        ? `eventfd x${data.fds.length}`
        : data.kind === 'bool'
          ? `bool x${data.values.length}`
          : `none x${data.count}`;
    this.calls.push(`irqs ${index} ${action} ${start} ${what}`);
  }
  reset(): void {
    this.calls.push('reset');
  }
  setEvents(_e: BackendEvents): void {}
  close(): void {
    this.closed = true;
  }
}

function irqReq(index: number, data: SetIrqsRequest['data'], count: number): SetIrqsRequest {
  return { argsz: 0, flags: 0, data, action: 'trigger', index, start: 0, count, bools: undefined, eventfds: [] };
}

function opened(): { dev: BrokeredDevice; backends: MemoryBackend[] } {
  const backends: MemoryBackend[] = [];
  const dev = new BrokeredDevice({
    open: () => {
      const b = new MemoryBackend();
      backends.push(b);
      return b;
    },
  });
  return { dev, backends };
}

const OWNER = { id: 1, pid: 1, uid: 1000, gid: 1000 };

test("brokered device: config space is the framework's over the device's; BAR access reaches the device; ranges checked", () => {
  const { dev, backends } = opened();
  const b = backends[0]!;
  const r = new Uint8Array(4);
  dev.regionRead(7, 0, r);
  assert.deepEqual([...r], [0x34, 0x12, 0x78, 0x56]);
  dev.regionWrite(7, regs.PCI_BASE_ADDRESS_0, Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  dev.regionRead(7, regs.PCI_BASE_ADDRESS_0, r);
  assert.deepEqual([...r], [0, 0xf0, 0xff, 0xff], "BAR0 sizes as 4 KiB in the broker's shadow");
  assert.ok(!b.calls.some((c) => c === `write 7@${regs.PCI_BASE_ADDRESS_0}`), 'a BAR write never reaches the device');
  dev.regionWrite(0, 8, Uint8Array.of(1, 2));
  assert.deepEqual([...b.bar0.subarray(8, 10)], [1, 2]);
  assert.throws(() => dev.regionRead(0, 4095, new Uint8Array(2)), { code: 'EINVAL' });
  assert.throws(() => dev.regionRead(3, 0, r), { code: 'EINVAL' });
  assert.throws(() => dev.regionRead(9, 0, r), { code: 'EINVAL' });
  assert.equal(dev.regionInfo(8).size, 0n, 'VGA is not brokered');
  dev.close();
  assert.ok(b.closed);
  assert.throws(() => dev.regionRead(7, 0, r), { code: 'ENODEV' });
});

test("brokered device: SET_IRQS goes to the device with the client's eventfds (which the broker then closes); MSI enable is mirrored; REQ stays here", () => {
  const { dev, backends } = opened();
  const b = backends[0]!;
  const efd = EventFd.create();
  const fds = [efd.fd];
  dev.setIrqs({ ...irqReq(1, 'eventfd', 1), eventfds: fds }, fds);
  assert.ok(b.calls.includes('irqs 1 trigger 0 eventfd x1'), b.calls.join(', '));
  assert.throws(() => closeFd(efd.fd), { code: 'EBADF' }, 'the broker closed its copy');
  const msi = dev.config.findCapability(regs.PCI_CAP_ID_MSI)!;
  assert.equal(dev.config.read(msi + regs.PCI_MSI_FLAGS, 2) & regs.PCI_MSI_FLAGS_ENABLE, regs.PCI_MSI_FLAGS_ENABLE);
  dev.setIrqs(irqReq(1, 'none', 0), []);
  assert.equal(dev.config.read(msi + regs.PCI_MSI_FLAGS, 2) & regs.PCI_MSI_FLAGS_ENABLE, 0);

  // REQ: the client's eventfd is kept by the broker and signalled by requestRelease().
  const req = EventFd.create();
  const reqFds = [req.fd];
  const before = b.calls.length;
  dev.setIrqs({ ...irqReq(4, 'eventfd', 1), eventfds: reqFds }, reqFds);
  assert.ok(
    !b.calls.slice(before).some((c) => c.startsWith('irqs 4 ')),
    "the client's REQ is not bound on the device (the broker's own is)",
  );
  assert.ok(b.calls.slice(0, before).includes('irqs 4 trigger 0 eventfd x1'), 'the broker bound its own REQ at open');
  assert.ok(dev.requestRelease());
  assert.throws(() => dev.setIrqs({ ...irqReq(4, 'none', 1), action: 'mask' }, []), { code: 'EINVAL' });
  dev.close(); // closes the kept REQ eventfd too
});

test("brokered device: DMA maps become device maps of the broker's mapping; a map without a descriptor is refused; unmaps follow", () => {
  const { dev, backends } = opened();
  const b = backends[0]!;
  const space = new DmaSpace({ maxMaps: 8, maxBytes: 1n << 30n, pageSize: PAGE_SIZE }, dev.dmaHooks);
  const fd = memfdCreate('broker-test');
  try {
    ftruncate(fd, 2 * PAGE_SIZE);
    space.map({ iova: 0x100000n, size: BigInt(2 * PAGE_SIZE), readable: true, writable: true, fd });
    assert.equal(b.calls.at(-1), `map 100000+${2 * PAGE_SIZE} rw addr:true`);
    assert.throws(() => space.map({ iova: 0x200000n, size: BigInt(PAGE_SIZE), readable: true, writable: false }), { code: 'EINVAL' });
    assert.equal(space.count, 1, 'the refused map left nothing behind');
    space.unmapAll();
    assert.equal(b.calls.at(-1), `unmap 100000+${2 * PAGE_SIZE}`);
  } finally {
    closeFd(fd);
    dev.close();
  }
});

test('brokered device: a release turns mastering and interrupts off, closes the device and opens it afresh; a failed reopen is retried when the next client comes', () => {
  let fails = 0;
  const backends: MemoryBackend[] = [];
  const dev = new BrokeredDevice({
    open: () => {
      if (fails > 0) {
        fails--;
        throw fail('EBUSY', 'still releasing');
      }
      backends.push(new MemoryBackend());
      return backends.at(-1)!;
    },
  });
  const warnings: string[] = [];
  dev.on('warning', (w) => warnings.push(w.message));
  const space = new DmaSpace({ maxMaps: 8, maxBytes: 1n << 30n, pageSize: PAGE_SIZE }, dev.dmaHooks);
  dev.attachOwner(OWNER, space, { dmaRead: async () => {}, dmaWrite: async () => {} });
  dev.regionWrite(7, regs.PCI_COMMAND, Uint8Array.of(regs.PCI_COMMAND_MEMORY | regs.PCI_COMMAND_MASTER, 0));
  dev.detachDma();
  const first = backends[0]!;
  assert.equal(first.config.read(regs.PCI_COMMAND, 2) & regs.PCI_COMMAND_MASTER, 0, 'bus mastering off before the maps go');
  assert.ok(first.calls.includes('irqs 1 trigger 0 none x0'), 'interrupts off');
  fails = 1;
  dev.releaseOwner();
  assert.ok(first.closed);
  assert.equal(dev.open, false);
  assert.match(warnings.join('\n'), /reopening the device failed: still releasing/);
  dev.checkAvailable(); // the next VERSION: tried again, and it works
  assert.equal(dev.open, true);
  assert.equal(backends.length, 2);
  const r = new Uint8Array(2);
  dev.regionRead(7, regs.PCI_COMMAND, r);
  assert.equal(r[0]! & regs.PCI_COMMAND_MASTER, 0);
  dev.withdraw();
  assert.equal(dev.open, false, 'withdrawn without an owner: closed at once');
  assert.throws(() => dev.checkAvailable(), { code: 'ENODEV' });
  dev.reinstate();
  assert.equal(dev.open, true);
  dev.close();
});
