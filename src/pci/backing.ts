// The "hardware" behind a config space.
//
// The engine keeps a shadow copy for virtual bits and sends everything else to
// a ConfigBacking: in the kernel's model that is the physical device. The
// default backing, MemoryBacking, is an in-memory byte array holding the
// declared power-on values and behaving like hardware registers do:
//   - a bit changes on a write only if it is hardware-writable (`writable`);
//   - a write-1-to-clear bit (`w1c`, e.g. AER status) is cleared by writing 1
//     and kept by writing 0;
//   - everything else is read-only: writes to it are ignored.
// The device model itself (not the user) changes read-only bits such as
// "interrupt pending" through `set()`, which bypasses those rules. A broker
// for a real device supplies a backing that reads and writes the device.

import { getLe, setLe, sizeMask } from './le.js';

/** Width in bytes of one config-space register access. */
export type AccessSize = 1 | 2 | 4;

/** The device behind a config space: where the non-virtual bits are read and written. */
export interface ConfigBacking {
  /** Read `size` bytes at `offset` (aligned, inside one dword). */
  read(offset: number, size: AccessSize): number;
  /** Write `size` bytes at `offset` as a config write would reach the device. */
  write(offset: number, size: AccessSize, value: number): void;
  /**
   * Device-internal update that bypasses the hardware write rules (the device
   * setting its own status bits). Absent for real hardware.
   */
  set?(offset: number, size: AccessSize, value: number): void;
  /** Return the registers to their power-on values (a function reset). */
  reset?(): void;
}

/** Hardware write rules of a {@link MemoryBacking}. */
export interface MemoryBackingOptions {
  /** Hardware-writable bits, one mask byte per config byte. Default: none. */
  writable?: Uint8Array;
  /** Write-1-to-clear bits, one mask byte per config byte. Default: none. */
  w1c?: Uint8Array;
}

/** In-memory config registers that follow hardware write rules: writable bits change, W1C bits clear on 1, the rest is read-only. */
export class MemoryBacking implements ConfigBacking {
  /** Current register contents. */
  readonly bytes: Uint8Array;
  /** Power-on contents, restored by reset(). */
  readonly initial: Uint8Array;
  readonly writable: Uint8Array;
  readonly w1c: Uint8Array;

  constructor(initial: Uint8Array, options: MemoryBackingOptions = {}) {
    this.initial = Uint8Array.from(initial);
    this.bytes = Uint8Array.from(initial);
    this.writable = options.writable ? Uint8Array.from(options.writable) : new Uint8Array(initial.length);
    this.w1c = options.w1c ? Uint8Array.from(options.w1c) : new Uint8Array(initial.length);
    if (this.writable.length !== initial.length || this.w1c.length !== initial.length) {
      throw new TypeError('MemoryBacking masks must be as long as the config space');
    }
  }

  read(offset: number, size: AccessSize): number {
    return getLe(this.bytes, offset, size);
  }

  write(offset: number, size: AccessSize, value: number): void {
    const v = (value & sizeMask(size)) >>> 0;
    const old = getLe(this.bytes, offset, size);
    const w1c = getLe(this.w1c, offset, size);
    const rw = (getLe(this.writable, offset, size) & ~w1c) >>> 0;
    let next = ((old & ~rw) | (v & rw)) >>> 0;
    next = (next & ~(w1c & v)) >>> 0;
    setLe(this.bytes, offset, size, next);
  }

  set(offset: number, size: AccessSize, value: number): void {
    setLe(this.bytes, offset, size, value);
  }

  reset(): void {
    this.bytes.set(this.initial);
  }
}
