// The trace socket of `vfio-ts serve`: `<socket>.trace`, next to the device
// socket, with the same mode, owner and allow-list. Each trace client gets a
// 'hello' line (the device and its capability list, from the config-space
// engine) and then one JSON object per line for every message and client
// event (see trace-format.ts for the shapes).
//
// Cheap when nobody traces: the server's 'message' and 'client' events are
// subscribed to only while at least one trace client is connected (the server
// builds traces only while someone listens to 'message'). A trace client that
// does not read is dropped once 4 MiB are queued for it; the device is never
// held up by a tracer.

import { chmodSync, chownSync, statSync } from 'node:fs';
import type { ClientEvent, VfioUserServer } from '../server/server.js';
import type { MessageTrace } from '../server/session.js';
import {
  Command,
  HEADER_SIZE,
  PCI_CONFIG_REGION_INDEX,
  decodeDmaMapRequestPayload,
  decodeDmaReadRequestPayload,
  decodeDmaUnmapRequestPayload,
  decodeDmaWriteRequestPayload,
  decodeIrqInfoRequestPayload,
  decodeRegionInfoRequestPayload,
  decodeRegionIoFdsRequestPayload,
  decodeRegionReadReply,
  decodeRegionReadRequestPayload,
  decodeRegionWriteMultiRequestPayload,
  decodeRegionWriteRequestPayload,
  decodeSetIrqsRequestPayload,
  isCommand,
  isErrorReply,
  wantsReply,
} from '../protocol/index.js';
import { hex } from '../util/format.js';
import { errnoName } from '../errors.js';
import { UnixServer, type UnixConnection } from '../sys/index.js';
import { capabilityName } from '../pci/index.js';
import { IRQ_NAMES, regionName, type TraceAccess, type TraceEvent, type TraceHello } from './trace-format.js';

type Common = Pick<TraceAccess, 'time' | 'client' | 'msgId'>;

const HIGH_WATER = 4 * 1024 * 1024;
/** Bytes of data shown for accesses larger than 8 bytes. */
const DATA_SHOWN = 16;

export interface TraceServerOptions {
  /** Peers allowed (as the device socket's allow-list). */
  allowUids?: readonly number[];
  allowGids?: readonly number[];
  model?: string;
}

export function traceSocketPath(socket: string): string {
  return `${socket}.trace`;
}

// ------------------------------------------------------------ decoding

