// The MSI-X vector table and Pending Bit Array, as they live inside a BAR.
//
// Each table entry is 16 bytes: message address low/high, message data, and
// vector control whose bit 0 masks the vector. Reserved vector-control bits
// read 0 and ignore writes. The PBA has one bit per vector, set by the device
// when it wants to signal a masked vector; the PBA is read-only to software.
// A vector is effectively masked when its mask bit or the function mask is set.
// After reset every vector is masked (PCI spec), addresses and data are 0.
//
// The server routes BAR accesses that fall on the table or the PBA to
// readTable/writeTable/readPba with offsets relative to the table (or PBA)
// start. Any length and alignment is accepted; writes to entries fire
// `onMaskChange` when a vector's effective mask flips, so a pending vector can
// be delivered when it is unmasked.

import { ErrnoError } from '../errors.js';
import { getLe, setLe } from './le.js';
import {
  PCI_MSIX_ENTRY_CTRL_MASKBIT,
  PCI_MSIX_ENTRY_DATA,
  PCI_MSIX_ENTRY_LOWER_ADDR,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_UPPER_ADDR,
  PCI_MSIX_ENTRY_VECTOR_CTRL,
} from './regs.js';

/** Owner notifications of an {@link MsixTable}. */
export interface MsixTableHooks {
  /** A vector's effective mask (entry bit OR function mask) changed. */
  onMaskChange?(vector: number, masked: boolean): void;
}

/** One decoded MSI-X table entry. */
export interface MsixEntry {
  address: bigint;
  data: number;
  /** The entry's own mask bit. */
  masked: boolean;
}

/** Decode entry `i` of raw table bytes (16 per entry). */
export function decodeMsixEntry(table: Uint8Array, i: number): MsixEntry {
  const o = i * PCI_MSIX_ENTRY_SIZE;
  const lo = getLe(table, o + PCI_MSIX_ENTRY_LOWER_ADDR, 4);
  const hi = getLe(table, o + PCI_MSIX_ENTRY_UPPER_ADDR, 4);
  return {
    address: (BigInt(hi) << 32n) | BigInt(lo),
    data: getLe(table, o + PCI_MSIX_ENTRY_DATA, 4),
    masked: msixEntryMasked(table, i),
  };
}

