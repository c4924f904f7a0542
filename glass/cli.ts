// `npm run glass -- <command>`: train | test | predict | judge | synth | weights.
// Flags mirror the reference main.py; see `npm run glass -- train --help`.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import * as E from '../engine/index.ts';
import { createBackbone } from '../models/registry.ts';
import type { Backbone } from '../models/backbone.ts';
import { ensureWeights, progressPrinter } from '../models/weights-cache.ts';
import { AnomalyDataset, datasetClasses, type DatasetKind } from '../data/datasets.ts';
import { DataLoader, type TrainBatch } from '../data/loader.ts';
import { writeSyntheticDataset, syntheticIsCurrent } from '../data/synthetic.ts';
import { readImage, listImages } from '../data/image.ts';
import { resolveMode, type DistributionFlag } from './class-table.ts';
import { distributionJudge, meanImageToBgrU8 } from './distribution.ts';
import { Glass } from './glass.ts';
import { loadCheckpoint } from './checkpoint.ts';
import { trainClass, predict, evaluate, type ClassResult } from './trainer.ts';
import { writeVisuals } from './visualize.ts';
import { PRESETS, parseArgs, helpText, num, str, glassConfig, type Parsed, type Preset } from './options.ts';

const REPO = resolve(new URL('..', import.meta.url).pathname);
export const SHARED = resolve(process.env.GLASS_SHARED ?? join(REPO, '../shared'));
export const SHARED_MOBILENET = join(SHARED, 'weights/mobilenet_v1_1.0_224');
export const SYNTHETIC_ROOT = join(REPO, '.cache/synthetic');

function datasetKind(args: Parsed): DatasetKind {
  const k = str(args, 'dataset', null, 'mvtec');
  if (k === 'custom') return 'folder';
  if (!['mvtec', 'mpdd', 'visa', 'folder'].includes(k)) throw new Error(`--dataset: expected mvtec | mpdd | visa | custom, got '${k}'`);
  return k as DatasetKind;
}

function classesOf(args: Parsed, root: string): string[] {
  const given = args.class as string[] | undefined;
  if (given?.length) return given;
  if (!existsSync(root)) throw new Error(`--data ${root}: folder not found`);
  const kind = datasetKind(args);
  const found = datasetClasses(kind, root);
  if (!found.length) throw new Error(`--data ${root}: no class folders with a train/ subfolder; pass -d CLASS`);
  return found;
}

/** The backbone the flags ask for; mobilenet_v1 defaults to the shared weights when present. */
export function backboneFromArgs(args: Parsed, preset: Preset | null, log: (s: string) => void): Backbone {
  const name = str(args, 'backbone', preset, 'mobilenet_v1');
  let weights = args.weights as string | undefined;
  if (args.random_backbone) {
    log(`backbone ${name}: seeded RANDOM weights (--random_backbone): results say nothing about pretrained features`);
    return createBackbone(name, { random: true, seed: 0 });
  }
  if (name === 'mobilenet_v1' && !weights && existsSync(SHARED_MOBILENET)) weights = SHARED_MOBILENET;
  return createBackbone(name, { weights });
}

function defaultTaps(b: Backbone, args: Parsed): string[] {
  const l = args.layer as string[] | undefined;
  return l?.length ? l : [...b.defaultTaps];
}

/** Mean training image (normalised CHW) for the distribution judge, as a mean of batch means. */
async function meanTrainImage(ds: AnomalyDataset, batchSize: number): Promise<Float32Array> {
  const loader = new DataLoader(ds, { batchSize, shuffle: false, workers: 0 });
  let acc: Float64Array | null = null;
  let batches = 0;
  for await (const raw of loader.epoch(0)) {
    const b = raw as TrainBatch;
    const [B, C, H, W] = b.shape;
    const per = C * H * W;
    acc ??= new Float64Array(per);
    for (let i = 0; i < per; i++) {
      let s = 0;
      for (let k = 0; k < B; k++) s += b.images[k * per + i];
      acc[i] += s / B;
    }
    batches++;
  }
  await loader.close();
  return Float32Array.from(acc!, (v) => v / batches);
}

async function judgeClass(ds: AnomalyDataset, batchSize: number, norm: { mean: number[]; std: number[] }) {
  const m = await meanTrainImage(ds, batchSize);
  const [, H, W] = ds.imageShape;
  return distributionJudge(meanImageToBgrU8(m, H, W, norm.mean, norm.std), H, W);
}