/** Little-endian bytes (1..8) as one hex number, zero-padded to their width ("0x0006"). */
function leHex(d: Uint8Array): string {
  let v = 0n;
  for (let i = d.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(d[i]!);
  return hex(v, 2 * d.length);
}

function bytesHex(d: Uint8Array): string {
  return Buffer.from(d.subarray(0, DATA_SHOWN)).toString('hex');
}

function withData(e: TraceAccess, data: Uint8Array): void {
  if (data.length === 0) return;
  if (data.length <= 8) e.value = leHex(data);
  else e.data = bytesHex(data);
}

/** A trace carries only how many descriptors came; the codecs check just that count. */
function fdPlaceholders(n: number): number[] {
  return new Array<number>(n).fill(-1);
}

function access(base: Common, op: 'read' | 'write', region: number, offset: bigint, size: number): TraceAccess {
  return {
    type: region === PCI_CONFIG_REGION_INDEX ? 'config' : 'region',
    ...base,
    op,
    region,
    regionName: regionName(region),
    offset: Number(offset),
    size,
  };
}

type Pending = { event: TraceEvent; multi?: TraceAccess[] };

/**
 * Turns the server's message traces into trace events: a command and its
 * reply become one event (with the reply's data and errno); commands sent
 * without wanting a reply become an event at once.
 */
export class TraceDecoder {
  #pending = new Map<string, Pending>();

  /** Events for one message (usually zero or one). */
  decode(t: MessageTrace, now = Date.now()): TraceEvent[] {
    const h = t.header;
    const payload = t.message.subarray(HEADER_SIZE, Math.min(t.message.length, h.size));
    if (isCommand(h)) {
      let p: Pending;
      try {
        p = this.#command(t, payload, now);
      } catch (err) {
        p = {
          event: {
            type: 'command',
            time: now,
            client: t.client,
            msgId: h.msgId,
            name: t.name,
            detail: `(undecodable: ${(err as Error).message})`,
          },
        };
      }
      if (!wantsReply(h)) return this.#events(p);
      this.#pending.set(`${t.client}:${t.direction}:${h.msgId}`, p);
      return [];
    }
    const key = `${t.client}:${t.direction === 'in' ? 'out' : 'in'}:${h.msgId}`;
    const p = this.#pending.get(key);
    if (!p) return [];
    this.#pending.delete(key);
    p.event.time = now;
    if (isErrorReply(h)) {
      const errno = h.errno ? errnoName(h.errno) : 'error (no errno)';
      for (const e of p.multi ?? [p.event]) (e as { errno?: string }).errno = errno;
    } else if (p.event.type === 'config' || p.event.type === 'region') {
      const e = p.event;
      if (e.op === 'read') {
        try {
          withData(e, decodeRegionReadReply(t.message).data);
        } catch {
          // a malformed reply: the event stays without a value
        }
      }
    }
    return this.#events(p);
  }

  /** Forgets a client's commands in flight (it has gone). */
  forget(client: number): void {
    for (const k of this.#pending.keys()) if (k.startsWith(`${client}:`)) this.#pending.delete(k);
  }

  #events(p: Pending): TraceEvent[] {
    return p.multi ?? [p.event];
  }

  /** Decodes a command with the protocol's codecs; a malformed one throws (and is shown undecodable). */
  #command(t: MessageTrace, p: Uint8Array, time: number): Pending {
    const base: Common = { time, client: t.client, msgId: t.header.msgId };
    const fds = fdPlaceholders(t.fds);
    switch (t.header.command) {
      case Command.REGION_READ: {
        const a = decodeRegionReadRequestPayload(p, fds);
        return { event: access(base, 'read', a.region, a.offset, a.count) };
      }
      case Command.REGION_WRITE: {
        const a = decodeRegionWriteRequestPayload(p, fds);
        const e = access(base, 'write', a.region, a.offset, a.count);
        withData(e, a.data);
        return { event: e };
      }
      case Command.REGION_WRITE_MULTI: {
        const multi = decodeRegionWriteMultiRequestPayload(p, fds).map((w) => {
          const e = access(base, 'write', w.region, w.offset, w.data.length);
          withData(e, w.data);
          return e;
        });
        return { event: multi[0] ?? { type: 'command', ...base, name: t.name, detail: 'no writes' }, multi };
      }
      case Command.DMA_MAP: {
        const m = decodeDmaMapRequestPayload(p, fds);
        return {
          event: {
            type: 'dma_map',
            ...base,
            offset: hex(m.offset),
            iova: hex(m.address),
            size: hex(m.size),
            readable: m.readable,
            writable: m.writable,
            fd: m.fd !== undefined,
          },
        };
      }
      case Command.DMA_UNMAP: {
        const u = decodeDmaUnmapRequestPayload(p, fds);
        return { event: { type: 'dma_unmap', ...base, iova: hex(u.address), size: hex(u.size), all: u.all } };
      }
      case Command.DEVICE_SET_IRQS: {
        const r = decodeSetIrqsRequestPayload(p, fds);
        return {
          event: {
            type: 'set_irqs',
            ...base,
            index: r.index,
            irq: IRQ_NAMES[r.index] ?? `index ${r.index}`,
            action: r.action,
            data: r.data,
            start: r.start,
            count: r.count,
            eventfds: t.fds,
          },
        };
      }
      case Command.DMA_READ: {
        const a = decodeDmaReadRequestPayload(p, fds);
        return { event: { type: 'dma_read', ...base, iova: hex(a.address), size: a.count } };
      }
      case Command.DMA_WRITE: {
        const a = decodeDmaWriteRequestPayload(p, fds);
        return { event: { type: 'dma_write', ...base, iova: hex(a.address), size: a.count } };
      }
      case Command.DEVICE_RESET:
        return { event: { type: 'reset', ...base } };
      case Command.DEVICE_GET_REGION_INFO:
        return { event: { type: 'command', ...base, name: t.name, detail: regionName(decodeRegionInfoRequestPayload(p, fds).index) } };
      case Command.DEVICE_GET_REGION_IO_FDS:
        return { event: { type: 'command', ...base, name: t.name, detail: regionName(decodeRegionIoFdsRequestPayload(p, fds).index) } };
      case Command.DEVICE_GET_IRQ_INFO: {
        const i = decodeIrqInfoRequestPayload(p, fds).index;
        return { event: { type: 'command', ...base, name: t.name, detail: IRQ_NAMES[i] ?? `index ${i}` } };
      }
      default:
        return { event: { type: 'command', ...base, name: t.name } };
    }
  }
}

// ------------------------------------------------------------ the socket

