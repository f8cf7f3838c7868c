// The vfio-user server: one virtual device served on a UNIX socket.
//
// Policy.
// - Access: the socket file gets the mode and owner asked for (the umask is
//   tightened while it is created, so it is never more open than asked), and
//   an optional allow-list of peer uids/gids is checked with SO_PEERCRED at
//   accept: a peer not on it never reaches the device - its first message
//   (its VERSION) is answered with an error reply EPERM and the connection
//   closed, so its client can say why.
// - Ownership: one client owns the device at a time, from its successful
//   VERSION until it leaves. Another client's VERSION is answered with an
//   error reply EBUSY and its connection closed; a connection that sends no
//   VERSION within the handshake timeout is closed.
// - Limits (advertised in the VERSION reply, for the capabilities the client
//   proposed): max_data_xfer_size (and so the largest message accepted),
//   max_msg_fds (more descriptors on one message end the connection),
//   max_dma_maps (ENOSPC beyond) and, not on the wire, the most bytes a client
//   may have mapped (ENOMEM beyond).
// - Cleanup: when the owner leaves - end of stream, reset, a stream error, a
//   handshake failure - its DMA maps are unmapped, its eventfds closed, its
//   outstanding DMA requests fail (ECONNRESET), the command in progress is
//   allowed to settle (bounded by releaseTimeoutMs), and the device is reset
//   to power-on with fresh shared memory before the next owner is admitted.
//   The specification suggests keeping device state across reconnection; we
//   reset instead, because the next owner may be someone else.
// - close(): stop accepting (the socket file is removed), signal REQ to the
//   owner and give it `graceMs` to leave, then close every connection.
//
// Events: 'client' (connections, refusals, ownership, disconnections, with
// peer credentials), 'message' (every message in and out, for tracing; only
// built when someone listens), 'warning' (anything that went wrong without a
// reply to carry it), 'close'. The server never emits 'error'.

import { EventEmitter } from 'node:events';
import { chmodSync, chownSync } from 'node:fs';
import { fail } from '../errors.js';
import { isPromise, type MaybePromise } from '../util/promise.js';
import { DEFAULT_MAX_DATA_XFER_SIZE } from '../protocol/index.js';
import { PAGE_SIZE, UnixServer, type PeerCred, type UnixConnection } from '../sys/index.js';
import { registerServedSocket } from '../sys/served-here.js';
import { VirtualDevice } from './device.js';
import type { ServerWarning } from './errors.js';
import { isServedDevice, type ServedDevice } from './served-device.js';
import type { DeviceModel } from './model.js';
import { ClientSession, type MessageTrace, type SessionHost, type SessionLimits } from './session.js';

/**
 * The lingering `vfio-ts serve` and the broker use (VfioUserServerOptions.lingerUs):
 * a process that serves one device. The library's default is 0 (an embedding
 * application opts in).
 */
export const SERVING_LINGER_US = 1000;

