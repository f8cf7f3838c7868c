// The NVMe controller model: a PCI function of class 010802h (NVM Express)
// served by the device framework (src/server).
//
// Model. BAR0 holds the controller registers (trapped), the doorbells
// (a shared-memory page the client mmaps: ringing one is a plain store, no
// message) and the MSI-X table and PBA (see regs.ts). The controller state
// machine follows CC and CSTS: CC.EN 0->1 validates AQA/ASQ/ACQ, CC.MPS and
// CC.CSS and sets CSTS.RDY (or CSTS.CFS for a bad configuration); CC.EN 1->0
// is a controller reset (queues deleted, doorbells zeroed, RDY cleared);
// CC.SHN requests a shutdown (the backing is flushed, CSTS.SHST reads
// "complete" at once and the queues are no longer processed until a reset).
//
// Processing. While the controller is ready, a poller reads the doorbell
// page: a setImmediate loop while there is work, which keeps spinning for
// `spinMs` after the last command, then falls back to a timer
// (`idleIntervalMs`, then `sleepIntervalMs` after `sleepAfterMs` of quiet).
// A REGION_WRITE to the doorbell page (a client without the mapping) wakes
// it at once through the framework's mappedWrite hook. Each round takes up
// to `burst` commands per submission queue, completes every command
// synchronously (admin.ts, io.ts) and then raises one interrupt per
// completion queue that received entries and has IEN set (MSI-X vector of
// the queue, or INTx when that is the mode). Data moves between the
// namespace and the client's DMA memory through DMA windows (dma-windows.ts)
// and PRPs (prp.ts): nothing is allocated per command on that path.

import { fail } from '../../errors.js';
import type { CapabilityDecl, DeviceDecl } from '../../pci/index.js';
import type { BarHandler, DeviceModel, ResetReason, VirtualDevice } from '../../server/index.js';
import { executeAdmin } from './admin.js';
import { Command, DEFERRED } from './command.js';
import { DmaWindows } from './dma-windows.js';
import { ONCS_COMPARE, ONCS_DSM, ONCS_WRITE_ZEROES, type ControllerIdentity } from './identify.js';
import { executeIo } from './io.js';
import { HealthCounters, type ErrorEntry } from './logs.js';
import { Namespace, type NamespaceOptions } from './namespace.js';
import { PrpWalker } from './prp.js';
import { ST } from './status.js';
import { CompletionQueue, SubmissionQueue } from './queues.js';
import {
  AE_ERROR_INVALID_DOORBELL_VALUE,
  AE_TYPE_ERROR,
  AQA_ACQS_SHIFT,
  AQA_ASQS_MASK,
  BAR0_SIZE,
  CC_EN,
  CC_IOCQES_SHIFT,
  CC_IOSQES_SHIFT,
  CC_SHN_SHIFT,
  ccAms,
  ccCss,
  ccMps,
  ccShn,
  CSTS_CFS,
  CSTS_RDY,
  CSTS_SHST_MASK,
  CSTS_SHST_SHIFT,
  DOORBELL_OFFSET,
  DOORBELL_PAGE_SIZE,
  LOG_ERROR_INFO,
  MSIX_PBA_OFFSET,
  MSIX_TABLE_OFFSET,
  NVME_VERSION_1_4,
  REG_ACQ,
  REG_AQA,
  REG_ASQ,
  REG_CAP,
  REG_CC,
  REG_CSTS,
  REG_INTMC,
  REG_INTMS,
  REG_VS,
  SHST_COMPLETE,
} from './regs.js';

export interface NvmePollOptions {
  /** Keep polling with setImmediate this long after the last command (default 5 ms). */
  spinMs?: number;
  /** Then poll on a timer of this period (default 1 ms)... */
  idleIntervalMs?: number;
  /** ...until the controller has been idle this long (default 1000 ms)... */
  sleepAfterMs?: number;
  /** ...and then with this period (default 10 ms). */
  sleepIntervalMs?: number;
  /** Most commands taken from one submission queue per round (default 256). */
  burst?: number;
}

