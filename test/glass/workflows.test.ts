// The CLI as a user with their own images uses it: `train --data FOLDER` on a folder holding only
// good images (held-out split, no metrics, a threshold in the checkpoint), then `predict` on a bare
// folder with nothing but --checkpoint and --input (CSV, heatmaps over the images, binary masks, no
// warnings); and classes trained in shards then merged give the same table as one process.
// Random MobileNet weights, 64-px images and one short epoch keep it to seconds.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../../data/synthetic.ts';
import { readImage } from '../../data/image.ts';
import { parseShard } from '../../glass/cli.ts';
import { holdOutSplit } from '../../glass/threshold.ts';
import { readCheckpointSpec } from '../../glass/checkpoint.ts';
import { quantileLinear } from '../../glass/threshold.ts';
import * as E from '../../engine/index.ts';
import { cliCapture, TINY_TRAIN } from '../helpers/cli.ts';

const t = suite('glass workflows');
let dir = '';
const log: string[] = [];
const capture = cliCapture(log);
const tiny = TINY_TRAIN;

t.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'glass-flows-'));
  writeSyntheticDataset(join(dir, 'data'), { classes: ['button', 'woodgrain'], size: 64, train: 10, testGood: 2, testDefective: 3, seed: 2 });
  // a third class for the shards: a copy of button under another name
  cpSync(join(dir, 'data', 'button'), join(dir, 'data', 'button2'), { recursive: true });
});
t.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

t('hold-out split: seeded, disjoint, at least 2 held out, too few images is an error', () => {
  const files = Array.from({ length: 25 }, (_, i) => `f${i}.png`);
  const a = holdOutSplit(files, 0);
  assert.equal(holdOutSplit(files, 0), a, 'same seed, same split');
  assert.not.equal(holdOutSplit(files, 1).heldOut, a.heldOut, 'another seed, another split');
  assert.is(a.heldOut.length, 3, '10 % of 25, rounded');
  assert.equal([...a.train, ...a.heldOut].sort(), [...files].sort());
  assert.is(holdOutSplit(files.slice(0, 5), 0).heldOut.length, 2);
  assert.throws(() => holdOutSplit(files.slice(0, 3), 0), /at least 4/);
});

t('--shard parsing', () => {
  assert.equal(parseShard('2/3'), { index: 2, count: 3 });
  assert.is(parseShard(undefined), null);
  for (const bad of ['3/3', '1', '-1/2', 'a/b', '0/0']) assert.throws(() => parseShard(bad), /--shard: expected i\/n/, bad);
});

t('a folder of good images: train holds some out, skips metrics, stores a threshold; predict on a bare folder', async () => {
  log.length = 0;
  const good = join(dir, 'data', 'button', 'train', 'good');
  const out = join(dir, 'own');
  let code = await capture(['train', '--data', good, ...tiny, '--out', out]);
  assert.is(code, 0, log.join('\n'));
  const text = log.join('\n');
  assert.match(text, /10 good images: 8 to train on, 2 held out/);
  assert.match(text, /no metrics: the 2 test images are all good/);
  assert.not.match(text, /warning/i, 'no warnings about missing masks or test folders');
  const ck = join(out, 'folder_good', 'ckpt_best.safetensors');
  const spec = readCheckpointSpec(ck);
  assert.ok(spec, 'the checkpoint carries the model definition');
  assert.equal(spec!.layers, ['conv_pw_3', 'conv_pw_5']);
  assert.is(spec!.imagesize, 64);
  assert.is(spec!.weights.kind, 'random');
  assert.is(spec!.threshold!.images, 2, 'threshold from the 2 held-out images');
  const { pixel, pixelNormal } = spec!.threshold!;
  assert.ok(Number.isFinite(pixelNormal) && pixelNormal! <= pixel, `median map value ${pixelNormal} at or below the pixel threshold ${pixel}`);
  const m = JSON.parse(readFileSync(join(out, 'folder_good', 'metrics.json'), 'utf8'));
  assert.is(m.image_auroc, null);
  assert.is(m.threshold.image, spec!.threshold!.image);

  // predict with nothing but the checkpoint and a folder
  log.length = 0;
  const input = join(dir, 'data', 'button', 'test', 'spot');
  code = await capture(['predict', '--checkpoint', ck, '--input', input, '--out', join(dir, 'pred')]);
  assert.is(code, 0, log.join('\n'));
  assert.not.match(log.join('\n'), /warning/i);
  const rows = readFileSync(join(dir, 'pred', 'scores.csv'), 'utf8')
    .trim()
    .split('\n');
  assert.is(rows[0], 'file,score,anomalous');
  const names = readdirSync(input).sort();
  assert.equal(
    rows
      .slice(1)
      .map((r) => r.split(',')[0])
      .sort(),
    names,
  );
  for (const r of rows.slice(1)) {
    const [, score, flag] = r.split(',');
    assert.is(flag, Number(score) >= spec!.threshold!.image ? 'yes' : 'no', r);
  }
  for (const n of names) {
    const heat = readImage(join(dir, 'pred', 'heatmaps', n), 'native');
    const mask = readImage(join(dir, 'pred', 'masks', n), 'native');
    assert.equal([heat.width, heat.height, heat.channels], [64, 64, 3]);
    assert.equal([mask.width, mask.height, mask.channels], [64, 64, 1]);
    assert.ok(
      mask.data.every((v) => v === 0 || v === 255),
      'binary mask',
    );
    // the overlay is half the image plus half a JET colour (0..255): never the map alone
    const src = readImage(join(input, n), 'rgb');
    const off = heat.data.findIndex((v, i) => v < 0.5 * src.data[i] - 1 || v > 0.5 * src.data[i] + 128.5);
    assert.is(off, -1, `overlay value ${heat.data[off]} at ${off} is not half the image (${src.data[off]}) plus half a colour`);
  }
  await E.initDevice();
});

