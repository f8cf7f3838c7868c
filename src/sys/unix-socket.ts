// UNIX stream sockets with fd passing: the transport under vfio-user.
//
// A connection is a byte stream; fds travel as SCM_RIGHTS attached to the
// bytes they were sent with. Framing is not done here (src/protocol does it):
// the receive path hands over raw chunks with their fds, as they arrive.
//
// Where fds land (the kernel's rule, relied on by framing): fds arrive with
// the receive whose LAST byte belongs to the send that carried them. A
// receive ends right after reaching bytes that brought fds, but fd-less bytes
// sent earlier may precede them in the same chunk; a receive range smaller
// than the fd-carrying send gets the fds with its first part. So a framer
// attributes a chunk's fds to the message containing the chunk's last byte.
//
// Two ways to talk, usable on the same connection:
// - asynchronous, on the event loop: send() never blocks (what the socket
//   cannot take is copied into a queue, its fds dup'ed, and sent when the
//   socket drains), and receive(callback) delivers chunks through the fd
//   watcher;
// - synchronous, for the request/reply path of MMIO-style region access:
//   transact() sends a whole request and blocks until the reply starts to
//   arrive; sendSync() and receiveSync() are its halves.
// The hot paths (send that fits, receive, transact) allocate nothing: chunks
// are delivered in the connection's own receive buffer and fd array, and
// callers pass preallocated buffers to transact.
//
// The peer going away is seen as 'end' (end of stream, or a reset) followed by
// 'close'; send() to a gone peer throws SysError EPIPE (never SIGPIPE).

import { EventEmitter } from 'node:events';
import { lstatSync, unlinkSync } from 'node:fs';
import { errnoOf, SysError } from '../errors.js';
import { native, receivedFdCount, type FdList, type PeerCred } from './native.js';
import { FdWatcher, READABLE, WRITABLE } from './poll.js';

export type { FdList, PeerCred } from './native.js';

/**
 * Receives one chunk: bytes data[0, length) and fds[0, fdCount). Both live in
 * the connection's own buffers and are reused by the next chunk: copy what
 * you keep. The fds become the callee's: keep them or close them.
 */
export type ReceiveCallback = (data: Uint8Array, length: number, fds: Int32Array, fdCount: number) => void;

export interface ConnectionOptions {
  /** Size of the receive buffer, the largest chunk delivered (default 64 KiB). */
  receiveBufferSize?: number;
  /**
   * Most fds accepted with one chunk (default and maximum: 253, the kernel's
   * SCM_MAX_FD). A chunk carrying more fails with EMSGSIZE: the fds are
   * closed, the connection emits 'error' and closes.
   */
  maxFds?: number;
}

/** Bytes (and fds, before their first byte went) waiting for the socket to drain. */
interface Pending {
  data: Uint8Array;
  offset: number;
  fds: number[] | null;
}

const EBADF = errnoOf('EBADF');
const EPIPE = errnoOf('EPIPE');
const EADDRINUSE = errnoOf('EADDRINUSE');
/** Errors that mean the peer is gone rather than that something broke. */
const PEER_GONE = new Set(['EPIPE', 'ECONNRESET']);
/** Receives per wake-up before yielding to the rest of the event loop. */
const READS_PER_WAKEUP = 32;

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      native.close(fd);
    } catch {
      // already gone: nothing to release
    }
  }
}

function dupAll(fds: FdList): number[] | null {
  if (!fds || fds.length === 0) return null;
  const out: number[] = [];
  try {
    for (const fd of fds) out.push(native.dup(fd));
  } catch (err) {
    closeAll(out);
    throw err;
  }
  return out;
}

/** Milliseconds left until `deadline` (performance.now() based; -1 = forever). */
function msLeft(deadline: number): number {
  return deadline < 0 ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
}

function deadlineOf(timeoutMs: number): number {
  return timeoutMs < 0 || timeoutMs === Infinity ? -1 : performance.now() + timeoutMs;
}

/** The events a `UnixConnection` emits (see the class). */
export interface UnixConnectionEvents {
  end: [];
  close: [];
  drain: [];
  error: [err: Error];
}

/**
 * A connected UNIX stream socket owning its fd (close it explicitly: an fd is
 * never closed by the garbage collector). Events: 'end' when the peer goes
 * (end of stream or reset), 'close' after close(), 'drain' when queued data
 * has gone, 'error' for anything else (an unhandled 'error' is thrown, as
 * everywhere in Node).
 */
export class UnixConnection extends EventEmitter<UnixConnectionEvents> {
  #fd: number;
  #watcher: FdWatcher | null = null;
  #receiver: ReceiveCallback | null = null;
  readonly #rbuf: Uint8Array;
  readonly #rfds: Int32Array;
  #queue: Pending[] = [];
  #queued = 0;
  #ending = false;
  #closed = false;
  #ref = true;
  #lingerUs = 0;

