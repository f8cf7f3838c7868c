// Plain fd operations: the handles VFIO works with (container, group and
// device fds) are driven by ioctl and read with pread/pwrite at 64-bit
// offsets (a region's offset is its index << 40), which node:fs cannot do.
// Every fd opened here is O_CLOEXEC. Functions throw SysError on failure.

import { constants } from 'node:fs';
import { native, type Bytes } from './native.js';

export type { Bytes } from './native.js';

/** poll(2) event bits, for pollFd. */
export const POLLIN = native.POLLIN;
export const POLLPRI = native.POLLPRI;
export const POLLOUT = native.POLLOUT;
export const POLLERR = native.POLLERR;
export const POLLHUP = native.POLLHUP;
export const POLLRDHUP = native.POLLRDHUP;

/** Opens a file (O_CLOEXEC always added); flags from fs.constants. */
export function openFd(path: string, flags: number = constants.O_RDWR, mode?: number): number {
  return native.open(path, flags, mode);
}

/** Closes an fd; EBADF if it is not open. */
export function closeFd(fd: number): void {
  native.close(fd);
}

/** Closes an fd on a cleanup path, where a failure (it is already gone) changes nothing. */
export function closeQuietly(fd: number): void {
  try {
    native.close(fd);
  } catch {
    // already closed: nothing left to release
  }
}

/** Duplicates an fd (the copy has O_CLOEXEC). */
export function dupFd(fd: number): number {
  return native.dup(fd);
}

/** Reads into buffer[offset, offset + length) from `position`; returns bytes read (0 at end). */
export function pread(fd: number, buffer: Bytes, position: number | bigint, offset?: number, length?: number): number {
  return native.pread(fd, buffer, offset, length, position);
}

/** Writes buffer[offset, offset + length) at `position`; returns bytes written. */
export function pwrite(fd: number, buffer: Bytes, position: number | bigint, offset?: number, length?: number): number {
  return native.pwrite(fd, buffer, offset, length, position);
}

/**
 * ioctl(2). `arg` is an integer (passed as is) or a buffer the kernel reads
 * and writes in place (a struct such as vfio_region_info). When the request
 * encodes a size (_IOR/_IOW), a smaller buffer throws RangeError; a VFIO or
 * iommufd struct shorter than the argsz (size) in its first u32 throws a
 * SysError EINVAL before the kernel sees it. Returns the ioctl's
 * (non-negative) return value.
 */
export function ioctl(fd: number, request: number | bigint, arg?: number | bigint | Bytes): number {
  return native.ioctl(fd, request, arg);
}

/** Waits until fd is ready for `events` (POLLIN...); returns revents, 0 on timeout. Blocks. */
export function pollFd(fd: number, events: number, timeoutMs = -1): number {
  return native.poll(fd, events, timeoutMs);
}

/** Sets or clears O_NONBLOCK. */
export function setNonblocking(fd: number, on = true): void {
  native.setNonblocking(fd, on);
}

/** Sets a file's size. */
export function ftruncate(fd: number, size: number | bigint): void {
  native.ftruncate(fd, size);
}

/** A file's size (st_size). */
export function fstatSize(fd: number): number {
  return native.fstatSize(fd);
}

// ioctl request encoding (asm-generic/ioctl.h): dir:2 | size:14 | type:8 | nr:8.
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;

/** Encodes an ioctl request number; `type` is a number or a one-character string. */
export function ioc(dir: number, type: number | string, nr: number, size: number): number {
  const t = typeof type === 'string' ? type.charCodeAt(0) : type;
  if (dir < 0 || dir > 3 || t < 0 || t > 0xff || nr < 0 || nr > 0xff || size < 0 || size > 0x3fff) {
    throw new RangeError(`bad ioctl encoding dir=${dir} type=${t} nr=${nr} size=${size}`);
  }
  return ((dir << 30) >>> 0) + (size << 16) + (t << 8) + nr;
}
/** _IO(type, nr): no argument struct (VFIO's style: the struct carries argsz). */
export const IO = (type: number | string, nr: number): number => ioc(IOC_NONE, type, nr, 0);
/** _IOR(type, nr, size): the kernel writes `size` bytes. */
export const IOR = (type: number | string, nr: number, size: number): number => ioc(IOC_READ, type, nr, size);
/** _IOW(type, nr, size): the kernel reads `size` bytes. */
export const IOW = (type: number | string, nr: number, size: number): number => ioc(IOC_WRITE, type, nr, size);
/** _IOWR(type, nr, size): both. */
export const IOWR = (type: number | string, nr: number, size: number): number => ioc(IOC_READ | IOC_WRITE, type, nr, size);
