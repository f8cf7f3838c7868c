// bench/chart.ts: the SVG of fixed figures.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchChartSvg } from '../../bench/chart.js';
import { benchMarkdown, type BenchResults } from '../../bench/run.js';

const rows: BenchResults = {
  socket: [
    { name: 'config-read32', median_ns: 9000, p99_ns: 15000, base_median_ns: 7000, base_p99_ns: 9000, ratio: 9000 / 7000 },
    {
      name: 'bar-write32',
      median_ns: 8000,
      p99_ns: 12000,
      base_median_ns: 7000,
      base_p99_ns: 9000,
      ratio: 8000 / 7000,
      ratio_min: 1.1,
      ratio_max: 1.25,
      rounds: 9,
      cpu_ns: 16000,
      client_cpu_ns: 7000,
      server_cpu_ns: 9000,
      base_cpu_ns: 8000,
    },
    { name: 'read-1m<&>', median_ns: 400000, p99_ns: 500000, base_median_ns: 200000, base_p99_ns: 250000, ratio: 2 },
  ],
  dma: { dma_GBps: 10, memcpy_GBps: 12, ratio: 10 / 12 },
  nvme: [
    { name: 'randread-4k-qd32', qd: 32, iops: 412345, MBps: 1689, p50_us: 70, p99_us: 120, p999_us: 300, gcs: 0, gc_ms: 0 },
    { name: 'seqwrite-128k-qd8', qd: 8, iops: 12000, MBps: 1572, p50_us: 600, p99_us: 900, p999_us: 1200, gcs: 1, gc_ms: 2 },
  ],
};

/** A rough well-formedness check: every tag closed in order, attributes quoted, text escaped. */
function checkXml(s: string): { tags: string[] } {
  const body = s.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const tags: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  for (let m = re.exec(body); m !== null; m = re.exec(body)) {
    if (m[6]) throw new Error(`stray '<' at ${m.index}`);
    if (m[5] !== undefined) {
      if (/&(?!amp;|lt;|gt;|quot;|#\d+;)/.test(m[5])) throw new Error(`unescaped '&' in ${m[5]}`);
      if (m[5].includes('>')) throw new Error(`unescaped '>' in ${m[5]}`);
      continue;
    }
    const [, close, name, , self] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      tags.push(name!);
      if (!self) stack.push(name!);
    }
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  return { tags };
}

test('chart: a well-formed SVG with a bar per case and workload, the 1.5x target line, the names', () => {
  const svg = benchChartSvg(rows);
  assert.match(svg, /^<\?xml version="1.0"/);
  const { tags } = checkXml(svg);
  assert.equal(tags[0], 'svg');
  assert.equal((svg.match(/<rect class="bar/g) ?? []).length, rows.socket.length + rows.nvme.length);
  assert.equal((svg.match(/class="bar over"/g) ?? []).length, 1, 'the case above target is marked');
  assert.match(svg, /class="target"/);
  assert.match(svg, /target 1\.5x/);
  for (const n of ['config-read32', 'bar-write32', 'read-1m&lt;&amp;&gt;', 'randread-4k-qd32', 'seqwrite-128k-qd8'])
    assert.ok(svg.includes(n), n);
  assert.match(svg, /1\.29x/);
  assert.match(svg, /412\.3k/);
});

test('chart: the markdown tables of the same rows', () => {
  const md = benchMarkdown(rows);
  assert.match(md, /\| config-read32 \| 9\.0 us \| 15\.0 us \| 7\.0 us \| 9\.0 us \| 1\.29x \| - \| - \| - \| - \|/);
  assert.match(
    md,
    /\| bar-write32 \| 8\.0 us \| 12\.0 us \| 7\.0 us \| 9\.0 us \| 1\.14x \| 1\.10-1\.25 \| 16\.0 us \(7\.0 us \+ 9\.0 us\) \| 8\.0 us \| 2\.00x \|/,
  );
  assert.match(md, /\| randread-4k-qd32 \| 412,345 \|/);
  assert.match(md, /83% of memcpy/);
});

test('chart: empty figures still make a valid document', () => {
  checkXml(benchChartSvg({ socket: [], nvme: [] }));
});
