// QEMU's NVMe controller driven through the kernel backend, as the
// unprivileged user: the controller is enabled (CC/CSTS handshake) with its
// admin queues in DMA buffers, and Identify Controller / Identify Namespace
// are answered by DMA into a third buffer; then a function-level reset
// (VFIO_DEVICE_RESET: QEMU's nvme has FLR) disables the controller but keeps
// the BAR programming, and interrupts can be enabled afresh after it.

import assert from 'node:assert/strict';
import type { Device } from '../../src/client/device.js';
import type { DmaBuffer } from '../../src/client/dma.js';
import type { Region } from '../../src/client/region.js';
import { openKernelDevice } from './vfio-api.js';
import { DISK_BLOCKS, NVME_SERIAL } from '../../vm/disk.js';
import { GUEST_DEVICES } from '../../vm/qemu.js';
import { guestTest, NVME, until } from './helpers.js';

const CAP = 0x00;
const VS = 0x08;
const CC = 0x14;
const CSTS = 0x1c;
const AQA = 0x24;
const ASQ = 0x28;
const ACQ = 0x30;
const DOORBELLS = 0x1000;
const PCI_COMMAND = 0x04;
const PCI_BAR0 = 0x10;
const PCI_BAR1 = 0x14;
const QUEUE_ENTRIES = 16;

class AdminQueue {
  readonly sq: DmaBuffer;
  readonly cq: DmaBuffer;
  readonly data: DmaBuffer;
  #tail = 0;
  #head = 0;
  #phase = 1;
  #cid = 0;
  readonly #bar: Region;
  readonly #stride: number;

  constructor(dev: Device, bar: Region, dstrd: number) {
    this.#bar = bar;
    this.#stride = 4 << dstrd;
    this.sq = dev.allocDma(QUEUE_ENTRIES * 64, { name: 'nvme-asq' });
    this.cq = dev.allocDma(QUEUE_ENTRIES * 16, { name: 'nvme-acq' });
    this.data = dev.allocDma(4096, { name: 'nvme-identify' });
  }

