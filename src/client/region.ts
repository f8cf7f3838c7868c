// A device region as a driver sees it: synchronous reads and writes of 8, 16,
// 32 and 64 bits and of byte ranges.
//
// Where the region (or a sparse area of it) is mappable, the area is mmapped
// once and accesses become typed-array loads and stores on the shared memory,
// with no system call or message: an aligned 32-bit access is one 32-bit
// load or store, as MMIO requires. Everything else goes through the backend
// (pread/pwrite or REGION_READ/REGION_WRITE) with a preallocated scratch
// buffer, so the hot path allocates nothing either way.

import { ErrnoError, fail } from '../errors.js';
import type { DeviceBackend, MappedSpan } from './backend.js';
import type { RegionInfo } from '../uapi/types.js';

interface Area {
  start: number;
  end: number;
  span: MappedSpan;
  u8: Uint8Array;
  u16: Uint16Array;
  u32: Uint32Array;
  u64: BigUint64Array;
}

/** Says why an access to region `index` failed with EIO, if the device state shows it. */
export type RegionExplainer = (index: number) => string | undefined;

/** One VFIO region of a device (a BAR, config space, ROM): synchronous, MMIO-like reads and writes, through an mmap where the region allows one. */
export class Region {
  readonly index: number;
  readonly info: RegionInfo;
  readonly size: number;
  readonly #backend: DeviceBackend;
  readonly #scratch = new Uint8Array(8);
  readonly #scratchView = new DataView(this.#scratch.buffer);
  /** Views of the scratch buffer by access size, made once (a view is an allocation). */
  readonly #scratchBySize: Uint8Array[] = Array.from({ length: 9 }, (_, n) => this.#scratch.subarray(0, n));
  readonly #explain: RegionExplainer | undefined;
  #areas: Area[] = [];
  #mapped = false;
  #closed = false;

  constructor(backend: DeviceBackend, info: RegionInfo, opts: { map?: boolean; explain?: RegionExplainer } = {}) {
    this.#backend = backend;
    this.#explain = opts.explain;
    this.index = info.index;
    this.info = info;
    this.size = info.size;
    if (opts.map !== false && info.mappable) this.map();
  }

  /** True when at least one area of the region is mapped. */
  get mapped(): boolean {
    return this.#areas.length > 0;
  }

