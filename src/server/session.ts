// One client connection of the vfio-user server: framing, the command
// dispatcher, replies, and the server's own requests (DMA_READ/DMA_WRITE).
//
// Model. Bytes and descriptors from the socket go through the protocol's
// MessageFramer. Replies (type 1) are matched at once against the requests
// this side sent, by message id and command; one that matches nothing is
// dropped with a warning. Commands are handled strictly in arrival order: a
// handler (or the device model behind it) may return a promise, and then
// later commands wait in a queue until it settles - while replies keep being
// read, so an asynchronous model can wait for DMA through messages. Each
// failed command is answered with an error reply carrying the errno of the
// failure (EIO for anything that is not one of ours, reported as a warning),
// unless it asked for no reply. What the framer cannot resynchronise
// (StreamError) ends the connection after an error reply when the header
// was read.
//
// States: 'handshake' until VERSION succeeds (anything else first, or a
// VERSION that cannot be accepted, is answered with an error and the
// connection is closed: the specification makes VERSION the first message and
// says the server closes a connection it cannot serve); 'ready' once this
// client owns the device; 'closed' when the connection is gone. Descriptors
// received with a message belong to its handler, which keeps what it uses;
// the session closes the rest once the handler is done.

import { errnoOf, fail, VfioTsError } from '../errors.js';
import {
  Command,
  DEVICE_FLAGS_PCI,
  DEVICE_FLAGS_RESET,
  FLAG_NO_REPLY,
  FLAG_TYPE_MASK,
  HEADER_SIZE,
  MessageFramer,
  MessageType,
  PCI_NUM_IRQS,
  PCI_NUM_REGIONS,
  PeerError,
  PROTOCOL_MAJOR,
  PROTOCOL_MINOR,
  REGION_RW_DATA_OFFSET,
  StreamError,
  checkDmaReadReply,
  checkDmaWriteReply,
  commandName,
  decodeDeviceFeatureRequestPayload,
  decodeDeviceGetInfoRequestPayload,
  decodeDmaMapRequestPayload,
  decodeDmaUnmapRequestPayload,
  decodeIrqInfoRequestPayload,
  decodeMigDataReadRequestPayload,
  decodeMigDataWriteRequestPayload,
  decodeRegionInfoRequestPayload,
  decodeRegionIoFdsRequestPayload,
  decodeRegionReadRequestPayload,
  decodeRegionWriteMultiRequestPayload,
  decodeRegionWriteRequestPayload,
  decodeSetIrqsRequestPayload,
  decodeVersionPayload,
  encodeDeviceGetInfoReply,
  encodeDmaMapReply,
  encodeDmaReadRequest,
  encodeDmaUnmapReply,
  encodeDmaWriteRequest,
  encodeErrorReplyInto,
  encodeIrqInfoReply,
  encodeRegionInfoReply,
  encodeRegionIoFdsReply,
  encodeRegionReadReplyInto,
  encodeRegionWriteMultiReply,
  encodeRegionWriteReplyInto,
  encodeReply,
  encodeSetIrqsReply,
  encodeVersionReply,
  errnoForError,
  interpretDeviceFeatureRequest,
  negotiateVersion,
  readHeader,
  validateHeader,
  wantsReply,
  type FramedMessage,
  type Header,
  type VersionSession,
} from '../protocol/index.js';
import { readU16, readU32 } from '../protocol/wire.js';
import { closeFd, type PeerCred, type UnixConnection } from '../sys/index.js';
import type { ServedDevice } from './served-device.js';
import { settleAll } from './dma.js';
import { DmaSpace, type DmaTransport } from './dma-space.js';
import { hex } from '../util/format.js';
import { DmaError, type ServerWarning } from './errors.js';
import type { MaybePromise } from './model.js';

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

