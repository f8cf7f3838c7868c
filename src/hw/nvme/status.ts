// Completion status (NVMe 1.4 base specification, 4.6.1).
//
// A completion's Status Field is 15 bits: Status Code (SC, bits 7:0), Status
// Code Type (SCT, bits 10:8: 0 generic, 1 command specific, 2 media and data
// integrity, 3 path related, 7 vendor specific), Command Retry Delay (CRD,
// bits 12:11), More (M, bit 13) and Do Not Retry (DNR, bit 14). It sits in
// bits 31:17 of completion dword 3, above the phase tag. Here a status is that
// 15-bit field as a number; 0 is success.
//
// The status codes are listed once, by name: the model builds its statuses
// from SC.*, the driver's errors take their stable code (NVME_<name>) and
// message from the same tables.

import { hexDigits } from '../../util/format.js';

/** Status Code Types of a completion's status field. */
export const SCT = { GENERIC: 0, COMMAND_SPECIFIC: 1, MEDIA: 2, PATH: 3, VENDOR: 7 } as const;

/** Do Not Retry, in the 15-bit Status Field. */
export const DNR = 1 << 14;

/** The fields of a Status Field. */
export interface NvmeStatus {
  sct: number;
  sc: number;
  crd: number;
  more: boolean;
  dnr: boolean;
}

/** Builds a status field from SCT, SC and DNR. */
export function statusField(sct: number, sc: number, dnr: boolean): number {
  return (sc & 0xff) | ((sct & 7) << 8) | (dnr ? DNR : 0);
}

/** Decodes the 15-bit status field. */
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

type Table = Record<string, readonly [sc: number, name: string]>;

// name: [SC, the specification's name]
const GENERIC = {
  SUCCESS: [0x00, 'Successful Completion'],
  INVALID_OPCODE: [0x01, 'Invalid Command Opcode'],
  INVALID_FIELD: [0x02, 'Invalid Field in Command'],
  CID_CONFLICT: [0x03, 'Command ID Conflict'],
  DATA_TRANSFER_ERROR: [0x04, 'Data Transfer Error'],
  ABORTED_POWER_LOSS: [0x05, 'Commands Aborted due to Power Loss Notification'],
  INTERNAL_ERROR: [0x06, 'Internal Error'],
  ABORT_REQUESTED: [0x07, 'Command Abort Requested'],
  ABORTED_SQ_DELETION: [0x08, 'Command Aborted due to SQ Deletion'],
  ABORTED_FAILED_FUSED: [0x09, 'Command Aborted due to Failed Fused Command'],
  ABORTED_MISSING_FUSED: [0x0a, 'Command Aborted due to Missing Fused Command'],
  INVALID_NAMESPACE: [0x0b, 'Invalid Namespace or Format'],
  COMMAND_SEQUENCE_ERROR: [0x0c, 'Command Sequence Error'],
  INVALID_SGL_SEGMENT_DESCRIPTOR: [0x0d, 'Invalid SGL Segment Descriptor'],
  INVALID_SGL_DESCRIPTOR_COUNT: [0x0e, 'Invalid Number of SGL Descriptors'],
  INVALID_DATA_SGL_LENGTH: [0x0f, 'Data SGL Length Invalid'],
  INVALID_METADATA_SGL_LENGTH: [0x10, 'Metadata SGL Length Invalid'],
  INVALID_SGL_DESCRIPTOR_TYPE: [0x11, 'SGL Descriptor Type Invalid'],
  INVALID_CMB_USE: [0x12, 'Invalid Use of Controller Memory Buffer'],
  INVALID_PRP_OFFSET: [0x13, 'PRP Offset Invalid'],
  ATOMIC_WRITE_UNIT_EXCEEDED: [0x14, 'Atomic Write Unit Exceeded'],
  OPERATION_DENIED: [0x15, 'Operation Denied'],
  INVALID_SGL_OFFSET: [0x16, 'SGL Offset Invalid'],
  HOST_ID_INCONSISTENT_FORMAT: [0x18, 'Host Identifier Inconsistent Format'],
  KEEP_ALIVE_EXPIRED: [0x19, 'Keep Alive Timer Expired'],
  INVALID_KEEP_ALIVE_TIMEOUT: [0x1a, 'Keep Alive Timeout Invalid'],
  ABORTED_PREEMPT: [0x1b, 'Command Aborted due to Preempt and Abort'],
  SANITIZE_FAILED: [0x1c, 'Sanitize Failed'],
  SANITIZE_IN_PROGRESS: [0x1d, 'Sanitize In Progress'],
  INVALID_SGL_GRANULARITY: [0x1e, 'SGL Data Block Granularity Invalid'],
  COMMAND_NOT_SUPPORTED_IN_CMB: [0x1f, 'Command Not Supported for Queue in CMB'],
  NAMESPACE_WRITE_PROTECTED: [0x20, 'Namespace is Write Protected'],
  COMMAND_INTERRUPTED: [0x21, 'Command Interrupted'],
  TRANSIENT_TRANSPORT_ERROR: [0x22, 'Transient Transport Error'],
  // NVM command set
  LBA_OUT_OF_RANGE: [0x80, 'LBA Out of Range'],
  CAPACITY_EXCEEDED: [0x81, 'Capacity Exceeded'],
  NAMESPACE_NOT_READY: [0x82, 'Namespace Not Ready'],
  RESERVATION_CONFLICT: [0x83, 'Reservation Conflict'],
  FORMAT_IN_PROGRESS: [0x84, 'Format In Progress'],
} as const satisfies Table;

