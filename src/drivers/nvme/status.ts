// NVMe completion status (§4.6.1) decoded into typed errors.
//
// The 15-bit Status Field of a completion entry (bits 31:17 of DW3) holds the
// Status Code (SC, 8 bits), the Status Code Type (SCT, 3 bits: 0 generic,
// 1 command specific, 2 media and data integrity, 3 path related, 7 vendor
// specific), the Command Retry Delay (CRD, 2 bits), More (M) and Do Not
// Retry (DNR). A non-zero SCT/SC becomes an NvmeError whose `code` is stable
// (such as 'NVME_LBA_OUT_OF_RANGE') and whose message reads like the spec.
// Time-outs and controller failures have their own error classes.

import { VfioTsError } from '../../errors.js';

export const SCT = { GENERIC: 0, COMMAND_SPECIFIC: 1, MEDIA: 2, PATH: 3, VENDOR: 7 } as const;

/** The fields of a Status Field. */
export interface NvmeStatus {
  sct: number;
  sc: number;
  crd: number;
  more: boolean;
  dnr: boolean;
}

/** Decodes the 15-bit status field (the CQE's u16 at offset 14 shifted right by one, phase dropped). */
export function decodeStatus(field: number): NvmeStatus {
  return {
    sc: field & 0xff,
    sct: (field >>> 8) & 0x7,
    crd: (field >>> 11) & 0x3,
    more: ((field >>> 13) & 1) === 1,
    dnr: ((field >>> 14) & 1) === 1,
  };
}

/** The status field from the CQE's 16-bit word at offset 14 (phase tag in bit 0). */
export function statusFieldOf(cqeWord: number): number {
  return (cqeWord >>> 1) & 0x7fff;
}

/** True when the status field reports success (SCT 0, SC 0; CRD/M/DNR ignored). */
export function isSuccess(field: number): boolean {
  return (field & 0x7ff) === 0;
}

type Entry = readonly [code: string, message: string];

const GENERIC: Record<number, Entry> = {
  0x00: ['NVME_SUCCESS', 'Successful Completion'],
  0x01: ['NVME_INVALID_OPCODE', 'Invalid Command Opcode'],
  0x02: ['NVME_INVALID_FIELD', 'Invalid Field in Command'],
  0x03: ['NVME_CID_CONFLICT', 'Command ID Conflict'],
  0x04: ['NVME_DATA_TRANSFER_ERROR', 'Data Transfer Error'],
  0x05: ['NVME_ABORTED_POWER_LOSS', 'Commands Aborted due to Power Loss Notification'],
  0x06: ['NVME_INTERNAL_ERROR', 'Internal Error'],
  0x07: ['NVME_ABORT_REQUESTED', 'Command Abort Requested'],
  0x08: ['NVME_ABORTED_SQ_DELETION', 'Command Aborted due to SQ Deletion'],
  0x09: ['NVME_ABORTED_FAILED_FUSED', 'Command Aborted due to Failed Fused Command'],
  0x0a: ['NVME_ABORTED_MISSING_FUSED', 'Command Aborted due to Missing Fused Command'],
  0x0b: ['NVME_INVALID_NAMESPACE', 'Invalid Namespace or Format'],
  0x0c: ['NVME_COMMAND_SEQUENCE_ERROR', 'Command Sequence Error'],
  0x0d: ['NVME_INVALID_SGL_SEGMENT_DESCRIPTOR', 'Invalid SGL Segment Descriptor'],
  0x0e: ['NVME_INVALID_SGL_DESCRIPTOR_COUNT', 'Invalid Number of SGL Descriptors'],
  0x0f: ['NVME_INVALID_DATA_SGL_LENGTH', 'Data SGL Length Invalid'],
  0x10: ['NVME_INVALID_METADATA_SGL_LENGTH', 'Metadata SGL Length Invalid'],
  0x11: ['NVME_INVALID_SGL_DESCRIPTOR_TYPE', 'SGL Descriptor Type Invalid'],
  0x12: ['NVME_INVALID_CMB_USE', 'Invalid Use of Controller Memory Buffer'],
  0x13: ['NVME_INVALID_PRP_OFFSET', 'PRP Offset Invalid'],
  0x14: ['NVME_ATOMIC_WRITE_UNIT_EXCEEDED', 'Atomic Write Unit Exceeded'],
  0x15: ['NVME_OPERATION_DENIED', 'Operation Denied'],
  0x16: ['NVME_INVALID_SGL_OFFSET', 'SGL Offset Invalid'],
  0x18: ['NVME_HOST_ID_INCONSISTENT_FORMAT', 'Host Identifier Inconsistent Format'],
  0x19: ['NVME_KEEP_ALIVE_EXPIRED', 'Keep Alive Timer Expired'],
  0x1a: ['NVME_INVALID_KEEP_ALIVE_TIMEOUT', 'Keep Alive Timeout Invalid'],
  0x1b: ['NVME_ABORTED_PREEMPT', 'Command Aborted due to Preempt and Abort'],
  0x1c: ['NVME_SANITIZE_FAILED', 'Sanitize Failed'],
  0x1d: ['NVME_SANITIZE_IN_PROGRESS', 'Sanitize In Progress'],
  0x1e: ['NVME_INVALID_SGL_GRANULARITY', 'SGL Data Block Granularity Invalid'],
  0x1f: ['NVME_COMMAND_NOT_SUPPORTED_IN_CMB', 'Command Not Supported for Queue in CMB'],
  0x20: ['NVME_NAMESPACE_WRITE_PROTECTED', 'Namespace is Write Protected'],
  0x21: ['NVME_COMMAND_INTERRUPTED', 'Command Interrupted'],
  0x22: ['NVME_TRANSIENT_TRANSPORT_ERROR', 'Transient Transport Error'],
  // NVM command set
  0x80: ['NVME_LBA_OUT_OF_RANGE', 'LBA Out of Range'],
  0x81: ['NVME_CAPACITY_EXCEEDED', 'Capacity Exceeded'],
  0x82: ['NVME_NAMESPACE_NOT_READY', 'Namespace Not Ready'],
  0x83: ['NVME_RESERVATION_CONFLICT', 'Reservation Conflict'],
  0x84: ['NVME_FORMAT_IN_PROGRESS', 'Format In Progress'],
};

