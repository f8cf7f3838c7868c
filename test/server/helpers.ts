// Shared helpers of the server tests: a raw vfio-user test client built on the
// protocol codecs and UnixConnection (not the real client backend), a test
// server with the fixture device, and leak counters.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { after, afterEach, before, beforeEach } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errnoName, errnoOf } from '../../src/errors.js';
import {
  Command,
  FLAG_ERROR,
  HEADER_SIZE,
  MessageFramer,
  MessageType,
  REGION_RW_DATA_OFFSET,
  decodeDmaReadRequest,
  decodeDmaWriteRequest,
  encodeDmaReadReply,
  encodeDmaWriteReply,
  encodeErrorReply,
  encodeRegionReadRequest,
  encodeRegionWriteRequest,
  encodeSetIrqsRequest,
  encodeVersionRequest,
  type Capabilities,
  type CommandNumber,
  type FramedMessage,
  type Header,
} from '../../src/protocol/index.js';
import { closeFd, EventFd, MemFd, type Mapping, UnixConnection } from '../../src/sys/index.js';
import { VirtualDevice } from '../../src/server/device.js';
import type { ServerWarning } from '../../src/server/errors.js';
import { VfioUserServer, type VfioUserServerOptions } from '../../src/server/server.js';
import { TestDevice, type TestDeviceOptions } from './fixtures/test-device.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Open fds of this process. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Mappings of memfds in this process (/proc/self/maps lines naming a memfd). */
export function memfdMapCount(): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('/memfd:')).length;
}

/** fd and memfd-mapping counts, to compare before/after. */
export function resources(): { fds: number; maps: number } {
  return { fds: openFdCount(), maps: memfdMapCount() };
}

/** Waits (a little) until the resource counts come back to `before`, then asserts it. */
export async function assertNoLeak(before: { fds: number; maps: number }, what = ''): Promise<void> {
  let now = resources();
  for (let i = 0; i < 100 && (now.fds > before.fds || now.maps > before.maps); i++) {
    await sleep(10);
    now = resources();
  }
  assert.ok(now.fds <= before.fds, `fd leak ${what}: ${before.fds} before, ${now.fds} after`);
  assert.ok(now.maps <= before.maps, `memfd mapping leak ${what}: ${before.maps} before, ${now.maps} after`);
}

export interface Reply {
  header: Header;
  message: Buffer;
  payload: Buffer;
  fds: number[];
  error: boolean;
  errno: number;
  /** errno name for an error reply ('' for success). */
  code: string;
}

function toReply(m: FramedMessage): Reply {
  const message = Buffer.from(m.message);
  const error = (m.header.flags & FLAG_ERROR) !== 0;
  return {
    header: m.header,
    message,
    payload: message.subarray(HEADER_SIZE),
    fds: m.fds,
    error,
    errno: m.header.errno,
    code: error ? errnoName(m.header.errno) : '',
  };
}

export const DEFAULT_CAPS: Capabilities = { maxMsgFds: 16, maxDataXferSize: 1 << 20, writeMultiple: true };

/** How the test client answers the server's DMA_READ/DMA_WRITE. */
export type DmaMode = 'answer' | 'ignore' | 'error';

/**
 * A raw client: sends bytes and descriptors, matches replies by message id,
 * answers the server's DMA requests from `memory` (the memory behind maps
 * without descriptors).
 */
export class TestClient {
  readonly conn: UnixConnection;
  readonly #framer = new MessageFramer({ maxFds: 64, maxMessageSize: 64 * 1024 * 1024 });
  readonly #waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #nextId = 1;
  /** Messages that matched no request. */
  readonly unsolicited: Reply[] = [];
  /** Server requests (DMA_READ/DMA_WRITE) seen. */
  readonly serverRequests: Header[] = [];
  /** Memory of fd-less maps the client answers DMA requests from. */
  readonly memory: { iova: bigint; bytes: Uint8Array }[] = [];
  dmaMode: DmaMode = 'answer';
  /** Delay before answering a DMA request. */
  dmaDelayMs = 0;
  readonly ended: Promise<void>;
  #ended = false;

