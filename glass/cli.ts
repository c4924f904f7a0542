// `npm run glass -- <command>` (installed: `glass-ts <command>`): train | test | predict | merge |
// judge | synth | weights. Flags mirror the reference main.py; see `npm run glass -- train --help`.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as E from '../engine/index.ts';
import { createBackbone } from '../models/registry.ts';
import type { Backbone } from '../models/backbone.ts';
import { ensureWeights, progressPrinter } from '../models/weights-cache.ts';
import { pretrainedBackbone, weightsIdentityOfTfjsFolder, describeWeights, sameWeights, type WeightsIdentity } from '../models/pretrained.ts';
import { AnomalyDataset, datasetClasses, checkClassName, type DatasetKind, type FolderLayout, type Geometry } from '../data/datasets.ts';
import { DataLoader, type TrainBatch } from '../data/loader.ts';
import { writeSyntheticDataset, syntheticIsCurrent } from '../data/synthetic.ts';
import { listImages, byteOrder } from '../data/image.ts';
import { resolveMode, type DistributionFlag } from './class-table.ts';
import { distributionJudge, meanImageToBgrU8 } from './distribution.ts';
import { Glass } from './glass.ts';
import { loadCheckpoint, readCheckpointSpec } from './checkpoint.ts';
import { trainClass, predict, evaluate, MASK_RULES, type ClassResult, type Metrics, type MaskRule, type LrSchedule, type BnStats } from './trainer.ts';
import { writeVisuals, writeOverlays } from './visualize.ts';
import { PRESETS, parseArgs, checkArgs, helpText, num, str, origin, glassConfig, UsageError, type Parsed, type Preset } from './options.ts';
import { checkFlagsAgainstSpec, glassConfigFromSpec, type ModelSpec } from './model-spec.ts';
import { bestF1Threshold, holdOutSplit, type Threshold } from './threshold.ts';
import { BUILTIN_TEXTURES } from '../data/las.ts';
import { applyEngineEnv } from './engine-env.ts';
import { knnBaseline } from './knn-baseline.ts';
import { compareWithBaseline, baselineLine } from './baseline-report.ts';

applyEngineEnv();

// From the repository (tsx runs the .ts sources) the synthetic set lives in .cache/ beside the
// code; an installed package (compiled .js under node_modules) must not write there.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const REPO = fileURLToPath(new URL('..', import.meta.url));
export const SHARED = resolve(process.env.GLASS_SHARED ?? join(REPO, '../shared'));
export const SHARED_MOBILENET = join(SHARED, 'weights/mobilenet_v1_1.0_224');
export const SYNTHETIC_ROOT = FROM_SOURCE
  ? join(REPO, '.cache/synthetic')
  : join(process.env.GLASS_CACHE_DIR ?? join(homedir(), '.cache', 'glass-ts'), 'synthetic');

