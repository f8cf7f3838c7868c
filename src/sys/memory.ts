// Shared memory: memfds and mappings. A Mapping is an mmap'ed range seen from
// JavaScript as an ArrayBuffer over the pages themselves (device BARs, guest
// RAM a vfio-user client shares with us, DMA buffers), with the virtual
// address VFIO_IOMMU_MAP_DMA needs. unmap() detaches the buffer before the
// pages go, so every view of it then has length 0 and reads undefined: stale
// views can never reach unmapped memory. A mapping not unmapped explicitly is
// unmapped when its buffer is garbage-collected.
//
// Two faults JavaScript cannot catch, as in C: touching a shared mapping
// beyond the end of the file behind it raises SIGBUS (size the file before
// mapping it), and writing to a mapping made without PROT_WRITE raises SIGSEGV
// (V8 has no read-only ArrayBuffer; check `writable` before writing).

import { errnoOf, SysError } from '../errors.js';
import { native } from './native.js';

export const PROT_READ: number = native.PROT_READ;
export const PROT_WRITE: number = native.PROT_WRITE;
/** The system page size: offsets of file mappings must be multiples of it. */
export const PAGE_SIZE: number = native.PAGE_SIZE;

export interface MemfdOptions {
  /** Allow F_ADD_SEALS (MFD_ALLOW_SEALING). */
  allowSealing?: boolean;
  /** Back with huge pages (MFD_HUGETLB), optionally of a given size. */
  hugetlb?: boolean | '2MB' | '1GB';
}

/** memfd_create(2) with MFD_CLOEXEC: an anonymous file in memory; returns its fd. */
export function memfdCreate(name: string, options: MemfdOptions = {}): number {
  let flags = 0;
  if (options.allowSealing) flags |= native.MFD_ALLOW_SEALING;
  if (options.hugetlb) {
    flags |= native.MFD_HUGETLB;
    if (options.hugetlb === '2MB') flags |= native.MFD_HUGE_2MB;
    if (options.hugetlb === '1GB') flags |= native.MFD_HUGE_1GB;
  }
  return native.memfdCreate(name, flags);
}

export interface AnonymousOptions {
  prot?: number;
  /** MAP_SHARED instead of MAP_PRIVATE (default false). */
  shared?: boolean;
}

/** An mmap'ed range. */
export class Mapping {
  /** The pages as an ArrayBuffer; detached (byteLength 0) once unmapped. */
  readonly buffer: ArrayBuffer;
  /** Virtual address of the first byte (nonzero). */
  readonly address: bigint;
  /** Length in bytes. */
  readonly length: number;
  /** Whether the pages may be written (PROT_WRITE); writing otherwise faults. */
  readonly writable: boolean;

  private constructor(buffer: ArrayBuffer, prot: number) {
    this.buffer = buffer;
    this.address = native.addressOf(buffer);
    this.length = buffer.byteLength;
    this.writable = (prot & PROT_WRITE) !== 0;
  }

  /**
   * Maps `length` bytes of fd at `offset` (a multiple of PAGE_SIZE), shared
   * with every other mapping of the same file. At most 2^32 bytes at once.
   */
  static map(fd: number, offset: number | bigint, length: number, prot: number = PROT_READ | PROT_WRITE): Mapping {
    return new Mapping(native.mmap(fd, offset, length, prot), prot);
  }

  /** Maps fresh zeroed anonymous memory (e.g. a DMA buffer). */
  static anonymous(length: number, options: AnonymousOptions = {}): Mapping {
    const prot = options.prot ?? PROT_READ | PROT_WRITE;
    return new Mapping(native.mmapAnonymous(length, prot, options.shared ?? false), prot);
  }

  get mapped(): boolean {
    return this.buffer.byteLength !== 0;
  }

  /** A byte view of the pages (offset and length within the mapping). */
  bytes(offset = 0, length = this.length - offset): Uint8Array {
    return new Uint8Array(this.buffer, offset, length);
  }

  /** Unmaps now; returns false if it was unmapped already. */
  unmap(): boolean {
    return native.munmap(this.buffer);
  }
}

/** A memfd owning its fd: a shareable, mappable file in memory. */
export class MemFd {
  #fd: number;

  /** Takes ownership of an fd (for example one received over a socket). */
  constructor(fd: number) {
    this.#fd = fd;
  }

  /** Creates a memfd of `size` bytes. */
  static create(name: string, size: number | bigint, options: MemfdOptions = {}): MemFd {
    const fd = memfdCreate(name, options);
    try {
      native.ftruncate(fd, size);
    } catch (err) {
      native.close(fd);
      throw err;
    }
    return new MemFd(fd);
  }

  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The current size (fstat). */
  get size(): number {
    return native.fstatSize(this.#live());
  }

  resize(size: number | bigint): void {
    native.ftruncate(this.#live(), size);
  }

  /** Maps [offset, offset + length) (default: all of it). */
  map(offset: number | bigint = 0, length?: number, prot: number = PROT_READ | PROT_WRITE): Mapping {
    const fd = this.#live();
    return Mapping.map(fd, offset, length ?? native.fstatSize(fd) - Number(offset), prot);
  }

  /** Closes the fd; mappings stay valid until unmapped. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    native.close(fd);
  }

  #live(): number {
    if (this.#fd < 0) throw new SysError('memfd', errnoOf('EBADF'), 'MemFd is closed');
    return this.#fd;
  }
}
