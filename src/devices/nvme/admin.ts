// Admin commands (NVMe 1.4, 5): queue management, Identify, Get Log Page,
// Get/Set Features, Asynchronous Event Request and Abort. Each handler takes
// the decoded command, may set `cmd.result` (completion dword 0) and returns
// a status (0 for success) or DEFERRED (an AER held until an event).

import { Command, DEFERRED } from './command.js';
import type { NvmeController } from './controller.js';
import { activeNamespaceList, identifyController, identifyNamespace, namespaceDescriptors } from './identify.js';
import { errorLog, firmwareSlotLog, smartLog } from './logs.js';
import { CompletionQueue, SubmissionQueue } from './queues.js';
import {
  ADMIN_ABORT,
  ADMIN_ASYNC_EVENT_REQUEST,
  ADMIN_CREATE_CQ,
  ADMIN_CREATE_SQ,
  ADMIN_DELETE_CQ,
  ADMIN_DELETE_SQ,
  ADMIN_GET_FEATURES,
  ADMIN_GET_LOG_PAGE,
  ADMIN_IDENTIFY,
  ADMIN_SET_FEATURES,
  ccIocqes,
  ccIosqes,
  CNS_ACTIVE_NS_LIST,
  CNS_CONTROLLER,
  CNS_NAMESPACE,
  CNS_NS_DESCRIPTORS,
  CQES_LOG2,
  FEAT_ARBITRATION,
  FEAT_ASYNC_EVENT_CONFIG,
  FEAT_ERROR_RECOVERY,
  FEAT_INTERRUPT_COALESCING,
  FEAT_INTERRUPT_VECTOR_CONFIG,
  FEAT_NUMBER_OF_QUEUES,
  FEAT_POWER_MANAGEMENT,
  FEAT_TEMPERATURE_THRESHOLD,
  FEAT_VOLATILE_WRITE_CACHE,
  FEAT_WRITE_ATOMICITY,
  LOG_ERROR_INFO,
  LOG_FIRMWARE_SLOT,
  LOG_SMART_HEALTH,
  SQES_LOG2,
} from './regs.js';
import { ST } from './status.js';

const TWO32 = 4294967296;

export function executeAdmin(c: NvmeController, cmd: Command): number {
  if (cmd.fuse !== 0 || cmd.psdt !== 0) return ST.INVALID_FIELD;
  switch (cmd.opc) {
    case ADMIN_DELETE_SQ:
      return deleteSq(c, cmd);
    case ADMIN_CREATE_SQ:
      return createSq(c, cmd);
    case ADMIN_GET_LOG_PAGE:
      return getLogPage(c, cmd);
    case ADMIN_DELETE_CQ:
      return deleteCq(c, cmd);
    case ADMIN_CREATE_CQ:
      return createCq(c, cmd);
    case ADMIN_IDENTIFY:
      return identify(c, cmd);
    case ADMIN_ABORT:
      return abort(c, cmd);
    case ADMIN_SET_FEATURES:
      return setFeatures(c, cmd);
    case ADMIN_GET_FEATURES:
      return getFeatures(c, cmd);
    case ADMIN_ASYNC_EVENT_REQUEST:
      return asyncEventRequest(c, cmd);
    default:
      return ST.INVALID_OPCODE;
  }
}

// ------------------------------------------------------------ queues

function createCq(c: NvmeController, cmd: Command): number {
  const qid = cmd.cdw10 & 0xffff;
  const entries = (cmd.cdw10 >>> 16) + 1;
  const pc = (cmd.cdw11 & 1) !== 0;
  const ien = (cmd.cdw11 & 2) !== 0;
  const iv = cmd.cdw11 >>> 16;
  if (qid === 0 || qid > c.features.ioCqs || c.cqs[qid] !== undefined) return ST.INVALID_QID;
  if (entries < 2 || entries > c.maxQueueEntries) return ST.INVALID_QUEUE_SIZE;
  if (!pc) return ST.INVALID_FIELD; // CAP.CQR: physically contiguous queues only
  if (ien && iv >= c.msixVectors) return ST.INVALID_INTERRUPT_VECTOR;
  if (ccIocqes(c.cc) !== CQES_LOG2) return ST.INVALID_FIELD;
  if (cmd.prp1 === 0) return ST.INVALID_FIELD;
  if (cmd.prp1 % c.pageSize !== 0) return ST.PRP_OFFSET_INVALID;
  const cq = new CompletionQueue(qid, entries, cmd.prp1, ien, iv);
  if (!cq.resolve(c.windows!)) return ST.DATA_TRANSFER_ERROR;
  c.addCq(cq);
  return 0;
}

