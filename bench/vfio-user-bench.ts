// One benchmark process: starts the bench device's server in a child (which
// inherits this process's CPU affinity: run it under `taskset -c 0`), drives
// it with the Driver API and prints one JSON line per case.
//
//   node out/bench/vfio-user-bench.js PINGPONG [--quick] [CCLIENT]
//
// CCLIENT (bench/vfio-user-client.c built) adds the cases that drive our
// server from a C vfio-user client, so that the server's own cost is seen
// without a Node client's overhead on the other side.
//
// CASES=name,name... measures only those cases; ROUNDS=n sets the rounds
// (default 9, 3 with --quick).
//
// The C ping-pong (PINGPONG, bench/pingpong.c built) is run in the same
// rounds: each round measures every case right after the baseline that moves
// the same bytes, so both see the same state of the machine (on a shared VM
// round trips drift by a third within minutes, and the two sides do not
// drift alike). A case's figures are medians over the rounds: of the round
// medians and p99s, of the per-round ratios to the baseline; the range of
// those ratios shows the spread. CPU time per round trip is measured as well,
// for this process's main thread and the server child (schedstat), and for
// the two C processes (rusage).

import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connectVfioUser } from '../src/client/vfio-user/backend.js';
import { REGION_RW_DATA_OFFSET } from '../src/protocol/index.js';
import { UnixConnection } from '../src/sys/unix-socket.js';

const pingpong = process.argv[2];
if (!pingpong || pingpong.startsWith('--')) throw new Error('usage: vfio-user-bench PINGPONG [--quick]');
const quick = process.argv.includes('--quick');
const cClient = process.argv.slice(3).find((a) => !a.startsWith('--'));
const rounds = quick ? 3 : Number(process.env.ROUNDS ?? 9);
const scale = quick ? 0.2 : 1;

const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-bench-'));
const children: ChildProcess[] = [];

async function start(script: string, args: string[]): Promise<ChildProcess> {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : m.error && reject(new Error(m.error))));
    child.once('exit', (c) => reject(new Error(`${script} exited ${c}`)));
  });
  return child;
}

const serveChild = fileURLToPath(new URL('../test/support/serve-child.js', import.meta.url));
const model = pathToFileURL(fileURLToPath(new URL('./bench-device.js', import.meta.url))).href;
/** The bench device served lingering as `vfio-ts serve` does (1000 us), and once more without lingering (the library's default). */
async function serve(name: string, server: Record<string, unknown>): Promise<{ child: ChildProcess; path: string }> {
  const path = join(dir, `${name}.sock`);
  const child = await start(serveChild, [model, 'BenchDevice', path, JSON.stringify({ server })]);
  return { child, path };
}
// Lingering as `vfio-ts serve` runs it (the library's default is off).
const main = await serve('bench', { lingerUs: 1000 });
const forC = cClient ? await serve('bench-c', { lingerUs: 1000 }) : undefined;
const noLinger = await serve('bench-nolinger', { lingerUs: 0 });
const echoPath = join(dir, 'echo.sock');
const echo = await start(fileURLToPath(new URL('./echo-server.js', import.meta.url)), [echoPath]);

const dev = connectVfioUser(main.path, { map: false });
dev.config.write16(4, 0x6);
const bar0 = dev.bar(0);
const bar2 = dev.bar(2);
const devNoLinger = connectVfioUser(noLinger.path, { map: false });
const echoConn = UnixConnection.connect(echoPath);
const echoReq = new Uint8Array(32);
const echoRep = new Uint8Array(64);

/** A REGION_READ/WRITE message without its data: header and access fields. */
const RW = REGION_RW_DATA_OFFSET;
const k4 = new Uint8Array(4096);
const m1 = new Uint8Array(1024 * 1024);

interface Case {
  name: string;
  iterations: number;
  /** Request and reply bytes: what the baseline moves. */
  req: number;
  rep: number;
  server: ChildProcess;
  op: () => void;
  /** Instead of `op`: a program run for the whole round that prints pingpong.c's JSON (the C client). */
  external?: (iterations: number) => string[];
}

const none = (): void => undefined;
const cases: Case[] = [
  { name: 'config-read32', iterations: 3000, req: RW, rep: RW + 4, server: main.child, op: () => void dev.config.read32(0) },
  { name: 'bar-read32', iterations: 3000, req: RW, rep: RW + 4, server: main.child, op: () => void bar0.read32(4) },
  { name: 'bar-write32', iterations: 3000, req: RW + 4, rep: RW, server: main.child, op: () => bar0.write32(4, 1) },
  { name: 'read-4k', iterations: 2000, req: RW, rep: RW + 4096, server: main.child, op: () => bar2.read(0, k4) },
  { name: 'write-4k', iterations: 2000, req: RW + 4096, rep: RW, server: main.child, op: () => bar2.write(0, k4) },
  { name: 'read-1m', iterations: 40, req: RW, rep: RW + (1 << 20), server: main.child, op: () => bar2.read(0, m1) },
  { name: 'write-1m', iterations: 40, req: RW + (1 << 20), rep: RW, server: main.child, op: () => bar2.write(0, m1) },
  {
    name: 'config-read32-nolinger',
    iterations: 3000,
    req: RW,
    rep: RW + 4,
    server: noLinger.child,
    op: () => void devNoLinger.config.read32(0),
  },
  {
    // The floor under any server on Node's event loop: bench/echo-server.ts
    // answers each 32-byte request with 36 bytes and does nothing else.
    name: 'node-echo',
    iterations: 3000,
    req: 32,
    rep: 36,
    server: echo,
    op: () => {
      let got = echoConn.transact(echoReq, 32, null, echoRep, null, 5000);
      while (got < 36) got += echoConn.receiveSync(echoRep, got, 64 - got, null, 5000);
    },
  },
];
if (cClient && forC) {
  // Region 7 is config space, region 0 BAR0 (the client turns memory decode on).
  cases.push(
    {
      name: 'c-client-config-read32',
      iterations: 3000,
      req: RW,
      rep: RW + 4,
      server: forC.child,
      op: none,
      external: (n) => [cClient, forC.path, '7', '0', '4', String(n)],
    },
    {
      name: 'c-client-bar-read32',
      iterations: 3000,
      req: RW,
      rep: RW + 4,
      server: forC.child,
      op: none,
      external: (n) => [cClient, forC.path, '0', '4', '4', String(n)],
    },
  );
}

