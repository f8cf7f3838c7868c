// Vendor-specific capability (ID 0x09).
//
// Layout: ID, next, length (of the whole capability), then vendor bytes. A
// declared vendor capability is read-only unless it declares a write mask for
// its vendor bytes; writable bits pass through to the backing, where the
// device sees them (the kernel writes vendor capabilities raw to the device).
// A vendor capability found in a raw config space (no declaration) keeps the
// kernel's rule: every vendor byte is writable through to the device. The
// header bytes (ID, next, length) are never writable.

import { layoutError } from '../layout-error.js';
import { capPerms, Region, type Engine, type RegionSpec } from '../region.js';
import { PCI_CAP_FLAGS, PCI_CAP_ID_VNDR } from '../regs.js';
import { ImageWriter, type CapImage } from './image.js';

/** Declares a vendor-specific capability with its data bytes and their writable bits. */
export interface VendorDecl {
  id: 'vendor';
  offset?: number;
  /** Vendor bytes after the 3-byte header (ID, next, length). */
  data: Uint8Array | readonly number[];
  /** Per-byte writable bits for `data` (default: read-only). */
  writeMask?: Uint8Array | readonly number[];
}

/** Vendor bytes start after ID, next and length. */
export const VENDOR_DATA_OFFSET = 3;

export function encodeVendor(d: VendorDecl): CapImage {
  const data = Uint8Array.from(d.data ?? []);
  const len = VENDOR_DATA_OFFSET + data.length;
  if (len > 0xc0) throw layoutError('bad-value', `vendor capability of ${len} bytes cannot fit in config space`);
  const mask = d.writeMask ? Uint8Array.from(d.writeMask) : new Uint8Array(data.length);
  if (mask.length !== data.length) throw layoutError('bad-value', 'vendor capability writeMask must be as long as data');
  const img = new ImageWriter(len).b(PCI_CAP_FLAGS, len);
  img.bytes.set(data, VENDOR_DATA_OFFSET);
  img.writable.set(mask, VENDOR_DATA_OFFSET);
  const userWrite = new Uint8Array(len);
  userWrite.set(mask, VENDOR_DATA_OFFSET);
  return { id: PCI_CAP_ID_VNDR, extended: false, bytes: img.bytes, writable: img.writable, w1c: img.w1c, userWrite };
}

export class VendorRegion extends Region {
  constructor(engine: Engine, spec: RegionSpec) {
    const p = capPerms(spec);
    for (let i = VENDOR_DATA_OFFSET; i < spec.length; i++) {
      p.write[i] = spec.writeMask ? (spec.writeMask[i] ?? 0) : 0xff;
    }
    super(engine, spec, p);
  }
}
