// Admin commands (NVMe 1.4 §5) over the admin queue pair: Identify, Set/Get
// Features, Create/Delete I/O Completion and Submission Queues. Each method
// builds the command dwords the spec lays out and executes it on the admin
// QueuePair (queue 0); data comes back through the slot's preallocated
// buffer, copied out before the slot is reused.

import { fail } from '../../errors.js';
import { ADMIN, CNS, CREATE_QUEUE, FEATURE } from '../../hw/nvme/commands.js';
import { IDENTIFY_SIZE } from '../../hw/nvme/identify.js';
import { hex } from '../../util/format.js';
import {
  parseIdentifyController,
  parseIdentifyNamespace,
  parseNamespaceList,
  type ControllerIdentity,
  type NamespaceIdentity,
} from './identify.js';
import type { Completion, NvmeCommand, QueuePair } from './queue.js';

/** The admin commands the driver issues, on the admin queue pair: Identify, queue creation and deletion, features, logs. */
export class AdminCommands {
  readonly queue: QueuePair;

  constructor(queue: QueuePair) {
    this.queue = queue;
  }

  /** Executes any admin command (resolves with its completion; NvmeError on an error status). */
  raw(cmd: NvmeCommand): Promise<Completion> {
    return this.queue.execute(cmd);
  }

  /** Identify with CNS `cns`: the IDENTIFY_SIZE-byte structure. */
  async identify(cns: number, nsid = 0, cntid = 0): Promise<Uint8Array> {
    const out = new Uint8Array(IDENTIFY_SIZE);
    await this.queue.execute({
      opcode: ADMIN.IDENTIFY,
      name: `Identify (CNS ${cns})`,
      nsid,
      cdw10: (cns & 0xff) | ((cntid & 0xffff) << 16),
      slotData: { length: IDENTIFY_SIZE, fill: (b) => b.fill(0), drain: (b) => out.set(b) },
    });
    return out;
  }

  async identifyController(): Promise<ControllerIdentity> {
    return parseIdentifyController(await this.identify(CNS.CONTROLLER));
  }

  async identifyNamespace(nsid: number): Promise<NamespaceIdentity> {
    return parseIdentifyNamespace(await this.identify(CNS.NAMESPACE, nsid));
  }

  /** Active namespace IDs (CNS 02h; needs NVMe 1.1). */
  async activeNamespaces(): Promise<number[]> {
    return parseNamespaceList(await this.identify(CNS.ACTIVE_NAMESPACES, 0));
  }

  async setFeatures(fid: number, cdw11: number, nsid = 0): Promise<number> {
    return (
      await this.queue.execute({ opcode: ADMIN.SET_FEATURES, name: `Set Features (FID ${hex(fid)})`, nsid, cdw10: fid & 0xff, cdw11 })
    ).dw0;
  }

  async getFeatures(fid: number, cdw11 = 0, nsid = 0): Promise<number> {
    return (
      await this.queue.execute({ opcode: ADMIN.GET_FEATURES, name: `Get Features (FID ${hex(fid)})`, nsid, cdw10: fid & 0xff, cdw11 })
    ).dw0;
  }

  /**
   * Set Features / Number of Queues: asks for `sq` submission and `cq`
   * completion queues (1-based here; 0's based on the wire) and returns what
   * the controller allocated (which may be more or fewer).
   */
  async setNumberOfQueues(sq: number, cq: number): Promise<{ sq: number; cq: number }> {
    if (sq < 1 || cq < 1 || sq > 65535 || cq > 65535) throw fail('EINVAL', `queue counts must be 1-65535, got ${sq}/${cq}`);
    const dw0 = await this.setFeatures(FEATURE.NUMBER_OF_QUEUES, ((cq - 1) << 16) | (sq - 1));
    return { sq: (dw0 & 0xffff) + 1, cq: (dw0 >>> 16) + 1 };
  }

  /** Create I/O Completion Queue: physically contiguous at `iova`, interrupts on `vector` (or none when vector < 0). */
  async createIoCq(qid: number, entries: number, iova: bigint, vector: number): Promise<void> {
    const ien = vector >= 0;
    await this.queue.execute({
      opcode: ADMIN.CREATE_IO_CQ,
      name: `Create I/O CQ ${qid}`,
      data: { iova, length: 1 }, // PRP1 = the queue's base (PC = 1: no list)
      cdw10: ((entries - 1) << 16) | (qid & 0xffff),
      cdw11: ((ien ? vector : 0) << CREATE_QUEUE.ID_SHIFT) | (ien ? CREATE_QUEUE.IEN : 0) | CREATE_QUEUE.PC,
    });
  }

  /** Create I/O Submission Queue: physically contiguous at `iova`, completing to `cqid`, priority 0 (urgent..low: 0-3). */
  async createIoSq(qid: number, entries: number, iova: bigint, cqid: number, priority = 0): Promise<void> {
    await this.queue.execute({
      opcode: ADMIN.CREATE_IO_SQ,
      name: `Create I/O SQ ${qid}`,
      data: { iova, length: 1 },
      cdw10: ((entries - 1) << 16) | (qid & 0xffff),
      cdw11: ((cqid & 0xffff) << CREATE_QUEUE.ID_SHIFT) | ((priority & 3) << CREATE_QUEUE.QPRIO_SHIFT) | CREATE_QUEUE.PC,
    });
  }

  async deleteIoSq(qid: number): Promise<void> {
    await this.queue.execute({ opcode: ADMIN.DELETE_IO_SQ, name: `Delete I/O SQ ${qid}`, cdw10: qid & 0xffff });
  }

  async deleteIoCq(qid: number): Promise<void> {
    await this.queue.execute({ opcode: ADMIN.DELETE_IO_CQ, name: `Delete I/O CQ ${qid}`, cdw10: qid & 0xffff });
  }
}
