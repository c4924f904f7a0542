// Bench harness: statistics on known fake timings, record building, table and JSON formats.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  conv2dFlops,
  convOutSize,
  fmtNum,
  formatColumns,
  formatTable,
  jsonArg,
  makeRecord,
  matmulFlops,
  measure,
  median,
  parseBenchArgs,
  writeJson,
  type Measurement,
} from '../../bench/harness.ts';

/** A clock that fn advances by the next duration of `durations` per call. */
function fakeClock(durations: number[]) {
  let t = 0;
  let i = 0;
  return {
    now: () => t,
    fn: async () => {
      t += durations[i++ % durations.length];
    },
    calls: () => i,
  };
}

const stats = suite('bench/harness measure');

stats('median of odd and even lists, input left unsorted', () => {
  const xs = [5, 1, 3];
  assert.is(median(xs), 3);
  assert.equal(xs, [5, 1, 3]);
  assert.is(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), /empty/);
});

stats('warmup calls are not timed; median/min over the timed ones', async () => {
  // Two warmups (100, 90) then 5 timed: 10, 30, 20, 50, 40.
  const c = fakeClock([100, 90, 10, 30, 20, 50, 40]);
  const m = await measure(c.fn, { warmup: 2, runs: 5, now: c.now });
  assert.is(c.calls(), 7);
  assert.is(m.runs, 5);
  assert.is(m.medianMs, 30);
  assert.is(m.minMs, 10);
  assert.equal(m.samplesMs, [10, 30, 20, 50, 40]);
});

stats('minTimeMs extends the run count until enough time accumulated', async () => {
  const c = fakeClock([10]);
  const m = await measure(c.fn, { warmup: 0, runs: 2, minTimeMs: 55, now: c.now });
  assert.is(m.runs, 6); // 6 x 10 ms >= 55 ms
  const capped = await measure(fakeClock([10]).fn, { warmup: 0, runs: 2, minTimeMs: 1e9, maxRuns: 4, now: fakeClock([0]).now });
  assert.is(capped.runs, 4);
});

stats('itersPerCall divides every sample', async () => {
  const c = fakeClock([80, 40, 60]);
  const m = await measure(c.fn, { warmup: 0, runs: 3, itersPerCall: 4, now: c.now });
  assert.equal(m.samplesMs, [20, 10, 15]);
  assert.is(m.medianMs, 15);
  assert.is(m.minMs, 10);
});

const rec = suite('bench/harness records and output');

const ours: Measurement = { medianMs: 2, minMs: 1.5, runs: 5, samplesMs: [] };

rec('work counts', () => {
  assert.is(matmulFlops(2, 3, 4), 48);
  const s = { n: 1, cin: 64, h: 56, w: 56, cout: 64, kh: 3, kw: 3, stride: 1, pad: 1 };
  assert.equal(convOutSize(s), { ho: 56, wo: 56 });
  assert.is(conv2dFlops(s), 2 * 64 * 56 * 56 * 64 * 9);
  assert.equal(convOutSize({ ...s, stride: 2 }), { ho: 28, wo: 28 });
});

rec('makeRecord derives rates for both sides and ratio = peer ms / our ms', () => {
  const r = makeRecord({ suite: 'ops', case: 'matmul', shape: '1x1', ours, flops: 4e6, peer: { name: 'p', ms_median: 4 }, adapter: 'a', driver: 'd' });
  assert.is(r.ms_median, 2);
  assert.is(r.ms_min, 1.5);
  assert.is(r.gflops, 2); // 4e6 flop / 2 ms
  assert.is(r.gbps, undefined);
  assert.equal(r.peer, { name: 'p', ms_median: 4, gflops: 1 });
  assert.is(r.ratio, 2);
  const b = makeRecord({ suite: 'ops', case: 'add', shape: 'n', ours: null, bytes: 8e6, peer: { name: 'p', ms_median: 4 } });
  assert.is(b.ms_median, null);
  assert.is(b.ratio, null);
  assert.equal(b.peer, { name: 'p', ms_median: 4, gbps: 2 });
});

rec('fmtNum keeps about 3 significant digits', () => {
  assert.is(fmtNum(1234.5), '1235');
  assert.is(fmtNum(12.345), '12.3');
  assert.is(fmtNum(1.2345), '1.23');
  assert.is(fmtNum(0.012345), '0.0123');
  assert.is(fmtNum(null), '-');
  assert.is(fmtNum(NaN), '-');
});

rec('formatColumns aligns text left and numbers right', () => {
  const t = formatColumns(
    ['name', 'ms'],
    [
      ['a', '1.5'],
      ['long', '10'],
    ],
    [false, true],
  );
  assert.is(t, ['name   ms', '----  ---', 'a     1.5', 'long   10'].join('\n'));
});

rec('formatTable has one aligned line per record plus header and rule', () => {
  const r = makeRecord({ suite: 'ops', case: 'matmul', shape: '8x8', ours, flops: 4e6, peer: { name: 'tfjs', ms_median: 4 } });
  const lines = formatTable([r, { ...r, case: 'conv2d_fwd' }]).split('\n');
  assert.is(lines.length, 4);
  assert.match(lines[0], /^suite\s+case\s+shape\s+ms med\s+ms min\s+rate\s+peer\s+peer ms\s+peer rate\s+ratio$/);
  assert.match(lines[2], /ops\s+matmul\s+8x8\s+2\.00\s+1\.50\s+2\.00 GF\/s\s+tfjs\s+4\.00\s+1\.00 GF\/s\s+2\.00x/);
  // Columns line up: "ratio" ends where each row ends.
  assert.is(lines[2].length, lines[0].length);
});

rec('command line: suite, flags and --json FILE; unknown options, suites and two suites are errors', () => {
  const S = ['matmul', 'conv'];
  assert.equal(parseBenchArgs([], S), { suite: 'all', quick: false, full: false, profile: false, autotune: false, json: null, help: false });
  // the JSON file name is not taken for a suite, wherever it stands
  const a = parseBenchArgs(['--json', 'out.json', 'conv', '--quick', '--profile'], S);
  assert.equal([a.suite, a.json, a.quick, a.profile, a.full], ['conv', 'out.json', true, true, false]);
  assert.is(parseBenchArgs(['--json=r.json', '--full', '--autotune'], S).suite, 'all');
  assert.ok(parseBenchArgs(['matmul', '-h'], S).help);
  assert.throws(() => parseBenchArgs(['matmul', '--qiuck'], S), /bench: unknown option '--qiuck'\nusage:/);
  assert.throws(() => parseBenchArgs(['matmull'], S), /bench: unknown suite 'matmull' \(matmul, conv, all\)/);
  assert.throws(() => parseBenchArgs(['matmul', 'conv'], S), /one suite at a time, got matmul, conv/);
});

rec('--json argument parsing and JSON file round trip', () => {
  assert.is(jsonArg(['--quick', '--json', 'out.json']), 'out.json');
  assert.is(jsonArg(['--json=x.json']), 'x.json');
  assert.is(jsonArg(['--quick']), null);
  assert.throws(() => jsonArg(['--json']), /needs a FILE/);
  const dir = mkdtempSync(join(tmpdir(), 'glass-bench-'));
  try {
    const r = makeRecord({ suite: 's', case: 'c', shape: 'x', ours, bytes: 1e6, peer: null, adapter: 'mesa llvmpipe', driver: 'Mesa' });
    const file = join(dir, 'sub', 'r.json');
    writeJson(file, [r], { host: 'h' });
    const back = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(back.records, [r]);
    assert.is(back.meta.host, 'h');
    assert.type(back.meta.date, 'string');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

stats.run();
rec.run();
