// Identify data structures (NVMe 1.4, 5.15.2): the controller (CNS 01h),
// a namespace (CNS 00h), the active namespace list (CNS 02h) and the
// namespace identification descriptors (CNS 03h). 4096 bytes each, built
// into a caller's buffer (admin path: not performance critical).

import type { Namespace } from './namespace.js';
import { CQES_LOG2, NVME_VERSION_1_4, SQES_LOG2 } from './regs.js';

export interface ControllerIdentity {
  vendorId: number;
  subsystemVendorId: number;
  serial: string;
  model: string;
  firmware: string;
  /** Maximum Data Transfer Size, log2 of CAP.MPSMIN pages (0: no limit). */
  mdts: number;
  controllerId: number;
  namespaceCount: number;
  /** Abort Command Limit, Asynchronous Event Request Limit (0's based). */
  acl: number;
  aerl: number;
  /** Error Log Page Entries (0's based). */
  elpe: number;
  volatileWriteCache: boolean;
  /** ONCS bits. */
  oncs: number;
  /** NVM Subsystem NQN. */
  subnqn: string;
}

// ONCS bits.
export const ONCS_COMPARE = 1 << 0;
export const ONCS_DSM = 1 << 2;
export const ONCS_WRITE_ZEROES = 1 << 3;

function ascii(b: Uint8Array, off: number, len: number, s: string): void {
  // Space-padded, as the specification asks for SN, MN and FR.
  for (let i = 0; i < len; i++) b[off + i] = i < s.length ? s.charCodeAt(i) & 0x7f : 0x20;
}

export function identifyController(b: Uint8Array, id: ControllerIdentity): void {
  b.fill(0, 0, 4096);
  const v = new DataView(b.buffer, b.byteOffset, 4096);
  v.setUint16(0, id.vendorId, true); // VID
  v.setUint16(2, id.subsystemVendorId, true); // SSVID
  ascii(b, 4, 20, id.serial); // SN
  ascii(b, 24, 40, id.model); // MN
  ascii(b, 64, 8, id.firmware); // FR
  b[72] = 0; // RAB: 1 command
  b[77] = id.mdts; // MDTS
  v.setUint16(78, id.controllerId, true); // CNTLID
  v.setUint32(80, NVME_VERSION_1_4, true); // VER
  b[111] = 1; // CNTRLTYPE: I/O controller
  v.setUint16(256, 0, true); // OACS: no optional admin commands
  b[258] = id.acl; // ACL
  b[259] = id.aerl; // AERL
  b[260] = 0x03; // FRMW: slot 1 read-only, one slot
  b[261] = 0x04; // LPA: extended data for Get Log Page (NUMDU, LPO)
  b[262] = id.elpe; // ELPE
  b[263] = 0; // NPSS: one power state
  v.setUint16(266, 0x157, true); // WCTEMP 343 K
  v.setUint16(268, 0x175, true); // CCTEMP 373 K
  b[512] = (SQES_LOG2 << 4) | SQES_LOG2; // SQES
  b[513] = (CQES_LOG2 << 4) | CQES_LOG2; // CQES
  v.setUint16(514, 0, true); // MAXCMD (not reported)
  v.setUint32(516, id.namespaceCount, true); // NN
  v.setUint16(520, id.oncs, true); // ONCS
  v.setUint16(522, 0, true); // FUSES
  b[524] = 0; // FNA
  // VWC: present, and Flush with NSID FFFFFFFFh supported (bits 2:1 = 11b).
  b[525] = id.volatileWriteCache ? 0x07 : 0x00;
  v.setUint32(536, 0, true); // SGLS: no SGLs
  ascii(b, 768, 256, ''); // SUBNQN (NUL padded below)
  b.fill(0, 768, 1024);
  for (let i = 0; i < Math.min(255, id.subnqn.length); i++) b[768 + i] = id.subnqn.charCodeAt(i) & 0x7f;
  // Power state descriptor 0: Maximum Power 25.00 W (centiwatts), operational.
  v.setUint16(2048, 2500, true);
}

export function identifyNamespace(b: Uint8Array, ns: Namespace | undefined): void {
  b.fill(0, 0, 4096);
  if (!ns) return; // inactive: all zeros
  const v = new DataView(b.buffer, b.byteOffset, 4096);
  const blocks = BigInt(ns.blocks);
  v.setBigUint64(0, blocks, true); // NSZE
  v.setBigUint64(8, blocks, true); // NCAP
  v.setBigUint64(16, blocks, true); // NUSE
  b[24] = 0; // NSFEAT
  b[25] = 0; // NLBAF: one format
  b[26] = 0; // FLBAS: format 0, no metadata
  b[27] = 0; // MC
  b[28] = 0; // DPC
  b[29] = 0; // DPS
  b[30] = 0; // NMIC
  b[33] = 0x01; // DLFEAT: deallocated blocks read as zeros
  // NGUID (104..119) and EUI64 (120..127): derived from the nsid, stable.
  for (let i = 0; i < 16; i++) b[104 + i] = i < 12 ? 0x76 ^ i : 0;
  v.setUint32(116, ns.nsid, false);
  v.setUint32(120, 0x0076_7473, false); // "vts" OUI-like prefix
  v.setUint32(124, ns.nsid, false);
  // LBA format 0: no metadata, LBADS, Relative Performance 0 (best).
  v.setUint32(128, (ns.lbaShift & 0xff) << 16, true);
}

/** Active namespace IDs above `after`, ascending, up to 1024 (CNS 02h). */
export function activeNamespaceList(b: Uint8Array, nsids: readonly number[], after: number): void {
  b.fill(0, 0, 4096);
  const v = new DataView(b.buffer, b.byteOffset, 4096);
  let n = 0;
  for (const id of nsids) {
    if (id <= after) continue;
    if (n === 1024) break;
    v.setUint32(4 * n++, id, true);
  }
}

/** Namespace identification descriptors (CNS 03h): NGUID and UUID. */
export function namespaceDescriptors(b: Uint8Array, ns: Namespace, serial: string): void {
  b.fill(0, 0, 4096);
  // NIDT 02h NGUID, NIDL 16, the same bytes as Identify Namespace's NGUID.
  b[0] = 0x02;
  b[1] = 16;
  for (let i = 0; i < 12; i++) b[4 + i] = 0x76 ^ i;
  new DataView(b.buffer, b.byteOffset).setUint32(16, ns.nsid, false);
  // NIDT 03h UUID (version 4 layout), derived from the serial and nsid.
  const u = 20;
  b[u] = 0x03;
  b[u + 1] = 16;
  let h = 0x811c9dc5;
  const src = `${serial}/${ns.nsid}`;
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < src.length; j++) h = Math.imul(h ^ src.charCodeAt(j) ^ i, 0x01000193) >>> 0;
    b[u + 4 + i] = h & 0xff;
  }
  b[u + 4 + 6] = (b[u + 4 + 6]! & 0x0f) | 0x40;
  b[u + 4 + 8] = (b[u + 4 + 8]! & 0x3f) | 0x80;
}
