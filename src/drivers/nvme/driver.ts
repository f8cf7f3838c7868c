// The NVMe driver: a controller brought up on the Driver API (NVMe 1.4
// §7.6.1 initialisation, §7.6.2 shutdown).
//
// Bring-up: enable memory decoding and bus mastering; read CAP (MQES, DSTRD,
// TO, MPSMIN/MPSMAX, CSS); disable the controller (CC.EN = 0, wait CSTS.RDY = 0
// within CAP.TO); put the admin queues in DMA buffers (AQA, ASQ, ACQ); enable
// (CC: EN, NVM command set, MPS, round robin, IOSQES 6, IOCQES 4) and wait
// CSTS.RDY = 1, failing on CSTS.CFS; bind interrupts (MSI-X vector per CQ,
// else MSI, else INTx, or none: polled); Identify Controller; Set Features
// Number of Queues; create the I/O queue pairs (CQ first, then its SQ).
// Shutdown: delete the I/O SQs then CQs, CC.SHN = normal and wait for
// CSTS.SHST = complete, disable, free the queues. The Device stays open: its
// owner closes it.

import { setTimeout as sleep } from 'node:timers/promises';
import { KIND_INDEX, type Device, type InterruptEvent, type InterruptKind } from '../../client/device.js';
import type { Region } from '../../client/region.js';
import { fail } from '../../errors.js';
import { CQES_LOG2, SQES_LOG2 } from '../../hw/nvme/entries.js';
import { AQA, CC, CSTS, decodeCap, decodeVersion, REG, type Capabilities } from '../../hw/nvme/regs.js';
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from '../../pci/regs.js';
import { hex } from '../../util/format.js';
import { AdminCommands } from './admin.js';
import { NvmeNamespace } from './block.js';
import type { ControllerIdentity } from './identify.js';
import { listPagesFor } from './prp.js';
import { QueuePair, type DmaMemoryLike } from './queue.js';
import { type NvmeControllerCode, NvmeControllerError } from './status.js';

/** Completion notification the driver asks for: polling, an interrupt kind, or the best the device offers. */
export type InterruptChoice = 'auto' | InterruptKind | 'none';

/** How `NvmeDriver.open` brings the controller up: interrupts, queues, timeouts. */
export interface NvmeDriverOptions {
  /** Completion notification: 'none' polls (default); 'auto' takes MSI-X, else MSI, else INTx. */
  interrupts?: InterruptChoice;
  /** I/O queue pairs to create (default 1). */
  ioQueues?: number;
  /** Entries per I/O queue (default 256, at most CAP.MQES + 1). */
  ioQueueDepth?: number;
  /** Command slots per I/O queue: the most commands outstanding (default min(depth - 1, 64)). */
  ioSlots?: number;
  /** Entries of the admin queues (default 32). */
  adminQueueDepth?: number;
  /** Bytes of preallocated data buffer per I/O command slot (default min(MDTS, 128 KiB)). */
  slotBytes?: number;
  /** Command time-out in ms (default 10 s). */
  timeoutMs?: number;
  /** Memory page size (default 4096 when the controller allows it, else CAP.MPSMIN). */
  pageSize?: number;
  /** The device's DMA limit (highest IOVA + 1) for every buffer. */
  dmaLimit?: bigint;
}

/** Options of one I/O queue pair. */
export interface IoQueueOptions {
  depth?: number;
  slots?: number;
  slotBytes?: number;
  /** Interrupt vector for its CQ (default: chosen from the enabled mode; -1: polled). */
  vector?: number;
}

