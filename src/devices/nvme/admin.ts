// Admin commands (NVMe 1.4, 5): queue management, Identify, Get Log Page,
// Get/Set Features, Asynchronous Event Request and Abort. Each handler takes
// the decoded command, may set `cmd.result` (completion dword 0) and returns
// a status (0 for success) or DEFERRED (an AER held until an event).

import { ADMIN, CNS, CREATE_QUEUE, FEATURE, FEATURE_SAVE, LOG, LOG_RAE } from '../../hw/nvme/commands.js';
import { CQES_LOG2, SQES_LOG2 } from '../../hw/nvme/entries.js';
import { IDENTIFY_SIZE } from '../../hw/nvme/identify.js';
import { ccIocqes, ccIosqes } from '../../hw/nvme/regs.js';
import type { CommandContext } from './context.js';
import { activeNamespaceList, identifyController, identifyNamespace, namespaceDescriptors } from './identify.js';
import { errorLog, firmwareSlotLog, smartLog } from './logs.js';
import { CompletionQueue, SubmissionQueue } from './queues.js';
import { ST } from './status.js';
import { DEFERRED, type SubmissionEntry } from './submission-entry.js';

const TWO32 = 4294967296;

export function executeAdmin(c: CommandContext, cmd: SubmissionEntry): number {
  if (cmd.fuse !== 0 || cmd.psdt !== 0) return ST.INVALID_FIELD;
  switch (cmd.opc) {
    case ADMIN.DELETE_IO_SQ:
      return deleteSq(c, cmd);
    case ADMIN.CREATE_IO_SQ:
      return createSq(c, cmd);
    case ADMIN.GET_LOG_PAGE:
      return getLogPage(c, cmd);
    case ADMIN.DELETE_IO_CQ:
      return deleteCq(c, cmd);
    case ADMIN.CREATE_IO_CQ:
      return createCq(c, cmd);
    case ADMIN.IDENTIFY:
      return identify(c, cmd);
    case ADMIN.ABORT:
      return abort(c, cmd);
    case ADMIN.SET_FEATURES:
      return setFeatures(c, cmd);
    case ADMIN.GET_FEATURES:
      return getFeatures(c, cmd);
    case ADMIN.ASYNC_EVENT_REQUEST:
      return asyncEventRequest(c, cmd);
    default:
      return ST.INVALID_OPCODE;
  }
}

// ------------------------------------------------------------ queues

function createCq(c: CommandContext, cmd: SubmissionEntry): number {
  const qid = cmd.cdw10 & 0xffff;
  const entries = (cmd.cdw10 >>> 16) + 1;
  const pc = (cmd.cdw11 & CREATE_QUEUE.PC) !== 0;
  const ien = (cmd.cdw11 & CREATE_QUEUE.IEN) !== 0;
  const iv = cmd.cdw11 >>> CREATE_QUEUE.ID_SHIFT;
  if (qid === 0 || qid > c.features.ioCqs || c.queues.cq(qid) !== undefined) return ST.INVALID_QUEUE_ID;
  if (entries < 2 || entries > c.maxQueueEntries) return ST.INVALID_QUEUE_SIZE;
  if (!pc) return ST.INVALID_FIELD; // CAP.CQR: physically contiguous queues only
  if (ien && iv >= c.msixVectors) return ST.INVALID_INTERRUPT_VECTOR;
  if (ccIocqes(c.cc) !== CQES_LOG2) return ST.INVALID_FIELD;
  if (cmd.prp1 === 0) return ST.INVALID_FIELD;
  if (cmd.prp1 % c.pageSize !== 0) return ST.INVALID_PRP_OFFSET;
  const cq = new CompletionQueue(qid, entries, cmd.prp1, ien, iv);
  if (!cq.resolve(c.windows)) return ST.DATA_TRANSFER_ERROR;
  c.queues.addCq(cq);
  return 0;
}

function createSq(c: CommandContext, cmd: SubmissionEntry): number {
  const qid = cmd.cdw10 & 0xffff;
  const entries = (cmd.cdw10 >>> 16) + 1;
  const pc = (cmd.cdw11 & CREATE_QUEUE.PC) !== 0;
  const prio = (cmd.cdw11 >>> CREATE_QUEUE.QPRIO_SHIFT) & 3;
  const cqid = cmd.cdw11 >>> CREATE_QUEUE.ID_SHIFT;
  if (qid === 0 || qid > c.features.ioSqs || c.queues.sq(qid) !== undefined) return ST.INVALID_QUEUE_ID;
  const cq = cqid === 0 ? undefined : c.queues.cq(cqid);
  if (cq === undefined) return ST.INVALID_CQ;
  if (entries < 2 || entries > c.maxQueueEntries) return ST.INVALID_QUEUE_SIZE;
  if (!pc) return ST.INVALID_FIELD;
  if (ccIosqes(c.cc) !== SQES_LOG2) return ST.INVALID_FIELD;
  if (cmd.prp1 === 0) return ST.INVALID_FIELD;
  if (cmd.prp1 % c.pageSize !== 0) return ST.INVALID_PRP_OFFSET;
  const sq = new SubmissionQueue(qid, entries, cmd.prp1, cq, prio);
  if (!sq.resolve(c.windows)) return ST.DATA_TRANSFER_ERROR;
  c.queues.addSq(sq);
  return 0;
}