/** Who may connect and what they may do: socket mode and owner, allow-lists, message and DMA limits. */
export interface VfioUserServerOptions {
  /** Mode of the socket file (chmod after listen), e.g. 0o600. */
  socketMode?: number;
  /** Owner of the socket file (chown after listen). */
  socketUid?: number;
  socketGid?: number;
  /** Peers allowed to connect, by uid (SO_PEERCRED). With neither list everyone the socket file lets in is allowed. */
  allowUids?: readonly number[];
  /** Peers allowed to connect, by gid. A peer on either list is allowed. */
  allowGids?: readonly number[];
  /** Largest count of one REGION_READ/WRITE and DMA_READ/WRITE (default 1 MiB). */
  maxDataXferSize?: number;
  /** Most descriptors on one message (default 16). */
  maxMsgFds?: number;
  /** Most DMA maps of a client at once (default 65535). */
  maxDmaMaps?: number;
  /** Most bytes a client may have mapped at once (default 1 TiB). */
  maxDmaBytes?: bigint | number;
  /** Offer REGION_WRITE_MULTI (default true). */
  writeMultiple?: boolean;
  /** How long a DMA_READ/DMA_WRITE waits for the client (default 5000 ms). */
  dmaTimeoutMs?: number;
  /** How long a connection may stay without VERSION (default 10000 ms; 0 = forever). */
  handshakeTimeoutMs?: number;
  /** How long a release waits for the command in progress and the model's reset (default 5000 ms). */
  releaseTimeoutMs?: number;
  /** Commands queued behind an asynchronous one before the client is cut off (default 65536). */
  maxQueuedMessages?: number;
  /** listen(2) backlog (default 16). */
  backlog?: number;
  /**
   * After answering a client, wait for its next message instead of going
   * back to the event loop, for at most this many microseconds per loop
   * iteration (default 0: never; `vfio-ts serve` and the broker use
   * SERVING_LINGER_US, 1000). It blocks the process's event loop meanwhile,
   * so an application that does other work opts in. A driver's register accesses come
   * back to back, and answering the next one from where the last one ended
   * saves the trip through the loop. It gives the loop back at once when
   * immediates or thread-pool work are due and never runs past a timer;
   * other connections and fds of the process wait at most this long. Not for
   * clients in this same process (they could not send meanwhile). See
   * docs/server.md.
   */
  lingerUs?: number;
  /**
   * Answer plain REGION_READ/WRITE on the allocation-free fast path (default
   * true). Off, every access takes the general path; the replies are the
   * same bytes (tests compare them).
   */
  fastPath?: boolean;
}

/** A connection as the server reports it. */
export interface ClientInfo {
  id: number;
  pid: number;
  uid: number;
  gid: number;
  /** 'handshake' before VERSION, 'ready' once it owns the device. */
  state: string;
  owner: boolean;
  /** How long its session waits for its next message after answering (0 for a client in the server's own process). */
  lingerUs: number;
  /** How many of its region accesses took the allocation-free fast path (VfioUserServerOptions.fastPath). */
  fastAccesses: number;
}

/** What happened to a client, in a {@link ClientEvent}. */
export type ClientEventType = 'connect' | 'refused' | 'owner' | 'busy' | 'disconnect' | 'released';

/** A client's arrival, refusal, ownership or departure, as the server's 'client' event reports it. */
export interface ClientEvent {
  type: ClientEventType;
  /** The connection (absent for a peer refused at accept). */
  id?: number;
  pid: number;
  uid: number;
  gid: number;
  /** Why: for 'refused', 'disconnect' and 'busy'. */
  reason?: string;
}

/** How a server closes: how long the owner gets to leave after REQ. */
export interface CloseOptions {
  /** After signalling REQ, how long the owner may take to leave by itself (default 0). */
  graceMs?: number;
}

/** A vfio-user server: listens on a Unix socket and serves one device to one owner at a time (docs/server.md). */
export interface VfioUserServer {
  on(event: 'client', listener: (e: ClientEvent) => void): this;
  on(event: 'message', listener: (t: MessageTrace) => void): this;
  on(event: 'warning', listener: (w: ServerWarning) => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'newListener' | 'removeListener', listener: (event: string | symbol) => void): this;
  once(event: 'client', listener: (e: ClientEvent) => void): this;
  once(event: 'message', listener: (t: MessageTrace) => void): this;
  once(event: 'warning', listener: (w: ServerWarning) => void): this;
  once(event: 'close', listener: () => void): this;
}

