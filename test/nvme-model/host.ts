// A minimal NVMe host for the model's tests (not a driver): spawns the model
// behind the real vfio-user server in a child process and drives it through
// the Driver API (connectVfioUser), with the BAR0 doorbell page mmapped.

import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectVfioUser } from '../../src/client/vfio-user/backend.js';
import type { Device } from '../../src/client/device.js';
import type { DmaBuffer } from '../../src/client/dma.js';
import type { Region } from '../../src/client/region.js';
import type { ServeNvmeOptions } from '../../src/devices/nvme/index.js';

const here = dirname(fileURLToPath(import.meta.url));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

export interface Cqe {
  dw0: number;
  sqhd: number;
  sqid: number;
  cid: number;
  phase: number;
  /** The 15-bit status field. */
  status: number;
  sc: number;
  sct: number;
  dnr: boolean;
}

export interface Sqe {
  opc: number;
  nsid?: number;
  prp1?: bigint | number;
  prp2?: bigint | number;
  cdw10?: number;
  cdw11?: number;
  cdw12?: number;
  cdw13?: number;
  cdw14?: number;
  cdw15?: number;
  /** Raw dword 0 flags above the opcode (FUSE, PSDT). */
  flags?: number;
  cid?: number;
}

export class HostQueue {
  sqTail = 0;
  cqHead = 0;
  phase = 1;
  nextCid = 1;
  constructor(
    readonly host: NvmeTestHost,
    readonly qid: number,
    readonly depth: number,
    readonly cqDepth: number,
    readonly sq: DmaBuffer,
    readonly cq: DmaBuffer,
  ) {}

  /** Writes an SQE at the tail (does not ring). Returns its command id. */
  put(e: Sqe): number {
    if (e.cid === undefined) this.nextCid = (this.nextCid + 1) & 0xffff;
    const cid = e.cid ?? this.nextCid;
    const v = this.sq.view;
    const o = this.sqTail * 64;
    this.sq.bytes.fill(0, o, o + 64);
    v.setUint32(o, (e.opc | (e.flags ?? 0) | (cid << 16)) >>> 0, true);
    v.setUint32(o + 4, e.nsid ?? 0, true);
    v.setBigUint64(o + 24, BigInt(e.prp1 ?? 0), true);
    v.setBigUint64(o + 32, BigInt(e.prp2 ?? 0), true);
    v.setUint32(o + 40, e.cdw10 ?? 0, true);
    v.setUint32(o + 44, e.cdw11 ?? 0, true);
    v.setUint32(o + 48, e.cdw12 ?? 0, true);
    v.setUint32(o + 52, e.cdw13 ?? 0, true);
    v.setUint32(o + 56, e.cdw14 ?? 0, true);
    v.setUint32(o + 60, e.cdw15 ?? 0, true);
    this.sqTail = (this.sqTail + 1) % this.depth;
    return cid;
  }

  ring(): void {
    this.host.bar.write32(0x1000 + 8 * this.qid, this.sqTail);
  }

  /** The completion at the head, if its phase says it is new. */
  peek(): Cqe | undefined {
    const v = this.cq.view;
    const o = this.cqHead * 16;
    const dw3 = v.getUint32(o + 12, true);
    if (((dw3 >>> 16) & 1) !== this.phase) return undefined;
    const dw2 = v.getUint32(o + 8, true);
    const status = dw3 >>> 17;
    return {
      dw0: v.getUint32(o, true),
      sqhd: dw2 & 0xffff,
      sqid: dw2 >>> 16,
      cid: dw3 & 0xffff,
      phase: (dw3 >>> 16) & 1,
      status,
      sc: status & 0xff,
      sct: (status >>> 8) & 7,
      dnr: (status & 0x4000) !== 0,
    };
  }

  /** Consumes the head completion (moves the head; `ring` writes the CQ head doorbell). */
  pop(ring = true): void {
    this.cqHead++;
    if (this.cqHead === this.cqDepth) {
      this.cqHead = 0;
      this.phase ^= 1;
    }
    if (ring) this.host.bar.write32(0x1000 + 8 * this.qid + 4, this.cqHead);
  }

  /** Waits for the next completion (polling) and consumes it. */
  async next(timeoutMs = 3000): Promise<Cqe> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const c = this.peek();
      if (c) {
        this.pop();
        return c;
      }
      if (Date.now() > until) throw new Error(`queue ${this.qid}: no completion within ${timeoutMs} ms`);
      await tick();
    }
  }

  /** Submits one command and waits for its completion. */
  async run(e: Sqe): Promise<Cqe> {
    const cid = this.put(e);
    this.ring();
    const c = await this.next();
    if (c.cid !== cid) throw new Error(`expected cid ${cid}, got ${c.cid}`);
    return c;
  }
}

