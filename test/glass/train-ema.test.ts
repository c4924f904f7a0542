// `glass train --ema DECAY`: the heads' weights are averaged every iteration; the checkpoint's
// weights are the average (so `glass test` on it scores what the run reported as its last epoch)
// and the trained weights travel under live.*; a resumed run continues both exactly as an
// uninterrupted one; resuming across --ema settings says so; without --ema nothing changes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../../data/synthetic.ts';
import { readSafetensors } from '../../models/io/files.ts';
import { cliCapture, TINY_TRAIN } from '../helpers/cli.ts';

const t = suite('glass: --ema');
let dir = '';
const log: string[] = [];
const capture = cliCapture(log);
const text = () => log.join('\n');
const train = (out: string, ...extra: string[]) =>
  capture(['train', '--data', join(dir, 'data'), '-d', 'button', ...TINY_TRAIN, '--visuals', '0', '--out', join(dir, out), ...extra]);
const classDir = (out: string) => join(dir, out, 'mvtec_button');
const ckpt = (out: string) => readSafetensors(join(classDir(out), 'ckpt.safetensors'));
const metrics = (out: string) => JSON.parse(readFileSync(join(classDir(out), 'metrics.json'), 'utf8'));
const DSC = 'discriminator.tail.0.weight';

t.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'glass-ema-'));
  writeSyntheticDataset(join(dir, 'data'), { classes: ['button'], size: 64, train: 8, testGood: 2, testDefective: 3, seed: 4 });
});
t.after(() => rmSync(dir, { recursive: true, force: true }));

t('the checkpoint holds the average as its weights and the trained weights under live.*', async () => {
  log.length = 0;
  assert.is(await train('ema', '--meta_epochs', '2', '--ema', '0.9'), 0, text());
  const { tensors, metadata } = ckpt('ema');
  const meta = JSON.parse(metadata!.meta!);
  const iterations = readFileSync(join(classDir('ema'), 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => JSON.parse(l).iteration).length;
  assert.is(meta.ema, 0.9);
  assert.is(meta.ema_updates, iterations, 'one update per iteration');
  const main = tensors.get(DSC)!.data,
    live = tensors.get(`live.${DSC}`)!.data;
  assert.ok(live, 'live weights stored');
  assert.ok(
    main.some((v, i) => v !== live[i]),
    'the average differs from the trained weights',
  );
  assert.is(metrics('ema').ema, 0.9);
  assert.match(text(), /weights averaged \(ema 0\.9\)/);
});

t('glass test on that checkpoint scores what the run reported for its last epoch', async () => {
  log.length = 0;
  const code = await capture([
    'test',
    '--data',
    join(dir, 'data'),
    '-d',
    'button',
    '--workers',
    '0',
    '--checkpoint',
    join(classDir('ema'), 'ckpt.safetensors'),
    '--out',
    join(dir, 'test'),
  ]);
  assert.is(code, 0, text());
  const got = JSON.parse(readFileSync(join(dir, 'test', 'mvtec_button', 'metrics_test.json'), 'utf8'));
  const last = metrics('ema').last;
  assert.is(got.image_auroc, last.image_auroc);
  assert.is(got.pixel_auroc, last.pixel_auroc);
});

t('a resumed --ema run ends with the same average, trained weights and metrics as an uninterrupted one', async () => {
  log.length = 0;
  assert.is(await train('ema1', '--meta_epochs', '1', '--ema', '0.9'), 0, text());
  assert.is(await train('ema-resumed', '--meta_epochs', '2', '--ema', '0.9', '--resume', join(classDir('ema1'), 'ckpt.safetensors')), 0, text());
  assert.not.match(text(), /was trained with --ema/);
  const [a, b] = [ckpt('ema').tensors, ckpt('ema-resumed').tensors];
  for (const k of [DSC, `live.${DSC}`]) assert.equal([...b.get(k)!.data], [...a.get(k)!.data], k);
  assert.is(JSON.parse(ckpt('ema-resumed').metadata!.meta!).ema_updates, JSON.parse(ckpt('ema').metadata!.meta!).ema_updates);
  assert.equal(metrics('ema-resumed').last, metrics('ema').last);
});

t('without --ema the checkpoint has no live.* weights; resuming it with --ema says the average starts there', async () => {
  log.length = 0;
  assert.is(await train('plain', '--meta_epochs', '1'), 0, text());
  const { tensors, metadata } = ckpt('plain');
  assert.not.ok([...tensors.keys()].some((k) => k.startsWith('live.')));
  assert.is(JSON.parse(metadata!.meta!).ema, 0);
  assert.is(await train('plain-ema', '--meta_epochs', '2', '--ema', '0.5', '--resume', join(classDir('plain'), 'ckpt.safetensors')), 0, text());
  assert.match(text(), /was trained with --ema 0; this run continues with --ema 0\.5, its average starting from the saved weights/);
});

t('a decay outside [0, 1) is a usage error naming the flag', async () => {
  log.length = 0;
  assert.is(await train('bad', '--ema', '1'), 2);
  assert.match(text(), /--ema.*1.*\[0, 1\)/);
});

t.run();
