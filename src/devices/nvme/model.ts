// The NVMe controller model: a PCI function of class 010802h (NVM Express)
// served by the device framework (src/server). This file declares the PCI
// function and wires its parts together:
//
//   registers.ts   the controller registers and the CC/CSTS state machine
//   queues.ts      submission/completion queues and the doorbell page
//   poller.ts      when the doorbell page is looked at
//   admin.ts, io.ts  the command handlers, which see the model only as a
//                  CommandContext (context.ts)
//   events.ts      asynchronous events; logs.ts the log pages
//   interrupts.ts  completion interrupts (MSI-X, INTx)
//
// BAR0 holds the registers (trapped), the doorbells (a shared-memory page the
// client mmaps: ringing one is a plain store, no message) and the MSI-X table
// and PBA (bar.ts). A REGION_WRITE to the doorbell page (a client without the
// mapping) wakes the poller at once through the framework's mappedWrite hook.
// Each round takes up to `burst` commands per submission queue, completes
// every command synchronously and then raises one interrupt per completion
// queue that received entries. Data moves between the namespace and the
// client's DMA memory through DMA windows (dma-windows.ts) and PRPs (prp.ts):
// nothing is allocated per command on that path.

import { fail } from '../../errors.js';
import { ASYNC_EVENT, LOG } from '../../hw/nvme/commands.js';
import { ONCS } from '../../hw/nvme/identify.js';
import type { CapabilityDecl, DeviceDecl } from '../../pci/index.js';
import type { BarHandler, DeviceModel, ResetReason, VirtualDevice } from '../../server/index.js';
import { hex } from '../../util/format.js';
import { executeAdmin } from './admin.js';
import { BAR0_SIZE, DOORBELL_OFFSET, DOORBELL_PAGE_SIZE, MSIX_PBA_OFFSET, MSIX_TABLE_OFFSET } from './bar.js';
import type { CommandContext } from './context.js';
import { DmaWindows } from './dma-windows.js';
import { AsyncEvents } from './events.js';
import { defaultFeatures, type FeatureState } from './features.js';
import type { ControllerIdentity } from './identify.js';
import { CompletionInterrupts } from './interrupts.js';
import { executeIo } from './io.js';
import { ErrorLog, HealthCounters } from './logs.js';
import { Namespace, type NamespaceOptions } from './namespace.js';
import { Poller, pollDefaults, type NvmePollOptions } from './poller.js';
import { PrpWalker } from './prp.js';
import { CompletionQueue, QueueSet, SubmissionQueue } from './queues.js';
import { ControllerRegisters } from './registers.js';
import { ST } from './status.js';
import { DEFERRED, SQE_DWORDS, SubmissionEntry } from './submission-entry.js';

/** How an {@link NvmeModel} presents itself: IDs, identity strings, namespaces, queue limits, polling. */
export interface NvmeModelOptions {
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
}

/** An NVMe controller as a {@link DeviceModel}: registers, admin and I/O queues, namespaces in memory or files, MSI-X, doorbells in shared memory (docs/nvme-model.md). */
export class NvmeModel implements DeviceModel, CommandContext {
  readonly config: DeviceDecl;
  readonly bars: Record<number, BarHandler>;
  readonly namespaces: Namespace[] = [];
  readonly maxIoQueues: number;
  readonly maxQueueEntries: number;
  readonly identity: ControllerIdentity;
  readonly maxTransfer: number;
  readonly msixVectors: number;
  readonly stats: NvmeStats = { polls: 0, busyPolls: 0, timerPolls: 0, commands: 0, adminCommands: 0, interrupts: 0 };
  readonly health = new HealthCounters();
  readonly registers: ControllerRegisters;
  readonly queues: QueueSet;
  readonly events: AsyncEvents;
  readonly errors: ErrorLog;
  features: FeatureState;
  /** Per-command scratch for admin data (identify, logs) and DSM ranges. */
  readonly scratch: Uint8Array;

  readonly #entry = new SubmissionEntry();
  readonly #interrupts: CompletionInterrupts;
  readonly #poller: Poller;
  readonly #burst: number;
  #device: VirtualDevice | undefined;
  #windows: DmaWindows | undefined;
  #prp: PrpWalker | undefined;
  #closed = false;

