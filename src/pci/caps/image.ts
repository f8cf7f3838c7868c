// The builder's view of a capability: its power-on bytes and how the
// "hardware" behind them behaves.
//
// Each capability module turns a declaration into a CapImage. The builder
// places it, fills in the list header (ID and next pointer, or the extended
// header dword) and copies `bytes` into the power-on config space; `writable`
// and `w1c` become the in-memory backing's hardware write rules for those
// bytes (see backing.ts). The engine side of each module derives its
// permission bits from the register values alone, so raw config spaces read
// from real hardware get the same treatment as declared ones.

export interface CapImage {
  /** Capability ID. */
  id: number;
  extended: boolean;
  /** Extended capability version nibble. */
  version?: number;
  /** Register bytes, `length` long; the list header bytes are filled by the builder. */
  bytes: Uint8Array;
  /** Hardware-writable bits (same length as bytes). */
  writable?: Uint8Array;
  /** Write-1-to-clear bits (same length as bytes). */
  w1c?: Uint8Array;
  /** Per-byte user write mask for declared-writability regions (vendor caps). */
  userWrite?: Uint8Array;
}

/** Helper to fill little-endian fields of an image. */
export class ImageWriter {
  readonly bytes: Uint8Array;
  readonly writable: Uint8Array;
  readonly w1c: Uint8Array;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.writable = new Uint8Array(length);
    this.w1c = new Uint8Array(length);
  }
  private put(arr: Uint8Array, off: number, size: number, value: number): void {
    let v = value >>> 0;
    for (let i = 0; i < size; i++) {
      if (off + i < arr.length) arr[off + i] = v & 0xff;
      v >>>= 8;
    }
  }
  b(off: number, v: number): this {
    this.put(this.bytes, off, 1, v);
    return this;
  }
  w(off: number, v: number): this {
    this.put(this.bytes, off, 2, v);
    return this;
  }
  d(off: number, v: number): this {
    this.put(this.bytes, off, 4, v);
    return this;
  }
  /** Hardware-writable mask of `size` bytes at `off`. */
  rw(off: number, size: number, mask: number): this {
    this.put(this.writable, off, size, mask);
    return this;
  }
  /** Write-1-to-clear mask of `size` bytes at `off`. */
  rw1c(off: number, size: number, mask: number): this {
    this.put(this.w1c, off, size, mask);
    return this;
  }
}
