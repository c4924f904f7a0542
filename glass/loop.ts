// The pieces of GLASS's training and evaluation loop that need no files, worker threads or
// console: the GPU cache of fixed images' embeddings, one training step, predict over batches of
// normalised images however they were made (the DataLoader's, or batchesOf() in memory), and the
// metrics. Host-neutral; trainer.ts drives them for the CLI with datasets, logs and checkpoints.
import * as E from '../engine/index.ts';
import type { TestBatch } from '../data/loader.ts';
import { Glass, type IterationStats } from './glass.ts';
import { rocAuc, averagePrecision, computePro } from './metrics.ts';
import { gaussianFilter2d } from './gaussian.ts';

export interface Metrics {
  /** null when the test split has no anomalous (or no good) images */
  image_auroc: number | null;
  image_ap: number | null;
  pixel_auroc: number | null;
  pixel_ap: number | null;
  pixel_pro: number | null;
}

/** Embeddings of fixed (unaugmented) images, per image path, held on the GPU. */
export class EmbeddingCache {
  private map = new Map<string, E.Tensor>();
  private bytes = 0;
  constructor(private readonly budget: number) {}
  get(path: string): E.Tensor | undefined {
    return this.map.get(path);
  }
  /** Caches rows [b*L, (b+1)*L) of `emb` for each path; returns false when over budget. */
  put(paths: string[], emb: E.Tensor): void {
    const L = emb.shape[0] / paths.length;
    paths.forEach((p, b) => {
      if (this.map.has(p)) return;
      const size = L * emb.shape[1] * 4;
      if (this.bytes + size > this.budget) return;
      this.map.set(p, E.keep(E.slice(emb, 0, b * L, (b + 1) * L)));
      this.bytes += size;
    });
  }
  dispose(): void {
    for (const t of this.map.values()) t.dispose();
    this.map.clear();
  }
}

function imagesTensor(data: Float32Array, shape: readonly number[]): E.Tensor {
  return E.tensor(data, { shape: [...shape] });
}

/** Embeds a batch of fixed images, using and filling the cache. */
export function embedFixed(glass: Glass, cache: EmbeddingCache, paths: string[], images: Float32Array, shape: readonly number[]): E.Tensor {
  const cached = paths.map((p) => cache.get(p));
  if (cached.every((t) => t)) return E.cat(cached as E.Tensor[]);
  const emb = E.tidy(() => glass.embed(imagesTensor(images, shape)));
  cache.put(paths, emb);
  return emb;
}

/** What predict reads of a batch: the DataLoader's test batches, or batchesOf()'s. */
export type ScoreBatch = Pick<TestBatch, 'paths' | 'images' | 'labels' | 'masks' | 'shape'>;

/** A DataLoader (its epoch 0 is read), or batches in any (async) iterable. */
export type BatchSource = { epoch(epoch: number): AsyncIterable<unknown> } | AsyncIterable<ScoreBatch> | Iterable<ScoreBatch>;

export interface Prediction {
  scores: Float32Array;
  labels: Uint8Array;
  maps: Float32Array;
  masks: Float32Array;
  paths: string[];
  images: Float32Array[];
  size: [number, number];
}

/** Scores and smoothed maps of the whole test split (the reference's predict + RescaleSegmentor). */
export async function predict(glass: Glass, batches: BatchSource, cache: EmbeddingCache | null, keepImages = false): Promise<Prediction> {
  const scores: number[] = [];
  const labels: number[] = [];
  const maps: Float32Array[] = [];
  const masks: Float32Array[] = [];
  const paths: string[] = [];
  const images: Float32Array[] = [];
  let H = 0;
  let W = 0;
  const source = 'epoch' in batches ? (batches.epoch(0) as AsyncIterable<ScoreBatch>) : batches;
  for await (const b of source) {
    const [B, , h, w] = b.shape;
    H = h;
    W = w;
    const up = E.tidy(() => {
      const emb = cache ? embedFixed(glass, cache, b.paths, b.images, b.shape) : glass.embed(imagesTensor(b.images, b.shape));
      const ps = glass.patchScores(emb, B);
      const s = E.max(E.reshape(ps, [B, -1]), 1);
      const m = E.reshape(E.interpolate(E.unsqueeze(ps, 1), { size: [h, w], mode: 'bilinear', alignCorners: false }), [B, h * w]);
      return E.cat([s.reshape([B, 1]), m], 1);
    });
    const d = (await up.data()) as Float32Array;
    up.dispose();
    for (let i = 0; i < B; i++) {
      const row = d.subarray(i * (h * w + 1), (i + 1) * (h * w + 1));
      scores.push(row[0]);
      maps.push(gaussianFilter2d(row.subarray(1) as Float32Array, h, w, 4));
      masks.push(b.masks.slice(i * h * w, (i + 1) * h * w));
      labels.push(b.labels[i]);
      paths.push(b.paths[i]);
      if (keepImages) images.push(b.images.slice(i * 3 * h * w, (i + 1) * 3 * h * w));
    }
  }
  return {
    scores: Float32Array.from(scores),
    labels: Uint8Array.from(labels),
    maps: concatFloat32(maps),
    masks: concatFloat32(masks),
    paths,
    images,
    size: [H, W],
  };
}

