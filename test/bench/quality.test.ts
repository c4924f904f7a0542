// bench/quality.ts: learning curves read from log.jsonl (the last run's evaluations only), the
// chart's panels (each metric against iterations and seconds, kNN as reference lines) and table,
// and its command line (--help, usage errors, --chart from saved runs).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baselineInput, curveFromLog, qualityPanels, qualityTable, type QualityRun } from '../../bench/quality.ts';

const t = suite('bench quality (learning curves)');
const script = fileURLToPath(new URL('../../bench/quality.ts', import.meta.url));

const LOG = [
  { run: 1, started: 'x', meta_epochs: 2 },
  { run: 1, epoch: 1, iteration: 1, loss: 1 },
  { run: 1, epoch: 1, eval: { image_auroc: 0.1, pixel_auroc: 0.2, pixel_pro: null }, iterations: 3, train_seconds: 9 },
  { run: 2, started: 'y', meta_epochs: 2 },
  { run: 2, epoch: 1, eval: { image_auroc: 0.6, pixel_auroc: 0.7, pixel_pro: 0.5 }, iterations: 4, train_seconds: 10.5 },
  { run: 2, epoch: 2, eval: { image_auroc: 0.8, pixel_auroc: 0.75, pixel_pro: 0.55 }, iterations: 8, train_seconds: 21 },
]
  .map((l) => JSON.stringify(l))
  .join('\n');

const run: QualityRun = {
  label: 'fast',
  data: '/d',
  class: 'pcb',
  trainArgs: ['--preset', 'fast'],
  points: curveFromLog(LOG),
  knn: { image_auroc: 0.66, pixel_auroc: 0.88, pixel_pro: 0.7, seconds: 123 },
};

t("curveFromLog: the last run's evaluations, with iterations and training seconds", () => {
  assert.equal(run.points, [
    { epoch: 1, iterations: 4, trainSeconds: 10.5, imageAuroc: 0.6, pixelAuroc: 0.7, pixelPro: 0.5 },
    { epoch: 2, iterations: 8, trainSeconds: 21, imageAuroc: 0.8, pixelAuroc: 0.75, pixelPro: 0.55 },
  ]);
});

t('panels: three metrics against iterations and seconds, the kNN figure as a reference line', () => {
  const p = qualityPanels([run]);
  assert.is(p.length, 6);
  assert.equal(p[0].series[0].points, [
    [4, 0.6],
    [8, 0.8],
  ]);
  assert.equal(p[1].series[0].points, [
    [10.5, 0.6],
    [21, 0.8],
  ]);
  assert.is(p[2].refs![0].y, 0.88);
  assert.match(p[3].refs![0].label, /kNN 0\.880 \(123 s\)/);
});

t('table: kNN, best (by image + pixel AUROC) and last rows', () => {
  const md = qualityTable([run]);
  assert.match(md, /\| kNN baseline \(pcb\) \| - \| 123 \| 0\.660 \| 0\.880 \| 0\.700 \|/);
  assert.match(md, /\| fast, best \(epoch 2\) \| 8 \| 21 \| 0\.800 \| 0\.750 \| 0\.550 \|/);
  assert.match(md, /\| fast, last \(epoch 2\) \|/);
});

t("baselineInput: the kNN baseline sees training's input (flags over the preset over the defaults)", () => {
  assert.equal(baselineInput(['--preset', 'cpu']), { imagesize: '224', resize: '224', geometry: 'full' });
  assert.equal(baselineInput(['--preset', 'cpu', '--geometry', 'crop', '--imagesize', '160']), { imagesize: '160', resize: '224', geometry: 'crop' });
  assert.equal(baselineInput(['--preset', 'fast']), { imagesize: '224', resize: '224', geometry: 'crop' });
  assert.equal(baselineInput(['--imagesize', '160']), { imagesize: '160', resize: '160', geometry: 'crop' });
  assert.equal(baselineInput([]), { imagesize: '288', resize: '288', geometry: 'crop' });
});

t('command line: --help, a usage error, and --chart from saved runs', () => {
  const node = (...a: string[]) => spawnSync(process.execPath, ['--import', 'tsx', script, ...a], { encoding: 'utf8', timeout: 60_000 });
  const h = node('--help');
  assert.is(h.status, 0, h.stderr);
  assert.match(h.stdout, /^usage: npx tsx bench\/quality.ts/);
  const bad = node('-d', 'x');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--data and -d are required/);
  const dir = mkdtempSync(join(tmpdir(), 'glass-quality-'));
  try {
    writeFileSync(join(dir, 'q.json'), JSON.stringify(run));
    const c = node('--chart', join(dir, 'c.png'), join(dir, 'q.json'));
    assert.is(c.status, 0, c.stderr);
    assert.ok(existsSync(join(dir, 'c.png')));
    assert.match(readFileSync(join(dir, 'c.md'), 'utf8'), /kNN baseline/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