  /** Maps every mmap area of the region (idempotent). */
  map(): void {
    if (this.#mapped || this.#closed) return;
    this.#mapped = true;
    for (const a of this.info.mmapAreas) {
      if (a.size === 0) continue;
      const span = this.#backend.regionMap(this.index, a.offset, a.size, this.info.writable);
      const buf = span.buffer;
      this.#areas.push({
        start: a.offset,
        end: a.offset + a.size,
        span,
        u8: new Uint8Array(buf),
        u16: new Uint16Array(buf, 0, buf.byteLength >>> 1),
        u32: new Uint32Array(buf, 0, buf.byteLength >>> 2),
        u64: new BigUint64Array(buf, 0, buf.byteLength >>> 3),
      });
    }
  }

  /** Drops the mappings; accesses then use the slow path. */
  unmap(): void {
    for (const a of this.#areas) a.span.unmap();
    this.#areas = [];
    this.#mapped = false;
  }

  /** The mapped area holding [offset, offset+size), if any. */
  #area(offset: number, size: number): Area | undefined {
    const areas = this.#areas;
    for (let i = 0; i < areas.length; i++) {
      const a = areas[i]!;
      if (offset >= a.start && offset + size <= a.end) return a;
    }
    return undefined;
  }

  #check(offset: number, size: number): void {
    if (this.#closed) throw fail('ENODEV', `region ${this.index} is closed`);
    if (!Number.isInteger(offset) || offset < 0 || offset + size > this.size) {
      throw fail('EINVAL', `region ${this.index}: access of ${size} bytes at ${offset} is outside its ${this.size} bytes`);
    }
  }

  #slowRead(offset: number, size: number): void {
    this.#backendRead(offset, this.#scratchBySize[size]!);
  }

  #slowWrite(offset: number, size: number): void {
    this.#backendWrite(offset, this.#scratchBySize[size]!);
  }

  #backendRead(offset: number, dst: Uint8Array): void {
    try {
      this.#backend.regionRead(this.index, offset, dst);
    } catch (err) {
      throw this.#explained(err);
    }
  }

  #backendWrite(offset: number, src: Uint8Array): void {
    try {
      this.#backend.regionWrite(this.index, offset, src);
    } catch (err) {
      throw this.#explained(err);
    }
  }

  /**
   * A refusal carries only an errno on the wire (and from the kernel); when the
   * device can tell why (memory decode off, D3hot), the error says so too.
   */
  #explained(err: unknown): unknown {
    if (!(err instanceof ErrnoError) || err.code !== 'EIO' || !this.#explain) return err;
    let reason: string | undefined;
    try {
      reason = this.#explain(this.index);
    } catch {
      reason = undefined; // the explanation is best effort; the original error stands
    }
    return reason ? new ErrnoError(err.code, `${err.message}: ${reason}`, { cause: err }) : err;
  }

  read8(offset: number): number {
    this.#check(offset, 1);
    const a = this.#area(offset, 1);
    if (a) return a.u8[offset - a.start]!;
    this.#slowRead(offset, 1);
    return this.#scratch[0]!;
  }

  read16(offset: number): number {
    this.#check(offset, 2);
    const a = (offset & 1) === 0 ? this.#area(offset, 2) : undefined;
    if (a && ((offset - a.start) & 1) === 0) return a.u16[(offset - a.start) >>> 1]!;
    this.#slowRead(offset, 2);
    return this.#scratchView.getUint16(0, true);
  }

  read32(offset: number): number {
    this.#check(offset, 4);
    const a = (offset & 3) === 0 ? this.#area(offset, 4) : undefined;
    if (a && ((offset - a.start) & 3) === 0) return a.u32[(offset - a.start) >>> 2]!;
    this.#slowRead(offset, 4);
    return this.#scratchView.getUint32(0, true);
  }

  read64(offset: number): bigint {
    this.#check(offset, 8);
    const a = (offset & 7) === 0 ? this.#area(offset, 8) : undefined;
    if (a && ((offset - a.start) & 7) === 0) return a.u64[(offset - a.start) >>> 3]!;
    this.#slowRead(offset, 8);
    return this.#scratchView.getBigUint64(0, true);
  }

  write8(offset: number, value: number): void {
    this.#check(offset, 1);
    const a = this.#area(offset, 1);
    if (a) {
      a.u8[offset - a.start] = value;
      return;
    }
    this.#scratch[0] = value;
    this.#slowWrite(offset, 1);
  }

  write16(offset: number, value: number): void {
    this.#check(offset, 2);
    const a = (offset & 1) === 0 ? this.#area(offset, 2) : undefined;
    if (a && ((offset - a.start) & 1) === 0) {
      a.u16[(offset - a.start) >>> 1] = value;
      return;
    }
    this.#scratchView.setUint16(0, value, true);
    this.#slowWrite(offset, 2);
  }

  write32(offset: number, value: number): void {
    this.#check(offset, 4);
    const a = (offset & 3) === 0 ? this.#area(offset, 4) : undefined;
    if (a && ((offset - a.start) & 3) === 0) {
      a.u32[(offset - a.start) >>> 2] = value;
      return;
    }
    this.#scratchView.setUint32(0, value >>> 0, true);
    this.#slowWrite(offset, 4);
  }

  write64(offset: number, value: bigint): void {
    this.#check(offset, 8);
    const a = (offset & 7) === 0 ? this.#area(offset, 8) : undefined;
    if (a && ((offset - a.start) & 7) === 0) {
      a.u64[(offset - a.start) >>> 3] = value;
      return;
    }
    this.#scratchView.setBigUint64(0, BigInt.asUintN(64, value), true);
    this.#slowWrite(offset, 8);
  }

  /** Reads `dst.length` bytes at `offset` (mapped memory when the whole range is mapped). */
  read(offset: number, dst: Uint8Array): void {
    this.#check(offset, dst.length);
    const a = this.#area(offset, dst.length);
    if (a) dst.set(a.u8.subarray(offset - a.start, offset - a.start + dst.length));
    else this.#backendRead(offset, dst);
  }

  /** Writes `src` at `offset`. */
  write(offset: number, src: Uint8Array): void {
    this.#check(offset, src.length);
    const a = this.#area(offset, src.length);
    if (a) a.u8.set(src, offset - a.start);
    else this.#backendWrite(offset, src);
  }

  /** Unmaps and refuses further access. */
  close(): void {
    this.unmap();
    this.#closed = true;
  }
}