function createSq(c: NvmeController, cmd: Command): number {
  const qid = cmd.cdw10 & 0xffff;
  const entries = (cmd.cdw10 >>> 16) + 1;
  const pc = (cmd.cdw11 & 1) !== 0;
  const prio = (cmd.cdw11 >>> 1) & 3;
  const cqid = cmd.cdw11 >>> 16;
  if (qid === 0 || qid > c.features.ioSqs || c.sqs[qid] !== undefined) return ST.INVALID_QID;
  const cq = cqid === 0 ? undefined : c.cqs[cqid];
  if (cq === undefined) return ST.CQ_INVALID;
  if (entries < 2 || entries > c.maxQueueEntries) return ST.INVALID_QUEUE_SIZE;
  if (!pc) return ST.INVALID_FIELD;
  if (ccIosqes(c.cc) !== SQES_LOG2) return ST.INVALID_FIELD;
  if (cmd.prp1 === 0) return ST.INVALID_FIELD;
  if (cmd.prp1 % c.pageSize !== 0) return ST.PRP_OFFSET_INVALID;
  const sq = new SubmissionQueue(qid, entries, cmd.prp1, cq, prio);
  if (!sq.resolve(c.windows!)) return ST.DATA_TRANSFER_ERROR;
  c.addSq(sq);
  return 0;
}

function deleteSq(c: NvmeController, cmd: Command): number {
  const qid = cmd.cdw10 & 0xffff;
  const sq = qid === 0 ? undefined : c.sqs[qid];
  if (sq === undefined) return ST.INVALID_QID;
  // Commands are completed as they are fetched: none is outstanding to abort.
  c.removeSq(sq);
  return 0;
}

function deleteCq(c: NvmeController, cmd: Command): number {
  const qid = cmd.cdw10 & 0xffff;
  const cq = qid === 0 ? undefined : c.cqs[qid];
  if (cq === undefined) return ST.INVALID_QID;
  if (cq.sqCount > 0) return ST.INVALID_QUEUE_DELETION;
  c.removeCq(cq);
  return 0;
}

// ------------------------------------------------------------ identify

function identify(c: NvmeController, cmd: Command): number {
  const cns = cmd.cdw10 & 0xff;
  const b = c.scratch;
  const nn = c.namespaces.length;
  switch (cns) {
    case CNS_NAMESPACE: {
      if (cmd.nsid === 0 || cmd.nsid > nn) return ST.INVALID_NAMESPACE;
      identifyNamespace(b, c.namespace(cmd.nsid));
      break;
    }
    case CNS_CONTROLLER:
      identifyController(b, c.identity);
      break;
    case CNS_ACTIVE_NS_LIST:
      if (cmd.nsid >= 0xfffffffe) return ST.INVALID_NAMESPACE;
      activeNamespaceList(b, c.namespaces.map((n) => n.nsid), cmd.nsid);
      break;
    case CNS_NS_DESCRIPTORS: {
      const ns = c.namespace(cmd.nsid);
      if (!ns) return ST.INVALID_NAMESPACE;
      namespaceDescriptors(b, ns, c.identity.serial);
      break;
    }
    default:
      return ST.INVALID_FIELD;
  }
  return c.toHost(cmd, b, 4096);
}

// ------------------------------------------------------------ log pages

