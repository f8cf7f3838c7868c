// Fuzzing: well over 100,000 randomly mutated messages of every command
// against one server, in batches over several connections (a connection the
// server hangs up on is replaced). Fixed seed (FUZZ_SEED overrides), printed.
// Afterwards: the server still listens, holds no descriptor or mapping of the
// fuzzing clients, and a normal client works.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Command,
  DMA_UNMAP_FLAG_ALL,
  HEADER_SIZE,
  MessageFramer,
  MessageType,
  encodeDeviceFeatureRequest,
  encodeDeviceGetInfoRequest,
  encodeDeviceResetRequest,
  encodeDmaMapRequest,
  encodeDmaReadReply,
  encodeDmaReadRequest,
  encodeDmaUnmapRequest,
  encodeDmaWriteRequest,
  encodeErrorReply,
  encodeIrqInfoRequest,
  encodeMigDataReadRequest,
  encodeMigDataWriteRequest,
  encodeRegionInfoRequest,
  encodeRegionIoFdsRequest,
  encodeRegionReadRequest,
  encodeRegionWriteMultiRequest,
  encodeRegionWriteRequest,
  encodeSetIrqsRequest,
  encodeVersionRequest,
  type FramedMessage,
} from '../../src/protocol/index.js';
import { closeFd, UnixConnection } from '../../src/sys/index.js';
import { assertNoLeak, CONFIG, DEFAULT_CAPS, resources, startServer, TestClient } from './helpers.js';
import { REG } from './fixtures/test-device.js';

const TARGET = Number(process.env.FUZZ_TARGET ?? 120_000);
const BATCH = 500;
const SENTINEL = 0xffff;

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [
  0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 20, 24, 31, 32, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
  0xfffffffe, 0xffffffff,
];

export class Fuzzer {
  readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  u64(): bigint {
    const r = this.int(4);
    if (r === 0) return BigInt(this.int(16)) * 0x1000n;
    if (r === 1) return 0xffff_ffff_ffff_f000n - BigInt(this.int(4)) * 0x1000n;
    return BigInt(this.int(0x100000)) * 0x1000n;
  }

  /** A valid (or nearly valid) message of a random command. */
  template(id: number): Buffer {
    try {
      return this.#template(id);
    } catch {
      return encodeDeviceGetInfoRequest(id); // the encoder refused the random arguments
    }
  }

