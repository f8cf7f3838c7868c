// The synchronous channel of a vfio-user client: one request out, its reply
// back, blocking the thread like an MMIO load (on one CPU a round trip costs a
// few microseconds).
//
// Every request goes through roundTrip, which sends, then receives into one
// reusable buffer until the reply with the request's message id is whole.
// Messages are framed in place by their header's size field (the protocol's
// header accessors, no copy and no allocation). While it waits, the server
// may send requests of its own (DMA_READ / DMA_WRITE): they go to the
// channel's request handler in place, and the wait goes on. Between requests
// the socket is watched on the event loop, so server requests and the server
// going away are noticed while the driver is idle.
//
// A broken stream (malformed framing, a time-out, the server gone) closes the
// channel: a late reply could no longer be told from the next one.

import { ErrnoError, fail, isErrnoName } from '../../errors.js';
import {
  FLAG_ERROR,
  FLAG_NO_REPLY,
  FLAG_TYPE_MASK,
  HEADER_SIZE,
  MessageType,
  PeerError,
  commandName,
  headerCommand,
  headerErrno,
  headerFlags,
  headerMsgId,
  headerSize,
} from '../../protocol/index.js';
import { closeFd } from '../../sys/fd.js';
import { isServedHere } from '../../sys/served-here.js';
import { UnixConnection } from '../../sys/unix-socket.js';

/**
 * Serves one request of the server (the whole message, a view valid during
 * the call) and returns the reply to send, a view valid until the next call.
 * It is sent unless the request asked for no reply.
 */
export type RequestHandler = (message: Uint8Array) => Uint8Array;

export interface ChannelOptions {
  /** Longest wait for a reply, in ms (-1 waits forever). */
  timeoutMs: number;
  /** The largest message we accept. */
  maxMessageSize: number;
  /** Most descriptors one message may bring. */
  maxFds: number;
  /** Room for the requests sent before limits are agreed (the handshake's). */
  sendBufferSize: number;
}

