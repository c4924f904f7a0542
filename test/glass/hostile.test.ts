// Issue 17, hostile inputs and resource limits, through the CLI as a user meets them: class names
// that would write outside --out (a flag, a VisA CSV, a forged metrics.json), flags out of range
// (usage errors, exit 2, naming the flag, the value and what is allowed), --fg 1 without masks,
// resuming into a fresh --out (same best epoch as an uninterrupted run), divergence (stops at the
// first non-finite loss), memory accounting over a train/save/dispose cycle, and the hygiene items
// (log.jsonl run headers, synth never deleting what it did not write, image_ap per epoch, seed
// mismatch on resume, a backbone .pth as --checkpoint, 1-based epochs everywhere).
// Random MobileNet weights, 64-px images and 1-5 short epochs keep each test to seconds.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeSyntheticDataset, SYNTHETIC_MARKER } from '../../data/synthetic.ts';
import { createBackbone } from '../../models/registry.ts';
import { FLAGS, PRESETS, checkPreset } from '../../glass/options.ts';
import { trainClass } from '../../glass/trainer.ts';
import { Glass, DEFAULT_CONFIG } from '../../glass/glass.ts';
import { saveCheckpoint, loadCheckpoint } from '../../glass/checkpoint.ts';
import { BUILTIN_TEXTURES } from '../../data/las.ts';
import * as E from '../../engine/index.ts';
import { cliCapture, TINY_TRAIN } from '../helpers/cli.ts';
import { liveTensors } from '../helpers/memory.ts';

const t = suite('glass: hostile inputs and resource limits');
let dir = '';
const log: string[] = [];
const capture = cliCapture(log);
const tiny = TINY_TRAIN;
const data = () => ['--data', join(dir, 'data'), '-d', 'button'];
const text = () => log.join('\n');
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
const jsonl = (p: string) =>
  readFileSync(p, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

t.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'glass-hostile-'));
  writeSyntheticDataset(join(dir, 'data'), { classes: ['button'], size: 64, train: 10, testGood: 2, testDefective: 3, seed: 2 });
  // the same images without foreground masks
  writeSyntheticDataset(join(dir, 'nofg'), { classes: ['button'], size: 64, train: 10, testGood: 2, testDefective: 3, seed: 2, fgMasks: false });
});
t.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Every path under `root`, relative. */
function tree(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true }).map(String).sort();
}

t('1. a class name that would leave --out is a usage error naming its source; nothing is written outside', async () => {
  const out = join(dir, 'deep', 'er', 'out');
  for (const name of ['../../../x', '..', '', '/etc', 'a\\b', 'line\nbreak']) {
    log.length = 0;
    assert.is(await capture(['train', '--data', join(dir, 'data'), '-d', name, ...tiny, '--out', out]), 2, `${JSON.stringify(name)}: ${text()}`);
    assert.match(text(), /-d ".*": a class name .*; it must be a single folder name/, text());
  }
  assert.not.ok(existsSync(resolve(out, 'mvtec_../../../x')), 'nothing outside --out');
  assert.equal(tree(join(dir, 'deep')), [], 'nothing written at all');
  log.length = 0;
  assert.is(await capture(['test', '--checkpoint', join(dir, 'none.safetensors'), '--data', join(dir, 'data'), '-d', '../x']), 2, text());
});

t('1. a VisA split CSV naming a class outside the root stops train before anything is written', async () => {
  const v = join(dir, 'visa');
  mkdirSync(join(v, 'split_csv'), { recursive: true });
  mkdirSync(join(v, 'img'), { recursive: true });
  const src = join(dir, 'data', 'button');
  const rows = ['object,split,label,image,mask'];
  for (let i = 0; i < 4; i++) {
    copyFileSync(join(src, 'train', 'good', `00${i}.png`), join(v, 'img', `n${i}.png`));
    rows.push(`../../../visa_escape/pwn,${i < 3 ? 'train' : 'test'},normal,img/n${i}.png,`);
  }
  copyFileSync(join(src, 'test', 'spot', '000.png'), join(v, 'img', 'a0.png'));
  copyFileSync(join(src, 'ground_truth', 'spot', '000_mask.png'), join(v, 'img', 'a0_mask.png'));
  rows.push('../../../visa_escape/pwn,test,anomaly,img/a0.png,img/a0_mask.png');
  writeFileSync(join(v, 'split_csv', '1cls.csv'), rows.join('\n') + '\n');
  const out = join(dir, 'v1', 'v2', 'v3', 'out');
  log.length = 0;
  assert.is(await capture(['train', '--dataset', 'visa', '--data', v, ...tiny, '--out', out]), 1, text());
  assert.match(text(), /1cls\.csv line 2 \('object' column\): class name "\.\.\/\.\.\/\.\.\/visa_escape\/pwn" contains a path separator/);
  assert.not.ok(existsSync(resolve(out, 'visa_../../../visa_escape/pwn')));
  assert.equal(tree(join(dir, 'v1')), []);
});

