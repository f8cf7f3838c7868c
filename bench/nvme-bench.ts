// NVMe benchmark: our driver against our model over vfio-user, doorbells in
// mapped BAR memory, completion by polling. The model's server runs in a
// child pinned to CPU 1 (its poller spins while I/O is in flight) and this
// process, the driver, should run pinned to CPU 0 (run.ts does that): no
// socket is crossed on the I/O path, so one CPU each is the fair setting.
// Prints one JSON line per workload.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { connectVfioUser } from '../src/client/vfio-user/backend.js';
import { NvmeDriver } from '../src/drivers/nvme/index.js';

const quick = process.argv.includes('--quick');
const seconds = quick ? 0.5 : 3;
const modelCpu = process.env['BENCH_MODEL_CPU'] ?? '1';
const NS_BYTES = 256 * 1024 * 1024;

const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-nvme-bench-'));
const path = join(dir, 'nvme.sock');
const entry = fileURLToPath(new URL('../test/support/serve-child.js', import.meta.url));
const model = pathToFileURL(fileURLToPath(new URL('../src/devices/nvme/index.js', import.meta.url))).href;
const opts = JSON.stringify({ model: { namespaces: [{ size: NS_BYTES }] } });
const child = spawn('taskset', ['-c', modelCpu, process.execPath, entry, model, 'NvmeModel', path, opts], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
for (let i = 0; !existsSync(path); i++) {
  if (i > 500) throw new Error('the NVMe model server did not start');
  await new Promise((r) => setTimeout(r, 20));
}

const dev = connectVfioUser(path);
const ctrl = await NvmeDriver.open(dev, { interrupts: 'none', ioQueues: 1, ioQueueDepth: 256, ioSlots: 64 });
const ns = await ctrl.namespace(1);
const io = ns.polled();
const blocksTotal = ns.blocks;

// Fill the namespace region we read from, so reads move real data.
{
  const chunk = new Uint8Array(128 * 1024).fill(0xa5);
  for (let lba = 0; lba < Math.min(blocksTotal, (64 * 1024 * 1024) / ns.blockSize); lba += chunk.length / ns.blockSize)
    await ns.write(lba, chunk);
}

let seed = 0x2545f491;
function rand(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

const MAX_SAMPLES = 4_000_000;
const lat = new Float64Array(MAX_SAMPLES);
const started = new Float64Array(1024);

// Garbage collections during a workload (the driver process): hot paths that
// allocate nothing per I/O keep this near zero, so GC does not make the tail.
let gcs = 0;
let gcMs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcs++;
    gcMs += e.duration;
  }
});
gcObserver.observe({ entryTypes: ['gc'] });

async function run(name: string, write: boolean, bytes: number, qd: number, random: boolean): Promise<void> {
  const blocks = bytes / ns.blockSize;
  const span = Math.floor(blocksTotal / blocks);
  let n = 0;
  let seq = 0;
  io.onComplete = (slot, status) => {
    if (status !== 0) throw new Error(`I/O failed with status 0x${status.toString(16)}`);
    if (n < MAX_SAMPLES) lat[n] = performance.now() - started[slot]!;
    n++;
  };
  const submit = (): boolean => {
    const lba = (random ? rand() % span : seq++ % span) * blocks;
    const t = performance.now();
    const slot = write ? io.submitWrite(lba, blocks, undefined, false) : io.submitRead(lba, blocks, false);
    if (slot < 0) return false;
    started[slot] = t;
    return true;
  };
  // warm-up
  const warmEnd = performance.now() + 200;
  while (performance.now() < warmEnd) {
    while (io.outstanding < qd && submit());
    io.ring();
    io.poll();
  }
  io.drain(5000);
  await new Promise((r) => setImmediate(r));
  n = 0;
  gcs = 0;
  gcMs = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    while (io.outstanding < qd && submit());
    io.ring();
    io.poll();
  }
  io.drain(5000);
  const elapsed = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 10)); // let the GC observer report
  const samples = lat.subarray(0, Math.min(n, MAX_SAMPLES)).sort();
  // samples are in ms; report us with one decimal
  const pct = (p: number): number => Math.round(samples[Math.min(samples.length - 1, Math.floor(samples.length * p))]! * 10000) / 10;
  console.log(
    JSON.stringify({
      name,
      qd,
      bytes,
      ios: n,
      iops: Math.round(n / elapsed),
      MBps: Math.round((n * bytes) / elapsed / 1e6),
      p50_us: pct(0.5),
      p99_us: pct(0.99),
      p999_us: pct(0.999),
      gcs,
      gc_ms: Math.round(gcMs * 10) / 10,
    }),
  );
}

await run('4k-randread-qd1', false, 4096, 1, true);
await run('4k-randread-qd32', false, 4096, 32, true);
await run('4k-randwrite-qd1', true, 4096, 1, true);
await run('4k-randwrite-qd32', true, 4096, 32, true);
await run('128k-seqread-qd8', false, 128 * 1024, 8, false);

gcObserver.disconnect();
await ctrl.shutdown();
dev.close();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
rmSync(dir, { recursive: true, force: true });
