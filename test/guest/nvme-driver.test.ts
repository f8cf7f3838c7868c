// The NVMe driver (src/drivers/nvme/) against QEMU's nvme in the test guest,
// through the kernel backend, as the unprivileged user: bring-up and Identify,
// blocks the host wrote into the disk image (vm/disk.ts diskBlock), writes
// read back (the disk is opened with snapshot=on, writes thrown away, except
// in test/vm/guest-suite.test.ts, which boots a writable copy of the image
// and checks on the host that driverWritePattern() reached it at
// DRIVER_WRITE_LBA), PRP-list transfers,
// the synchronous polled path, MSI-X and INTx interrupt-driven completion,
// NVMe errors decoded (LBA out of range; a bad queue id through a raw admin
// command) and a clean shutdown that leaves no DMA buffer behind.
//
// The tests share one guest, so one disk: each writes blocks no other test
// reads as the host wrote them (test 1: 2000-2127 and 3000-3007; test 2:
// 6300-6427; test 3: 6200-6263; the host-checked write: DRIVER_WRITE_LBA,
// 3200-3263), whatever order they run in. Blocks read as the host wrote them:
// 0-35, 100-123, 1000-1127, 1999, 2128, 3199, 3264, 4096-6143, 7000-8023,
// 8189-8191.

import assert from 'node:assert/strict';
import type { Device } from '../../src/client/device.js';
import { ADMIN, CC, CSTS, NvmeDriver, NvmeError, REG, type NvmeNamespace } from '../../src/drivers/nvme/index.js';
import { openKernelDevice } from './vfio-api.js';
import {
  DISK_BLOCK_SIZE,
  DISK_BLOCKS,
  diskBlock,
  DRIVER_WRITE_BLOCKS,
  DRIVER_WRITE_LBA,
  driverWritePattern,
  NVME_SERIAL,
} from '../../vm/disk.js';
import { guestTest, NVME } from './helpers.js';

function expectBlocks(got: Uint8Array, lba: number, what: string): void {
  for (let i = 0; i < got.length / DISK_BLOCK_SIZE; i++) {
    const block = got.subarray(i * DISK_BLOCK_SIZE, (i + 1) * DISK_BLOCK_SIZE);
    assert.ok(Buffer.from(block).equals(diskBlock(lba + i)), `${what}: block ${lba + i} as the host wrote it`);
  }
}