const COMMAND_SPECIFIC = {
  INVALID_CQ: [0x00, 'Completion Queue Invalid'],
  INVALID_QUEUE_ID: [0x01, 'Invalid Queue Identifier'],
  INVALID_QUEUE_SIZE: [0x02, 'Invalid Queue Size'],
  ABORT_LIMIT_EXCEEDED: [0x03, 'Abort Command Limit Exceeded'],
  ASYNC_EVENT_LIMIT_EXCEEDED: [0x05, 'Asynchronous Event Request Limit Exceeded'],
  INVALID_FIRMWARE_SLOT: [0x06, 'Invalid Firmware Slot'],
  INVALID_FIRMWARE_IMAGE: [0x07, 'Invalid Firmware Image'],
  INVALID_INTERRUPT_VECTOR: [0x08, 'Invalid Interrupt Vector'],
  INVALID_LOG_PAGE: [0x09, 'Invalid Log Page'],
  INVALID_FORMAT: [0x0a, 'Invalid Format'],
  FIRMWARE_NEEDS_RESET: [0x0b, 'Firmware Activation Requires Conventional Reset'],
  INVALID_QUEUE_DELETION: [0x0c, 'Invalid Queue Deletion'],
  FEATURE_NOT_SAVEABLE: [0x0d, 'Feature Identifier Not Saveable'],
  FEATURE_NOT_CHANGEABLE: [0x0e, 'Feature Not Changeable'],
  FEATURE_NOT_NAMESPACE_SPECIFIC: [0x0f, 'Feature Not Namespace Specific'],
  FIRMWARE_NEEDS_SUBSYSTEM_RESET: [0x10, 'Firmware Activation Requires NVM Subsystem Reset'],
  FIRMWARE_NEEDS_CONTROLLER_RESET: [0x11, 'Firmware Activation Requires Controller Level Reset'],
  FIRMWARE_NEEDS_MAX_TIME_VIOLATION: [0x12, 'Firmware Activation Requires Maximum Time Violation'],
  FIRMWARE_ACTIVATION_PROHIBITED: [0x13, 'Firmware Activation Prohibited'],
  OVERLAPPING_RANGE: [0x14, 'Overlapping Range'],
  NAMESPACE_INSUFFICIENT_CAPACITY: [0x15, 'Namespace Insufficient Capacity'],
  NAMESPACE_ID_UNAVAILABLE: [0x16, 'Namespace Identifier Unavailable'],
  NAMESPACE_ALREADY_ATTACHED: [0x18, 'Namespace Already Attached'],
  NAMESPACE_IS_PRIVATE: [0x19, 'Namespace Is Private'],
  NAMESPACE_NOT_ATTACHED: [0x1a, 'Namespace Not Attached'],
  THIN_PROVISIONING_NOT_SUPPORTED: [0x1b, 'Thin Provisioning Not Supported'],
  INVALID_CONTROLLER_LIST: [0x1c, 'Controller List Invalid'],
  SELF_TEST_IN_PROGRESS: [0x1d, 'Device Self-test In Progress'],
  BOOT_PARTITION_WRITE_PROHIBITED: [0x1e, 'Boot Partition Write Prohibited'],
  INVALID_CONTROLLER_ID: [0x1f, 'Invalid Controller Identifier'],
  INVALID_SECONDARY_CONTROLLER_STATE: [0x20, 'Invalid Secondary Controller State'],
  INVALID_CONTROLLER_RESOURCES: [0x21, 'Invalid Number of Controller Resources'],
  INVALID_RESOURCE_ID: [0x22, 'Invalid Resource Identifier'],
  SANITIZE_PROHIBITED_PMR: [0x23, 'Sanitize Prohibited While Persistent Memory Region is Enabled'],
  INVALID_ANA_GROUP_ID: [0x24, 'ANA Group Identifier Invalid'],
  ANA_ATTACH_FAILED: [0x25, 'ANA Attach Failed'],
  // NVM command set
  CONFLICTING_ATTRIBUTES: [0x80, 'Conflicting Attributes'],
  INVALID_PROTECTION_INFO: [0x81, 'Invalid Protection Information'],
  WRITE_TO_READ_ONLY_RANGE: [0x82, 'Attempted Write to Read Only Range'],
} as const satisfies Table;

