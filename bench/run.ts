// `npm run bench`: the socket benchmarks of vfio-user and their baseline.
//
// Both peers of every case run on CPU 0 (taskset -c 0): a wake-up across CPUs
// costs ~50 us on these machines and would swamp what is measured. Each
// vfio-ts case is compared with a plain C UNIX-socket ping-pong that moves the
// same request and reply sizes (bench/pingpong.c), measured in interleaved
// rounds with it (each round: the baseline, then the case), so the figures
// are ratios, not absolute times, and both sides see the same machine.
//
// runBenchmarks() returns the rows, telling each case on stderr as it ends
// (a full run takes minutes); run directly (`npm run bench [-- --quick]
// [-- --out FILE.svg]`) it checks its arguments first, prints the markdown
// tables, then draws them with bench/chart.ts.

import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
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
  /** A line of progress: each step and each case as it ends (default: stderr). */
  progress?: (line: string) => void;
}

/** Runs `cmd` pinned to `cpu`, handing each JSON line of its stdout to `onRow` as it comes; resolves with them all. */
function pinnedRows<T>(cpu: string, cmd: string[], onRow: (row: T) => void): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', cpu, ...cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
    const rows: T[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.trim()) return;
      const row = JSON.parse(line) as T;
      rows.push(row);
      onRow(row);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(rows);
      else reject(new Error(`${cmd.slice(1).join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/** Runs every benchmark (needs gcc and taskset) and returns the figures. */
export async function runBenchmarks(options: BenchOptions = {}): Promise<BenchResults> {
  const quick = options.quick ?? false;
  const cpu = options.cpu ?? process.env['BENCH_CPU'] ?? '0';
  const progress = options.progress ?? ((l: string) => console.error(l));
  const started = performance.now();
  const at = (): string => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s`;

  // The baseline, built here (gcc -O2).
  progress(`${at()}  building the C ping-pong baseline (gcc -O2)`);
  const buildDir = join(root, 'build', 'bench');
  mkdirSync(buildDir, { recursive: true });
  const pingpong = join(buildDir, 'pingpong');
  execFileSync('gcc', ['-O2', '-Wall', '-o', pingpong, join(root, 'bench', 'pingpong.c')]);
  const cClient = join(buildDir, 'vfio-user-client');
  execFileSync('gcc', ['-O2', '-Wall', '-o', cClient, join(root, 'bench', 'vfio-user-client.c')]);

  progress(`${at()}  socket cases against the C ping-pong, on CPU ${cpu}${quick ? ' (quick)' : ''}`);
  const ours = await pinnedRows<Record<string, number> & { name: string }>(
    cpu,
    [process.execPath, join(root, 'out', 'bench', 'vfio-user-bench.js'), pingpong, ...(quick ? ['--quick'] : []), cClient],
    (r) => progress(`${at()}  ${r.name}${r['ratio'] !== undefined ? `: ${r['ratio']}x` : ''}`),
  );
  const socket: SocketRow[] = ours.filter((r) => r['base_median_ns'] !== undefined) as unknown as SocketRow[];
  const d = ours.find((r) => r.name === 'dma-read-1m');
  const dma = d ? { dma_GBps: d['dma_GBps'] ?? 0, memcpy_GBps: d['memcpy_GBps'] ?? 0, ratio: d['ratio'] ?? 0 } : undefined;

  progress(`${at()}  NVMe workloads`);
  const nvme = await pinnedRows<NvmeRow>(
    cpu,
    [process.execPath, join(root, 'out', 'bench', 'nvme-bench.js'), ...(quick ? ['--quick'] : [])],
    (r) => progress(`${at()}  ${r.name}: ${r.iops.toLocaleString('en-US')} IOPS`),
  );
  progress(`${at()}  done`);
  return { socket, ...(dma ? { dma } : {}), nvme };
}

/** The figures as the markdown tables of BENCHMARKS.md. */
export function benchMarkdown(r: BenchResults): string {
  const lines: string[] = [];
  const us = (ns: number): string => (ns / 1000).toFixed(1) + ' us';
  const cpu = (ns: number | undefined): string => (ns === undefined ? '-' : (ns / 1000).toFixed(1) + ' us');
  lines.push(
    '| case | vfio-ts median | vfio-ts p99 | C ping-pong median | C p99 | ratio (median of rounds) | range | CPU per round trip (client + server) | C CPU | CPU ratio |',
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of r.socket) {
    const range = s.ratio_min !== undefined && s.ratio_max !== undefined ? `${s.ratio_min.toFixed(2)}-${s.ratio_max.toFixed(2)}` : '-';
    const split =
      s.client_cpu_ns !== undefined && s.server_cpu_ns !== undefined ? ` (${cpu(s.client_cpu_ns)} + ${cpu(s.server_cpu_ns)})` : '';
    const cpuRatio = s.cpu_ns !== undefined && s.base_cpu_ns ? `${(s.cpu_ns / s.base_cpu_ns).toFixed(2)}x` : '-';
    lines.push(
      `| ${s.name} | ${us(s.median_ns)} | ${us(s.p99_ns)} | ${us(s.base_median_ns)} | ${us(s.base_p99_ns)} | ${s.ratio.toFixed(2)}x | ${range} | ${cpu(s.cpu_ns)}${split} | ${cpu(s.base_cpu_ns)} | ${cpuRatio} |`,
    );
  }
  if (r.dma) {
    lines.push('');
    lines.push(
      `DMA through a mapped region (device model reads 1 MiB per transfer from the client's buffer): ` +
        `${r.dma.dma_GBps} GB/s, memcpy in the same process ${r.dma.memcpy_GBps} GB/s: ${(100 * r.dma.ratio).toFixed(0)}% of memcpy.`,
    );
  }
  lines.push('');
  lines.push('| NVMe workload | IOPS | MB/s | p50 | p99 | p99.9 | GCs in the driver (time) |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const n of r.nvme) {
    lines.push(
      `| ${n.name} | ${n.iops.toLocaleString('en-US')} | ${n.MBps} | ${n.p50_us} us | ${n.p99_us} us | ${n.p999_us} us | ${n.gcs} (${n.gc_ms} ms) |`,
    );
  }
  return lines.join('\n');
}

/**
 * The command line of `npm run bench [-- --quick] [-- --out FILE.svg]`, checked
 * before anything runs: exits 2 naming the problem, so a long run never ends
 * in an output it cannot write.
 */
export function parseBenchArgs(argv: string[]): { quick: boolean; out?: string } | { error: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { quick: { type: 'boolean' }, out: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    return { error: (err as Error).message.split('. ')[0]! };
  }
  const out = parsed.values.out;
  if (out !== undefined) {
    const dir = dirname(resolve(out));
    if (out === '' || (existsSync(out) && statSync(out).isDirectory()))
      return { error: `--out ${out}: a file name for the SVG chart, not a folder` };
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return { error: `--out ${out}: the folder ${dir} does not exist` };
    try {
      accessSync(dir, fsConstants.W_OK);
    } catch {
      return { error: `--out ${out}: the folder ${dir} is not writable` };
    }
  }
  return { quick: parsed.values.quick === true, ...(out !== undefined ? { out } : {}) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Tables on stdout (first: they survive whatever happens to the chart), the chart where --out says.
  const args = parseBenchArgs(process.argv.slice(2));
  if ('error' in args) {
    console.error(`bench: ${args.error}\nusage: npm run bench [-- --quick] [-- --out FILE.svg]`);
    process.exit(2);
  }
  const { benchChartSvg } = await import('./chart.js');
  const results = await runBenchmarks({ quick: args.quick });
  console.log(benchMarkdown(results));
  if (args.out) {
    writeFileSync(args.out, benchChartSvg(results));
    console.log(`\nchart: ${args.out}`);
  }
}