function deleteSq(c: CommandContext, cmd: SubmissionEntry): number {
  const qid = cmd.cdw10 & 0xffff;
  const sq = qid === 0 ? undefined : c.queues.sq(qid);
  if (sq === undefined) return ST.INVALID_QUEUE_ID;
  // Commands are completed as they are fetched: none is outstanding to abort.
  c.queues.removeSq(sq);
  return 0;
}

function deleteCq(c: CommandContext, cmd: SubmissionEntry): number {
  const qid = cmd.cdw10 & 0xffff;
  const cq = qid === 0 ? undefined : c.queues.cq(qid);
  if (cq === undefined) return ST.INVALID_QUEUE_ID;
  if (cq.sqCount > 0) return ST.INVALID_QUEUE_DELETION;
  c.queues.removeCq(cq);
  return 0;
}

// ------------------------------------------------------------ identify

function identify(c: CommandContext, cmd: SubmissionEntry): number {
  const cns = cmd.cdw10 & 0xff;
  const b = c.scratch;
  const nn = c.namespaces.length;
  switch (cns) {
    case CNS.NAMESPACE: {
      if (cmd.nsid === 0 || cmd.nsid > nn) return ST.INVALID_NAMESPACE;
      identifyNamespace(b, c.namespace(cmd.nsid));
      break;
    }
    case CNS.CONTROLLER:
      identifyController(b, c.identity);
      break;
    case CNS.ACTIVE_NAMESPACES:
      if (cmd.nsid >= 0xfffffffe) return ST.INVALID_NAMESPACE;
      activeNamespaceList(
        b,
        c.namespaces.map((n) => n.nsid),
        cmd.nsid,
      );
      break;
    case CNS.NS_DESCRIPTORS: {
      const ns = c.namespace(cmd.nsid);
      if (!ns) return ST.INVALID_NAMESPACE;
      namespaceDescriptors(b, ns, c.identity.serial);
      break;
    }
    default:
      return ST.INVALID_FIELD;
  }
  return c.toHost(cmd, b, IDENTIFY_SIZE);
}

// ------------------------------------------------------------ log pages

function getLogPage(c: CommandContext, cmd: SubmissionEntry): number {
  const lid = cmd.cdw10 & 0xff;
  const rae = (cmd.cdw10 & LOG_RAE) !== 0;
  const numd = (cmd.cdw11 & 0xffff) * 65536 + (cmd.cdw10 >>> 16) + 1;
  const len = numd * 4;
  const off = cmd.cdw12 + cmd.cdw13 * TWO32;
  if (off % 4 !== 0 || len > c.maxTransfer) return ST.INVALID_FIELD;
  const b = c.scratch;
  let size: number;
  switch (lid) {
    case LOG.ERROR_INFO:
      size = 64 * c.errors.capacity;
      errorLog(b, c.errors.entries, c.errors.capacity);
      break;
    case LOG.SMART_HEALTH:
      size = 512;
      smartLog(b, c.health, c.errors.count);
      break;
    case LOG.FIRMWARE_SLOT:
      size = 512;
      firmwareSlotLog(b, c.identity.firmware);
      break;
    default:
      return ST.INVALID_LOG_PAGE;
  }
  if (off >= size) return ST.INVALID_FIELD;
  b.copyWithin(0, off, size);
  b.fill(0, size - off, Math.max(len, size - off));
  const st = c.toHost(cmd, b, len);
  if (st === 0 && !rae) c.events.acknowledgeLog(lid);
  return st;
}

// ------------------------------------------------------------ features