const MEDIA = {
  WRITE_FAULT: [0x80, 'Write Fault'],
  UNRECOVERED_READ_ERROR: [0x81, 'Unrecovered Read Error'],
  GUARD_CHECK_ERROR: [0x82, 'End-to-end Guard Check Error'],
  APP_TAG_CHECK_ERROR: [0x83, 'End-to-end Application Tag Check Error'],
  REF_TAG_CHECK_ERROR: [0x84, 'End-to-end Reference Tag Check Error'],
  COMPARE_FAILURE: [0x85, 'Compare Failure'],
  ACCESS_DENIED: [0x86, 'Access Denied'],
  DEALLOCATED_OR_UNWRITTEN: [0x87, 'Deallocated or Unwritten Logical Block'],
} as const satisfies Table;

const PATH = {
  INTERNAL_PATH_ERROR: [0x00, 'Internal Path Error'],
  ANA_PERSISTENT_LOSS: [0x01, 'Asymmetric Access Persistent Loss'],
  ANA_INACCESSIBLE: [0x02, 'Asymmetric Access Inaccessible'],
  ANA_TRANSITION: [0x03, 'Asymmetric Access Transition'],
  CONTROLLER_PATH_ERROR: [0x60, 'Controller Pathing Error'],
  HOST_PATH_ERROR: [0x70, 'Host Pathing Error'],
  ABORTED_BY_HOST: [0x71, 'Command Aborted By Host'],
} as const satisfies Table;

function codes<T extends Table>(t: T): { readonly [K in keyof T]: number } {
  return Object.fromEntries(Object.entries(t).map(([k, [sc]]) => [k, sc])) as { [K in keyof T]: number };
}

/** Status codes by type and name: SC.GENERIC.INVALID_FIELD is 0x02. */
export const SC = {
  GENERIC: codes(GENERIC),
  COMMAND_SPECIFIC: codes(COMMAND_SPECIFIC),
  MEDIA: codes(MEDIA),
  PATH: codes(PATH),
} as const;

function bySc(t: Table): Map<number, readonly [name: string, title: string]> {
  return new Map(Object.entries(t).map(([k, [sc, title]]) => [sc, [k, title] as const]));
}

const BY_SCT = new Map([
  [SCT.GENERIC, bySc(GENERIC)],
  [SCT.COMMAND_SPECIFIC, bySc(COMMAND_SPECIFIC)],
  [SCT.MEDIA, bySc(MEDIA)],
  [SCT.PATH, bySc(PATH)],
] as const);

const SCT_NAMES = ['Generic Command Status', 'Command Specific Status', 'Media and Data Integrity Error', 'Path Related Status'];

/** The `code` of an NVMe error status: NVME_<name> of a status the tables name, else its numbers. */
export type NvmeStatusCode =
  | `NVME_${keyof typeof GENERIC | keyof typeof COMMAND_SPECIFIC | keyof typeof MEDIA | keyof typeof PATH}`
  | `NVME_VENDOR_${string}`
  | `NVME_STATUS_${number}_${string}`;

/** The stable code (NVME_<name>) and the specification's name of a status; unknown ones get NVME_STATUS_<sct>_<sc>. */
export function describeStatus(sct: number, sc: number): { code: NvmeStatusCode; name: string } {
  const e = BY_SCT.get(sct as 0 | 1 | 2 | 3)?.get(sc);
  if (e) return { code: `NVME_${e[0]}` as NvmeStatusCode, name: e[1] };
  const digits = hexDigits(sc, 2);
  if (sct === SCT.VENDOR) return { code: `NVME_VENDOR_${digits.toUpperCase()}`, name: `Vendor Specific status 0x${digits}` };
  return { code: `NVME_STATUS_${sct}_${digits.toUpperCase()}`, name: `${SCT_NAMES[sct] ?? `status code type ${sct}`} 0x${digits}` };
}
