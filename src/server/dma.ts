// The device model's DMA: reads and writes by IOVA through the CURRENT
// client's DMA maps only (see dma-space.ts for the map table).
//
// Synchronous calls - readSync, writeSync, view - reach maps that came with a
// file descriptor (the client's memory is mmap'ed here): plain memory copies,
// or a Uint8Array over the client's memory itself. They throw DmaError with
// reason 'needs-async' when the range touches a map without a descriptor.
// Asynchronous calls - read, write - reach any map: the parts with a
// descriptor are copied at once, the others travel as DMA_READ / DMA_WRITE
// messages to the client (split by its max_data_xfer_size) and the promise
// settles when every reply is in. Every call checks the whole range first
// (mapped, contiguous, permitted, bus mastering on) and moves nothing when the
// check fails; only a failure of the client itself in the middle of an
// asynchronous transfer can leave part of it done.
//
// Views are valid while the map exists: after DMA_UNMAP, or when the client
// leaves, they become empty (detached) rather than pointing anywhere else.

import { hex } from '../util/format.js';
import { DmaError } from './errors.js';
import type { DmaSpace, DmaTransport } from './dma-space.js';

const U64_LIMIT = 1n << 64n;

/** The directions a DMA call needs a map to permit: reading the client's memory, writing it, or both. */
export type DmaDirection = 'read' | 'write' | 'rw';

/** A DMA map as the model may inspect it. */
export interface DmaMapInfo {
  iova: bigint;
  size: bigint;
  readable: boolean;
  writable: boolean;
  /** Reachable synchronously (came with a file descriptor). */
  direct: boolean;
}

function toIova(v: bigint | number, length: number): bigint {
  let iova: bigint;
  if (typeof v === 'bigint') iova = v;
  else if (Number.isSafeInteger(v) && v >= 0) iova = BigInt(v);
  else throw new DmaError('bad-args', 0n, length, `DMA address ${String(v)} is not a non-negative integer`);
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new DmaError('bad-args', iova < 0n ? 0n : iova, 0, `DMA length ${String(length)} is not a non-negative integer`);
  }
  if (iova < 0n || iova + BigInt(length) > U64_LIMIT) {
    throw new DmaError('bad-args', iova < 0n ? 0n : iova, length, `DMA range ${hex(iova)}+${length} is outside the 64-bit space`);
  }
  return iova;
}

interface Binding {
  space: DmaSpace;
  transport: DmaTransport;
}

/** A device model's DMA: reads and writes of the current owner's memory, through its maps or by messages. */
export class DeviceDma {
  #binding: Binding | null = null;
  readonly #busMaster: () => boolean;

  /** `busMaster` says whether DMA is allowed now (Bus Master Enable), or is null when not required. */
  constructor(busMaster: (() => boolean) | null) {
    this.#busMaster = busMaster ?? (() => true);
  }

  /** The framework attaches the owner's DMA space (internal). */
  bind(space: DmaSpace, transport: DmaTransport): void {
    this.#binding = { space, transport };
  }

  /** The owner left (internal). */
  unbind(): void {
    this.#binding = null;
  }

  /** A client owns the device (DMA may be possible). */
  get available(): boolean {
    return this.#binding !== null;
  }

  /** The current client's maps. */
  maps(): DmaMapInfo[] {
    return (this.#binding?.space.regions ?? []).map((r) => ({
      iova: r.iova,
      size: r.size,
      readable: r.readable,
      writable: r.writable,
      direct: r.direct,
    }));
  }

  #check(iova: bigint, length: number): Binding {
    const b = this.#binding;
    if (b === null) throw new DmaError('no-client', iova, length, `DMA at ${hex(iova)}: no client owns the device`);
    if (!this.#busMaster()) {
      throw new DmaError('bus-master', iova, length, `DMA at ${hex(iova)}: Bus Master Enable is clear in the command register`);
    }
    return b;
  }

  /** Whether [iova, iova + length) can be reached synchronously for `access` now. */
  isDirect(iova: bigint | number, length: number, access: DmaDirection = 'read'): boolean {
    try {
      const at = toIova(iova, length);
      const b = this.#check(at, length);
      if (access !== 'write') b.space.plan(at, length, false, true);
      if (access !== 'read') b.space.plan(at, length, true, true);
      return true;
    } catch {
      return false;
    }
  }

  /** Copies `dst.length` bytes at `iova` into `dst` (maps with a descriptor only). */
  readSync(iova: bigint | number, dst: Uint8Array): void {
    const at = toIova(iova, dst.length);
    const pieces = this.#check(at, dst.length).space.plan(at, dst.length, false, true);
    for (const p of pieces) {
      dst.set(p.region.bytes.subarray(p.regionOffset, p.regionOffset + p.length), p.offset);
    }
  }

  /** Copies `src` to `iova` (maps with a descriptor only). */
  writeSync(iova: bigint | number, src: Uint8Array): void {
    const at = toIova(iova, src.length);
    const pieces = this.#check(at, src.length).space.plan(at, src.length, true, true);
    for (const p of pieces) {
      p.region.bytes.set(src.subarray(p.offset, p.offset + p.length), p.regionOffset);
    }
  }

  /**
   * The client's memory at [iova, iova + length) itself, inside one map with
   * a descriptor granting `access` (default read and write). The view
   * empties when the map goes.
   */
  view(iova: bigint | number, length: number, access: DmaDirection = 'rw'): Uint8Array {
    const at = toIova(iova, length);
    const space = this.#check(at, length).space;
    const read = access !== 'write' ? space.plan(at, length, false, true) : undefined;
    const write = access !== 'read' ? space.plan(at, length, true, true) : undefined;
    const pieces = (read ?? write)!;
    if (pieces.length > 1) {
      throw new DmaError('not-contiguous', at, length, `DMA view of ${length} bytes at ${hex(at)} spans ${pieces.length} maps`);
    }
    if (pieces.length === 0) return new Uint8Array(0);
    const p = pieces[0]!;
    return p.region.bytes.subarray(p.regionOffset, p.regionOffset + length);
  }

  /** Reads `dst.length` bytes at `iova` from any maps (messages for maps without a descriptor). */
  async read(iova: bigint | number, dst: Uint8Array): Promise<void> {
    const at = toIova(iova, dst.length);
    const b = this.#check(at, dst.length);
    const pieces = b.space.plan(at, dst.length, false, false);
    const waits: Promise<void>[] = [];
    for (const p of pieces) {
      const part = dst.subarray(p.offset, p.offset + p.length);
      if (p.region.direct) part.set(p.region.bytes.subarray(p.regionOffset, p.regionOffset + p.length));
      else waits.push(b.transport.dmaRead(at + BigInt(p.offset), part));
    }
    if (waits.length) await settleAll(waits);
  }

  /** Writes `src` at `iova` to any maps (messages for maps without a descriptor). */
  async write(iova: bigint | number, src: Uint8Array): Promise<void> {
    const at = toIova(iova, src.length);
    const b = this.#check(at, src.length);
    const pieces = b.space.plan(at, src.length, true, false);
    const waits: Promise<void>[] = [];
    for (const p of pieces) {
      const part = src.subarray(p.offset, p.offset + p.length);
      if (p.region.direct) p.region.bytes.set(part, p.regionOffset);
      else waits.push(b.transport.dmaWrite(at + BigInt(p.offset), part));
    }
    if (waits.length) await settleAll(waits);
  }
}

/** Waits for every promise, then rejects with the first failure (no rejection is left unhandled). */
export async function settleAll(waits: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(waits);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