async function cmdTrain(args: Parsed, log: (s: string) => void): Promise<void> {
  const preset = args.preset ? PRESETS[String(args.preset)] ?? null : null;
  if (args.preset && !preset) throw new Error(`--preset: unknown preset '${args.preset}' (paper | fast)`);
  let root = args.data as string | undefined;
  if (!root) {
    root = SYNTHETIC_ROOT;
    if (!syntheticIsCurrent(root)) {
      log(`no --data given: writing the synthetic dataset to ${root}`);
      writeSyntheticDataset(root, { seed: 0 });
    }
  }
  const kind = datasetKind(args);
  const augpath = str(args, 'augpath', null, join(SHARED, 'data/textures/gimp'));
  if (!existsSync(augpath)) throw new Error(`--augpath ${augpath}: folder not found (any folder of JPG/PNG texture images works, e.g. DTD's images/)`);
  const backbone = backboneFromArgs(args, preset, log);
  const layers = defaultTaps(backbone, args);
  const out = str(args, 'out', null, 'results');
  const results: ClassResult[] = [];
  const resize = num(args, 'resize', preset, 288);
  const imagesize = num(args, 'imagesize', preset, 288);
  const batchSize = num(args, 'batch_size', preset, 8);
  const norm = { mean: [...backbone.mean], std: [...backbone.std] };
  for (const cls of classesOf(args, root)) {
    let svd: number;
    if (args.svd !== undefined) svd = num(args, 'svd', null, 0);
    else {
      const distribution = num(args, 'distribution', null, 0) as DistributionFlag;
      let judged: 'manifold' | 'hypersphere' | undefined;
      const needsJudge = distribution === 1 || (() => { try { resolveMode({ dataset: kind, className: cls, distribution }); return false; } catch { return true; } })();
      if (needsJudge) {
        const ds = AnomalyDataset.open({ kind, root, className: cls, split: 'train', las: false, resize, imagesize, norm });
        const j = await judgeClass(ds, batchSize, norm);
        judged = j.mode;
        log(`${cls}: distribution judge -> ${j.mode} (${j.points} spectrum points)`);
      }
      const r = resolveMode({ dataset: kind, className: cls, distribution, judged });
      svd = r.svd;
      log(`${cls}: ${r.mode} (${r.source})`);
    }
    const res = await trainClass(backbone, {
      dataset: kind, root, className: cls, augpath, fg: num(args, 'fg', preset, 1) === 1 && existsSync(join(root, 'fg_mask', cls)),
      randAug: num(args, 'rand_aug', preset, 1) === 1, resize, imagesize, batchSize,
      metaEpochs: num(args, 'meta_epochs', preset, 640), evalEpochs: num(args, 'eval_epochs', preset, 1), limit: num(args, 'limit', preset, 392),
      seed: num(args, 'seed', null, 0), workers: num(args, 'workers', null, 1), betaMean: num(args, 'mean', null, 0.5), betaStd: num(args, 'std', null, 0.1),
      out, cfg: glassConfig(args, preset, layers, svd), resume: args.resume as string | undefined, visuals: num(args, 'visuals', null, 1) === 1, profile: !!args.profile, log,
    });
    results.push(res);
    log(`${cls}: best epoch ${res.best.epoch + 1}: image AUROC ${res.best.image_auroc.toFixed(4)} AP ${res.best.image_ap.toFixed(4)}` +
      (res.best.pixel_auroc !== null ? ` pixel AUROC ${res.best.pixel_auroc.toFixed(4)} AP ${res.best.pixel_ap?.toFixed(4)} PRO ${res.best.pixel_pro?.toFixed(4)}` : ' (no pixel ground truth)') +
      ` | last epoch: image AUROC ${res.last.image_auroc.toFixed(4)}` + (res.last.pixel_auroc !== null ? ` pixel AUROC ${res.last.pixel_auroc.toFixed(4)}` : '') +
      ` | ${res.seconds.toFixed(0)} s, ${res.secondsPerIteration.toFixed(2)} s/iteration`);
  }
  writeResultsCsv(join(out, 'results.csv'), kind, results);
  log(`results: ${join(out, 'results.csv')} (best epoch selected on the test set, as the reference does; last-epoch columns are unselected)`);
  backbone.dispose();
}

