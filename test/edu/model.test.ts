// The edu model (src/devices/edu.ts) on its own, in process: a VirtualDevice
// built from it, driven with the framework's region accesses (what the
// server does for REGION_READ/REGION_WRITE), a DmaSpace standing for a
// client's maps, eventfds for its interrupts. Register semantics, QEMU's
// answers to bad accesses, DMA failures reported without a crash, the 28-bit
// mask, interrupts, reset.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import {
  EDU_BUFFER_ADDR,
  EDU_IRQ_DMA,
  EDU_DMA_RUN,
  EDU_DMA_TO_RAM,
  EDU_DMA_WITH_IRQ,
  EDU_IRQ_FACTORIAL,
  EDU_ID_VALUE,
  EDU_STATUS_COMPUTING,
  EDU_STATUS_IRQFACT,
  EduModel,
  EduReg,
  eduFactorial,
  type EduOptions,
} from '../../src/devices/edu.js';
import { VirtualDevice } from '../../src/server/device.js';
import { DmaSpace, type DmaTransport } from '../../src/server/dma-space.js';
import type { ServerWarning } from '../../src/server/errors.js';
import type { SetIrqsRequest } from '../../src/protocol/index.js';
import { dupFd, EventFd, MemFd, type Mapping } from '../../src/sys/index.js';

const PAGE = 4096;
const COMMAND = 0x04;