function setFeatures(c: CommandContext, cmd: SubmissionEntry): number {
  const fid = cmd.cdw10 & 0xff;
  if ((cmd.cdw10 & FEATURE_SAVE) !== 0) return ST.FEATURE_NOT_SAVEABLE;
  const v = cmd.cdw11;
  const f = c.features;
  switch (fid) {
    case FEATURE.ARBITRATION:
      f.arbitration = v >>> 0;
      return 0;
    case FEATURE.POWER_MANAGEMENT:
      if ((v & 0x1f) !== 0) return ST.INVALID_FIELD; // one power state
      f.powerState = v & 0xff;
      return 0;
    case FEATURE.TEMPERATURE_THRESHOLD: {
      const sel = (v >>> 16) & 0xf;
      const th = (v >>> 20) & 3;
      if (sel !== 0 || th > 1) return ST.INVALID_FIELD; // composite temperature only
      f.temperatureThreshold.set(th, v & 0xffff);
      return 0;
    }
    case FEATURE.ERROR_RECOVERY:
      f.errorRecovery = v & 0x1ffff;
      return 0;
    case FEATURE.VOLATILE_WRITE_CACHE:
      if (!c.identity.volatileWriteCache) return ST.INVALID_FIELD;
      f.writeCacheEnabled = (v & 1) !== 0;
      return 0;
    case FEATURE.NUMBER_OF_QUEUES: {
      const nsqr = v & 0xffff;
      const ncqr = v >>> 16;
      if (nsqr === 0xffff || ncqr === 0xffff) return ST.INVALID_FIELD;
      if (c.queues.sqList.length > 1 || c.queues.cqList.length > 1) return ST.COMMAND_SEQUENCE_ERROR;
      f.ioSqs = Math.min(nsqr + 1, c.maxIoQueues);
      f.ioCqs = Math.min(ncqr + 1, c.maxIoQueues);
      f.queuesRequested = true;
      cmd.result = ((f.ioSqs - 1) | ((f.ioCqs - 1) << 16)) >>> 0;
      return 0;
    }
    case FEATURE.INTERRUPT_COALESCING:
      f.interruptCoalescing = v & 0xffff;
      return 0;
    case FEATURE.INTERRUPT_VECTOR_CONFIG: {
      const iv = v & 0xffff;
      if (iv >= c.msixVectors) return ST.INVALID_FIELD;
      f.vectorConfig.set(iv, v & 0x1ffff);
      return 0;
    }
    case FEATURE.WRITE_ATOMICITY:
      f.writeAtomicity = v & 1;
      return 0;
    case FEATURE.ASYNC_EVENT_CONFIG:
      f.asyncEventConfig = v >>> 0;
      return 0;
    default:
      return ST.INVALID_FIELD;
  }
}

/** Every feature the model has (FEATURE lists exactly those). */
const FEATURES = new Set<number>(Object.values(FEATURE));

function getFeatures(c: CommandContext, cmd: SubmissionEntry): number {
  const fid = cmd.cdw10 & 0xff;
  const sel = (cmd.cdw10 >>> 8) & 7;
  const f = c.features;
  if (!FEATURES.has(fid) || sel > 3) return ST.INVALID_FIELD;
  if (fid === FEATURE.VOLATILE_WRITE_CACHE && !c.identity.volatileWriteCache) return ST.INVALID_FIELD;
  if (sel === 3) {
    // Supported capabilities: changeable, not saveable, not namespace specific.
    cmd.result = 0x4;
    return 0;
  }
  const dflt = sel === 1;
  switch (fid) {
    case FEATURE.ARBITRATION:
      cmd.result = dflt ? 0 : f.arbitration;
      break;
    case FEATURE.POWER_MANAGEMENT:
      cmd.result = dflt ? 0 : f.powerState;
      break;
    case FEATURE.TEMPERATURE_THRESHOLD: {
      const sel2 = (cmd.cdw11 >>> 16) & 0xf;
      const th = (cmd.cdw11 >>> 20) & 3;
      if (sel2 !== 0 || th > 1) return ST.INVALID_FIELD;
      const d = th === 0 ? 0x157 : 0;
      cmd.result = ((dflt ? d : (f.temperatureThreshold.get(th) ?? d)) | (th << 20)) >>> 0;
      break;
    }
    case FEATURE.ERROR_RECOVERY:
      cmd.result = dflt ? 0 : f.errorRecovery;
      break;
    case FEATURE.VOLATILE_WRITE_CACHE:
      cmd.result = (dflt ? c.identity.volatileWriteCache : f.writeCacheEnabled) ? 1 : 0;
      break;
    case FEATURE.NUMBER_OF_QUEUES: {
      const n = dflt ? c.maxIoQueues : 0;
      cmd.result = ((dflt ? n - 1 : f.ioSqs - 1) | ((dflt ? n - 1 : f.ioCqs - 1) << 16)) >>> 0;
      break;
    }
    case FEATURE.INTERRUPT_COALESCING:
      cmd.result = dflt ? 0 : f.interruptCoalescing;
      break;
    case FEATURE.INTERRUPT_VECTOR_CONFIG: {
      const iv = cmd.cdw11 & 0xffff;
      if (iv >= c.msixVectors) return ST.INVALID_FIELD;
      cmd.result = dflt ? iv : (f.vectorConfig.get(iv) ?? iv);
      break;
    }
    case FEATURE.WRITE_ATOMICITY:
      cmd.result = dflt ? 0 : f.writeAtomicity;
      break;
    case FEATURE.ASYNC_EVENT_CONFIG:
      cmd.result = dflt ? 0 : f.asyncEventConfig;
      break;
  }
  return 0;
}

// ------------------------------------------------------------ AER and Abort

function asyncEventRequest(c: CommandContext, cmd: SubmissionEntry): number {
  return c.events.request(cmd.cid, c.identity.aerl) ? DEFERRED : ST.ASYNC_EVENT_LIMIT_EXCEEDED;
}

function abort(c: CommandContext, cmd: SubmissionEntry): number {
  const sqid = cmd.cdw10 & 0xffff;
  const cid = cmd.cdw10 >>> 16;
  cmd.result = 1; // not aborted: every other command completed when it was fetched
  if (sqid === 0 && c.events.abort(cid)) cmd.result = 0;
  return 0;
}