t('threshold quantile follows numpy', () => {
  assert.is(quantileLinear([1, 2, 3, 4], 0.5), 2.5);
  assert.ok(Math.abs(quantileLinear([0, 10], 0.99) - 9.9) < 1e-12);
  assert.is(quantileLinear([5], 0.99), 5);
});

t('three shards merged give the same results.csv as one process over all classes', async () => {
  log.length = 0;
  const data = ['--data', join(dir, 'data')];
  assert.is(await capture(['train', ...data, ...tiny, '--out', join(dir, 'all')]), 0, log.join('\n'));
  for (let i = 0; i < 3; i++) {
    assert.is(await capture(['train', ...data, ...tiny, '--shard', `${i}/3`, '--out', join(dir, `shard${i}`)]), 0, log.join('\n'));
    assert.ok(existsSync(join(dir, `shard${i}`, `results-shard-${i}-of-3.csv`)));
  }
  mkdirSync(join(dir, 'merged'));
  assert.is(await capture(['merge', join(dir, 'shard0'), join(dir, 'shard1'), join(dir, 'shard2'), '--out', join(dir, 'merged')]), 0, log.join('\n'));
  const one = readFileSync(join(dir, 'all', 'results.csv'), 'utf8');
  assert.is(readFileSync(join(dir, 'merged', 'results.csv'), 'utf8'), one);
  assert.is(one.trim().split('\n').length, 1 + 3 + 1, 'header, three classes, mean');
  // the same class in two runs is an error, not a silent pick
  log.length = 0;
  assert.is(await capture(['merge', join(dir, 'shard0'), join(dir, 'all'), '--out', join(dir, 'merged2')]), 1);
  assert.match(log.join('\n'), /class mvtec_button is in both/);
  await E.initDevice();
});

