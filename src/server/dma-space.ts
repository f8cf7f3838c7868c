// A client's DMA space: the ranges of its memory (IOVAs) the device may reach,
// as DMA_MAP described them, and the device model's access to them.
//
// Model. A DmaSpace belongs to one client connection and dies with it. Each
// map is a non-empty, page-aligned range [iova, iova + size) with read and/or
// write permission; maps never overlap (a new one overlapping an old one is
// EEXIST, the specification's rule). A map that came with a file descriptor
// is mmap'ed here at DMA_MAP time (the descriptor is closed right after: the
// mapping keeps the memory) and reached with plain memory copies; a map
// without one is reached only by DMA_READ/DMA_WRITE messages to the client,
// through the DmaTransport the session provides. DMA_UNMAP unmaps: the
// mapping's ArrayBuffer is detached, so a view the model kept reads as empty
// and can never reach memory that is no longer the client's.
//
// Every access is checked before any byte moves: each byte of the range must
// lie in a map (consecutive maps may be crossed, gaps may not) that grants the
// access. A synchronous access (readSync/writeSync/view) needs maps with a
// file descriptor; the asynchronous ones (read/write) take any map.
//
// Hooks. The owner of the device behind the space may mirror the maps
// elsewhere (the broker: into the real device's IOMMU). `mapped` runs once a
// map passed every check, before it counts; throwing refuses it (the error is
// the client's reply and nothing stays mapped). `unmapped` runs for every
// map that goes, before its memory is unmapped here; it cannot stop the unmap
// (it reports its own failures).

import { fail } from '../errors.js';
import { fstatSize, Mapping, PROT_READ, PROT_WRITE } from '../sys/index.js';
import { hex } from '../util/format.js';
import { DmaError } from './errors.js';

/** One DMA map. */
export class DmaRegion {
  readonly iova: bigint;
  readonly size: bigint;
  readonly end: bigint;
  readonly readable: boolean;
  readonly writable: boolean;
  /** The mmap of the client's memory, for maps that came with a file descriptor. */
  readonly mapping: Mapping | undefined;
  #bytes: Uint8Array | undefined;

  constructor(iova: bigint, size: bigint, readable: boolean, writable: boolean, mapping: Mapping | undefined) {
    this.iova = iova;
    this.size = size;
    this.end = iova + size;
    this.readable = readable;
    this.writable = writable;
    this.mapping = mapping;
  }

  /** Whether the server can reach the memory directly. */
  get direct(): boolean {
    return this.mapping !== undefined;
  }

  /** All of the mapped memory (empty once unmapped). */
  get bytes(): Uint8Array {
    if (!this.mapping) throw new TypeError('DMA map without a file descriptor has no bytes');
    if (this.#bytes === undefined || this.#bytes.byteLength !== this.mapping.buffer.byteLength) {
      this.#bytes = new Uint8Array(this.mapping.buffer);
    }
    return this.#bytes;
  }

  unmap(): void {
    this.mapping?.unmap();
    this.#bytes = undefined;
  }
}

/** One DMA_MAP request: IOVA, size, access, and the memory behind it. */
export interface DmaMapArgs {
  iova: bigint;
  size: bigint;
  readable: boolean;
  writable: boolean;
  /** The memory's descriptor (borrowed: the caller closes it) and the offset of the range in it. */
  fd?: number;
  offset?: bigint;
}

/** How much a client may map: count and bytes. */
export interface DmaLimits {
  /** Most maps at once (ENOSPC beyond). */
  maxMaps: number;
  /** Most bytes mapped at once (ENOMEM beyond). */
  maxBytes: bigint;
  /** Addresses, sizes and offsets must be multiples of it. */
  pageSize: number;
}

/** Mirrors of the maps (see the opening comment). */
export interface DmaHooks {
  /** `source`: the map's descriptor (borrowed for the call: dup it to keep it) and offset, when it came with one. */
  mapped?(region: DmaRegion, source: { fd: number; offset: bigint } | undefined): void;
  unmapped?(region: DmaRegion): void;
}