/** Per-item arrays joined into one (batches of images or masks, maps of a test set). */
export function concatFloat32(xs: readonly ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(xs.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

/** Metrics need both good and anomalous images. */
export function isLabelled(labels: ArrayLike<number>): boolean {
  const l = Array.from(labels);
  return l.includes(0) && l.includes(1);
}

const NO_METRICS: Metrics = { image_auroc: null, image_ap: null, pixel_auroc: null, pixel_ap: null, pixel_pro: null };

/**
 * Image AUROC/AP always; pixel AUROC when the test set has ground-truth masks, and pixel AP and
 * PRO (costly: per pixel) with `full` (else null).
 */
export function evaluate(pred: Prediction, full: boolean): Metrics {
  if (!isLabelled(pred.labels)) return NO_METRICS;
  const image_auroc = rocAuc(pred.labels, pred.scores);
  const image_ap = averagePrecision(pred.labels, pred.scores);
  const hasMasks = pred.masks.some((v) => v > 0);
  if (!hasMasks) return { image_auroc, image_ap, pixel_auroc: null, pixel_ap: null, pixel_pro: null };
  const bin = Uint8Array.from(pred.masks, (v) => (v >= 1 ? 1 : 0));
  const pixel_auroc = rocAuc(bin, pred.maps);
  let pixel_ap: number | null = null;
  let pixel_pro: number | null = null;
  if (full) {
    pixel_ap = averagePrecision(bin, pred.maps);
    try {
      const [h, w] = pred.size;
      // the soft mask: compute_pro weighs fractional ground truth in its FPR (metrics.ts proCurve)
      pixel_pro = computePro(pred.masks, pred.maps, pred.labels.length, h, w);
    } catch {
      pixel_pro = 0; // the reference's _evaluate does the same when PRO is undefined
    }
  }
  return { image_auroc, image_ap, pixel_auroc, pixel_ap, pixel_pro };
}

/** Whether every parameter and BatchNorm statistic of the heads is finite (x * 0 is 0 only for finite x). */
export async function weightsFinite(glass: Glass): Promise<boolean> {
  const mods = [glass.discriminator, ...(glass.projection ? [glass.projection] : [])];
  const all = mods.flatMap((m) => [...m.parameters(), ...m.buffers().filter((b) => b.dtype === 'f32')]);
  const t = E.noGrad(() => E.tidy(() => all.map((p) => E.sum(E.mul(p, 0))).reduce((a, b) => E.add(a, b))));
  const v = (await t.data())[0];
  t.dispose();
  return Number.isFinite(v);
}

/**
 * Batches for predict from images in memory: normalised CHW float tensors of one size (as
 * data/transforms.ts's toTensor gives), named by `paths` (default image-<i>), with labels and
 * ground-truth masks (H x W, 0/1) when known (else good and empty).
 */
export function* batchesOf(
  images: readonly Float32Array[],
  size: readonly [height: number, width: number],
  opts: { batchSize?: number; paths?: readonly string[]; labels?: ArrayLike<number>; masks?: readonly (Float32Array | null)[] } = {},
): Generator<ScoreBatch> {
  const [h, w] = size;
  const bs = opts.batchSize ?? 8;
  if (!(bs >= 1)) throw new Error(`batchesOf: batchSize must be at least 1, got ${bs}`);
  images.forEach((img, i) => {
    if (img.length !== 3 * h * w) throw new Error(`batchesOf: image ${i} has ${img.length} values, expected 3x${h}x${w}`);
  });
  for (let s = 0; s < images.length; s += bs) {
    const n = Math.min(bs, images.length - s);
    const batch: ScoreBatch = {
      paths: [],
      images: new Float32Array(n * 3 * h * w),
      labels: new Uint8Array(n),
      masks: new Float32Array(n * h * w),
      shape: [n, 3, h, w],
    };
    for (let i = 0; i < n; i++) {
      batch.paths.push(opts.paths?.[s + i] ?? `image-${s + i}`);
      batch.images.set(images[s + i], i * 3 * h * w);
      batch.labels[i] = opts.labels?.[s + i] ?? 0;
      const m = opts.masks?.[s + i];
      if (m) {
        if (m.length !== h * w) throw new Error(`batchesOf: mask ${s + i} has ${m.length} values, expected ${h}x${w}`);
        batch.masks.set(m, i * h * w);
      }
    }
    yield batch;
  }
}

/**
 * One training iteration on a batch of normalised images [B, 3, H, W] and their LAS images and
 * feature-grid masks (las.ts's synthesize gives both), the fixed images' embeddings cached when a
 * cache is given. Returns the iteration's statistics (one readback).
 */
export async function trainStep(
  glass: Glass,
  batch: { paths: string[]; images: Float32Array; augs: Float32Array; masksS: Float32Array; shape: readonly number[] },
  cache: EmbeddingCache | null = null,
): Promise<IterationStats> {
  const statsT = E.tidy(() => {
    const embTrue = cache ? embedFixed(glass, cache, batch.paths, batch.images, batch.shape) : glass.embed(imagesTensor(batch.images, batch.shape));
    const embAug = glass.embed(imagesTensor(batch.augs, batch.shape));
    return glass.trainIteration(embTrue, embAug, batch.masksS);
  });
  return Glass.readStats(statsT);
}