/** An NVMe driver on the Driver API: brings the controller up, creates I/O queues, and hands out namespaces (docs/nvme-driver.md). */
export class NvmeDriver {
  readonly device: Device;
  readonly cap: Capabilities;
  readonly version: string;
  readonly pageSize: number;
  readonly options: Readonly<NvmeDriverOptions>;
  readonly admin: AdminCommands;
  readonly ioQueues: QueuePair[] = [];
  /** Set by open(): Identify Controller. */
  identity!: ControllerIdentity;
  /** Largest transfer of one command, bytes (MDTS; Infinity when unlimited). */
  maxTransferBytes = Infinity;
  /** The interrupt mode bound, or null when polling. */
  interruptKind: InterruptKind | null = null;
  /** Vectors enabled (MSI-X/MSI), 1 for INTx. */
  vectors = 0;
  /** I/O queues the controller granted (Set Features Number of Queues). */
  grantedQueues = { sq: 0, cq: 0 };
  readonly #bar: Region;
  #onInterrupt: ((ev: InterruptEvent) => void) | null = null;
  #closed = false;

  private constructor(device: Device, options: NvmeDriverOptions) {
    this.device = device;
    this.options = options;
    const cmd = device.config.read16(PCI_COMMAND);
    if ((cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) !== (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) {
      device.config.write16(PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    }
    this.#bar = device.bar(0);
    const lo = this.#bar.read32(REG.CAP);
    const hi = this.#bar.read32(REG.CAP + 4);
    if (lo === 0xffffffff && hi === 0xffffffff)
      throw new NvmeControllerError('NVME_DEVICE_GONE', 'CAP reads all ones: the controller is not responding');
    this.cap = decodeCap(BigInt(lo) | (BigInt(hi) << 32n));
    this.version = decodeVersion(this.#bar.read32(REG.VS));
    if ((this.cap.commandSets & 1) === 0)
      throw new NvmeControllerError('NVME_UNSUPPORTED', 'the controller does not support the NVM command set (CAP.CSS bit 0)');
    const want = options.pageSize ?? 4096;
    if (options.pageSize !== undefined && (want < this.cap.minPageSize || want > this.cap.maxPageSize || (want & (want - 1)) !== 0)) {
      throw fail('EINVAL', `page size ${want} outside the controller's ${this.cap.minPageSize}-${this.cap.maxPageSize}`);
    }
    this.pageSize = want >= this.cap.minPageSize && want <= this.cap.maxPageSize ? want : this.cap.minPageSize;
    const adminDepth = Math.min(options.adminQueueDepth ?? 32, this.cap.maxQueueEntries, 4096);
    this.admin = new AdminCommands(
      new QueuePair({
        qid: 0,
        entries: adminDepth,
        doorbells: this.#bar,
        doorbellStride: this.cap.doorbellStride,
        alloc: this.#alloc,
        pageSize: this.pageSize,
        slotBytes: Math.max(4096, this.pageSize),
        listPages: 0,
        slots: Math.min(adminDepth - 1, 8),
        timeoutMs: options.timeoutMs ?? 10_000,
        vector: 0,
        diagnose: () => this.#diagnose(),
      }),
    );
  }

  /** Brings the controller up on `device` (see the file comment) and creates its I/O queues. */
  static async open(device: Device, options: NvmeDriverOptions = {}): Promise<NvmeDriver> {
    const c = new NvmeDriver(device, options);
    try {
      // Interrupts first, as Linux does: QEMU's nvme, for one, sets the admin
      // CQ's MSI-X vector up when CC.EN is written, and only if MSI-X is on then.
      c.#bindInterrupts(options.interrupts ?? 'none', (options.ioQueues ?? 1) + 1);
      await c.#enable();
      c.identity = await c.admin.identifyController();
      const id = c.identity;
      if (id.sqes.min > SQES_LOG2 || id.cqes.min > CQES_LOG2) {
        throw new NvmeControllerError(
          'NVME_UNSUPPORTED',
          `the controller needs SQ entries of 2^${id.sqes.min} and CQ entries of 2^${id.cqes.min} bytes`,
        );
      }
      c.maxTransferBytes = id.mdts === 0 ? Infinity : 2 ** id.mdts * c.cap.minPageSize;
      const n = options.ioQueues ?? 1;
      if (n > 0) {
        c.grantedQueues = await c.admin.setNumberOfQueues(n, n);
        const count = Math.min(n, c.grantedQueues.sq, c.grantedQueues.cq);
        for (let i = 0; i < count; i++) await c.createIoQueue();
      }
      return c;
    } catch (err) {
      c.abort();
      throw err;
    }
  }

  /** CSTS now. */
  readCsts(): number {
    return this.#bar.read32(REG.CSTS);
  }

  /** Throws NVME_CONTROLLER_FATAL / NVME_DEVICE_GONE if the controller has failed. */
  checkHealth(): void {
    const csts = this.readCsts();
    if (csts === 0xffffffff) throw new NvmeControllerError('NVME_DEVICE_GONE', 'CSTS reads all ones: the controller is not responding');
    if (csts & CSTS.CFS)
      throw new NvmeControllerError('NVME_CONTROLLER_FATAL', 'controller fatal status (CSTS.CFS = 1): the controller needs a reset');
  }

  #diagnose(): string {
    const csts = this.readCsts();
    if (csts === 0xffffffff) return ' (CSTS reads all ones: the device is gone)';
    if (csts & CSTS.CFS) return ' (controller fatal status: CSTS.CFS = 1)';
    return '';
  }

  readonly #alloc = (size: number, name: string): DmaMemoryLike =>
    this.device.allocDma(size, { name, ...(this.options.dmaLimit !== undefined ? { limit: this.options.dmaLimit } : {}) });

  async #waitCsts(
    what: string,
    code: NvmeControllerCode,
    cond: (csts: number) => boolean,
    timeoutMs: number,
    failOnCfs: boolean,
  ): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const csts = this.readCsts();
      if (csts === 0xffffffff) throw new NvmeControllerError('NVME_DEVICE_GONE', `CSTS reads all ones while waiting for ${what}`);
      if (failOnCfs && csts & CSTS.CFS)
        throw new NvmeControllerError('NVME_CONTROLLER_FATAL', `controller fatal status (CSTS.CFS = 1) while waiting for ${what}`);
      if (cond(csts)) return;
      if (performance.now() > deadline)
        throw new NvmeControllerError(code, `timed out after ${timeoutMs} ms waiting for ${what} (CSTS ${hex(csts)})`);
      await sleep(1);
    }
  }

  get #readyTimeout(): number {
    return Math.max(this.cap.timeoutMs, 500);
  }

  /** CC.EN = 0 and wait CSTS.RDY = 0. */
  async disable(): Promise<void> {
    const cc = this.#bar.read32(REG.CC);
    if (cc & CC.EN) this.#bar.write32(REG.CC, cc & ~CC.EN);
    await this.#waitCsts('CSTS.RDY = 0', 'NVME_READY_TIMEOUT', (s) => (s & CSTS.RDY) === 0, this.#readyTimeout, false);
  }

  async #enable(): Promise<void> {
    const bar = this.#bar;
    const cc = bar.read32(REG.CC);
    if (cc & CC.EN && (this.readCsts() & CSTS.RDY) === 0 && (this.readCsts() & CSTS.CFS) === 0) {
      // EN 1 -> 0 while RDY is still 0 is undefined behaviour: let it become ready first.
      await this.#waitCsts(
        'CSTS.RDY = 1 before disabling',
        'NVME_READY_TIMEOUT',
        (s) => (s & CSTS.RDY) !== 0,
        this.#readyTimeout,
        false,
      ).catch(() => undefined);
    }
    await this.disable();
    const q = this.admin.queue;
    bar.write32(REG.AQA, ((q.entries - 1) << AQA.ACQS_SHIFT) | (q.entries - 1));
    bar.write32(REG.ASQ, Number(q.sqMem.iova & 0xffffffffn));
    bar.write32(REG.ASQ + 4, Number(q.sqMem.iova >> 32n));
    bar.write32(REG.ACQ, Number(q.cqMem.iova & 0xffffffffn));
    bar.write32(REG.ACQ + 4, Number(q.cqMem.iova >> 32n));
    const mps = Math.log2(this.pageSize) - 12;
    bar.write32(
      REG.CC,
      CC.EN |
        (0 << CC.CSS_SHIFT) |
        (mps << CC.MPS_SHIFT) |
        (0 << CC.AMS_SHIFT) |
        (SQES_LOG2 << CC.IOSQES_SHIFT) |
        (CQES_LOG2 << CC.IOCQES_SHIFT),
    );
    await this.#waitCsts('CSTS.RDY = 1', 'NVME_READY_TIMEOUT', (s) => (s & CSTS.RDY) !== 0, this.#readyTimeout, true);
  }

  #bindInterrupts(choice: InterruptChoice, wanted: number): void {
    if (choice === 'none') return;
    const dev = this.device;
    const available = (kind: InterruptKind): number => {
      const index = KIND_INDEX[kind];
      if (index >= dev.info.numIrqs) return 0;
      const info = dev.irqInfo(index);
      return info.eventfd ? info.count : 0;
    };
    const order: InterruptKind[] = choice === 'auto' ? ['msix', 'msi', 'intx'] : [choice];
    for (const kind of order) {
      const max = available(kind);
      if (max === 0) continue;
      // MSI vector counts are powers of two; INTx has one line.
      let count = kind === 'intx' ? 1 : Math.min(max, wanted);
      if (kind === 'msi') count = 2 ** Math.floor(Math.log2(count));
      dev.enableInterrupts(kind, count);
      this.interruptKind = kind;
      this.vectors = count;
      this.#onInterrupt = (ev) => this.#handleInterrupt(ev);
      dev.on('interrupt', this.#onInterrupt);
      this.admin.queue.mode = 'interrupt';
      return;
    }
    throw new NvmeControllerError('NVME_UNSUPPORTED', `no ${choice === 'auto' ? 'MSI-X, MSI or INTx' : choice} interrupts on this device`);
  }

  #handleInterrupt(ev: InterruptEvent): void {
    if (this.#closed) return;
    const a = this.admin.queue;
    if (a.vector === ev.vector && !a.closed) a.process();
    for (const q of this.ioQueues) if (q.vector === ev.vector && !q.closed) q.process();
    if (ev.kind === 'intx') {
      try {
        this.device.unmaskIntx();
      } catch {
        /* closing */
      }
    }
  }

  /** The vector a new I/O queue `qid` gets: its own MSI-X/MSI vector while there are enough, else shared. */
  #vectorFor(qid: number): number {
    if (!this.interruptKind) return -1;
    if (this.interruptKind === 'intx' || this.vectors <= 1) return 0;
    return 1 + ((qid - 1) % (this.vectors - 1));
  }

  #nextQid(): number {
    let qid = 1;
    while (this.ioQueues.some((q) => q.qid === qid)) qid++;
    return qid;
  }

  /** Creates one more I/O queue pair (Create I/O CQ, then Create I/O SQ). */
  async createIoQueue(o: IoQueueOptions = {}): Promise<QueuePair> {
    this.#live();
    const qid = this.#nextQid();
    const granted = Math.min(this.grantedQueues.sq, this.grantedQueues.cq);
    if (qid > granted) throw fail('ENOSPC', `the controller granted ${granted} I/O queue pairs`);
    const depth = Math.min(o.depth ?? this.options.ioQueueDepth ?? 256, this.cap.maxQueueEntries);
    const slotBytes = roundUp(o.slotBytes ?? this.options.slotBytes ?? Math.min(this.maxTransferBytes, 128 * 1024), this.pageSize);
    const maxXfer = Math.min(this.maxTransferBytes, Math.max(slotBytes, 1 << 20));
    const vector = o.vector ?? this.#vectorFor(qid);
    if (vector >= 0 && (!this.interruptKind || vector >= this.vectors)) throw fail('EINVAL', `vector ${vector} is not enabled`);
    const q = new QueuePair({
      qid,
      entries: depth,
      doorbells: this.#bar,
      doorbellStride: this.cap.doorbellStride,
      alloc: this.#alloc,
      pageSize: this.pageSize,
      slotBytes,
      listPages: Math.max(1, listPagesFor(Math.ceil(maxXfer / this.pageSize) + 1, this.pageSize)),
      slots: Math.min(o.slots ?? this.options.ioSlots ?? 64, depth - 1),
      timeoutMs: this.options.timeoutMs ?? 10_000,
      vector,
      diagnose: () => this.#diagnose(),
    });
    q.mode = vector >= 0 ? 'interrupt' : 'poll';
    try {
      await this.admin.createIoCq(qid, depth, q.cqMem.iova, vector);
      try {
        await this.admin.createIoSq(qid, depth, q.sqMem.iova, qid);
      } catch (err) {
        await this.admin.deleteIoCq(qid).catch(() => undefined);
        throw err;
      }
    } catch (err) {
      q.close();
      throw err;
    }
    this.ioQueues.push(q);
    return q;
  }

  /** Deletes an I/O queue pair (SQ, then CQ) and frees it. */
  async deleteIoQueue(q: QueuePair): Promise<void> {
    const i = this.ioQueues.indexOf(q);
    if (i < 0) throw fail('EINVAL', `queue ${q.qid} is not an I/O queue of this controller`);
    this.ioQueues.splice(i, 1);
    try {
      await this.admin.deleteIoSq(q.qid);
      await this.admin.deleteIoCq(q.qid);
    } finally {
      q.close();
    }
  }

  /** Namespace `nsid` (Identify Namespace), doing I/O on `queue` (default: the first I/O queue). */
  async namespace(nsid = 1, queue?: QueuePair): Promise<NvmeNamespace> {
    this.#live();
    const q = queue ?? this.ioQueues[0];
    if (!q) throw fail('EINVAL', 'the controller has no I/O queue');
    const id = await this.admin.identifyNamespace(nsid);
    if (id.inactive) throw fail('ENOENT', `namespace ${nsid} is not active`);
    return new NvmeNamespace(nsid, id, q, this.maxTransferBytes);
  }

  /**
   * Clean shutdown (§7.6.2): delete every I/O SQ then CQ, CC.SHN = normal,
   * wait CSTS.SHST = complete, then CC.EN = 0, and free the queues and
   * interrupts. The first failure is rethrown after everything is released.
   */
  async shutdown(timeoutMs = Math.max(this.cap.timeoutMs, 5000)): Promise<void> {
    if (this.#closed) return;
    let first: unknown;
    const note = (err: unknown): void => {
      first ??= err;
    };
    const queues = [...this.ioQueues];
    for (const q of queues) await this.admin.deleteIoSq(q.qid).catch(note);
    for (const q of queues) await this.admin.deleteIoCq(q.qid).catch(note);
    for (const q of queues) q.close('controller shut down');
    this.ioQueues.length = 0;
    try {
      const cc = this.#bar.read32(REG.CC);
      this.#bar.write32(REG.CC, (cc & ~CC.SHN_MASK) | CC.SHN_NORMAL);
      await this.#waitCsts(
        'CSTS.SHST = shutdown complete',
        'NVME_SHUTDOWN_TIMEOUT',
        (s) => (s & CSTS.SHST_MASK) === CSTS.SHST_COMPLETE,
        timeoutMs,
        false,
      );
      await this.disable();
    } catch (err) {
      note(err);
    }
    this.abort();
    if (first !== undefined) throw first;
  }

  /** Releases everything without talking to the controller beyond CC.EN = 0 (error paths). Idempotent. */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.device.closed) {
      try {
        // Stop the controller before its queue memory goes away.
        const cc = this.#bar.read32(REG.CC);
        if (cc & CC.EN) this.#bar.write32(REG.CC, cc & ~CC.EN);
      } catch {
        /* device going away */
      }
    }
    for (const q of this.ioQueues) q.close('controller closed');
    this.ioQueues.length = 0;
    this.admin.queue.close('controller closed');
    if (this.#onInterrupt) this.device.off('interrupt', this.#onInterrupt);
    this.#onInterrupt = null;
    if (!this.device.closed) {
      if (this.interruptKind) {
        try {
          this.device.disableInterrupts();
        } catch {
          /* idem */
        }
      }
    }
    this.interruptKind = null;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #live(): void {
    if (this.#closed) throw new NvmeControllerError('NVME_CLOSED', 'the controller is shut down');
  }
}

function roundUp(v: number, align: number): number {
  return Math.ceil(v / align) * align;
}