function datasetKind(args: Parsed): DatasetKind {
  const k = str(args, 'dataset', null, 'mvtec');
  return k === 'custom' ? 'folder' : (k as DatasetKind);
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

export interface LoadedBackbone {
  backbone: Backbone;
  weights: WeightsIdentity;
}

/**
 * The backbone the flags ask for. Without -b: MobileNetV1 when its weights folder is given or
 * found (../shared), else torchvision's resnet18 with ImageNet weights (downloaded on first use
 * into the weight cache; offline, seeded random weights with a message saying so).
 */
export async function backboneFromArgs(args: Parsed, preset: Preset | null, log: (s: string) => void): Promise<LoadedBackbone> {
  const weights = args.weights as string | undefined;
  const explicit = args.backbone ?? preset?.values.backbone;
  const folderGiven = !!weights && existsSync(weights) && statSync(weights).isDirectory();
  let name: string;
  if (explicit !== undefined) name = String(explicit);
  else if (folderGiven || existsSync(SHARED_MOBILENET)) name = 'mobilenet_v1';
  else {
    name = 'resnet18';
    if (!args.random_backbone)
      log(`backbone: no MobileNetV1 weights folder given (--weights) or found (${SHARED_MOBILENET}): using torchvision resnet18 with ImageNet weights`);
  }
  return loadBackbone(name, { weights, random: !!args.random_backbone }, log);
}

async function loadBackbone(name: string, o: { weights?: string; random?: boolean; seed?: number }, log: (s: string) => void): Promise<LoadedBackbone> {
  if (o.random) {
    const seed = o.seed ?? 0;
    log(`backbone ${name}: seeded RANDOM weights (seed ${seed}): results say nothing about pretrained features`);
    return { backbone: createBackbone(name, { random: true, seed }), weights: { kind: 'random', name, seed } };
  }
  if (name === 'mobilenet_v1') {
    const dir = o.weights ?? (existsSync(SHARED_MOBILENET) ? SHARED_MOBILENET : undefined);
    if (!dir) {
      throw new Error(
        'mobilenet_v1: no weights folder: pass --weights DIR (a TensorFlow.js layers model of Keras MobileNet 1.0 224), ' +
          'or leave out -b to use resnet18 (ImageNet weights downloaded on first use)',
      );
    }
    const backbone = createBackbone(name, { weights: dir });
    return { backbone, weights: await weightsIdentityOfTfjsFolder(dir) };
  }
  return pretrainedBackbone(name, { weights: o.weights, log, progress: true, seed: o.seed });
}

/**
 * The backbone a checkpoint was trained with, its weights verified by hash: --weights, else the
 * path recorded at training, else (MobileNetV1) the shared folder, else (torchvision) the cache
 * or a download.
 */
async function backboneFromSpec(spec: ModelSpec, args: Parsed, ckpt: string, log: (s: string) => void): Promise<LoadedBackbone> {
  const w = spec.weights;
  if (w.kind === 'random') return loadBackbone(spec.backbone, { random: true, seed: w.seed }, log);
  const given = args.weights as string | undefined;
  let candidate = given ?? (w.path && existsSync(w.path) ? w.path : undefined);
  if (!candidate && spec.backbone === 'mobilenet_v1' && existsSync(SHARED_MOBILENET)) candidate = SHARED_MOBILENET;
  if (!candidate && spec.backbone === 'mobilenet_v1') {
    throw new Error(`${ckpt} was trained with ${describeWeights(w)}, which is not at ${w.path ?? '(no path recorded)'}: pass --weights DIR`);
  }
  const loaded = await loadBackbone(spec.backbone, { weights: candidate }, log);
  if (!sameWeights(loaded.weights, w)) {
    loaded.backbone.dispose();
    throw new Error(
      `${ckpt} was trained with ${describeWeights(w)}, but ${candidate ? `--weights ${candidate}` : 'the weights found'} ` +
        `${loaded.weights.kind === 'random' ? 'could not be had (random weights)' : `hash to ${loaded.weights.sha256?.slice(0, 12)}...`}: pass the same weights with --weights`,
    );
  }
  return loaded;
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

/**
 * Starts the GPU once a command has checked its arguments: a wrong flag is reported without the
 * start-up cost (and without creating a device only to destroy it).
 */
async function startDevice(): Promise<void> {
  await E.initDevice();
  if (process.env.GLASS_AUTOTUNE === '1') await E.autotune();
}

/** A folder of images with no class or split sub-folders: a user's own good images. */
function isImageFolder(dir: string): boolean {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return false;
  const l = listImages(dir);
  return l.files.length > 0 && !l.folders.some((f) => existsSync(join(f, 'train')) || ['train', 'test', 'good'].includes(basename(f)));
}

/** `--shard i/n`: this process trains every n-th class starting at the i-th (0-based, as Slurm array and Kubernetes Job indices). */
export function parseShard(v: unknown): { index: number; count: number } | null {
  if (v === undefined) return null;
  const m = /^(\d+)\/(\d+)$/.exec(String(v));
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new UsageError(`--shard: expected i/n with 0 <= i < n (e.g. 0/4), got '${v}'`);
  return { index, count };
}

/**
 * Foreground masks per class: an explicit `--fg 1` needs <root>/fg_mask/<class> for every class
 * (a usage error naming those without); the preset's or default fg 1 falls back to the whole
 * image, said in one line, since many MVTec copies come without fg masks.
 */
function foregroundMasks(args: Parsed, preset: Preset | null, root: string, classes: string[], own: boolean, log: (s: string) => void): Set<string> {
  const with_ = new Set<string>();
  if (num(args, 'fg', preset, 1) !== 1) return with_;
  const explicit = origin(args, 'fg', preset) === 'flag';
  if (own) {
    if (explicit)
      throw new UsageError(`--fg 1: foreground masks need a dataset root with fg_mask/<class>/, but --data ${root} is a folder of images; leave --fg out`);
    return with_;
  }
  for (const c of classes) if (existsSync(join(root, 'fg_mask', c))) with_.add(c);
  const without = classes.filter((c) => !with_.has(c));
  if (!without.length) return with_;
  const where = `${join(root, 'fg_mask')}/<class>`;
  if (explicit)
    throw new UsageError(
      `--fg 1: no foreground masks for ${without.join(', ')} (expected ${where}/, one mask per training image); pass --fg 0 to synthesise anomalies anywhere in the image`,
    );
  log(
    `foreground masks: none in ${where} for ${without.join(', ')}: anomalies are synthesised anywhere in the image (fg 1 is the ${origin(args, 'fg', preset)}; --fg 0 says so and silences this line)`,
  );
  return with_;
}

async function cmdTrain(args: Parsed, log: (s: string) => void, argv: readonly string[]): Promise<void> {
  const preset = args.preset ? (PRESETS[String(args.preset)] ?? null) : null;
  if (args.resume && !existsSync(String(args.resume))) throw new Error(`--resume ${args.resume}: file not found`);
  let root = args.data as string | undefined;
  if (!root) {
    root = SYNTHETIC_ROOT;
    if (!syntheticIsCurrent(root)) {
      log(`no --data given: writing the synthetic dataset to ${root}`);
      writeSyntheticDataset(root, { seed: 0 });
    }
  }
  if (!existsSync(root)) throw new Error(`--data ${root}: folder not found`);
  const own = isImageFolder(root);
  const kind: DatasetKind = own ? 'folder' : datasetKind(args);
  const augpath = str(args, 'augpath', null, BUILTIN_TEXTURES);
  if (augpath !== BUILTIN_TEXTURES && !existsSync(augpath)) {
    throw new Error(
      `--augpath ${augpath}: folder not found (any folder of JPG/PNG texture images works, e.g. DTD's images/; leave it out for the built-in textures)`,
    );
  }
  if (augpath === BUILTIN_TEXTURES) log('anomaly textures: built-in procedural set (--augpath DIR to use a folder of images, e.g. DTD)');
  const shard = parseShard(args.shard);
  const seed = num(args, 'seed', null, 0);
  let folder: FolderLayout | undefined;
  let classes: string[];
  if (own) {
    if ((args.class as string[] | undefined)?.length) throw new Error(`--data ${root} is a folder of images (one class): -d does not apply`);
    const split = holdOutSplit(listImages(root).files, seed);
    folder = { train: split.train, test: { good: split.heldOut } };
    classes = [checkClassName(basename(resolve(root)), `--data ${root} (its folder name is the class name)`)];
    log(
      `${root}: ${split.train.length + split.heldOut.length} good images: ${split.train.length} to train on, ${split.heldOut.length} held out for the decision threshold`,
    );
  } else classes = classesOf(args, root);
  if (shard) {
    const all = classes;
    classes = all.filter((_, k) => k % shard.count === shard.index);
    log(`shard ${shard.index}/${shard.count}: ${classes.length} of ${all.length} classes (${classes.join(', ') || 'none'})`);
  }
  const fgClasses = foregroundMasks(args, preset, root, classes, own, log);
  const resize = num(args, 'resize', preset, 288);
  const imagesize = num(args, 'imagesize', preset, 288);
  const batchSize = num(args, 'batch_size', preset, 8);
  const geometry = str(args, 'geometry', preset, 'crop') as Geometry;
  if (resize < imagesize && geometry === 'crop')
    log(`--resize ${resize} is below --imagesize ${imagesize}: the centre crop pads the images with black borders (as torchvision's CenterCrop does)`);
  await startDevice();
  const { backbone, weights } = await backboneFromArgs(args, preset, log);
  const layers = defaultTaps(backbone, args);
  const out = str(args, 'out', null, 'results');
  const results: ClassResult[] = [];
  const norm = { mean: [...backbone.mean], std: [...backbone.std] };
  try {
    const deepest = layers.map((l) => ({ l, stride: backbone.tapInfo(l).stride })).sort((a, b) => b.stride - a.stride)[0];
    if (deepest && imagesize < deepest.stride) {
      throw new UsageError(`--imagesize ${imagesize}: too small for ${backbone.name} tap ${deepest.l} (stride ${deepest.stride}): at least ${deepest.stride}`);
    }
    for (const cls of classes) {
      let svd: number;
      if (args.svd !== undefined) svd = num(args, 'svd', null, 0);
      else {
        const distribution = num(args, 'distribution', null, 0) as DistributionFlag;
        let judged: 'manifold' | 'hypersphere' | undefined;
        const needsJudge =
          distribution === 1 ||
          (() => {
            try {
              resolveMode({ dataset: kind, className: cls, distribution });
              return false;
            } catch {
              return true;
            }
          })();
        if (needsJudge) {
          const ds = AnomalyDataset.open({ kind, root, className: cls, folder, split: 'train', las: false, resize, imagesize, geometry, norm });
          const j = await judgeClass(ds, batchSize, norm);
          judged = j.mode;
          log(`${cls}: distribution judge -> ${j.mode} (${j.points} spectrum points)`);
        }
        const r = resolveMode({ dataset: kind, className: cls, distribution, judged });
        svd = r.svd;
        log(`${cls}: ${r.mode} (${r.source})`);
      }
      const cfg = glassConfig(args, preset, layers, svd);
      const spec: Omit<ModelSpec, 'threshold'> = {
        backbone: backbone.name,
        weights,
        layers,
        resize,
        imagesize,
        geometry,
        mean: norm.mean,
        std: norm.std,
        pretrainEmbedDimension: cfg.pretrainEmbedDimension,
        targetEmbedDimension: cfg.targetEmbedDimension,
        dscLayers: cfg.dscLayers,
        dscHidden: cfg.dscHidden,
        preProj: cfg.preProj,
        patchsize: 3,
        svd,
        batchSize,
        trainedOn: { dataset: kind, className: cls },
      };
      const res = await trainClass(backbone, {
        dataset: kind,
        root,
        className: cls,
        folder,
        augpath,
        fg: fgClasses.has(cls),
        randAug: num(args, 'rand_aug', preset, 1) === 1,
        resize,
        imagesize,
        geometry,
        evalPro: num(args, 'eval_pro', preset, 0) === 1,
        lrSchedule: str(args, 'lr_schedule', preset, 'constant') as LrSchedule,
        bnStats: str(args, 'bn_stats', preset, 'reference') as BnStats,
        ema: num(args, 'ema', preset, 0),
        batchSize,
        metaEpochs: num(args, 'meta_epochs', preset, 640),
        evalEpochs: num(args, 'eval_epochs', preset, 1),
        limit: num(args, 'limit', preset, 392),
        seed,
        workers: num(args, 'workers', null, 1),
        betaMean: num(args, 'mean', null, 0.5),
        betaStd: num(args, 'std', null, 0.1),
        out,
        cfg,
        spec,
        maskRule: str(args, 'mask_rule', null, 'binary') as MaskRule,
        resume: args.resume as string | undefined,
        visuals: num(args, 'visuals', null, 1) === 1,
        profile: !!args.profile,
        argv,
        log,
      });
      results.push(res);
      const f = (x: number | null) => (x === null ? '-' : x.toFixed(4));
      log(
        res.best.image_auroc === null
          ? `${cls}: trained ${res.best.epoch} epochs (no metrics: no anomalous test images) | ${res.seconds.toFixed(0)} s, ${res.secondsPerIteration.toFixed(2)} s/iteration`
          : `${cls}: best epoch ${res.best.epoch}: image AUROC ${f(res.best.image_auroc)} AP ${f(res.best.image_ap)}` +
              (res.best.pixel_auroc !== null
                ? ` pixel AUROC ${f(res.best.pixel_auroc)} AP ${f(res.best.pixel_ap)} PRO ${f(res.best.pixel_pro)}`
                : ' (no pixel ground truth)') +
              ` | last epoch: image AUROC ${f(res.last.image_auroc)}` +
              (res.last.pixel_auroc !== null ? ` pixel AUROC ${f(res.last.pixel_auroc)}` : '') +
              ` | ${res.seconds.toFixed(0)} s, ${res.secondsPerIteration.toFixed(2)} s/iteration`,
      );
      log(`${cls}: checkpoint ${join(out, `${kind}_${cls}`, 'ckpt_best.safetensors')}`);
      if (str(args, 'baseline', preset, 'none') === 'knn') {
        const t0 = Date.now();
        const knn = await knnBaseline(backbone, {
          kind,
          root,
          className: cls,
          folder,
          resize,
          imagesize,
          geometry,
          layers,
          embed: cfg.targetEmbedDimension,
          maskRule: str(args, 'mask_rule', null, 'binary') as MaskRule,
        });
        const c = compareWithBaseline(res.best, knn, (Date.now() - t0) / 1000);
        writeFileSync(join(out, `${kind}_${cls}`, 'baseline_knn.json'), JSON.stringify({ ...c, epoch: res.best.epoch }, null, 2) + '\n');
        log(baselineLine(cls, c));
      }
    }
  } finally {
    backbone.dispose();
  }
  const csv = join(out, shard ? `results-shard-${shard.index}-of-${shard.count}.csv` : 'results.csv');
  writeResultsCsv(
    csv,
    results.map((r) => ({ name: `${kind}_${r.className}`, best: r.best, last: r.last })),
  );
  log(
    `results: ${csv}` +
      (results.some((r) => r.best.image_auroc !== null)
        ? ' (best epoch selected on the test set, as the reference does; last-epoch columns are unselected)'
        : '') +
      (shard ? `; combine the shards with: glass-ts merge ${out}` : ''),
  );
}

/** One row of results.csv: a class's best-epoch and last-epoch metrics (epochs from 1). */
interface ResultRow {
  name: string;
  best: Metrics & { epoch: number };
  last: Metrics & { epoch: number };
}

function writeResultsCsv(path: string, rs: ResultRow[]): void {
  const head = 'class,image_auroc,image_ap,pixel_auroc,pixel_ap,pixel_pro,best_epoch,last_image_auroc,last_pixel_auroc';
  const f = (x: number | null) => (x === null ? '' : x.toFixed(4));
  const rows = rs.map((r) =>
    [
      csvField(r.name),
      f(r.best.image_auroc),
      f(r.best.image_ap),
      f(r.best.pixel_auroc),
      f(r.best.pixel_ap),
      f(r.best.pixel_pro),
      r.best.epoch,
      f(r.last.image_auroc),
      f(r.last.pixel_auroc),
    ].join(','),
  );
  const mean = (get: (r: ResultRow) => number | null) => {
    const v = rs.map(get).filter((x): x is number => x !== null);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  rows.push(
    [
      'mean',
      f(mean((r) => r.best.image_auroc)),
      f(mean((r) => r.best.image_ap)),
      f(mean((r) => r.best.pixel_auroc)),
      f(mean((r) => r.best.pixel_ap)),
      f(mean((r) => r.best.pixel_pro)),
      '',
      f(mean((r) => r.last.image_auroc)),
      f(mean((r) => r.last.pixel_auroc)),
    ].join(','),
  );
  mkdirSync(resolve(path, '..'), { recursive: true });
  writeFileSync(path, [head, ...rows].join('\n') + '\n');
}

/** The per-class metrics.json files under the given run folders (one level down), by class. */
export function collectRuns(dirs: string[]): ResultRow[] {
  const rows = new Map<string, { row: ResultRow; from: string }>();
  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`merge: ${dir}: folder not found`);
    for (const sub of readdirSync(dir).sort(byteOrder)) {
      const p = join(dir, sub, 'metrics.json');
      if (!existsSync(p)) continue;
      let m: Metrics & { dataset?: unknown; class?: unknown; best_epoch: number; last: Metrics & { epoch: number }; epoch_base?: number };
      try {
        m = JSON.parse(readFileSync(p, 'utf8'));
      } catch (err) {
        throw new Error(`merge: ${p}: not valid JSON (${(err as Error).message})`);
      }
      // the fields name a row, never a path; still, a forged file must not smuggle in one
      const hasName = m.dataset !== undefined || m.class !== undefined;
      const name = hasName ? `${checkClassName(m.dataset, `merge: ${p}: field "dataset"`)}_${checkClassName(m.class, `merge: ${p}: field "class"`)}` : sub;
      if (!Number.isInteger(m.best_epoch) || !Number.isInteger(m.last?.epoch)) throw new Error(`merge: ${p}: no integer best_epoch and last.epoch`);
      // files written before epochs were numbered from 1 for users (no epoch_base) counted from 0
      const shift = 1 - (m.epoch_base ?? 0);
      const prev = rows.get(name);
      if (prev) throw new Error(`merge: class ${name} is in both ${prev.from} and ${p}: merge runs of disjoint classes (shards)`);
      const metrics = (x: Metrics) => ({
        image_auroc: x.image_auroc,
        image_ap: x.image_ap,
        pixel_auroc: x.pixel_auroc,
        pixel_ap: x.pixel_ap,
        pixel_pro: x.pixel_pro,
      });
      rows.set(name, {
        row: { name, best: { ...metrics(m), epoch: m.best_epoch + shift }, last: { ...metrics(m.last), epoch: m.last.epoch + shift } },
        from: p,
      });
    }
  }
  return [...rows.values()].map((r) => r.row).sort((a, b) => byteOrder(a.name, b.name));
}

async function cmdMerge(args: Parsed, log: (s: string) => void): Promise<void> {
  const dirs = args._;
  if (!dirs.length) throw new Error('merge: name the run folders to combine (the --out of each shard), e.g. glass-ts merge results/shard-*');
  const rows = collectRuns(dirs);
  if (!rows.length) throw new Error(`merge: no <class>/metrics.json under ${dirs.join(', ')}`);
  const out = str(args, 'out', null, dirs[0]);
  const csv = join(out, 'results.csv');
  writeResultsCsv(csv, rows);
  log(`merged ${rows.length} classes from ${dirs.length} folder(s): ${csv}`);
}

interface LoadedModel {
  glass: Glass;
  backbone: Backbone;
  /** the checkpoint's definition; null for older checkpoints and reference .pth files */
  spec: ModelSpec | null;
  resize: number;
  imagesize: number;
  geometry: Geometry;
  batchSize: number;
  norm: { mean: number[]; std: number[] };
  dispose(): void;
}

/**
 * The model of --checkpoint: defined by the checkpoint when it carries its definition (flags that
 * contradict it are errors), else (reference .pth, older checkpoints) by the flags, as the
 * reference's test does.
 */
async function modelFromArgs(args: Parsed, log: (s: string) => void): Promise<LoadedModel> {
  const ckpt = args.checkpoint as string | undefined;
  if (!ckpt) throw new Error('--checkpoint FILE is required (ckpt_best.safetensors from train, or a reference .pth)');
  if (!existsSync(ckpt)) throw new Error(`--checkpoint ${ckpt}: file not found`);
  const spec = readCheckpointSpec(ckpt);
  const preset = args.preset ? (PRESETS[String(args.preset)] ?? null) : null;
  let loaded: LoadedBackbone;
  let glass: Glass;
  if (spec) checkFlagsAgainstSpec(args, spec, ckpt);
  await startDevice();
  if (spec) {
    loaded = await backboneFromSpec(spec, args, ckpt, log);
    glass = new Glass(loaded.backbone, glassConfigFromSpec(spec));
    log(
      `${ckpt}: ${spec.backbone} [${spec.layers.join(', ')}] (${describeWeights(spec.weights)}), ${spec.imagesize} px, ` +
        `embed ${spec.targetEmbedDimension}, hidden ${spec.dscHidden}, ${spec.svd === 1 ? 'hypersphere' : 'manifold'}` +
        (spec.threshold ? `, threshold ${spec.threshold.image.toPrecision(5)}` : ''),
    );
  } else {
    log(`${ckpt}: no model definition in the checkpoint (a reference .pth or an older glass-ts file): the flags define the model`);
    loaded = await backboneFromArgs(args, preset, log);
    glass = new Glass(loaded.backbone, glassConfig(args, preset, defaultTaps(loaded.backbone, args), num(args, 'svd', null, 0)));
  }
  const backbone = loaded.backbone;
  try {
    loadCheckpoint(glass, ckpt);
  } catch (err) {
    glass.dispose();
    backbone.dispose();
    throw err;
  }
  return {
    glass,
    backbone,
    spec,
    resize: spec?.resize ?? num(args, 'resize', preset, 288),
    imagesize: spec?.imagesize ?? num(args, 'imagesize', preset, 288),
    geometry: spec ? (spec.geometry ?? 'crop') : (str(args, 'geometry', preset, 'crop') as Geometry),
    batchSize: num(args, 'batch_size', preset, spec?.batchSize ?? 8),
    norm: spec ? { mean: [...spec.mean], std: [...spec.std] } : { mean: [...backbone.mean], std: [...backbone.std] },
    dispose() {
      glass.dispose();
      backbone.dispose();
    },
  };
}

async function cmdTest(args: Parsed, log: (s: string) => void): Promise<void> {
  const model = await modelFromArgs(args, log);
  const { glass, resize, imagesize, geometry, norm } = model;
  try {
    const root = (args.data as string | undefined) ?? SYNTHETIC_ROOT;
    const kind = datasetKind(args);
    const out = str(args, 'out', null, 'results');
    for (const cls of classesOf(args, root)) {
      const maskRule = str(args, 'mask_rule', null, 'binary') as MaskRule;
      const ds = AnomalyDataset.open({ kind, root, className: cls, split: 'test', resize, imagesize, geometry, norm, maskResample: MASK_RULES[maskRule] });
      const loader = new DataLoader(ds, { batchSize: model.batchSize, shuffle: false, workers: num(args, 'workers', null, 1) });
      const pred = await predict(glass, loader, null, true);
      await loader.close();
      const m = evaluate(pred, true);
      const dir = join(out, `${kind}_${cls}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'metrics_test.json'), JSON.stringify({ ...m, mask_rule: maskRule, checkpoint: args.checkpoint }, null, 2));
      if (num(args, 'visuals', null, 1) === 1) await writeVisuals(join(dir, 'visuals'), pred, norm);
      const f = (x: number | null) => (x === null ? '-' : x.toFixed(4));
      log(
        m.image_auroc === null
          ? `${cls}: no metrics (the test split needs good and anomalous images)`
          : `${cls}: image AUROC ${f(m.image_auroc)} AP ${f(m.image_ap)}` +
              (m.pixel_auroc !== null ? ` pixel AUROC ${f(m.pixel_auroc)} AP ${f(m.pixel_ap)} PRO ${f(m.pixel_pro)}` : ''),
      );
    }
  } finally {
    model.dispose();
  }
}

/**
 * Scores a folder of images: scores.csv (file, score, anomalous yes/no), heatmaps/ (the anomaly
 * map over each image) and masks/ (binary, at the pixel threshold). The threshold is the
 * checkpoint's (chosen on held-out good images at training), or the best-F1 one on --val.
 */
async function cmdPredict(args: Parsed, log: (s: string) => void): Promise<void> {
  const input = args.input as string | undefined;
  if (!input || !existsSync(input) || !statSync(input).isDirectory())
    throw new Error(`--input ${input ?? '(missing)'}: a folder of images to score is required`);
  const files = listImages(input, false).files;
  if (!files.length) throw new Error(`--input ${input}: no PNG/JPEG images in the folder`);
  const model = await modelFromArgs(args, log);
  const { glass, resize, imagesize, geometry, norm } = model;
  try {
    const out = str(args, 'out', null, 'results/predict');
    let threshold: Threshold | null = model.spec?.threshold ?? null;
    if (args.val) {
      const ds = AnomalyDataset.open({
        kind: 'folder',
        folder: { train: String(args.val), test: String(args.val) },
        split: 'test',
        resize,
        imagesize,
        geometry,
        norm,
      });
      const loader = new DataLoader(ds, { batchSize: model.batchSize, shuffle: false, workers: 0 });
      const p = await predict(glass, loader, null);
      await loader.close();
      const t = bestF1Threshold(p.labels, p.scores);
      // the pixel threshold keeps the checkpoint's ratio to the image threshold when it has one
      const pixel = threshold ? (threshold.pixel * t.threshold) / threshold.image : t.threshold;
      threshold = {
        image: t.threshold,
        pixel,
        pixelNormal: threshold?.pixelNormal,
        rule: `best F1 (${t.f1.toFixed(4)}) on ${p.labels.length} images of --val ${args.val}`,
        images: p.labels.length,
      };
      log(`threshold ${t.threshold.toFixed(5)} (best F1 ${t.f1.toFixed(4)} on ${p.labels.length} validation images)`);
    } else if (threshold) log(`threshold ${threshold.image.toPrecision(5)} from the checkpoint (${threshold.rule})`);
    else
      log('no threshold: the checkpoint has none (trained before thresholds were stored, or a reference .pth); pass --val FOLDER to choose one; scores only');
    // a flat folder of unlabelled images is one 'good' test type: no labels or masks are expected
    const ds = AnomalyDataset.open({ kind: 'folder', folder: { train: input, test: { good: files } }, split: 'test', resize, imagesize, geometry, norm });
    const loader = new DataLoader(ds, { batchSize: model.batchSize, shuffle: false, workers: 0 });
    const pred = await predict(glass, loader, null);
    await loader.close();
    mkdirSync(out, { recursive: true });
    const lines = ['file,score' + (threshold ? ',anomalous' : '')];
    let flagged = 0;
    pred.paths.forEach((p, i) => {
      const bad = threshold !== null && pred.scores[i] >= threshold.image;
      if (bad) flagged++;
      lines.push(`${csvField(basename(p))},${pred.scores[i].toFixed(6)}` + (threshold ? `,${bad ? 'yes' : 'no'}` : ''));
    });
    writeFileSync(join(out, 'scores.csv'), lines.join('\n') + '\n');
    await writeOverlays(out, pred, { resize, imagesize, geometry }, threshold);
    log(
      `scored ${files.length} images` +
        (threshold ? `, ${flagged} anomalous` : '') +
        `: ${join(out, 'scores.csv')}; heatmaps in ${join(out, 'heatmaps')}` +
        (threshold ? `, masks in ${join(out, 'masks')}` : ''),
    );
  } finally {
    model.dispose();
  }
}

/** A CSV field, quoted when it holds a comma, quote or line break. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
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

const COMMANDS: Record<string, (a: Parsed, log: (s: string) => void, argv: readonly string[]) => Promise<void>> = {
  train: cmdTrain,
  test: cmdTest,
  predict: cmdPredict,
  judge: cmdJudge,
  synth: cmdSynth,
  weights: cmdWeights,
  merge: cmdMerge,
};

/** What main() ran into, for callers that report it themselves (the demo). */
export interface RunReport {
  error?: string;
}

/**
 * Runs one command; returns the exit status (0 ok, 1 failed, 2 bad usage: an unknown flag, a
 * value outside its range (options.ts FLAGS), flags that contradict each other or the data). Errors are printed as
 * one line `glass <command>: <reason>` (the stack with GLASS_DEBUG=1) and left in `report`.
 */
export async function main(argv: string[], report: RunReport = {}): Promise<number> {
  const log = (s: string) => console.log(s);
  const [command, ...rest] = argv;
  const fail = (message: string, code: number) => {
    report.error = message;
    console.error(`glass ${command}: ${message}`);
    return code;
  };
  if (!command || !COMMANDS[command] || command === '--help' || command === '-h') {
    console.log(
      `usage: glass-ts <${Object.keys(COMMANDS).join(' | ')}> [options]   (in the repository: npm run glass -- ...)\n       glass-ts <command> --help`,
    );
    if (command && !COMMANDS[command] && command !== '--help' && command !== '-h') return fail(`unknown command '${command}'`, 2);
    return 0;
  }
  let args: Parsed;
  try {
    args = parseArgs(rest);
    if (args._.length && command !== 'merge') throw new Error(`unexpected argument '${args._[0]}' (options start with -; see --help)`);
    if (!args.help) checkArgs(args);
  } catch (err) {
    return fail((err as Error).message, 2);
  }
  if (args.help) {
    console.log(helpText(command));
    return 0;
  }
  try {
    await COMMANDS[command](args, log, argv);
    return 0;
  } catch (err) {
    if (process.env.GLASS_DEBUG) console.error((err as Error).stack);
    return fail((err as Error).message, err instanceof UsageError ? 2 : 1);
  } finally {
    E.releaseDevice();
  }
}

if (process.argv[1] && basename(process.argv[1]).startsWith('cli')) {
  process.exitCode = await main(process.argv.slice(2));
}
