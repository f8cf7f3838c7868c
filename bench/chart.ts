// A small dependency-free SVG chart of the benchmark figures: on the left,
// the ratio of each socket case's median to the C ping-pong baseline with the
// 1.5x target drawn as a line; on the right, NVMe IOPS per workload.

import type { BenchResults } from './run.js';

export interface ChartOptions {
  title?: string;
  /** The target ratio drawn as a line (default 1.5). */
  target?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function num(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 10) / 10) : '0';
}

/** A round axis maximum at or above `v`. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function compact(n: number): string {
  if (n >= 1e6) return `${num(n / 1e6)}M`;
  if (n >= 1e3) return `${num(n / 1e3)}k`;
  return num(n);
}

interface Panel {
  x: number;
  title: string;
  bars: { label: string; value: number; text: string; over?: boolean }[];
  max: number;
  ticks: number[];
  tickText: (v: number) => string;
  line?: { value: number; label: string };
}

const W = 460;
const H = 320;
const TOP = 56;
const PLOT_H = 190;
const LEFT = 52;

function panel(p: Panel): string[] {
  const out: string[] = [];
  const plotW = W - LEFT - 20;
  const y = (v: number): number => TOP + PLOT_H - (Math.min(v, p.max) / p.max) * PLOT_H;
  out.push(`<g transform="translate(${p.x},0)">`);
  out.push(`<text x="${LEFT + plotW / 2}" y="${TOP - 22}" text-anchor="middle" class="h">${esc(p.title)}</text>`);
  for (const t of p.ticks) {
    out.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${num(y(t))}" y2="${num(y(t))}" class="grid"/>`);
    out.push(`<text x="${LEFT - 6}" y="${num(y(t) + 4)}" text-anchor="end" class="t">${esc(p.tickText(t))}</text>`);
  }
  out.push(`<line x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${TOP + PLOT_H}" class="axis"/>`);
  out.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${TOP + PLOT_H}" y2="${TOP + PLOT_H}" class="axis"/>`);
  const n = Math.max(p.bars.length, 1);
  const slot = plotW / n;
  const bw = Math.min(48, slot * 0.7);
  p.bars.forEach((b, i) => {
    const x = LEFT + slot * i + (slot - bw) / 2;
    const top = y(b.value);
    out.push(
      `<rect class="bar${b.over ? ' over' : ''}" x="${num(x)}" y="${num(top)}" width="${num(bw)}" height="${num(TOP + PLOT_H - top)}"><title>${esc(`${b.label}: ${b.text}`)}</title></rect>`,
    );
    out.push(`<text x="${num(x + bw / 2)}" y="${num(top - 4)}" text-anchor="middle" class="v">${esc(b.text)}</text>`);
    const lx = x + bw / 2;
    const ly = TOP + PLOT_H + 12;
    out.push(`<text x="${num(lx)}" y="${ly}" text-anchor="end" transform="rotate(-35 ${num(lx)} ${ly})" class="t">${esc(b.label)}</text>`);
  });
  if (p.line) {
    const ly = y(p.line.value);
    out.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${num(ly)}" y2="${num(ly)}" class="target"/>`);
    out.push(`<text x="${LEFT + plotW}" y="${num(ly - 4)}" text-anchor="end" class="tl">${esc(p.line.label)}</text>`);
  }
  out.push('</g>');
  return out;
}

/** The figures as an SVG document. */
export function benchChartSvg(r: BenchResults, options: ChartOptions = {}): string {
  const target = options.target ?? 1.5;
  const rmax = niceMax(Math.max(target * 1.2, ...r.socket.map((s) => s.ratio)));
  const imax = niceMax(Math.max(1, ...r.nvme.map((n) => n.iops)));
  const ticks = (max: number): number[] => [0, 0.25, 0.5, 0.75, 1].map((f) => f * max);
  const left = panel({
    x: 0,
    title: 'vfio-ts median / C ping-pong median (lower is better)',
    bars: r.socket.map((s) => ({ label: s.name, value: s.ratio, text: `${s.ratio.toFixed(2)}x`, over: s.ratio > target })),
    max: rmax,
    ticks: ticks(rmax),
    tickText: (v) => `${num(v)}x`,
    line: { value: target, label: `target ${target}x` },
  });
  const right = panel({
    x: W,
    title: 'NVMe IOPS (driver and model over vfio-user, polled)',
    bars: r.nvme.map((n) => ({ label: n.name, value: n.iops, text: compact(n.iops) })),
    max: imax,
    ticks: ticks(imax),
    tickText: compact,
  });
  const title = options.title ?? 'vfio-ts benchmarks';
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H}" viewBox="0 0 ${2 * W} ${H}" font-family="sans-serif">`,
    `<title>${esc(title)}</title>`,
    '<style>.h{font-size:13px;font-weight:bold}.t{font-size:10px;fill:#333}.v{font-size:10px;fill:#000}' +
      '.grid{stroke:#ddd}.axis{stroke:#333}.bar{fill:#4878a8}.bar.over{fill:#c8553d}.target{stroke:#c8553d;stroke-dasharray:6 4;stroke-width:1.5}' +
      '.tl{font-size:10px;fill:#c8553d}</style>',
    `<rect width="${2 * W}" height="${H}" fill="#fff"/>`,
    `<text x="${W}" y="18" text-anchor="middle" class="h">${esc(title)}</text>`,
    ...left,
    ...right,
    '</svg>',
    '',
  ].join('\n');
}