  /** Submits an admin command and polls its completion; returns the status field. */
  async submit(opcode: number, nsid: number, cdw10: number): Promise<number> {
    const cid = ++this.#cid;
    const e = this.#tail * 64;
    const v = this.sq.view;
    this.sq.bytes.fill(0, e, e + 64);
    v.setUint32(e, opcode | (cid << 16), true);
    v.setUint32(e + 4, nsid, true);
    v.setBigUint64(e + 24, this.data.iova, true); // PRP1: one page, so no PRP2
    v.setUint32(e + 40, cdw10, true);
    this.#tail = (this.#tail + 1) % QUEUE_ENTRIES;
    this.#bar.write32(DOORBELLS, this.#tail);
    const c = this.#head * 16;
    const cq = this.cq.view;
    await until(`completion of admin command 0x${opcode.toString(16)}`, () => ((cq.getUint32(c + 12, true) >>> 16) & 1) === this.#phase);
    const dw3 = cq.getUint32(c + 12, true);
    assert.equal(dw3 & 0xffff, cid, 'completion for our command');
    this.#head = (this.#head + 1) % QUEUE_ENTRIES;
    if (this.#head === 0) this.#phase ^= 1;
    this.#bar.write32(DOORBELLS + this.#stride, this.#head);
    return dw3 >>> 17;
  }
}

/** Disables, sets up the admin queues, enables; returns the queue. */
async function enableController(dev: Device): Promise<{ bar: Region; queue: AdminQueue; cap: bigint }> {
  const cmd = dev.config.read16(PCI_COMMAND);
  dev.config.write16(PCI_COMMAND, cmd | 0x6); // memory + bus master
  const bar = dev.bar(0);
  const cap = BigInt(bar.read32(CAP)) | (BigInt(bar.read32(CAP + 4)) << 32n);
  const timeoutMs = Math.max(Number((cap >> 24n) & 0xffn) * 500, 2000);
  const dstrd = Number((cap >> 32n) & 0xfn);
  const mqes = Number(cap & 0xffffn) + 1;
  assert.ok(mqes >= QUEUE_ENTRIES, `queues of ${QUEUE_ENTRIES} entries allowed (MQES+1 = ${mqes})`);
  if (bar.read32(CC) & 1) bar.write32(CC, 0);
  await until('CSTS.RDY = 0', () => (bar.read32(CSTS) & 1) === 0, timeoutMs);
  const queue = new AdminQueue(dev, bar, dstrd);
  bar.write32(AQA, ((QUEUE_ENTRIES - 1) << 16) | (QUEUE_ENTRIES - 1));
  for (const [reg, buf] of [
    [ASQ, queue.sq],
    [ACQ, queue.cq],
  ] as const) {
    bar.write32(reg, Number(buf.iova & 0xffffffffn));
    bar.write32(reg + 4, Number(buf.iova >> 32n));
  }
  // EN, NVM command set, 4 KiB pages, round robin, 64-byte SQ and 16-byte CQ entries.
  bar.write32(CC, 1 | (6 << 16) | (4 << 20));
  await until('CSTS.RDY = 1', () => (bar.read32(CSTS) & 1) === 1 || (bar.read32(CSTS) & 2) !== 0, timeoutMs);
  assert.equal(bar.read32(CSTS) & 2, 0, 'no controller fatal status');
  return { bar, queue, cap };
}

const ascii = (b: Uint8Array, off: number, len: number): string =>
  Buffer.from(b.subarray(off, off + len))
    .toString('latin1')
    .trimEnd();

guestTest('nvme: enable the controller (admin queues in DMA buffers) and Identify it', {}, async (t) => {
  const dev = openKernelDevice(NVME);
  try {
    const { bar, queue } = await enableController(dev);
    const vs = bar.read32(VS);
    t.diagnostic(`NVMe version ${vs >>> 16}.${(vs >>> 8) & 0xff}.${vs & 0xff}`);

    assert.equal(await queue.submit(0x06, 0, 1), 0, 'Identify Controller succeeds');
    const id = queue.data.bytes;
    const view = queue.data.view;
    assert.equal(view.getUint16(0, true), GUEST_DEVICES.nvme.vendor, 'PCI vendor id (VID)');
    assert.equal(ascii(id, 4, 20), NVME_SERIAL, 'serial number (SN)');
    assert.equal(ascii(id, 24, 40), 'QEMU NVMe Ctrl', 'model number (MN)');
    t.diagnostic(`firmware ${ascii(id, 64, 8)}, up to ${view.getUint32(516, true)} namespaces`);

    queue.data.bytes.fill(0);
    assert.equal(await queue.submit(0x06, 1, 0), 0, 'Identify Namespace 1 succeeds');
    assert.equal(view.getBigUint64(0, true), BigInt(DISK_BLOCKS), 'namespace size (NSZE) in blocks');
    const lbaf = view.getUint32(128 + 4 * (id[26]! & 0xf), true);
    assert.equal((lbaf >>> 16) & 0xff, 9, '512-byte blocks');

    bar.write32(CC, 0);
    await until('CSTS.RDY = 0 after disabling', () => (bar.read32(CSTS) & 1) === 0);
  } finally {
    dev.close();
  }
});

guestTest('nvme: function-level reset keeps the BAR programming, disables the controller and the interrupts', {}, async () => {
  const dev = openKernelDevice(NVME);
  try {
    assert.equal(dev.info.reset, true, 'nvme offers a reset (FLR)');
    const { bar, cap } = await enableController(dev);
    assert.equal(bar.read32(CSTS) & 1, 1, 'controller running before the reset');
    const bar0 = dev.config.read32(PCI_BAR0);
    const bar1 = dev.config.read32(PCI_BAR1);
    dev.enableInterrupts('msix', 1);

    dev.reset();

    assert.equal(dev.config.read32(PCI_BAR0), bar0, 'BAR0 unchanged by the reset');
    assert.equal(dev.config.read32(PCI_BAR1), bar1, 'BAR1 (upper half of the 64-bit BAR0) unchanged');
    assert.equal(dev.interruptMode, null, 'interrupts are off after a reset');
    dev.config.write16(PCI_COMMAND, dev.config.read16(PCI_COMMAND) | 0x2);
    assert.equal(BigInt(bar.read32(CAP)) | (BigInt(bar.read32(CAP + 4)) << 32n), cap, 'the same BAR mapping still reaches the registers');
    assert.equal(bar.read32(CC) & 1, 0, 'CC.EN cleared by the reset');
    assert.equal(bar.read32(CSTS) & 1, 0, 'CSTS.RDY cleared by the reset');
    // Another interrupt mode can be enabled: MSI-X was really disabled, not just forgotten.
    dev.enableInterrupts('intx');
    dev.disableInterrupts();
  } finally {
    dev.close();
  }
});