  constructor(conn: UnixConnection) {
    this.conn = conn;
    this.ended = new Promise((resolve) => {
      const done = (): void => {
        if (this.#ended) return;
        this.#ended = true;
        for (const w of this.#waiting.values()) {
          clearTimeout(w.timer);
          w.reject(new Error('connection ended'));
        }
        this.#waiting.clear();
        resolve();
      };
      conn.on('end', done);
      conn.on('close', done);
      conn.on('error', done);
    });
    conn.receive((data, length, fds, fdCount) => {
      let msgs: FramedMessage[];
      try {
        msgs = this.#framer.push(data.subarray(0, length), Array.from(fds.subarray(0, fdCount)));
      } catch {
        conn.close();
        return;
      }
      for (const m of msgs) this.#onMessage(m);
    });
  }

  static connect(path: string): TestClient {
    return new TestClient(UnixConnection.connect(path));
  }

  /** Connects and negotiates VERSION. */
  static async open(path: string, caps: Capabilities = DEFAULT_CAPS): Promise<TestClient> {
    const c = TestClient.connect(path);
    const r = await c.request(encodeVersionRequest(c.id(), { major: 0, minor: 2, capabilities: caps }));
    if (r.error) {
      c.close();
      throw new Error(`VERSION failed: ${r.code}`);
    }
    return c;
  }

  get isEnded(): boolean {
    return this.#ended;
  }

  /** A fresh message id. */
  id(): number {
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) & 0xffff;
    return id;
  }

