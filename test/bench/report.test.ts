// bench/report.ts on a small bench JSON: rows per case, chart panels per unit, markdown, PNG file.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { makeRecord, type BenchFile } from '../../bench/harness.ts';
import { buildChart, collectRows, fmtRatio, main, markdownTable, normalizeBench, OURS } from '../../bench/report.ts';

const m = (ms: number) => ({ medianMs: ms, minMs: ms, runs: 3, samplesMs: [ms] });
const label = { adapter: 'mesa llvmpipe', driver: 'Mesa 25' };
const small: BenchFile = {
  meta: { date: '2025-01-02T03:04:05Z', adapter: 'mesa llvmpipe', driver: 'Mesa 25', cpus: 2 },
  records: [
    makeRecord({ suite: 'ops', case: 'matmul', shape: '64x64', ours: m(2), flops: 2e7, peer: { name: 'tfjs-webgpu', ms_median: 4 }, ...label }),
    makeRecord({ suite: 'ops', case: 'matmul', shape: '64x64', ours: m(2), flops: 2e7, peer: { name: 'torch-cpu-1t', ms_median: 0.5 }, ...label }),
    makeRecord({ suite: 'ops', case: 'add', shape: '1024', ours: m(1), bytes: 1e6, peer: { name: 'tfjs-webgpu', ms_median: 1 }, ...label }),
    makeRecord({ suite: 'ops', case: 'train_step', shape: 'b1', ours: m(30), peer: null, ...label }),
  ],
};

const t = suite('bench/report');

t('collectRows merges the records of one case and lists peers in order', () => {
  const { rows, peers } = collectRows(small.records);
  assert.equal(peers, ['tfjs-webgpu', 'torch-cpu-1t']);
  assert.equal(
    rows.map((r) => [r.case, r.unit]),
    [
      ['matmul', 'GFLOP/s'],
      ['add', 'GB/s'],
      ['train_step', 'ms'],
    ],
  );
  assert.is(rows[0].ours?.rate, 10);
  assert.is(rows[0].peers.get('torch-cpu-1t')?.rate, 40);
  assert.is(rows[0].peers.get('tfjs-webgpu')?.ratio, 2);
});

t('buildChart: ours first, one panel per unit, values aligned with series', () => {
  const c = buildChart(small);
  assert.equal(
    c.series.map((s) => s.name),
    [OURS, 'tfjs-webgpu', 'torch-cpu-1t'],
  );
  assert.equal(
    c.panels.map((p) => p.title),
    ['Compute', 'Memory-bound', 'Time'],
  );
  assert.equal(c.panels[0].groups[0].values, [10, 5, 40]);
  assert.equal(c.panels[1].groups[0].values, [1, 1, null]);
  assert.equal(c.panels[2].groups[0].values, [30, null, null]);
  assert.match(c.subtitle ?? '', /mesa llvmpipe \(Mesa 25\)/);
});

t('markdownTable: header, alignment row, one row per case, ratios', () => {
  const md = markdownTable(small);
  const lines = md.trim().split('\n');
  assert.ok(lines.includes(`| case | shape | ${OURS} | tfjs-webgpu | torch-cpu-1t |`));
  assert.ok(lines.includes('| --- | --- | ---: | ---: | ---: |'));
  assert.ok(lines.includes('| matmul | 64x64 | 10.0 GFLOP/s (2.00 ms) | 5.00 GFLOP/s (4.00 ms), ours 2.00x | 40.0 GFLOP/s (0.500 ms), ours 0.25x |'));
  assert.ok(lines.includes('| train_step | b1 | 30.0 ms | - | - |'));
  assert.is(fmtRatio(0.0084), '0.0084');
  assert.is(fmtRatio(12.4), '12');
});

t('normalizeBench accepts a bare array and rejects junk', () => {
  assert.is(normalizeBench(small.records).records.length, 4);
  assert.throws(() => normalizeBench({ nope: 1 }), /no records array/);
  assert.throws(() => normalizeBench([{ x: 1 }]), /lacks suite\/case/);
});

t('CLI writes a decodable PNG and the markdown file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glass-report-'));
  const log = console.log;
  try {
    const input = join(dir, 'r.json');
    writeFileSync(input, JSON.stringify(small));
    console.log = () => {};
    main([input, '--png', join(dir, 'c.png'), '--md', join(dir, 't.md')]);
    console.log = log;
    const png = PNG.sync.read(readFileSync(join(dir, 'c.png')));
    assert.ok(png.width >= 900 && png.height > 300, `${png.width}x${png.height}`);
    // Something other than white was drawn, including ours' blue.
    let blue = 0;
    for (let i = 0; i < png.data.length; i += 4) if (png.data[i] === 0x2f && png.data[i + 1] === 0x5f && png.data[i + 2] === 0xb3) blue++;
    assert.ok(blue > 256, `blue pixels ${blue}`);
    assert.is(readFileSync(join(dir, 't.md'), 'utf8'), markdownTable(small));
  } finally {
    console.log = log;
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