const COMMAND_SPECIFIC: Record<number, Entry> = {
  0x00: ['NVME_INVALID_CQ', 'Completion Queue Invalid'],
  0x01: ['NVME_INVALID_QUEUE_ID', 'Invalid Queue Identifier'],
  0x02: ['NVME_INVALID_QUEUE_SIZE', 'Invalid Queue Size'],
  0x03: ['NVME_ABORT_LIMIT_EXCEEDED', 'Abort Command Limit Exceeded'],
  0x05: ['NVME_ASYNC_EVENT_LIMIT_EXCEEDED', 'Asynchronous Event Request Limit Exceeded'],
  0x06: ['NVME_INVALID_FIRMWARE_SLOT', 'Invalid Firmware Slot'],
  0x07: ['NVME_INVALID_FIRMWARE_IMAGE', 'Invalid Firmware Image'],
  0x08: ['NVME_INVALID_INTERRUPT_VECTOR', 'Invalid Interrupt Vector'],
  0x09: ['NVME_INVALID_LOG_PAGE', 'Invalid Log Page'],
  0x0a: ['NVME_INVALID_FORMAT', 'Invalid Format'],
  0x0b: ['NVME_FIRMWARE_NEEDS_RESET', 'Firmware Activation Requires Conventional Reset'],
  0x0c: ['NVME_INVALID_QUEUE_DELETION', 'Invalid Queue Deletion'],
  0x0d: ['NVME_FEATURE_NOT_SAVEABLE', 'Feature Identifier Not Saveable'],
  0x0e: ['NVME_FEATURE_NOT_CHANGEABLE', 'Feature Not Changeable'],
  0x0f: ['NVME_FEATURE_NOT_NAMESPACE_SPECIFIC', 'Feature Not Namespace Specific'],
  0x10: ['NVME_FIRMWARE_NEEDS_SUBSYSTEM_RESET', 'Firmware Activation Requires NVM Subsystem Reset'],
  0x11: ['NVME_FIRMWARE_NEEDS_CONTROLLER_RESET', 'Firmware Activation Requires Controller Level Reset'],
  0x12: ['NVME_FIRMWARE_NEEDS_MAX_TIME_VIOLATION', 'Firmware Activation Requires Maximum Time Violation'],
  0x13: ['NVME_FIRMWARE_ACTIVATION_PROHIBITED', 'Firmware Activation Prohibited'],
  0x14: ['NVME_OVERLAPPING_RANGE', 'Overlapping Range'],
  0x15: ['NVME_NAMESPACE_INSUFFICIENT_CAPACITY', 'Namespace Insufficient Capacity'],
  0x16: ['NVME_NAMESPACE_ID_UNAVAILABLE', 'Namespace Identifier Unavailable'],
  0x18: ['NVME_NAMESPACE_ALREADY_ATTACHED', 'Namespace Already Attached'],
  0x19: ['NVME_NAMESPACE_IS_PRIVATE', 'Namespace Is Private'],
  0x1a: ['NVME_NAMESPACE_NOT_ATTACHED', 'Namespace Not Attached'],
  0x1b: ['NVME_THIN_PROVISIONING_NOT_SUPPORTED', 'Thin Provisioning Not Supported'],
  0x1c: ['NVME_INVALID_CONTROLLER_LIST', 'Controller List Invalid'],
  0x1d: ['NVME_SELF_TEST_IN_PROGRESS', 'Device Self-test In Progress'],
  0x1e: ['NVME_BOOT_PARTITION_WRITE_PROHIBITED', 'Boot Partition Write Prohibited'],
  0x1f: ['NVME_INVALID_CONTROLLER_ID', 'Invalid Controller Identifier'],
  0x20: ['NVME_INVALID_SECONDARY_CONTROLLER_STATE', 'Invalid Secondary Controller State'],
  0x21: ['NVME_INVALID_CONTROLLER_RESOURCES', 'Invalid Number of Controller Resources'],
  0x22: ['NVME_INVALID_RESOURCE_ID', 'Invalid Resource Identifier'],
  0x23: ['NVME_SANITIZE_PROHIBITED_PMR', 'Sanitize Prohibited While Persistent Memory Region is Enabled'],
  0x24: ['NVME_INVALID_ANA_GROUP_ID', 'ANA Group Identifier Invalid'],
  0x25: ['NVME_ANA_ATTACH_FAILED', 'ANA Attach Failed'],
  // NVM command set
  0x80: ['NVME_CONFLICTING_ATTRIBUTES', 'Conflicting Attributes'],
  0x81: ['NVME_INVALID_PROTECTION_INFO', 'Invalid Protection Information'],
  0x82: ['NVME_WRITE_TO_READ_ONLY_RANGE', 'Attempted Write to Read Only Range'],
};