export interface NvmeControllerOptions {
  /** PCI IDs (default 1b36:0010, QEMU's NVMe controller, subsystem 1af4:1100). */
  vendorId?: number;
  deviceId?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** Identify Controller strings. */
  serial?: string;
  model?: string;
  firmware?: string;
  /** Namespaces 1..n (default one 64 MiB memory namespace with 512-byte blocks). */
  namespaces?: readonly NamespaceOptions[];
  /** I/O queue pairs supported, 1..255 (default 64); MSI-X has one more vector than this. */
  maxIoQueues?: number;
  /** Largest queue, in entries, 2..65536 (default 1024; CAP.MQES is this minus one). */
  maxQueueEntries?: number;
  /** MDTS: largest transfer is 2^mdts pages of 4 KiB, 1..10 (default 7: 512 KiB). */
  mdts?: number;
  /** A volatile write cache is reported (VWC) and enabled by default (default true). */
  volatileWriteCache?: boolean;
  poll?: NvmePollOptions;
}

/** What the poller did (for measurements). */
export interface NvmeStats {
  /** Poll rounds run, and how many found work. */
  polls: number;
  busyPolls: number;
  /** Rounds started by a timer (idle). */
  timerPolls: number;
  commands: number;
  adminCommands: number;
  interrupts: number;
  /** DMA window lookups that went to the framework. */
  windowMisses: number;
}

export interface AsyncEvent {
  type: number;
  info: number;
  logPage: number;
}

/** Current values of the features (Get/Set Features). */
export interface FeatureState {
  arbitration: number;
  powerState: number;
  temperatureThreshold: Map<number, number>;
  errorRecovery: number;
  writeCacheEnabled: boolean;
  /** Number of Queues: allocated I/O SQs and CQs (1-based counts). */
  ioSqs: number;
  ioCqs: number;
  /** Set Features Number of Queues was accepted since the reset. */
  queuesRequested: boolean;
  interruptCoalescing: number;
  /** Interrupt Vector Configuration (cdw11 per vector). */
  vectorConfig: Map<number, number>;
  writeAtomicity: number;
  asyncEventConfig: number;
}

const MPSMIN = 0; // 4 KiB
const MPSMAX = 4; // 64 KiB
const TIMEOUT_500MS = 20; // CAP.TO: 10 s

export class NvmeController implements DeviceModel {
  readonly config: DeviceDecl;
  readonly bars: Record<number, BarHandler>;
  readonly namespaces: Namespace[] = [];
  readonly maxIoQueues: number;
  readonly maxQueueEntries: number;
  readonly identity: ControllerIdentity;
  readonly maxTransfer: number;
  readonly msixVectors: number;
  readonly stats: NvmeStats = { polls: 0, busyPolls: 0, timerPolls: 0, commands: 0, adminCommands: 0, interrupts: 0, windowMisses: 0 };
  readonly health = new HealthCounters();

  // Registers.
  readonly #capLo: number;
  readonly #capHi: number;
  cc = 0;
  csts = 0;
  aqa = 0;
  asq = 0;
  acq = 0;
  intms = 0;

  // Queues.
  readonly sqs: (SubmissionQueue | undefined)[];
  readonly cqs: (CompletionQueue | undefined)[];
  sqList: SubmissionQueue[] = [];
  cqList: CompletionQueue[] = [];

  // Features, events, errors.
  features!: FeatureState;
  /** Outstanding Asynchronous Event Requests (command ids). */
  aers: number[] = [];
  /** Events waiting for an AER. */
  events: AsyncEvent[] = [];
  /** Event types reported and not yet acknowledged by reading their log page. */
  aeMasked = new Set<number>();
  errors: ErrorEntry[] = [];
  errorCount = 0;