function pattern(bytes: number, seed: number): Uint8Array {
  const b = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

async function withController(
  options: Parameters<typeof NvmeDriver.open>[1],
  fn: (c: NvmeDriver, ns: NvmeNamespace, dev: Device) => Promise<void>,
): Promise<void> {
  const dev = openKernelDevice(NVME);
  try {
    const c = await NvmeDriver.open(dev, options);
    try {
      await fn(c, await c.namespace(1), dev);
    } finally {
      await c.shutdown().catch(() => c.abort());
    }
    assert.equal(dev.dma.buffers.length, 0, 'every DMA buffer of the driver freed at shutdown');
  } finally {
    dev.close();
  }
}

guestTest('nvme driver: bring-up, Identify, read the host-written blocks, write and read back, PRP lists (polled)', {}, async (t) => {
  await withController({ interrupts: 'none' }, async (c, ns, dev) => {
    assert.equal(dev.bar(0).read32(REG.CSTS) & CSTS.RDY, 1, 'controller ready');
    assert.equal(c.interruptKind, null, 'polled');
    const id = c.identity;
    assert.equal(id.vendorId, 0x1b36, 'VID');
    assert.equal(id.serial, NVME_SERIAL, 'SN');
    assert.equal(id.model, 'QEMU NVMe Ctrl', 'MN');
    assert.ok(id.namespaces >= 1, 'NN');
    t.diagnostic(
      `NVMe ${c.version}, FR ${id.firmware}, MDTS ${id.mdts} (${c.maxTransferBytes} bytes), NN ${id.namespaces}, MQES+1 ${c.cap.maxQueueEntries}, ` +
        `TO ${c.cap.timeoutMs} ms, doorbell stride ${c.cap.doorbellStride}, queues granted ${c.grantedQueues.sq}/${c.grantedQueues.cq}, BAR0 mapped ${dev.bar(0).mapped}`,
    );
    assert.ok(dev.bar(0).mapped, 'BAR0 is mapped: doorbells are plain stores');
    assert.equal(ns.blocks, DISK_BLOCKS, 'NSZE');
    assert.equal(ns.blockSize, DISK_BLOCK_SIZE, 'FLBAS -> 512-byte blocks');

    // Blocks the host wrote into the image.
    expectBlocks(await ns.read(0, 8), 0, 'first 8 blocks');
    expectBlocks(await ns.read(DISK_BLOCKS - 3, 3), DISK_BLOCKS - 3, 'last 3 blocks');
    // 64 KiB: PRP1 + a PRP list of 15 entries
    expectBlocks(await ns.read(1000, 128), 1000, '64 KiB read through a PRP list');
    // 1 MiB: split into slot-sized commands in flight together
    expectBlocks(await ns.read(4096, 2048), 4096, '1 MiB read as several commands');

    // Write then read back (snapshot=on: the host's image never sees these writes).
    const data = pattern(64 * 1024, 7);
    await ns.write(2000, data);
    assert.deepEqual(await ns.read(2000, 128), data, '64 KiB written then read back');
    expectBlocks(await ns.read(1999, 1), 1999, 'the block before is untouched');
    expectBlocks(await ns.read(2128, 1), 2128, 'the block after is untouched');
    await ns.flush();

    // Zero copy from/to caller DMA memory at an offset: PRP1 with an offset + a list.
    const buf = dev.allocDma(128 * 1024, { name: 'nvme-test-user' });
    try {
      await ns.readDma(1000, 128, buf, 512);
      expectBlocks(buf.bytes.subarray(512, 512 + 64 * 1024), 1000, 'readDma at offset 512');
      buf.bytes.set(pattern(8 * 512, 99), 4096 + 8);
      await ns.writeDma(3000, 8, buf, 4096 + 8);
      assert.deepEqual(await ns.read(3000, 8), pattern(8 * 512, 99), 'writeDma at an unaligned offset');
    } finally {
      buf.free();
    }

    if (id.supportsWriteZeroes) {
      await ns.writeZeroes(2000, 16);
      assert.ok(
        (await ns.read(2000, 16)).every((b) => b === 0),
        'Write Zeroes',
      );
    } else t.diagnostic('Write Zeroes not supported (ONCS)');
    if (id.supportsDsm) {
      await ns.deallocate([
        { lba: 2016, blocks: 8 },
        { lba: 2100, blocks: 4 },
      ]);
    } else t.diagnostic('Dataset Management not supported (ONCS)');
  });
});

guestTest(
  'nvme driver: write driverWritePattern() at DRIVER_WRITE_LBA, flush, read back (the host checks the disk image afterwards)',
  {},
  async () => {
    await withController({ interrupts: 'none' }, async (_c, ns) => {
      const data = driverWritePattern();
      assert.equal(data.length, DRIVER_WRITE_BLOCKS * DISK_BLOCK_SIZE);
      expectBlocks(await ns.read(DRIVER_WRITE_LBA - 1, 1), DRIVER_WRITE_LBA - 1, 'the block before, as the host wrote it');
      await ns.write(DRIVER_WRITE_LBA, data);
      await ns.flush();
      assert.deepEqual(await ns.read(DRIVER_WRITE_LBA, DRIVER_WRITE_BLOCKS), data, 'the pattern read back');
      expectBlocks(await ns.read(DRIVER_WRITE_LBA - 1, 1), DRIVER_WRITE_LBA - 1, 'the block before is untouched');
      expectBlocks(
        await ns.read(DRIVER_WRITE_LBA + DRIVER_WRITE_BLOCKS, 1),
        DRIVER_WRITE_LBA + DRIVER_WRITE_BLOCKS,
        'the block after is untouched',
      );
    });
    // withController shut the controller down (CC.SHN): QEMU has the data by now.
  },
);

guestTest('nvme driver: synchronous polled path, QD32 4 KiB reads and writes with one doorbell per batch', {}, async (t) => {
  await withController({ interrupts: 'none', ioQueueDepth: 64, ioSlots: 32 }, async (_c, ns) => {
    const io = ns.polled();
    let ok = 0;
    let bad = 0;
    const slotLba = new Int32Array(64).fill(-1);
    io.onComplete = (slot, status) => {
      if (status !== 0) bad++;
      else {
        const lba = slotLba[slot]!;
        const b = io.buffer(slot);
        if (Buffer.from(b.subarray(0, 512)).equals(diskBlock(lba))) ok++;
        else bad++;
      }
    };
    const total = 256;
    let submitted = 0;
    const t0 = process.hrtime.bigint();
    while (ok + bad < total) {
      while (submitted < total) {
        const lba = 7000 + ((submitted * 8) % 1024); // blocks no test here writes
        const slot = io.submitRead(lba, 8, false);
        if (slot < 0) break;
        slotLba[slot] = lba;
        submitted++;
      }
      io.ring();
      io.poll();
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    t.diagnostic(`${total} polled 4 KiB reads at QD32 in ${ms.toFixed(1)} ms (${Math.round((total / ms) * 1000)} IOPS under TCG)`);
    assert.equal(bad, 0);
    assert.equal(ok, total, 'every read completed with the host-written data');
    assert.equal(io.outstanding, 0);

    // Writes through slot buffers, then read back.
    const src = pattern(4096, 3);
    for (let i = 0; i < 16; i++) assert.ok(io.submitWrite(6300 + i * 8, 8, src, false) >= 0);
    io.ring();
    const d0 = performance.now();
    const left = io.drain(10_000);
    assert.equal(
      left,
      0,
      `all writes completed (${left} outstanding after ${(performance.now() - d0).toFixed(0)} ms, SQ head ${io.queue.sq.head}, tail ${io.queue.sq.tail}, CQ head ${io.queue.cq.head})`,
    );
    for (let i = 0; i < 16; i++) assert.deepEqual(await ns.read(6300 + i * 8, 8), src, `write ${i} read back`);
  });
});

guestTest('nvme driver: MSI-X interrupt-driven completion, a vector per completion queue', {}, async (t) => {
  await withController({ interrupts: 'msix', ioQueues: 2 }, async (c, ns, dev) => {
    assert.equal(c.interruptKind, 'msix');
    assert.equal(c.ioQueues.length, 2);
    assert.deepEqual(
      c.ioQueues.map((q) => [q.vector, q.mode]),
      [
        [1, 'interrupt'],
        [2, 'interrupt'],
      ],
    );
    const perVector = new Map<number, number>();
    dev.on('interrupt', (ev) => perVector.set(ev.vector, (perVector.get(ev.vector) ?? 0) + ev.count));
    expectBlocks(await ns.read(10, 16), 10, 'read on queue 1');
    expectBlocks(await ns.read(20, 16, c.ioQueues[1]), 20, 'read on queue 2');
    const data = pattern(32 * 1024, 42);
    await ns.write(6200, data, {}, c.ioQueues[1]);
    assert.deepEqual(await ns.read(6200, 64), data);
    await c.admin.identifyController(); // the admin CQ interrupts on vector 0
    t.diagnostic(`interrupts per vector: ${JSON.stringify([...perVector])}`);
    assert.ok((perVector.get(1) ?? 0) >= 1, 'queue 1 completions interrupted on vector 1');
    assert.ok((perVector.get(2) ?? 0) >= 1, 'queue 2 completions interrupted on vector 2');
    assert.ok((perVector.get(0) ?? 0) >= 1, 'admin completions interrupted on vector 0');
  });
});

guestTest('nvme driver: INTx fallback when asked (one shared line, unmasked after each interrupt)', {}, async () => {
  await withController({ interrupts: 'intx' }, async (c, ns) => {
    assert.equal(c.interruptKind, 'intx');
    assert.equal(c.ioQueues[0]!.vector, 0);
    for (let i = 0; i < 3; i++) expectBlocks(await ns.read(100 + i * 8, 8), 100 + i * 8, `INTx read ${i}`);
  });
});

guestTest('nvme driver: NVMe errors as typed errors (LBA out of range, bad queue ids), and clean shutdown', {}, async () => {
  const dev = openKernelDevice(NVME);
  try {
    const c = await NvmeDriver.open(dev, {});
    const ns = await c.namespace(1);
    await assert.rejects(ns.read(DISK_BLOCKS, 1), (err: unknown) => {
      assert.ok(err instanceof NvmeError, String(err));
      assert.equal(err.code, 'NVME_LBA_OUT_OF_RANGE');
      assert.equal(err.sct, 0);
      assert.equal(err.sc, 0x80);
      assert.match(err.message, /Read failed on queue 1: LBA Out of Range/);
      return true;
    });
    await assert.rejects(
      ns.write(DISK_BLOCKS - 1, new Uint8Array(1024)),
      { code: 'NVME_LBA_OUT_OF_RANGE' },
      'a write running past the end',
    );
    expectBlocks(await ns.read(0, 1), 0, 'the queue still works after errors');
    // Raw admin commands naming queues that do not exist.
    await assert.rejects(c.admin.raw({ opcode: ADMIN.DELETE_IO_SQ, cdw10: 0x999 }), (err: unknown) => {
      assert.ok(err instanceof NvmeError);
      assert.equal(err.code, 'NVME_INVALID_QUEUE_ID');
      assert.equal(err.sct, 1);
      assert.equal(err.sc, 1);
      assert.equal(err.qid, 0);
      return true;
    });
    // The spec says Invalid Queue Identifier; QEMU 7.2 answers Completion Queue Invalid for a bad CQ id.
    await assert.rejects(
      c.admin.deleteIoCq(0),
      (err: unknown) => {
        assert.ok(err instanceof NvmeError);
        assert.ok(['NVME_INVALID_QUEUE_ID', 'NVME_INVALID_CQ'].includes(err.code), err.message);
        assert.equal(err.sct, 1);
        return true;
      },
      'the admin CQ cannot be deleted',
    );
    const sq = dev.allocDma(4096);
    await assert.rejects(c.admin.createIoSq(5, 16, sq.iova, 9), { code: 'NVME_INVALID_CQ' }, 'an SQ for a CQ that does not exist');
    sq.free();
    await assert.rejects(c.admin.raw({ opcode: 0x7f }), { code: 'NVME_INVALID_OPCODE' });

    await c.shutdown();
    const bar = dev.bar(0);
    assert.equal(bar.read32(REG.CC) & CC.EN, 0, 'disabled after shutdown');
    assert.equal(bar.read32(REG.CSTS) & CSTS.RDY, 0, 'not ready after shutdown');
    assert.equal(c.ioQueues.length, 0);
    assert.equal(dev.dma.buffers.length, 0, 'queues freed');
    await assert.rejects(c.namespace(1), { code: 'NVME_CLOSED' });
    // And it comes up again on the same device.
    const again = await NvmeDriver.open(dev, {});
    expectBlocks(await (await again.namespace(1)).read(7, 1), 7, 'after a second bring-up');
    await again.shutdown();
  } finally {
    dev.close();
  }
});
