// The GLASS method on our engine: embedding, per-epoch centre, one training iteration
// (GAS with fused ascent/truncation kernels, its gradient ascent in ascent.ts, LAS projection,
// hard mining, focal + BCE losses, Adam/AdamW steps) and inference, following
// docs/glass-reference.md step by step. No host round trip inside an iteration: radii stay on
// the GPU and feed the kernels as tensors; the logged statistics come back in one small readback
// at the end.
import * as E from '../engine/index.ts';
import type { Backbone } from '../models/backbone.ts';
import { Projection, Discriminator } from './model.ts';
import { patchEmbed } from './embed.ts';
import { gasUpdate } from './gas.ts';
import { pickAscent, type Truncation } from './ascent.ts';

export interface GlassConfig {
  layers: string[];
  pretrainEmbedDimension: number;
  targetEmbedDimension: number;
  dscLayers: number;
  dscHidden: number;
  dscMargin: number;
  preProj: number;
  mining: number;
  noise: number;
  radius: number;
  p: number;
  lr: number;
  /** 1 = hypersphere, 0 = manifold. */
  svd: number;
  step: number;
  /**
   * Where gradient-ascent steps run (not a reference option; same maths, different rounding):
   * 'hidden' in the discriminator's hidden space, 'features' on the features as the reference
   * writes it, 'auto' (default) the cheaper (hidden when dsc_layers is 2 and hidden < 1.6 x dim).
   */
  ascentSpace?: 'auto' | 'hidden' | 'features';
}

export const DEFAULT_CONFIG: GlassConfig = {
  layers: ['layer2', 'layer3'],
  pretrainEmbedDimension: 1536,
  targetEmbedDimension: 1536,
  dscLayers: 2,
  dscHidden: 1024,
  dscMargin: 0.5,
  preProj: 1,
  mining: 1,
  noise: 0.015,
  radius: 0.75,
  p: 0.5,
  lr: 0.0001,
  svd: 0,
  step: 20,
};

export interface IterationStats {
  loss: number;
  bceLoss: number;
  focalLoss: number;
  pTrue: number;
  pFake: number;
  rT: number;
  rG: number;
  rF: number;
}

/** A training batch after the data pipeline: images and LAS images [B,3,H,W], mask_s [B*L]. */
export interface TrainBatch {
  image: E.Tensor;
  aug: E.Tensor;
  /** mask_s flattened in (b, y, x) order of the feature grid, 0/1. */
  maskS: Float32Array;
}

export class Glass {
  readonly projection: Projection | null;
  readonly discriminator: Discriminator;
  readonly projOpt: E.optim.Adam | null;
  readonly dscOpt: E.optim.AdamW;
  /** Centre per patch position [L, D], recomputed every epoch. */
  center: E.Tensor | null = null;
  /** Patch grid of the first tap, set by the first embedding. */
  grid: [number, number] | null = null;

  constructor(
    readonly backbone: Backbone | null,
    readonly cfg: GlassConfig,
  ) {
    const D = cfg.targetEmbedDimension;
    this.projection = cfg.preProj > 0 ? new Projection(D, D, cfg.preProj) : null;
    this.discriminator = new Discriminator(D, cfg.dscLayers, cfg.dscHidden);
    this.projOpt = this.projection ? new E.optim.Adam(this.projection.parameters(), { lr: cfg.lr, weightDecay: 1e-5 }) : null;
    this.dscOpt = new E.optim.AdamW(this.discriminator.parameters(), { lr: cfg.lr * 2 });
  }

  /** Backbone taps of normalised images [B,3,H,W], in `cfg.layers` order. */
  taps(images: E.Tensor): E.Tensor[] {
    if (!this.backbone) throw new Error('Glass: no backbone (this instance embeds precomputed taps only)');
    const m = this.backbone.forward(images, this.cfg.layers);
    return this.cfg.layers.map((l) => m.get(l)!);
  }