t('1. merge refuses a forged metrics.json whose dataset or class is not a folder name', async () => {
  const run = join(dir, 'forged');
  mkdirSync(join(run, 'x'), { recursive: true });
  const m = {
    dataset: 'mvtec',
    class: '../../etc',
    image_auroc: 1,
    image_ap: 1,
    pixel_auroc: null,
    pixel_ap: null,
    pixel_pro: null,
    best_epoch: 1,
    last: { epoch: 1 },
    epoch_base: 1,
  };
  writeFileSync(join(run, 'x', 'metrics.json'), JSON.stringify(m));
  log.length = 0;
  assert.is(await capture(['merge', run, '--out', join(dir, 'forged-out')]), 1, text());
  assert.match(text(), /merge: .*forged\/x\/metrics\.json: field "class": class name "\.\.\/\.\.\/etc" contains a path separator/);
  writeFileSync(join(run, 'x', 'metrics.json'), JSON.stringify({ ...m, class: 'ok', dataset: { evil: 1 } }));
  log.length = 0;
  assert.is(await capture(['merge', run, '--out', join(dir, 'forged-out')]), 1, text());
  assert.match(text(), /field "dataset": class name \{"evil":1\} is not a string/);
  assert.not.ok(existsSync(join(dir, 'forged-out')));
});

t('2. every flag has a checked value type; presets pass the same checks', () => {
  for (const [k, f] of Object.entries(FLAGS)) assert.ok(f.value && typeof f.value.problem === 'function', k);
  for (const [name, p] of Object.entries(PRESETS)) checkPreset(name, p);
  assert.throws(
    () => checkPreset('broken', { description: '', values: { meta_epochs: 0 } }),
    /--meta_epochs "0": expected an integer >= 1 \(from --preset broken\)/,
  );
});

t('2. values out of range are usage errors (exit 2) naming the flag, the value and what is allowed', async () => {
  const cases: [string[], RegExp][] = [
    [['--meta_epochs', '0'], /--meta_epochs "0": expected an integer >= 1/],
    [['--meta_epochs', '-1'], /--meta_epochs "-1": expected an integer >= 1/],
    [['--eval_epochs', '0'], /--eval_epochs "0": expected an integer >= 1/],
    [['--svd', '5'], /--svd "5": expected 0 or 1/],
    [['--workers', '-1'], /--workers "-1": expected an integer >= 0/],
    [['--limit', '0'], /--limit "0": expected an integer >= 1/],
    [['--imagesize', '0'], /--imagesize "0": expected an integer >= 1/],
    [['--target_embed_dimension', '0'], /--target_embed_dimension "0": expected an integer >= 1/],
    [['--batch_size', '2.5'], /--batch_size "2.5": expected an integer >= 1/],
    [['--lr', '0'], /--lr "0": expected a number > 0/],
    [['--noise', 'abc'], /--noise "abc": expected a number > 0/],
    [['--radius', '1.5'], /--radius "1.5": expected a number in \[0, 1\]/],
    [['--p', '-0.1'], /--p "-0.1": expected a number in \[0, 1\]/],
    [['--dsc_margin', '2'], /--dsc_margin "2": expected a number in \[0, 1\]/],
    [['--mean', '1.5'], /--mean "1.5": expected a number in \[0, 1\]/],
    [['--std', '-1'], /--std "-1": expected a number >= 0/],
    [['--seed', '1.5'], /--seed "1.5": expected an integer from 0 to 4294967295/],
    [['--distribution', '5'], /--distribution "5": expected an integer from 0 to 4/],
    [['--fg', '2'], /--fg "2": expected 0 or 1/],
    [['--visuals', 'yes'], /--visuals "yes": expected 0 or 1/],
    [['--dataset', 'kitti'], /--dataset "kitti": expected mvtec \| mpdd \| visa \| custom/],
    [['--preset', 'slow'], /--preset "slow": expected paper \| fast/],
    [['-b', 'vgg11'], /-b "vgg11": expected wideresnet50 \| resnet18 \| resnet50 \| mobilenet_v1/],
    [['--shard', '3/3'], /--shard "3\/3": expected i\/n with 0 <= i < n/],
    [['--step', '0'], /--step "0": expected an integer >= 1/],
    [['--meta_epochs='], /--meta_epochs "": expected an integer >= 1/],
  ];
  for (const [flags, want] of cases) {
    log.length = 0;
    assert.is(await capture(['train', ...data(), ...tiny, ...flags, '--out', join(dir, 'never')]), 2, `${flags.join(' ')}: ${text()}`);
    assert.match(text(), want, flags.join(' '));
  }
  assert.not.ok(existsSync(join(dir, 'never')), 'a usage error writes nothing');
});