  /** Takes ownership of a connected socket fd (made non-blocking by the watcher). */
  constructor(fd: number, options: ConnectionOptions = {}) {
    super();
    const size = options.receiveBufferSize ?? 65536;
    const maxFds = options.maxFds ?? native.SCM_MAX_FD;
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`receiveBufferSize must be >= 1, got ${size}`);
    if (!Number.isSafeInteger(maxFds) || maxFds < 0 || maxFds > native.SCM_MAX_FD) {
      throw new RangeError(`maxFds must be in [0, ${native.SCM_MAX_FD}], got ${maxFds}`);
    }
    this.#fd = fd;
    this.#rbuf = new Uint8Array(size);
    this.#rfds = new Int32Array(maxFds);
  }

  /** Connects to a listening socket; timeoutMs bounds waiting on a full backlog (default 0). */
  static connect(path: string, options: ConnectionOptions & { timeoutMs?: number } = {}): UnixConnection {
    return new UnixConnection(native.unixConnect(path, options.timeoutMs ?? 0), options);
  }

  /** A connected pair (socketpair). */
  static pair(options: ConnectionOptions = {}): [UnixConnection, UnixConnection] {
    const [a, b] = native.socketpair();
    return [new UnixConnection(a, options), new UnixConnection(b, options)];
  }

  /** The socket fd, -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes queued by send() and not yet taken by the socket. */
  get pendingBytes(): number {
    return this.#queued;
  }

  /** How many fds the last receiveSync/transact stored in its fd array. */
  get receivedFds(): number {
    return receivedFdCount();
  }

  /**
   * Sends bytes, with fds attached to the first of them, without blocking.
   * Returns true if the socket took everything, false if the rest was queued
   * (copied; fds dup'ed, so the caller may close its own at once) to go when
   * the socket drains ('drain'). Throws EPIPE if the peer is gone.
   */
  send(data: Uint8Array, fds?: FdList): boolean {
    const fd = this.#live('sendmsg');
    if (this.#ending) throw new SysError('sendmsg', EPIPE, 'connection is ending');
    const hasFds = fds != null && fds.length > 0;
    if (hasFds && data.byteLength === 0) throw new RangeError('fds must travel with at least one byte');
    let sent = 0;
    if (this.#queue.length === 0) {
      const n = native.sendmsg(fd, data, 0, data.byteLength, fds);
      if (n === data.byteLength) return true;
      if (n > 0) sent = n;
    }
    // fds went with the first byte if anything was sent.
    const pending: Pending = { data: Uint8Array.prototype.slice.call(data, sent), offset: 0, fds: sent > 0 ? null : dupAll(fds) };
    this.#queue.push(pending);
    this.#queued += pending.data.byteLength;
    this.#updateWatch();
    return false;
  }

  /**
   * Sends everything (after anything queued), blocking the thread while the
   * socket is full, up to timeoutMs (-1: forever). A timeout throws ETIMEDOUT
   * and leaves a partial message in the stream.
   */
  sendSync(data: Uint8Array, fds?: FdList, timeoutMs = -1): void {
    const fd = this.#live('sendmsg');
    const deadline = deadlineOf(timeoutMs);
    this.#flushSync(deadline);
    native.sendAll(fd, data, 0, data.byteLength, fds, msLeft(deadline));
  }

  /**
   * Blocks until data arrives (up to timeoutMs, -1: forever; ETIMEDOUT after)
   * and receives it into buffer[offset, offset + length) with fds into
   * fdsOut. Returns the byte count, 0 at end of stream; `receivedFds` tells
   * how many fds were stored.
   */
  receiveSync(
    buffer: Uint8Array,
    offset = 0,
    length = buffer.byteLength - offset,
    fdsOut: Int32Array | null = null,
    timeoutMs = -1,
  ): number {
    return native.recvSync(this.#live('recvmsg'), buffer, offset, length, fdsOut, timeoutMs);
  }

  /**
   * The synchronous request/reply primitive: sends request[0, requestLength)
   * with requestFds, then blocks until the reply starts to arrive and
   * receives what is there (at least one byte; 0 = the peer closed) into
   * reply, fds into replyFds (count: `receivedFds`). The reply may be partial
   * or run into the next message: framing is the caller's. timeoutMs covers
   * both halves and throws ETIMEDOUT; a late reply then still arrives on the
   * stream, so treat a timeout as losing the connection's framing.
   */
  transact(
    request: Uint8Array,
    requestLength: number,
    requestFds: FdList,
    reply: Uint8Array,
    replyFds: Int32Array | null,
    timeoutMs = -1,
  ): number {
    const fd = this.#live('transact');
    if (this.#queue.length !== 0) {
      const deadline = deadlineOf(timeoutMs);
      this.#flushSync(deadline);
      timeoutMs = msLeft(deadline);
    }
    return native.transact(fd, request, 0, requestLength, requestFds, reply, 0, reply.byteLength, replyFds, timeoutMs);
  }

  /**
   * Starts delivering incoming chunks to `callback` on the event loop (null
   * stops). While receiving, the connection keeps the process alive (see
   * unref) and notices the peer going ('end', then 'close').
   */
  receive(callback: ReceiveCallback | null): this {
    if (callback !== null) this.#live('recvmsg');
    this.#receiver = callback;
    if (!this.#closed) this.#updateWatch();
    return this;
  }

  /**
   * Receiving: after delivering a chunk, wait for the next one before giving
   * the event loop back, for at most `us` microseconds per loop iteration
   * (FdWatcher.linger; 0, the default, turns it off). For servers of
   * synchronous request/reply clients in other processes: a peer on this
   * thread's own loop could not send while we wait.
   */
  linger(us: number): this {
    if (!Number.isSafeInteger(us) || us < 0 || us > 1_000_000) throw new RangeError(`linger must be in [0, 1000000] us, got ${us}`);
    this.#lingerUs = us;
    this.#watcher?.linger(us);
    return this;
  }

  /** The peer's pid, uid and gid (SO_PEERCRED, as of connect time). */
  peerCred(): PeerCred {
    return native.peerCred(this.#live('getsockopt'));
  }

  /** Stops sending once the queue is empty (shutdown(SHUT_WR)); the peer sees end of stream. */
  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    if (this.#queue.length === 0) native.shutdown(this.#fd, native.SHUT_WR);
  }

  /** Whether the watcher keeps the process alive while receiving or draining (default yes). */
  ref(): this {
    this.#ref = true;
    this.#watcher?.ref();
    return this;
  }

  unref(): this {
    this.#ref = false;
    this.#watcher?.unref();
    return this;
  }

  /** Closes the socket at once, dropping anything queued; 'close' follows. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = null;
    for (const p of this.#queue) if (p.fds) closeAll(p.fds);
    this.#queue = [];
    this.#queued = 0;
    this.#receiver = null;
    const fd = this.#fd;
    this.#fd = -1;
    process.nextTick(() => this.emit('close'));
    native.close(fd);
  }

  #live(syscall: string): number {
    if (this.#closed) throw new SysError(syscall, EBADF, 'connection is closed');
    return this.#fd;
  }

  #updateWatch(): void {
    const want = (this.#receiver ? READABLE : 0) | (this.#queue.length !== 0 ? WRITABLE : 0);
    if (want === 0) {
      this.#watcher?.stop();
      return;
    }
    if (this.#watcher === null) {
      this.#watcher = new FdWatcher(this.#fd, this.#onEvents);
      if (this.#lingerUs > 0) this.#watcher.linger(this.#lingerUs);
      if (!this.#ref) this.#watcher.unref();
    }
    this.#watcher.start(want);
  }

  readonly #onEvents = (events: number, error: SysError | null): void => {
    if (error !== null) {
      // A pending socket error (the loop stopped watching): read what is
      // left, which surfaces the real error or end of stream.
      this.#onReadable();
      if (!this.#closed) this.#peerGone();
      return;
    }
    if (events & WRITABLE) this.#onWritable();
    if (events & READABLE) this.#onReadable();
  };

  #onReadable(): void {
    for (let i = 0; i < READS_PER_WAKEUP; i++) {
      const receiver = this.#receiver;
      if (this.#closed || receiver === null) return;
      let n: number;
      try {
        n = native.recvmsg(this.#fd, this.#rbuf, 0, this.#rbuf.byteLength, this.#rfds);
      } catch (err) {
        this.#fail(err);
        return;
      }
      if (n < 0) return;
      if (n === 0) {
        this.#peerGone();
        return;
      }
      receiver(this.#rbuf, n, this.#rfds, receivedFdCount());
      // A short read almost always means the socket is drained: skip the
      // recvmsg that would only say EAGAIN. The watch is level-triggered, so
      // anything still there wakes us again on the next loop iteration.
      if (n < this.#rbuf.byteLength) return;
    }
  }

  #onWritable(): void {
    if (this.#closed) return;
    try {
      this.#flush();
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (this.#queue.length !== 0) return;
    this.#updateWatch();
    if (this.#ending) native.shutdown(this.#fd, native.SHUT_WR);
    this.emit('drain');
  }

  /** Sends queued data until the socket is full. */
  #flush(): void {
    while (this.#queue.length !== 0) {
      const p = this.#queue[0]!;
      const n = native.sendmsg(this.#fd, p.data, p.offset, p.data.byteLength - p.offset, p.fds);
      if (n < 0) return;
      if (p.fds !== null) {
        closeAll(p.fds); // the kernel holds its own references now
        p.fds = null;
      }
      p.offset += n;
      this.#queued -= n;
      if (p.offset === p.data.byteLength) this.#queue.shift();
    }
  }

  /** Sends all queued data, blocking. */
  #flushSync(deadline: number): void {
    if (this.#queue.length === 0) return;
    while (this.#queue.length !== 0) {
      const p = this.#queue[0]!;
      native.sendAll(this.#fd, p.data, p.offset, p.data.byteLength - p.offset, p.fds, msLeft(deadline));
      if (p.fds !== null) closeAll(p.fds);
      this.#queued -= p.data.byteLength - p.offset;
      this.#queue.shift();
    }
    this.#updateWatch();
    process.nextTick(() => this.emit('drain'));
  }

  #peerGone(): void {
    if (this.#closed) return;
    this.close();
    this.emit('end');
  }

  #fail(err: unknown): void {
    if (err instanceof SysError && PEER_GONE.has(err.code)) {
      this.#peerGone();
      return;
    }
    this.close();
    this.emit('error', err as Error);
  }
}

export interface ServerOptions {
  /** listen(2) backlog (default 16). */
  backlog?: number;
  /** Options for each accepted connection. */
  connection?: ConnectionOptions;
}

/** The events a `UnixServer` emits (see the class). */
export interface UnixServerEvents {
  connection: [conn: UnixConnection];
  close: [];
  error: [err: Error];
}

/**
 * A listening UNIX socket at a path. A stale socket file (nobody listening)
 * is replaced; a live one or any other file is EADDRINUSE. Accepted sockets
 * arrive as 'connection' events (closed at once if nobody listens for them);
 * close() removes the socket file if it is still ours.
 */
export class UnixServer extends EventEmitter<UnixServerEvents> {
  readonly path: string;
  #fd: number;
  #watcher: FdWatcher;
  #options: ServerOptions;
  #dev: number;
  #ino: number;
  #closed = false;

  private constructor(path: string, fd: number, options: ServerOptions) {
    super();
    this.path = path;
    this.#fd = fd;
    this.#options = options;
    const st = lstatSync(path);
    this.#dev = st.dev;
    this.#ino = st.ino;
    this.#watcher = new FdWatcher(fd, this.#onEvents);
    this.#watcher.start(READABLE);
  }

  static listen(path: string, options: ServerOptions = {}): UnixServer {
    removeStaleSocket(path);
    const fd = native.unixListen(path, options.backlog ?? 16);
    try {
      return new UnixServer(path, fd, options);
    } catch (err) {
      native.close(fd);
      throw err;
    }
  }

  /** The listening fd, -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  ref(): this {
    this.#watcher.ref();
    return this;
  }

  /** Lets the process exit while the server listens. */
  unref(): this {
    this.#watcher.unref();
    return this;
  }

  /** Stops listening, closes the fd and removes the socket file; 'close' follows. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher.close();
    const fd = this.#fd;
    this.#fd = -1;
    try {
      const st = lstatSync(this.path);
      if (st.dev === this.#dev && st.ino === this.#ino) unlinkSync(this.path);
    } catch {
      // already removed or replaced: not ours to delete
    }
    process.nextTick(() => this.emit('close'));
    native.close(fd);
  }

  readonly #onEvents = (_events: number, error: SysError | null): void => {
    if (error !== null) {
      this.emit('error', error);
      return;
    }
    while (!this.#closed) {
      let fd: number;
      try {
        fd = native.unixAccept(this.#fd);
      } catch (err) {
        this.emit('error', err as Error);
        return;
      }
      if (fd < 0) return;
      const conn = new UnixConnection(fd, this.#options.connection);
      if (!this.emit('connection', conn)) conn.close();
    }
  };
}

/** Removes a socket file nobody listens on; EADDRINUSE for a live socket or another file. */
function removeStaleSocket(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) throw new SysError('bind', EADDRINUSE, `${path} exists and is not a socket`);
  let fd: number;
  try {
    fd = native.unixConnect(path, 0);
  } catch (err) {
    if (err instanceof SysError && err.code === 'ECONNREFUSED') {
      unlinkSync(path);
      return;
    }
    if (err instanceof SysError && err.code === 'EAGAIN') {
      throw new SysError('bind', EADDRINUSE, `${path}: a server is listening there`);
    }
    throw err;
  }
  native.close(fd);
  throw new SysError('bind', EADDRINUSE, `${path}: a server is listening there`);
}