  constructor(options: NvmeModelOptions = {}) {
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
    const poll = pollDefaults(options.poll);
    this.#burst = poll.burst;
    const nsOpts = options.namespaces ?? [{}];
    if (nsOpts.length < 1 || nsOpts.length > 1024) throw fail('EINVAL', 'an NVMe controller model needs 1..1024 namespaces');
    try {
      nsOpts.forEach((o, i) => {
        this.namespaces.push(new Namespace(i + 1, o));
      });
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
      oncs: ONCS.COMPARE | ONCS.DSM | ONCS.WRITE_ZEROES,
      subnqn: `nqn.2024-01.dev.vfio-ts:nvme:${serial}`,
    };
    this.errors = new ErrorLog(this.identity.elpe + 1);
    this.features = defaultFeatures(vwc, maxIo);

    this.registers = new ControllerRegisters(entries, {
      disabled: (unsafe) => {
        if (unsafe) this.health.unsafeShutdowns++;
        this.controllerReset(false);
      },
      enabled: (asqs, acqs, pageSize) => this.#enable(asqs, acqs, pageSize),
      shutdown: () => this.#flushAll(),
      shutdownCleared: () => this.kick(),
      unmasked: () => this.#interrupts.updateIntx(),
    });
    this.queues = new QueueSet(maxIo, () =>
      this.raiseAsyncEvent(ASYNC_EVENT.TYPE_ERROR, ASYNC_EVENT.ERROR_INVALID_DOORBELL_VALUE, LOG.ERROR_INFO),
    );
    this.#interrupts = new CompletionInterrupts(this.queues, () => this.registers.intxMasked, this.stats);
    this.events = new AsyncEvents(
      this.queues,
      () => this.windows,
      () => this.#interrupts.raise(),
    );
    this.#poller = new Poller(poll, {
      active: () => !this.#closed && this.registers.ready,
      round: () => this.#round(),
      timerPolled: () => void this.stats.timerPolls++,
    });

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
        read: (offset, dst) => this.registers.read(offset, dst),
        write: (offset, src) => this.registers.write(offset, src),
        mappable: [{ offset: DOORBELL_OFFSET, size: DOORBELL_PAGE_SIZE }],
        mappedWrite: () => this.kick(),
      },
    };
  }

  // ------------------------------------------------------------ framework hooks

  attach(device: VirtualDevice): void {
    this.#device = device;
    this.#interrupts.device = device;
    this.#windows = new DmaWindows(device.dma);
    this.#prp = new PrpWalker(this.#windows, Math.max(this.maxTransfer, 64 * 1024));
    this.#refreshDoorbells();
  }

  reset(reason: ResetReason): void {
    this.controllerReset(reason === 'release');
    this.registers.clear();
    if (reason === 'release') {
      this.#windows?.clear();
      this.#refreshDoorbells();
    }
  }

  ownerChanged(): void {
    this.#windows?.clear();
  }

  commandChanged(command: number, previous: number): void {
    if ((command & 0x4) !== 0 && (previous & 0x4) === 0) this.kick();
  }

  /** Releases the namespaces' backing (files) and stops polling. */
  close(): void {
    this.#closed = true;
    this.#poller.stop();
    for (const ns of this.namespaces) ns.close();
  }

  #refreshDoorbells(): void {
    const mem = this.#device?.barMemory(0);
    this.queues.doorbells = mem
      ? new Uint32Array(mem.buffer, mem.byteOffset + DOORBELL_OFFSET, DOORBELL_PAGE_SIZE / 4)
      : new Uint32Array(0);
  }

  // ------------------------------------------------------------ controller states

  get ready(): boolean {
    return this.registers.ready;
  }

  /** CC as the host wrote it. */
  get cc(): number {
    return this.registers.cc;
  }

  /** Memory page size from CC.MPS. */
  get pageSize(): number {
    return this.registers.pageSize;
  }

  /** CC.EN 0->1 accepted: the admin queues exist from now on. */
  #enable(asqs: number, acqs: number, pageSize: number): void {
    this.prp.pageSize = pageSize;
    const acq = new CompletionQueue(0, acqs, this.registers.acq, true, 0);
    const asq = new SubmissionQueue(0, asqs, this.registers.asq, acq, 0);
    this.queues.addCq(acq);
    this.queues.addSq(asq);
    this.kick();
  }

  /** Shutdown: the backings are flushed (a failure is reported, the shutdown completes anyway). */
  #flushAll(): void {
    for (const ns of this.namespaces) {
      try {
        ns.backing.flush();
      } catch (cause) {
        this.#device?.warn({ code: 'model-error', message: `NVMe: flushing namespace ${ns.nsid} at shutdown failed`, cause });
      }
    }
  }

  /** Controller reset: queues deleted, AERs dropped, doorbells zeroed (unless the client left), features back to defaults. */
  controllerReset(release: boolean): void {
    this.#poller.stop();
    this.queues.clear(release);
    this.events.clear();
    this.#interrupts.deassert();
    this.features = defaultFeatures(this.identity.volatileWriteCache, this.maxIoQueues);
  }

  #fatal(message: string): void {
    this.registers.setFatal();
    this.#poller.stop();
    this.#device?.warn({ code: 'model-error', message: `NVMe controller fatal status: ${message}` });
  }

  /** Queues an asynchronous event; it completes an outstanding Asynchronous Event Request now or later. */
  raiseAsyncEvent(type: number, info: number, logPage: number): void {
    if (!this.ready) return;
    this.events.raise(type, info, logPage);
    this.kick();
  }

  // ------------------------------------------------------------ processing

  /** Polls at once (a doorbell was written through a message, bus mastering came on, ...). */
  kick(): void {
    this.#poller.kick();
  }

  #round(): number {
    if (this.registers.fatal || this.queues.sqList.length === 0) return -1;
    const n = this.registers.shutDown || !this.#device!.config.busMaster ? 0 : this.pollOnce();
    return this.registers.fatal ? -1 : n;
  }

  /** One round over every submission queue. Returns the commands completed. */
  pollOnce(): number {
    this.stats.polls++;
    const list = this.queues.sqList;
    let total = 0;
    for (let i = 0; i < list.length; i++) {
      const sq = list[i]!;
      if (this.queues.sq(sq.qid) !== sq) continue; // deleted during this round
      total += this.#processSq(sq);
      if (this.registers.fatal) return total;
    }
    if (total > 0) {
      this.stats.busyPolls++;
      this.stats.commands += total;
      this.#interrupts.raise();
    } else if (this.#device!.irq.intxAsserted) {
      this.#interrupts.updateIntx();
    }
    return total;
  }

  #processSq(sq: SubmissionQueue): number {
    const queues = this.queues;
    queues.refreshSqTail(sq);
    if (sq.head === sq.tail) return 0;
    const cq = sq.cq;
    const windows = this.windows;
    if (sq.dw.length === 0 && !sq.resolve(windows)) {
      this.#fatal(`submission queue ${sq.qid} at ${hex(sq.base)} is not in the client's DMA memory`);
      return 0;
    }
    if (cq.dw.length === 0 && !cq.resolve(windows)) {
      this.#fatal(`completion queue ${cq.qid} at ${hex(cq.base)} is not in the client's DMA memory`);
      return 0;
    }
    const cmd = this.#entry;
    const burst = this.#burst;
    const admin = sq.qid === 0;
    let n = 0;
    while (sq.head !== sq.tail && n < burst) {
      if (cq.full) {
        queues.refreshCqHead(cq);
        if (cq.full) break;
      }
      cmd.load(sq.dw, sq.head * SQE_DWORDS, sq.qid);
      if (++sq.head === sq.size) sq.head = 0;
      n++;
      let st: number;
      try {
        st = admin ? executeAdmin(this, cmd) : executeIo(this, cmd);
      } catch (cause) {
        st = ST.INTERNAL_ERROR;
        this.#device!.warn({ code: 'model-error', message: `NVMe: command ${cmd.opc} on queue ${sq.qid} failed`, cause });
      }
      if (st === DEFERRED) continue;
      if (queues.sq(sq.qid) !== sq && !admin) return n; // deleted (cannot happen for I/O commands)
      cq.post(cmd.result, sq.head, sq.qid, cmd.cid, st);
      if (st !== 0) this.errors.record(sq.qid, cmd.cid, st, cmd.nsid);
    }
    if (admin) {
      this.stats.adminCommands += n;
      if (this.events.deliverable) this.events.deliver();
    }
    return n;
  }

  // ------------------------------------------------------------ the command handlers' view (CommandContext)

  get windows(): DmaWindows {
    if (this.#windows === undefined) throw fail('ENODEV', 'the NVMe model is not attached to a device');
    return this.#windows;
  }

  get prp(): PrpWalker {
    if (this.#prp === undefined) throw fail('ENODEV', 'the NVMe model is not attached to a device');
    return this.#prp;
  }

  namespace(nsid: number): Namespace | undefined {
    return nsid >= 1 && nsid <= this.namespaces.length ? this.namespaces[nsid - 1] : undefined;
  }

  toHost(cmd: SubmissionEntry, src: Uint8Array, len: number): number {
    const prp = this.prp;
    const st = prp.walk(cmd.prp1, cmd.prp2, len, true);
    if (st !== 0) return st;
    prp.scatter(src.subarray(0, len));
    return 0;
  }

  fromHost(cmd: SubmissionEntry, dst: Uint8Array, len: number): number {
    const prp = this.prp;
    const st = prp.walk(cmd.prp1, cmd.prp2, len, false);
    if (st !== 0) return st;
    prp.gather(dst.subarray(0, len));
    return 0;
  }

  /** DMA window lookups that went to the framework (for measurements). */
  get windowMisses(): number {
    return this.#windows?.misses ?? 0;
  }
}
