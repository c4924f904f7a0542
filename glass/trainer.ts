// Training and evaluation of one class, as the reference's trainer/tester: per epoch the centre,
// then up to `limit` samples of training iterations, then evaluation on the test split; the best
// epoch is chosen by image AUROC + pixel AUROC (on the test set, as the reference does; we also
// report the last epoch). Frozen-backbone embeddings of the unaugmented images never change, so
// they are computed once and cached on the GPU (within a byte budget): only the LAS images go
// through the backbone every iteration.
//
// Epochs are numbered from 1 in everything a user reads: the console, log.jsonl, metrics.json
// (`best_epoch`, `last.epoch`, with `epoch_base: 1`) and ClassResult; the loop and checkpoint
// metadata count from 0 (see checkpoint.ts).
//
// <out>/<dataset>_<class>/log.jsonl is appended to by every run that writes there (a resumed run
// continues the file): each run starts with a header line {run, started, argv, resumed_from,
// start_epoch, ...}; every line after it carries that run number, and the lines of an epoch that
// an earlier run in the file already logged (a resumed run redoes the epoch after its checkpoint)
// carry `redone: true`: they supersede the earlier ones.
//
// A non-finite loss, test score or weight stops training with an error naming the epoch (and
// iteration): nothing diverged is ever saved, so ckpt.safetensors and ckpt_best.safetensors keep
// the last finite epochs.
import { mkdirSync, writeFileSync, appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as E from '../engine/index.ts';
import type { Backbone } from '../models/backbone.ts';
import type { CpuTensor } from '../models/io/types.ts';
import { AnomalyDataset, checkClassName, type DatasetKind, type FolderLayout, type Geometry } from '../data/datasets.ts';
import { DataLoader, type TrainBatch } from '../data/loader.ts';
import { Glass, type GlassConfig, type IterationStats } from './glass.ts';
import { EmbeddingCache, embedFixed, evaluate, isLabelled, predict, trainStep, weightsFinite, type Metrics } from './loop.ts';
import {
  saveCheckpoint,
  loadCheckpoint,
  loadWeights,
  snapshotWeights,
  writeWeightsCheckpoint,
  readBestWeights,
  readLiveWeights,
  readWeights,
} from './checkpoint.ts';
import { readSafetensors } from '../models/io/files.ts';
import { UsageError } from './options.ts';
import { writeVisuals } from './visualize.ts';
import { goodImageThreshold } from './threshold.ts';
import type { ModelSpec } from './model-spec.ts';

export * from './loop.ts';

/**
 * How test masks become the ground truth of pixel metrics: 'binary' resizes them with NEAREST and
 * counts every pixel > 0 as a defect; 'reference' is the reference GLASS code's rule (and so the
 * paper's numbers): a bilinear resize kept soft, where only pixels that stay exactly 1.0 count,
 * so thin defects lose their edges (and cracks thinner than the resize step all their pixels).
 */
export const MASK_RULES = { binary: 'nearest', reference: 'bilinear' } as const;
export type MaskRule = keyof typeof MASK_RULES;

/**
 * How the learning rate moves over the epochs: 'constant' is the reference's (no scheduler);
 * 'cosine' anneals both optimisers from their rates (lr, 2 lr) towards 0 over --meta_epochs
 * (torch's CosineAnnealingLR, stepped per epoch), so a short run ends on small, stable steps.
 */
export const LR_SCHEDULES = ['constant', 'cosine'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

/**
 * What the heads' BatchNorm running statistics average: 'reference' is torch's momentum 0.1 over
 * every training pass (each ascent step is one, so evaluation sees about the last iteration's
 * batch, and scores swing from epoch to epoch with it); 'epoch' restarts them at each epoch as a
 * cumulative average over all of that epoch's passes. Weights and losses are the same either way.
 */
export const BN_STATS = ['reference', 'epoch'] as const;
export type BnStats = (typeof BN_STATS)[number];

export interface RunOptions {
  dataset: DatasetKind;
  root: string;
  className: string;
  /** explicit layout for dataset 'folder' (e.g. a folder of good images split into train / held out) */
  folder?: FolderLayout;
  /** ground truth for pixel metrics (see MASK_RULES; default 'binary') */
  maskRule?: MaskRule;
  /** the model's definition for the checkpoints (test/predict read it back); its threshold is set here */
  spec?: Omit<ModelSpec, 'threshold'>;
  augpath: string;
  fg: boolean;
  randAug: boolean;
  resize: number;
  imagesize: number;
  /** input geometry (data/datasets.ts Geometry): the reference's 'crop' (default) or 'full' frame */
  geometry?: Geometry;
  /** every evaluation computes pixel AP and PRO too (costly; the final test always does) */
  evalPro?: boolean;
  /** learning-rate schedule over the epochs (default 'constant', the reference's) */
  lrSchedule?: LrSchedule;
  /** BatchNorm running statistics of the heads (default 'reference') */
  bnStats?: BnStats;
  /**
   * Decay of an exponential moving average of the heads' weights and BatchNorm statistics
   * (engine optim.AveragedModel), updated after every iteration; evaluations, checkpoints and
   * the final test use the average. 0 or left out: none (the reference's).
   */
  ema?: number;
  batchSize: number;
  metaEpochs: number;
  evalEpochs: number;
  limit: number;
  seed: number;
  workers: number;
  betaMean: number;
  betaStd: number;
  out: string;
  cfg: GlassConfig;
  /** Checkpoint to resume from (glass-ts safetensors with optimiser state). */
  resume?: string;
  /** Write image | ground truth | heatmap PNGs for the test set at the end. */
  visuals?: boolean;
  /** GPU bytes for cached embeddings (default 2 GiB). */
  cacheBytes?: number;
  /** Print a per-kernel GPU profile of one training iteration (the second of the run). */
  profile?: boolean;
  /** the command line, recorded in log.jsonl's run header */
  argv?: readonly string[];
  log?: (line: string) => void;
}

export interface ClassResult {
  className: string;
  /** epochs numbered from 1 */
  best: Metrics & { epoch: number };
  last: Metrics & { epoch: number };
  seconds: number;
  iterations: number;
  secondsPerIteration: number;
}

function fmt(x: number | null, digits = 4): string {
  return x === null ? '-' : x.toFixed(digits);
}

/** Runs already logged in a log.jsonl, and the last epoch (1-based) they logged. */
function previousLog(path: string): { runs: number; lastEpoch: number } {
  if (!existsSync(path)) return { runs: 0, lastEpoch: 0 };
  let runs = 0;
  let legacy = false;
  let lastEpoch = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    let r: { run?: number; started?: string; epoch?: number };
    try {
      r = JSON.parse(line);
    } catch {
      continue;
    }
    if (r.started !== undefined) runs++;
    // lines written before run headers existed numbered epochs from 0
    else if (r.run === undefined) legacy = true;
    if (typeof r.epoch === 'number') lastEpoch = Math.max(lastEpoch, r.run === undefined ? r.epoch + 1 : r.epoch);
  }
  return { runs: runs + (legacy ? 1 : 0), lastEpoch };
}

/** The epoch (0-based) in a glass-ts checkpoint's metadata, or null. */
function checkpointEpoch(path: string): number | null {
  try {
    const meta = JSON.parse(readSafetensors(path).metadata?.meta ?? '{}') as { epoch?: unknown };
    return typeof meta.epoch === 'number' ? meta.epoch : null;
  } catch {
    return null;
  }
}

/** Trains one class and evaluates it; writes checkpoints, logs, metrics.json and visuals. */
export async function trainClass(backbone: Backbone, opts: RunOptions): Promise<ClassResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  checkClassName(opts.className, 'trainClass');
  const outDir = join(opts.out, `${opts.dataset}_${opts.className}`);
  mkdirSync(outDir, { recursive: true });
  const jsonl = join(outDir, 'log.jsonl');
  const bestPath = join(outDir, 'ckpt_best.safetensors');
  E.manualSeed(opts.seed);
  const norm = { mean: [...backbone.mean], std: [...backbone.std] };
  const common = {
    kind: opts.dataset,
    root: opts.root,
    className: opts.className,
    folder: opts.folder,
    resize: opts.resize,
    imagesize: opts.imagesize,
    geometry: opts.geometry ?? 'crop',
    norm,
    warn: (m: string) => log(`warning: ${m}`),
  };
  // mask_s lives on the first tap's grid (the reference hardcodes imagesize / 8: layer2's stride)
  const downsampling = backbone.tapInfo(opts.cfg.layers[0]).stride;
  const trainSet = AnomalyDataset.open({
    ...common,
    split: 'train',
    downsampling,
    textures: opts.augpath,
    randAug: opts.randAug,
    fg: opts.fg,
    betaMean: opts.betaMean,
    betaStd: opts.betaStd,
  });
  const plainSet = AnomalyDataset.open({ ...common, split: 'train', las: false });
  const maskRule = opts.maskRule ?? 'binary';
  const testSet = AnomalyDataset.open({ ...common, split: 'test', maskResample: MASK_RULES[maskRule] });
  const trainLoader = new DataLoader(trainSet, { batchSize: opts.batchSize, seed: opts.seed, workers: opts.workers });
  const plainLoader = new DataLoader(plainSet, { batchSize: opts.batchSize, seed: opts.seed + 1, workers: opts.workers, shuffle: true });
  const testLoader = new DataLoader(testSet, { batchSize: opts.batchSize, seed: opts.seed, workers: opts.workers, shuffle: false });
  const glass = new Glass(backbone, opts.cfg);
  const trainCache = new EmbeddingCache(opts.cacheBytes ?? 2 ** 31);
  const testCache = new EmbeddingCache(opts.cacheBytes ?? 2 ** 31);
  const mode = opts.cfg.svd === 1 ? 'hypersphere' : 'manifold';
  const labelled = isLabelled(testSet.entries.map((e) => e.label));
  const modelMeta = (threshold: ModelSpec['threshold']) => (opts.spec ? { model: { ...opts.spec, threshold } } : {});
  const lrSchedule = opts.lrSchedule ?? 'constant';
  const bnStats = opts.bnStats ?? 'reference';
  const emaDecay = opts.ema ?? 0;
  // the schedule travels with the checkpoint: a cosine run's rates depend on its total length
  const ckptMeta = {
    epoch_base: 0,
    seed: opts.seed,
    config: opts.cfg,
    lr_schedule: lrSchedule,
    bn_stats: bnStats,
    ema: emaDecay,
    meta_epochs: opts.metaEpochs,
  };
  const heads = [glass.discriminator, ...(glass.projection ? [glass.projection] : [])];
  // the average of the heads' weights (--ema); made after a resume has loaded the file's averages
  let averaged: E.optim.AveragedModel | null = null;
  log(
    `${opts.dataset}/${opts.className}: ${trainSet.length} train, ${testSet.length} test images; ${mode}; backbone ${backbone.name} [${opts.cfg.layers.join(', ')}]; ` +
      `${opts.imagesize} px, embed ${opts.cfg.targetEmbedDimension}, hidden ${opts.cfg.dscHidden}, ${opts.metaEpochs} epochs, limit ${opts.limit}` +
      (emaDecay > 0 ? `, weights averaged (ema ${emaDecay})` : ''),
  );
  if (!labelled) {
    log(
      `${opts.className}: no metrics: the ${testSet.length} test images are all ${testSet.entries[0]?.label ? 'anomalous' : 'good'} (AUROC needs both); ` +
        'the last epoch is kept and the decision threshold comes from the held-out good images',
    );
  }
  // epochs below are 0-based, as in checkpoint metadata; users read epoch + 1
  let startEpoch = 0;
  let best: (Metrics & { epoch: number }) | null = null;
  let bestWeights: Map<string, CpuTensor> | null = null;
  try {
    if (opts.resume) {
      const ck = loadCheckpoint(glass, opts.resume);
      const m = ck.meta as {
        epoch?: number;
        seed?: number;
        best?: Metrics & { epoch: number };
        rng?: ReturnType<typeof E.generatorState>;
        lr_schedule?: LrSchedule;
        meta_epochs?: number;
        ema?: number;
        ema_updates?: number;
      };
      // an --ema run's file holds the averages as its weights and the trained ones under live.*:
      // the averages continue from the former, training from the latter
      const live = readLiveWeights(opts.resume);
      if (live && emaDecay > 0) {
        averaged = new E.optim.AveragedModel(heads, { decay: emaDecay });
        averaged.nAveraged = m.ema_updates ?? 1;
      }
      if (live) loadWeights(glass, live);
      if ((m.ema ?? 0) !== emaDecay) {
        log(
          `warning: ${opts.resume} was trained with --ema ${m.ema ?? 0}; this run continues with --ema ${emaDecay}` +
            (emaDecay > 0 && !live ? ', its average starting from the saved weights' : ''),
        );
      }
      // files from before schedules existed trained with constant rates
      const was = m.lr_schedule ?? 'constant';
      if (was !== lrSchedule || (lrSchedule === 'cosine' && m.meta_epochs !== undefined && m.meta_epochs !== opts.metaEpochs)) {
        log(
          `warning: ${opts.resume} was trained with --lr_schedule ${was}${was === 'cosine' ? ` over ${m.meta_epochs} epochs` : ''}; ` +
            `this run continues with --lr_schedule ${lrSchedule}${lrSchedule === 'cosine' ? ` over ${opts.metaEpochs} epochs` : ''}, so its rates differ from an uninterrupted run's`,
        );
      }
      if (m.seed !== undefined && m.seed !== opts.seed) {
        throw new UsageError(
          `--seed ${opts.seed}: ${opts.resume} was trained with --seed ${m.seed}, and a resumed run must draw what the interrupted one would have: ` +
            `pass --seed ${m.seed} (or train from scratch without --resume)`,
        );
      }
      startEpoch = (m.epoch ?? -1) + 1;
      if (startEpoch >= opts.metaEpochs) {
        throw new UsageError(
          `--meta_epochs ${opts.metaEpochs}: ${opts.resume} has already trained ${startEpoch} epochs; nothing is left to train (raise --meta_epochs to continue)`,
        );
      }
      best = m.best ?? null;
      if (best) {
        const bestEpoch = best.epoch;
        // files from before the resume checkpoint carried the best weights: a ckpt_best of that epoch beside it or in --out
        bestWeights =
          readBestWeights(opts.resume) ??
          [join(resolve(opts.resume, '..'), 'ckpt_best.safetensors'), bestPath]
            .filter((p) => existsSync(p) && checkpointEpoch(p) === bestEpoch)
            .map(readWeights)[0] ??
          null;
        if (!bestWeights) {
          log(
            `warning: ${opts.resume} has the metrics of its best epoch (${bestEpoch + 1}) but not its weights (an older file), and no ckpt_best.safetensors of that epoch is beside it: ` +
              `the best epoch is chosen among epochs ${startEpoch + 1}-${opts.metaEpochs}`,
          );
          best = null;
        } else if (checkpointEpoch(bestPath) !== bestEpoch) {
          writeWeightsCheckpoint(bestPath, bestWeights, { epoch: bestEpoch, ...ckptMeta, metrics: pick(best), ...modelMeta(null) });
        }
      }
      // the GPU generator's position at the end of the saved epoch: a resumed run draws the same
      // GAS noise as an uninterrupted one (the loaders are seeded per epoch already)
      if (m.rng) E.setGeneratorState(m.rng);
      log(
        `resumed from ${opts.resume} after epoch ${startEpoch} of ${opts.metaEpochs}` +
          (best ? ` (best so far: epoch ${best.epoch + 1})` : '') +
          (ck.hasOptimizers ? '' : ' (no optimiser state in the file)'),
      );
    }
    averaged ??= emaDecay > 0 ? new E.optim.AveragedModel(heads, { decay: emaDecay }) : null;
    // base rates as Glass sets them (a resumed optimiser holds its last epoch's decayed rate)
    const schedules =
      lrSchedule === 'cosine'
        ? [
            ...(glass.projOpt ? [new E.optim.CosineAnnealingLR(glass.projOpt, { tMax: opts.metaEpochs, lastEpoch: startEpoch, baseLrs: [opts.cfg.lr] })] : []),
            new E.optim.CosineAnnealingLR(glass.dscOpt, { tMax: opts.metaEpochs, lastEpoch: startEpoch, baseLrs: [opts.cfg.lr * 2] }),
          ]
        : [];
    const prev = previousLog(jsonl);
    const run = prev.runs + 1;
    const record = (epoch: number, rec: object) =>
      appendFileSync(jsonl, JSON.stringify({ run, epoch: epoch + 1, ...rec, ...(epoch + 1 <= prev.lastEpoch ? { redone: true } : {}) }) + '\n');
    appendFileSync(
      jsonl,
      JSON.stringify({
        run,
        started: new Date().toISOString(),
        argv: opts.argv ?? null,
        resumed_from: opts.resume ? resolve(opts.resume) : null,
        start_epoch: startEpoch + 1,
        meta_epochs: opts.metaEpochs,
        dataset: opts.dataset,
        class: opts.className,
        seed: opts.seed,
        resize: opts.resize,
        imagesize: opts.imagesize,
        geometry: opts.geometry ?? 'crop',
        batch_size: opts.batchSize,
        limit: opts.limit,
        eval_epochs: opts.evalEpochs,
        lr_schedule: lrSchedule,
        bn_stats: bnStats,
        ema: emaDecay,
        config: opts.cfg,
      }) + '\n',
    );
    const diverged = (epoch: number, what: string) =>
      new Error(
        `epoch ${epoch + 1}, ${what}: training diverged (try a lower --lr than ${opts.cfg.lr}); nothing of this epoch was saved` +
          (epoch > startEpoch
            ? `: ${join(outDir, 'ckpt.safetensors')} holds epoch ${epoch}, the last finite one`
            : opts.resume
              ? `: ${opts.resume} is unchanged`
              : ''),
      );
    let last: (Metrics & { epoch: number }) | null = null;
    const t0 = Date.now();
    let iterations = 0;
    let evalSeconds = 0;
    let iterSeconds = 0;
    for (let epoch = startEpoch; epoch < opts.metaEpochs; epoch++) {
      const te = Date.now();
      // 1. centre from the fixed images, batched as the reference (mean of batch means)
      const embs: { emb: E.Tensor; batch: number }[] = [];
      for await (const raw of plainLoader.epoch(epoch)) {
        const b = raw as TrainBatch;
        embs.push({ emb: embedFixed(glass, trainCache, b.paths, b.images, b.shape), batch: b.shape[0] });
      }
      glass.setCenterFromBatches(embs);
      embs.forEach((e) => e.emb.dispose());
      // 2. training iterations
      if (bnStats === 'epoch') glass.restartBatchNormAverages();
      let samples = 0;
      const acc: IterationStats[] = [];
      for await (const raw of trainLoader.epoch(epoch)) {
        const b = raw as TrainBatch;
        if (!b.augs || !b.masksS) throw new Error('training batch without LAS images');
        const ti = Date.now();
        const prof = opts.profile && iterations === 1 ? new E.Profiler() : null;
        await prof?.begin();
        const st = await trainStep(glass, { paths: b.paths, images: b.images, augs: b.augs, masksS: b.masksS, shape: b.shape }, trainCache);
        if (prof) log(E.formatProfile(await prof.end(), 20, { shapes: true }));
        averaged?.updateParameters();
        iterSeconds += (Date.now() - ti) / 1000;
        iterations++;
        acc.push(st);
        // JSON has no NaN or Infinity: a diverged value is written as its name rather than null
        record(epoch, { iteration: acc.length, ...Object.fromEntries(Object.entries(st).map(([k, v]) => [k, Number.isFinite(v) ? v : String(v)])) });
        const bad = (Object.entries(st) as [string, number][]).find(([, v]) => !Number.isFinite(v));
        if (bad) throw diverged(epoch, `iteration ${acc.length}: ${bad[0]} is ${bad[1]}`);
        samples += b.shape[0];
        if (process.stdout.isTTY) {
          const n = Math.min(trainLoader.length, Math.floor(opts.limit / opts.batchSize) + 1);
          process.stdout.write(
            `\r  epoch ${epoch + 1}/${opts.metaEpochs} [${'#'.repeat(Math.round((20 * acc.length) / n)).padEnd(20)}] ${acc.length}/${n} loss ${fmt(st.loss)} p_true ${fmt(st.pTrue, 3)} p_fake ${fmt(st.pFake, 3)} r_t ${fmt(st.rT)} r_g ${fmt(st.rG)} r_f ${fmt(st.rF)} `,
          );
        }
        if (samples > opts.limit) break;
      }
      // a finite last loss does not make its optimiser step finite
      if (!(await weightsFinite(glass))) throw diverged(epoch, `iteration ${acc.length}: the weights are no longer finite after the optimiser step`);
      const avg = (k: keyof IterationStats) => acc.reduce((a, s) => a + s[k], 0) / Math.max(acc.length, 1);
      let line = `epoch ${epoch + 1}/${opts.metaEpochs} loss ${fmt(avg('loss'))} p_true ${fmt(avg('pTrue'), 3)} p_fake ${fmt(avg('pFake'), 3)} r_t ${fmt(avg('rT'))} r_g ${fmt(avg('rG'))} r_f ${fmt(avg('rF'))}`;
      // 3. evaluation every eval_epochs (on the test split, as the reference)
      if (labelled && ((epoch + 1) % opts.evalEpochs === 0 || epoch === opts.metaEpochs - 1)) {
        const tEval = Date.now();
        // evaluated (and kept as the best) with the averaged weights, trained on with the live ones
        averaged?.swap();
        const pred = await predict(glass, testLoader, testCache);
        const nan = pred.scores.findIndex((v) => !Number.isFinite(v));
        if (nan >= 0) throw diverged(epoch, `the test score of ${pred.paths[nan]} is ${pred.scores[nan]}`);
        const m = evaluate(pred, !!opts.evalPro);
        last = { ...m, epoch };
        const score = (x: Metrics) => (x.image_auroc ?? 0) + (x.pixel_auroc ?? 0);
        if (!best || score(m) > score(best)) {
          best = { ...m, epoch };
          bestWeights = await snapshotWeights(glass);
          writeWeightsCheckpoint(bestPath, bestWeights, { epoch, ...ckptMeta, metrics: m, ...modelMeta(null) });
        }
        line += ` | image AUROC ${fmt(m.image_auroc)} pixel AUROC ${fmt(m.pixel_auroc)} (best @ ${best.epoch + 1} by image + pixel AUROC)`;
        evalSeconds += (Date.now() - tEval) / 1000;
        // where the run stands, for learning curves (bench/quality.ts): iterations so far and the
        // seconds spent training, evaluation excluded (this run's: a resumed run starts at 0)
        record(epoch, { eval: m, iterations, train_seconds: +((Date.now() - t0) / 1000 - evalSeconds).toFixed(3) });
        averaged?.swap();
      }
      // with --ema the file's weights are the averages and the trained ones go under live.*
      const live = averaged ? await snapshotWeights(glass) : null;
      averaged?.swap();
      await saveCheckpoint(
        glass,
        join(outDir, 'ckpt.safetensors'),
        { epoch, ...ckptMeta, ...(averaged ? { ema_updates: averaged.nAveraged } : {}), best, rng: E.generatorState(), ...modelMeta(null) },
        true,
        best && best.epoch !== epoch ? bestWeights : null,
        live,
      );
      averaged?.swap();
      if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
      log(`${line} [${((Date.now() - te) / 1000).toFixed(1)} s]`);
      schedules.forEach((s) => s.step());
    }
    // the last epoch's model is the average from here on
    averaged?.swap();
    // final test with the last and the best weights, all metrics; the decision threshold from the
    // best weights' scores of the good test (held-out) images, stored in ckpt_best
    const lastEpoch = last?.epoch ?? opts.metaEpochs - 1;
    const bestIsLast = !best || best.epoch === lastEpoch || !bestWeights;
    const lastPred = await predict(glass, testLoader, testCache, !!opts.visuals && bestIsLast);
    const lastFull = { ...evaluate(lastPred, true), epoch: lastEpoch };
    let bestFull = lastFull;
    let bestPred = lastPred;
    if (!bestIsLast) {
      loadCheckpoint(glass, bestPath);
      bestPred = await predict(glass, testLoader, testCache, !!opts.visuals);
      bestFull = { ...evaluate(bestPred, true), epoch: best!.epoch };
    }
    if (opts.visuals) await writeVisuals(join(outDir, 'visuals'), bestPred, norm);
    const threshold = goodImageThreshold(bestPred);
    await saveCheckpoint(glass, bestPath, { epoch: bestFull.epoch, ...ckptMeta, metrics: labelled ? pick(bestFull) : null, ...modelMeta(threshold) });
    if (threshold) log(`${opts.className}: threshold image ${threshold.image.toPrecision(5)}, pixel ${threshold.pixel.toPrecision(5)} (${threshold.rule})`);
    const seconds = (Date.now() - t0) / 1000;
    const result: ClassResult = {
      className: opts.className,
      best: { ...bestFull, epoch: bestFull.epoch + 1 },
      last: { ...lastFull, epoch: lastFull.epoch + 1 },
      seconds,
      iterations,
      secondsPerIteration: iterations ? iterSeconds / iterations : 0,
    };
    writeFileSync(
      join(outDir, 'metrics.json'),
      JSON.stringify(
        {
          dataset: opts.dataset,
          class: opts.className,
          ...pick(bestFull),
          best_epoch: result.best.epoch,
          last: { ...pick(lastFull), epoch: result.last.epoch },
          epoch_base: 1,
          mask_rule: maskRule,
          geometry: opts.geometry ?? 'crop',
          lr_schedule: lrSchedule,
          bn_stats: bnStats,
          ema: emaDecay,
          note: labelled
            ? 'best_epoch is selected on the test set, as the reference GLASS does; "last" is the final epoch without selection; epochs count from 1'
            : 'no metrics: the test images are all good (held out from training) or all anomalous; best_epoch is the last epoch; epochs count from 1',
          threshold,
          seconds,
          iterations,
          seconds_per_iteration: result.secondsPerIteration,
        },
        null,
        2,
      ),
    );
    return result;
  } finally {
    averaged?.dispose();
    trainCache.dispose();
    testCache.dispose();
    glass.dispose();
    await Promise.all([trainLoader.close(), plainLoader.close(), testLoader.close()]);
  }
}

function pick(m: Metrics) {
  return { image_auroc: m.image_auroc, image_ap: m.image_ap, pixel_auroc: m.pixel_auroc, pixel_ap: m.pixel_ap, pixel_pro: m.pixel_pro };
}
