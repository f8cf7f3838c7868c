// Identify data structures (NVMe 1.4, 5.15.2): the controller (CNS 01h),
// a namespace (CNS 00h), the active namespace list (CNS 02h) and the
// namespace identification descriptors (CNS 03h); layouts in src/hw/nvme.
// IDENTIFY_SIZE bytes each, built into a caller's buffer (admin path: not
// performance critical).

import { CQES_LOG2, SQES_LOG2 } from '../../hw/nvme/entries.js';
import { DLFEAT_READ_ZEROES, ID_CTRL, ID_NS, IDENTIFY_SIZE, LBAF, VWC, type ControllerIdentityFields } from '../../hw/nvme/identify.js';
import { NVME_VERSION_1_4 } from '../../hw/nvme/regs.js';
import type { Namespace } from './namespace.js';

export interface ControllerIdentity extends ControllerIdentityFields {
  namespaceCount: number;
  /** Abort Command Limit, Asynchronous Event Request Limit (0's based). */
  acl: number;
  aerl: number;
  /** Error Log Page Entries (0's based). */
  elpe: number;
  /** NVM Subsystem NQN. */
  subnqn: string;
}

function ascii(b: Uint8Array, off: number, len: number, s: string): void {
  // Space-padded, as the specification asks for SN, MN and FR.
  for (let i = 0; i < len; i++) b[off + i] = i < s.length ? s.charCodeAt(i) & 0x7f : 0x20;
}

export function identifyController(b: Uint8Array, id: ControllerIdentity): void {
  b.fill(0, 0, IDENTIFY_SIZE);
  const v = new DataView(b.buffer, b.byteOffset, IDENTIFY_SIZE);
  v.setUint16(ID_CTRL.VID, id.vendorId, true);
  v.setUint16(ID_CTRL.SSVID, id.subsystemVendorId, true);
  ascii(b, ID_CTRL.SN, ID_CTRL.SN_LEN, id.serial);
  ascii(b, ID_CTRL.MN, ID_CTRL.MN_LEN, id.model);
  ascii(b, ID_CTRL.FR, ID_CTRL.FR_LEN, id.firmware);
  b[ID_CTRL.RAB] = 0; // 1 command
  b[ID_CTRL.MDTS] = id.mdts;
  v.setUint16(ID_CTRL.CNTLID, id.controllerId, true);
  v.setUint32(ID_CTRL.VER, NVME_VERSION_1_4, true);
  b[ID_CTRL.CNTRLTYPE] = 1; // I/O controller
  v.setUint16(ID_CTRL.OACS, 0, true); // no optional admin commands
  b[ID_CTRL.ACL] = id.acl;
  b[ID_CTRL.AERL] = id.aerl;
  b[ID_CTRL.FRMW] = 0x03; // slot 1 read-only, one slot
  b[ID_CTRL.LPA] = 0x04; // extended data for Get Log Page (NUMDU, LPO)
  b[ID_CTRL.ELPE] = id.elpe;
  b[ID_CTRL.NPSS] = 0; // one power state
  v.setUint16(ID_CTRL.WCTEMP, 0x157, true); // 343 K
  v.setUint16(ID_CTRL.CCTEMP, 0x175, true); // 373 K
  b[ID_CTRL.SQES] = (SQES_LOG2 << 4) | SQES_LOG2;
  b[ID_CTRL.CQES] = (CQES_LOG2 << 4) | CQES_LOG2;
  v.setUint16(ID_CTRL.MAXCMD, 0, true); // not reported
  v.setUint32(ID_CTRL.NN, id.namespaceCount, true);
  v.setUint16(ID_CTRL.ONCS, id.oncs, true);
  v.setUint16(ID_CTRL.FUSES, 0, true);
  b[ID_CTRL.FNA] = 0;
  b[ID_CTRL.VWC] = id.volatileWriteCache ? VWC.PRESENT | VWC.FLUSH_ALL : 0x00;
  v.setUint32(ID_CTRL.SGLS, 0, true); // no SGLs
  // SUBNQN: NUL padded.
  for (let i = 0; i < Math.min(ID_CTRL.SUBNQN_LEN - 1, id.subnqn.length); i++) b[ID_CTRL.SUBNQN + i] = id.subnqn.charCodeAt(i) & 0x7f;
  // Power state descriptor 0: Maximum Power 25.00 W (centiwatts), operational.
  v.setUint16(ID_CTRL.PSD0, 2500, true);
}

export function identifyNamespace(b: Uint8Array, ns: Namespace | undefined): void {
  b.fill(0, 0, IDENTIFY_SIZE);
  if (!ns) return; // inactive: all zeros
  const v = new DataView(b.buffer, b.byteOffset, IDENTIFY_SIZE);
  const blocks = BigInt(ns.blocks);
  v.setBigUint64(ID_NS.NSZE, blocks, true);
  v.setBigUint64(ID_NS.NCAP, blocks, true);
  v.setBigUint64(ID_NS.NUSE, blocks, true);
  // NSFEAT 0; NLBAF 0: one format; FLBAS 0: format 0, no metadata; MC, DPC, DPS, NMIC 0.
  b[ID_NS.DLFEAT] = DLFEAT_READ_ZEROES;
  // NGUID and EUI64: derived from the nsid, stable.
  for (let i = 0; i < 16; i++) b[ID_NS.NGUID + i] = i < 12 ? 0x76 ^ i : 0;
  v.setUint32(ID_NS.NGUID + 12, ns.nsid, false);
  v.setUint32(ID_NS.EUI64, 0x0076_7473, false); // "vts" OUI-like prefix
  v.setUint32(ID_NS.EUI64 + 4, ns.nsid, false);
  // LBA format 0: no metadata, LBADS, Relative Performance 0 (best).
  v.setUint32(ID_NS.LBAF, (ns.lbaShift & 0xff) << LBAF.LBADS_SHIFT, true);
}

/** Active namespace IDs above `after`, ascending, up to 1024 (CNS 02h). */
export function activeNamespaceList(b: Uint8Array, nsids: readonly number[], after: number): void {
  b.fill(0, 0, IDENTIFY_SIZE);
  const v = new DataView(b.buffer, b.byteOffset, IDENTIFY_SIZE);
  let n = 0;
  for (const id of nsids) {
    if (id <= after) continue;
    if (n === 1024) break;
    v.setUint32(4 * n++, id, true);
  }
}

/** Namespace identification descriptors (CNS 03h): NGUID and UUID. */
export function namespaceDescriptors(b: Uint8Array, ns: Namespace, serial: string): void {
  b.fill(0, 0, IDENTIFY_SIZE);
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