  #onMessage(m: FramedMessage): void {
    const type = m.header.flags & 0xf;
    if (type === MessageType.COMMAND && (m.header.command === Command.DMA_READ || m.header.command === Command.DMA_WRITE)) {
      this.serverRequests.push(m.header);
      void this.#answerDma(m);
      return;
    }
    const w = this.#waiting.get(m.header.msgId);
    if (type === MessageType.REPLY && w) {
      this.#waiting.delete(m.header.msgId);
      clearTimeout(w.timer);
      w.resolve(toReply(m));
      return;
    }
    this.unsolicited.push(toReply(m));
    for (const fd of m.fds) closeFd(fd);
  }

  #find(iova: bigint, len: number): Uint8Array | undefined {
    for (const m of this.memory) {
      if (iova >= m.iova && iova + BigInt(len) <= m.iova + BigInt(m.bytes.length)) {
        const off = Number(iova - m.iova);
        return m.bytes.subarray(off, off + len);
      }
    }
    return undefined;
  }

  async #answerDma(m: FramedMessage): Promise<void> {
    if (this.dmaMode === 'ignore') return;
    if (this.dmaDelayMs) await sleep(this.dmaDelayMs);
    if (this.#ended) return;
    let reply: Buffer;
    if (m.header.command === Command.DMA_READ) {
      const r = decodeDmaReadRequest(m.message);
      const mem = this.#find(r.address, r.count);
      reply = this.dmaMode === 'error' || !mem ? encodeErrorReply(m.header, 'EFAULT') : encodeDmaReadReply(m.header.msgId, r.address, mem);
    } else {
      const r = decodeDmaWriteRequest(m.message);
      const mem = this.#find(r.address, r.count);
      if (this.dmaMode === 'error' || !mem) reply = encodeErrorReply(m.header, 'EFAULT');
      else {
        mem.set(r.data);
        reply = encodeDmaWriteReply(m.header.msgId, r.address, r.count);
      }
    }
    try {
      this.conn.send(reply);
    } catch {
      // gone
    }
  }

  /** Sends raw bytes (no reply expected). */
  send(message: Uint8Array, fds?: readonly number[]): void {
    this.conn.send(message, fds);
  }

  /** Sends a request and resolves with the reply carrying its message id. */
  request(message: Uint8Array, fds?: readonly number[], timeoutMs = 3000): Promise<Reply> {
    const id = message[0]! | (message[1]! << 8);
    return new Promise((resolve, reject) => {
      if (this.#ended) {
        reject(new Error('connection ended'));
        return;
      }
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`no reply to message ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, { resolve, reject, timer });
      try {
        this.conn.send(message, fds);
      } catch (err) {
        clearTimeout(timer);
        this.#waiting.delete(id);
        reject(err as Error);
      }
    });
  }

  /** REGION_READ; returns the data (throws on an error reply). */
  async read(region: number, offset: number | bigint, count: number): Promise<Buffer> {
    const r = await this.request(encodeRegionReadRequest(this.id(), region, offset, count));
    if (r.error) throw Object.assign(new Error(`REGION_READ failed: ${r.code}`), { code: r.code });
    return r.message.subarray(REGION_RW_DATA_OFFSET);
  }

  /** REGION_WRITE (throws on an error reply). */
  async write(region: number, offset: number | bigint, data: Uint8Array): Promise<void> {
    const r = await this.request(encodeRegionWriteRequest(this.id(), region, offset, data));
    if (r.error) throw Object.assign(new Error(`REGION_WRITE failed: ${r.code}`), { code: r.code });
  }

  async read32(region: number, offset: number): Promise<number> {
    return (await this.read(region, offset, 4)).readUInt32LE(0);
  }

  async write32(region: number, offset: number, v: number): Promise<void> {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    await this.write(region, offset, b);
  }

  async read16(region: number, offset: number): Promise<number> {
    return (await this.read(region, offset, 2)).readUInt16LE(0);
  }

  async write16(region: number, offset: number, v: number): Promise<void> {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v & 0xffff);
    await this.write(region, offset, b);
  }

  /** Region access error code ('' on success). */
  async readError(region: number, offset: number | bigint, count: number): Promise<string> {
    const r = await this.request(encodeRegionReadRequest(this.id(), region, offset, count));
    return r.code;
  }

  async writeError(region: number, offset: number | bigint, data: Uint8Array): Promise<string> {
    const r = await this.request(encodeRegionWriteRequest(this.id(), region, offset, data));
    return r.code;
  }

  close(): void {
    this.conn.close();
  }
}

/** Asserts an error reply with errno `code`. */
export function assertError(r: Reply, code: string, what = ''): void {
  assert.ok(r.error, `${what}: expected an error reply ${code}, got success`);
  assert.equal(r.errno, errnoOf(code), `${what}: expected ${code}, got ${r.code}`);
  assert.equal(r.message.length, HEADER_SIZE, `${what}: an error reply is the header alone`);
  assert.equal(r.header.flags, MessageType.REPLY | FLAG_ERROR);
}

/** Asserts a successful reply. */
export function assertOk(r: Reply, what = ''): void {
  assert.ok(!r.error, `${what}: expected success, got ${r.code}`);
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-server-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestServer {
  path: string;
  dir: string;
  model: TestDevice;
  device: VirtualDevice;
  server: VfioUserServer;
  warnings: ServerWarning[];
  stop(): Promise<void>;
}

/** A server with the fixture device on a fresh socket. */
export function startServer(o: { device?: TestDeviceOptions; server?: VfioUserServerOptions } = {}): TestServer {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'dev.sock');
  const model = new TestDevice(o.device);
  const device = new VirtualDevice(model);
  const server = VfioUserServer.listen(path, device, o.server);
  const warnings: ServerWarning[] = [];
  server.on('warning', (w) => warnings.push(w));
  return {
    path,
    dir,
    model,
    device,
    server,
    warnings,
    async stop() {
      await server.close();
      device.close();
      cleanup();
    },
  };
}

/** Client memory for DMA: a memfd and its mapping here. */
export class ClientMemory {
  readonly memfd: MemFd;
  readonly mapping: Mapping;
  readonly bytes: Uint8Array;

  constructor(size: number) {
    this.memfd = MemFd.create('client-dma', size);
    this.mapping = this.memfd.map();
    this.bytes = new Uint8Array(this.mapping.buffer);
  }

  close(): void {
    this.mapping.unmap();
    this.memfd.close();
  }
}

/** Config-space offsets of the fixture device's capabilities. */
export function capOffset(device: VirtualDevice, id: number): number {
  const off = device.config.findCapability(id);
  assert.ok(off !== undefined, `capability ${id} is present`);
  return off;
}

export const CONFIG = 7;
export const ROM = 6;
export const PAGE = 4096;

/** Sends DEVICE_SET_IRQS with `fds` (eventfds) and returns the reply. */
export function setIrqs(
  c: TestClient,
  a: {
    data: 'none' | 'bool' | 'eventfd';
    action: 'mask' | 'unmask' | 'trigger';
    index: number;
    start?: number;
    count: number;
    bools?: number[];
  },
  fds: readonly number[] = [],
): Promise<Reply> {
  return c.request(
    encodeSetIrqsRequest(
      c.id(),
      {
        data: a.data,
        action: a.action,
        index: a.index,
        start: a.start ?? 0,
        count: a.count,
        ...(a.bools ? { bools: Uint8Array.from(a.bools) } : {}),
      },
      fds.length,
    ),
    fds,
  );
}

/** n fresh eventfds. */
export function eventfds(n: number): EventFd[] {
  return Array.from({ length: n }, () => EventFd.create());
}

export const INTX = 0;
export const MSI = 1;
export const MSIX = 2;
export const ERR = 3;
export const REQ = 4;

/**
 * A hand-made request: a header for `command` with message id `id` and
 * `flags`, followed by `bodyLength` zero bytes for the caller to fill. The
 * refusal tests build what the codecs would never encode this way.
 */
export function rawRequest(command: CommandNumber, id: number, bodyLength: number, flags = 0): Buffer {
  const b = Buffer.alloc(HEADER_SIZE + bodyLength);
  b.writeUInt16LE(id, 0);
  b.writeUInt16LE(command, 2);
  b.writeUInt32LE(b.length, 4);
  b.writeUInt32LE(flags, 8);
  return b;
}

/** A hand-made request whose body is 32-bit words (the argsz-led structures), cut to `bodyLength` bytes. */
export function rawWordsRequest(command: CommandNumber, id: number, words: number[], bodyLength = 16): Buffer {
  const b = rawRequest(command, id, bodyLength);
  words.forEach((w, i) => {
    if (HEADER_SIZE + 4 * i + 4 <= b.length) b.writeUInt32LE(w, HEADER_SIZE + 4 * i);
  });
  return b;
}

/** What a describe block that talks to one server through a fresh client per test needs. */
export interface EachClientOptions {
  /** The server's and device's options, for the whole block. */
  start?: Parameters<typeof startServer>[0];
  /** The capabilities the client negotiates. */
  caps?: Capabilities;
  /** Written to the config-space command register before each test (0x3 decode, 0x6 memory + bus master). */
  command?: number;
}

/**
 * Registers the block's hooks: one server for the block, a client per test
 * (handed to `bind` with the server once it is connected and set up), and
 * after each test the client gone and the server settled, so no test sees
 * the one before it.
 */
export function eachClient(o: EachClientOptions, bind: (t: TestServer, c: TestClient) => void | Promise<void>): void {
  let t: TestServer | undefined;
  let c: TestClient | undefined;
  before(() => {
    t = startServer(o.start);
  });
  after(() => t?.stop());
  beforeEach(async () => {
    await t!.server.settled();
    c = await TestClient.open(t!.path, o.caps);
    if (o.command !== undefined) await c.write16(CONFIG, 4, o.command);
    await bind(t!, c);
  });
  afterEach(async () => {
    c!.close();
    await c!.ended;
    await sleep(5);
    await t!.server.settled();
  });
}