/** Entry `i`'s own mask bit in raw table bytes. */
export function msixEntryMasked(table: Uint8Array, i: number): boolean {
  return (table[i * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL]! & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0;
}

/** Raw table bytes as after reset: every entry zero and masked. */
export function resetMsixEntries(table: Uint8Array): void {
  table.fill(0);
  for (let o = 0; o < table.length; o += PCI_MSIX_ENTRY_SIZE) table[o + PCI_MSIX_ENTRY_VECTOR_CTRL] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
}

/** The MSI-X table and Pending Bit Array that live in a BAR, with reset values, mask semantics and mask-change notifications. */
export class MsixTable {
  readonly size: number;
  /** Raw table bytes, 16 per entry. */
  readonly table: Uint8Array;
  /** Raw PBA bytes. */
  readonly pba: Uint8Array;
  hooks: MsixTableHooks;
  private fmask = false;
  private on = false;

  constructor(size: number, hooks: MsixTableHooks = {}) {
    if (!Number.isInteger(size) || size < 1 || size > 2048) throw new ErrnoError('EINVAL', `MSI-X table size ${size} is outside 1..2048`);
    this.size = size;
    this.table = new Uint8Array(size * PCI_MSIX_ENTRY_SIZE);
    this.pba = new Uint8Array(Math.ceil(size / 64) * 8);
    this.hooks = hooks;
    this.reset();
  }

  /** Table length in bytes (16 per entry). */
  get tableBytes(): number {
    return this.table.length;
  }
  /** PBA length in bytes (one bit per vector, in whole qwords). */
  get pbaBytes(): number {
    return this.pba.length;
  }

  /** All vectors masked, addresses/data 0, nothing pending, function mask and enable clear. */
  reset(): void {
    resetMsixEntries(this.table);
    this.pba.fill(0);
    this.fmask = false;
    this.on = false;
  }

  /** MSI-X Enable, mirrored from the capability by the ConfigSpace. */
  get enabled(): boolean {
    return this.on;
  }
  /** Mirror the capability's MSI-X Enable bit. */
  set enabled(v: boolean) {
    this.on = v;
  }

  /** Function Mask, mirrored from the capability. Fires onMaskChange for vectors it (un)masks. */
  get functionMask(): boolean {
    return this.fmask;
  }
  /** Mirror the capability's Function Mask bit. */
  set functionMask(v: boolean) {
    if (v === this.fmask) return;
    const before = this.snapshotMasks();
    this.fmask = v;
    this.fireChanges(before, 0, this.size);
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new ErrnoError('EINVAL', `MSI-X vector ${i} is outside 0..${this.size - 1}`);
  }

  /** Decode entry `i` (message address, data, own mask bit); throws EINVAL for a vector out of range. */
  entry(i: number): MsixEntry {
    this.check(i);
    return decodeMsixEntry(this.table, i);
  }

  /** The entry's own mask bit. */
  vectorMasked(i: number): boolean {
    this.check(i);
    return msixEntryMasked(this.table, i);
  }

  /** Effectively masked: the entry's bit or the function mask. */
  masked(i: number): boolean {
    return this.fmask || this.vectorMasked(i);
  }

  /** Whether vector `i`'s PBA bit is set; throws EINVAL for a vector out of range. */
  pending(i: number): boolean {
    this.check(i);
    return ((this.pba[i >> 3]! >> (i & 7)) & 1) === 1;
  }
  /** Device side: set vector `i`'s PBA bit (a message held back by a mask); throws EINVAL out of range. */
  setPending(i: number): void {
    this.check(i);
    this.pba[i >> 3] |= 1 << (i & 7);
  }
  /** Device side: clear vector `i`'s PBA bit; throws EINVAL out of range. */
  clearPending(i: number): void {
    this.check(i);
    this.pba[i >> 3] &= ~(1 << (i & 7));
  }

  private range(kind: string, limit: number, offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > limit) {
      throw new ErrnoError('EINVAL', `MSI-X ${kind} access of ${length} bytes at ${offset} is outside its ${limit} bytes`);
    }
  }

  /** Read `dst.length` bytes of the table at `offset` (relative to the table start). */
  readTableBytes(offset: number, dst: Uint8Array): void {
    this.range('table', this.table.length, offset, dst.length);
    dst.set(this.table.subarray(offset, offset + dst.length));
  }

  /** Write bytes into the table; reserved vector-control bits stay 0. */
  writeTableBytes(offset: number, src: Uint8Array): void {
    this.range('table', this.table.length, offset, src.length);
    if (src.length === 0) return;
    const first = Math.floor(offset / PCI_MSIX_ENTRY_SIZE);
    const last = Math.floor((offset + src.length - 1) / PCI_MSIX_ENTRY_SIZE);
    const before = this.snapshotMasks(first, last + 1);
    for (let k = 0; k < src.length; k++) {
      const pos = offset + k;
      const field = pos % PCI_MSIX_ENTRY_SIZE;
      if (field >= PCI_MSIX_ENTRY_VECTOR_CTRL) {
        // Vector control: only the mask bit is implemented.
        this.table[pos] = field === PCI_MSIX_ENTRY_VECTOR_CTRL ? src[k]! & PCI_MSIX_ENTRY_CTRL_MASKBIT : 0;
      } else this.table[pos] = src[k]!;
    }
    this.fireChanges(before, first, last + 1);
  }

  /** Numeric table read of 1, 2, 4 bytes. */
  readTable(offset: number, size: 1 | 2 | 4): number {
    this.range('table', this.table.length, offset, size);
    return getLe(this.table, offset, size);
  }

  /** Numeric table write of 1, 2, 4 bytes. */
  writeTable(offset: number, size: 1 | 2 | 4, value: number): void {
    const b = new Uint8Array(size);
    setLe(b, 0, size, value);
    this.writeTableBytes(offset, b);
  }

  /** Read PBA bytes (relative to the PBA start). */
  readPbaBytes(offset: number, dst: Uint8Array): void {
    this.range('PBA', this.pba.length, offset, dst.length);
    dst.set(this.pba.subarray(offset, offset + dst.length));
  }

  /** Numeric PBA read of 1, 2 or 4 bytes (offset relative to the PBA); throws EINVAL outside the PBA. */
  readPba(offset: number, size: 1 | 2 | 4): number {
    this.range('PBA', this.pba.length, offset, size);
    return getLe(this.pba, offset, size);
  }

  /** The PBA is read-only: writes in range are dropped, out of range refused. */
  writePbaBytes(offset: number, src: Uint8Array): void {
    this.range('PBA', this.pba.length, offset, src.length);
  }

  private snapshotMasks(from = 0, to = this.size): boolean[] {
    const out: boolean[] = [];
    for (let i = from; i < to; i++) out.push(this.masked(i));
    return out;
  }

  private fireChanges(before: boolean[], from: number, to: number): void {
    const hook = this.hooks.onMaskChange;
    if (!hook) return;
    for (let i = from; i < to; i++) {
      const now = this.masked(i);
      if (now !== before[i - from]) hook(i, now);
    }
  }
}