  #template(id: number): Buffer {
    const region = this.pick([0, 0, 0, 2, 4, 5, 6, 7, 7, 7, 1, 8, 9]);
    const off = region === CONFIG ? this.int(4100) : this.pick([this.int(0x100), this.pick(Object.values(REG)), this.int(0x5000)]);
    switch (this.int(18)) {
      case 0:
        return encodeVersionRequest(id, { major: 0, minor: this.int(3), capabilities: DEFAULT_CAPS });
      case 1:
        return encodeDmaMapRequest(id, { flags: 1 + this.int(3), address: this.u64() & ~0xfffn, size: BigInt(1 + this.int(16)) * 0x1000n });
      case 2:
        return this.int(3) === 0
          ? encodeDmaUnmapRequest(id, { flags: DMA_UNMAP_FLAG_ALL, address: 0, size: 0 })
          : encodeDmaUnmapRequest(id, { address: this.u64() & 0xffff_ffff_fffff000n, size: BigInt(1 + this.int(4)) * 0x1000n });
      case 3:
        return encodeDeviceGetInfoRequest(id, this.pick([16, 32, 1024]));
      case 4:
        return encodeRegionInfoRequest(id, this.int(10), this.pick([32, 64, 256]));
      case 5:
        return encodeRegionIoFdsRequest(id, this.int(10), this.pick([16, 56, 1024]));
      case 6:
        return encodeIrqInfoRequest(id, this.int(6));
      case 7: {
        const data = this.pick(['none', 'bool', 'eventfd'] as const);
        const count = this.int(4);
        const action = this.pick(['mask', 'unmask', 'trigger'] as const);
        const args = { data, action, index: this.int(6), start: count === 0 ? 0 : this.int(3), count };
        try {
          return encodeSetIrqsRequest(id, data === 'bool' ? { ...args, bools: this.bytes(count) } : args);
        } catch {
          return encodeSetIrqsRequest(id, { data: 'none', action: 'trigger', index: this.int(5), start: 0, count: 0 });
        }
      }
      case 8:
      case 9:
        return encodeRegionReadRequest(id, region, off, this.pick([1, 2, 4, 8, this.int(64)]));
      case 10:
      case 11:
      case 12:
        return encodeRegionWriteRequest(id, region, off, this.bytes(this.pick([1, 2, 4, 8, this.int(32)])));
      case 13:
        return encodeRegionWriteMultiRequest(
          id,
          Array.from({ length: 1 + this.int(4) }, () => ({
            region: this.pick([0, 7, 2]),
            offset: this.int(0x200),
            data: this.bytes(1 + this.int(8)),
          })),
        );
      case 14:
        return encodeDeviceResetRequest(id);
      case 15:
        return encodeDeviceFeatureRequest(id, { feature: this.int(10), get: true, argsz: 64 });
      case 16:
        return this.int(2) ? encodeMigDataReadRequest(id, this.int(64)) : encodeMigDataWriteRequest(id, this.bytes(this.int(32)));
      default:
        return this.int(2)
          ? encodeDmaReadRequest(id, this.u64(), this.int(16))
          : encodeDmaWriteRequest(id, this.u64(), this.bytes(this.int(16)));
    }
  }

  /** Mutations that keep the size field honest (so the stream stays in sync), and rarely one that does not. */
  mutate(m: Buffer): Buffer {
    let b = m;
    const n = 1 + this.int(4);
    for (let k = 0; k < n; k++) {
      switch (this.int(9)) {
        case 0: {
          const at = this.pick([this.int(4), 8 + this.int(b.length - 8)]);
          b[at]! ^= 1 << this.int(8);
          break;
        }
        case 1:
          if (b.length > HEADER_SIZE) b[HEADER_SIZE + this.int(b.length - HEADER_SIZE)] = this.int(256);
          break;
        case 2:
          if (b.length >= HEADER_SIZE + 4) {
            const at = HEADER_SIZE + 4 * this.int((b.length - HEADER_SIZE) >> 2);
            b.writeUInt32LE(this.pick(INTERESTING) >>> 0, at);
          }
          break;
        case 3: {
          const cut = this.int(b.length - HEADER_SIZE + 1);
          b = Buffer.from(b.subarray(0, b.length - cut));
          b.writeUInt32LE(b.length, 4);
          break;
        }
        case 4: {
          b = Buffer.concat([b, this.bytes(1 + this.int(24))]);
          b.writeUInt32LE(b.length, 4);
          break;
        }
        case 5:
          b.writeUInt16LE(this.int(3) ? this.int(20) : this.int(0x10000), 2);
          break;
        case 6:
          b.writeUInt32LE(this.pick([0, 0, 1, 0x10, 0x20, 0x21, 0x11, 2, 0x40, this.int(0x100)]), 8);
          break;
        case 7:
          b.writeUInt32LE(this.pick([0, 0, 0, 22, this.int(200)]), 12);
          break;
        default:
          if (b.length >= HEADER_SIZE + 8) b.writeBigUInt64LE(this.u64(), HEADER_SIZE + 8 * this.int((b.length - HEADER_SIZE) >> 3));
      }
    }
    if (this.int(3000) === 0) b.writeUInt32LE(this.pick([0, 8, 15, 0x7fffffff, b.length + 1 + this.int(64)]), 4);
    return b;
  }
}

/** A fuzzing connection: counts replies, answers the server's DMA requests with errors. */
class FuzzConnection {
  readonly conn: UnixConnection;
  readonly framer = new MessageFramer({ maxFds: 64, maxMessageSize: 16 << 20 });
  replies = 0;
  ended = false;
  #sentinel: (() => void) | undefined;
  #end: (() => void)[] = [];