  /** The reference's _embed from backbone taps: [B*h0*w0, D]. */
  embedTaps(taps: E.Tensor[]): E.Tensor {
    this.grid = [taps[0].shape[2], taps[0].shape[3]];
    return patchEmbed(taps, this.cfg.pretrainEmbedDimension, this.cfg.targetEmbedDimension);
  }

  embed(images: E.Tensor): E.Tensor {
    return E.tidy(() => this.embedTaps(this.taps(images)));
  }

  project(emb: E.Tensor): E.Tensor {
    return this.projection ? this.projection.forward(emb) : emb;
  }

  /**
   * Centre c = mean over batches of the per-batch mean (over images) of projected embeddings,
   * per patch position [L, D] (no grad; projection in train mode as in the reference: it has no
   * batch-dependent layers, so the mode does not matter).
   */
  /**
   * Restarts the heads' BatchNorm running statistics as a cumulative average (torch's
   * reset_running_stats() and momentum=None), so that what evaluation normalises with is the
   * mean over every training pass from here on rather than, as with the reference's momentum 0.1
   * over ~step + 2 passes per iteration, about the last iteration's batch alone.
   */
  restartBatchNormAverages(): void {
    for (const head of [this.discriminator, this.projection])
      for (const m of head?.modules() ?? [])
        if (m instanceof E.nn.BatchNorm1d) {
          m.momentum = null;
          m.resetRunningStats();
        }
  }

  setCenterFromBatches(embeddings: Iterable<{ emb: E.Tensor; batch: number }>): void {
    let acc: E.Tensor | null = null;
    let count = 0;
    E.noGrad(() => {
      for (const { emb, batch } of embeddings) {
        const m = E.tidy(() => {
          const out = this.project(emb);
          return E.mean(E.reshape(out, [batch, -1, out.shape[1]]), 0);
        });
        if (acc) {
          const s = E.add(acc, m);
          acc.dispose();
          m.dispose();
          acc = s;
        } else acc = m;
        count++;
      }
    });
    if (!acc) throw new Error('Glass: empty training set, cannot compute the centre');
    this.center?.dispose();
    this.center = E.keep(E.noGrad(() => E.div(acc!, count)));
    (acc as E.Tensor).dispose();
  }

  private centerRows(B: number): E.Tensor {
    if (!this.center) throw new Error('Glass: centre not computed (call setCenterFromBatches first)');
    const [L, D] = this.center.shape;
    return E.contiguous(E.reshape(E.expand(E.unsqueeze(this.center, 0), [B, L, D]), [B * L, D]));
  }

