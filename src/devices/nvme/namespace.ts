// Namespaces and their backing store.
//
// A namespace is `blocks` logical blocks of `lbaSize` bytes (a power of two,
// 512 by default) kept in memory (the default: one zero-filled ArrayBuffer,
// committed by the OS as it is touched) or in a file (read and written at
// offsets with synchronous pread/pwrite on one descriptor; Flush is
// fdatasync). Transfers go straight between the backing and the client's
// DMA memory: `read` fills a slice of a Uint8Array, `write` takes one.

import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { fail } from '../../errors.js';

/** One namespace of an {@link NvmeModel}: size, block size, and the file that holds it (default memory). */
export interface NamespaceOptions {
  /** Size in bytes (rounded down to whole blocks; default 64 MiB, or the file's size when it has one). */
  size?: number;
  /** Logical block size in bytes: a power of two, 512..65536 (default 512). */
  lbaSize?: number;
  /** Back the namespace with this file (created when missing, grown to `size`); default: memory. */
  file?: string;
  /** Read-only namespace (writes complete with Namespace is Write Protected); a file is opened read-only. */
  readOnly?: boolean;
}

/** A namespace's size when none is given and no file sets it: 64 MiB. */
export const DEFAULT_NAMESPACE_SIZE = 64 * 1024 * 1024;

/** Where a namespace's bytes live. Positions and lengths in bytes. */
export interface Backing {
  readonly kind: 'memory' | 'file';
  readonly size: number;
  /** Copies [pos, pos + len) into dst at dstOffset. */
  read(dst: Uint8Array, dstOffset: number, pos: number, len: number): void;
  /** Copies len bytes of src at srcOffset to [pos, pos + len). */
  write(src: Uint8Array, srcOffset: number, pos: number, len: number): void;
  /** Zeroes [pos, pos + len). */
  zero(pos: number, len: number): void;
  /** Makes written data durable. */
  flush(): void;
  close(): void;
}

export class MemoryBacking implements Backing {
  readonly kind = 'memory';
  readonly size: number;
  readonly bytes: Uint8Array;

  constructor(size: number) {
    this.size = size;
    this.bytes = new Uint8Array(size);
  }

  read(dst: Uint8Array, dstOffset: number, pos: number, len: number): void {
    dst.set(this.bytes.subarray(pos, pos + len), dstOffset);
  }

  write(src: Uint8Array, srcOffset: number, pos: number, len: number): void {
    this.bytes.set(src.subarray(srcOffset, srcOffset + len), pos);
  }

  zero(pos: number, len: number): void {
    this.bytes.fill(0, pos, pos + len);
  }

  flush(): void {}

  close(): void {}
}

const ZERO_CHUNK = new Uint8Array(256 * 1024);

export class FileBacking implements Backing {
  readonly kind = 'file';
  readonly size: number;
  readonly path: string;
  #fd: number;

  constructor(path: string, size: number | undefined, readOnly = false) {
    this.path = path;
    this.#fd = openSync(path, readOnly ? 'r' : fstatExists(path) ? 'r+' : 'w+');
    try {
      const have = fstatSync(this.#fd).size;
      const want = size ?? (have > 0 ? have : DEFAULT_NAMESPACE_SIZE);
      if (have < want) {
        if (readOnly) throw fail('EINVAL', `${path}: ${have} bytes, the namespace needs ${want}`);
        ftruncateSync(this.#fd, want);
      }
      this.size = want;
    } catch (err) {
      closeSync(this.#fd);
      throw err;
    }
  }

  read(dst: Uint8Array, dstOffset: number, pos: number, len: number): void {
    let done = 0;
    while (done < len) {
      const n = readSync(this.#fd, dst, dstOffset + done, len - done, pos + done);
      if (n <= 0) {
        dst.fill(0, dstOffset + done, dstOffset + len); // beyond the end of a file that shrank
        return;
      }
      done += n;
    }
  }

  write(src: Uint8Array, srcOffset: number, pos: number, len: number): void {
    let done = 0;
    while (done < len) done += writeSync(this.#fd, src, srcOffset + done, len - done, pos + done);
  }

  zero(pos: number, len: number): void {
    let done = 0;
    while (done < len) {
      const n = Math.min(ZERO_CHUNK.length, len - done);
      this.write(ZERO_CHUNK, 0, pos + done, n);
      done += n;
    }
  }

  flush(): void {
    fdatasyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

function fstatExists(path: string): boolean {
  try {
    closeSync(openSync(path, 'r'));
    return true;
  } catch {
    return false;
  }
}

/** One namespace of the NVM command set. */
export class Namespace {
  readonly nsid: number;
  readonly lbaSize: number;
  readonly lbaShift: number;
  readonly blocks: number;
  readonly backing: Backing;
  readonly readOnly: boolean;

  constructor(nsid: number, options: NamespaceOptions = {}) {
    const lbaSize = options.lbaSize ?? 512;
    if (!Number.isInteger(lbaSize) || lbaSize < 512 || lbaSize > 65536 || (lbaSize & (lbaSize - 1)) !== 0) {
      throw fail('EINVAL', `namespace ${nsid}: LBA size ${lbaSize} is not a power of two in 512..65536`);
    }
    if (options.size !== undefined && (!Number.isSafeInteger(options.size) || options.size < lbaSize)) {
      throw fail('EINVAL', `namespace ${nsid}: size ${options.size} is smaller than one block`);
    }
    this.nsid = nsid;
    this.lbaSize = lbaSize;
    this.lbaShift = Math.log2(lbaSize);
    this.readOnly = options.readOnly ?? false;
    if (options.file !== undefined) {
      this.backing = new FileBacking(options.file, options.size === undefined ? undefined : floorTo(options.size, lbaSize), this.readOnly);
    } else {
      this.backing = new MemoryBacking(floorTo(options.size ?? DEFAULT_NAMESPACE_SIZE, lbaSize));
    }
    this.blocks = Math.floor(this.backing.size / lbaSize);
  }

  /** Bytes of the namespace. */
  get size(): number {
    return this.blocks * this.lbaSize;
  }

  close(): void {
    this.backing.close();
  }
}

function floorTo(v: number, unit: number): number {
  return Math.floor(v / unit) * unit;
}
