// Per-byte permission bits, the kernel's vfio-pci model.
//
// Every region of config space (the header, each capability) carries two bit
// masks as long as the region itself (rounded up to a dword):
//   virt  - the bit lives in the engine's shadow copy, never in the backing;
//   write - the bit may be changed by the user.
// Zero state is "readable from the backing, not writable, not virtual".
// A read returns backing bits outside `virt` and shadow bits inside it; a
// write changes only `write` bits: the virtual ones in the shadow, the others
// read-modify-written to the backing. Writes to other bits are dropped
// silently, as on hardware.

import { getLe, roundUp4, setLe } from './le.js';

/** Permission mask: no bit is virtual (all come from the backing). */
export const NO_VIRT = 0;
/** Permission mask: every bit is virtual (lives in the shadow). */
export const ALL_VIRT = 0xffffffff;
/** Permission mask: no bit is user-writable. */
export const NO_WRITE = 0;
/** Permission mask: every bit is user-writable. */
export const ALL_WRITE = 0xffffffff;

/** The virtual and writable bit masks of one config region, one byte of mask per config byte. */
export class PermBits {
  readonly virt: Uint8Array;
  readonly write: Uint8Array;

  constructor(length: number) {
    const n = roundUp4(length);
    this.virt = new Uint8Array(n);
    this.write = new Uint8Array(n);
  }

  /** Mask length in bytes (the region's length rounded up to a dword). */
  get length(): number {
    return this.virt.length;
  }

  /** Set the masks of the byte at `off`. */
  setb(off: number, virt: number, write: number): this {
    return this.set(off, 1, virt, write);
  }

  /** Set the masks of the 16-bit register at `off`. */
  setw(off: number, virt: number, write: number): this {
    return this.set(off, 2, virt, write);
  }

  /** Set the masks of the 32-bit register at `off`. */
  setd(off: number, virt: number, write: number): this {
    return this.set(off, 4, virt, write);
  }

  /** Set `size` bytes of masks at `off` (little-endian values). */
  set(off: number, size: number, virt: number, write: number): this {
    setLe(this.virt, off, size, virt);
    setLe(this.write, off, size, write);
    return this;
  }

  /** Virtual mask of `size` bytes at `off`. */
  virtMask(off: number, size: number): number {
    return getLe(this.virt, off, size);
  }

  /** Writable mask of `size` bytes at `off`. */
  writeMask(off: number, size: number): number {
    return getLe(this.write, off, size);
  }
}