const MEDIA: Record<number, Entry> = {
  0x80: ['NVME_WRITE_FAULT', 'Write Fault'],
  0x81: ['NVME_UNRECOVERED_READ_ERROR', 'Unrecovered Read Error'],
  0x82: ['NVME_GUARD_CHECK_ERROR', 'End-to-end Guard Check Error'],
  0x83: ['NVME_APP_TAG_CHECK_ERROR', 'End-to-end Application Tag Check Error'],
  0x84: ['NVME_REF_TAG_CHECK_ERROR', 'End-to-end Reference Tag Check Error'],
  0x85: ['NVME_COMPARE_FAILURE', 'Compare Failure'],
  0x86: ['NVME_ACCESS_DENIED', 'Access Denied'],
  0x87: ['NVME_DEALLOCATED_OR_UNWRITTEN', 'Deallocated or Unwritten Logical Block'],
};

const PATH: Record<number, Entry> = {
  0x00: ['NVME_INTERNAL_PATH_ERROR', 'Internal Path Error'],
  0x01: ['NVME_ANA_PERSISTENT_LOSS', 'Asymmetric Access Persistent Loss'],
  0x02: ['NVME_ANA_INACCESSIBLE', 'Asymmetric Access Inaccessible'],
  0x03: ['NVME_ANA_TRANSITION', 'Asymmetric Access Transition'],
  0x60: ['NVME_CONTROLLER_PATH_ERROR', 'Controller Pathing Error'],
  0x70: ['NVME_HOST_PATH_ERROR', 'Host Pathing Error'],
  0x71: ['NVME_ABORTED_BY_HOST', 'Command Aborted By Host'],
};