export class NvmeTestHost {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly path: string;
  dev!: Device;
  bar!: Region;
  admin!: HostQueue;
  readonly warnings: string[] = [];
  #reqId = 0;
  readonly #pending = new Map<number, (v: unknown) => void>();

  private constructor(child: ChildProcess, dir: string, path: string) {
    this.child = child;
    this.dir = dir;
    this.path = path;
    child.on('message', (m: { id?: number; value?: unknown; warning?: string }) => {
      if (m.warning) this.warnings.push(m.warning);
      if (m.id !== undefined) {
        this.#pending.get(m.id)?.(m.value);
        this.#pending.delete(m.id);
      }
    });
  }

  /** Spawns the model and connects to it. */
  static async start(options: ServeNvmeOptions = {}): Promise<NvmeTestHost> {
    const dir = mkdtempSync(join(tmpdir(), 'nvme-model-'));
    const path = join(dir, 'nvme.sock');
    const child = fork(join(here, 'server-child.js'), [path, JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`model exited with ${code}`)));
    });
    const h = new NvmeTestHost(child, dir, path);
    h.connect();
    return h;
  }

  connect(): void {
    this.dev = connectVfioUser(this.path);
    this.dev.config.write16(4, 0x0006); // memory decode + bus master
    this.bar = this.dev.bar(0);
  }

  request<T = unknown>(op: string, ...args: number[]): Promise<T> {
    const id = ++this.#reqId;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve as (v: unknown) => void);
      this.child.send({ id, op, args });
    });
  }

  get cap(): bigint {
    return this.bar.read64(0);
  }
  get csts(): number {
    return this.bar.read32(0x1c);
  }
  get cc(): number {
    return this.bar.read32(0x14);
  }
  set cc(v: number) {
    this.bar.write32(0x14, v);
  }

  /** CC value with IOSQES 6, IOCQES 4 and `en`. */
  static ccValue(en: boolean, mps = 0): number {
    return ((6 << 16) | (4 << 20) | (mps << 7) | (en ? 1 : 0)) >>> 0;
  }

  /** Programs AQA/ASQ/ACQ and enables; waits for RDY (or CFS). */
  async enable(depth = 32, mps = 0): Promise<number> {
    if (!this.admin || this.admin.depth !== depth) {
      const sq = this.dev.allocDma(Math.max(4096, depth * 64));
      const cq = this.dev.allocDma(Math.max(4096, depth * 16));
      this.admin = new HostQueue(this, 0, depth, depth, sq, cq);
    }
    this.admin.sqTail = 0;
    this.admin.cqHead = 0;
    this.admin.phase = 1;
    this.admin.cq.bytes.fill(0);
    this.bar.write32(0x24, ((depth - 1) << 16) | (depth - 1));
    this.bar.write64(0x28, this.admin.sq.iova);
    this.bar.write64(0x30, this.admin.cq.iova);
    this.cc = NvmeTestHost.ccValue(true, mps);
    return this.waitCsts((s) => (s & 3) !== 0);
  }

  async disable(): Promise<number> {
    this.cc = NvmeTestHost.ccValue(false);
    return this.waitCsts((s) => (s & 1) === 0);
  }

  async waitCsts(pred: (csts: number) => boolean, timeoutMs = 2000): Promise<number> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const s = this.csts;
      if (pred(s)) return s;
      if (Date.now() > until) throw new Error(`CSTS 0x${s.toString(16)} never matched`);
      await sleep(1);
    }
  }

  /** Creates I/O CQ and SQ `qid` (interrupts on vector `iv` when `ien`). */
  async createQueuePair(qid: number, depth: number, o: { ien?: boolean; iv?: number; cqDepth?: number } = {}): Promise<HostQueue> {
    const cqDepth = o.cqDepth ?? depth;
    const sq = this.dev.allocDma(Math.max(4096, depth * 64));
    const cq = this.dev.allocDma(Math.max(4096, cqDepth * 16));
    let c = await this.admin.run({
      opc: 0x05,
      prp1: cq.iova,
      cdw10: ((cqDepth - 1) << 16) | qid,
      cdw11: ((o.iv ?? 0) << 16) | (o.ien ? 2 : 0) | 1,
    });
    if (c.status !== 0) throw new Error(`Create I/O CQ ${qid}: status 0x${c.status.toString(16)}`);
    c = await this.admin.run({ opc: 0x01, prp1: sq.iova, cdw10: ((depth - 1) << 16) | qid, cdw11: (qid << 16) | 1 });
    if (c.status !== 0) throw new Error(`Create I/O SQ ${qid}: status 0x${c.status.toString(16)}`);
    return new HostQueue(this, qid, depth, cqDepth, sq, cq);
  }

  async close(): Promise<void> {
    try {
      this.dev?.close();
    } catch {
      /* already gone */
    }
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Fills a buffer with a pattern derived from `seed`. */
export function pattern(bytes: Uint8Array, seed: number): void {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
}