export class SyncChannel {
  /** The socket path, for messages. */
  readonly name: string;
  readonly #conn: UnixConnection;
  readonly #timeoutMs: number;
  /** Preallocated send buffer for the hot-path encoders (`*Into`). */
  #tx: Buffer;
  readonly #rx: Buffer;
  #rxStart = 0;
  #rxEnd = 0;
  readonly #fdArr: Int32Array;
  #rxFds: number[] = [];
  #msgId = 0;
  #inRequest = false;
  #closed = false;
  #drainScheduled = false;
  #onRequest: RequestHandler = () => {
    throw fail('EPROTO', 'a server request before the handshake completed');
  };
  #onGone: (err: Error) => void = () => {};

  private constructor(name: string, conn: UnixConnection, options: ChannelOptions) {
    this.name = name;
    this.#conn = conn;
    this.#timeoutMs = options.timeoutMs;
    this.#tx = Buffer.alloc(options.sendBufferSize);
    this.#rx = Buffer.alloc(options.maxMessageSize);
    this.#fdArr = new Int32Array(options.maxFds);
  }

  /**
   * Connects to the vfio-user socket at `path`. A socket a server of this
   * very thread listens on is refused at once (EDEADLK): its replies would
   * need the event loop this client blocks.
   */
  static connect(path: string, options: ChannelOptions): SyncChannel {
    if (isServedHere(path)) {
      throw fail(
        'EDEADLK',
        `cannot connect to vfio-user socket ${path}: a VfioUserServer on this thread serves it, and the Driver API ` +
          'blocks this thread on every request, so the server could never answer. Run the server beside the driver: ' +
          'in a worker thread (node:worker_threads) or a child process.',
      );
    }
    let conn: UnixConnection;
    try {
      conn = UnixConnection.connect(path, { maxFds: options.maxFds });
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'EIO';
      const hint =
        code === 'ENOENT'
          ? 'no such socket: is the server running?'
          : code === 'ECONNREFUSED'
            ? 'nothing is listening on it: the server may have exited'
            : code === 'EACCES'
              ? 'permission denied: the socket file mode or owner excludes you'
              : code === 'ENOTSOCK'
                ? 'that path is not a socket'
                : (err as Error).message;
      throw errnoError(code, `cannot connect to vfio-user socket ${path}: ${hint}`, err);
    }
    return new SyncChannel(path, conn, options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The send buffer (valid until resizeSend). */
  get tx(): Buffer {
    return this.#tx;
  }

  /** The receive buffer; a reply returned by roundTrip lies in it until the next one. */
  get rx(): Buffer {
    return this.#rx;
  }

  /** Makes the send buffer `size` bytes (once the limits are agreed). */
  resizeSend(size: number): void {
    this.#tx = Buffer.alloc(size);
  }

  nextId(): number {
    this.#msgId = (this.#msgId + 1) & 0xffff;
    return this.#msgId;
  }

  /** A view of the whole message starting at `at` in the receive buffer. */
  message(at: number): Uint8Array {
    return this.#rx.subarray(at, at + headerSize(this.#rx, at));
  }

  /** The descriptors received since the last call (the caller owns them). */
  takeFds(): number[] {
    const fds = this.#rxFds;
    this.#rxFds = [];
    return fds;
  }

  /**
   * Starts serving server requests with `onRequest` and watching the socket
   * while idle; `onGone` hears once that the channel broke or the server left.
   */
  start(onRequest: RequestHandler, onGone: (err: Error) => void): void {
    this.#onRequest = onRequest;
    this.#onGone = onGone;
    const conn = this.#conn;
    conn.on('end', () => this.#gone(fail('ECONNRESET', `vfio-user server ${this.name} closed the connection`)));
    conn.on('error', (err) => this.#gone(err));
    conn.receive((data, length, fds, fdCount) => this.#onIdleData(data, length, fds, fdCount));
    conn.unref();
  }

  /** Closes the connection (no 'gone' report). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
    for (const fd of this.takeFds()) closeFd(fd);
  }

  /**
   * Sends request[0, length) with fds and waits for its reply, serving server
   * requests meanwhile. Returns where the reply starts in rx (valid until the
   * next round trip). An error reply throws PeerError; the server going away
   * or a time-out closes the channel and throws.
   */
  roundTrip(request: Uint8Array, length: number, fds: readonly number[] | null, command: number): number {
    if (this.#closed) throw fail('ENOTCONN', `vfio-user connection to ${this.name} is closed`);
    if (this.#inRequest) throw fail('EBUSY', 'a vfio-user request is already in progress (re-entered from a DMA handler?)');
    this.#inRequest = true;
    const msgId = headerMsgId(request);
    const deadline = this.#timeoutMs < 0 ? -1 : performance.now() + this.#timeoutMs;
    try {
      let first = true;
      for (;;) {
        const at = this.#nextMessage(msgId);
        if (at >= 0) {
          const replyCommand = headerCommand(this.#rx, at);
          if (replyCommand !== command) {
            throw this.#broken(`reply to message ${msgId} is for ${commandName(replyCommand)}, not ${commandName(command)}`);
          }
          // Server requests that came in behind the reply are served from
          // the event loop, not left waiting for the driver's next request.
          if (this.#rxEnd > this.#rxStart) this.#scheduleDrain();
          if (headerFlags(this.#rx, at) & FLAG_ERROR) {
            for (const fd of this.takeFds()) closeFd(fd);
            throw new PeerError(command, headerErrno(this.#rx, at));
          }
          return at;
        }
        const left = deadline < 0 ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
        if (deadline >= 0 && left === 0 && !first) throw this.#timedOut(command);
        this.#compact();
        let n: number;
        try {
          if (first) {
            if (this.#rxEnd === 0) {
              n = this.#conn.transact(request, length, fds, this.#rx, this.#fdArr, left);
              this.#rxStart = 0;
            } else {
              this.#conn.sendSync(request.subarray(0, length), fds, left);
              n = this.#conn.receiveSync(this.#rx, this.#rxEnd, this.#rx.length - this.#rxEnd, this.#fdArr, left);
            }
          } else {
            n = this.#conn.receiveSync(this.#rx, this.#rxEnd, this.#rx.length - this.#rxEnd, this.#fdArr, left);
          }
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === 'ETIMEDOUT') throw this.#timedOut(command);
          throw this.#broken(`vfio-user connection to ${this.name} failed: ${(err as Error).message}`, code ?? 'EIO');
        }
        first = false;
        const nfds = this.#conn.receivedFds;
        for (let i = 0; i < nfds; i++) this.#rxFds.push(this.#fdArr[i]!);
        if (n === 0) throw this.#broken(`vfio-user server ${this.name} closed the connection`, 'ECONNRESET');
        this.#rxEnd += n;
      }
    } finally {
      this.#inRequest = false;
    }
  }

  #timedOut(command: number): Error {
    return this.#broken(`no reply to ${commandName(command)} within ${this.#timeoutMs} ms`, 'ETIMEDOUT');
  }

  /**
   * Consumes whole messages from rx: serves server requests, and returns the
   * start of the reply with `msgId` when it is whole (-1 if it isn't yet).
   */
  #nextMessage(msgId: number): number {
    const rx = this.#rx;
    while (this.#rxEnd - this.#rxStart >= HEADER_SIZE) {
      const at = this.#rxStart;
      const size = headerSize(rx, at);
      if (size < HEADER_SIZE || size > rx.length) throw this.#broken(`message of ${size} bytes from the server`);
      if (this.#rxEnd - at < size) return -1;
      this.#rxStart = at + size;
      const flags = headerFlags(rx, at);
      if ((flags & FLAG_TYPE_MASK) === MessageType.REPLY) {
        if (headerMsgId(rx, at) === msgId) return at;
        // A reply to nothing we wait for: a late reply after a time-out is
        // impossible (we close), so the server is confused.
        throw this.#broken(`reply to message ${headerMsgId(rx, at)} while waiting for ${msgId}`);
      }
      const reply = this.#onRequest(rx.subarray(at, at + size));
      if ((flags & FLAG_NO_REPLY) === 0) this.#conn.sendSync(reply, null, this.#timeoutMs);
    }
    return -1;
  }

  /** Moves the unread bytes to the front of rx when the tail is short. */
  #compact(): void {
    if (this.#rxStart === this.#rxEnd) {
      this.#rxStart = this.#rxEnd = 0;
    } else if (this.#rxStart > 0 && this.#rx.length - this.#rxEnd < HEADER_SIZE + 64) {
      this.#rx.copyWithin(0, this.#rxStart, this.#rxEnd);
      this.#rxEnd -= this.#rxStart;
      this.#rxStart = 0;
    }
  }

  /** Serves, on the next turn of the event loop, whole messages left in rx. */
  #scheduleDrain(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    setImmediate(() => {
      this.#drainScheduled = false;
      if (this.#closed || this.#inRequest) return;
      this.#serveIdle();
    });
  }

  /** Data that arrived while idle (on the event loop). */
  #onIdleData(data: Uint8Array, length: number, fds: Int32Array, fdCount: number): void {
    if (this.#closed) return;
    for (let i = 0; i < fdCount; i++) closeFd(fds[i]!); // nothing the server sends unasked carries fds
    if (this.#rxEnd + length > this.#rx.length) this.#compact();
    if (this.#rxEnd + length > this.#rx.length) {
      this.#gone(fail('EPROTO', 'the server sent more unasked data than a message can hold'));
      return;
    }
    this.#rx.set(data.subarray(0, length), this.#rxEnd);
    this.#rxEnd += length;
    this.#serveIdle();
  }

  /** Serves the whole messages in rx while no request waits: a reply now is a protocol error. */
  #serveIdle(): void {
    try {
      if (this.#nextMessage(-1) >= 0) throw fail('EPROTO', 'unexpected reply while idle');
      this.#compact();
    } catch (err) {
      this.#gone(err as Error);
    }
  }

  #broken(message: string, code = 'EPROTO'): Error {
    const err = errnoError(code, message);
    this.#gone(err);
    return err;
  }

  #gone(err: Error): void {
    if (this.#closed) return;
    this.close();
    this.#onGone(err);
  }
}

/** An ErrnoError for `code`, or EIO when `code` is not an errno name. */
function errnoError(code: string, message: string, cause?: unknown): ErrnoError {
  return new ErrnoError(isErrnoName(code) ? code : 'EIO', message, { cause });
}
