// Device Serial Number extended capability.
//
// A 64-bit IEEE EUI-64 serial number in two dwords after the header. Read-only
// (the kernel presents it directly); the header dword is virtual like every
// extended capability's.

import { layoutError } from '../layout-error.js';
import { PCI_EXT_CAP_DSN_SIZEOF, PCI_EXT_CAP_ID_DSN } from '../regs.js';
import { ImageWriter, type CapImage } from './image.js';

/** Declares a Device Serial Number extended capability (a 64-bit serial). */
export interface DsnDecl {
  id: 'dsn';
  offset?: number;
  serial: bigint;
}

export function encodeDsn(d: DsnDecl): CapImage {
  if (typeof d.serial !== 'bigint' || d.serial < 0n || d.serial >= 1n << 64n) {
    throw layoutError('bad-value', 'DSN serial must be a bigint in 0..2^64-1');
  }
  const img = new ImageWriter(PCI_EXT_CAP_DSN_SIZEOF).d(4, Number(d.serial & 0xffffffffn)).d(8, Number(d.serial >> 32n));
  return { id: PCI_EXT_CAP_ID_DSN, extended: true, version: 1, bytes: img.bytes, writable: img.writable, w1c: img.w1c };
}

/** Decode the serial number from the capability's two data dwords. */
export function dsnSerial(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