function getLogPage(c: NvmeController, cmd: Command): number {
  const lid = cmd.cdw10 & 0xff;
  const rae = (cmd.cdw10 & (1 << 15)) !== 0;
  const numd = (cmd.cdw11 & 0xffff) * 65536 + (cmd.cdw10 >>> 16) + 1;
  const len = numd * 4;
  const off = cmd.cdw12 + cmd.cdw13 * TWO32;
  if (off % 4 !== 0 || len > c.maxTransfer) return ST.INVALID_FIELD;
  const b = c.scratch;
  let size: number;
  switch (lid) {
    case LOG_ERROR_INFO:
      size = 64 * (c.identity.elpe + 1);
      errorLog(b, c.errors, c.identity.elpe + 1);
      break;
    case LOG_SMART_HEALTH:
      size = 512;
      smartLog(b, c.health, c.errorCount);
      break;
    case LOG_FIRMWARE_SLOT:
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
  if (st === 0 && !rae) c.acknowledgeLog(lid);
  return st;
}

// ------------------------------------------------------------ features

function setFeatures(c: NvmeController, cmd: Command): number {
  const fid = cmd.cdw10 & 0xff;
  if ((cmd.cdw10 & 0x80000000) !== 0) return ST.FEATURE_NOT_SAVEABLE;
  const v = cmd.cdw11;
  const f = c.features;
  switch (fid) {
    case FEAT_ARBITRATION:
      f.arbitration = v >>> 0;
      return 0;
    case FEAT_POWER_MANAGEMENT:
      if ((v & 0x1f) !== 0) return ST.INVALID_FIELD; // one power state
      f.powerState = v & 0xff;
      return 0;
    case FEAT_TEMPERATURE_THRESHOLD: {
      const sel = (v >>> 16) & 0xf;
      const th = (v >>> 20) & 3;
      if (sel !== 0 || th > 1) return ST.INVALID_FIELD; // composite temperature only
      f.temperatureThreshold.set(th, v & 0xffff);
      return 0;
    }
    case FEAT_ERROR_RECOVERY:
      f.errorRecovery = v & 0x1ffff;
      return 0;
    case FEAT_VOLATILE_WRITE_CACHE:
      if (!c.identity.volatileWriteCache) return ST.INVALID_FIELD;
      f.writeCacheEnabled = (v & 1) !== 0;
      return 0;
    case FEAT_NUMBER_OF_QUEUES: {
      const nsqr = v & 0xffff;
      const ncqr = v >>> 16;
      if (nsqr === 0xffff || ncqr === 0xffff) return ST.INVALID_FIELD;
      if (c.sqList.length > 1 || c.cqList.length > 1) return ST.COMMAND_SEQUENCE_ERROR;
      f.ioSqs = Math.min(nsqr + 1, c.maxIoQueues);
      f.ioCqs = Math.min(ncqr + 1, c.maxIoQueues);
      f.queuesRequested = true;
      cmd.result = ((f.ioSqs - 1) | ((f.ioCqs - 1) << 16)) >>> 0;
      return 0;
    }
    case FEAT_INTERRUPT_COALESCING:
      f.interruptCoalescing = v & 0xffff;
      return 0;
    case FEAT_INTERRUPT_VECTOR_CONFIG: {
      const iv = v & 0xffff;
      if (iv >= c.msixVectors) return ST.INVALID_FIELD;
      f.vectorConfig.set(iv, v & 0x1ffff);
      return 0;
    }
    case FEAT_WRITE_ATOMICITY:
      f.writeAtomicity = v & 1;
      return 0;
    case FEAT_ASYNC_EVENT_CONFIG:
      f.asyncEventConfig = v >>> 0;
      return 0;
    default:
      return ST.INVALID_FIELD;
  }
}

const FEATURES = new Set([
  FEAT_ARBITRATION, FEAT_POWER_MANAGEMENT, FEAT_TEMPERATURE_THRESHOLD, FEAT_ERROR_RECOVERY, FEAT_VOLATILE_WRITE_CACHE,
  FEAT_NUMBER_OF_QUEUES, FEAT_INTERRUPT_COALESCING, FEAT_INTERRUPT_VECTOR_CONFIG, FEAT_WRITE_ATOMICITY, FEAT_ASYNC_EVENT_CONFIG,
]);

function getFeatures(c: NvmeController, cmd: Command): number {
  const fid = cmd.cdw10 & 0xff;
  const sel = (cmd.cdw10 >>> 8) & 7;
  const f = c.features;
  if (!FEATURES.has(fid) || sel > 3) return ST.INVALID_FIELD;
  if (fid === FEAT_VOLATILE_WRITE_CACHE && !c.identity.volatileWriteCache) return ST.INVALID_FIELD;
  if (sel === 3) {
    // Supported capabilities: changeable, not saveable, not namespace specific.
    cmd.result = 0x4;
    return 0;
  }
  const dflt = sel === 1;
  switch (fid) {
    case FEAT_ARBITRATION:
      cmd.result = dflt ? 0 : f.arbitration;
      break;
    case FEAT_POWER_MANAGEMENT:
      cmd.result = dflt ? 0 : f.powerState;
      break;
    case FEAT_TEMPERATURE_THRESHOLD: {
      const sel2 = (cmd.cdw11 >>> 16) & 0xf;
      const th = (cmd.cdw11 >>> 20) & 3;
      if (sel2 !== 0 || th > 1) return ST.INVALID_FIELD;
      const d = th === 0 ? 0x157 : 0;
      cmd.result = ((dflt ? d : f.temperatureThreshold.get(th) ?? d) | (th << 20)) >>> 0;
      break;
    }
    case FEAT_ERROR_RECOVERY:
      cmd.result = dflt ? 0 : f.errorRecovery;
      break;
    case FEAT_VOLATILE_WRITE_CACHE:
      cmd.result = (dflt ? c.identity.volatileWriteCache : f.writeCacheEnabled) ? 1 : 0;
      break;
    case FEAT_NUMBER_OF_QUEUES: {
      const n = dflt ? c.maxIoQueues : 0;
      cmd.result = ((dflt ? n - 1 : f.ioSqs - 1) | ((dflt ? n - 1 : f.ioCqs - 1) << 16)) >>> 0;
      break;
    }
    case FEAT_INTERRUPT_COALESCING:
      cmd.result = dflt ? 0 : f.interruptCoalescing;
      break;
    case FEAT_INTERRUPT_VECTOR_CONFIG: {
      const iv = cmd.cdw11 & 0xffff;
      if (iv >= c.msixVectors) return ST.INVALID_FIELD;
      cmd.result = dflt ? iv : f.vectorConfig.get(iv) ?? iv;
      break;
    }
    case FEAT_WRITE_ATOMICITY:
      cmd.result = dflt ? 0 : f.writeAtomicity;
      break;
    case FEAT_ASYNC_EVENT_CONFIG:
      cmd.result = dflt ? 0 : f.asyncEventConfig;
      break;
  }
  return 0;
}

// ------------------------------------------------------------ AER and Abort

function asyncEventRequest(c: NvmeController, cmd: Command): number {
  if (c.aers.length > c.identity.aerl) return ST.AER_LIMIT_EXCEEDED;
  c.aers.push(cmd.cid);
  return DEFERRED;
}

function abort(c: NvmeController, cmd: Command): number {
  const sqid = cmd.cdw10 & 0xffff;
  const cid = cmd.cdw10 >>> 16;
  cmd.result = 1; // not aborted: every other command completed when it was fetched
  if (sqid !== 0) return 0;
  const i = c.aers.indexOf(cid);
  const acq = c.cqs[0];
  if (i < 0 || !acq || acq.free < 2) return 0; // room for the AER's completion and the Abort's
  c.aers.splice(i, 1);
  acq.post(0, c.sqs[0]?.head ?? 0, 0, cid, ST.ABORT_REQUESTED);
  cmd.result = 0;
  return 0;
}
