// NVMe controller registers (NVMe 1.4 base specification, 3.1): offsets in
// BAR0, the fields of CAP, CC, CSTS and AQA, the version, the doorbells.
// Shared by the controller model (src/devices/nvme) and the driver
// (src/drivers/nvme).

/** Controller register offsets in BAR0. */
export const REG = {
  CAP: 0x00, // Controller Capabilities (64-bit, RO)
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

/** CAP fields: bit positions in the 64-bit register (and field widths). */
export const CAP = {
  MQES_SHIFT: 0, // 15:0, maximum queue entries, 0's based
  CQR_SHIFT: 16, // contiguous queues required
  AMS_SHIFT: 17, // 18:17
  TO_SHIFT: 24, // 31:24, ready timeout in 500 ms units
  DSTRD_SHIFT: 32, // 35:32, doorbell stride 4 << DSTRD
  NSSRS_SHIFT: 36, // NVM subsystem reset supported
  CSS_SHIFT: 37, // 44:37; bit 37 = NVM command set
  MPSMIN_SHIFT: 48, // 51:48, 2^(12 + MPSMIN)
  MPSMAX_SHIFT: 52, // 55:52
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

function field(raw: bigint, shift: number, bits: number): number {
  return Number((raw >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n));
}

/** Decodes the 64-bit CAP register into its fields. */
export function decodeCap(raw: bigint): Capabilities {
  return {
    raw,
    maxQueueEntries: field(raw, CAP.MQES_SHIFT, 16) + 1,
    contiguousQueuesRequired: field(raw, CAP.CQR_SHIFT, 1) === 1,
    timeoutMs: field(raw, CAP.TO_SHIFT, 8) * 500,
    doorbellStride: 4 << field(raw, CAP.DSTRD_SHIFT, 4),
    nssrSupported: field(raw, CAP.NSSRS_SHIFT, 1) === 1,
    commandSets: field(raw, CAP.CSS_SHIFT, 8),
    minPageSize: 2 ** (12 + field(raw, CAP.MPSMIN_SHIFT, 4)),
    maxPageSize: 2 ** (12 + field(raw, CAP.MPSMAX_SHIFT, 4)),
  };
}

/** CC fields. */
export const CC = {
  EN: 1 << 0,
  CSS_SHIFT: 4, // 6:4, 000b: NVM command set
  MPS_SHIFT: 7, // 10:7, memory page size = 2^(12 + MPS)
  AMS_SHIFT: 11, // 13:11, 000b: round robin
  SHN_SHIFT: 14, // 15:14: 00b none, 01b normal, 10b abrupt
  SHN_MASK: 3 << 14,
  SHN_NORMAL: 1 << 14,
  SHN_ABRUPT: 2 << 14,
  IOSQES_SHIFT: 16, // 19:16, 2^n bytes
  IOCQES_SHIFT: 20, // 23:20, 2^n bytes
} as const;

/** CC.CSS: the I/O command set selected. */
export function ccCss(cc: number): number {
  return (cc >>> CC.CSS_SHIFT) & 7;
}
/** CC.MPS: memory page size, as 2^(12 + MPS). */
export function ccMps(cc: number): number {
  return (cc >>> CC.MPS_SHIFT) & 0xf;
}
/** CC.AMS: the arbitration mechanism selected. */
export function ccAms(cc: number): number {
  return (cc >>> CC.AMS_SHIFT) & 7;
}
/** CC.SHN: the shutdown notification (0 none, 1 normal, 2 abrupt). */
export function ccShn(cc: number): number {
  return (cc >>> CC.SHN_SHIFT) & 3;
}
/** CC.IOSQES: I/O submission queue entry size, log2. */
export function ccIosqes(cc: number): number {
  return (cc >>> CC.IOSQES_SHIFT) & 0xf;
}
/** CC.IOCQES: I/O completion queue entry size, log2. */
export function ccIocqes(cc: number): number {
  return (cc >>> CC.IOCQES_SHIFT) & 0xf;
}

/** CSTS fields. */
export const CSTS = {
  RDY: 1 << 0,
  CFS: 1 << 1, // Controller Fatal Status
  SHST_SHIFT: 2,
  SHST_MASK: 3 << 2, // 00b normal, 01b processing, 10b complete
  SHST_OCCURRING: 1 << 2,
  SHST_COMPLETE: 2 << 2,
  NSSRO: 1 << 4,
  PP: 1 << 5,
} as const;

/** AQA fields (0's based queue sizes). */
export const AQA = {
  ASQS_MASK: 0xfff, // 11:0
  ACQS_SHIFT: 16, // 27:16 (same width)
} as const;

/** NVMe 1.4.0 in VS. */
export const NVME_VERSION_1_4 = 0x00010400;

/** "major.minor.tertiary" from the VS register. */
export function decodeVersion(vs: number): string {
  return `${vs >>> 16}.${(vs >>> 8) & 0xff}.${vs & 0xff}`;
}

/** Byte offset of SQ `qid`'s tail doorbell in BAR0 (stride: 4 << CAP.DSTRD). */
export function sqTailDoorbell(qid: number, stride: number): number {
  return REG.DOORBELLS + 2 * qid * stride;
}

/** Byte offset of CQ `qid`'s head doorbell in BAR0. */
export function cqHeadDoorbell(qid: number, stride: number): number {
  return REG.DOORBELLS + (2 * qid + 1) * stride;
}