  /**
   * One training iteration from embeddings (the reference's _train_discriminator body).
   * `noise` replaces the iteration's one random draw (for parity tests); default N(0, noise).
   */
  trainIteration(embTrue: E.Tensor, embAug: E.Tensor, maskS: Float32Array, noise?: E.Tensor): E.Tensor {
    const cfg = this.cfg;
    const [N, D] = embTrue.shape;
    const L = this.center!.shape[0];
    const B = N / L;
    if (maskS.length !== N) throw new Error(`trainIteration: mask_s has ${maskS.length} entries for ${N} feature rows`);
    const n1 = maskS.reduce((a, v) => a + (v > 0.5 ? 1 : 0), 0);
    this.projection?.train();
    this.discriminator.train();
    this.projOpt?.zeroGrad();
    this.dscOpt.zeroGrad();
    return E.tidy(() => {
      const mask = E.tensor(maskS, { shape: [N, 1] });
      const mask1 = E.eq(E.reshape(mask, [N]), 1);
      // embed: projected features, the centre per row, the Gaussian-noise features and r_t
      const fake = this.project(embAug);
      const trueF = this.project(embTrue);
      const center = this.centerRows(B);
      const gaus0 = E.add(trueF, noise ?? E.randn([N, D], 0, cfg.noise));
      const rT = this.trueRadius(fake, trueF, center, mask, N - n1);
      const radiusOf = (pre: E.Tensor) => E.noGrad(() => E.quantile(E.norm(E.sub(pre, center), 1), cfg.radius));
      // ascend (glass/ascent.ts) and discriminate: true and ascended rows in one call, so
      // BatchNorm's statistics span both halves
      const pair = this.pairScores(trueF);
      const ones = E.ones([N, 1]);
      const trunc = this.truncation(center, trueF, rT, pair.hTrue, B);
      const ascended = pickAscent(cfg, D)(gaus0, {
        discriminator: this.discriminator,
        steps: cfg.step,
        trunc,
        radiusOf,
        ones,
        hTrue: pair.hTrue,
        scores: pair.scores,
      });
      // (a scope of its own: the graph keeps what the backward needs, the rest is freed now)
      const { trueScores, gausScores, bceLoss } = E.tidy(() => {
        const scores = pair.scores(ascended.gaus);
        const ts = E.slice(scores, 0, 0, N);
        const gs = E.slice(scores, 0, N, 2 * N);
        return { trueScores: ts, gausScores: gs, bceLoss: E.add(E.binaryCrossEntropy(ts, E.zeros([N, 1])), E.binaryCrossEntropy(gs, ones)) };
      });
      // LAS features: distances of the anomalous rows, and (hypersphere) their truncation to
      // [2 r_t, 4 r_t] around the centre, written into the graph like index_put
      const rF = E.noGrad(() => (n1 > 0 ? E.quantile(E.maskedSelectCount(E.norm(E.sub(fake, center), 1), mask1, n1), cfg.radius) : E.zeros([])));
      const fakeLas = cfg.svd === 1 ? gasUpdate(fake, { anchor: center, radius: rT, loFactor: 2, hiFactor: 4, rowMask: mask1 }) : fake;
      const fakeScores = this.discriminator.forward(fakeLas);
      // losses and the optimiser steps
      const focal = this.focalLoss(fakeScores, mask);
      const loss = E.add(bceLoss, focal);
      loss.backward();
      this.projOpt?.step();
      this.dscOpt.step();
      const rG = ascended.rg ?? E.zeros([]);
      return this.monitor({ loss, bceLoss, focal, rT, rG, rF }, { fakeScores, trueScores, gausScores, mask, n1 });
    });
  }

  /** r_t: the radius quantile of the distances to the centre of the true rows and the normal fake rows. */
  private trueRadius(fake: E.Tensor, trueF: E.Tensor, center: E.Tensor, mask: E.Tensor, n0: number): E.Tensor {
    return E.noGrad(() => {
      const dFake = E.norm(E.sub(fake, center), 1);
      const dTrue = E.norm(E.sub(trueF, center), 1);
      const pts = n0 > 0 ? E.cat([E.maskedSelectCount(dFake, E.eq(E.reshape(mask, [-1]), 0), n0), dTrue]) : dTrue;
      return E.quantile(pts, this.cfg.radius);
    });
  }

  /**
   * The discriminator's scores of cat([true rows, g]). The true half of every call is the same rows
   * through the same weights: with a hidden block its first Linear (hTrue) is computed once and
   * shared by all the calls (Discriminator.forwardFromFirstLinear).
   */
  private pairScores(trueF: E.Tensor): { hTrue: E.Tensor | null; scores: (g: E.Tensor) => E.Tensor } {
    const dsc = this.discriminator;
    if (this.cfg.dscLayers < 2) return { hTrue: null, scores: (g) => dsc.forward(E.cat([trueF, g])) };
    const hTrue = dsc.firstLinear(trueF);
    return { hTrue, scores: (g) => dsc.forwardFromFirstLinear(E.cat([hTrue, dsc.firstLinear(g)])) };
  }

