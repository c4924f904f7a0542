// The page's training and scoring pipeline on images in memory, as the CLI's trainer does it
// (glass/trainer.ts with data/datasets.ts): Resize(resize) + CenterCrop(imagesize) + the
// backbone's normalisation; per epoch the centre from the plain training images, then training
// iterations on LAS images (built-in procedural textures, the same per-item seeds as the
// DataLoader: Rng(deriveSeed(seed, epoch, index)), fork 10 for the image, 11 for LAS), evaluation
// on the test images when they are labelled; at the end the decision threshold from the good test
// (held-out) images and a checkpoint in the CLI's format (safetensors + ModelSpec), which
// `glass-ts test/predict --checkpoint` loads. Host-neutral (it runs in Node too: the timing
// comparison in the report drives it there); the page passes hooks to stay responsive.
import {
  E,
  BUILTIN_TEXTURES,
  DEFAULT_CONFIG,
  EmbeddingCache,
  Glass,
  Rng,
  TextureSource,
  batchesOf,
  centerCrop,
  checkpointBytes,
  deriveSeed,
  concatFloat32,
  embedFixed,
  evaluate,
  goodImageThreshold,
  holdOutSplit,
  isLabelled,
  predict,
  renderSample,
  resize,
  synthesize,
  toTensor,
  trainStep,
  DEFECT_TYPES,
  type Backbone,
  type GlassConfig,
  type Image,
  type IterationStats,
  type Metrics,
  type ModelSpec,
  type Normalization,
  type Prediction,
  type SyntheticClass,
  type Threshold,
  type WeightsIdentity,
} from './lib.ts';

export interface TrainSettings {
  layers: string[];
  resize: number;
  imagesize: number;
  embed: number;
  hidden: number;
  epochs: number;
  batchSize: number;
  lr: number;
  /** training samples per epoch (the CLI's --limit; it stops after the batch that passes it) */
  limit: number;
  seed: number;
  /** 1 hypersphere, 0 manifold */
  svd: number;
}

/** The demo's sizes (the CLI demo's, smaller for a browser) and the test page's tiny ones. */
export const DEMO_SETTINGS: TrainSettings = {
  layers: ['conv_pw_3', 'conv_pw_5'],
  resize: 72,
  imagesize: 64,
  embed: 128,
  hidden: 64,
  epochs: 6,
  batchSize: 8,
  lr: 0.0005,
  limit: 24,
  seed: 0,
  svd: 0,
};
export const TEST_SETTINGS: TrainSettings = {
  layers: ['conv_pw_3', 'conv_pw_5'],
  resize: 32,
  imagesize: 32,
  embed: 32,
  hidden: 16,
  epochs: 2,
  batchSize: 4,
  lr: 0.0005,
  limit: 8,
  seed: 0,
  svd: 0,
};

/** A picture the model scores: its name, the decoded pixels, and when known its label and ground truth. */
export interface Picture {
  name: string;
  image: Image;
  label?: 0 | 1;
  /** 0/255 one-channel ground truth at the image's size */
  mask?: Image | null;
}

/** The input the model sees: Resize(resize) of the shorter side, then CenterCrop(imagesize). */
export function modelInput(img: Image, s: { resize: number; imagesize: number }): Image {
  return centerCrop(resize(img, s.resize), s.imagesize);
}

/** A picture as the normalised CHW tensor of the model's input (and its crop, for display). */
export function prepare(
  p: Picture,
  s: { resize: number; imagesize: number },
  norm: Normalization,
): { tensor: Float32Array; crop: Image; mask: Float32Array | null } {
  const crop = modelInput(p.image, s);
  let mask: Float32Array | null = null;
  if (p.mask) {
    const m = centerCrop(resize(p.mask, s.resize, 'nearest'), s.imagesize);
    mask = Float32Array.from({ length: s.imagesize * s.imagesize }, (_, i) => (m.data[i * m.channels] > 0 ? 1 : 0));
  }
  return { tensor: toTensor(crop, norm), crop, mask };
}

/** The built-in synthetic class in memory: `train` good images, `test` half good, half defective (every defect type), alternating. */
export function syntheticSet(cls: SyntheticClass, size: number, counts: { train: number; test: number }, seed = 0): { train: Picture[]; test: Picture[] } {
  const train = Array.from({ length: counts.train }, (_, i) => ({
    name: `train/good/${String(i).padStart(3, '0')}`,
    image: renderSample(cls, size, new Rng(deriveSeed(seed, 0, i))).image,
    label: 0 as const,
  }));
  // good and defective alternate (every defect type in turn), so that any first row shows both
  const test: Picture[] = [];
  for (let i = 0; i < counts.test; i++) {
    const defect = i % 2 === 0 ? null : DEFECT_TYPES[((i - 1) / 2) % DEFECT_TYPES.length];
    const s = renderSample(cls, size, new Rng(deriveSeed(seed, 1, i)), defect);
    test.push({ name: `test/${defect ?? 'good'}/${String(i).padStart(3, '0')}`, image: s.image, label: defect ? 1 : 0, mask: s.mask });
  }
  return { train, test };
}

