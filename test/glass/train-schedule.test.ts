// `glass train --lr_schedule`: 'cosine' anneals both optimisers' rates over --meta_epochs (the
// checkpoint holds the rates of its epoch, and the schedule in its metadata), 'constant' keeps the
// reference's rates; resuming under another schedule or length says so; a bad value is exit 2.
// `--bn_stats epoch`: the discriminator's BatchNorm statistics restart at every epoch.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDataset } from '../../data/synthetic.ts';
import { readSafetensors } from '../../models/io/files.ts';
import { cliCapture, TINY_TRAIN } from '../helpers/cli.ts';

const t = suite('glass: --lr_schedule and --bn_stats');
let dir = '';
const log: string[] = [];
const capture = cliCapture(log);
const text = () => log.join('\n');
const LR = 0.001;
const train = (out: string, ...extra: string[]) =>
  capture(['train', '--data', join(dir, 'data'), '-d', 'button', ...TINY_TRAIN, '--lr', String(LR), '--out', join(dir, out), ...extra]);
const classDir = (out: string) => join(dir, out, 'mvtec_button');

/** The rates of the last epoch's optimiser states, and the metadata, of a run's ckpt.safetensors. */
function checkpointRates(out: string) {
  const { metadata } = readSafetensors(join(classDir(out), 'ckpt.safetensors'));
  const opt = JSON.parse(metadata!.optimizers!) as Record<string, { param_groups: { lr: number }[] }>;
  return { proj: opt.proj.param_groups[0].lr, dsc: opt.dsc.param_groups[0].lr, meta: JSON.parse(metadata!.meta!) };
}

t.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'glass-lr-'));
  writeSyntheticDataset(join(dir, 'data'), { classes: ['button'], size: 64, train: 8, testGood: 2, testDefective: 2, seed: 4 });
});
t.after(() => rmSync(dir, { recursive: true, force: true }));

t('cosine: the last epoch trains at lr (1 + cos(2 pi / 3)) / 2 of 3 epochs; recorded in log, metrics and checkpoint', async () => {
  log.length = 0;
  assert.is(await train('cos', '--meta_epochs', '3', '--lr_schedule', 'cosine'), 0, text());
  const r = checkpointRates('cos');
  const f = (1 + Math.cos((2 * Math.PI) / 3)) / 2; // epoch index 2 of T_max 3: 0.25
  assert.ok(Math.abs(r.proj - LR * f) < 1e-12, `projection lr ${r.proj}, expected ${LR * f}`);
  assert.ok(Math.abs(r.dsc - 2 * LR * f) < 1e-12, `discriminator lr ${r.dsc}, expected ${2 * LR * f}`);
  assert.is(r.meta.lr_schedule, 'cosine');
  assert.is(r.meta.meta_epochs, 3);
  const head = JSON.parse(readFileSync(join(classDir('cos'), 'log.jsonl'), 'utf8').split('\n')[0]);
  assert.is(head.lr_schedule, 'cosine');
  assert.is(JSON.parse(readFileSync(join(classDir('cos'), 'metrics.json'), 'utf8')).lr_schedule, 'cosine');
});

t("constant (the default): the reference's rates lr and 2 lr at every epoch", async () => {
  log.length = 0;
  assert.is(await train('const', '--meta_epochs', '2'), 0, text());
  const r = checkpointRates('const');
  assert.is(r.proj, LR);
  assert.is(r.dsc, 2 * LR);
  assert.is(r.meta.lr_schedule, 'constant');
});

t('resuming a cosine run over another length warns that the rates differ; the same length does not', async () => {
  const ck = join(classDir('cos'), 'ckpt.safetensors');
  log.length = 0;
  assert.is(await train('longer', '--meta_epochs', '4', '--lr_schedule', 'cosine', '--resume', ck), 0, text());
  assert.match(text(), /warning: .* was trained with --lr_schedule cosine over 3 epochs; this run continues with --lr_schedule cosine over 4 epochs/);
  // epoch index 3 of 4: the schedule of the new length
  const f = (1 + Math.cos((3 * Math.PI) / 4)) / 2;
  assert.ok(Math.abs(checkpointRates('longer').proj - LR * f) < 1e-12, 'the resumed epoch trains at the new schedule');
  log.length = 0;
  assert.is(await train('const2', '--meta_epochs', '3', '--resume', join(classDir('const'), 'ckpt.safetensors')), 0, text());
  assert.not.match(text(), /warning: .* --lr_schedule/);
});

/** The discriminator BatchNorm's counter of passes in a run's last checkpoint. */
function passesTracked(out: string): number {
  const { tensors } = readSafetensors(join(classDir(out), 'ckpt.safetensors'));
  return tensors.get('discriminator.body.block1.1.num_batches_tracked')!.data[0] as number;
}

t("--bn_stats epoch: the running statistics count only the last epoch's passes; reference: all of them", async () => {
  log.length = 0;
  assert.is(await train('bn-ref', '--meta_epochs', '2'), 0, text());
  assert.is(await train('bn-epoch', '--meta_epochs', '2', '--bn_stats', 'epoch'), 0, text());
  const all = passesTracked('bn-ref');
  const last = passesTracked('bn-epoch');
  // the same batches and steps in both runs: two equal epochs against one
  assert.ok(last > 0, 'passes were counted');
  assert.is(all, 2 * last, `reference counts ${all} passes over 2 epochs, epoch mode ${last} in the last`);
  const m = JSON.parse(readFileSync(join(classDir('bn-epoch'), 'metrics.json'), 'utf8'));
  assert.is(m.bn_stats, 'epoch');
  assert.is(JSON.parse(readFileSync(join(classDir('bn-ref'), 'metrics.json'), 'utf8')).bn_stats, 'reference');
});

t('--preset cpu trains with the cosine schedule, per-epoch BatchNorm statistics and the full frame; a flag overrides it', async () => {
  log.length = 0;
  assert.is(await train('cpu', '--preset', 'cpu', '--meta_epochs', '2'), 0, text());
  const m = JSON.parse(readFileSync(join(classDir('cpu'), 'metrics.json'), 'utf8'));
  assert.equal([m.lr_schedule, m.bn_stats, m.geometry], ['cosine', 'epoch', 'full']);
  assert.ok(Math.abs(checkpointRates('cpu').proj - LR / 2) < 1e-12, 'epoch 2 of 2 at half the rate');
  assert.is(await train('cpu-const', '--preset', 'cpu', '--meta_epochs', '2', '--lr_schedule', 'constant'), 0, text());
  assert.is(JSON.parse(readFileSync(join(classDir('cpu-const'), 'metrics.json'), 'utf8')).lr_schedule, 'constant');
});

t('an unknown schedule is a usage error naming the flag and the choices', async () => {
  log.length = 0;
  assert.is(await train('bad', '--lr_schedule', 'linear'), 2);
  assert.match(text(), /--lr_schedule.*linear.*constant \| cosine/);
  log.length = 0;
  assert.is(await train('bad', '--bn_stats', 'batch'), 2);
  assert.match(text(), /--bn_stats.*batch.*reference \| epoch/);
});

t.run();
