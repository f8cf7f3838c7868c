// One client connection of the vfio-user server: its lifecycle, input and
// back-pressure, and the one place every reply and error reply goes out.
// The pieces it drives: the command queue (command-queue.ts: arrival order
// across asynchronous handlers), the handlers (commands/: one file per group,
// each returns a reply or throws), the fast path for plain region accesses
// (fast-path.ts) and the table of its own DMA_READ/DMA_WRITE requests
// (dma-requests.ts).
//
// Model. Bytes and descriptors from the socket go through the protocol's
// MessageFramer (unless the fast path takes the chunk whole). Replies (type
// 1) are matched at once against the requests this side sent, by message id
// and command; a client sends no other replies, so one that matches nothing
// is answered with an error reply EINVAL (and a warning). Commands are
// handled strictly in arrival order, through the queue. Each failed command
// is answered with an error reply carrying the errno of the failure (EIO for
// anything that is not one of ours, reported as a warning), unless it asked
// for no reply. What the framer cannot resynchronise (StreamError) ends the
// connection after an error reply when the header was read.
//
// States: 'handshake' until VERSION succeeds (anything else first, or a
// VERSION that cannot be accepted, is answered with an error and the
// connection is closed: the specification makes VERSION the first message and
// says the server closes a connection it cannot serve); 'ready' once this
// client owns the device; 'closed' when the connection is gone. A session
// opened for a refused peer (not on the allow-list) answers its first command
// with EPERM and closes. Descriptors received with a message belong to its
// handler, which keeps what it uses; the session closes the rest once the
// handler is done.

import { errnoOf, fail, VfioTsError } from '../errors.js';
import {
  Command,
  FLAG_NO_REPLY,
  FLAG_TYPE_MASK,
  HEADER_SIZE,
  MessageFramer,
  MessageType,
  REGION_RW_DATA_OFFSET,
  StreamError,
  commandName,
  encodeErrorReplyInto,
  errnoForError,
  readHeader,
  validateHeader,
  wantsReply,
  type FramedMessage,
  type Header,
  type VersionSession,
} from '../protocol/index.js';
import { closeQuietly, type PeerCred, type UnixConnection } from '../sys/index.js';
import { isPromise, type MaybePromise } from '../util/promise.js';
import { CommandQueue, type QueuedCommand } from './command-queue.js';
import type { CommandContext, CommandReply } from './commands/context.js';
import { dispatchCommand } from './commands/dispatch.js';
import { DmaRequests } from './dma-requests.js';
import { DmaSpace } from './dma-space.js';
import type { ServerWarning } from './errors.js';
import { FastRegionPath } from './fast-path.js';
import type { ServedDevice } from './served-device.js';
import type { SessionLimits, SessionState } from './session-types.js';

export type { SessionLimits, SessionState } from './session-types.js';

/** A message as the 'message' event shows it (for tracing). */
export interface MessageTrace {
  /** The connection. */
  client: number;
  /** 'in' from the client, 'out' to it. */
  direction: 'in' | 'out';
  header: Header;
  /** Command name ("REGION_READ", "command 99"). */
  name: string;
  /** The whole message; valid only during the event. */
  message: Uint8Array;
  /** Descriptors that travelled with it. */
  fds: number;
}

/** What a session needs from its server. */
export interface SessionHost {
  readonly device: ServedDevice;
  readonly limits: SessionLimits;
  /** Someone listens to 'message'. */
  readonly tracing: boolean;
  trace(t: MessageTrace): void;
  warn(w: ServerWarning): void;
  /** Makes the session the device's owner; EBUSY if another one is. May wait for a release in progress. */
  acquire(session: ClientSession): MaybePromise<void>;
  /** The session is over (called once). */
  ended(session: ClientSession, reason: string): void;
}

const E2BIG = errnoOf('E2BIG');
const EMPTY: number[] = [];
/** The longest a refused peer may take to send its first message. */
const REFUSED_WAIT_MS = 5000;

