// NVMe completion status (NVMe 1.4 base specification, 4.6.1).
//
// A completion's Status Field is 15 bits: Status Code (SC, bits 7:0), Status
// Code Type (SCT, bits 10:8), Command Retry Delay (bits 12:11), More (bit 13)
// and Do Not Retry (DNR, bit 14). It sits in bits 31:17 of completion dword 3,
// above the Phase Tag (bit 16) and the Command Identifier (bits 15:0).
// Here a status is that 15-bit field as a number; 0 is success.

export const SCT_GENERIC = 0;
export const SCT_COMMAND_SPECIFIC = 1;
export const SCT_MEDIA = 2;

/** Do Not Retry, in the 15-bit Status Field. */
export const DNR = 1 << 14;

/** Builds a status field: SC, SCT, and DNR (set by default: retrying the same command fails the same way). */
export function status(sct: number, sc: number, dnr = true): number {
  return (sc & 0xff) | ((sct & 7) << 8) | (dnr ? DNR : 0);
}

export const SC_SUCCESS = 0;

// Generic command status (SCT 0).
export const ST = {
  SUCCESS: 0,
  INVALID_OPCODE: status(SCT_GENERIC, 0x01),
  INVALID_FIELD: status(SCT_GENERIC, 0x02),
  CID_CONFLICT: status(SCT_GENERIC, 0x03),
  DATA_TRANSFER_ERROR: status(SCT_GENERIC, 0x04, false),
  INTERNAL_ERROR: status(SCT_GENERIC, 0x06, false),
  ABORT_REQUESTED: status(SCT_GENERIC, 0x07, false),
  ABORTED_SQ_DELETION: status(SCT_GENERIC, 0x08, false),
  INVALID_NAMESPACE: status(SCT_GENERIC, 0x0b),
  COMMAND_SEQUENCE_ERROR: status(SCT_GENERIC, 0x0c),
  NS_WRITE_PROTECTED: status(SCT_GENERIC, 0x20),
  PRP_OFFSET_INVALID: status(SCT_GENERIC, 0x13),
  LBA_OUT_OF_RANGE: status(SCT_GENERIC, 0x80),
  CAPACITY_EXCEEDED: status(SCT_GENERIC, 0x81),
  // Command specific (SCT 1).
  CQ_INVALID: status(SCT_COMMAND_SPECIFIC, 0x00),
  INVALID_QID: status(SCT_COMMAND_SPECIFIC, 0x01),
  INVALID_QUEUE_SIZE: status(SCT_COMMAND_SPECIFIC, 0x02),
  ABORT_LIMIT_EXCEEDED: status(SCT_COMMAND_SPECIFIC, 0x03),
  AER_LIMIT_EXCEEDED: status(SCT_COMMAND_SPECIFIC, 0x05),
  INVALID_INTERRUPT_VECTOR: status(SCT_COMMAND_SPECIFIC, 0x08),
  INVALID_LOG_PAGE: status(SCT_COMMAND_SPECIFIC, 0x09),
  INVALID_QUEUE_DELETION: status(SCT_COMMAND_SPECIFIC, 0x0c),
  FEATURE_NOT_SAVEABLE: status(SCT_COMMAND_SPECIFIC, 0x0d),
  // Media and data integrity errors (SCT 2).
  COMPARE_FAILURE: status(SCT_MEDIA, 0x85),
} as const;

/** SCT of a status field. */
export function sctOf(st: number): number {
  return (st >>> 8) & 7;
}

/** SC of a status field. */
export function scOf(st: number): number {
  return st & 0xff;
}