  // Framework plumbing.
  device: VirtualDevice | undefined;
  windows: DmaWindows | undefined;
  prp: PrpWalker | undefined;
  /** Per-command scratch for admin data (identify, logs) and DSM ranges. */
  readonly scratch: Uint8Array;
  readonly cmd = new Command();
  #db: Uint32Array = new Uint32Array(0);
  readonly #poll: Required<NvmePollOptions>;
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastActivity = 0;
  #shutdown = false;
  #closed = false;

  constructor(options: NvmeControllerOptions = {}) {
    const maxIo = options.maxIoQueues ?? 64;
    if (!Number.isInteger(maxIo) || maxIo < 1 || maxIo > 255) throw fail('EINVAL', `maxIoQueues ${maxIo} is not in 1..255`);
    const entries = options.maxQueueEntries ?? 1024;
    if (!Number.isInteger(entries) || entries < 2 || entries > 65536) throw fail('EINVAL', `maxQueueEntries ${entries} is not in 2..65536`);
    const mdts = options.mdts ?? 7;
    if (!Number.isInteger(mdts) || mdts < 1 || mdts > 10) throw fail('EINVAL', `mdts ${mdts} is not in 1..10`);
    this.maxIoQueues = maxIo;
    this.maxQueueEntries = entries;
    this.maxTransfer = 4096 * 2 ** mdts;
    this.scratch = new Uint8Array(Math.max(this.maxTransfer, 64 * 1024));
    this.msixVectors = maxIo + 1;
    this.sqs = new Array(maxIo + 1).fill(undefined);
    this.cqs = new Array(maxIo + 1).fill(undefined);
    this.#poll = {
      spinMs: options.poll?.spinMs ?? 5,
      idleIntervalMs: options.poll?.idleIntervalMs ?? 1,
      sleepAfterMs: options.poll?.sleepAfterMs ?? 1000,
      sleepIntervalMs: options.poll?.sleepIntervalMs ?? 10,
      burst: options.poll?.burst ?? 256,
    };
    const nsOpts = options.namespaces ?? [{}];
    if (nsOpts.length < 1 || nsOpts.length > 1024) throw fail('EINVAL', 'an NVMe controller model needs 1..1024 namespaces');
    try {
      nsOpts.forEach((o, i) => this.namespaces.push(new Namespace(i + 1, o)));
    } catch (err) {
      for (const ns of this.namespaces) ns.close();
      throw err;
    }

    const vwc = options.volatileWriteCache ?? true;
    const serial = options.serial ?? 'VFIOTS-NVME-0001';
    this.identity = {
      vendorId: options.vendorId ?? 0x1b36,
      subsystemVendorId: options.subsystemVendorId ?? 0x1af4,
      serial,
      model: options.model ?? 'vfio-ts NVMe controller model',
      firmware: options.firmware ?? '1.0',
      mdts,
      controllerId: 1,
      namespaceCount: this.namespaces.length,
      acl: 3,
      aerl: 3,
      elpe: 63,
      volatileWriteCache: vwc,
      oncs: ONCS_COMPARE | ONCS_DSM | ONCS_WRITE_ZEROES,
      subnqn: `nqn.2024-01.dev.vfio-ts:nvme:${serial}`,
    };

    // CAP: MQES, CQR, TO, DSTRD 0, CSS NVM, MPSMIN/MPSMAX.
    this.#capLo = ((entries - 1) | (1 << 16) | (TIMEOUT_500MS << 24)) >>> 0;
    this.#capHi = ((1 << (37 - 32)) | (MPSMIN << (48 - 32)) | (MPSMAX << (52 - 32))) >>> 0;