  constructor(path: string) {
    this.conn = UnixConnection.connect(path);
    const done = (): void => {
      this.ended = true;
      this.#end.forEach((f) => {
        f();
      });
    };
    this.conn.on('end', done);
    this.conn.on('close', done);
    this.conn.on('error', done);
    this.conn.receive((data, length, fds, fdCount) => {
      let msgs: FramedMessage[];
      try {
        msgs = this.framer.push(data.subarray(0, length), Array.from(fds.subarray(0, fdCount)));
      } catch {
        this.conn.close();
        return;
      }
      for (const m of msgs) this.#on(m);
    });
  }

  #on(m: FramedMessage): void {
    for (const fd of m.fds) closeFd(fd);
    const type = m.header.flags & 0xf;
    const msg = Buffer.from(m.message.buffer, m.message.byteOffset, m.message.length);
    if (type === MessageType.COMMAND) {
      // The server's DMA_READ/DMA_WRITE: answer (mostly) with an error, sometimes with data.
      try {
        const r =
          m.header.command === Command.DMA_READ && msg.length === 32 && msg.readUInt32LE(28) === 0 && msg.readUInt32LE(24) <= 4096
            ? encodeDmaReadReply(m.header.msgId, msg.readBigUInt64LE(16), new Uint8Array(msg.readUInt32LE(24)))
            : encodeErrorReply(m.header, 'EFAULT');
        this.conn.send(r);
      } catch {
        // gone
      }
      return;
    }
    this.replies++;
    if (m.header.msgId === SENTINEL && m.header.command === Command.DEVICE_GET_INFO) this.#sentinel?.();
  }

  /** Sends a batch then a sentinel; resolves with true when the sentinel is answered, false if the connection ended. */
  batch(messages: Buffer[]): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.ended) {
        resolve(false);
        return;
      }
      // A size field corrupted upwards makes the server wait for bytes that never come: give up, reconnect.
      const timer = setTimeout(() => resolve(false), 1000);
      this.#sentinel = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#end.push(() => {
        clearTimeout(timer);
        resolve(false);
      });
      try {
        this.conn.send(Buffer.concat([...messages, encodeDeviceGetInfoRequest(SENTINEL)]));
      } catch {
        clearTimeout(timer);
        resolve(false);
      }
    });
  }

  async handshake(): Promise<boolean> {
    return new Promise((resolve) => {
      const v = encodeVersionRequest(SENTINEL, { major: 0, minor: 2, capabilities: DEFAULT_CAPS });
      const timer = setTimeout(() => resolve(false), 10000);
      const before = this.replies;
      const check = (): void => {
        if (this.replies > before) {
          clearTimeout(timer);
          resolve(!this.ended);
        } else if (this.ended) {
          clearTimeout(timer);
          resolve(false);
        } else setTimeout(check, 1);
      };
      this.conn.send(v);
      check();
    });
  }

  close(): void {
    this.conn.close();
  }
}

describe('fuzz', () => {
  it(`survives ${TARGET} mutated messages`, { timeout: 120_000 }, async (ctx) => {
    const seed = Number(process.env.FUZZ_SEED ?? 0x5eed1e55);
    ctx.diagnostic(`fuzz seed ${seed} (set FUZZ_SEED to replay)`);
    const t = startServer({ device: { slowMs: 0 }, server: { dmaTimeoutMs: 100, handshakeTimeoutMs: 2000 } });
    try {
      const before = resources();
      const f = new Fuzzer(seed);
      let sent = 0;
      let connections = 0;
      let replies = 0;
      let conn: FuzzConnection | undefined;
      const started = process.hrtime.bigint();
      while (sent < TARGET) {
        if (!conn || conn.ended) {
          if (conn) replies += conn.replies;
          await t.server.settled();
          conn = new FuzzConnection(t.path);
          connections++;
          if (!(await conn.handshake())) continue;
          // Memory decode, I/O, bus master on: more of the device is reachable.
          await conn.batch([encodeRegionWriteRequest(1, CONFIG, 4, Buffer.from([7, 0]))]);
        }
        const batch: Buffer[] = [];
        for (let i = 0; i < BATCH; i++) {
          const m = f.template(f.int(0xfff0));
          batch.push(f.int(10) < 8 ? f.mutate(m) : m);
        }
        sent += batch.length;
        const ok = await conn.batch(batch);
        if (process.env.FUZZ_DEBUG) {
          const codes = new Map<string, number>();
          for (const w of t.warnings.splice(0)) codes.set(w.code, (codes.get(w.code) ?? 0) + 1);
          console.error(
            `batch ${sent} ok=${ok} ended=${conn.ended} replies=${conn.replies} clients=${t.server.clients.length} warnings=${JSON.stringify([...codes])}`,
          );
        }
        if (!ok) {
          replies += conn.replies;
          conn.close();
          conn = undefined;
        }
      }
      if (conn) {
        replies += conn.replies;
        conn.close();
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const rate = Math.round(sent / seconds);
      ctx.diagnostic(
        `fuzz: ${sent} messages over ${connections} connections in ${seconds.toFixed(1)} s (${rate} messages/s), ${replies} replies, ${t.warnings.length} warnings`,
      );
      assert.ok(sent >= 100_000);
      assert.ok(connections >= 2, 'several connections');
      assert.ok(t.server.listening);
      await t.server.settled();
      await assertNoLeak(before, 'after fuzzing');
      const c = await TestClient.open(t.path);
      await c.write16(CONFIG, 4, 0x2);
      assert.equal(await c.read32(0, REG.ID), 0x7e571de5);
      c.close();
    } finally {
      await t.stop();
    }
  });
});