export { holdOutSplit };

export interface Progress {
  epoch: number;
  epochs: number;
  iteration: number;
  iterations: number;
  stats?: IterationStats;
  metrics?: Metrics;
  /** seconds spent in training steps so far, and their count */
  stepSeconds: number;
  steps: number;
}

export interface TrainHooks {
  onProgress?(p: Progress): void;
  /** awaited between iterations (the page yields to its event loop here) */
  pause?(): Promise<void>;
  /** checked between iterations: true stops training after the current one */
  cancelled?(): boolean;
}

export interface Trained {
  glass: Glass;
  settings: TrainSettings;
  cfg: GlassConfig;
  pred: Prediction;
  metrics: Metrics | null;
  threshold: Threshold | null;
  crops: Image[];
  /** milliseconds: one training step on average (the first, with shader compilation, left out where there are more) */
  stepMs: number;
  /** test images scored per second in the final prediction */
  imagesPerSecond: number;
  epochsDone: number;
}

export function glassConfig(s: TrainSettings): GlassConfig {
  return {
    ...DEFAULT_CONFIG,
    layers: [...s.layers],
    pretrainEmbedDimension: s.embed,
    targetEmbedDimension: s.embed,
    dscHidden: s.hidden,
    lr: s.lr,
    svd: s.svd,
  };
}

/** Trains GLASS on `train` (good pictures) and scores `test` after every epoch (metrics where labelled). */
export async function trainGlass(backbone: Backbone, s: TrainSettings, train: Picture[], test: Picture[], hooks: TrainHooks = {}): Promise<Trained> {
  const deepest = Math.max(...s.layers.map((l) => backbone.tapInfo(l).stride));
  if (s.imagesize < deepest) throw new Error(`image size ${s.imagesize}: too small for ${backbone.name} tap stride ${deepest}`);
  const norm: Normalization = { mean: [...backbone.mean], std: [...backbone.std] };
  const I = s.imagesize;
  const trainT = train.map((p) => prepare(p, s, norm).tensor);
  const testP = test.map((p) => prepare(p, s, norm));
  const labels = test.map((p) => p.label ?? 0);
  const testBatches = () =>
    batchesOf(
      testP.map((t) => t.tensor),
      [I, I],
      { batchSize: s.batchSize, labels, masks: testP.map((t) => t.mask), paths: test.map((p) => p.name) },
    );
  const labelled = isLabelled(labels);
  const cfg = glassConfig(s);
  E.manualSeed(s.seed);
  const glass = new Glass(backbone, cfg);
  const textures = new TextureSource(BUILTIN_TEXTURES);
  const featSize = Math.trunc(I / backbone.tapInfo(s.layers[0]).stride);
  const las = { resize: s.resize, imagesize: I, norm, featSize, randAug: true };
  const trainCache = new EmbeddingCache(256 << 20);
  const testCache = new EmbeddingCache(256 << 20);
  const perEpoch = Math.min(Math.ceil(train.length / s.batchSize), Math.floor(s.limit / s.batchSize) + 1);
  const iterations = perEpoch * s.epochs;
  let iteration = 0;
  let stepSeconds = 0;
  let steps = 0;
  let firstStep = 0;
  let metrics: Metrics | null = null;
  let epochsDone = 0;
  const names = train.map((p, i) => `train:${i}:${p.name}`);
  try {
    for (let epoch = 0; epoch < s.epochs; epoch++) {
      // 1. the centre from the plain training images (a mean of batch means, as the trainer)
      const plain = new Rng(deriveSeed(s.seed + 1, epoch)).permutation(train.length);
      const embs: { emb: E.Tensor; batch: number }[] = [];
      for (let b = 0; b < plain.length; b += s.batchSize) {
        const idx = plain.slice(b, b + s.batchSize);
        embs.push({
          emb: embedFixed(
            glass,
            trainCache,
            idx.map((i) => names[i]),
            concatFloat32(idx.map((i) => trainT[i])),
            [idx.length, 3, I, I],
          ),
          batch: idx.length,
        });
      }
      glass.setCenterFromBatches(embs);
      embs.forEach((e) => e.emb.dispose());
      // 2. training iterations on LAS images
      const order = new Rng(deriveSeed(s.seed, epoch)).permutation(train.length);
      let samples = 0;
      for (let b = 0; b < order.length && samples <= s.limit; b += s.batchSize) {
        const idx = order.slice(b, b + s.batchSize);
        const made = idx.map((i) => {
          const rng = new Rng(deriveSeed(s.seed, epoch, i));
          rng.fork(10);
          return synthesize(trainT[i], textures, rng.fork(11), las);
        });
        const t0 = performance.now();
        const stats = await trainStep(
          glass,
          {
            paths: idx.map((i) => names[i]),
            images: concatFloat32(idx.map((i) => trainT[i])),
            augs: concatFloat32(made.map((m) => m.aug)),
            masksS: concatFloat32(made.map((m) => m.maskS)),
            shape: [idx.length, 3, I, I],
          },
          trainCache,
        );
        const dt = (performance.now() - t0) / 1000;
        if (steps === 0) firstStep = dt;
        stepSeconds += dt;
        steps++;
        const bad = Object.entries(stats).find(([, v]) => !Number.isFinite(v));
        if (bad) throw new Error(`epoch ${epoch + 1}, iteration ${iteration + 1}: ${bad[0]} is ${bad[1]}: training diverged (try a lower learning rate)`);
        samples += idx.length;
        iteration++;
        hooks.onProgress?.({ epoch, epochs: s.epochs, iteration, iterations, stats, stepSeconds, steps });
        await hooks.pause?.();
        if (hooks.cancelled?.()) break;
      }
      epochsDone = epoch + 1;
      // 3. evaluation (labelled test images only)
      if (labelled) {
        const pred = await predict(glass, testBatches(), testCache);
        metrics = evaluate(pred, false);
        hooks.onProgress?.({ epoch, epochs: s.epochs, iteration, iterations, metrics, stepSeconds, steps });
        await hooks.pause?.();
      }
      if (hooks.cancelled?.()) break;
    }
    const t0 = performance.now();
    const pred = await predict(glass, testBatches(), null, false);
    const imagesPerSecond = test.length / ((performance.now() - t0) / 1000);
    const final = labelled ? evaluate(pred, false) : null;
    const threshold = goodImageThreshold(pred);
    const stepMs = (1000 * (steps > 1 ? stepSeconds - firstStep : stepSeconds)) / Math.max(steps > 1 ? steps - 1 : steps, 1);
    return { glass, settings: s, cfg, pred, metrics: final, threshold, crops: testP.map((t) => t.crop), stepMs, imagesPerSecond, epochsDone };
  } catch (err) {
    glass.dispose();
    throw err;
  } finally {
    trainCache.dispose();
    testCache.dispose();
  }
}

