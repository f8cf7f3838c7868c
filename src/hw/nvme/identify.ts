// Identify data structures (NVMe 1.4, 5.15.2): byte offsets of the fields of
// Identify Controller (CNS 01h) and Identify Namespace (CNS 00h) that the
// model fills in and the driver reads, and their bit fields. Every structure
// is 4096 bytes.

/** Size of every Identify data structure: 4 KiB. */
export const IDENTIFY_SIZE = 4096;

/** The Identify Controller fields the model fills in and the driver decodes, by meaning. */
export interface ControllerIdentityFields {
  /** PCI vendor ID (VID) and subsystem vendor ID (SSVID). */
  vendorId: number;
  subsystemVendorId: number;
  /** Serial number, model number, firmware revision: ASCII (space padded on the wire). */
  serial: string;
  model: string;
  firmware: string;
  /** Maximum Data Transfer Size as a power of two of CAP.MPSMIN pages (0: no limit). */
  mdts: number;
  controllerId: number;
  /** Optional NVM Command Support (ONCS bits). */
  oncs: number;
  /** Volatile write cache present. */
  volatileWriteCache: boolean;
}

/** Identify Controller: field offsets (and lengths of the ASCII fields). */
export const ID_CTRL = {
  VID: 0, // u16
  SSVID: 2, // u16
  SN: 4, // ASCII, space padded
  SN_LEN: 20,
  MN: 24,
  MN_LEN: 40,
  FR: 64,
  FR_LEN: 8,
  RAB: 72,
  MDTS: 77, // log2 of CAP.MPSMIN pages (0: no limit)
  CNTLID: 78, // u16
  VER: 80, // u32
  CNTRLTYPE: 111,
  OACS: 256, // u16
  ACL: 258,
  AERL: 259,
  FRMW: 260,
  LPA: 261,
  ELPE: 262,
  NPSS: 263,
  WCTEMP: 266, // u16, kelvin
  CCTEMP: 268, // u16
  SQES: 512, // required 3:0, maximum 7:4 (log2 bytes)
  CQES: 513,
  MAXCMD: 514, // u16
  NN: 516, // u32
  ONCS: 520, // u16
  FUSES: 522, // u16
  FNA: 524,
  VWC: 525,
  SGLS: 536, // u32
  SUBNQN: 768, // NUL padded
  SUBNQN_LEN: 256,
  PSD0: 2048, // power state descriptor 0 (32 bytes)
} as const;

/** Optional NVM Command Support (ONCS) bits. */
export const ONCS = {
  COMPARE: 1 << 0,
  WRITE_UNCORRECTABLE: 1 << 1,
  DSM: 1 << 2,
  WRITE_ZEROES: 1 << 3,
} as const;

/** Volatile Write Cache (VWC) bits. */
export const VWC = {
  PRESENT: 1 << 0,
  /** Flush with NSID FFFFFFFFh supported (bits 2:1 = 11b). */
  FLUSH_ALL: 3 << 1,
} as const;

/** Identify Namespace: field offsets. */
export const ID_NS = {
  NSZE: 0, // u64, blocks
  NCAP: 8, // u64
  NUSE: 16, // u64
  NSFEAT: 24,
  NLBAF: 25, // number of LBA formats, 0's based
  FLBAS: 26, // format in use: 3:0
  MC: 27,
  DPC: 28,
  DPS: 29,
  NMIC: 30,
  DLFEAT: 33,
  NGUID: 104, // 16 bytes
  EUI64: 120, // 8 bytes
  LBAF: 128, // LBA format descriptors, 4 bytes each, up to 16
} as const;

/** An LBA format descriptor (u32): metadata size 15:0, LBA data size (log2) 23:16, relative performance 25:24. */
export const LBAF = {
  MS_MASK: 0xffff,
  LBADS_SHIFT: 16,
  RP_SHIFT: 24,
} as const;

/** DLFEAT: deallocated blocks read as zeros. */
export const DLFEAT_READ_ZEROES = 0x01;