/** The largest map with a descriptor we mmap in one piece (the addon maps at most 2^32 bytes). */
export const MAX_DIRECT_MAP = 2 ** 32;

/** Moves bytes of maps without descriptors (the session: DMA_READ / DMA_WRITE messages). */
export interface DmaTransport {
  dmaRead(iova: bigint, dst: Uint8Array): Promise<void>;
  dmaWrite(iova: bigint, src: Uint8Array): Promise<void>;
}

/** A piece of an access: `length` bytes at `regionOffset` of `region`, `offset` bytes into the access. */
export interface DmaPiece {
  region: DmaRegion;
  regionOffset: number;
  offset: number;
  length: number;
}

/** One client's DMA maps, checked against limits and each other, looked up by IOVA. */
export class DmaSpace {
  readonly limits: DmaLimits;
  /** Maps sorted by iova. */
  #regions: DmaRegion[] = [];
  #bytes = 0n;
  #closed = false;
  readonly #hooks: DmaHooks;

  constructor(limits: DmaLimits, hooks: DmaHooks = {}) {
    this.limits = limits;
    this.#hooks = hooks;
  }

  get count(): number {
    return this.#regions.length;
  }

  /** Bytes mapped. */
  get totalBytes(): bigint {
    return this.#bytes;
  }

  get regions(): readonly DmaRegion[] {
    return this.#regions;
  }

  /** Index of the first map whose end is above `iova` (binary search). */
  #lowerBound(iova: bigint): number {
    let lo = 0;
    let hi = this.#regions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#regions[mid]!.end <= iova) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The map holding `iova`, if any. */
  find(iova: bigint): DmaRegion | undefined {
    const r = this.#regions[this.#lowerBound(iova)];
    return r !== undefined && r.iova <= iova ? r : undefined;
  }

  /**
   * DMA_MAP: adds a map. EINVAL for unaligned values or a descriptor whose
   * file is too small, EEXIST for an overlap, ENOSPC beyond the map count,
   * ENOMEM beyond the byte limit, E2BIG for a descriptor map above 4 GiB; an
   * mmap failure carries its own errno.
   */
  map(a: DmaMapArgs): DmaRegion {
    if (this.#closed) throw fail('ENODEV', 'DMA space is closed');
    const page = BigInt(this.limits.pageSize);
    const offset = a.offset ?? 0n;
    if (a.size <= 0n) throw fail('EINVAL', 'DMA_MAP: size is zero');
    if (a.iova % page !== 0n || a.size % page !== 0n || offset % page !== 0n) {
      throw fail(
        'EINVAL',
        `DMA_MAP: address ${hex(a.iova)}, size ${hex(a.size)} and offset ${hex(offset)} must be multiples of the ${this.limits.pageSize}-byte page`,
      );
    }
    if (!a.readable && !a.writable) throw fail('EINVAL', 'DMA_MAP: neither readable nor writable');
    if (a.fd !== undefined && a.size > BigInt(MAX_DIRECT_MAP)) {
      throw fail('E2BIG', `DMA_MAP: maps with a descriptor are limited to 4 GiB, got ${hex(a.size)}`);
    }
    const at = this.#lowerBound(a.iova);
    const next = this.#regions[at];
    if (next !== undefined && next.iova < a.iova + a.size) {
      throw fail('EEXIST', `DMA_MAP: ${hex(a.iova)}+${hex(a.size)} overlaps the map at ${hex(next.iova)}+${hex(next.size)}`);
    }
    if (this.#regions.length >= this.limits.maxMaps) {
      throw fail('ENOSPC', `DMA_MAP: the limit of ${this.limits.maxMaps} maps is reached`);
    }
    if (this.#bytes + a.size > this.limits.maxBytes) {
      throw fail('ENOMEM', `DMA_MAP: ${hex(a.size)} more bytes exceed the limit of ${hex(this.limits.maxBytes)} mapped bytes`);
    }
    let mapping: Mapping | undefined;
    if (a.fd !== undefined) {
      // Touching a shared mapping beyond the end of its file raises SIGBUS: refuse files too small.
      const fileSize = BigInt(fstatSize(a.fd));
      if (fileSize < offset + a.size) {
        throw fail('EINVAL', `DMA_MAP: the descriptor's file has ${hex(fileSize)} bytes, the map needs ${hex(offset + a.size)}`);
      }
      const prot = a.writable ? PROT_READ | PROT_WRITE : PROT_READ;
      mapping = Mapping.map(a.fd, offset, Number(a.size), prot);
    }
    const region = new DmaRegion(a.iova, a.size, a.readable, a.writable, mapping);
    if (this.#hooks.mapped) {
      try {
        this.#hooks.mapped(region, a.fd === undefined ? undefined : { fd: a.fd, offset });
      } catch (err) {
        region.unmap();
        throw err;
      }
    }
    this.#regions.splice(at, 0, region);
    this.#bytes += a.size;
    return region;
  }

  /**
   * DMA_UNMAP of [iova, iova + size): every map inside goes. ENOENT when no
   * map is there, EINVAL when a map is only partly inside (nothing is
   * unmapped then). Returns how many maps went.
   */
  unmap(iova: bigint, size: bigint): number {
    const end = iova + size;
    const from = this.#lowerBound(iova);
    let to = from;
    while (to < this.#regions.length && this.#regions[to]!.iova < end) {
      const r = this.#regions[to]!;
      if (r.iova < iova || r.end > end) {
        throw fail('EINVAL', `DMA_UNMAP: ${hex(iova)}+${hex(size)} cuts the map at ${hex(r.iova)}+${hex(r.size)}`);
      }
      to++;
    }
    if (to === from) throw fail('ENOENT', `DMA_UNMAP: no map in ${hex(iova)}+${hex(size)}`);
    const gone = this.#regions.splice(from, to - from);
    for (const r of gone) {
      this.#bytes -= r.size;
      this.#drop(r);
    }
    return gone.length;
  }

  /** Unmaps everything; returns how many maps went. */
  unmapAll(): number {
    const gone = this.#regions;
    this.#regions = [];
    this.#bytes = 0n;
    for (const r of gone) this.#drop(r);
    return gone.length;
  }

  /** The hook first, then the memory; a hook failure cannot stop an unmap (hooks report their own). */
  #drop(r: DmaRegion): void {
    try {
      this.#hooks.unmapped?.(r);
    } catch {
      // reported by the hook's owner
    }
    r.unmap();
  }