function timeout(ms: number): { promise: Promise<'timeout'>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
    timer.unref();
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** A vfio-user server: listens on a Unix socket and serves one device to one owner at a time (docs/server.md). */
export class VfioUserServer<D extends ServedDevice = VirtualDevice> extends EventEmitter implements SessionHost {
  readonly device: D;
  readonly limits: SessionLimits;
  readonly #options: VfioUserServerOptions;
  readonly #ownsDevice: boolean;
  #listener: UnixServer | undefined;
  #path: string | undefined;
  #unregister: (() => void) | undefined;
  #sessions = new Set<ClientSession>();
  #owner: ClientSession | undefined;
  #releasing: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #ownerGone: (() => void)[] = [];
  #tracing = false;
  #nextId = 1;

  /**
   * Serves `device`: a ServedDevice (a VirtualDevice, the broker's real
   * device), or a model the server builds a VirtualDevice from and closes
   * with itself.
   */
  constructor(device: D | NoInfer<DeviceModel>, options: VfioUserServerOptions = {}) {
    super();
    const served = isServedDevice(device);
    this.#ownsDevice = !served;
    this.device = served ? (device as D) : (new VirtualDevice(device as DeviceModel) as unknown as D);
    this.#options = options;
    const maxDataXferSize = options.maxDataXferSize ?? DEFAULT_MAX_DATA_XFER_SIZE;
    if (!Number.isSafeInteger(maxDataXferSize) || maxDataXferSize < 8 || maxDataXferSize > 64 * 1024 * 1024) {
      throw new RangeError(`maxDataXferSize ${maxDataXferSize} is outside 8..64 MiB`);
    }
    const lingerUs = options.lingerUs ?? 0;
    if (!Number.isSafeInteger(lingerUs) || lingerUs < 0 || lingerUs > 1_000_000)
      throw new RangeError(`lingerUs ${lingerUs} is outside 0..1000000`);
    const maxMsgFds = options.maxMsgFds ?? 16;
    if (!Number.isSafeInteger(maxMsgFds) || maxMsgFds < 1 || maxMsgFds > 253)
      throw new RangeError(`maxMsgFds ${maxMsgFds} is outside 1..253`);
    this.limits = {
      maxDataXferSize,
      maxMsgFds,
      maxDmaMaps: options.maxDmaMaps ?? 65535,
      maxDmaBytes: BigInt(options.maxDmaBytes ?? 2 ** 40),
      pageSize: PAGE_SIZE,
      writeMultiple: options.writeMultiple ?? true,
      dmaTimeoutMs: options.dmaTimeoutMs ?? 5000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10000,
      maxQueuedMessages: options.maxQueuedMessages ?? 65536,
      sendHighWater: 16 * 1024 * 1024,
      lingerUs,
      fastPath: options.fastPath ?? true,
    };
    this.device.on('warning', (w) => this.warn(w));
    this.on('newListener', (event) => {
      if (event === 'message') this.#tracing = true;
    });
    this.on('removeListener', (event) => {
      if (event === 'message') this.#tracing = this.listenerCount('message') > 0;
    });
  }

  /** Creates a server and listens at `path`. */
  static listen(path: string, device: VirtualDevice | DeviceModel, options?: VfioUserServerOptions): VfioUserServer;
  static listen<D extends ServedDevice>(path: string, device: D, options?: VfioUserServerOptions): VfioUserServer<D>;
  static listen(path: string, device: ServedDevice | DeviceModel, options: VfioUserServerOptions = {}): VfioUserServer<ServedDevice> {
    const server = new VfioUserServer<ServedDevice>(device, options);
    try {
      return server.listen(path);
    } catch (err) {
      void server.close();
      throw err;
    }
  }

  /** Starts listening at `path` (a stale socket file is replaced; a live one is EADDRINUSE). */
  listen(path: string): this {
    if (this.#listener || this.#closing) throw fail('EINVAL', 'the server is already listening or closed');
    const o = this.#options;
    let restoreUmask: (() => void) | undefined;
    if (o.socketMode !== undefined) {
      try {
        const old = process.umask(0o177);
        restoreUmask = () => process.umask(old);
      } catch {
        // worker threads cannot change the umask: chmod alone then
      }
    }
    let listener: UnixServer;
    try {
      listener = UnixServer.listen(path, {
        backlog: o.backlog ?? 16,
        connection: { receiveBufferSize: 128 * 1024 },
      });
    } finally {
      restoreUmask?.();
    }
    try {
      if (o.socketMode !== undefined) chmodSync(path, o.socketMode);
      if (o.socketUid !== undefined || o.socketGid !== undefined) chownSync(path, o.socketUid ?? -1, o.socketGid ?? -1);
      this.#unregister = registerServedSocket(path); // a client on this thread is refused at once (sys/served-here.ts)
    } catch (err) {
      listener.close();
      throw err;
    }
    listener.on('connection', (conn) => this.#onConnection(conn));
    listener.on('error', (cause) => this.warn({ code: 'accept-failed', message: `accepting on ${path} failed`, cause }));
    this.#listener = listener;
    this.#path = path;
    return this;
  }

  /** The socket path (undefined before listen). */
  get path(): string | undefined {
    return this.#path;
  }

  get listening(): boolean {
    return this.#listener !== undefined && !this.#listener.closed;
  }

  /** The owner's connection, if any. */
  get owner(): ClientInfo | undefined {
    return this.#owner ? this.#info(this.#owner) : undefined;
  }

  /** Every open connection. */
  get clients(): ClientInfo[] {
    return [...this.#sessions].filter((s) => s.refusal === undefined).map((s) => this.#info(s));
  }

  #info(s: ClientSession): ClientInfo {
    return {
      id: s.id,
      pid: s.cred.pid,
      uid: s.cred.uid,
      gid: s.cred.gid,
      state: s.state,
      owner: s === this.#owner,
      lingerUs: s.lingerUs,
      fastAccesses: s.fastAccesses,
    };
  }

  #clientEvent(type: ClientEventType, cred: PeerCred, id?: number, reason?: string): void {
    if (this.listenerCount('client') === 0) return;
    const e: ClientEvent = { type, pid: cred.pid, uid: cred.uid, gid: cred.gid };
    if (id !== undefined) e.id = id;
    if (reason !== undefined) e.reason = reason;
    try {
      this.emit('client', e);
    } catch (cause) {
      this.warn({ code: 'listener-error', message: "a 'client' listener threw", cause });
    }
  }

  #allowed(cred: PeerCred): boolean {
    const { allowUids, allowGids } = this.#options;
    if (allowUids === undefined && allowGids === undefined) return true;
    return (allowUids?.includes(cred.uid) ?? false) || (allowGids?.includes(cred.gid) ?? false);
  }

  #onConnection(conn: UnixConnection): void {
    let cred: PeerCred;
    try {
      cred = conn.peerCred();
    } catch (cause) {
      conn.close();
      this.warn({ code: 'accept-failed', message: 'reading the peer credentials failed', cause });
      return;
    }
    if (this.#closing) {
      conn.close();
      this.#clientEvent('refused', cred, undefined, 'the server is closing');
      return;
    }
    const refusal = this.#allowed(cred) ? undefined : `peer uid ${cred.uid} gid ${cred.gid} is not on the allow-list`;
    if (refusal !== undefined) this.#clientEvent('refused', cred, undefined, refusal);
    const id = this.#nextId++;
    let session: ClientSession;
    try {
      // A refused peer gets a session that answers its first message with EPERM and closes.
      session = new ClientSession(id, conn, cred, this, refusal);
    } catch (cause) {
      conn.close();
      this.warn({ code: 'internal', message: 'setting up a connection failed', cause });
      return;
    }
    if (session.closed) return;
    this.#sessions.add(session);
    if (refusal === undefined) this.#clientEvent('connect', cred, id);
  }

  // ------------------------------------------------------------ SessionHost

  get tracing(): boolean {
    return this.#tracing;
  }

  trace(t: MessageTrace): void {
    this.emit('message', t);
  }

  warn(w: ServerWarning): void {
    if (this.listenerCount('warning') === 0) return;
    try {
      this.emit('warning', w);
    } catch {
      // a throwing warning listener must not take the server down
    }
  }

  acquire(session: ClientSession): MaybePromise<void> {
    if (this.#closing) throw fail('ECONNABORTED', 'the server is closing'); // Node has no ESHUTDOWN
    if (session.closed) throw fail('ECONNRESET', 'the connection is gone');
    if (this.#owner !== undefined && this.#owner !== session) {
      this.#clientEvent('busy', session.cred, session.id, `device owned by connection ${this.#owner.id}`);
      throw fail('EBUSY', `the device is in use by another client (pid ${this.#owner.cred.pid})`);
    }
    if (this.#releasing) {
      // The previous owner is still being cleaned up: wait, then try again.
      return this.#releasing.then(() => this.acquire(session));
    }
    this.device.checkAvailable?.();
    this.#owner = session;
    this.#clientEvent('owner', session.cred, session.id);
  }

  ended(session: ClientSession, reason: string): void {
    this.#sessions.delete(session);
    if (session.refusal !== undefined) return;
    this.#clientEvent('disconnect', session.cred, session.id, reason);
    if (this.#owner !== session) return;
    this.#owner = undefined;
    // No DMA into the memory of a client that is gone, from now on.
    this.device.detachDma();
    const release = this.#release(session);
    const tracked = release.finally(() => {
      if (this.#releasing === tracked) this.#releasing = undefined;
      const waiters = this.#ownerGone;
      this.#ownerGone = [];
      for (const w of waiters) w();
    });
    this.#releasing = tracked;
  }

  async #release(session: ClientSession): Promise<void> {
    const limit = this.#options.releaseTimeoutMs ?? 5000;
    const wait = async (p: Promise<void> | undefined, what: string): Promise<void> => {
      if (!p) return;
      const t = timeout(limit);
      const r = await Promise.race([
        p.then(
          () => 'done' as const,
          () => 'done' as const,
        ),
        t.promise,
      ]);
      t.cancel();
      if (r === 'timeout')
        this.warn({ code: 'release-timeout', message: `${what} did not settle within ${limit} ms; releasing anyway`, client: session.id });
    };
    try {
      await wait(session.idle(), 'the command in progress');
      session.releaseDma();
      let reset: Promise<void> | undefined;
      try {
        const r = this.device.releaseOwner();
        reset = isPromise(r) ? r : undefined;
      } catch (cause) {
        this.warn({ code: 'model-error', message: 'resetting the device for the next owner failed', client: session.id, cause });
      }
      await wait(reset, "the device model's release reset");
    } catch (cause) {
      this.warn({ code: 'internal', message: 'releasing the device failed', client: session.id, cause });
    }
    this.#clientEvent('released', session.cred, session.id);
  }

  /**
   * Takes the device from its owner: REQ is not asked, the owner's connection
   * is closed at once and the device released (the broker does this when the
   * grace period after a release request is over). False without an owner.
   */
  revokeOwner(reason: string): boolean {
    const owner = this.#owner;
    if (!owner) return false;
    owner.terminate(reason);
    return true;
  }

  /** Resolves when no release is in progress (for tests and orderly shutdown). */
  async settled(): Promise<void> {
    while (this.#releasing) await this.#releasing;
  }

  // ------------------------------------------------------------ close

  /**
   * Stops the server: no new connections (the socket file is removed), REQ
   * signalled to the owner, `graceMs` for it to leave, then every connection
   * closed and the device released. Closes the device too when the server
   * built it from a model. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      this.#listener?.close();
      this.#unregister?.();
      const grace = options.graceMs ?? 0;
      if (this.#owner && grace > 0) {
        const gone = new Promise<void>((resolve) => this.#ownerGone.push(resolve));
        this.device.requestRelease();
        const t = timeout(grace);
        await Promise.race([gone, t.promise]);
        t.cancel();
      } else if (this.#owner) {
        this.device.requestRelease();
      }
      for (const s of [...this.#sessions]) s.terminate('server closing');
      await this.settled();
      if (this.#ownsDevice) this.device.close();
      this.emit('close');
    })();
    return this.#closing;
  }
}
