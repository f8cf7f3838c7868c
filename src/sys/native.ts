// The native addon (native/*.c, built by node-gyp into build/Release/vfio_ts.node):
// the Linux system calls Node lacks, as raw functions over fds, buffers and
// numbers. This module finds and loads it once per thread, registers the
// factory through which every failing call throws a SysError, and declares
// its exact shape. The other modules in src/sys give it a typed, owning face;
// use those rather than `native` directly.
//
// Conventions of the raw functions:
// - a byte range is (buffer, offset?, length?): offset defaults to 0, length
//   to the rest of the buffer; a range past the end throws RangeError;
// - non-blocking I/O returns -1 for EAGAIN instead of throwing;
// - receives report the number of fds they stored in `status[STATUS_FDS]`,
//   so that they return a plain integer and allocate nothing;
// - timeouts are milliseconds, -1 (or undefined) waiting forever.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SysError } from '../errors.js';

/** Anything whose bytes the addon can read or write in place. */
export type Bytes = ArrayBufferView | ArrayBuffer;

/** Fds to send with a message: an array, an Int32Array, or none. */
export type FdList = readonly number[] | Int32Array | null | undefined;

/** Peer credentials of a UNIX socket (SO_PEERCRED). */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** An opaque libuv poll handle made by watcherCreate. */
export interface WatcherHandle {
  readonly callback: (status: number, events: number) => void;
}

/** The addon's exports, exactly. */
export interface NativeAddon {
  /** [STATUS_FDS]: fds stored by the last recvmsg/recvSync/transact. */
  readonly status: Int32Array;
  setErrorFactory(factory: (syscall: string, errno: number, detail?: string) => Error): void;

  // fdops.c
  open(path: string, flags: number, mode?: number): number;
  close(fd: number): void;
  dup(fd: number): number;
  pread(fd: number, buf: Bytes, offset: number | undefined, length: number | undefined, position: number | bigint): number;
  pwrite(fd: number, buf: Bytes, offset: number | undefined, length: number | undefined, position: number | bigint): number;
  ioctl(fd: number, request: number | bigint, arg?: number | bigint | Bytes | null): number;
  poll(fd: number, events: number, timeoutMs?: number): number;
  ftruncate(fd: number, size: number | bigint): void;
  fstatSize(fd: number): number;
  setNonblocking(fd: number, on: boolean): void;
  readonly POLLIN: number;
  readonly POLLPRI: number;
  readonly POLLOUT: number;
  readonly POLLERR: number;
  readonly POLLHUP: number;
  readonly POLLNVAL: number;
  readonly POLLRDHUP: number;

  // unix_socket.c
  unixListen(path: string, backlog?: number): number;
  /** A connected fd, or -1 when none is pending. */
  unixAccept(fd: number): number;
  unixConnect(path: string, timeoutMs?: number): number;
  socketpair(): [number, number];
  /** Bytes sent, or -1 if the socket is full. Fds go with the first byte. */
  sendmsg(fd: number, buf: Bytes, offset: number | undefined, length: number | undefined, fds?: FdList): number;
  /** Bytes received, 0 at end of stream, -1 if nothing is pending. */
  recvmsg(fd: number, buf: Bytes, offset: number | undefined, length: number | undefined, fdsOut?: Int32Array | null): number;
  sendAll(fd: number, buf: Bytes, offset: number | undefined, length: number | undefined, fds?: FdList, timeoutMs?: number): number;
  recvSync(
    fd: number,
    buf: Bytes,
    offset: number | undefined,
    length: number | undefined,
    fdsOut?: Int32Array | null,
    timeoutMs?: number,
  ): number;
  transact(
    fd: number,
    request: Bytes,
    requestOffset: number | undefined,
    requestLength: number | undefined,
    requestFds: FdList,
    reply: Bytes,
    replyOffset: number | undefined,
    replyLength: number | undefined,
    replyFds: Int32Array | null | undefined,
    timeoutMs?: number,
  ): number;
  peerCred(fd: number): PeerCred;
  shutdown(fd: number, how?: number): void;
  readonly SHUT_RD: number;
  readonly SHUT_WR: number;
  readonly SHUT_RDWR: number;
  readonly SCM_MAX_FD: number;

  // watcher.c
  watcherCreate(fd: number, callback: (status: number, events: number, round: number) => void): WatcherHandle;
  watcherStart(handle: WatcherHandle, events: number): void;
  watcherStop(handle: WatcherHandle): void;
  watcherClose(handle: WatcherHandle): void;
  watcherRef(handle: WatcherHandle, on: boolean): void;
  watcherLinger(handle: WatcherHandle, budgetUs: number, maxRounds: number): void;
  readonly UV_READABLE: number;
  readonly UV_WRITABLE: number;
  readonly UV_DISCONNECT: number;
  readonly UV_PRIORITIZED: number;
  /** The signal that ends a lingering watcher's stretch (native/wait.c), blocked on a thread that lingered. */
  readonly WAIT_SIGNAL: number;

  // eventfd.c
  eventfdCreate(initial?: number, flags?: number): number;
  eventfdWrite(fd: number, count?: number | bigint): void;
  eventfdRead(fd: number, timeoutMs?: number): number;
  /** A bound, non-blocking, close-on-exec kernel uevent socket (netlink.c). */
  ueventOpen(rcvbuf?: number): number;
  /** One kernel datagram's length, or -1 when none is pending. */
  ueventRecv(fd: number, buf: Bytes, offset?: number, length?: number): number;
  readonly EFD_NONBLOCK: number;
  readonly EFD_SEMAPHORE: number;

  // memory.c
  mmap(fd: number, offset: number | bigint, length: number, prot: number): ArrayBuffer;
  mmapAnonymous(length: number, prot: number, shared?: boolean): ArrayBuffer;
  munmap(buffer: ArrayBuffer): boolean;
  addressOf(buffer: Bytes): bigint;
  memfdCreate(name: string, flags?: number): number;
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly MFD_ALLOW_SEALING: number;
  readonly MFD_HUGETLB: number;
  readonly MFD_HUGE_2MB: number;
  readonly MFD_HUGE_1GB: number;
  readonly PAGE_SIZE: number;
}

/** Slot of `native.status` holding the fd count of the last receive. */
export const STATUS_FDS = 0;

const ADDON = join('build', 'Release', 'vfio_ts.node');

/**
 * Where the addon is: the nearest build/Release/vfio_ts.node above this
 * module (src/sys when run from source, dist/sys or out/src/sys when compiled).
 */
export function addonPath(): string {
  const override = process.env.VFIO_TS_ADDON;
  if (override) return override;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, ADDON);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`vfio-ts: native addon ${ADDON} not found above ${fileURLToPath(import.meta.url)}; run \`npm install\``);
}

function load(): NativeAddon {
  const addon = createRequire(import.meta.url)(addonPath()) as NativeAddon;
  addon.setErrorFactory((syscall, errno, detail) => new SysError(syscall, errno, detail));
  return addon;
}

/** The loaded addon (one per thread; workers load their own). */
export const native: NativeAddon = load();

/** How many fds the last receive (recvmsg, recvSync, transact) stored. */
export function receivedFdCount(): number {
  return native.status[STATUS_FDS] as number;
}
