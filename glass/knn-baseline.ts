// A PatchCore-style nearest-neighbour baseline on GLASS's own patch embedding: each test patch
// scores its distance to the closest training patch; maps are upsampled and smoothed as GLASS's
// are. No training, so it measures how separable a dataset is for a backbone: used to check that
// the synthetic dataset needs ImageNet features (a random-weight backbone must do worse), and as a
// reference point next to GLASS runs: it reports image/pixel AUROC, AP and PRO computed exactly as
// `glass test` does (glass/loop.ts evaluate), under the same ground-truth mask rule and input
// geometry. `glass train --baseline knn` runs it after training on the run's own features;
// bench/knn-baseline.ts is its command line.
import * as E from '../engine/index.ts';
import type { Backbone } from '../models/backbone.ts';
import { AnomalyDataset, type DatasetKind, type FolderLayout, type Geometry } from '../data/datasets.ts';
import { DataLoader, type TrainBatch, type TestBatch } from '../data/loader.ts';
import { Glass, DEFAULT_CONFIG } from './glass.ts';
import { gaussianFilter2d } from './gaussian.ts';
import { rocAuc } from './metrics.ts';
import { evaluate, concatFloat32, type Metrics } from './loop.ts';
import { MASK_RULES, type MaskRule } from './trainer.ts';

export interface KnnOptions {
  kind?: DatasetKind;
  root: string;
  className: string;
  resize: number;
  imagesize: number;
  layers: string[];
  embed?: number;
  /**
   * Largest bank chunk, and largest block of distances, in bytes (default and at most: the
   * engine's storage binding limit, E.maxBindingBytes()). Smaller values only add dispatches.
   */
  chunkBytes?: number;
  /** ground truth of the pixel metrics, as `glass train/test --mask_rule` (default 'binary') */
  maskRule?: MaskRule;
  /** input geometry, as `glass train --geometry` (default 'crop') */
  geometry?: Geometry;
  /** explicit layout for dataset kind 'folder' */
  folder?: FolderLayout;
}

export interface KnnResult extends Metrics {
  imageAuroc: number;
  pixelAuroc: number | null;
  /** per defect type: pixel AUROC over that type's and the good images */
  byType: Record<string, number>;
  /** each test image's score (its largest upsampled patch distance), in test order */
  imageScores: number[];
  /** wall-clock seconds: building the bank (embedding the training set), scoring the test set */
  seconds: { bank: number; test: number };
  maskRule: MaskRule;
}

/**
 * Rows per bank chunk: a chunk [rows, dim] and one image's distances to it [queryRows, rows]
 * must each fit one storage binding (a 300-image bank of 28x28 patches x 256 dims is 230 MiB,
 * lavapipe binds 128 MiB).
 */
export function bankChunkRows(dim: number, queryRows: number, limitBytes = E.maxBindingBytes()): number {
  return Math.max(1, Math.floor(Math.min(limitBytes, E.maxBindingBytes()) / (4 * Math.max(dim, queryRows))));
}

interface BankChunk {
  feats: E.Tensor; // [rows, D]
  norms: E.Tensor; // [rows]: squared norms of feats
}

/**
 * A nearest-neighbour memory bank kept as chunks of at most `rowsPerChunk` rows: rows are
 * appended in order and sealed into chunks as they fill, so no tensor holds the whole bank.
 */
export class FeatureBank {
  readonly chunks: BankChunk[] = [];
  private pending: E.Tensor[] = [];
  private pendingRows = 0;
  constructor(readonly rowsPerChunk: number) {}

  /** Appends rows [n, D]; the bank takes ownership of `x`. */
  add(x: E.Tensor): void {
    this.pending.push(E.keep(x));
    this.pendingRows += x.shape[0];
    while (this.pendingRows >= this.rowsPerChunk) this.seal(this.rowsPerChunk);
  }

  /** Seals the last, partial chunk. */
  finish(): this {
    if (this.pendingRows > 0) this.seal(this.pendingRows);
    return this;
  }

  get rows(): number {
    return this.chunks.reduce((a, c) => a + c.feats.shape[0], 0) + this.pendingRows;
  }

  private seal(rows: number): void {
    const parts: E.Tensor[] = [];
    const consumed: E.Tensor[] = [];
    let need = rows;
    while (need > 0) {
      const t = this.pending[0];
      const n = t.shape[0];
      if (n <= need) {
        this.pending.shift();
        parts.push(t);
        consumed.push(t);
        need -= n;
      } else {
        // a batch that straddles two chunks: the rest stays pending as a view of it
        const head = E.slice(t, 0, 0, need);
        parts.push(head);
        consumed.push(head, t);
        this.pending[0] = E.keep(E.slice(t, 0, need, n));
        need = 0;
      }
    }
    this.pendingRows -= rows;
    const chunk = E.tidy(() => {
      const feats = E.cat(parts, 0);
      return { feats, norms: E.sum(E.square(feats), 1) };
    });
    consumed.forEach((t) => t.dispose());
    this.chunks.push({ feats: E.keep(chunk.feats), norms: E.keep(chunk.norms) });
  }

