// MSI-X capability.
//
// Message Control holds the table size (N-1), Function Mask and Enable; two
// dwords locate the vector table and the Pending Bit Array: BAR indicator
// (BIR) in bits 2:0, a qword-aligned offset above. Model (the kernel's): the
// capability is read-only to the user. Enable and Function Mask are hardware
// bits the interrupt API sets (the server calls ConfigSpace.setMsixEnabled /
// setMsixFunctionMask from SET_IRQS); the user's writes are dropped. The
// vector table and PBA themselves live in a BAR (see msix-table.ts).

import { layoutError } from '../layout-error.js';
import { capPerms, Region, type Engine, type RegionSpec } from '../region.js';
import type { BarSpec } from '../bars.js';
import {
  PCI_CAP_ID_MSIX,
  PCI_CAP_MSIX_SIZEOF,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSIX_FLAGS_QSIZE,
  PCI_MSIX_PBA,
  PCI_MSIX_PBA_BIR,
  PCI_MSIX_PBA_OFFSET,
  PCI_MSIX_TABLE,
  PCI_MSIX_TABLE_BIR,
  PCI_MSIX_TABLE_OFFSET,
} from '../regs.js';
import { ImageWriter, type CapImage } from './image.js';

/** Where an MSI-X structure (table or PBA) lives: BAR indicator and offset. */
export interface MsixLocation {
  /** BAR index (BIR). */
  bar: number;
  /** Byte offset inside the BAR, 8-byte aligned. */
  offset: number;
}

/** Declares an MSI-X capability, its table and its Pending Bit Array. */
export interface MsixDecl {
  id: 'msix';
  offset?: number;
  /** Number of table entries, 1..2048. */
  tableSize: number;
  table: MsixLocation;
  pba: MsixLocation;
}

/** Where the table and PBA live, decoded from the capability. */
export interface MsixInfo {
  tableSize: number;
  tableBar: number;
  tableOffset: number;
  /** Table length in bytes (16 per entry). */
  tableBytes: number;
  pbaBar: number;
  pbaOffset: number;
  /** PBA length in bytes (one qword per 64 entries). */
  pbaBytes: number;
}

/** MSI-X table length in bytes for `entries` vectors (16 per entry). */
export function msixTableBytes(entries: number): number {
  return entries * PCI_MSIX_ENTRY_SIZE;
}

/** Pending Bit Array length in bytes for `entries` vectors (one bit each, in whole qwords). */
export function msixPbaBytes(entries: number): number {
  return Math.ceil(entries / 64) * 8;
}

/** Validate the table and PBA against the device's BARs. */
export function validateMsix(d: MsixDecl, bars: readonly (BarSpec | undefined)[]): void {
  if (!Number.isInteger(d.tableSize) || d.tableSize < 1 || d.tableSize > PCI_MSIX_FLAGS_QSIZE + 1) {
    throw layoutError('bad-value', `MSI-X table size ${d.tableSize} is outside 1..2048`);
  }
  const check = (what: string, loc: MsixLocation, bytes: number): BarSpec => {
    if (!loc || !Number.isInteger(loc.bar) || loc.bar < 0 || loc.bar > 5) {
      throw layoutError('msix-bar', `MSI-X ${what}: BAR indicator ${loc?.bar} is outside 0..5`);
    }
    const bar = bars[loc.bar];
    if (!bar) throw layoutError('msix-bar', `MSI-X ${what}: BAR${loc.bar} is not implemented (or is the upper half of a 64-bit BAR)`);
    if (bar.kind === 'io') throw layoutError('msix-bar', `MSI-X ${what}: BAR${loc.bar} is an I/O BAR`);
    if (!Number.isInteger(loc.offset) || loc.offset < 0) throw layoutError('bad-value', `MSI-X ${what}: bad offset ${loc.offset}`);
    if (loc.offset % 8) throw layoutError('misaligned', `MSI-X ${what}: offset ${loc.offset} is not 8-byte aligned`);
    if (loc.offset + bytes > bar.size || loc.offset > PCI_MSIX_TABLE_OFFSET) {
      throw layoutError('msix-bar', `MSI-X ${what}: ${bytes} bytes at ${loc.offset} do not fit in BAR${loc.bar} (${bar.size} bytes)`);
    }
    return bar;
  };
  const tBytes = msixTableBytes(d.tableSize);
  const pBytes = msixPbaBytes(d.tableSize);
  check('table', d.table, tBytes);
  check('PBA', d.pba, pBytes);
  if (d.table.bar === d.pba.bar && d.table.offset < d.pba.offset + pBytes && d.pba.offset < d.table.offset + tBytes) {
    throw layoutError('overlap', `MSI-X table and PBA overlap in BAR${d.table.bar}`);
  }
}

export function encodeMsix(d: MsixDecl): CapImage {
  const img = new ImageWriter(PCI_CAP_MSIX_SIZEOF)
    .w(PCI_MSIX_FLAGS, (d.tableSize - 1) & PCI_MSIX_FLAGS_QSIZE)
    .d(PCI_MSIX_TABLE, (d.table.offset & PCI_MSIX_TABLE_OFFSET) | (d.table.bar & PCI_MSIX_TABLE_BIR))
    .d(PCI_MSIX_PBA, (d.pba.offset & PCI_MSIX_PBA_OFFSET) | (d.pba.bar & PCI_MSIX_PBA_BIR));
  // Hardware: Enable and Function Mask are read-write (set by the host through the interrupt API).
  img.rw(PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
  return { id: PCI_CAP_ID_MSIX, extended: false, bytes: img.bytes, writable: img.writable, w1c: img.w1c };
}

/** Decode the capability registers. */
export function decodeMsix(flags: number, table: number, pba: number): MsixInfo {
  const tableSize = (flags & PCI_MSIX_FLAGS_QSIZE) + 1;
  return {
    tableSize,
    tableBar: table & PCI_MSIX_TABLE_BIR,
    tableOffset: (table & PCI_MSIX_TABLE_OFFSET) >>> 0,
    tableBytes: msixTableBytes(tableSize),
    pbaBar: pba & PCI_MSIX_PBA_BIR,
    pbaOffset: (pba & PCI_MSIX_PBA_OFFSET) >>> 0,
    pbaBytes: msixPbaBytes(tableSize),
  };
}

export class MsixRegion extends Region {
  constructor(engine: Engine, spec: RegionSpec) {
    super(engine, spec, capPerms(spec));
  }

  info(): MsixInfo {
    return decodeMsix(this.effective(PCI_MSIX_FLAGS, 2), this.effective(PCI_MSIX_TABLE, 4), this.effective(PCI_MSIX_PBA, 4));
  }

  get enabled(): boolean {
    return (this.effective(PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE) !== 0;
  }

  get functionMask(): boolean {
    return (this.effective(PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_MASKALL) !== 0;
  }

  /** Interrupt-API side: set Message Control bits on the backing. */
  setControl(bit: number, on: boolean): void {
    const cur = this.hwGet(PCI_MSIX_FLAGS, 2);
    this.hwWrite(PCI_MSIX_FLAGS, 2, on ? cur | bit : cur & ~bit);
  }
}
