// The GLASS method on our engine: embedding, per-epoch centre, one training iteration
// (GAS with fused ascent/truncation kernels, LAS projection, hard mining, focal + BCE losses,
// Adam/AdamW steps) and inference, following docs/glass-reference.md step by step. No host
// round trip inside an iteration: radii stay on the GPU and feed the kernels as tensors; the
// logged statistics come back in one small readback at the end.
import * as E from '../engine/index.ts';
import type { Backbone } from '../models/backbone.ts';
import { Projection, Discriminator } from './model.ts';
import { patchEmbed } from './embed.ts';
import { gasUpdatePre, gasUpdate, gasHiddenStep } from './gas.ts';

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
    const n0 = N - n1;
    this.projection?.train();
    this.discriminator.train();
    this.projOpt?.zeroGrad();
    this.dscOpt.zeroGrad();
    const hyper = cfg.svd === 1;
    return E.tidy(() => {
      const mask = E.tensor(maskS, { shape: [N, 1] });
      const maskFlat = E.reshape(mask, [N]);
      const mask0 = E.eq(maskFlat, 0);
      const mask1 = E.eq(maskFlat, 1);
      const fake = this.project(embAug);
      const trueF = this.project(embTrue);
      const center = this.centerRows(B);
      const eps = noise ?? E.randn([N, D], 0, cfg.noise);
      let gaus = E.add(trueF, eps);
      const rT = E.noGrad(() => {
        const dFake = E.norm(E.sub(fake, center), 1);
        const dTrue = E.norm(E.sub(trueF, center), 1);
        const pts = n0 > 0 ? E.cat([E.maskedSelectCount(dFake, mask0, n0), dTrue]) : dTrue;
        return E.quantile(pts, cfg.radius);
      });
      let rG: E.Tensor = E.zeros([]);
      let bceLoss!: E.Tensor;
      let trueScores!: E.Tensor;
      let gausScores!: E.Tensor;
      const zerosN = E.zeros([N, 1]);
      const onesN = E.ones([N, 1]);
      const lastProj = Math.floor(cfg.step / 5) * 5;
      // the ascent's truncation: around the centre within [r_t, 2 r_t] (hypersphere), or around the
      // true features within [0.5, 1] (manifold)
      const trunc = { anchor: hyper ? center : trueF, radius: hyper ? rT : null, loFactor: hyper ? 1 : 0.5, hiFactor: hyper ? 2 : 1.0 };
      // r_g, logged: the radius quantile of the ascended features' distances to the centre
      const radiusOf = (pre: E.Tensor) => E.noGrad(() => E.quantile(E.norm(E.sub(pre, center), 1), cfg.radius));
      // The true half of every discriminator call is the same rows through the same weights:
      // its first Linear is computed once and shared by all 21 calls (see forwardFromFirstLinear).
      const split = cfg.dscLayers >= 2;
      const hTrue = split ? this.discriminator.firstLinear(trueF) : null;
      const dsc = (g: E.Tensor) =>
        split ? this.discriminator.forwardFromFirstLinear(E.cat([hTrue!, this.discriminator.firstLinear(g)])) : this.discriminator.forward(E.cat([trueF, g]));
      // Ascent steps need only d(gaus_loss)/d(gaus): with one hidden block the true rows only
      // feed the BatchNorm statistics, so they are not normalised, scored or differentiated
      // (statsWith; the statistics and running-stat updates are the reference's, over both
      // halves). Where the hidden width H makes it cheaper (per five steps 5 N H^2 + 2 N D H
      // multiply-adds against 10 N D H: H < 1.6 D, as at both presets), the steps run in the
      // hidden space (hiddenAscent) and the loop below runs only the final step.
      const ascentOnly = cfg.dscLayers === 2 && cfg.mining !== 0;
      const space = cfg.ascentSpace ?? 'auto';
      const inHidden = ascentOnly && cfg.step > 0 && (space === 'hidden' || (space === 'auto' && 5 * cfg.dscHidden < 8 * D));
      // one gradient-ascent step on gaus; every fifth projected back into the annulus
      const ascend = (step: number, g: E.Tensor | null) => {
        const project = (step + 1) % 5 === 0;
        const upd = gasUpdatePre(gaus, { grad: g, stepSize: 0.001, ...(project ? trunc : {}), keepPre: project && step + 1 === lastProj });
        return { done: false as const, gaus: upd.y, rg: upd.pre ? radiusOf(upd.pre) : null };
      };
      let firstStep = 0;
      if (inHidden) {
        const r = this.hiddenAscent(gaus, hTrue!, onesN, {
          ...trunc,
          steps: cfg.step,
          // the anchor through the first Linear: the centre's L rows once, repeated per image
          anchorHidden: hyper ? E.noGrad(() => E.contiguous(E.reshape(E.expand(E.unsqueeze(this.discriminator.firstLinear(this.center!), 0), [B, L, cfg.dscHidden]), [N, cfg.dscHidden]))) : hTrue!,
          keepPreAt: lastProj,
        });
        gaus.dispose();
        gaus = r.gaus;
        if (r.rg) {
          rG.dispose();
          rG = radiusOf(r.rg);
        }
        firstStep = cfg.step;
      }
      // feature-space ascent steps: the true rows' share of BatchNorm's statistics, computed once
      const ctx = ascentOnly && firstStep < cfg.step ? E.batchNormPartials(hTrue!) : null;
      for (let step = firstStep; step <= cfg.step; step++) {
        type StepResult = { done: true; bce: E.Tensor; ts: E.Tensor; gs: E.Tensor; rg?: E.Tensor | null } | { done: false; gaus: E.Tensor; rg: E.Tensor | null };
        const res = E.tidy((): StepResult => {
          if (ascentOnly && step < cfg.step) {
            const gs = this.discriminator.scoresWithContext(ctx!, this.discriminator.firstLinear(gaus));
            const [g] = E.grad(E.binaryCrossEntropy(gs, onesN), [gaus]);
            return ascend(step, g);
          }
          const scores = dsc(gaus);
          const ts = E.slice(scores, 0, 0, N);
          const gs = E.slice(scores, 0, N, 2 * N);
          const trueLoss = E.binaryCrossEntropy(ts, zerosN);
          const gausLoss = E.binaryCrossEntropy(gs, onesN);
          if (step === cfg.step) return { done: true as const, bce: E.add(trueLoss, gausLoss), ts, gs };
          if (cfg.mining === 0) {
            const rg = radiusOf(gaus);
            return { done: true as const, bce: E.add(trueLoss, gausLoss), ts, gs, rg };
          }
          const [g] = E.grad(gausLoss, [gaus]);
          return ascend(step, g);
        });
        if (res.rg) {
          rG.dispose();
          rG = res.rg;
        }
        if (res.done) {
          bceLoss = res.bce;
          trueScores = res.ts;
          gausScores = res.gs;
          break;
        }
        // the old handle's storage is not needed: the graph keeps its node, and the truncation
        // saved what its backward reads
        gaus.dispose();
        gaus = res.gaus;
      }
      ctx?.dispose();
      // LAS features: distances of the anomalous rows, and (hypersphere) their truncation to
      // [2 r_t, 4 r_t] around the centre, written into the graph like index_put
      const rF = E.noGrad(() => (n1 > 0 ? E.quantile(E.maskedSelectCount(E.norm(E.sub(fake, center), 1), mask1, n1), cfg.radius) : E.zeros([])));
      const fakeLas = hyper ? gasUpdate(fake, { anchor: center, radius: rT, loFactor: 2, hiFactor: 4, rowMask: mask1 }) : fake;
      const fakeScores = this.discriminator.forward(fakeLas);
      let focal: E.Tensor;
      if (cfg.p > 0) {
        const keepRows = E.noGrad(() => {
          const fakeDist = E.square(E.sub(fakeScores, mask));
          const dHard = E.quantile(fakeDist, cfg.p);
          return E.cast(E.ge(E.reshape(fakeDist, [N]), dHard), 'f32');
        });
        const rows = E.focalLoss(E.cat([E.sub(1, fakeScores), fakeScores], 1), mask, { reduction: 'none' });
        focal = E.div(E.sum(E.mul(rows, keepRows)), E.noGrad(() => E.sum(keepRows)));
      } else {
        focal = E.focalLoss(E.cat([E.sub(1, fakeScores), fakeScores], 1), mask);
      }
      const loss = E.add(bceLoss, focal);
      loss.backward();
      this.projOpt?.step();
      this.dscOpt.step();
      // monitoring (detached): p_true / p_fake as in the reference
      const stats = E.noGrad(() => {
        const fs = E.detach(fakeScores);
        const pixTrue = E.cat([E.mul(fs, E.sub(1, mask)), E.detach(trueScores)]);
        const pixFake = E.cat([E.mul(fs, mask), E.detach(gausScores)]);
        const pTrue = E.div(E.sub(E.sum(E.lt(pixTrue, cfg.dscMargin)), E.sum(E.eq(pixTrue, 0))), n0 + N);
        const pFake = E.div(E.sum(E.ge(pixFake, cfg.dscMargin)), n1 + N);
        return E.stack([loss, bceLoss, focal, E.cast(pTrue, 'f32'), E.cast(pFake, 'f32'), rT, rG, rF].map((t) => E.reshape(E.detach(t), [])));
      });
      return stats;
    });
  }

  /**
   * GAS steps 0..steps-1 (the reference's ascent loop without its final scoring step) for a
   * discriminator with one hidden block, in its hidden space. The ascent only needs
   * d(gaus_loss)/d(gaus) = dh @ W (h = gaus @ W^T + b the first Linear, dh its gradient), and a
   * step gaus += beta * g (beta = 0.001 / (||g|| + 1e-10) per row) moves h by beta * dh @ M with
   * M = W @ W^T, so each step is one [N, H] x [H, H] product instead of the forward and backward
   * products through W (H < D at both presets), with ||g||^2 = rowsum(dh * (dh @ M)). The true
   * rows only feed BatchNorm's statistics (statsWith). At every fifth step (the projection) and
   * after the last one, gaus itself is formed: the detached sum of the steps since the last
   * projection, (sum of beta * dh) @ W, is added, then truncated into the annulus (as the
   * reference, differentiable); the truncation gaus = a + s (gaus - a) per row moves h to
   * ha + s (h - ha), ha = a @ W^T + b (`anchorHidden`). Same maths as the reference; the rounding
   * differs by the order of the sums.
   */
  private hiddenAscent(
    gaus0: E.Tensor,
    hTrue: E.Tensor,
    ones: E.Tensor,
    o: { steps: number; anchor: E.Tensor; anchorHidden: E.Tensor; radius: E.Tensor | null; loFactor: number; hiFactor: number; keepPreAt: number },
  ): { gaus: E.Tensor; rg: E.Tensor | null } {
    const dsc = this.discriminator;
    const W = dsc.firstLinearWeight();
    const M = E.noGrad(() => E.matmul(W, E.transpose(W, 0, 1)));
    // the true rows' share of BatchNorm's statistics, the same at every step
    const ctx = E.batchNormPartials(hTrue);
    let gaus = gaus0;
    let h = E.noGrad(() => dsc.firstLinear(gaus));
    let acc: E.Tensor | null = null; // sum of beta * dh since gaus was last formed
    let rg: E.Tensor | null = null;
    for (let step = 0; step < o.steps; step++) {
      const hs = h;
      const r = E.tidy(() => {
        const hv = E.detach(hs).requiresGrad_();
        const [dh] = E.grad(E.binaryCrossEntropy(dsc.scoresWithContext(ctx, hv), ones), [hv]);
        return E.noGrad(() => gasHiddenStep(hs, dh!, E.matmul(dh!, M), acc, 0.001));
      });
      h.dispose();
      acc?.dispose();
      h = r.h;
      acc = r.acc;
      const project = (step + 1) % 5 === 0;
      const last = step === o.steps - 1;
      if (!project && !last) continue;
      const next = E.tidy(() => {
        const pre = E.add(gaus, E.noGrad(() => E.matmul(acc!, W)));
        if (!project) return { y: pre, pre: null, scale: null };
        return gasUpdatePre(pre, { anchor: o.anchor, radius: o.radius, loFactor: o.loFactor, hiFactor: o.hiFactor, keepPre: step + 1 === o.keepPreAt, keepScale: !last });
      });
      if (next.pre) {
        rg?.dispose();
        rg = next.pre;
      }
      if (gaus !== gaus0) gaus.dispose(); // the graph keeps what the backward needs
      gaus = next.y;
      acc.dispose();
      acc = null;
      // the truncation y = a + s (x - a) moves h = x W^T + b to ha + s (h - ha) with ha = a W^T + b
      // (the Linear is affine); the final scoring step computes its own h from gaus
      if (!last) {
        const sc = next.scale!;
        const hp = E.noGrad(() => E.add(o.anchorHidden, E.mul(sc, E.sub(h, o.anchorHidden))));
        h.dispose();
        sc.dispose();
        h = hp;
      }
    }
    h.dispose();
    M.dispose();
    ctx.dispose();
    return { gaus, rg };
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