  /**
   * Distance from each row of x [P, D] to its nearest bank row, [P]: the squared distances to
   * one chunk at a time ([P, chunk rows]), reduced by a running minimum.
   */
  nearest(x: E.Tensor): E.Tensor {
    if (this.pendingRows > 0) throw new Error('FeatureBank: finish() before nearest()');
    return E.tidy(() => {
      const xNorm = E.sum(E.square(x), 1, true);
      let best: E.Tensor | null = null;
      for (const c of this.chunks) {
        const d2 = E.add(E.sub(xNorm, E.mul(E.matmul(x, c.feats.T), 2)), E.unsqueeze(c.norms, 0));
        const m = E.min(d2, 1);
        best = best ? E.minimum(best, m) : m;
      }
      if (!best) throw new Error('FeatureBank: the bank is empty');
      return E.sqrt(E.clamp(best, 0, 3e38));
    });
  }

  dispose(): void {
    for (const c of this.chunks) (c.feats.dispose(), c.norms.dispose());
    this.pending.forEach((t) => t.dispose());
    this.chunks.length = 0;
    this.pending = [];
    this.pendingRows = 0;
  }
}

export async function knnBaseline(backbone: Backbone, o: KnnOptions): Promise<KnnResult> {
  const norm = { mean: [...backbone.mean], std: [...backbone.std] };
  const D = o.embed ?? 256;
  const maskRule = o.maskRule ?? 'binary';
  const t0 = performance.now();
  const g = new Glass(backbone, { ...DEFAULT_CONFIG, layers: o.layers, pretrainEmbedDimension: D, targetEmbedDimension: D });
  const common = {
    kind: o.kind ?? 'mvtec',
    root: o.root,
    className: o.className,
    folder: o.folder,
    resize: o.resize,
    imagesize: o.imagesize,
    geometry: o.geometry ?? 'crop',
    norm,
    warn: () => {},
  };
  const train = new DataLoader(AnomalyDataset.open({ ...common, split: 'train', las: false }), { batchSize: 8, shuffle: false, workers: 0 });
  let bank: FeatureBank | null = null;
  for await (const raw of train.epoch(0)) {
    const b = raw as TrainBatch;
    const x = E.tidy(() => g.embed(E.tensor(b.images, { shape: b.shape })));
    // the patch grid is known from the first embedding: test images have the same size
    bank ??= new FeatureBank(bankChunkRows(D, g.grid![0] * g.grid![1], o.chunkBytes));
    bank.add(x);
  }
  if (!bank) throw new Error(`knnBaseline: no training images in ${o.root} (${o.className})`);
  bank.finish();
  const t1 = performance.now();
  // one image at a time: its distances to one bank chunk at a time stay under the binding limit
  const test = new DataLoader(AnomalyDataset.open({ ...common, split: 'test', maskResample: MASK_RULES[maskRule] }), {
    batchSize: 1,
    shuffle: false,
    workers: 0,
  });
  const scores: number[] = [],
    labels: number[] = [],
    types: string[] = [];
  const maps: Float32Array[] = [],
    masks: Uint8Array[] = [],
    rawMasks: Float32Array[] = [];
  let size: [number, number] = [0, 0];
  for await (const raw of test.epoch(0)) {
    const b = raw as TestBatch;
    const [, , h, w] = b.shape;
    size = [h, w];
    const up = E.tidy(() => {
      const nn = bank!.nearest(g.embed(E.tensor(b.images, { shape: b.shape })));
      const [h0, w0] = g.grid!;
      return E.reshape(E.interpolate(E.reshape(nn, [1, 1, h0, w0]), { size: [h, w], mode: 'bilinear', alignCorners: false }), [h * w]);
    });
    const row = (await up.data()) as Float32Array;
    up.dispose();
    scores.push(row.reduce((m, v) => Math.max(m, v), -Infinity));
    labels.push(b.labels[0]);
    types.push(b.paths[0].split(/[\\/]/).slice(-2)[0]);
    maps.push(gaussianFilter2d(row, h, w, 4));
    masks.push(Uint8Array.from(b.masks.subarray(0, h * w), (v) => (v >= 1 ? 1 : 0)));
    rawMasks.push(b.masks.slice(0, h * w));
  }
  const t2 = performance.now();
  await train.close();
  await test.close();
  bank.dispose();
  g.dispose();
  const pixelAuc = (keep: (i: number) => boolean) => {
    const idx = [...maps.keys()].filter(keep);
    const m = new Uint8Array(idx.length * maps[0].length),
      s = new Float32Array(m.length);
    idx.forEach((i, k) => (m.set(masks[i], k * maps[0].length), s.set(maps[i], k * maps[0].length)));
    return m.some((v) => v) ? rocAuc(m, s) : null;
  };
  const byType: Record<string, number> = {};
  for (const t of new Set(types)) if (t !== 'good') byType[t] = pixelAuc((i) => types[i] === t || labels[i] === 0) ?? NaN;
  // the metrics exactly as `glass test` computes them from its predictions
  const metrics = evaluate(
    {
      scores: Float32Array.from(scores),
      labels: Uint8Array.from(labels),
      maps: concatFloat32(maps),
      masks: concatFloat32(rawMasks),
      paths: [],
      images: [],
      size,
    },
    true,
  );
  return {
    ...metrics,
    imageAuroc: rocAuc(labels, scores),
    pixelAuroc: pixelAuc(() => true),
    byType,
    imageScores: scores,
    seconds: { bank: (t1 - t0) / 1000, test: (t2 - t1) / 1000 },
    maskRule,
  };
}