/** CPU time a thread has run, in ns (the first field of schedstat). */
function cpuNs(pid: number, tid = pid): number {
  return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
}

interface Round {
  median: number;
  p99: number;
  baseMedian: number;
  baseP99: number;
  clientCpu: number;
  serverCpu: number;
  baseCpu: number;
}

function measureRound(c: Case, iterations: number): Round {
  const base = JSON.parse(
    execFileSync(pingpong, [join(dir, 'pp.sock'), String(c.req), String(c.rep), String(iterations)], { encoding: 'utf8' }),
  ) as {
    median_ns: number;
    p99_ns: number;
    cpu_ns: number;
  };
  if (c.external) {
    const [program, ...args] = c.external(iterations);
    const spid = c.server.pid!;
    const s0 = cpuNs(spid);
    const ours = JSON.parse(execFileSync(program!, args, { encoding: 'utf8' })) as { median_ns: number; p99_ns: number; cpu_ns: number };
    const s1 = cpuNs(spid);
    const total = iterations + Math.floor(iterations / 10) + 100; // the C client's warm-up is served too
    return {
      median: ours.median_ns,
      p99: ours.p99_ns,
      baseMedian: base.median_ns,
      baseP99: base.p99_ns,
      clientCpu: ours.cpu_ns,
      serverCpu: (s1 - s0) / total,
      baseCpu: base.cpu_ns,
    };
  }
  const warm = Math.ceil(iterations / 10) + 20;
  for (let i = 0; i < warm; i++) c.op();
  const lat = new Float64Array(iterations);
  const spid = c.server.pid!;
  const c0 = cpuNs(process.pid);
  const s0 = cpuNs(spid);
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    c.op();
    lat[i] = performance.now() - t0;
  }
  const c1 = cpuNs(process.pid);
  const s1 = cpuNs(spid);
  lat.sort();
  return {
    median: lat[iterations >> 1]! * 1e6,
    p99: lat[Math.floor(iterations * 0.99)]! * 1e6,
    baseMedian: base.median_ns,
    baseP99: base.p99_ns,
    clientCpu: (c1 - c0) / iterations,
    serverCpu: (s1 - s0) / iterations,
    baseCpu: base.cpu_ns,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const results = new Map<string, Round[]>(cases.map((c) => [c.name, []]));
const only = process.env.CASES?.split(',');
for (let r = 0; r < rounds; r++) {
  for (const c of cases.filter((c) => !only || only.includes(c.name)))
    results.get(c.name)!.push(measureRound(c, Math.max(20, Math.round(c.iterations * scale))));
}
for (const c of cases) {
  const rs = results.get(c.name)!;
  if (!rs.length) continue;
  const ratios = rs.map((x) => x.median / x.baseMedian);
  const cpu = median(rs.map((x) => x.clientCpu + x.serverCpu));
  const baseCpu = median(rs.map((x) => x.baseCpu));
  console.log(
    JSON.stringify({
      name: c.name,
      iterations: Math.max(20, Math.round(c.iterations * scale)),
      rounds,
      median_ns: Math.round(median(rs.map((x) => x.median))),
      p99_ns: Math.round(median(rs.map((x) => x.p99))),
      base_median_ns: Math.round(median(rs.map((x) => x.baseMedian))),
      base_p99_ns: Math.round(median(rs.map((x) => x.baseP99))),
      ratio: +median(ratios).toFixed(3),
      ratio_min: +Math.min(...ratios).toFixed(3),
      ratio_max: +Math.max(...ratios).toFixed(3),
      round_ratios: ratios.map((x) => +x.toFixed(2)),
      round_medians_ns: rs.map((x) => Math.round(x.median)),
      client_cpu_ns: Math.round(median(rs.map((x) => x.clientCpu))),
      server_cpu_ns: Math.round(median(rs.map((x) => x.serverCpu))),
      cpu_ns: Math.round(cpu),
      base_cpu_ns: Math.round(baseCpu),
    }),
  );
}

// DMA through a mapped region: the device model copies from our buffer.
const buf = dev.allocDma(1024 * 1024);
buf.bytes.fill(0x5a);
const dmaIterations = quick ? 200 : 2000;
bar0.write64(0x10, buf.iova);
bar0.write32(0x18, buf.size);
bar0.write32(0x1c, dmaIterations);
bar0.write32(0x20, 1);
const dmaNs = Number(bar0.read64(0x28));
const memcpyNs = Number(bar0.read64(0x30));
const gbps = (ns: number): number => (buf.size * dmaIterations) / ns;
console.log(
  JSON.stringify({
    name: 'dma-read-1m',
    iterations: dmaIterations,
    dma_GBps: +gbps(dmaNs).toFixed(2),
    memcpy_GBps: +gbps(memcpyNs).toFixed(2),
    ratio: +(memcpyNs / dmaNs).toFixed(2),
  }),
);

echoConn.close();
dev.close();
devNoLinger.close();
for (const child of children) {
  const exited = new Promise((r) => child.once('exit', r));
  if (child === echo) child.disconnect();
  else child.send('stop');
  await exited;
}
rmSync(dir, { recursive: true, force: true });