    const caps: CapabilityDecl[] = [
      { id: 'pm' },
      { id: 'msix', tableSize: this.msixVectors, table: { bar: 0, offset: MSIX_TABLE_OFFSET }, pba: { bar: 0, offset: MSIX_PBA_OFFSET } },
      { id: 'pcie' },
    ];
    this.config = {
      vendorId: this.identity.vendorId,
      deviceId: options.deviceId ?? 0x0010,
      subsystemVendorId: this.identity.subsystemVendorId,
      subsystemId: options.subsystemId ?? 0x1100,
      revision: 2,
      classCode: 0x010802,
      interruptPin: 1,
      bars: [{ kind: 'mem64', size: BAR0_SIZE }],
      capabilities: caps,
    };
    this.bars = {
      0: {
        read: (offset, dst) => this.#readRegs(offset, dst),
        write: (offset, src) => this.#writeRegs(offset, src),
        mappable: [{ offset: DOORBELL_OFFSET, size: DOORBELL_PAGE_SIZE }],
        mappedWrite: () => this.kick(),
      },
    };
    this.#resetFeatures();
  }

  // ------------------------------------------------------------ framework hooks

  attach(device: VirtualDevice): void {
    this.device = device;
    this.windows = new DmaWindows(device.dma);
    this.prp = new PrpWalker(this.windows, Math.max(this.maxTransfer, 64 * 1024));
    this.#refreshDoorbells();
  }

  reset(reason: ResetReason): void {
    this.controllerReset(reason === 'release');
    this.aqa = 0;
    this.asq = 0;
    this.acq = 0;
    this.cc = 0;
    this.csts = 0;
    this.intms = 0;
    if (reason === 'release') {
      this.windows?.clear();
      this.#refreshDoorbells();
    }
  }

  ownerChanged(): void {
    this.windows?.clear();
  }

  commandChanged(command: number, previous: number): void {
    if ((command & 0x4) !== 0 && (previous & 0x4) === 0) this.kick();
  }

  /** Releases the namespaces' backing (files) and stops polling. */
  close(): void {
    this.#closed = true;
    this.#stopPolling();
    for (const ns of this.namespaces) ns.close();
  }

  #refreshDoorbells(): void {
    const mem = this.device?.barMemory(0);
    this.#db = mem ? new Uint32Array(mem.buffer, mem.byteOffset + DOORBELL_OFFSET, DOORBELL_PAGE_SIZE / 4) : new Uint32Array(0);
  }

  // ------------------------------------------------------------ registers

  get cap(): bigint {
    return (BigInt(this.#capHi) << 32n) | BigInt(this.#capLo);
  }

  /** Memory page size from CC.MPS. */
  get pageSize(): number {
    return 4096 << ccMps(this.cc);
  }

  get ready(): boolean {
    return (this.csts & CSTS_RDY) !== 0;
  }

  #regDword(off: number): number {
    switch (off) {
      case REG_CAP:
        return this.#capLo;
      case REG_CAP + 4:
        return this.#capHi;
      case REG_VS:
        return NVME_VERSION_1_4;
      case REG_INTMS:
      case REG_INTMC:
        return this.intms;
      case REG_CC:
        return this.cc;
      case REG_CSTS:
        return this.csts;
      case REG_AQA:
        return this.aqa;
      case REG_ASQ:
        return this.asq % 0x1_0000_0000;
      case REG_ASQ + 4:
        return Math.floor(this.asq / 0x1_0000_0000);
      case REG_ACQ:
        return this.acq % 0x1_0000_0000;
      case REG_ACQ + 4:
        return Math.floor(this.acq / 0x1_0000_0000);
      default:
        return 0;
    }
  }

  #readRegs(offset: number, dst: Uint8Array): void {
    for (let i = 0; i < dst.length; i++) {
      const at = offset + i;
      dst[i] = at < 0x40 ? (this.#regDword(at & ~3) >>> (8 * (at & 3))) & 0xff : 0;
    }
  }

  #writeRegs(offset: number, src: Uint8Array): void {
    const end = offset + src.length;
    for (let d = offset & ~3; d < end && d < 0x40; d += 4) {
      const w1c = d === REG_INTMS || d === REG_INTMC;
      let v = w1c ? 0 : this.#regDword(d);
      for (let b = 0; b < 4; b++) {
        const at = d + b;
        if (at < offset || at >= end) continue;
        v = (v & ~(0xff << (8 * b))) | (src[at - offset]! << (8 * b));
      }
      this.#setRegister(d, v >>> 0);
    }
  }

  #setRegister(off: number, v: number): void {
    switch (off) {
      case REG_INTMS:
        this.intms = (this.intms | v) >>> 0;
        return;
      case REG_INTMC:
        this.intms = (this.intms & ~v) >>> 0;
        this.#updateIntx();
        return;
      case REG_CC:
        this.#writeCc(v);
        return;
      case REG_AQA:
        this.aqa = v & ((AQA_ASQS_MASK << AQA_ACQS_SHIFT) | AQA_ASQS_MASK);
        return;
      case REG_ASQ:
        this.asq = Math.floor(this.asq / 0x1_0000_0000) * 0x1_0000_0000 + ((v & ~0xfff) >>> 0);
        return;
      case REG_ASQ + 4:
        this.asq = v * 0x1_0000_0000 + (this.asq % 0x1_0000_0000);
        return;
      case REG_ACQ:
        this.acq = Math.floor(this.acq / 0x1_0000_0000) * 0x1_0000_0000 + ((v & ~0xfff) >>> 0);
        return;
      case REG_ACQ + 4:
        this.acq = v * 0x1_0000_0000 + (this.acq % 0x1_0000_0000);
        return;
      default:
        return; // read-only or reserved: the write is dropped
    }
  }

  #writeCc(v: number): void {
    const old = this.cc;
    const wasEnabled = (old & CC_EN) !== 0;
    const enable = (v & CC_EN) !== 0;
    if (wasEnabled && !enable) {
      // Controller reset: queues deleted, registers other than AQA/ASQ/ACQ back to their reset values.
      if (ccShn(old) === 0 && (this.csts & CSTS_SHST_MASK) === 0) this.health.unsafeShutdowns++;
      this.controllerReset(false);
      this.cc = v >>> 0;
      this.csts = 0;
      return;
    }
    if (wasEnabled) {
      // While enabled only IOSQES, IOCQES and SHN may change.
      const keep = ~((0xf << CC_IOSQES_SHIFT) | (0xf << CC_IOCQES_SHIFT) | (3 << CC_SHN_SHIFT));
      this.cc = ((old & keep) | (v & ~keep)) >>> 0;
    } else {
      this.cc = v >>> 0;
    }
    const shnOld = ccShn(old);
    const shnNew = ccShn(this.cc);
    if (shnNew !== 0 && shnOld === 0) this.#doShutdown();
    else if (shnNew === 0 && shnOld !== 0) {
      this.csts &= ~CSTS_SHST_MASK;
      this.#shutdown = false;
      this.kick();
    }
    if (!wasEnabled && enable) this.#enable();
  }

  #enable(): void {
    const asqs = (this.aqa & AQA_ASQS_MASK) + 1;
    const acqs = ((this.aqa >>> AQA_ACQS_SHIFT) & AQA_ASQS_MASK) + 1;
    const mps = ccMps(this.cc);
    const ps = 4096 << mps;
    const bad =
      asqs < 2 || acqs < 2 ||
      mps < MPSMIN || mps > MPSMAX ||
      ccCss(this.cc) !== 0 || ccAms(this.cc) !== 0 ||
      this.asq === 0 || this.acq === 0 || this.asq % ps !== 0 || this.acq % ps !== 0;
    if (bad) {
      this.csts |= CSTS_CFS;
      return;
    }
    this.prp!.pageSize = ps;
    const acq = new CompletionQueue(0, acqs, this.acq, true, 0);
    const asq = new SubmissionQueue(0, asqs, this.asq, acq, 0);
    this.addCq(acq);
    this.addSq(asq);
    this.csts = (this.csts & ~CSTS_CFS) | CSTS_RDY;
    this.kick();
  }

  #doShutdown(): void {
    for (const ns of this.namespaces) {
      try {
        ns.backing.flush();
      } catch (cause) {
        this.device?.warn({ code: 'model-error', message: `NVMe: flushing namespace ${ns.nsid} at shutdown failed`, cause });
      }
    }
    this.#shutdown = true;
    this.csts = (this.csts & ~CSTS_SHST_MASK) | (SHST_COMPLETE << CSTS_SHST_SHIFT);
  }

  /** Controller reset: queues deleted, AERs dropped, doorbells zeroed, features back to defaults. */
  controllerReset(release: boolean): void {
    this.#stopPolling();
    for (const sq of this.sqList) this.sqs[sq.qid] = undefined;
    for (const cq of this.cqList) this.cqs[cq.qid] = undefined;
    this.sqList = [];
    this.cqList = [];
    this.aers = [];
    this.events = [];
    this.aeMasked.clear();
    this.#shutdown = false;
    if (!release) this.#db.fill(0);
    if (this.device?.irq.intxAsserted) this.device.irq.setIntx(false);
    this.#resetFeatures();
  }

  #resetFeatures(): void {
    this.features = {
      arbitration: 0,
      powerState: 0,
      temperatureThreshold: new Map(),
      errorRecovery: 0,
      writeCacheEnabled: this.identity.volatileWriteCache,
      ioSqs: this.maxIoQueues,
      ioCqs: this.maxIoQueues,
      queuesRequested: false,
      interruptCoalescing: 0,
      vectorConfig: new Map(),
      writeAtomicity: 0,
      asyncEventConfig: 0,
    };
  }

  // ------------------------------------------------------------ queues

  addSq(sq: SubmissionQueue): void {
    this.sqs[sq.qid] = sq;
    sq.cq.sqCount++;
    this.sqList = [...this.sqList, sq].sort((a, b) => a.qid - b.qid);
  }

  addCq(cq: CompletionQueue): void {
    this.cqs[cq.qid] = cq;
    this.cqList = [...this.cqList, cq].sort((a, b) => a.qid - b.qid);
  }

  removeSq(sq: SubmissionQueue): void {
    this.sqs[sq.qid] = undefined;
    sq.cq.sqCount--;
    this.sqList = this.sqList.filter((q) => q !== sq);
    this.#db[2 * sq.qid] = 0;
  }

  removeCq(cq: CompletionQueue): void {
    this.cqs[cq.qid] = undefined;
    this.cqList = this.cqList.filter((q) => q !== cq);
    this.#db[2 * cq.qid + 1] = 0;
  }

  // ------------------------------------------------------------ events and errors

  /** Queues an asynchronous event; it completes an outstanding Asynchronous Event Request now or later. */
  raiseAsyncEvent(type: number, info: number, logPage: number): void {
    if (!this.ready) return;
    this.events.push({ type, info, logPage });
    this.#deliverEvents();
    this.kick();
  }

  /** Reading log page `lid` with RAE clear acknowledges the events that point at it. */
  acknowledgeLog(lid: number): void {
    for (const t of [...this.aeMasked]) if ((t & 0xff) === lid) this.aeMasked.delete(t);
    this.#deliverEvents();
  }

  #deliverEvents(): void {
    const acq = this.cqs[0];
    if (!acq) return;
    for (let i = 0; i < this.events.length && this.aers.length > 0; ) {
      const e = this.events[i]!;
      const key = (e.type << 8) | e.logPage;
      if ([...this.aeMasked].some((k) => k >> 8 === e.type)) {
        i++;
        continue;
      }
      if (acq.dw.length === 0 && !acq.resolve(this.windows!)) return;
      this.#refreshCqHead(acq);
      if (acq.full) return;
      this.events.splice(i, 1);
      const cid = this.aers.shift()!;
      this.aeMasked.add(key);
      acq.post((e.type & 7) | ((e.info & 0xff) << 8) | ((e.logPage & 0xff) << 16), this.sqs[0]?.head ?? 0, 0, cid, 0);
    }
    this.#interrupts();
  }

  #recordError(sqid: number, cmd: Command, st: number): void {
    this.errorCount++;
    this.errors.push({ count: this.errorCount, sqid, cid: cmd.cid, status: st, nsid: cmd.nsid, lba: 0 });
    if (this.errors.length > this.identity.elpe + 1) this.errors.shift();
  }

  #fatal(message: string): void {
    this.csts |= CSTS_CFS;
    this.#stopPolling();
    this.device?.warn({ code: 'model-error', message: `NVMe controller fatal status: ${message}` });
  }

  // ------------------------------------------------------------ polling

  /** Polls at once (a doorbell was written through a message, bus mastering came on, ...). */
  kick(): void {
    this.#lastActivity = performance.now();
    if (this.#immediate !== undefined || this.#closed || !this.ready) return;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#immediate = setImmediate(this.#tick);
  }

  #stopPolling(): void {
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#immediate = undefined;
    this.#timer = undefined;
  }

  readonly #tick = (): void => {
    this.#immediate = undefined;
    this.#timer = undefined;
    if (this.#closed || !this.ready || (this.csts & CSTS_CFS) !== 0 || this.sqList.length === 0) return;
    const now = performance.now();
    const n = this.#shutdown || !this.device!.config.busMaster ? 0 : this.pollOnce();
    if (n > 0) this.#lastActivity = now;
    if ((this.csts & CSTS_CFS) !== 0) return;
    const idle = now - this.#lastActivity;
    const p = this.#poll;
    if (idle < p.spinMs) {
      this.#immediate = setImmediate(this.#tick);
    } else {
      this.#timer = setTimeout(this.#timerTick, idle < p.sleepAfterMs ? p.idleIntervalMs : p.sleepIntervalMs);
    }
  };

  readonly #timerTick = (): void => {
    this.stats.timerPolls++;
    this.#tick();
  };

  /** One round over every submission queue. Returns the commands completed. */
  pollOnce(): number {
    this.stats.polls++;
    const list = this.sqList;
    let total = 0;
    for (let i = 0; i < list.length; i++) {
      const sq = list[i]!;
      if (this.sqs[sq.qid] !== sq) continue; // deleted during this round
      total += this.#processSq(sq);
      if ((this.csts & CSTS_CFS) !== 0) return total;
    }
    if (total > 0) {
      this.stats.busyPolls++;
      this.stats.commands += total;
      this.#interrupts();
    } else if (this.device!.irq.intxAsserted) {
      this.#updateIntx();
    }
    return total;
  }

  #refreshCqHead(cq: CompletionQueue): void {
    const h = this.#db[2 * cq.qid + 1]!;
    if (h === cq.head) return;
    if (h < cq.size) {
      cq.head = h;
    } else if (h !== cq.badHead) {
      cq.badHead = h;
      this.raiseAsyncEvent(AE_TYPE_ERROR, AE_ERROR_INVALID_DOORBELL_VALUE, LOG_ERROR_INFO);
    }
  }

  #processSq(sq: SubmissionQueue): number {
    const db = this.#db;
    const t = db[2 * sq.qid]!;
    if (t !== sq.tail) {
      if (t < sq.size) sq.tail = t;
      else if (t !== sq.badTail) {
        sq.badTail = t;
        this.raiseAsyncEvent(AE_TYPE_ERROR, AE_ERROR_INVALID_DOORBELL_VALUE, LOG_ERROR_INFO);
      }
    }
    if (sq.head === sq.tail) return 0;
    const cq = sq.cq;
    const windows = this.windows!;
    if (sq.dw.length === 0 && !sq.resolve(windows)) {
      this.#fatal(`submission queue ${sq.qid} at 0x${sq.base.toString(16)} is not in the client's DMA memory`);
      return 0;
    }
    if (cq.dw.length === 0 && !cq.resolve(windows)) {
      this.#fatal(`completion queue ${cq.qid} at 0x${cq.base.toString(16)} is not in the client's DMA memory`);
      return 0;
    }
    const cmd = this.cmd;
    const burst = this.#poll.burst;
    const admin = sq.qid === 0;
    let n = 0;
    while (sq.head !== sq.tail && n < burst) {
      if (cq.full) {
        this.#refreshCqHead(cq);
        if (cq.full) break;
      }
      cmd.load(sq.dw, sq.head * 16, sq.qid);
      if (++sq.head === sq.size) sq.head = 0;
      n++;
      let st: number;
      try {
        st = admin ? executeAdmin(this, cmd) : executeIo(this, cmd);
      } catch (cause) {
        st = ST.INTERNAL_ERROR;
        this.device!.warn({ code: 'model-error', message: `NVMe: command ${cmd.opc} on queue ${sq.qid} failed`, cause });
      }
      if (st === DEFERRED) continue;
      if (this.sqs[sq.qid] !== sq && !admin) return n; // deleted (cannot happen for I/O commands)
      cq.post(cmd.result, sq.head, sq.qid, cmd.cid, st);
      if (st !== 0) this.#recordError(sq.qid, cmd, st);
    }
    if (admin) {
      this.stats.adminCommands += n;
      if (this.events.length > 0 && this.aers.length > 0) this.#deliverEvents();
    }
    return n;
  }

  #interrupts(): void {
    const irq = this.device!.irq;
    const mode = irq.mode;
    const list = this.cqList;
    for (let i = 0; i < list.length; i++) {
      const cq = list[i]!;
      if (!cq.irqPending) continue;
      cq.irqPending = false;
      if (!cq.ien) continue;
      if (mode === 'msix') {
        irq.msix(cq.vector);
        this.stats.interrupts++;
      } else if (mode === 'intx' && (this.intms & 1) === 0) {
        if (irq.setIntx(true) === 'delivered') this.stats.interrupts++;
      }
    }
  }

  /** INTx is a level: asserted while an interrupt-enabled CQ holds entries the host has not consumed. */
  #updateIntx(): void {
    const irq = this.device?.irq;
    if (!irq || irq.mode !== 'intx') return;
    let level = false;
    if ((this.intms & 1) === 0) {
      for (const cq of this.cqList) {
        if (!cq.ien) continue;
        this.#refreshCqHead(cq);
        if (cq.head !== cq.tail) level = true;
      }
    }
    if (level !== irq.intxAsserted) irq.setIntx(level);
  }

  // ------------------------------------------------------------ helpers for the command handlers

  namespace(nsid: number): Namespace | undefined {
    return nsid >= 1 && nsid <= this.namespaces.length ? this.namespaces[nsid - 1] : undefined;
  }

  /** Copies `len` bytes of `src` to the command's PRPs (admin data out). Returns a status. */
  toHost(cmd: Command, src: Uint8Array, len: number): number {
    const prp = this.prp!;
    const st = prp.walk(cmd.prp1, cmd.prp2, len, true);
    if (st !== 0) return st;
    prp.scatter(src.subarray(0, len));
    return 0;
  }

  /** Copies `len` bytes from the command's PRPs into `dst` (admin data in). Returns a status. */
  fromHost(cmd: Command, dst: Uint8Array, len: number): number {
    const prp = this.prp!;
    const st = prp.walk(cmd.prp1, cmd.prp2, len, false);
    if (st !== 0) return st;
    prp.gather(dst.subarray(0, len));
    return 0;
  }

  /** Values for debugging and tests. */
  get windowMisses(): number {
    return this.windows?.misses ?? 0;
  }
}

export { CC_EN };
