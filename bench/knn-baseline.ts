// A PatchCore-style nearest-neighbour baseline on GLASS's own patch embedding: each test patch
// scores its distance to the closest training patch; maps are upsampled and smoothed as GLASS's
// are. No training, so it measures how separable a dataset is for a backbone: used to check that
// the synthetic dataset needs ImageNet features (a random-weight backbone must do worse), and as a
// reference point next to GLASS runs.
//   npx tsx bench/knn-baseline.ts --data ROOT -d CLASS [--imagesize 128 --resize 144] [--random_backbone]
import { pathToFileURL } from 'node:url';
import * as E from '../engine/index.ts';
import type { Backbone } from '../models/backbone.ts';
import { AnomalyDataset, type DatasetKind } from '../data/datasets.ts';
import { DataLoader, type TrainBatch, type TestBatch } from '../data/loader.ts';
import { Glass, DEFAULT_CONFIG } from '../glass/glass.ts';
import { gaussianFilter2d } from '../glass/gaussian.ts';
import { rocAuc } from '../glass/metrics.ts';

export interface KnnOptions {
  kind?: DatasetKind;
  root: string;
  className: string;
  resize: number;
  imagesize: number;
  layers: string[];
  embed?: number;
}

export interface KnnResult {
  imageAuroc: number;
  pixelAuroc: number | null;
  /** per defect type: pixel AUROC over that type's and the good images */
  byType: Record<string, number>;
}

export async function knnBaseline(backbone: Backbone, o: KnnOptions): Promise<KnnResult> {
  const norm = { mean: [...backbone.mean], std: [...backbone.std] };
  const D = o.embed ?? 256;
  const g = new Glass(backbone, { ...DEFAULT_CONFIG, layers: o.layers, pretrainEmbedDimension: D, targetEmbedDimension: D });
  const common = { kind: o.kind ?? 'mvtec', root: o.root, className: o.className, resize: o.resize, imagesize: o.imagesize, norm, warn: () => {} };
  const train = new DataLoader(AnomalyDataset.open({ ...common, split: 'train', las: false }), { batchSize: 8, shuffle: false, workers: 0 });
  const bank: E.Tensor[] = [];
  for await (const raw of train.epoch(0)) {
    const b = raw as TrainBatch;
    bank.push(E.keep(g.embed(E.tensor(b.images, { shape: b.shape }))));
  }
  const memory = E.keep(E.cat(bank, 0));
  bank.forEach((t) => t.dispose());
  const memNorm = E.keep(E.sum(E.square(memory), 1));
  // one image at a time keeps the distance matrix under the binding-size limit
  const test = new DataLoader(AnomalyDataset.open({ ...common, split: 'test' }), { batchSize: 1, shuffle: false, workers: 0 });
  const scores: number[] = [], labels: number[] = [], types: string[] = [];
  const maps: Float32Array[] = [], masks: Uint8Array[] = [];
  for await (const raw of test.epoch(0)) {
    const b = raw as TestBatch;
    const [, , h, w] = b.shape;
    const up = E.tidy(() => {
      const x = g.embed(E.tensor(b.images, { shape: b.shape }));
      const d2 = E.add(E.sub(E.sum(E.square(x), 1, true), E.mul(E.matmul(x, memory.T), 2)), E.unsqueeze(memNorm, 0));
      const nn = E.sqrt(E.clamp(E.min(d2, 1), 0, 3e38));
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
  }
  await train.close();
  await test.close();
  memory.dispose();
  memNorm.dispose();
  g.dispose();
  const pixelAuc = (keep: (i: number) => boolean) => {
    const idx = [...maps.keys()].filter(keep);
    const m = new Uint8Array(idx.length * maps[0].length), s = new Float32Array(m.length);
    idx.forEach((i, k) => (m.set(masks[i], k * maps[0].length), s.set(maps[i], k * maps[0].length)));
    return m.some((v) => v) ? rocAuc(m, s) : null;
  };
  const byType: Record<string, number> = {};
  for (const t of new Set(types)) if (t !== 'good') byType[t] = pixelAuc((i) => types[i] === t || labels[i] === 0) ?? NaN;
  return { imageAuroc: rocAuc(labels, scores), pixelAuroc: pixelAuc(() => true), byType };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { parseArgs } = await import('node:util');
  const { createBackbone } = await import('../models/registry.ts');
  const { SHARED_MOBILENET } = await import('../glass/cli.ts');
  const { values: v } = parseArgs({
    options: {
      data: { type: 'string' }, d: { type: 'string' }, imagesize: { type: 'string', default: '128' }, resize: { type: 'string', default: '144' },
      weights: { type: 'string', default: SHARED_MOBILENET }, random_backbone: { type: 'boolean', default: false },
    },
  });
  if (!v.data || !v.d) throw new Error('usage: npx tsx bench/knn-baseline.ts --data ROOT -d CLASS [--imagesize N --resize N] [--weights DIR | --random_backbone]');
  await E.initDevice();
  const bb = v.random_backbone ? createBackbone('mobilenet_v1', { random: true, seed: 0 }) : createBackbone('mobilenet_v1', { weights: v.weights });
  const r = await knnBaseline(bb, { root: v.data, className: v.d, resize: +v.resize!, imagesize: +v.imagesize!, layers: ['conv_pw_5', 'conv_pw_11'] });
  console.log(`${v.d} ${v.imagesize} px, ${v.random_backbone ? 'random' : 'ImageNet'} MobileNetV1: nearest-neighbour image AUROC ${r.imageAuroc.toFixed(4)}, pixel AUROC ${r.pixelAuroc?.toFixed(4) ?? '-'}`);
  for (const [t, a] of Object.entries(r.byType)) console.log(`  ${t}: pixel AUROC ${a.toFixed(4)}`);
  E.releaseDevice();
}