t('--mask_rule: the reference rule (bilinear, exact 1.0) and the binary rule, recorded in the metrics', async () => {
  log.length = 0;
  // masks resized 64 -> 80 px: bilinear edges are soft, so the reference rule counts fewer defect pixels
  const out = join(dir, 'rule');
  assert.is(await capture(['train', '--data', join(dir, 'data'), '-d', 'button', ...tiny, '--resize', '80', '--out', out]), 0, log.join('\n'));
  assert.is(JSON.parse(readFileSync(join(out, 'mvtec_button', 'metrics.json'), 'utf8')).mask_rule, 'binary');
  const ck = join(out, 'mvtec_button', 'ckpt_best.safetensors');
  const m: Record<string, { mask_rule: string; pixel_ap: number; image_auroc: number }> = {};
  for (const rule of ['binary', 'reference']) {
    assert.is(
      await capture([
        'test',
        '--checkpoint',
        ck,
        '--data',
        join(dir, 'data'),
        '-d',
        'button',
        '--workers',
        '0',
        '--visuals',
        '0',
        '--mask_rule',
        rule,
        '--out',
        join(dir, `rule-${rule}`),
      ]),
      0,
      log.join('\n'),
    );
    m[rule] = JSON.parse(readFileSync(join(dir, `rule-${rule}`, 'mvtec_button', 'metrics_test.json'), 'utf8'));
    assert.is(m[rule].mask_rule, rule);
  }
  assert.is(m.binary.image_auroc, m.reference.image_auroc, 'image metrics do not depend on the mask rule');
  assert.is.not(m.binary.pixel_ap, m.reference.pixel_ap, 'pixel metrics do');
  assert.is(await capture(['test', '--checkpoint', ck, '--mask_rule', 'soft']), 2);
  assert.match(log.join('\n'), /--mask_rule.*binary \| reference/);
  await E.initDevice();
});

t('--geometry full and --eval_pro: recorded in metrics.json, the checkpoint and log.jsonl; test follows the checkpoint', async () => {
  log.length = 0;
  const out = join(dir, 'full');
  const argv = ['train', '--data', join(dir, 'data'), '-d', 'button', ...tiny, '--resize', '80', '--geometry', 'full', '--eval_pro', '1', '--out', out];
  assert.is(await capture(argv), 0, log.join('\n'));
  const metrics = JSON.parse(readFileSync(join(out, 'mvtec_button', 'metrics.json'), 'utf8'));
  assert.is(metrics.geometry, 'full');
  const lines = readFileSync(join(out, 'mvtec_button', 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.is(lines[0].geometry, 'full');
  const evals = lines.filter((l) => l.eval);
  assert.ok(evals.length >= 1);
  for (const e of evals) {
    assert.ok(e.eval.pixel_pro !== null && e.eval.pixel_ap !== null, 'every evaluation has PRO and AP with --eval_pro 1');
    assert.ok(e.iterations > 0 && e.train_seconds > 0, JSON.stringify(e));
  }
  const ck = join(out, 'mvtec_button', 'ckpt_best.safetensors');
  // test takes the geometry from the checkpoint and reproduces the run's best metrics
  assert.is(
    await capture([
      'test',
      '--checkpoint',
      ck,
      '--data',
      join(dir, 'data'),
      '-d',
      'button',
      '--workers',
      '0',
      '--visuals',
      '0',
      '--out',
      join(dir, 'full-test'),
    ]),
    0,
    log.join('\n'),
  );
  const m = JSON.parse(readFileSync(join(dir, 'full-test', 'mvtec_button', 'metrics_test.json'), 'utf8'));
  assert.is(m.image_auroc, metrics.image_auroc);
  assert.is(m.pixel_auroc, metrics.pixel_auroc);
  log.length = 0;
  assert.is.not(await capture(['test', '--checkpoint', ck, '--data', join(dir, 'data'), '-d', 'button', '--geometry', 'crop']), 0);
  assert.match(log.join('\n'), /--geometry crop \(the checkpoint has full\)/);
  await E.initDevice();
});

t('--baseline knn: after training, the run is compared with a kNN score on the same features', async () => {
  log.length = 0;
  const out = join(dir, 'baseline');
  assert.is(await capture(['train', '--data', join(dir, 'data'), '-d', 'button', ...tiny, '--baseline', 'knn', '--out', out]), 0, log.join('\n'));
  const rec = JSON.parse(readFileSync(join(out, 'mvtec_button', 'baseline_knn.json'), 'utf8'));
  const metrics = JSON.parse(readFileSync(join(out, 'mvtec_button', 'metrics.json'), 'utf8'));
  assert.is(rec.baseline, 'knn');
  assert.is(rec.glass.image_auroc, metrics.image_auroc, "the run's best epoch");
  for (const k of ['image_auroc', 'pixel_auroc', 'pixel_pro']) assert.ok(rec.knn[k] >= 0 && rec.knn[k] <= 1, `${k} ${rec.knn[k]}`);
  assert.match(log.join('\n'), /button: GLASS \(best epoch\) vs kNN baseline on the same features: image AUROC/);
  await E.initDevice();
});

t.run();
