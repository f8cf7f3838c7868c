// Identify data structures (NVMe 1.4 §5.15.2, layouts in src/hw/nvme): the
// 4096-byte answers to Identify Controller (CNS 01h) and Identify Namespace
// (CNS 00h), decoded into the fields a driver uses. Pure: parse a byte array.

import { ID_CTRL, ID_NS, IDENTIFY_SIZE, LBAF, ONCS, VWC, type ControllerIdentityFields } from '../../hw/nvme/identify.js';

/** What Identify Controller says, decoded. Serial, model and firmware come with their trailing spaces removed. */
export interface ControllerIdentity extends ControllerIdentityFields {
  /** VER register value reported here (0 before NVMe 1.2). */
  version: number;
  /** Optional Admin Command Support. */
  oacs: number;
  /** Submission / completion entry sizes: [required, maximum] as powers of two. */
  sqes: { min: number; max: number };
  cqes: { min: number; max: number };
  /** Maximum outstanding commands (0: not reported). */
  maxCommands: number;
  /** Number of Namespaces: the highest namespace ID. */
  namespaces: number;
  supportsDsm: boolean;
  supportsWriteZeroes: boolean;
}

const ascii = (b: Uint8Array, off: number, len: number): string => {
  let s = '';
  for (let i = off; i < off + len; i++) s += String.fromCharCode(b[i]!);
  return s.replace(/[\s\0]+$/, '');
};

/** Decodes an Identify Controller structure (at least 4096 bytes... 1024 are read). */
export function parseIdentifyController(b: Uint8Array): ControllerIdentity {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const oncs = v.getUint16(ID_CTRL.ONCS, true);
  return {
    vendorId: v.getUint16(ID_CTRL.VID, true),
    subsystemVendorId: v.getUint16(ID_CTRL.SSVID, true),
    serial: ascii(b, ID_CTRL.SN, ID_CTRL.SN_LEN),
    model: ascii(b, ID_CTRL.MN, ID_CTRL.MN_LEN),
    firmware: ascii(b, ID_CTRL.FR, ID_CTRL.FR_LEN),
    mdts: b[ID_CTRL.MDTS]!,
    controllerId: v.getUint16(ID_CTRL.CNTLID, true),
    version: v.getUint32(ID_CTRL.VER, true),
    oacs: v.getUint16(ID_CTRL.OACS, true),
    sqes: { min: b[ID_CTRL.SQES]! & 0xf, max: b[ID_CTRL.SQES]! >>> 4 },
    cqes: { min: b[ID_CTRL.CQES]! & 0xf, max: b[ID_CTRL.CQES]! >>> 4 },
    maxCommands: v.getUint16(ID_CTRL.MAXCMD, true),
    namespaces: v.getUint32(ID_CTRL.NN, true),
    oncs,
    volatileWriteCache: (b[ID_CTRL.VWC]! & VWC.PRESENT) !== 0,
    supportsDsm: (oncs & ONCS.DSM) !== 0,
    supportsWriteZeroes: (oncs & ONCS.WRITE_ZEROES) !== 0,
  };
}

/** One LBA format a namespace supports: block and metadata size. */
export interface LbaFormat {
  /** Metadata bytes per block. */
  metadataSize: number;
  /** Block size in bytes (2^LBADS). */
  blockSize: number;
  /** Relative performance (0 best .. 3 degraded). */
  relativePerformance: number;
}

/** What Identify Namespace says, decoded. */
export interface NamespaceIdentity {
  /** Namespace size, capacity and utilisation, in blocks. */
  size: bigint;
  capacity: bigint;
  utilization: bigint;
  features: number;
  /** Every LBA format (NLBAF + 1 of them). */
  formats: LbaFormat[];
  /** Index of the format in use (FLBAS bits 3:0). */
  formatIndex: number;
  /** Block size of the format in use. */
  blockSize: number;
  metadataSize: number;
  /** True when the namespace is inactive (an all-zero structure). */
  inactive: boolean;
}

/** Decodes an Identify Namespace structure. */
export function parseIdentifyNamespace(b: Uint8Array): NamespaceIdentity {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const nlbaf = b[ID_NS.NLBAF]! + 1;
  const formats: LbaFormat[] = [];
  for (let i = 0; i < Math.min(nlbaf, 16); i++) {
    const f = v.getUint32(ID_NS.LBAF + 4 * i, true);
    formats.push({
      metadataSize: f & LBAF.MS_MASK,
      blockSize: 2 ** ((f >>> LBAF.LBADS_SHIFT) & 0xff),
      relativePerformance: (f >>> LBAF.RP_SHIFT) & 3,
    });
  }
  const formatIndex = b[ID_NS.FLBAS]! & 0xf;
  const fmt = formats[formatIndex] ?? { metadataSize: 0, blockSize: 512, relativePerformance: 0 };
  const size = v.getBigUint64(ID_NS.NSZE, true);
  return {
    size,
    capacity: v.getBigUint64(ID_NS.NCAP, true),
    utilization: v.getBigUint64(ID_NS.NUSE, true),
    features: b[ID_NS.NSFEAT]!,
    formats,
    formatIndex,
    blockSize: fmt.blockSize,
    metadataSize: fmt.metadataSize,
    inactive: size === 0n,
  };
}

/** Decodes an Active Namespace ID list (CNS 02h): the non-zero IDs. */
export function parseNamespaceList(b: Uint8Array): number[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let off = 0; off + 4 <= Math.min(b.byteLength, IDENTIFY_SIZE); off += 4) {
    const id = v.getUint32(off, true);
    if (id === 0) break;
    out.push(id);
  }
  return out;
}
