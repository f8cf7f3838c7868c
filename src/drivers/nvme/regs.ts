// NVMe 1.4 facts the driver needs: the controller registers of BAR0 (§3.1),
// the submission/completion entry layouts (§4.2, §4.6) and the opcodes of the
// admin (§5) and NVM (§6) command sets. Pure: numbers and decoders only.

/** Controller register offsets in BAR0. */
export const REG = {
  CAP: 0x00, // Controller Capabilities (64-bit)
  VS: 0x08, // Version
  INTMS: 0x0c, // Interrupt Mask Set (pin-based / MSI only)
  INTMC: 0x10, // Interrupt Mask Clear
  CC: 0x14, // Controller Configuration
  CSTS: 0x1c, // Controller Status
  NSSR: 0x20, // NVM Subsystem Reset
  AQA: 0x24, // Admin Queue Attributes
  ASQ: 0x28, // Admin Submission Queue Base Address (64-bit)
  ACQ: 0x30, // Admin Completion Queue Base Address (64-bit)
  DOORBELLS: 0x1000, // SQ y tail at 0x1000 + 2y*stride, CQ y head at 0x1000 + (2y+1)*stride
} as const;

/** CC bits. */
export const CC = {
  EN: 1 << 0,
  CSS_SHIFT: 4, // 000b: NVM command set
  MPS_SHIFT: 7, // memory page size = 2^(12 + MPS)
  AMS_SHIFT: 11, // 000b: round robin
  SHN_SHIFT: 14, // 01b normal shutdown, 10b abrupt
  SHN_MASK: 3 << 14,
  SHN_NORMAL: 1 << 14,
  SHN_ABRUPT: 2 << 14,
  IOSQES_SHIFT: 16, // 2^n bytes: 6 (64 bytes)
  IOCQES_SHIFT: 20, // 2^n bytes: 4 (16 bytes)
} as const;

/** CSTS bits. */
export const CSTS = {
  RDY: 1 << 0,
  CFS: 1 << 1, // Controller Fatal Status
  SHST_SHIFT: 2,
  SHST_MASK: 3 << 2, // 00b normal, 01b processing, 10b complete
  SHST_COMPLETE: 2 << 2,
  NSSRO: 1 << 4,
  PP: 1 << 5,
} as const;

/** Controller Capabilities, decoded. */
export interface Capabilities {
  raw: bigint;
  /** Maximum queue entries supported (MQES + 1: the field is 0's based). */
  maxQueueEntries: number;
  /** Physically contiguous queues required. */
  contiguousQueuesRequired: boolean;
  /** Worst-case time for CSTS.RDY to change after CC.EN does, in ms (TO is in 500 ms units). */
  timeoutMs: number;
  /** Doorbell stride in bytes (4 << DSTRD). */
  doorbellStride: number;
  /** NVM Subsystem Reset supported. */
  nssrSupported: boolean;
  /** Command sets supported (CSS bit field; bit 0 NVM). */
  commandSets: number;
  /** Smallest / largest memory page size, bytes (2^(12+MPSMIN), 2^(12+MPSMAX)). */
  minPageSize: number;
  maxPageSize: number;
}

export function decodeCap(raw: bigint): Capabilities {
  const lo = Number(raw & 0xffffffffn);
  const hi = Number(raw >> 32n);
  return {
    raw,
    maxQueueEntries: (lo & 0xffff) + 1,
    contiguousQueuesRequired: ((lo >>> 16) & 1) === 1,
    timeoutMs: ((lo >>> 24) & 0xff) * 500,
    doorbellStride: 4 << (hi & 0xf),
    nssrSupported: ((hi >>> 4) & 1) === 1,
    commandSets: (hi >>> 5) & 0xff,
    minPageSize: 1 << (12 + ((hi >>> 16) & 0xf)),
    maxPageSize: 2 ** (12 + ((hi >>> 20) & 0xf)),
  };
}

/** "major.minor.tertiary" from the VS register. */
export function decodeVersion(vs: number): string {
  return `${vs >>> 16}.${(vs >>> 8) & 0xff}.${vs & 0xff}`;
}

/** Byte offset of SQ `qid`'s tail doorbell in BAR0. */
export function sqTailDoorbell(qid: number, stride: number): number {
  return REG.DOORBELLS + 2 * qid * stride;
}

/** Byte offset of CQ `qid`'s head doorbell in BAR0. */
export function cqHeadDoorbell(qid: number, stride: number): number {
  return REG.DOORBELLS + (2 * qid + 1) * stride;
}

/** Submission queue entry: 64 bytes. Offsets of its fields. */
export const SQE = {
  SIZE: 64,
  CDW0: 0, // opcode 7:0, fused 9:8, PSDT 15:14, CID 31:16
  NSID: 4,
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

/** Completion queue entry: 16 bytes. */
export const CQE = {
  SIZE: 16,
  DW0: 0, // command specific
  DW1: 4,
  SQHD: 8, // u16: SQ head pointer
  SQID: 10, // u16
  CID: 12, // u16
  STATUS: 14, // u16: phase tag bit 0, status field 15:1
} as const;

export const ADMIN = {
  DELETE_IO_SQ: 0x00,
  CREATE_IO_SQ: 0x01,
  GET_LOG_PAGE: 0x02,
  DELETE_IO_CQ: 0x04,
  CREATE_IO_CQ: 0x05,
  IDENTIFY: 0x06,
  ABORT: 0x08,
  SET_FEATURES: 0x09,
  GET_FEATURES: 0x0a,
  ASYNC_EVENT_REQUEST: 0x0c,
} as const;

export const NVM = {
  FLUSH: 0x00,
  WRITE: 0x01,
  READ: 0x02,
  WRITE_UNCORRECTABLE: 0x04,
  COMPARE: 0x05,
  WRITE_ZEROES: 0x08,
  DATASET_MANAGEMENT: 0x09,
} as const;

/** Identify CNS values. */
export const CNS = {
  NAMESPACE: 0x00,
  CONTROLLER: 0x01,
  ACTIVE_NAMESPACES: 0x02,
} as const;

/** Feature identifiers. */
export const FEATURE = {
  ARBITRATION: 0x01,
  POWER_MANAGEMENT: 0x02,
  TEMPERATURE_THRESHOLD: 0x04,
  ERROR_RECOVERY: 0x05,
  VOLATILE_WRITE_CACHE: 0x06,
  NUMBER_OF_QUEUES: 0x07,
  INTERRUPT_COALESCING: 0x08,
} as const;

/** Optional NVM Command Support (Identify Controller ONCS) bits. */
export const ONCS = {
  COMPARE: 1 << 0,
  WRITE_UNCORRECTABLE: 1 << 1,
  DSM: 1 << 2,
  WRITE_ZEROES: 1 << 3,
} as const;