const SCT_NAMES = ['Generic Command Status', 'Command Specific Status', 'Media and Data Integrity Error', 'Path Related Status'];

/** The stable code and the spec's name for a status (unknown ones get NVME_STATUS_<sct>_<sc>). */
export function describeStatus(sct: number, sc: number): { code: string; name: string } {
  const table = sct === SCT.GENERIC ? GENERIC : sct === SCT.COMMAND_SPECIFIC ? COMMAND_SPECIFIC : sct === SCT.MEDIA ? MEDIA : sct === SCT.PATH ? PATH : undefined;
  const e = table?.[sc];
  if (e) return { code: e[0], name: e[1] };
  const hex = sc.toString(16).padStart(2, '0');
  if (sct === SCT.VENDOR) return { code: `NVME_VENDOR_${hex.toUpperCase()}`, name: `Vendor Specific status 0x${hex}` };
  return { code: `NVME_STATUS_${sct}_${hex.toUpperCase()}`, name: `${SCT_NAMES[sct] ?? `status code type ${sct}`} 0x${hex}` };
}

/** Where a failed command came from, for the message. */
export interface CommandContext {
  opcode: number;
  qid: number;
  cid: number;
  /** A readable name of the command ("Read", "Create I/O SQ"). */
  command?: string;
}

/** A command completed with an error status. */
export class NvmeError extends VfioTsError implements NvmeStatus {
  readonly sct: number;
  readonly sc: number;
  readonly crd: number;
  readonly more: boolean;
  readonly dnr: boolean;
  /** The raw 15-bit status field. */
  readonly status: number;
  readonly opcode: number;
  readonly qid: number;
  readonly cid: number;
  /** Command specific DW0 of the completion. */
  readonly dw0: number;

  constructor(field: number, ctx: CommandContext, dw0 = 0) {
    const s = decodeStatus(field);
    const { code, name } = describeStatus(s.sct, s.sc);
    const what = ctx.command ?? `opcode 0x${ctx.opcode.toString(16).padStart(2, '0')}`;
    super(
      code,
      `NVMe ${what} failed on queue ${ctx.qid}: ${name} (SCT ${s.sct}, SC 0x${s.sc.toString(16).padStart(2, '0')}${s.dnr ? ', do not retry' : ''})`,
    );
    this.sct = s.sct;
    this.sc = s.sc;
    this.crd = s.crd;
    this.more = s.more;
    this.dnr = s.dnr;
    this.status = field;
    this.opcode = ctx.opcode;
    this.qid = ctx.qid;
    this.cid = ctx.cid;
    this.dw0 = dw0;
  }
}

/** A command got no completion in time (code NVME_TIMEOUT). */
export class NvmeTimeoutError extends VfioTsError {
  readonly opcode: number;
  readonly qid: number;
  readonly cid: number;
  readonly timeoutMs: number;
  constructor(ctx: CommandContext, timeoutMs: number, detail = '') {
    const what = ctx.command ?? `opcode 0x${ctx.opcode.toString(16).padStart(2, '0')}`;
    super('NVME_TIMEOUT', `NVMe ${what} (queue ${ctx.qid}, command id ${ctx.cid}) got no completion within ${timeoutMs} ms${detail}`);
    this.opcode = ctx.opcode;
    this.qid = ctx.qid;
    this.cid = ctx.cid;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The controller itself failed or misbehaved: NVME_CONTROLLER_FATAL (CSTS.CFS),
 * NVME_READY_TIMEOUT (CSTS.RDY did not follow CC.EN within CAP.TO),
 * NVME_SHUTDOWN_TIMEOUT, NVME_DEVICE_GONE (registers read all ones),
 * NVME_UNSUPPORTED (a capability the driver needs is missing),
 * NVME_QUEUE_CLOSED (the queue was deleted under a command).
 */
export class NvmeControllerError extends VfioTsError {}