/** One client connection of a server: its framing, handshake, dispatch and replies, and what it holds (maps, fds). */
export class ClientSession {
  readonly id: number;
  readonly cred: PeerCred;
  /** The lingering this session's connection got: the server's, or 0 for a client in this process. */
  readonly lingerUs: number;
  readonly connectedAt = Date.now();
  /** Why the peer is refused (its first command gets EPERM), or undefined for a peer that may be served. */
  readonly refusal: string | undefined;
  readonly #conn: UnixConnection;
  readonly #host: SessionHost;
  readonly #limits: SessionLimits;
  readonly #framer: MessageFramer;
  readonly #queue: CommandQueue;
  readonly #requests: DmaRequests;
  readonly #fast: FastRegionPath | undefined;
  readonly #context: CommandContext;
  #state: SessionState = 'handshake';
  #version: VersionSession | undefined;
  #dma: DmaSpace | undefined;
  // Reused for every region reply: send() copies whatever the socket does not
  // take at once, so the buffer is free again when send() returns.
  #replyBuf: Uint8Array | undefined;
  readonly #errBuf = new Uint8Array(HEADER_SIZE);
  #handshakeTimer: NodeJS.Timeout | undefined;
  #paused = false;
  #closeAfterReply = false;
  #endReason = '';

  constructor(id: number, conn: UnixConnection, cred: PeerCred, host: SessionHost, refusal?: string) {
    this.id = id;
    this.cred = cred;
    this.refusal = refusal;
    this.#conn = conn;
    this.#host = host;
    const limits = host.limits;
    this.#limits = limits;
    this.#framer = new MessageFramer({
      maxMessageSize: HEADER_SIZE + 8192 + limits.maxDataXferSize,
      maxFds: limits.maxMsgFds,
      copy: true,
    });
    const session = this;
    this.#queue = new CommandQueue(
      (c) => this.#run(c),
      () => {
        if (this.#closeAfterReply) this.#finishClose();
      },
    );
    this.#requests = new DmaRequests({
      get ready() {
        return session.#state === 'ready';
      },
      get chunk() {
        // The client's max_data_xfer_size and ours.
        const peer = session.#version?.maxSendDataXfer ?? limits.maxDataXferSize;
        return Math.max(1, Math.min(peer, limits.maxDataXferSize));
      },
      timeoutMs: limits.dmaTimeoutMs,
      id,
      send: (message) => this.#send(message),
      warn: (w) => host.warn(w),
    });
    this.#context = {
      device: host.device,
      limits,
      get state() {
        return session.#state;
      },
      get version() {
        return session.#version;
      },
      dmaSpace: () => {
        if (!this.#dma) throw fail('EINVAL', 'no DMA space before VERSION');
        return this.#dma;
      },
      replyBuffer: () => this.#buffer(),
      acquire: () => host.acquire(this),
      becomeOwner: (v) => this.#becomeOwner(v),
    };
    this.#fast = limits.fastPath
      ? new FastRegionPath({
          device: host.device,
          maxDataXferSize: limits.maxDataXferSize,
          maxMessageSize: this.#framer.maxMessageSize,
          get fastPathOpen() {
            return session.#fastPathOpen();
          },
          replyBuffer: () => this.#buffer(),
          answer: (flags, reply) => this.#answer(flags, reply),
          answerError: (msgId, command, flags, err) => this.#answerError(msgId, command, flags, err),
          hold: (p) => this.#queue.hold(p),
        })
      : undefined;
    conn.on('end', () => this.terminate('disconnected'));
    conn.on('close', () => this.terminate('closed'));
    conn.on('error', (err) => {
      this.#host.warn({ code: 'socket-error', message: `connection ${id}: ${err.message}`, client: id, cause: err });
      this.terminate('socket error');
    });
    conn.on('drain', this.#onDrain);
    let waitMs = limits.handshakeTimeoutMs > 0 ? limits.handshakeTimeoutMs : Number.POSITIVE_INFINITY;
    if (refusal !== undefined) waitMs = Math.min(waitMs, REFUSED_WAIT_MS);
    if (Number.isFinite(waitMs)) {
      this.#handshakeTimer = setTimeout(() => {
        if (this.#state === 'handshake') this.terminate('no VERSION in time');
      }, waitMs);
      this.#handshakeTimer.unref();
    }
    // A client on our own event loop (same process) could not send while we linger.
    this.lingerUs = cred.pid === process.pid || refusal !== undefined ? 0 : limits.lingerUs;
    conn.linger(this.lingerUs);
    conn.receive(this.#onChunk);
  }

  get state(): SessionState {
    return this.#state;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Why the session ended ('' while it lives). */
  get endReason(): string {
    return this.#endReason;
  }

  /** What the handshake settled (undefined before VERSION). */
  get version(): VersionSession | undefined {
    return this.#version;
  }

  /** The client's DMA maps (undefined before it owns the device). */
  get dmaSpace(): DmaSpace | undefined {
    return this.#dma;
  }

  /** Settles when the command in progress (if any) is done. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /** Bytes of commands waiting (for tests). */
  get queuedBytes(): number {
    return this.#queue.bytes;
  }

  /** Region accesses answered on the fast path (for tests). */
  get fastAccesses(): number {
    return this.#fast?.accesses ?? 0;
  }

  // ------------------------------------------------------------ input

  readonly #onChunk = (data: Uint8Array, length: number, fds: Int32Array, fdCount: number): void => {
    if (this.#state === 'closed') {
      for (let i = 0; i < fdCount; i++) closeQuietly(fds[i]!);
      return;
    }
    if (fdCount === 0 && this.#fast?.take(data, length)) return;
    const chunkFds = fdCount === 0 ? EMPTY : Array.from(fds.subarray(0, fdCount));
    let messages: FramedMessage[];
    try {
      messages = this.#framer.push(data.subarray(0, length), chunkFds);
    } catch (err) {
      this.#streamBroken(err);
      return;
    }
    for (const m of messages) {
      if ((this.#state as SessionState) === 'closed' || this.#closeAfterReply) {
        for (const fd of m.fds) closeQuietly(fd);
        continue;
      }
      this.#onMessage(m);
    }
  };

  /** A message may skip the framer (see fast-path.ts). */
  #fastPathOpen(): boolean {
    return (
      this.#state === 'ready' &&
      !this.#queue.busy &&
      !this.#closeAfterReply &&
      !this.#host.tracing &&
      this.#framer.pending === 0 &&
      !this.#framer.broken
    );
  }

  #streamBroken(err: unknown): void {
    if (err instanceof StreamError) {
      for (const fd of err.fds) closeQuietly(fd);
      // Nothing more can be read reliably, replies to our requests included.
      this.#conn.receive(null);
      this.#requests.failAll();
      const h = err.header;
      // Answer a command whose header was read, after what is already queued, then hang up.
      if (h && (h.flags & FLAG_TYPE_MASK) === MessageType.COMMAND && wantsReply(h)) {
        this.#enqueue({ m: { header: h, message: new Uint8Array(0), fds: [] }, broken: err });
      }
      this.#host.warn({ code: 'protocol', message: `connection ${this.id}: ${err.message}`, client: this.id, cause: err });
      this.#closeAfterReply = true;
      if (!this.#queue.inflight) this.#finishClose();
      return;
    }
    this.#host.warn({ code: 'internal', message: `connection ${this.id}: framing failed`, client: this.id, cause: err });
    this.terminate('internal error');
  }

  #onMessage(m: FramedMessage): void {
    if (this.#host.tracing) this.#trace('in', m.message, m.fds.length, m.header);
    if ((m.header.flags & FLAG_TYPE_MASK) === MessageType.REPLY) {
      this.#onReply(m);
      return;
    }
    this.#enqueue({ m, broken: undefined });
  }

  #enqueue(c: QueuedCommand): void {
    if (this.#queue.push(c, this.#limits.maxQueuedMessages)) return;
    for (const fd of c.m.fds) closeQuietly(fd);
    this.#host.warn({
      code: 'protocol',
      message: `connection ${this.id}: more than ${this.#limits.maxQueuedMessages} commands queued`,
      client: this.id,
    });
    this.terminate('too many queued commands');
  }

  /** A reply from the client: to one of our DMA requests, or an error (a client sends no other replies). */
  #onReply(m: FramedMessage): void {
    for (const fd of m.fds) closeQuietly(fd);
    if (this.#requests.settle(m)) return;
    const h = m.header;
    const why =
      h.command === Command.DMA_READ || h.command === Command.DMA_WRITE
        ? `a ${commandName(h.command)} reply (id ${h.msgId}) matches no request of ours`
        : `a ${commandName(h.command)} reply (id ${h.msgId}): a client only answers DMA_READ and DMA_WRITE`;
    this.#host.warn({ code: 'unmatched-reply', message: `connection ${this.id}: ${why}; answered EINVAL`, client: this.id });
    this.#answerError(h.msgId, h.command, h.flags, fail('EINVAL', why));
    // Before VERSION this ends the connection, as any other first message would.
    if (this.#closeAfterReply && !this.#queue.inflight) this.#finishClose();
  }

  // ------------------------------------------------------------ commands

  /** Handles one command; returns a promise (never rejecting) when it went asynchronous. */
  #run(c: QueuedCommand): Promise<void> | undefined {
    const { m, broken } = c;
    if (broken) {
      this.#failed(m, broken, true);
      return undefined;
    }
    const h = m.header;
    let r: MaybePromise<CommandReply>;
    try {
      if (this.refusal !== undefined) throw fail('EPERM', `connection refused: ${this.refusal}`);
      validateHeader(h);
      if (this.#state === 'handshake' && h.command !== Command.VERSION) {
        throw fail('EINVAL', `${commandName(h.command)} before VERSION: VERSION must be the first message`);
      }
      r = dispatchCommand(this.#context, h, m.message.subarray(HEADER_SIZE), m.fds);
    } catch (err) {
      this.#failed(m, err, false);
      return undefined;
    }
    if (!isPromise(r)) {
      this.#succeeded(m, r);
      return undefined;
    }
    return r.then(
      (reply) => this.#succeeded(m, reply),
      (err: unknown) => this.#failed(m, err, false),
    );
  }

  #succeeded(m: FramedMessage, reply: CommandReply): void {
    for (const fd of m.fds) closeQuietly(fd);
    this.#answer(m.header.flags, reply);
    if (this.#closeAfterReply) this.#finishClose();
  }

  #failed(m: FramedMessage, err: unknown, broken: boolean): void {
    for (const fd of m.fds) closeQuietly(fd);
    this.#answerError(m.header.msgId, m.header.command, m.header.flags, err);
    // After a stream error the queue closes the connection once it is idle.
    if (this.#closeAfterReply && !broken) this.#finishClose();
  }

  #becomeOwner(v: VersionSession): void {
    if (this.#state !== 'handshake') throw fail('ECONNRESET', 'the connection closed during the handshake');
    const l = this.#limits;
    this.#version = v;
    this.#dma = new DmaSpace({ maxMaps: v.maxDmaMaps, maxBytes: l.maxDmaBytes, pageSize: l.pageSize }, this.#host.device.dmaHooks);
    this.#state = 'ready';
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    this.#host.device.attachOwner({ id: this.id, pid: this.cred.pid, uid: this.cred.uid, gid: this.cred.gid }, this.#dma, this.#requests);
  }

  #buffer(): Uint8Array {
    this.#replyBuf ??= new Uint8Array(REGION_RW_DATA_OFFSET + this.#limits.maxDataXferSize);
    return this.#replyBuf;
  }

  // ------------------------------------------------------------ the reply point

  /** Sends the reply to a command with `flags` (nothing when it asked for no reply). */
  #answer(flags: number, reply: CommandReply): void {
    if ((flags & FLAG_NO_REPLY) !== 0) return;
    if (reply instanceof Uint8Array) this.#send(reply);
    else this.#send(reply.message, reply.fds);
  }

  /**
   * Sends the error reply for a failed message: the errno of the error (EIO
   * and a warning for one that is not ours; E2BIG for a message above the
   * size limit). A posted command gets none (a warning instead). During the
   * handshake, and after a stream error, the connection closes after it.
   */
  #answerError(msgId: number, command: number, flags: number, err: unknown): void {
    if (!(err instanceof VfioTsError) || err.errno === undefined) {
      this.#host.warn({
        code: 'model-error',
        message: `connection ${this.id}: ${commandName(command)} failed unexpectedly`,
        client: this.id,
        cause: err,
      });
    }
    if (this.#state === 'handshake' || err instanceof StreamError) this.#closeAfterReply = true;
    if (this.#state === 'closed') return;
    if ((flags & FLAG_TYPE_MASK) === MessageType.COMMAND && (flags & FLAG_NO_REPLY) !== 0 && !(err instanceof StreamError)) {
      this.#host.warn({
        code: 'no-reply-error',
        message: `connection ${this.id}: ${commandName(command)} (no reply wanted) failed: ${(err as Error)?.message}`,
        client: this.id,
        cause: err,
      });
      return;
    }
    const errno = err instanceof StreamError && err.reason === 'too-large' ? E2BIG : errnoForError(err);
    encodeErrorReplyInto(this.#errBuf, msgId, command, errno);
    this.#send(this.#errBuf);
  }

  // ------------------------------------------------------------ output

  #send(message: Uint8Array, fds?: readonly number[]): void {
    if (this.#state === 'closed') return;
    if (this.#host.tracing) this.#trace('out', message, fds?.length ?? 0);
    try {
      this.#conn.send(message, fds);
    } catch (err) {
      this.terminate(`send failed: ${(err as Error).message}`);
      return;
    }
    if (!this.#paused && this.#conn.pendingBytes > this.#limits.sendHighWater) {
      // The client does not read its replies: stop reading its commands until it does.
      this.#paused = true;
      this.#conn.receive(null);
    }
  }

  readonly #onDrain = (): void => {
    if (this.#paused && this.#state !== 'closed') {
      this.#paused = false;
      this.#conn.receive(this.#onChunk);
    }
  };

  #trace(direction: 'in' | 'out', message: Uint8Array, fds: number, header?: Header): void {
    try {
      const h = header ?? readHeader(message);
      this.#host.trace({ client: this.id, direction, header: h, name: commandName(h.command), message, fds });
    } catch (cause) {
      this.#host.warn({ code: 'trace-failed', message: 'a message listener threw', client: this.id, cause });
    }
  }

  // ------------------------------------------------------------ end

  /** Closes once everything sent so far has left (for error replies that end the connection). */
  #finishClose(): void {
    if (this.#state === 'closed') return;
    this.#conn.receive(null);
    if (this.#conn.pendingBytes === 0) {
      this.terminate(this.#endReasonForClose());
      return;
    }
    const timer = setTimeout(() => this.terminate(this.#endReasonForClose()), 1000);
    timer.unref();
    this.#conn.once('drain', () => {
      clearTimeout(timer);
      this.terminate(this.#endReasonForClose());
    });
  }

  #endReasonForClose(): string {
    if (this.refusal !== undefined) return 'refused';
    return this.#version ? 'protocol error' : 'handshake refused';
  }

  /** Ends the session: the connection is closed, requests fail, descriptors are released. Idempotent. */
  terminate(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#endReason = reason;
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    for (const q of this.#queue.clear()) for (const fd of q.m.fds) closeQuietly(fd);
    const rest = this.#framer.end();
    for (const fd of rest.fds) closeQuietly(fd);
    this.#requests.failAll();
    this.#conn.close();
    this.#host.ended(this, reason);
  }

  /** Closes the DMA space (the server calls this when it releases the device). */
  releaseDma(): void {
    this.#dma?.close();
  }
}
