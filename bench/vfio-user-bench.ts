// One benchmark process: starts the bench device's server in a child (which
// inherits this process's CPU affinity: run it under `taskset -c 0`), drives
// it with the Driver API and prints one JSON line per case with the median
// and p99 round-trip times in ns.

import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connectVfioUser } from '../src/client/vfio-user.js';

const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-bench-'));
const path = join(dir, 'bench.sock');
const entry = fileURLToPath(new URL('../test/support/serve-child.js', import.meta.url));
const model = pathToFileURL(fileURLToPath(new URL('./bench-device.js', import.meta.url))).href;
const child = fork(entry, [model, 'BenchDevice', path, '{}'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
await new Promise<void>((resolve, reject) => {
  child.on('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : m.error && reject(new Error(m.error))));
  child.once('exit', (c) => reject(new Error(`bench server exited ${c}`)));
});

const dev = connectVfioUser(path, { map: false });
dev.config.write16(4, 0x6);
const bar0 = dev.bar(0);
const bar2 = dev.bar(2);
const quick = process.argv.includes('--quick');
const scale = quick ? 0.1 : 1;

function measure(name: string, iterations: number, op: () => void, extra: Record<string, unknown> = {}): void {
  iterations = Math.max(20, Math.round(iterations * scale));
  const warm = Math.ceil(iterations / 10) + 50;
  for (let i = 0; i < warm; i++) op();
  const lat = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    op();
    lat[i] = performance.now() - t0;
  }
  lat.sort();
  const ns = (ms: number): number => Math.round(ms * 1e6);
  console.log(JSON.stringify({ name, iterations, median_ns: ns(lat[iterations >> 1]!), p99_ns: ns(lat[Math.floor(iterations * 0.99)]!), ...extra }));
}

const small = new Uint8Array(4);
const k4 = new Uint8Array(4096);
const m1 = new Uint8Array(1024 * 1024);
measure('config-read32', 20000, () => void dev.config.read32(0));
measure('bar-read32', 20000, () => void bar0.read32(4));
measure('bar-write32', 20000, () => bar0.write32(4, 1));
measure('read-4k', 10000, () => bar2.read(0, k4));
measure('write-4k', 10000, () => bar2.write(0, k4));
measure('read-1m', 300, () => bar2.read(0, m1));
measure('write-1m', 300, () => bar2.write(0, m1));
void small;

// DMA through a mapped region: the device model copies from our buffer.
const buf = dev.allocDma(1024 * 1024);
buf.bytes.fill(0x5a);
const iterations = quick ? 200 : 2000;
bar0.write64(0x10, buf.iova);
bar0.write32(0x18, buf.size);
bar0.write32(0x1c, iterations);
bar0.write32(0x20, 1);
const dmaNs = Number(bar0.read64(0x28));
const memcpyNs = Number(bar0.read64(0x30));
const gbps = (ns: number): number => (buf.size * iterations) / ns;
console.log(JSON.stringify({ name: 'dma-read-1m', iterations, dma_GBps: +gbps(dmaNs).toFixed(2), memcpy_GBps: +gbps(memcpyNs).toFixed(2), ratio: +(memcpyNs / dmaNs).toFixed(2) }));

// The floor: the same round trip to a Node server that does nothing but answer.
{
  const { UnixConnection } = await import('../src/sys/unix-socket.js');
  const echoPath = join(dir, 'echo.sock');
  const echo = fork(fileURLToPath(new URL('./echo-server.js', import.meta.url)), [echoPath], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve) => echo.on('message', () => resolve()));
  const conn = UnixConnection.connect(echoPath);
  const req = new Uint8Array(32);
  const rep = new Uint8Array(64);
  measure('node-echo', 20000, () => {
    let got = conn.transact(req, 32, null, rep, null, 5000);
    while (got < 36) got += conn.receiveSync(rep, got, 64 - got, null, 5000);
  });
  conn.close();
  echo.disconnect();
  await new Promise((r) => echo.once('exit', r));
}

dev.close();
child.send('stop');
await new Promise((r) => child.once('exit', r));
rmSync(dir, { recursive: true, force: true });