/** Limits and timeouts a session applies (resolved server options). */
export interface SessionLimits {
  maxDataXferSize: number;
  maxMsgFds: number;
  maxDmaMaps: number;
  maxDmaBytes: bigint;
  pageSize: number;
  writeMultiple: boolean;
  dmaTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** Commands waiting behind an asynchronous one before the client is cut off. */
  maxQueuedMessages: number;
  /** Bytes queued for sending before the session stops reading (until the client drains). */
  sendHighWater: number;
  /** How long the session waits for the client's next message after answering (VfioUserServerOptions.lingerUs). */
  lingerUs: number;
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

interface PendingRequest {
  command: number;
  address: bigint;
  data: Uint8Array;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const E2BIG = errnoOf('E2BIG');
/** Offsets from 2^53 on are left to the bigint path (which also checks wrapping past 2^64). */
const SAFE_OFFSET_HIGH = 0x20_0000;
const TWO_32 = 0x1_0000_0000;
/** Sizes of region access whose buffer views are kept (a subarray is an allocation). */
const MAX_CACHED_VIEWS = 64;

/** Views for region accesses of one count, over the reply buffer and the last receive buffer. */
interface AccessViews {
  /** The data: reply buffer [32, 32 + count) (read into, or a write's data copied to). */
  data: Uint8Array;
  /** The whole REGION_READ reply: reply buffer [0, 32 + count). */
  readReply: Uint8Array;
  /** A REGION_WRITE's data in the receive buffer `from` ([32, 32 + count)). */
  src: Uint8Array | undefined;
  from: Uint8Array | undefined;
}
const EMPTY: number[] = [];
/** Most server-to-client requests outstanding at once. */
const MAX_PENDING_REQUESTS = 4096;

function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | undefined)?.then === 'function';
}

function closeQuietly(fd: number): void {
  if (fd < 0) return;
  try {
    closeFd(fd);
  } catch {
    // already closed
  }
}

export type SessionState = 'handshake' | 'ready' | 'closed';

export class ClientSession implements DmaTransport {
  readonly id: number;
  readonly cred: PeerCred;
  /** The lingering this session's connection got: the server's, or 0 for a client in this process. */
  readonly lingerUs: number;
  readonly connectedAt = Date.now();
  readonly #conn: UnixConnection;
  readonly #host: SessionHost;
  readonly #limits: SessionLimits;
  readonly #framer: MessageFramer;
  #state: SessionState = 'handshake';
  #version: VersionSession | undefined;
  #dma: DmaSpace | undefined;
  /** Commands waiting for the one in progress (with the stream error that ended the input, for the last one). */
  #queue: { m: FramedMessage; broken: StreamError | undefined }[] = [];
  #queuedBytes = 0;
  /** The asynchronous command in progress. */
  #inflight: Promise<void> | undefined;
  #pending = new Map<number, PendingRequest>();
  #nextId = 0;
  // Reused for every reply: plain Uint8Arrays, never Buffers, because
  // UnixConnection.send() keeps what the socket cannot take with .slice(),
  // which copies a Uint8Array but only views a Buffer.
  #replyBuf: Uint8Array | undefined;
  /** The REGION_WRITE reply: reply buffer [0, 32). */
  #writeReply: Uint8Array | undefined;
  #views = new Map<number, AccessViews>();
  readonly #errBuf = new Uint8Array(HEADER_SIZE);
  #handshakeTimer: NodeJS.Timeout | undefined;
  #paused = false;
  #closeAfterReply = false;
  #endReason = '';