/** The ModelSpec of a trained model (the CLI's, glass/cli.ts cmdTrain). */
export function modelSpec(t: Trained, backbone: Backbone, weights: WeightsIdentity, trainedOn: { dataset: string; className: string }): ModelSpec {
  const s = t.settings;
  return {
    backbone: backbone.name,
    weights,
    layers: [...s.layers],
    resize: s.resize,
    imagesize: s.imagesize,
    mean: [...backbone.mean],
    std: [...backbone.std],
    pretrainEmbedDimension: t.cfg.pretrainEmbedDimension,
    targetEmbedDimension: t.cfg.targetEmbedDimension,
    dscLayers: t.cfg.dscLayers,
    dscHidden: t.cfg.dscHidden,
    preProj: t.cfg.preProj,
    patchsize: 3,
    svd: t.cfg.svd,
    batchSize: s.batchSize,
    threshold: t.threshold,
    trainedOn,
  };
}

/** The checkpoint bytes (as the CLI's ckpt_best.safetensors: weights, training record, ModelSpec with the threshold). */
export function trainedCheckpoint(t: Trained, spec: ModelSpec): Promise<Uint8Array> {
  const m = t.metrics;
  return checkpointBytes(t.glass, {
    epoch: t.epochsDone - 1,
    epoch_base: 0,
    seed: t.settings.seed,
    config: t.cfg,
    source: 'glass-ts web app',
    metrics: m ? { image_auroc: m.image_auroc, image_ap: m.image_ap, pixel_auroc: m.pixel_auroc, pixel_ap: m.pixel_ap, pixel_pro: m.pixel_pro } : null,
    model: spec,
  });
}

/** Sample names -> images in SyntheticClass order, for the demo's picker. */
export function isSyntheticClass(s: string): s is SyntheticClass {
  return s === 'woodgrain' || s === 'button';
}
