// `npm run bench`: the socket benchmarks of vfio-user and their baseline.
//
// Both peers of every case run on CPU 0 (taskset -c 0): a wake-up across CPUs
// costs ~50 us on these machines and would swamp what is measured. Each
// vfio-ts case is compared with a plain C UNIX-socket ping-pong that moves the
// same request and reply sizes (bench/pingpong.c), measured in interleaved
// rounds with it (each round: the baseline, then the case), so the figures
// are ratios, not absolute times, and both sides see the same machine.
//
// runBenchmarks() returns the rows (used by `vfio-ts bench`, which also draws
// them with bench/chart.ts); run directly (`node out/bench/run.js [--quick]`)
// it prints the markdown tables.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * One socket case: vfio-ts against the C ping-pong moving the same bytes,
 * measured in interleaved rounds (bench/vfio-user-bench.ts): times are
 * medians over the rounds, `ratio` the median of the per-round ratios.
 */
export interface SocketRow {
  name: string;
  median_ns: number;
  p99_ns: number;
  base_median_ns: number;
  base_p99_ns: number;
  /** vfio-ts median / C median, the median over the rounds. */
  ratio: number;
  /** The lowest and highest per-round ratio. */
  ratio_min?: number;
  ratio_max?: number;
  rounds?: number;
  /** CPU time per round trip: client main thread + server, and the two C processes. */
  cpu_ns?: number;
  client_cpu_ns?: number;
  server_cpu_ns?: number;
  base_cpu_ns?: number;
}

/** NVMe: our driver against our model, mapped doorbells, polling. */
export interface NvmeRow {
  name: string;
  qd: number;
  iops: number;
  MBps: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  gcs: number;
  gc_ms: number;
}

export interface DmaRow {
  dma_GBps: number;
  memcpy_GBps: number;
  ratio: number;
}

export interface BenchResults {
  socket: SocketRow[];
  dma?: DmaRow;
  nvme: NvmeRow[];
}

export interface BenchOptions {
  quick?: boolean;
  /** CPU both peers of the socket cases run on (default $BENCH_CPU or 0). */
  cpu?: string;
}

/** Runs every benchmark (needs gcc and taskset) and returns the figures. */
export function runBenchmarks(options: BenchOptions = {}): BenchResults {
  const quick = options.quick ?? false;
  const cpu = options.cpu ?? process.env['BENCH_CPU'] ?? '0';
  const taskset = (cmd: string[]): string =>
    execFileSync('taskset', ['-c', cpu, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

  // The baseline, built here (gcc -O2).
  const buildDir = join(root, 'build', 'bench');
  mkdirSync(buildDir, { recursive: true });
  const pingpong = join(buildDir, 'pingpong');
  execFileSync('gcc', ['-O2', '-Wall', '-o', pingpong, join(root, 'bench', 'pingpong.c')]);
  const cClient = join(buildDir, 'vfio-user-client');
  execFileSync('gcc', ['-O2', '-Wall', '-o', cClient, join(root, 'bench', 'vfio-user-client.c')]);

  const ours = taskset([process.execPath, join(root, 'out', 'bench', 'vfio-user-bench.js'), pingpong, ...(quick ? ['--quick'] : []), cClient])
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number> & { name: string });
  const socket: SocketRow[] = ours.filter((r) => r['base_median_ns'] !== undefined) as unknown as SocketRow[];
  const d = ours.find((r) => r.name === 'dma-read-1m');
  const dma = d ? { dma_GBps: d['dma_GBps'] ?? 0, memcpy_GBps: d['memcpy_GBps'] ?? 0, ratio: d['ratio'] ?? 0 } : undefined;

  const nvme = taskset([process.execPath, join(root, 'out', 'bench', 'nvme-bench.js'), ...(quick ? ['--quick'] : [])])
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as NvmeRow);
  return { socket, ...(dma ? { dma } : {}), nvme };
}

/** The figures as the markdown tables of BENCHMARKS.md. */
export function benchMarkdown(r: BenchResults): string {
  const lines: string[] = [];
  const us = (ns: number): string => (ns / 1000).toFixed(1) + ' us';
  const cpu = (ns: number | undefined): string => (ns === undefined ? '-' : (ns / 1000).toFixed(1) + ' us');
  lines.push('| case | vfio-ts median | vfio-ts p99 | C ping-pong median | C p99 | ratio (median of rounds) | range | CPU per round trip (client + server) | C CPU | CPU ratio |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of r.socket) {
    const range = s.ratio_min !== undefined && s.ratio_max !== undefined ? `${s.ratio_min.toFixed(2)}-${s.ratio_max.toFixed(2)}` : '-';
    const split = s.client_cpu_ns !== undefined && s.server_cpu_ns !== undefined ? ` (${cpu(s.client_cpu_ns)} + ${cpu(s.server_cpu_ns)})` : '';
    const cpuRatio = s.cpu_ns !== undefined && s.base_cpu_ns ? `${(s.cpu_ns / s.base_cpu_ns).toFixed(2)}x` : '-';
    lines.push(`| ${s.name} | ${us(s.median_ns)} | ${us(s.p99_ns)} | ${us(s.base_median_ns)} | ${us(s.base_p99_ns)} | ${s.ratio.toFixed(2)}x | ${range} | ${cpu(s.cpu_ns)}${split} | ${cpu(s.base_cpu_ns)} | ${cpuRatio} |`);
  }
  if (r.dma) {
    lines.push('');
    lines.push(`DMA through a mapped region (device model reads 1 MiB per transfer from the client's buffer): ` +
      `${r.dma.dma_GBps} GB/s, memcpy in the same process ${r.dma.memcpy_GBps} GB/s: ${(100 * r.dma.ratio).toFixed(0)}% of memcpy.`);
  }
  lines.push('');
  lines.push('| NVMe workload | IOPS | MB/s | p50 | p99 | p99.9 | GCs in the driver (time) |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const n of r.nvme) {
    lines.push(`| ${n.name} | ${n.iops.toLocaleString('en-US')} | ${n.MBps} | ${n.p50_us} us | ${n.p99_us} us | ${n.p999_us} us | ${n.gcs} (${n.gc_ms} ms) |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // npm run bench [-- --quick] [-- --out FILE.svg]: tables on stdout, and the chart where --out says.
  const { benchChartSvg } = await import('./chart.js');
  const outAt = process.argv.indexOf('--out');
  const out = outAt > 0 ? process.argv[outAt + 1] : undefined;
  const results = runBenchmarks({ quick: process.argv.includes('--quick') });
  console.log(benchMarkdown(results));
  if (out) {
    writeFileSync(out, benchChartSvg(results));
    console.log(`\nchart: ${out}`);
  }
}
