// Queue entries (NVMe 1.4, 4.2 and 4.6): the 64-byte submission queue entry
// and the 16-byte completion queue entry, as byte offsets of their fields.

/** Submission queue entry: 64 bytes (2^SQES_LOG2). Offsets of its fields. */
export const SQE = {
  SIZE: 64,
  CDW0: 0, // opcode 7:0, FUSE 9:8, PSDT 15:14, CID 31:16
  NSID: 4,
  CDW2: 8,
  CDW3: 12,
  MPTR: 16,
  PRP1: 24,
  PRP2: 32,
  CDW10: 40,
  CDW11: 44,
  CDW12: 48,
  CDW13: 52,
  CDW14: 56,
  CDW15: 60,
} as const;

/** Fields of SQE dword 0. */
export const SQE_CDW0 = {
  FUSE_SHIFT: 8,
  PSDT_SHIFT: 14,
  CID_SHIFT: 16,
} as const;

/** Completion queue entry: 16 bytes (2^CQES_LOG2). */
export const CQE = {
  SIZE: 16,
  DW0: 0, // command specific
  DW1: 4,
  SQHD: 8, // u16: SQ head pointer
  SQID: 10, // u16
  CID: 12, // u16
  STATUS: 14, // u16: phase tag bit 0, status field 15:1
} as const;

/** Fields of CQE dword 3: command id 15:0, phase tag 16, status field 31:17. */
export const CQE_DW3 = {
  PHASE_SHIFT: 16,
  STATUS_SHIFT: 17,
} as const;

/** Entry sizes as CC.IOSQES / CC.IOCQES and Identify SQES / CQES give them (log2 bytes). */
export const SQES_LOG2 = 6;
/** Completion queue entry size, log2 (16 bytes): CC.IOCQES. */
export const CQES_LOG2 = 4;