  /** Unmaps everything and refuses new maps. */
  close(): void {
    this.#closed = true;
    this.unmapAll();
  }

  /**
   * Splits [iova, iova + length) into pieces, one per map, checking that
   * every byte is mapped with the access (`write`) and, when `direct`, that
   * every map has a descriptor. Throws DmaError before anything moves.
   */
  plan(iova: bigint, length: number, write: boolean, direct: boolean): DmaPiece[] {
    const pieces: DmaPiece[] = [];
    if (length === 0) return pieces;
    const end = iova + BigInt(length);
    let i = this.#lowerBound(iova);
    let pos = iova;
    while (pos < end) {
      const r = this.#regions[i];
      if (r === undefined || r.iova > pos) {
        throw new DmaError(
          'unmapped',
          iova,
          length,
          `DMA ${write ? 'write' : 'read'} of ${length} bytes at ${hex(iova)}: ${hex(pos)} is not mapped`,
        );
      }
      if (write ? !r.writable : !r.readable) {
        throw new DmaError(
          'permission',
          iova,
          length,
          `DMA ${write ? 'write' : 'read'} at ${hex(iova)}: the map at ${hex(r.iova)} is not ${write ? 'writable' : 'readable'}`,
        );
      }
      if (direct && !r.direct) {
        throw new DmaError(
          'needs-async',
          iova,
          length,
          `synchronous DMA at ${hex(iova)}: the map at ${hex(r.iova)} has no file descriptor (use the asynchronous read/write)`,
        );
      }
      const stop = r.end < end ? r.end : end;
      pieces.push({ region: r, regionOffset: Number(pos - r.iova), offset: Number(pos - iova), length: Number(stop - pos) });
      pos = stop;
      i++;
    }
    return pieces;
  }
}