function writeResultsCsv(path: string, kind: string, rs: ClassResult[]): void {
  const head = 'class,image_auroc,image_ap,pixel_auroc,pixel_ap,pixel_pro,best_epoch,last_image_auroc,last_pixel_auroc';
  const f = (x: number | null) => (x === null ? '' : x.toFixed(4));
  const rows = rs.map((r) => [`${kind}_${r.className}`, f(r.best.image_auroc), f(r.best.image_ap), f(r.best.pixel_auroc), f(r.best.pixel_ap), f(r.best.pixel_pro), r.best.epoch + 1, f(r.last.image_auroc), f(r.last.pixel_auroc)].join(','));
  const mean = (get: (r: ClassResult) => number | null) => {
    const v = rs.map(get).filter((x): x is number => x !== null);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  rows.push(['mean', f(mean((r) => r.best.image_auroc)), f(mean((r) => r.best.image_ap)), f(mean((r) => r.best.pixel_auroc)), f(mean((r) => r.best.pixel_ap)), f(mean((r) => r.best.pixel_pro)), '', f(mean((r) => r.last.image_auroc)), f(mean((r) => r.last.pixel_auroc))].join(','));
  mkdirSync(resolve(path, '..'), { recursive: true });
  writeFileSync(path, [head, ...rows].join('\n') + '\n');
}

/** A Glass with the checkpoint's sizes; the configuration comes from the flags (as the reference's test). */
function glassFromArgs(args: Parsed, backbone: Backbone): Glass {
  const preset = args.preset ? PRESETS[String(args.preset)] ?? null : null;
  const ckpt = args.checkpoint as string | undefined;
  if (!ckpt) throw new Error('--checkpoint FILE is required (ckpt_best.safetensors from train, or a reference .pth)');
  const glass = new Glass(backbone, glassConfig(args, preset, defaultTaps(backbone, args), num(args, 'svd', null, 0)));
  loadCheckpoint(glass, ckpt);
  return glass;
}

async function cmdTest(args: Parsed, log: (s: string) => void): Promise<void> {
  const preset = args.preset ? PRESETS[String(args.preset)] ?? null : null;
  const backbone = backboneFromArgs(args, preset, log);
  const glass = glassFromArgs(args, backbone);
  const root = (args.data as string | undefined) ?? SYNTHETIC_ROOT;
  const kind = datasetKind(args);
  const norm = { mean: [...backbone.mean], std: [...backbone.std] };
  const out = str(args, 'out', null, 'results');
  for (const cls of classesOf(args, root)) {
    const ds = AnomalyDataset.open({ kind, root, className: cls, split: 'test', resize: num(args, 'resize', preset, 288), imagesize: num(args, 'imagesize', preset, 288), norm });
    const loader = new DataLoader(ds, { batchSize: num(args, 'batch_size', preset, 8), shuffle: false, workers: num(args, 'workers', null, 1) });
    const pred = await predict(glass, loader, null, true);
    await loader.close();
    const m = evaluate(pred, true);
    const dir = join(out, `${kind}_${cls}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'metrics_test.json'), JSON.stringify({ ...m, checkpoint: args.checkpoint }, null, 2));
    if (num(args, 'visuals', null, 1) === 1) await writeVisuals(join(dir, 'visuals'), pred, norm);
    log(`${cls}: image AUROC ${m.image_auroc.toFixed(4)} AP ${m.image_ap.toFixed(4)}` + (m.pixel_auroc !== null ? ` pixel AUROC ${m.pixel_auroc.toFixed(4)} AP ${m.pixel_ap?.toFixed(4)} PRO ${m.pixel_pro?.toFixed(4)}` : ''));
  }
  glass.dispose();
  backbone.dispose();
}

/** Threshold with the best F1 on labelled scores. */
export function bestF1Threshold(labels: ArrayLike<number>, scores: ArrayLike<number>): { threshold: number; f1: number } {
  const idx = Array.from(scores, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const P = Array.from(labels).reduce((a, b) => a + b, 0);
  let tp = 0;
  let fp = 0;
  let best = { threshold: Infinity, f1: 0 };
  for (let k = 0; k < idx.length; k++) {
    if (labels[idx[k]]) tp++;
    else fp++;
    if (k + 1 < idx.length && scores[idx[k + 1]] === scores[idx[k]]) continue;
    const f1 = (2 * tp) / (2 * tp + fp + (P - tp));
    if (f1 > best.f1) best = { threshold: scores[idx[k]], f1 };
  }
  return best;
}

async function cmdPredict(args: Parsed, log: (s: string) => void): Promise<void> {
  const preset = args.preset ? PRESETS[String(args.preset)] ?? null : null;
  const input = args.input as string | undefined;
  if (!input || !existsSync(input)) throw new Error(`--input ${input ?? '(missing)'}: a folder of images to score is required`);
  const backbone = backboneFromArgs(args, preset, log);
  const glass = glassFromArgs(args, backbone);
  const resize = num(args, 'resize', preset, 288);
  const imagesize = num(args, 'imagesize', preset, 288);
  const norm = { mean: [...backbone.mean], std: [...backbone.std] };
  const out = str(args, 'out', null, 'results/predict');
  let threshold: number | null = null;
  if (args.val) {
    const ds = AnomalyDataset.open({ kind: 'folder', folder: { train: String(args.val), test: String(args.val) }, split: 'test', resize, imagesize, norm });
    const loader = new DataLoader(ds, { batchSize: 8, shuffle: false, workers: 0 });
    const p = await predict(glass, loader, null);
    await loader.close();
    const t = bestF1Threshold(p.labels, p.scores);
    threshold = t.threshold;
    log(`threshold ${threshold.toFixed(5)} (best F1 ${t.f1.toFixed(4)} on ${p.labels.length} validation images)`);
  }
  const files = listImages(input, false).files;
  if (!files.length) throw new Error(`--input ${input}: no PNG/JPEG images in the folder`);
  // a flat folder of unlabelled images is one 'test type'; labels are unused here
  const ds = AnomalyDataset.open({ kind: 'folder', folder: { train: input, test: { images: input } }, split: 'test', resize, imagesize, norm });
  const loader = new DataLoader(ds, { batchSize: 8, shuffle: false, workers: 0 });
  const pred = await predict(glass, loader, null, true);
  await loader.close();
  mkdirSync(out, { recursive: true });
  const lines = ['path,score' + (threshold !== null ? ',anomalous' : '')];
  pred.paths.forEach((p, i) => lines.push(`${p},${pred.scores[i].toFixed(6)}` + (threshold !== null ? `,${pred.scores[i] >= threshold ? 1 : 0}` : '')));
  writeFileSync(join(out, 'scores.csv'), lines.join('\n') + '\n');
  await writeVisuals(join(out, 'heatmaps'), pred, norm);
  log(`scored ${files.length} images: ${join(out, 'scores.csv')}, heatmaps in ${join(out, 'heatmaps')}`);
  glass.dispose();
  backbone.dispose();
}

async function cmdJudge(args: Parsed, log: (s: string) => void): Promise<void> {
  const root = (args.data as string | undefined) ?? SYNTHETIC_ROOT;
  const kind = datasetKind(args);
  const size = num(args, 'imagesize', null, 288);
  const norm = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  for (const cls of classesOf(args, root)) {
    const ds = AnomalyDataset.open({ kind, root, className: cls, split: 'train', las: false, resize: num(args, 'resize', null, size), imagesize: size, norm });
    const j = await judgeClass(ds, num(args, 'batch_size', null, 8), norm);
    log(`${cls}: ${j.mode} (flag ${j.flag}; ${j.points} spectrum points)`);
  }
}

async function cmdSynth(args: Parsed, log: (s: string) => void): Promise<void> {
  const out = str(args, 'out', null, SYNTHETIC_ROOT);
  const s = writeSyntheticDataset(out, { seed: num(args, 'seed', null, 0) });
  log(`synthetic dataset written to ${out}: ${JSON.stringify(s)}`);
}

async function cmdWeights(args: Parsed, log: (s: string) => void): Promise<void> {
  const backbone = str(args, 'backbone', null, 'wideresnet50');
  const r = await ensureWeights({ backbone, from: args.from as string | undefined, onProgress: progressPrinter(backbone), log });
  log(`${backbone}: ${r.path} (${r.source}, sha256 ${r.sha256.slice(0, 12)}..., ${(r.bytes / 1e6).toFixed(1)} MB)`);
}

const COMMANDS: Record<string, (a: Parsed, log: (s: string) => void) => Promise<void>> = {
  train: cmdTrain,
  test: cmdTest,
  predict: cmdPredict,
  judge: cmdJudge,
  synth: cmdSynth,
  weights: cmdWeights,
};

export async function main(argv: string[]): Promise<number> {
  const log = (s: string) => console.log(s);
  const [command, ...rest] = argv;
  if (!command || !COMMANDS[command] || command === '--help' || command === '-h') {
    console.log(`usage: npm run glass -- <${Object.keys(COMMANDS).join(' | ')}> [options]\n       npm run glass -- <command> --help`);
    return command && !COMMANDS[command] && command !== '--help' && command !== '-h' ? 2 : 0;
  }
  let args: Parsed;
  try {
    args = parseArgs(rest);
  } catch (err) {
    console.error(`glass ${command}: ${(err as Error).message}`);
    return 2;
  }
  if (args.help) {
    console.log(helpText(command));
    return 0;
  }
  if (command !== 'synth' && command !== 'weights' && command !== 'judge') {
    await E.initDevice();
    if (process.env.GLASS_AUTOTUNE === '1') await E.autotune();
  }
  try {
    await COMMANDS[command](args, log);
    return 0;
  } catch (err) {
    console.error(`glass ${command}: ${(err as Error).message}`);
    if (process.env.GLASS_DEBUG) console.error((err as Error).stack);
    return 1;
  } finally {
    E.releaseDevice();
  }
}

if (process.argv[1] && basename(process.argv[1]).startsWith('cli')) {
  process.exitCode = await main(process.argv.slice(2));
}
