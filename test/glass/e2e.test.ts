// End to end on a tiny synthetic dataset: `glass train` (two epochs, checkpoints, metrics.json,
// results.csv, visuals), `--resume` from the last checkpoint, `glass test` on the best checkpoint
// and `glass predict` on a folder with a validation threshold. Random MobileNet weights and
// 64-px images keep it to seconds; the numbers are not the point, the files and flows are.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../../data/synthetic.ts';
import { main } from '../../glass/cli.ts';
import * as E from '../../engine/index.ts';
import { cliCapture } from '../helpers/cli.ts';

const t = suite('glass end to end');
let dir = '';
const common = () => [
  '--data',
  join(dir, 'data'),
  '-d',
  'button',
  '--augpath',
  join(dir, 'data', 'button', 'train', 'good'),
  '-b',
  'mobilenet_v1',
  '--random_backbone',
  '-le',
  'conv_pw_3',
  '-le',
  'conv_pw_5',
  '--resize',
  '64',
  '--imagesize',
  '64',
  '--pretrain_embed_dimension',
  '32',
  '--target_embed_dimension',
  '32',
  '--dsc_hidden',
  '16',
  '--step',
  '5',
  '--limit',
  '4',
  '--batch_size',
  '4',
  '--workers',
  '0',
  '--svd',
  '1',
];
const log: string[] = [];
const capture = cliCapture(log);

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'glass-e2e-'));
  writeSyntheticDataset(join(dir, 'data'), { classes: ['button'], size: 64, train: 6, testGood: 3, testDefective: 5, seed: 1 });
});
t.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