/** Serves the trace stream of `server` on `<socket>.trace`. */
export class TraceServer {
  readonly path: string;
  readonly #server: VfioUserServer;
  readonly #listener: UnixServer;
  readonly #clients = new Set<UnixConnection>();
  readonly #options: TraceServerOptions;
  readonly #decoder = new TraceDecoder();
  #subscribed = false;

  constructor(server: VfioUserServer, socket: string, options: TraceServerOptions = {}) {
    this.#server = server;
    this.#options = options;
    this.path = traceSocketPath(socket);
    // Never more open than the device socket: created under a tight umask, then given its mode and owner.
    let restore: (() => void) | undefined;
    try {
      const old = process.umask(0o177);
      restore = () => process.umask(old);
    } catch {
      // worker threads cannot change the umask
    }
    try {
      this.#listener = UnixServer.listen(this.path, { backlog: 4 });
    } finally {
      restore?.();
    }
    try {
      const st = statSync(socket);
      chmodSync(this.path, st.mode & 0o777);
      if (typeof process.getuid === 'function' && (st.uid !== process.getuid() || st.gid !== process.getgid?.()))
        chownSync(this.path, st.uid, st.gid);
    } catch (err) {
      this.#listener.close();
      throw err;
    }
    this.#listener.on('connection', (c) => this.#onConnection(c));
    this.#listener.on('error', () => {
      // an accept failure: the device goes on being served
    });
    server.once('close', () => this.close());
  }

  /** Trace clients connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Whether the server's events are subscribed to (only while clients are connected). */
  get subscribed(): boolean {
    return this.#subscribed;
  }

  close(): void {
    this.#listener.close();
    for (const c of this.#clients) c.close();
    this.#clients.clear();
    this.#update();
  }

  hello(): TraceHello {
    const cfg = this.#server.device.config;
    return {
      type: 'hello',
      version: 1,
      time: Date.now(),
      socket: this.#server.path ?? '',
      model: this.#options.model ?? this.#server.device.name,
      device: { vendorId: cfg.vendorId, deviceId: cfg.deviceId, classCode: cfg.classCode },
      capabilities: cfg.capabilities.map((c) => ({
        id: c.id,
        extended: c.extended,
        offset: c.offset,
        length: c.length,
        name: capabilityName(c.id, c.extended),
      })),
    };
  }

  #onConnection(conn: UnixConnection): void {
    const { allowUids, allowGids } = this.#options;
    if (allowUids !== undefined || allowGids !== undefined) {
      let ok = false;
      try {
        const cred = conn.peerCred();
        ok = (allowUids?.includes(cred.uid) ?? false) || (allowGids?.includes(cred.gid) ?? false);
      } catch {
        ok = false;
      }
      if (!ok) {
        conn.close();
        return;
      }
    }
    this.#clients.add(conn);
    const gone = (): void => {
      this.#clients.delete(conn);
      this.#update();
    };
    conn.on('close', gone);
    conn.on('end', gone);
    conn.on('error', gone);
    conn.receive(() => {}); // nothing is expected from a tracer; this notices it leaving
    this.#send(conn, this.hello());
    this.#update();
  }

  #send(conn: UnixConnection, e: TraceEvent): void {
    if (conn.closed) return;
    if (conn.pendingBytes > HIGH_WATER) {
      conn.close(); // a tracer that does not read is dropped, never waited for
      return;
    }
    try {
      conn.send(Buffer.from(JSON.stringify(e) + '\n'));
    } catch {
      conn.close();
    }
  }

  #broadcast(events: TraceEvent[]): void {
    for (const e of events) for (const c of this.#clients) this.#send(c, e);
  }

  readonly #onMessage = (t: MessageTrace): void => {
    this.#broadcast(this.#decoder.decode(t));
  };

  readonly #onClient = (e: ClientEvent): void => {
    const ev: TraceEvent = { type: 'client', time: Date.now(), event: e.type, pid: e.pid, uid: e.uid, gid: e.gid };
    if (e.id !== undefined) ev.client = e.id;
    if (e.reason !== undefined) ev.reason = e.reason;
    if (e.type === 'disconnect' && e.id !== undefined) this.#decoder.forget(e.id);
    this.#broadcast([ev]);
  };

  #update(): void {
    const want = this.#clients.size > 0;
    if (want === this.#subscribed) return;
    this.#subscribed = want;
    if (want) {
      this.#server.on('message', this.#onMessage);
      this.#server.on('client', this.#onClient);
    } else {
      this.#server.off('message', this.#onMessage);
      this.#server.off('client', this.#onClient);
    }
  }
}
