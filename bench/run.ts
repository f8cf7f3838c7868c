// `npm run bench`: the socket benchmarks of vfio-user and their baseline.
//
// Both peers of every case run on CPU 0 (taskset -c 0): a wake-up across CPUs
// costs ~50 us on these machines and would swamp what is measured. Each
// vfio-ts case is compared with a plain C UNIX-socket ping-pong that moves the
// same request and reply sizes, measured in the same run (bench/pingpong.c),
// so the figures are ratios, not absolute times.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const quick = process.argv.includes('--quick');
const cpu = process.env['BENCH_CPU'] ?? '0';

function taskset(cmd: string[]): string {
  return execFileSync('taskset', ['-c', cpu, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

// The baseline, built here (gcc -O2).
const buildDir = join(root, 'build', 'bench');
mkdirSync(buildDir, { recursive: true });
const pingpong = join(buildDir, 'pingpong');
execFileSync('gcc', ['-O2', '-Wall', '-o', pingpong, join(root, 'bench', 'pingpong.c')]);

interface Row {
  name: string;
  median_ns: number;
  p99_ns: number;
  iterations: number;
}

const HDR = 16;
const ACCESS = 16; // REGION_READ/WRITE fixed part
// request and reply bytes of each vfio-ts case, for the baseline to move the same
const sizes: Record<string, [number, number]> = {
  'config-read32': [HDR + ACCESS, HDR + ACCESS + 4],
  'bar-read32': [HDR + ACCESS, HDR + ACCESS + 4],
  'bar-write32': [HDR + ACCESS + 4, HDR + ACCESS],
  'read-4k': [HDR + ACCESS, HDR + ACCESS + 4096],
  'write-4k': [HDR + ACCESS + 4096, HDR + ACCESS],
  'read-1m': [HDR + ACCESS, HDR + ACCESS + (1 << 20)],
  'write-1m': [HDR + ACCESS + (1 << 20), HDR + ACCESS],
};

const ours = taskset([process.execPath, join(root, 'dist', 'bench', 'vfio-user-bench.js'), ...(quick ? ['--quick'] : [])])
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Row & Record<string, number>);

const tmp = mkdtempSync(join(tmpdir(), 'vfio-ts-pp-'));
const lines: string[] = [];
lines.push('| case | vfio-ts median | vfio-ts p99 | C ping-pong median | C p99 | ratio (median) |');
lines.push('| --- | ---: | ---: | ---: | ---: | ---: |');
const us = (ns: number): string => (ns / 1000).toFixed(1) + ' us';
for (const r of ours) {
  const sz = sizes[r.name];
  if (!sz) continue;
  const base = JSON.parse(taskset([pingpong, join(tmp, 'pp.sock'), String(sz[0]), String(sz[1]), String(r.iterations)])) as Row;
  lines.push(`| ${r.name} | ${us(r.median_ns)} | ${us(r.p99_ns)} | ${us(base.median_ns)} | ${us(base.p99_ns)} | ${(r.median_ns / base.median_ns).toFixed(2)}x |`);
}
rmSync(tmp, { recursive: true, force: true });
const dma = ours.find((r) => r.name === 'dma-read-1m');
if (dma) {
  lines.push('');
  lines.push(`DMA through a mapped region (device model reads 1 MiB per transfer from the client's buffer): ` +
    `${dma['dma_GBps']} GB/s, memcpy in the same process ${dma['memcpy_GBps']} GB/s: ${(100 * (dma['ratio'] ?? 0)).toFixed(0)}% of memcpy.`);
}

// NVMe: our driver against our model, mapped doorbells, polling.
interface NvmeRow {
  name: string;
  qd: number;
  iops: number;
  MBps: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
}
const nvme = taskset([process.execPath, join(root, 'dist', 'bench', 'nvme-bench.js'), ...(quick ? ['--quick'] : [])])
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as NvmeRow);
lines.push('');
lines.push('| NVMe workload | IOPS | MB/s | p50 | p99 | p99.9 |');
lines.push('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of nvme) lines.push(`| ${r.name} | ${r.iops.toLocaleString('en-US')} | ${r.MBps} | ${r.p50_us} us | ${r.p99_us} us | ${r.p999_us} us |`);
console.log(lines.join('\n'));