t("2. --imagesize below the deepest tap's stride is a usage error; --resize below --imagesize is said", async () => {
  log.length = 0;
  assert.is(await capture(['train', ...data(), ...tiny, '--imagesize', '4', '--resize', '2', '--out', join(dir, 'small')]), 2, text());
  assert.match(text(), /--resize 2 is below --imagesize 4: the centre crop pads/);
  assert.match(text(), /--imagesize 4: too small for mobilenet_v1 tap conv_pw_5 \(stride 8\): at least 8/);
  await E.initDevice();
});

t('2. explicit --fg 1 without foreground masks is an error; the default fg 1 says so in one line', async () => {
  log.length = 0;
  const nofg = ['--data', join(dir, 'nofg'), '-d', 'button'];
  assert.is(await capture(['train', ...nofg, ...tiny, '--fg', '1', '--out', join(dir, 'fg')]), 2, text());
  assert.match(text(), /--fg 1: no foreground masks for button \(expected .*nofg\/fg_mask\/<class>\//);
  log.length = 0;
  assert.is(await capture(['train', ...nofg, ...tiny, '--out', join(dir, 'fg')]), 0, text());
  const notes = log.filter((l) => /foreground masks/.test(l));
  assert.is(notes.length, 1, text());
  assert.match(notes[0]!, /none in .*fg_mask\/<class> for button: anomalies are synthesised anywhere in the image \(fg 1 is the default/);
  log.length = 0;
  assert.is(await capture(['train', ...nofg, ...tiny, '--fg', '0', '--out', join(dir, 'fg0')]), 0, text());
  assert.not.match(text(), /foreground masks/);
  await E.initDevice();
});

t('3. resumed into a fresh --out: the same best and last as an uninterrupted run; 1-based epochs agree everywhere', async () => {
  // seed 3: this tiny run's best epoch is the first, so an interruption after epoch 3 hides it from a naive resume
  const flags = [...data(), ...tiny, '--seed', '3'];
  log.length = 0;
  assert.is(await capture(['train', ...flags, '--meta_epochs', '5', '--out', join(dir, 'whole')]), 0, text());
  const wholeLog = text();
  const whole = readJson(join(dir, 'whole', 'mvtec_button', 'metrics.json'));
  assert.ok(
    whole.best_epoch <= 3 && whole.best_epoch !== whole.last.epoch,
    `precondition: best epoch ${whole.best_epoch} within the first 3 of 5 and not the last`,
  );
  assert.is(whole.last.epoch, 5);
  assert.is(whole.epoch_base, 1);
  // (g) one numbering: the log's best epoch, metrics.json and results.csv agree
  assert.match(wholeLog, new RegExp(`button: best epoch ${whole.best_epoch}: image AUROC`));
  const csv = readFileSync(join(dir, 'whole', 'results.csv'), 'utf8')
    .trim()
    .split('\n');
  assert.is(csv[1]!.split(',')[6], String(whole.best_epoch), 'results.csv best_epoch');
  const evals = jsonl(join(dir, 'whole', 'mvtec_button', 'log.jsonl')).filter((r) => r.eval);
  assert.equal(
    evals.map((r) => r.epoch),
    [1, 2, 3, 4, 5],
    'log.jsonl epochs from 1',
  );
  // (c) per-epoch evaluation records image AP, not a placeholder
  for (const r of evals) assert.ok(r.eval.image_ap > 0 && r.eval.image_ap <= 1, `image_ap ${r.eval.image_ap}`);

  log.length = 0;
  assert.is(await capture(['train', ...flags, '--meta_epochs', '3', '--out', join(dir, 'part1')]), 0, text());
  log.length = 0;
  const ck = join(dir, 'part1', 'mvtec_button', 'ckpt.safetensors');
  // only the resume file travels: nothing else of part1 is needed
  mkdirSync(join(dir, 'moved'));
  cpSync(ck, join(dir, 'moved', 'ckpt.safetensors'));
  assert.is(
    await capture(['train', ...flags, '--meta_epochs', '5', '--resume', join(dir, 'moved', 'ckpt.safetensors'), '--out', join(dir, 'part2')]),
    0,
    text(),
  );
  assert.match(text(), new RegExp(`after epoch 3 of 5 \\(best so far: epoch ${whole.best_epoch}\\)`));
  const resumed = readJson(join(dir, 'part2', 'mvtec_button', 'metrics.json'));
  const strip = (m: Record<string, unknown>) => {
    const { seconds, iterations, seconds_per_iteration, ...rest } = m;
    return rest;
  };
  assert.equal(strip(resumed), strip(whole), 'best and last metrics, epochs, threshold');
  assert.match(text(), new RegExp(`button: best epoch ${whole.best_epoch}: `));
  // (a) the resumed run's log starts with a header naming where it resumed from
  const head = jsonl(join(dir, 'part2', 'mvtec_button', 'log.jsonl'))[0];
  assert.is(head.run, 1);
  assert.is(head.resumed_from, join(dir, 'moved', 'ckpt.safetensors'));
  assert.is(head.start_epoch, 4);
  assert.ok(Array.isArray(head.argv) && head.argv.includes('--resume'), 'argv recorded');
  await E.initDevice();
});

t('6d. resuming with another --seed is a usage error naming both seeds', async () => {
  log.length = 0;
  const ck = join(dir, 'part1', 'mvtec_button', 'ckpt.safetensors');
  assert.is(await capture(['train', ...data(), ...tiny, '--meta_epochs', '5', '--seed', '4', '--resume', ck, '--out', join(dir, 'seed')]), 2, text());
  assert.match(text(), /--seed 4: .*ckpt\.safetensors was trained with --seed 3.*pass --seed 3/);
  log.length = 0;
  assert.is(await capture(['train', ...data(), ...tiny, '--meta_epochs', '3', '--seed', '3', '--resume', ck, '--out', join(dir, 'seed')]), 2, text());
  assert.match(text(), /--meta_epochs 3: .* has already trained 3 epochs; nothing is left to train/);
  await E.initDevice();
});

t('6a. log.jsonl: a header per run; epochs logged again by a later run are marked redone', async () => {
  const out = join(dir, 'twice');
  log.length = 0;
  assert.is(await capture(['train', ...data(), ...tiny, '--meta_epochs', '2', '--out', out]), 0, text());
  assert.is(await capture(['train', ...data(), ...tiny, '--meta_epochs', '1', '--out', out]), 0, text());
  const lines = jsonl(join(out, 'mvtec_button', 'log.jsonl'));
  const heads = lines.filter((r) => r.started);
  assert.equal(
    heads.map((h) => [h.run, h.resumed_from, h.start_epoch, h.meta_epochs]),
    [
      [1, null, 1, 2],
      [2, null, 1, 1],
    ],
  );
  for (const r of lines.filter((r) => !r.started)) {
    assert.is(r.redone, r.run === 2 ? true : undefined, JSON.stringify(r));
    assert.ok(r.epoch >= 1);
  }
  await E.initDevice();
});

t('4. a diverging run stops at the first non-finite loss, naming epoch and iteration, and saves no model', async () => {
  const out = join(dir, 'nan');
  log.length = 0;
  assert.is(await capture(['train', ...data(), ...tiny, '--lr', '1e30', '--out', out]), 1, text());
  assert.match(text(), /glass train: epoch 1, iteration \d+: loss is NaN: training diverged \(try a lower --lr than 1e\+30\)/);
  const cls = join(out, 'mvtec_button');
  for (const f of ['ckpt_best.safetensors', 'ckpt.safetensors', 'metrics.json']) assert.not.ok(existsSync(join(cls, f)), `${f} not written`);
  const last = jsonl(join(cls, 'log.jsonl')).pop();
  assert.is(last.loss, 'NaN', 'the log names the value');
  await E.initDevice();
});

t("5. train, save, load and dispose leave the engine's live tensors, storages and bytes where they were", async () => {
  await E.initDevice();
  const before = E.memoryStats();
  const tensorsBefore = liveTensors();
  const backbone = createBackbone('mobilenet_v1', { random: true, seed: 0 });
  const cfg = { ...DEFAULT_CONFIG, layers: ['conv_pw_3', 'conv_pw_5'], pretrainEmbedDimension: 32, targetEmbedDimension: 32, dscHidden: 16, step: 3 };
  const out = join(dir, 'mem');
  await trainClass(backbone, {
    dataset: 'mvtec',
    root: join(dir, 'data'),
    className: 'button',
    augpath: BUILTIN_TEXTURES,
    fg: false,
    randAug: true,
    resize: 64,
    imagesize: 64,
    batchSize: 4,
    metaEpochs: 2,
    evalEpochs: 1,
    limit: 4,
    seed: 0,
    workers: 0,
    betaMean: 0.5,
    betaStd: 0.1,
    out,
    cfg,
    visuals: false,
    log: () => {},
  });
  const g = new Glass(backbone, cfg);
  loadCheckpoint(g, join(out, 'mvtec_button', 'ckpt.safetensors'));
  await saveCheckpoint(g, join(out, 'again.safetensors'), {}, true);
  g.dispose();
  backbone.dispose();
  const after = E.memoryStats();
  assert.is(liveTensors(), tensorsBefore, 'live tensors');
  // storages and bytes may only fall: the GC safety net can free what earlier tests leaked
  assert.ok(after.liveStorages <= before.liveStorages, `live storages ${after.liveStorages} > ${before.liveStorages}`);
  assert.ok(after.liveBytes <= before.liveBytes, `live bytes ${after.liveBytes} > ${before.liveBytes}`);
});

t('6b. synth never deletes a class folder it did not write', async () => {
  const root = join(dir, 'mine');
  mkdirSync(join(root, 'woodgrain'), { recursive: true });
  writeFileSync(join(root, 'woodgrain', 'precious.txt'), 'user data');
  log.length = 0;
  assert.is(await capture(['synth', '--out', root]), 1, text());
  assert.match(text(), /woodgrain exists and was not written by the synthetic dataset generator \(no \.glass-synthetic in it\): not replacing it/);
  assert.is(readFileSync(join(root, 'woodgrain', 'precious.txt'), 'utf8'), 'user data');
  // its own output is replaced, stale files and all
  const own = join(dir, 'own-synth');
  writeSyntheticDataset(own, { classes: ['button'], size: 32, train: 2, testGood: 1, testDefective: 1 });
  assert.ok(existsSync(join(own, 'button', SYNTHETIC_MARKER)));
  writeFileSync(join(own, 'button', 'stale.txt'), 'old');
  writeSyntheticDataset(own, { classes: ['button'], size: 32, train: 2, testGood: 1, testDefective: 1 });
  assert.not.ok(existsSync(join(own, 'button', 'stale.txt')));
  // so is a copy written before the marker existed (its synthetic.json lists the class)
  rmSync(join(own, 'button', SYNTHETIC_MARKER));
  rmSync(join(own, 'fg_mask', 'button', SYNTHETIC_MARKER));
  writeSyntheticDataset(own, { classes: ['button'], size: 32, train: 2, testGood: 1, testDefective: 1 });
  await E.initDevice();
});

t('6f. a torchvision state dict as --checkpoint: a short error saying it looks like backbone weights', async () => {
  const pth = new URL('../fixtures/models/tiny_resnet18.pth', import.meta.url).pathname;
  const g = new Glass(null, { ...DEFAULT_CONFIG, layers: ['a', 'b'], pretrainEmbedDimension: 16, targetEmbedDimension: 16, dscHidden: 8 });
  let msg = '';
  try {
    loadCheckpoint(g, pth);
  } catch (err) {
    msg = (err as Error).message;
  } finally {
    g.dispose();
  }
  assert.match(
    msg,
    /not a GLASS checkpoint \(no 'discriminator' entry\): its \d+ tensors start conv1\.weight, bn1\.weight, bn1\.bias, bn1\.running_mean, \.\.\./,
  );
  assert.match(msg, /looks like backbone weights \(pass those with --weights\)/);
  assert.ok(msg.length < 400, `${msg.length} characters`);
  assert.not.match(msg, /layer4/);
});

t.run();