  /**
   * The ascent's truncation: around the centre within [r_t, 2 r_t] (hypersphere), or around the
   * true features within [0.5, 1] (manifold); the anchor through the first Linear on request.
   */
  private truncation(center: E.Tensor, trueF: E.Tensor, rT: E.Tensor, hTrue: E.Tensor | null, B: number): Truncation {
    if (this.cfg.svd !== 1) return { anchor: trueF, radius: null, loFactor: 0.5, hiFactor: 1.0, anchorHidden: () => hTrue! };
    // the centre's L rows through the first Linear once, repeated per image
    const anchorHidden = () =>
      E.noGrad(() => {
        const [L, H] = [this.center!.shape[0], this.cfg.dscHidden];
        return E.contiguous(E.reshape(E.expand(E.unsqueeze(this.discriminator.firstLinear(this.center!), 0), [B, L, H]), [B * L, H]));
      });
    return { anchor: center, radius: rT, loFactor: 1, hiFactor: 2, anchorHidden };
  }

  /** The focal loss of the LAS scores; with p > 0 over the hardest rows only (hard mining). */
  private focalLoss(fakeScores: E.Tensor, mask: E.Tensor): E.Tensor {
    const input = E.cat([E.sub(1, fakeScores), fakeScores], 1);
    if (!(this.cfg.p > 0)) return E.focalLoss(input, mask);
    const keepRows = E.noGrad(() => {
      const fakeDist = E.square(E.sub(fakeScores, mask));
      const dHard = E.quantile(fakeDist, this.cfg.p);
      return E.cast(E.ge(E.reshape(fakeDist, [-1]), dHard), 'f32');
    });
    const rows = E.focalLoss(input, mask, { reduction: 'none' });
    return E.div(
      E.sum(E.mul(rows, keepRows)),
      E.noGrad(() => E.sum(keepRows)),
    );
  }

  /** The logged statistics (detached, one tensor): losses, p_true / p_fake as in the reference, radii. */
  private monitor(
    t: { loss: E.Tensor; bceLoss: E.Tensor; focal: E.Tensor; rT: E.Tensor; rG: E.Tensor; rF: E.Tensor },
    s: { fakeScores: E.Tensor; trueScores: E.Tensor; gausScores: E.Tensor; mask: E.Tensor; n1: number },
  ): E.Tensor {
    return E.noGrad(() => {
      const N = s.mask.shape[0];
      const fs = E.detach(s.fakeScores);
      const pixTrue = E.cat([E.mul(fs, E.sub(1, s.mask)), E.detach(s.trueScores)]);
      const pixFake = E.cat([E.mul(fs, s.mask), E.detach(s.gausScores)]);
      const pTrue = E.div(E.sub(E.sum(E.lt(pixTrue, this.cfg.dscMargin)), E.sum(E.eq(pixTrue, 0))), N - s.n1 + N);
      const pFake = E.div(E.sum(E.ge(pixFake, this.cfg.dscMargin)), s.n1 + N);
      return E.stack([t.loss, t.bceLoss, t.focal, E.cast(pTrue, 'f32'), E.cast(pFake, 'f32'), t.rT, t.rG, t.rF].map((v) => E.reshape(E.detach(v), [])));
    });
  }

  /** Reads the stats tensor of trainIteration (one small readback). */
  static async readStats(stats: E.Tensor): Promise<IterationStats> {
    const d = await stats.data();
    stats.dispose();
    return { loss: d[0], bceLoss: d[1], focalLoss: d[2], pTrue: d[3], pFake: d[4], rT: d[5], rG: d[6], rF: d[7] };
  }

  /** Patch scores [B, h0, w0] (eval mode, no grad). */
  patchScores(emb: E.Tensor, B: number): E.Tensor {
    this.projection?.eval();
    this.discriminator.eval();
    const [h0, w0] = this.grid!;
    return E.noGrad(() => E.tidy(() => E.reshape(this.discriminator.forward(this.project(emb)), [B, h0, w0])));
  }

  dispose(): void {
    this.projection?.dispose();
    this.discriminator.dispose();
    this.projOpt?.dispose();
    this.dscOpt.dispose();
    this.center?.dispose();
  }
}