interface Rig {
  model: EduModel;
  dev: VirtualDevice;
  space: DmaSpace;
  warnings: ServerWarning[];
  /** Maps `size` bytes at `iova` (with a descriptor); returns the memory. */
  map(iova: bigint, size: number, access?: { read?: boolean; write?: boolean }): Uint8Array;
  r32(off: number): number;
  w32(off: number, v: number): void;
  r64(off: number): bigint;
  w64(off: number, v: bigint): void;
  read(off: number, len: number): Uint8Array;
  write(off: number, bytes: number[]): void;
  /** Enables INTx or MSI with a fresh eventfd. */
  irq(kind: 'intx' | 'msi'): EventFd;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function rig(options: EduOptions = { completion: 'sync' }, command = 0x6): Rig {
  const model = new EduModel(options);
  const dev = new VirtualDevice(model);
  const warnings: ServerWarning[] = [];
  dev.on('warning', (w) => warnings.push(w));
  const space = new DmaSpace({ maxMaps: 64, maxBytes: 1n << 40n, pageSize: PAGE });
  const transport: DmaTransport = {
    dmaRead: () => Promise.reject(new Error('no fd-less maps here')),
    dmaWrite: () => Promise.reject(new Error('no fd-less maps here')),
  };
  dev.attachOwner({ id: 1, pid: process.pid, uid: 0, gid: 0 }, space, transport);
  const mems: { fd: MemFd; m: Mapping }[] = [];
  const efds: EventFd[] = [];
  cleanups.push(() => {
    dev.close();
    space.close();
    for (const { fd, m } of mems) {
      m.unmap();
      fd.close();
    }
    for (const e of efds) e.close();
  });
  const cmd = new Uint8Array([command & 0xff, command >> 8]);
  dev.regionWrite(7, BigInt(COMMAND), cmd);
  const buf = (n: number): Uint8Array => new Uint8Array(n);
  return {
    model,
    dev,
    space,
    warnings,
    map(iova, size, access = {}) {
      const fd = MemFd.create('edu-test', size);
      const m = fd.map(0, size);
      mems.push({ fd, m });
      space.map({ iova, size: BigInt(size), readable: access.read ?? true, writable: access.write ?? true, fd: fd.fd });
      return new Uint8Array(m.buffer);
    },
    r32(off) {
      const b = buf(4);
      dev.regionRead(0, BigInt(off), b);
      return new DataView(b.buffer).getUint32(0, true);
    },
    w32(off, v) {
      const b = buf(4);
      new DataView(b.buffer).setUint32(0, v >>> 0, true);
      dev.regionWrite(0, BigInt(off), b);
    },
    r64(off) {
      const b = buf(8);
      dev.regionRead(0, BigInt(off), b);
      return new DataView(b.buffer).getBigUint64(0, true);
    },
    w64(off, v) {
      const b = buf(8);
      new DataView(b.buffer).setBigUint64(0, v, true);
      dev.regionWrite(0, BigInt(off), b);
    },
    read(off, len) {
      const b = buf(len);
      dev.regionRead(0, BigInt(off), b);
      return b;
    },
    write(off, bytes) {
      dev.regionWrite(0, BigInt(off), new Uint8Array(bytes));
    },
    irq(kind) {
      const e = EventFd.create();
      efds.push(e);
      const req: SetIrqsRequest = {
        argsz: 24,
        flags: 0,
        data: 'eventfd',
        action: 'trigger',
        index: kind === 'intx' ? 0 : 1,
        start: 0,
        count: 1,
        bools: undefined,
        eventfds: [e.fd],
      };
      // setIrqs takes ownership of the descriptors it is given: hand it a duplicate of ours.
      dev.irq.setIrqs(req, [dupFd(e.fd)]);
      return e;
    },
  };
}

test('config space: QEMU edu IDs, class, pin, BAR0, MSI at 0x40 (64-bit, 1 vector)', () => {
  const { dev } = rig();
  const c = new Uint8Array(256);
  dev.regionRead(7, 0n, c);
  const v = new DataView(c.buffer);
  assert.equal(v.getUint16(0, true), 0x1234);
  assert.equal(v.getUint16(2, true), 0x11e8);
  assert.equal(c[8], 0x10, 'revision');
  assert.deepEqual([c[9], c[10], c[11]], [0x00, 0xff, 0x00], 'class 0x00ff');
  assert.equal(v.getUint16(0x2c, true), 0x1af4);
  assert.equal(v.getUint16(0x2e, true), 0x1100);
  assert.equal(c[0x3d], 1, 'INTx pin A');
  assert.equal(c[0x34], 0x40, 'capabilities at 0x40');
  assert.equal(c[0x40], 0x05, 'MSI');
  assert.equal(v.getUint16(0x42, true) & 0x8e, 0x80, 'MSI: 64-bit, 1 vector, no per-vector mask');
  assert.equal(dev.regionSize(0), 1 << 20);
  assert.equal(dev.regionSize(1), 0);
  assert.equal(dev.irq.count(0), 1);
  assert.equal(dev.irq.count(1), 1);
  assert.equal(dev.irq.count(2), 0);
});

test('identification, liveness (power-on 0, then ~value), unknown registers read all ones', () => {
  const r = rig();
  assert.equal(r.r32(EduReg.ID), EDU_ID_VALUE);
  assert.equal(r.r32(EduReg.LIVENESS), 0);
  r.w32(EduReg.LIVENESS, 0x12345678);
  assert.equal(r.r32(EduReg.LIVENESS), 0xedcba987);
  r.w32(EduReg.ID, 0);
  assert.equal(r.r32(EduReg.ID), EDU_ID_VALUE, 'read-only');
  for (const off of [0x0c, 0x10, 0x28, 0x84, 0x8c, 0x9c, 0xa0, 0x1000, 0xffffc])
    assert.equal(r.r32(off), 0xffffffff, `0x${off.toString(16)}`);
  assert.equal(r.r32(EDU_BUFFER_ADDR), 0xffffffff, 'the DMA buffer is not visible in BAR0');
});

test('factorial: polled status, result mod 2^32, writes ignored while computing', async () => {
  for (const n of [0, 1, 2, 10, 12, 13, 20, 33, 34, 1000, 0xffffffff]) {
    let want = 1n;
    for (let i = 2n; i <= BigInt(Math.min(n, 40)); i++) want = (want * i) % (1n << 32n);
    assert.equal(eduFactorial(n), Number(want), `${n}!`);
  }
  const r = rig({ completion: 'immediate' });
  r.w32(EduReg.FACTORIAL, 10);
  assert.equal(r.r32(EduReg.STATUS) & EDU_STATUS_COMPUTING, EDU_STATUS_COMPUTING, 'busy until the next turn of the loop');
  r.w32(EduReg.FACTORIAL, 3);
  await tick();
  assert.equal(r.r32(EduReg.STATUS), 0);
  assert.equal(r.r32(EduReg.FACTORIAL), 3628800, 'the second write was ignored');
  const slow = rig({ completion: 20 });
  slow.w32(EduReg.FACTORIAL, 5);
  await tick();
  assert.equal(slow.r32(EduReg.STATUS) & EDU_STATUS_COMPUTING, EDU_STATUS_COMPUTING, 'a delayed completion is seen busy');
  await new Promise((res) => setTimeout(res, 40));
  assert.equal(slow.r32(EduReg.FACTORIAL), 120);
});

test('status: only bit 0x80 is writable', () => {
  const r = rig();
  r.w32(EduReg.STATUS, 0xffffffff);
  assert.equal(r.r32(EduReg.STATUS), EDU_STATUS_IRQFACT);
  r.w32(EduReg.STATUS, 0x7f);
  assert.equal(r.r32(EduReg.STATUS), 0);
});

test('bad accesses answered as QEMU: cut into aligned pieces; 1/2-byte pieces read 0 and are dropped; 8 bytes below 0x80 read all ones', () => {
  const r = rig();
  r.w32(EduReg.LIVENESS, 0);
  assert.deepEqual([...r.read(EduReg.ID, 1)], [0], '1 byte');
  assert.deepEqual([...r.read(EduReg.ID, 2)], [0, 0], '2 bytes');
  assert.deepEqual([...r.read(0x02, 4)], [0, 0, 0, 0], 'unaligned 4 bytes at 0x02: two 2-byte pieces, invalid');
  r.write(EduReg.LIVENESS, [0x11]);
  r.write(EduReg.LIVENESS, [0x11, 0x22]);
  assert.equal(r.r32(EduReg.LIVENESS), 0xffffffff, 'narrow writes dropped');
  assert.equal(r.r64(0x00), 0xffffffffffffffffn, '8-byte read below 0x80');
  r.w64(0x00, 0n);
  r.w64(0x08, 5n);
  assert.equal(r.r32(EduReg.STATUS), 0, '8-byte write below 0x80 dropped: no factorial started');
  // An unaligned 8-byte read at 0x04 is a 4-byte read of 0x04 and one of 0x08
  // (QEMU's TCG cuts it so); at 0x02 it is 2 + 4 + 2 bytes, the 2s invalid.
  r.w32(EduReg.FACTORIAL, 3);
  assert.equal(r.model.mmioRead(0x04, 8), (6n << 32n) | 0xffffffffn);
  assert.equal(r.model.mmioRead(0x02, 8), 0xffffffffn << 16n);
  assert.equal(r.model.mmioRead(0x0c, 8), 0xffffffffffffffffn, '0x0c and 0x10: no registers');
  r.model.mmioWrite(0x04, 8, 0x0000000700000000n);
  assert.equal(r.r32(EduReg.LIVENESS), 0xffffffff, 'its first half written the liveness register');
  assert.equal(r.r32(EduReg.FACTORIAL), 5040, 'and its second half started 7!');
  // Unaligned 4-byte access at 0x81 is cut into 1+2+1: all invalid.
  r.w64(EduReg.DMA_SRC, 0x1122334455667788n);
  assert.deepEqual([...r.read(0x81, 4)], [0, 0, 0, 0]);
  // A 16-byte read is two 8-byte registers.
  r.w64(EduReg.DMA_DST, 0xaabbn);
  const both = new DataView(r.read(EduReg.DMA_SRC, 16).buffer);
  assert.equal(both.getBigUint64(0, true), 0x1122334455667788n);
  assert.equal(both.getBigUint64(8, true), 0xaabbn);
  // A 12-byte write at 0x04: 4 + 8 (the 8 at 0x08 is dropped: below 0x80).
  r.write(0x04, [1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(r.r32(EduReg.LIVENESS), 0xfffffffe);
  assert.equal(r.r32(EduReg.STATUS), 0);
});

test('DMA registers: 64-bit, a 4-byte write replaces the whole register, 0x84 is no register', () => {
  const r = rig();
  r.w64(EduReg.DMA_SRC, 0x123456789abcdef0n);
  assert.equal(r.r64(EduReg.DMA_SRC), 0x123456789abcdef0n);
  assert.equal(r.r32(EduReg.DMA_SRC), 0x9abcdef0, '4-byte read: the low half');
  assert.equal(r.r32(EduReg.DMA_SRC + 4), 0xffffffff, '0x84 is not a register');
  r.w32(EduReg.DMA_SRC + 4, 0x1111);
  assert.equal(r.r64(EduReg.DMA_SRC), 0x123456789abcdef0n, 'writes at 0x84 are ignored');
  r.w32(EduReg.DMA_SRC, 0x1000);
  assert.equal(r.r64(EduReg.DMA_SRC), 0x1000n, 'zero-extended');
  r.w32(EduReg.DMA_CMD, EDU_DMA_TO_RAM);
  assert.equal(r.r64(EduReg.DMA_CMD), 0n, 'a command without the start bit is ignored');
});

async function settle(m: EduModel): Promise<void> {
  await tick();
  await m.idle();
}

test("DMA: RAM -> edu -> RAM through the client's maps, 0x100 raised when asked", async () => {
  const r = rig({ completion: 'immediate' });
  const ram = r.map(0x10000n, 2 * PAGE);
  for (let i = 0; i < PAGE; i++) ram[i] = (i * 7 + 3) & 0xff;
  r.w64(EduReg.DMA_SRC, 0x10000n);
  r.w64(EduReg.DMA_DST, BigInt(EDU_BUFFER_ADDR));
  r.w64(EduReg.DMA_COUNT, 4096n); // the whole buffer: ending at its end is fine (QEMU 7.2 refused it)
  r.w64(EduReg.DMA_CMD, BigInt(EDU_DMA_RUN));
  assert.equal(r.r64(EduReg.DMA_CMD) & 1n, 1n, 'running');
  r.w64(EduReg.DMA_SRC, 0x9999000n);
  assert.equal(r.r64(EduReg.DMA_SRC), 0x10000n, 'DMA registers are frozen while running');
  await settle(r.model);
  assert.equal(r.r64(EduReg.DMA_CMD), 1n ^ 1n);
  assert.deepEqual(Buffer.from(r.model.buffer), Buffer.from(ram.subarray(0, PAGE)));
  r.w64(EduReg.DMA_SRC, BigInt(EDU_BUFFER_ADDR + 16));
  r.w64(EduReg.DMA_DST, 0x10000n + BigInt(PAGE));
  r.w64(EduReg.DMA_COUNT, 100n);
  r.w64(EduReg.DMA_CMD, BigInt(EDU_DMA_RUN | EDU_DMA_TO_RAM | EDU_DMA_WITH_IRQ));
  await settle(r.model);
  assert.deepEqual(Buffer.from(ram.subarray(PAGE, PAGE + 100)), Buffer.from(ram.subarray(16, 116)));
  assert.equal(ram[PAGE + 100], 0);
  assert.equal(r.r32(EduReg.IRQ_STATUS), EDU_IRQ_DMA);
  assert.equal(r.model.lastDmaError, undefined);
  assert.equal(r.warnings.length, 0);
});

test("DMA outside the client's maps: nothing moves, a warning, the transfer completes, the device lives on", async () => {
  const r = rig();
  const ram = r.map(0x10000n, PAGE, { read: true, write: false });
  r.model.buffer.fill(0xab);
  // Unmapped IOVA.
  r.w64(EduReg.DMA_SRC, 0x500000n);
  r.w64(EduReg.DMA_DST, BigInt(EDU_BUFFER_ADDR));
  r.w64(EduReg.DMA_COUNT, 64n);
  r.w64(EduReg.DMA_CMD, BigInt(EDU_DMA_RUN | EDU_DMA_WITH_IRQ));
  await settle(r.model);
  assert.equal(r.model.lastDmaError?.kind, 'dma');
  assert.equal((r.model.lastDmaError?.error as { code?: string } | undefined)?.code, 'EFAULT');
  assert.ok(
    r.model.buffer.every((b) => b === 0xab),
    'the buffer is untouched',
  );
  assert.equal(r.r64(EduReg.DMA_CMD) & 1n, 0n, 'the start bit clears');
  assert.equal(r.r32(EduReg.IRQ_STATUS), EDU_IRQ_DMA, 'and the interrupt is raised, as QEMU does');
  assert.equal(r.warnings.at(-1)?.code, 'edu-dma-failed');
  // A map crossing into a gap; a write to a read-only map.
  r.w64(EduReg.DMA_SRC, 0x10000n + BigInt(PAGE - 8));
  r.w64(EduReg.DMA_CMD, 1n);
  await settle(r.model);
  assert.equal((r.model.lastDmaError?.error as { code?: string } | undefined)?.code, 'EFAULT');
  r.w64(EduReg.DMA_SRC, BigInt(EDU_BUFFER_ADDR));
  r.w64(EduReg.DMA_DST, 0x10000n);
  r.w64(EduReg.DMA_CMD, BigInt(EDU_DMA_RUN | EDU_DMA_TO_RAM));
  await settle(r.model);
  assert.equal((r.model.lastDmaError?.error as { code?: string } | undefined)?.code, 'EACCES');
  assert.ok(
    ram.every((b) => b === 0),
    'read-only memory untouched',
  );
  // Bus mastering off: the framework refuses.
  const off = rig({ completion: 'sync' }, 0x2);
  off.map(0x10000n, PAGE);
  off.w64(EduReg.DMA_SRC, 0x10000n);
  off.w64(EduReg.DMA_DST, BigInt(EDU_BUFFER_ADDR));
  off.w64(EduReg.DMA_COUNT, 8n);
  off.w64(EduReg.DMA_CMD, 1n);
  await settle(off.model);
  assert.equal((off.model.lastDmaError?.error as { code?: string } | undefined)?.code, 'EPERM');
  // A good transfer clears the error.
  r.w64(EduReg.DMA_SRC, 0x10000n);
  r.w64(EduReg.DMA_DST, BigInt(EDU_BUFFER_ADDR));
  r.w64(EduReg.DMA_CMD, 1n);
  await settle(r.model);
  assert.equal(r.model.lastDmaError, undefined);
  assert.equal(r.r32(EduReg.ID), EDU_ID_VALUE);
});

test('DMA: the edu side must stay inside the 4 KiB buffer at 0x40000', async () => {
  const r = rig();
  const ram = r.map(0x10000n, PAGE);
  ram.fill(0x5c);
  const cases: [bigint, bigint][] = [
    [BigInt(EDU_BUFFER_ADDR - 1), 8n],
    [BigInt(EDU_BUFFER_ADDR + 4090), 8n],
    [BigInt(EDU_BUFFER_ADDR), 4097n],
    [0n, 16n],
    [BigInt(EDU_BUFFER_ADDR), (1n << 64n) - 1n],
  ];
  for (const [edu, count] of cases) {
    r.w64(EduReg.DMA_SRC, 0x10000n);
    r.w64(EduReg.DMA_DST, edu);
    r.w64(EduReg.DMA_COUNT, count);
    r.w64(EduReg.DMA_CMD, 1n);
    await settle(r.model);
    assert.equal(r.model.lastDmaError?.kind, 'range', `0x${edu.toString(16)}+0x${count.toString(16)}`);
    assert.equal(r.warnings.at(-1)?.code, 'edu-dma-range');
  }
  assert.ok(
    r.model.buffer.every((b) => b === 0),
    'nothing was copied',
  );
  r.w64(EduReg.DMA_COUNT, 0n);
  r.w64(EduReg.DMA_DST, BigInt(EDU_BUFFER_ADDR + 4096));
  r.w64(EduReg.DMA_CMD, 1n);
  await settle(r.model);
  assert.equal(r.model.lastDmaError, undefined, 'an empty transfer at the end is in range');
});

test('DMA: the RAM address is clamped to the 28-bit mask, as QEMU does (with a warning)', async () => {
  const r = rig();
  const ram = r.map(0x10000n, PAGE);
  ram.fill(0x42);
  r.w64(EduReg.DMA_SRC, (1n << 28n) | (1n << 40n) | 0x10000n);
  r.w64(EduReg.DMA_DST, BigInt(EDU_BUFFER_ADDR));
  r.w64(EduReg.DMA_COUNT, 32n);
  r.w64(EduReg.DMA_CMD, 1n);
  await settle(r.model);
  assert.equal(r.model.lastDmaError, undefined);
  assert.ok(
    r.model.buffer.subarray(0, 32).every((b) => b === 0x42),
    'read from 0x10000',
  );
  const w = r.warnings.find((x) => x.code === 'edu-dma-clamped');
  assert.ok(w, 'clamping warned');
  assert.match(w.message, /0x10010010000 to 0x10000/);
  // A wider mask reaches the address as given (and fails there: unmapped).
  const wide = rig({ completion: 'sync', dmaMask: (1n << 64n) - 1n });
  wide.map(0x10000n, PAGE);
  wide.w64(EduReg.DMA_SRC, (1n << 28n) | 0x10000n);
  wide.w64(EduReg.DMA_DST, BigInt(EDU_BUFFER_ADDR));
  wide.w64(EduReg.DMA_COUNT, 32n);
  wide.w64(EduReg.DMA_CMD, 1n);
  await settle(wide.model);
  assert.equal(wide.model.lastDmaError?.kind, 'dma');
});

test('interrupts: INTx is a level held while the status is non-zero; MSI signals vector 0 per raise', async () => {
  const r = rig();
  assert.equal(r.dev.irq.intxAsserted, false);
  r.w32(EduReg.IRQ_RAISE, 0x3);
  assert.equal(r.dev.irq.intxAsserted, true, 'asserted (no mode enabled yet: the line still moves)');
  r.w32(EduReg.IRQ_ACK, 0x1);
  assert.equal(r.dev.irq.intxAsserted, true, 'still a bit set');
  r.w32(EduReg.IRQ_ACK, 0x2);
  assert.equal(r.dev.irq.intxAsserted, false);
  assert.equal(r.r32(EduReg.IRQ_STATUS), 0);

  const intx = r.irq('intx');
  r.w32(EduReg.IRQ_RAISE, 0x10);
  assert.equal(intx.read(0), 1, 'delivered');
  r.w32(EduReg.IRQ_RAISE, 0x20);
  assert.equal(intx.read(0), 0, 'no new edge while the line is high (and masked)');
  r.w32(EduReg.IRQ_ACK, 0x30);
  assert.equal(r.dev.irq.intxAsserted, false);
  r.dev.irq.setIrqs(
    { argsz: 20, flags: 0, data: 'none', action: 'unmask', index: 0, start: 0, count: 1, bools: undefined, eventfds: [] },
    [],
  );
  r.w32(EduReg.STATUS, EDU_STATUS_IRQFACT);
  r.w32(EduReg.FACTORIAL, 4);
  assert.equal(intx.read(0), 1, 'factorial completion by INTx');
  assert.equal(r.r32(EduReg.IRQ_STATUS), EDU_IRQ_FACTORIAL);
  r.w32(EduReg.IRQ_ACK, EDU_IRQ_FACTORIAL);
  r.dev.irq.setIrqs(
    { argsz: 20, flags: 0, data: 'none', action: 'trigger', index: 0, start: 0, count: 0, bools: undefined, eventfds: [] },
    [],
  );

  const msi = r.irq('msi');
  r.w32(EduReg.IRQ_RAISE, 0x1);
  r.w32(EduReg.IRQ_RAISE, 0x2);
  assert.equal(msi.read(0), 2, 'one message per raise');
  assert.equal(r.dev.irq.intxAsserted, false, 'INTx untouched in MSI mode');
  r.w32(EduReg.IRQ_ACK, 0x3);
  r.w32(EduReg.IRQ_RAISE, 0);
  assert.equal(msi.read(0), 0, 'raising nothing with status 0 sends nothing');
});

test('reset: registers, buffer and pending work back to power-on', async () => {
  const r = rig({ completion: 'immediate' });
  r.map(0x10000n, PAGE);
  r.w32(EduReg.LIVENESS, 1);
  r.w32(EduReg.STATUS, EDU_STATUS_IRQFACT);
  r.w32(EduReg.IRQ_RAISE, 0x8);
  r.model.buffer.fill(1);
  r.w32(EduReg.FACTORIAL, 5);
  await r.dev.functionReset();
  await tick();
  assert.equal(r.r32(EduReg.LIVENESS), 0);
  assert.equal(r.r32(EduReg.STATUS), 0, 'the computation was dropped');
  assert.equal(r.r32(EduReg.FACTORIAL), 0);
  assert.equal(r.r32(EduReg.IRQ_STATUS), 0);
  assert.equal(r.dev.irq.intxAsserted, false);
  assert.ok(r.model.buffer.every((b) => b === 0));
  // A transfer in flight when the reset comes is dropped too.
  r.w64(EduReg.DMA_SRC, 0x10000n);
  r.w64(EduReg.DMA_DST, BigInt(EDU_BUFFER_ADDR));
  r.w64(EduReg.DMA_COUNT, 8n);
  r.w64(EduReg.DMA_CMD, BigInt(EDU_DMA_RUN | EDU_DMA_WITH_IRQ));
  await r.dev.functionReset();
  await settle(r.model);
  assert.equal(r.model.dmaTransfers, 0);
  assert.equal(r.r32(EduReg.IRQ_STATUS), 0);
});