t('train writes checkpoints, metrics, results.csv and visuals', async () => {
  const code = await capture(['train', ...common(), '--meta_epochs', '2', '--out', join(dir, 'out')]);
  assert.is(code, 0, log.join('\n'));
  const cls = join(dir, 'out', 'mvtec_button');
  for (const f of ['ckpt.safetensors', 'ckpt_best.safetensors', 'metrics.json', 'log.jsonl']) assert.ok(existsSync(join(cls, f)), `${f} written`);
  const m = JSON.parse(readFileSync(join(cls, 'metrics.json'), 'utf8'));
  for (const k of ['image_auroc', 'image_ap', 'pixel_auroc', 'pixel_ap', 'pixel_pro', 'best_epoch', 'last']) assert.ok(k in m, `metrics.json has ${k}`);
  assert.ok(m.image_auroc >= 0 && m.image_auroc <= 1);
  assert.ok(m.pixel_auroc >= 0 && m.pixel_auroc <= 1, 'synthetic data has pixel masks');
  const csv = readFileSync(join(dir, 'out', 'results.csv'), 'utf8')
    .trim()
    .split('\n');
  assert.is(csv[0].split(',')[0], 'class');
  assert.ok(csv[1].startsWith('mvtec_button,'));
  assert.ok(csv[2].startsWith('mean,'));
  assert.is(readdirSync(join(cls, 'visuals')).length, 8, 'one PNG per test image');
  const iters = readFileSync(join(cls, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.iteration);
  assert.ok(iters.length >= 2 && iters.every((r) => Number.isFinite(r.loss)));
  assert.ok(log.some((l) => /best epoch \d+: image AUROC/.test(l)));
});

t('resume continues from the saved epoch with the optimiser state', async () => {
  log.length = 0;
  const ck = join(dir, 'out', 'mvtec_button', 'ckpt.safetensors');
  const code = await capture(['train', ...common(), '--meta_epochs', '3', '--out', join(dir, 'out2'), '--resume', ck, '--visuals', '0']);
  assert.is(code, 0, log.join('\n'));
  assert.ok(
    log.some((l) => /resumed from .* after epoch 2 of 3/.test(l)),
    log.join('\n'),
  );
  assert.ok(log.some((l) => /^epoch 3\/3 /.test(l)));
  assert.not.ok(log.some((l) => /^epoch 1\/3 /.test(l)));
  // the same 3 epochs without interruption give the same numbers (weights, optimiser state,
  // BatchNorm statistics and the GPU generator all restored)
  const code3 = await capture(['train', ...common(), '--meta_epochs', '3', '--out', join(dir, 'out3'), '--visuals', '0']);
  assert.is(code3, 0, log.join('\n'));
  const read = (o: string) => JSON.parse(readFileSync(join(dir, o, 'mvtec_button', 'metrics.json'), 'utf8')).last;
  assert.equal(read('out2'), read('out3'));
});

t('test evaluates a checkpoint; predict scores a folder with a validation threshold', async () => {
  log.length = 0;
  const ck = join(dir, 'out', 'mvtec_button', 'ckpt_best.safetensors');
  const flags = [
    '--data',
    join(dir, 'data'),
    '-d',
    'button',
    '-b',
    'mobilenet_v1',
    '--random_backbone',
    '-le',
    'conv_pw_3',
    '-le',
    'conv_pw_5',
    '--resize',
    '64',
    '--imagesize',
    '64',
    '--pretrain_embed_dimension',
    '32',
    '--target_embed_dimension',
    '32',
    '--dsc_hidden',
    '16',
    '--workers',
    '0',
  ];
  let code = await capture(['test', ...flags, '--checkpoint', ck, '--out', join(dir, 'test')]);
  assert.is(code, 0, log.join('\n'));
  const mt = JSON.parse(readFileSync(join(dir, 'test', 'mvtec_button', 'metrics_test.json'), 'utf8'));
  assert.ok(mt.image_auroc >= 0 && mt.pixel_pro !== undefined);
  code = await capture([
    'predict',
    ...flags,
    '--checkpoint',
    ck,
    '--input',
    join(dir, 'data', 'button', 'test', 'spot'),
    '--val',
    join(dir, 'data', 'button', 'test'),
    '--out',
    join(dir, 'pred'),
  ]);
  assert.is(code, 0, log.join('\n'));
  const rows = readFileSync(join(dir, 'pred', 'scores.csv'), 'utf8')
    .trim()
    .split('\n');
  assert.is(rows[0], 'file,score,anomalous');
  assert.is(rows.length, 1 + readdirSync(join(dir, 'data', 'button', 'test', 'spot')).length);
  const thr = Number(/threshold ([0-9.e-]+) \(best F1/.exec(log.join('\n'))?.[1]);
  assert.ok(Number.isFinite(thr), log.join('\n'));
  for (const row of rows.slice(1)) {
    const [, score, flag] = row.split(',');
    if (Math.abs(Number(score) - thr) < 1e-5) continue; // the log rounds the threshold to 5 digits
    assert.is(flag, Number(score) >= thr ? 'yes' : 'no', `${row} against threshold ${thr}`);
  }
});

t("the checkpoint defines the model: test needs only --checkpoint and the data, and gives the training run's best metrics", async () => {
  log.length = 0;
  const ck = join(dir, 'out', 'mvtec_button', 'ckpt_best.safetensors');
  const code = await capture([
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
    join(dir, 'test-bare'),
  ]);
  assert.is(code, 0, log.join('\n'));
  const trained = JSON.parse(readFileSync(join(dir, 'out', 'mvtec_button', 'metrics.json'), 'utf8'));
  const tested = JSON.parse(readFileSync(join(dir, 'test-bare', 'mvtec_button', 'metrics_test.json'), 'utf8'));
  for (const k of ['image_auroc', 'image_ap', 'pixel_auroc', 'pixel_ap', 'pixel_pro']) assert.is(tested[k], trained[k], k);
  assert.ok(trained.threshold && trained.threshold.image > 0, 'metrics.json reports the stored threshold');
  // a flag that contradicts the checkpoint is an error naming both values
  log.length = 0;
  const bad = await capture([
    'test',
    '--checkpoint',
    ck,
    '--data',
    join(dir, 'data'),
    '-d',
    'button',
    '-le',
    'conv_pw_4',
    '-le',
    'conv_pw_5',
    '--imagesize',
    '48',
    '--workers',
    '0',
  ]);
  assert.is(bad, 1);
  assert.match(log.join('\n'), /-le conv_pw_4,conv_pw_5 \(the checkpoint has conv_pw_3,conv_pw_5\)/);
  assert.match(log.join('\n'), /--imagesize 48 \(the checkpoint has 64\)/);
  await E.initDevice();
});

t('judge names a mode per class; --help lists the reference flags', async () => {
  log.length = 0;
  const code = await capture(['judge', '--data', join(dir, 'data'), '--imagesize', '64', '--workers', '0']);
  assert.is(code, 0, log.join('\n'));
  assert.ok(
    log.some((l) => /^button: (manifold|hypersphere) \(flag \d; \d+ spectrum points\)$/.test(l)),
    log.join('\n'),
  );
  log.length = 0;
  assert.is(await capture(['train', '--help']), 0);
  const help = log.join('\n');
  for (const f of [
    '--meta_epochs',
    '--dsc_hidden',
    '--noise',
    '--radius',
    '--p',
    '--step',
    '--limit',
    '--resize',
    '--imagesize',
    '--batch_size',
    '--fg',
    '--rand_aug',
    '--preset',
  ])
    assert.ok(help.includes(f), `--help mentions ${f}`);
});

t('bad arguments are clear errors with a non-zero exit', async () => {
  const errs: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => errs.push(a.join(' '));
  try {
    assert.is(await main(['train', '--nope']), 2);
    assert.is(await main(['train', '--data', join(dir, 'missing'), '-d', 'x', '--random_backbone', '--augpath', dir]), 1);
    assert.is(await main(['frobnicate']), 2);
  } finally {
    console.error = orig;
  }
  assert.match(errs.join('\n'), /unknown option --nope/);
  assert.match(errs.join('\n'), /missing/);
  await E.initDevice(); // main() released the device; later test files get a fresh one
});

t('weights command through main(): unknown backbone and an import failing its hash are errors, nothing cached', async () => {
  const errs: string[] = [];
  const orig = console.error;
  const oldDir = process.env.GLASS_WEIGHTS_DIR;
  const cache = join(dir, 'weights-cache');
  process.env.GLASS_WEIGHTS_DIR = cache;
  console.error = (...a: unknown[]) => errs.push(a.join(' '));
  try {
    // an unknown backbone is a usage error of the flag (exit 2), before anything is fetched
    assert.is(await main(['weights', '--backbone', 'vgg11']), 2);
    assert.match(errs.join('\n'), /-b "vgg11": expected wideresnet50 \| resnet18 \| resnet50 \| mobilenet_v1/);
    const fake = join(dir, 'resnet18-fake.pth');
    writeFileSync(fake, 'not the torchvision file');
    assert.is(await main(['weights', '--backbone', 'resnet18', '--from', fake]), 1);
    assert.match(errs.join('\n'), /f37072fd/, 'the error names the expected hash prefix');
    assert.equal(existsSync(cache) ? readdirSync(cache) : [], [], 'no unverified file left in the cache');
    assert.is(await main(['weights', '--backbone', 'resnet18', '--from', join(dir, 'nowhere.pth')]), 1);
    assert.match(errs.join('\n'), /--from file .*nowhere\.pth not found/);
  } finally {
    console.error = orig;
    if (oldDir === undefined) delete process.env.GLASS_WEIGHTS_DIR;
    else process.env.GLASS_WEIGHTS_DIR = oldDir;
  }
  await E.initDevice();
});

t.run();