  constructor(id: number, conn: UnixConnection, cred: PeerCred, host: SessionHost) {
    this.id = id;
    this.cred = cred;
    this.#conn = conn;
    this.#host = host;
    this.#limits = host.limits;
    this.#framer = new MessageFramer({
      maxMessageSize: HEADER_SIZE + 8192 + host.limits.maxDataXferSize,
      maxFds: host.limits.maxMsgFds,
      copy: true,
    });
    conn.on('end', () => this.terminate('disconnected'));
    conn.on('close', () => this.terminate('closed'));
    conn.on('error', (err) => {
      this.#host.warn({ code: 'socket-error', message: `connection ${id}: ${err.message}`, client: id, cause: err });
      this.terminate('socket error');
    });
    conn.on('drain', this.#onDrain);
    if (host.limits.handshakeTimeoutMs > 0 && Number.isFinite(host.limits.handshakeTimeoutMs)) {
      this.#handshakeTimer = setTimeout(() => {
        if (this.#state === 'handshake') this.terminate('no VERSION in time');
      }, host.limits.handshakeTimeoutMs);
      this.#handshakeTimer.unref();
    }
    // A client on our own event loop (same process) could not send while we linger.
    this.lingerUs = cred.pid === process.pid ? 0 : host.limits.lingerUs;
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
    return this.#inflight ?? Promise.resolve();
  }

  // ------------------------------------------------------------ input

  readonly #onChunk = (data: Uint8Array, length: number, fds: Int32Array, fdCount: number): void => {
    if (this.#state === 'closed') {
      for (let i = 0; i < fdCount; i++) closeQuietly(fds[i]!);
      return;
    }
    if (fdCount === 0 && this.#fastRegionAccess(data, length)) return;
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

  #streamBroken(err: unknown): void {
    if (err instanceof StreamError) {
      for (const fd of err.fds) closeQuietly(fd);
      // Nothing more can be read reliably, replies to our requests included.
      this.#conn.receive(null);
      this.#failPending();
      const h = err.header;
      // Answer a command whose header was read, after what is already queued, then hang up.
      if (h && (h.flags & FLAG_TYPE_MASK) === MessageType.COMMAND && wantsReply(h)) {
        this.#queueOrRun({ header: h, message: new Uint8Array(0), fds: [] }, err);
      }
      this.#host.warn({ code: 'protocol', message: `connection ${this.id}: ${err.message}`, client: this.id, cause: err });
      this.#closeAfterReply = true;
      if (!this.#inflight) this.#finishClose();
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
    this.#queueOrRun(m, undefined);
  }

  #queueOrRun(m: FramedMessage, broken: StreamError | undefined): void {
    if (this.#inflight) {
      if (this.#queue.length >= this.#limits.maxQueuedMessages) {
        for (const fd of m.fds) closeQuietly(fd);
        this.#host.warn({ code: 'protocol', message: `connection ${this.id}: more than ${this.#limits.maxQueuedMessages} commands queued`, client: this.id });
        this.terminate('too many queued commands');
        return;
      }
      this.#queue.push({ m, broken });
      this.#queuedBytes += m.message.length;
      return;
    }
    this.#run(m, broken);
  }

  #run(m: FramedMessage, broken: StreamError | undefined): void {
    const r = this.#handleCommand(m, broken);
    if (r === undefined) return;
    this.#inflight = r.then(() => {
      this.#inflight = undefined;
      this.#drainQueue();
    });
  }

  #drainQueue(): void {
    while (!this.#inflight && this.#queue.length && this.#state !== 'closed') {
      const { m, broken } = this.#queue.shift()!;
      this.#queuedBytes -= m.message.length;
      this.#run(m, broken);
    }
    if (!this.#inflight && this.#closeAfterReply) this.#finishClose();
  }

  // ------------------------------------------------------------ commands

  /** Handles one command; returns a promise (never rejecting) when it went asynchronous. */
  #handleCommand(m: FramedMessage, broken: StreamError | undefined): Promise<void> | undefined {
    const h = m.header;
    const done = (err: unknown): void => {
      for (const fd of m.fds) closeQuietly(fd);
      if (err !== undefined) this.#fail(h, err);
      if (this.#closeAfterReply && !broken) this.#finishClose();
    };
    if (broken) {
      done(broken);
      return undefined;
    }
    let r: MaybePromise<void>;
    try {
      validateHeader(h);
      if (this.#state === 'handshake' && h.command !== Command.VERSION) {
        throw fail('EINVAL', `${commandName(h.command)} before VERSION: VERSION must be the first message`);
      }
      r = this.#dispatch(h, m.message.subarray(HEADER_SIZE), m.fds);
    } catch (err) {
      done(err);
      return undefined;
    }
    if (!isPromise(r)) {
      done(undefined);
      return undefined;
    }
    return r.then(
      () => done(undefined),
      (err: unknown) => done(err),
    );
  }

  /** Sends the error reply for a failed command (and, during the handshake, hangs up after it). */
  #fail(h: Header, err: unknown): void {
    if (!(err instanceof VfioTsError) || err.errno === undefined) {
      this.#host.warn({ code: 'model-error', message: `connection ${this.id}: ${commandName(h.command)} failed unexpectedly`, client: this.id, cause: err });
    }
    if (this.#state === 'handshake' || err instanceof StreamError) this.#closeAfterReply = true;
    if (this.#state === 'closed') return;
    if ((h.flags & FLAG_TYPE_MASK) === MessageType.COMMAND && !wantsReply(h) && !(err instanceof StreamError)) {
      this.#host.warn({ code: 'no-reply-error', message: `connection ${this.id}: ${commandName(h.command)} (no reply wanted) failed: ${(err as Error)?.message}`, client: this.id, cause: err });
      return;
    }
    const errno = err instanceof StreamError && err.reason === 'too-large' ? E2BIG : errnoForError(err);
    encodeErrorReplyInto(this.#errBuf, h.msgId, h.command, errno);
    this.#send(this.#errBuf);
  }

  #dispatch(h: Header, p: Uint8Array, fds: number[]): MaybePromise<void> {
    switch (h.command) {
      case Command.VERSION:
        return this.#onVersion(h, p, fds);
      case Command.DMA_MAP:
        return this.#onDmaMap(h, p, fds);
      case Command.DMA_UNMAP:
        return this.#onDmaUnmap(h, p, fds);
      case Command.DEVICE_GET_INFO: {
        const { argsz } = decodeDeviceGetInfoRequestPayload(p, fds);
        this.#reply(h, encodeDeviceGetInfoReply(h.msgId, argsz, { flags: DEVICE_FLAGS_PCI | (this.#host.device.canReset === false ? 0 : DEVICE_FLAGS_RESET), numRegions: PCI_NUM_REGIONS, numIrqs: PCI_NUM_IRQS }));
        return;
      }
      case Command.DEVICE_GET_REGION_INFO: {
        const req = decodeRegionInfoRequestPayload(p, fds, { numRegions: PCI_NUM_REGIONS });
        const d = this.#host.device.regionInfo(req.index);
        const { message, sendFd } = encodeRegionInfoReply(h.msgId, req.argsz, d);
        this.#reply(h, message, sendFd && d.fd !== undefined ? [d.fd] : undefined);
        return;
      }
      case Command.DEVICE_GET_REGION_IO_FDS: {
        const req = decodeRegionIoFdsRequestPayload(p, fds, { numRegions: PCI_NUM_REGIONS });
        // No ioeventfds are offered: count 0, no descriptors (libvfio-user's answer).
        this.#reply(h, encodeRegionIoFdsReply(h.msgId, req.argsz, req.index, [], 0).message);
        return;
      }
      case Command.DEVICE_GET_IRQ_INFO: {
        const req = decodeIrqInfoRequestPayload(p, fds, { numIrqs: PCI_NUM_IRQS });
        const info = this.#host.device.irqInfo(req.index);
        this.#reply(h, encodeIrqInfoReply(h.msgId, { flags: info.flags, index: req.index, count: info.count }));
        return;
      }
      case Command.DEVICE_SET_IRQS: {
        const req = decodeSetIrqsRequestPayload(p, fds, { numIrqs: PCI_NUM_IRQS });
        // The interrupt layer owns the eventfds from here (it closes what it does not keep).
        const taken = fds.splice(0, fds.length);
        this.#host.device.setIrqs(req, taken);
        this.#reply(h, encodeSetIrqsReply(h.msgId));
        return;
      }
      case Command.REGION_READ:
        return this.#onRegionRead(h, p, fds);
      case Command.REGION_WRITE:
        return this.#onRegionWrite(h, p, fds);
      case Command.REGION_WRITE_MULTI:
        return this.#onRegionWriteMulti(h, p, fds);
      case Command.DEVICE_RESET: {
        if (fds.length) throw fail('EINVAL', `DEVICE_RESET: ${fds.length} descriptors, none allowed`);
        if (p.length !== 0) throw fail('EINVAL', `DEVICE_RESET: ${p.length} bytes of payload, none allowed`);
        const r = this.#host.device.functionReset();
        const finish = (): void => this.#reply(h, encodeReply(h));
        if (isPromise(r)) return r.then(finish);
        finish();
        return;
      }
      case Command.DEVICE_FEATURE: {
        const req = decodeDeviceFeatureRequestPayload(p, fds);
        interpretDeviceFeatureRequest(req); // ENOTTY for unknown features, EINVAL for malformed data
        throw fail('ENOTTY', `DEVICE_FEATURE: feature ${req.feature} is not supported by this device`);
      }
      case Command.MIG_DATA_READ:
        decodeMigDataReadRequestPayload(p, fds, { maxDataXferSize: this.#limits.maxDataXferSize });
        throw fail('ENOTSUP', 'MIG_DATA_READ: the device does not support migration');
      case Command.MIG_DATA_WRITE:
        decodeMigDataWriteRequestPayload(p, fds, { maxDataXferSize: this.#limits.maxDataXferSize });
        throw fail('ENOTSUP', 'MIG_DATA_WRITE: the device does not support migration');
      case Command.DMA_READ:
      case Command.DMA_WRITE:
        throw fail('EINVAL', `${commandName(h.command)} is a server-to-client command`);
      default:
        throw fail('ENOSYS', `unknown ${commandName(h.command)}`);
    }
  }

  // ---- VERSION and ownership

  #onVersion(h: Header, p: Uint8Array, fds: number[]): MaybePromise<void> {
    if (this.#state !== 'handshake') throw fail('EINVAL', 'VERSION was already negotiated');
    if (fds.length) throw fail('EINVAL', `VERSION: ${fds.length} descriptors, none allowed`);
    const hello = decodeVersionPayload(p);
    const l = this.#limits;
    const { reply, session } = negotiateVersion(hello, {
      major: PROTOCOL_MAJOR,
      minor: PROTOCOL_MINOR,
      capabilities: {
        maxMsgFds: l.maxMsgFds,
        maxDataXferSize: l.maxDataXferSize,
        maxDmaMaps: l.maxDmaMaps,
        pgsizes: l.pageSize,
        writeMultiple: l.writeMultiple,
        twinSocket: { supported: false },
      },
    });
    const grant = (): void => {
      if (this.#state !== 'handshake') throw fail('ECONNRESET', 'the connection closed during the handshake');
      this.#version = session;
      this.#dma = new DmaSpace({ maxMaps: session.maxDmaMaps, maxBytes: l.maxDmaBytes, pageSize: l.pageSize }, this.#host.device.dmaHooks);
      this.#state = 'ready';
      if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
      this.#host.device.attachOwner({ id: this.id, pid: this.cred.pid, uid: this.cred.uid, gid: this.cred.gid }, this.#dma, this);
      this.#reply(h, encodeVersionReply(h.msgId, reply));
    };
    const r = this.#host.acquire(this);
    if (isPromise(r)) return r.then(grant);
    grant();
  }

  // ---- DMA maps

  #requireDma(): DmaSpace {
    if (!this.#dma) throw fail('EINVAL', 'no DMA space before VERSION');
    return this.#dma;
  }

  #onDmaMap(h: Header, p: Uint8Array, fds: number[]): void {
    const req = decodeDmaMapRequestPayload(p, fds);
    // The descriptor stays in `fds` and is closed after this: the mapping keeps the memory.
    this.#requireDma().map({ iova: req.address, size: req.size, offset: req.offset, readable: req.readable, writable: req.writable, fd: req.fd });
    this.#reply(h, encodeDmaMapReply(h.msgId));
  }

  #onDmaUnmap(h: Header, p: Uint8Array, fds: number[]): void {
    const req = decodeDmaUnmapRequestPayload(p, fds);
    if (req.bitmap) throw fail('ENOTSUP', 'DMA_UNMAP: dirty page tracking is not supported');
    const space = this.#requireDma();
    if (req.all) space.unmapAll();
    else space.unmap(req.address, req.size);
    this.#reply(h, encodeDmaUnmapReply(h.msgId, req));
  }

  // ---- region access (the hot path: one preallocated reply buffer)

  #buffer(): Uint8Array {
    if (!this.#replyBuf) this.#replyBuf = new Uint8Array(REGION_RW_DATA_OFFSET + this.#limits.maxDataXferSize);
    return this.#replyBuf;
  }

  #onRegionRead(h: Header, p: Uint8Array, fds: number[]): MaybePromise<void> {
    const a = decodeRegionReadRequestPayload(p, fds, { maxDataXferSize: this.#limits.maxDataXferSize, numRegions: PCI_NUM_REGIONS });
    const buf = this.#buffer();
    const dst = buf.subarray(REGION_RW_DATA_OFFSET, REGION_RW_DATA_OFFSET + a.count);
    dst.fill(0);
    const r = this.#host.device.regionRead(a.region, a.offset, dst);
    const finish = (): void => {
      const n = encodeRegionReadReplyInto(buf, h.msgId, a.region, a.offset, a.count);
      this.#reply(h, buf.subarray(0, n));
    };
    if (isPromise(r)) return r.then(finish);
    finish();
  }

  #onRegionWrite(h: Header, p: Uint8Array, fds: number[]): MaybePromise<void> {
    const a = decodeRegionWriteRequestPayload(p, fds, { maxDataXferSize: this.#limits.maxDataXferSize, numRegions: PCI_NUM_REGIONS });
    const r = this.#host.device.regionWrite(a.region, a.offset, a.data);
    const finish = (): void => {
      const buf = this.#buffer();
      const n = encodeRegionWriteReplyInto(buf, h.msgId, a.region, a.offset, a.count);
      this.#reply(h, buf.subarray(0, n));
    };
    if (isPromise(r)) return r.then(finish);
    finish();
  }

  /**
   * The hot path: a chunk that is exactly one REGION_READ or REGION_WRITE,
   * without descriptors, while the session is ready and idle (no command in
   * progress or queued, no partial message in the framer, nobody tracing).
   * It is handled straight from the receive buffer and answered from the
   * reply buffer without allocating: no framed message, header or decoded
   * object, no bigint offset, no promise unless the model returns one.
   *
   * It takes only a message that passes every check the general path makes -
   * the framer's (size), validateHeader's (a command with no flag but
   * no-reply, errno zero; REGION_READ/WRITE are known commands), the state's
   * (past VERSION) and the region codecs' (no descriptors, payload length,
   * count within max_data_xfer_size, region index in range, no wrap past
   * 2^64) - and returns false for anything else, which then takes the general
   * path and gets its error reply there. The device checks the range itself.
   */
  #fastRegionAccess(b: Uint8Array, length: number): boolean {
    if (this.#state !== 'ready' || this.#inflight !== undefined || this.#queue.length !== 0 || this.#closeAfterReply) return false;
    if (this.#host.tracing || this.#framer.pending !== 0 || this.#framer.broken) return false;
    // Framing: the chunk holds exactly one message (of an acceptable size).
    if (length < REGION_RW_DATA_OFFSET || readU32(b, 4) !== length || length > this.#framer.maxMessageSize) return false;
    // Header (validateHeader): a command, only the no-reply flag, errno zero.
    const flags = readU32(b, 8);
    if ((flags & ~FLAG_NO_REPLY) !== 0 || readU32(b, 12) !== 0) return false;
    // Payload: u64 offset, u32 region, u32 count (readAccess, requireLength).
    const command = readU16(b, 2);
    const offsetHigh = readU32(b, HEADER_SIZE + 4);
    const region = readU32(b, HEADER_SIZE + 8);
    const count = readU32(b, HEADER_SIZE + 12);
    if (count > this.#limits.maxDataXferSize || region >= PCI_NUM_REGIONS || offsetHigh >= SAFE_OFFSET_HIGH) return false;
    const read = command === Command.REGION_READ;
    if (read ? length !== REGION_RW_DATA_OFFSET : command !== Command.REGION_WRITE || length !== REGION_RW_DATA_OFFSET + count) return false;

    const msgId = readU16(b, 0);
    const offset = offsetHigh * TWO_32 + readU32(b, HEADER_SIZE);
    const wants = (flags & FLAG_NO_REPLY) === 0;
    const v = this.#accessViews(count);
    let r: MaybePromise<void>;
    try {
      if (read) {
        v.data.fill(0);
        r = this.#host.device.regionRead(region, offset, v.data);
      } else {
        // Copied out of the receive buffer, which the next chunk reuses while an asynchronous handler may still hold the data.
        v.data.set(this.#writeSource(b, v, count));
        r = this.#host.device.regionWrite(region, offset, v.data);
      }
    } catch (err) {
      this.#fail({ msgId, command, size: length, flags, errno: 0 }, err);
      return true;
    }
    if (!isPromise(r)) {
      if (wants) this.#regionReply(read, msgId, region, offset, count, v);
      return true;
    }
    // An asynchronous model: later commands queue behind this one, as on the general path.
    this.#inflight = r
      .then(
        () => {
          if (wants) this.#regionReply(read, msgId, region, offset, count, v);
        },
        (err: unknown) => this.#fail({ msgId, command, size: length, flags, errno: 0 }, err),
      )
      .then(() => {
        this.#inflight = undefined;
        this.#drainQueue();
      });
    return true;
  }

  #regionReply(read: boolean, msgId: number, region: number, offset: number, count: number, v: AccessViews): void {
    const buf = this.#buffer();
    if (read) {
      encodeRegionReadReplyInto(buf, msgId, region, offset, count);
      this.#send(v.readReply);
    } else {
      encodeRegionWriteReplyInto(buf, msgId, region, offset, count);
      this.#writeReply ??= buf.subarray(0, REGION_RW_DATA_OFFSET);
      this.#send(this.#writeReply);
    }
  }

  /** The views for accesses of `count` bytes (kept for a few sizes, made afresh beyond). */
  #accessViews(count: number): AccessViews {
    let v = this.#views.get(count);
    if (v !== undefined) return v;
    const buf = this.#buffer();
    v = {
      data: buf.subarray(REGION_RW_DATA_OFFSET, REGION_RW_DATA_OFFSET + count),
      readReply: buf.subarray(0, REGION_RW_DATA_OFFSET + count),
      src: undefined,
      from: undefined,
    };
    if (this.#views.size >= MAX_CACHED_VIEWS) this.#views.clear();
    this.#views.set(count, v);
    return v;
  }

  /** A REGION_WRITE's data in receive buffer `b`. */
  #writeSource(b: Uint8Array, v: AccessViews, count: number): Uint8Array {
    if (v.from !== b) {
      v.src = b.subarray(REGION_RW_DATA_OFFSET, REGION_RW_DATA_OFFSET + count);
      v.from = b;
    }
    return v.src!;
  }

  #onRegionWriteMulti(h: Header, p: Uint8Array, fds: number[]): MaybePromise<void> {
    if (!this.#version?.writeMultiple) throw fail('ENOTSUP', 'REGION_WRITE_MULTI was not negotiated (write_multiple)');
    const writes = decodeRegionWriteMultiRequestPayload(p, fds, { numRegions: PCI_NUM_REGIONS });
    const device = this.#host.device;
    // In order; the first failure stops the rest and is the reply (the writes before it took effect).
    const from = (i: number): MaybePromise<void> => {
      for (; i < writes.length; i++) {
        const w = writes[i]!;
        const r = device.regionWrite(w.region, w.offset, w.data);
        if (isPromise(r)) {
          const next = i + 1;
          return r.then(() => from(next));
        }
      }
      this.#reply(h, encodeRegionWriteMultiReply(h.msgId, writes.length));
    };
    return from(0);
  }

  // ------------------------------------------------------------ output

  #reply(h: Header, message: Uint8Array, fds?: readonly number[]): void {
    if (!wantsReply(h)) return;
    this.#send(message, fds);
  }

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

  // ------------------------------------------------------------ server-to-client requests (DmaTransport)

  /** Largest count of one DMA_READ/DMA_WRITE: the client's max_data_xfer_size and ours. */
  #chunk(): number {
    const peer = this.#version?.maxSendDataXfer ?? this.#limits.maxDataXferSize;
    return Math.max(1, Math.min(peer, this.#limits.maxDataXferSize));
  }

  dmaRead(iova: bigint, dst: Uint8Array): Promise<void> {
    return this.#transfer(Command.DMA_READ, iova, dst);
  }

  dmaWrite(iova: bigint, src: Uint8Array): Promise<void> {
    return this.#transfer(Command.DMA_WRITE, iova, src);
  }

  #transfer(command: number, iova: bigint, data: Uint8Array): Promise<void> {
    const chunk = this.#chunk();
    if (data.length <= chunk) return this.#request(command, iova, data);
    const waits: Promise<void>[] = [];
    for (let off = 0; off < data.length; off += chunk) {
      waits.push(this.#request(command, iova + BigInt(off), data.subarray(off, Math.min(data.length, off + chunk))));
    }
    return settleAll(waits);
  }

  #request(command: number, address: bigint, data: Uint8Array): Promise<void> {
    if (this.#state !== 'ready') {
      return Promise.reject(new DmaError('disconnected', address, data.length, `DMA at ${hex(address)}: the client is gone`));
    }
    if (this.#pending.size >= MAX_PENDING_REQUESTS) {
      return Promise.reject(new DmaError('timeout', address, data.length, `DMA at ${hex(address)}: ${MAX_PENDING_REQUESTS} requests are already waiting for the client`, { code: 'EAGAIN' }));
    }
    let id = this.#nextId;
    while (this.#pending.has(id)) id = (id + 1) & 0xffff;
    this.#nextId = (id + 1) & 0xffff;
    const message = command === Command.DMA_READ ? encodeDmaReadRequest(id, address, data.length) : encodeDmaWriteRequest(id, address, data);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#pending.get(id)?.timer !== timer) return;
        this.#pending.delete(id);
        reject(new DmaError('timeout', address, data.length, `${commandName(command)} at ${hex(address)}: no reply within ${this.#limits.dmaTimeoutMs} ms`));
      }, this.#limits.dmaTimeoutMs);
      timer.unref();
      this.#pending.set(id, { command, address, data, resolve, reject, timer });
      this.#send(message);
    });
  }

  #onReply(m: FramedMessage): void {
    for (const fd of m.fds) closeQuietly(fd);
    const h = m.header;
    const p = this.#pending.get(h.msgId);
    if (!p || p.command !== h.command) {
      this.#host.warn({ code: 'unmatched-reply', message: `connection ${this.id}: a ${commandName(h.command)} reply (id ${h.msgId}) matches no request; dropped`, client: this.id });
      return;
    }
    this.#pending.delete(h.msgId);
    clearTimeout(p.timer);
    try {
      if (p.command === Command.DMA_READ) {
        checkDmaReadReply(m.message, h.msgId, p.address, p.data.length);
        p.data.set(m.message.subarray(REGION_RW_DATA_OFFSET, REGION_RW_DATA_OFFSET + p.data.length));
      } else {
        checkDmaWriteReply(m.message, h.msgId, p.address, p.data.length);
      }
      p.resolve();
    } catch (err) {
      if (err instanceof PeerError) {
        p.reject(new DmaError('peer-error', p.address, p.data.length, `${commandName(p.command)} at ${hex(p.address)}: the client answered ${err.code}`, { code: err.code, cause: err }));
      } else {
        this.#host.warn({ code: 'bad-reply', message: `connection ${this.id}: malformed ${commandName(h.command)} reply`, client: this.id, cause: err });
        p.reject(new DmaError('bad-reply', p.address, p.data.length, `${commandName(p.command)} at ${hex(p.address)}: malformed reply (${(err as Error).message})`, { cause: err }));
      }
    }
  }

  #failPending(): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new DmaError('disconnected', p.address, p.data.length, `${commandName(p.command)} at ${hex(p.address)}: the client went away`));
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
    return this.#version ? 'protocol error' : 'handshake refused';
  }

  /** Ends the session: the connection is closed, requests fail, descriptors are released. Idempotent. */
  terminate(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#endReason = reason;
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    for (const q of this.#queue) for (const fd of q.m.fds) closeQuietly(fd);
    this.#queue = [];
    this.#queuedBytes = 0;
    const rest = this.#framer.end();
    for (const fd of rest.fds) closeQuietly(fd);
    this.#failPending();
    this.#conn.close();
    this.#host.ended(this, reason);
  }

  /** Closes the DMA space (the server calls this when it releases the device). */
  releaseDma(): void {
    this.#dma?.close();
  }

  /** Bytes of commands waiting (for tests). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }
}
