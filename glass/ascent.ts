// GLASS's gradient ascent (the GAS branch): `step` steps on the Gaussian-noise features gaus, each
// gaus += 0.001 * g / ||g|| per row with g = d(gaus_loss)/d(gaus), every fifth step truncated back
// into the annulus around its anchor (differentiated, as in the reference). The strategies below
// share that maths and one interface; they differ in how g is computed, as the discriminator
// allows, and so in rounding only:
//   noAscent       mining 0: the reference takes no ascent step
//   fullAscent     any discriminator: scores of cat([true, gaus]), then the gradient of gaus's half
//   contextAscent  one hidden block: the true rows only feed BatchNorm's statistics, so they join
//                  them as context rows (glass/fused-batchnorm.ts), computed once for all the steps
//   hiddenAscent   one hidden block, steps in its hidden space (cheaper while H < 1.6 D)
import * as E from '../engine/index.ts';
import type { GlassConfig } from './glass.ts';
import type { Discriminator } from './model.ts';
import { gasUpdatePre, gasHiddenStep } from './gas.ts';
import { batchNormPartials } from './fused-batchnorm.ts';

/** The reference's step size (before the per-row normalisation of the gradient). */
const STEP_SIZE = 0.001;

/** The truncation of a projection step: rows moved to [lo r, hi r] from the anchor. */
export interface Truncation {
  /** [N, D]: the centre's rows (hypersphere) or the true features (manifold). */
  anchor: E.Tensor;
  /** r_t, or null for 1. */
  radius: E.Tensor | null;
  loFactor: number;
  hiFactor: number;
  /** The anchor through the discriminator's first Linear, [N, H] (for hiddenAscent; detached). */
  anchorHidden: () => E.Tensor;
}

/** What the ascent works with, from the training iteration. */
export interface AscentInputs {
  discriminator: Discriminator;
  /** Ascent steps (the reference's `step`). */
  steps: number;
  trunc: Truncation;
  /** r_g from the features after the ascent, before their last projection (detached). */
  radiusOf: (pre: E.Tensor) => E.Tensor;
  /** [N, 1] ones: the BCE target of the synthetic rows. */
  ones: E.Tensor;
  /** The true rows through the discriminator's first Linear (null without a hidden block). */
  hTrue: E.Tensor | null;
  /** The discriminator's scores [2N, 1] of cat([true rows, g]). */
  scores: (g: E.Tensor) => E.Tensor;
}

export interface AscentResult {
  /** The features after the ascent, in the graph (the truncations are differentiated). */
  gaus: E.Tensor;
  /** r_g, or null where no projection step ran (or no ascent). */
  rg: E.Tensor | null;
}

/** Runs the ascent from gaus; takes gaus's handle (disposed once replaced; the graph keeps it). */
export type Ascent = (gaus: E.Tensor, io: AscentInputs) => AscentResult;

/** The strategy for a configuration (see the file header); D: the feature dimension. */
export function pickAscent(cfg: Pick<GlassConfig, 'mining' | 'dscLayers' | 'dscHidden' | 'step' | 'ascentSpace'>, D: number): Ascent {
  if (cfg.mining === 0) return noAscent;
  if (cfg.dscLayers !== 2) return fullAscent;
  // per five steps 5 N H^2 + 2 N D H multiply-adds in the hidden space against 10 N D H on the
  // features: cheaper while H < 1.6 D, as at both presets
  const space = cfg.ascentSpace ?? 'auto';
  const hidden = cfg.step > 0 && (space === 'hidden' || (space === 'auto' && 5 * cfg.dscHidden < 8 * D));
  return hidden ? hiddenAscent : contextAscent;
}

/** The last step that projects (its pre-truncation features give r_g). */
const lastProjection = (steps: number) => Math.floor(steps / 5) * 5;

const truncation = (t: Truncation) => ({ anchor: t.anchor, radius: t.radius, loFactor: t.loFactor, hiFactor: t.hiFactor });

/** No steps; r_g is then the radius of the unmoved features, logged as the reference does. */
export const noAscent: Ascent = (gaus, io) => ({ gaus, rg: io.steps > 0 ? io.radiusOf(gaus) : null });

/** Feature-space steps with g = gradient(gaus). */
function featureSteps(gaus0: E.Tensor, io: AscentInputs, gradient: (gaus: E.Tensor) => E.Tensor | null): AscentResult {
  const lastProj = lastProjection(io.steps);
  let gaus = gaus0;
  let rg: E.Tensor | null = null;
  for (let step = 0; step < io.steps; step++) {
    const res = E.tidy(() => {
      const project = (step + 1) % 5 === 0;
      const upd = gasUpdatePre(gaus, {
        grad: gradient(gaus),
        stepSize: STEP_SIZE,
        ...(project ? truncation(io.trunc) : {}),
        keepPre: project && step + 1 === lastProj,
      });
      return { gaus: upd.y, rg: upd.pre ? io.radiusOf(upd.pre) : null };
    });
    if (res.rg) {
      rg?.dispose();
      rg = res.rg;
    }
    // the old handle's storage is not needed: the graph keeps its node, and the truncation saved
    // what its backward reads
    gaus.dispose();
    gaus = res.gaus;
  }
  return { gaus, rg };
}

/** The reference's steps as written: the whole discriminator on cat([true, gaus]) per step. */
export const fullAscent: Ascent = (gaus0, io) =>
  featureSteps(gaus0, io, (gaus) => {
    const N = gaus.shape[0];
    const gs = E.slice(io.scores(gaus), 0, N, 2 * N);
    return E.grad(E.binaryCrossEntropy(gs, io.ones), [gaus])[0];
  });

/**
 * One hidden block: the true rows' share of BatchNorm's statistics (and of its running update,
 * as the reference's, over both halves) is computed once, and each step normalises, scores and
 * differentiates only gaus's rows.
 */
export const contextAscent: Ascent = (gaus0, io) => {
  if (io.steps === 0) return { gaus: gaus0, rg: null };
  const dsc = io.discriminator;
  const ctx = batchNormPartials(io.hTrue!);
  const res = featureSteps(gaus0, io, (gaus) => E.grad(E.binaryCrossEntropy(dsc.scoresWithContext(ctx, dsc.firstLinear(gaus)), io.ones), [gaus])[0]);
  ctx.dispose();
  return res;
};

/**
 * One hidden block, the steps in its hidden space. The ascent only needs d(gaus_loss)/d(gaus) =
 * dh @ W (h = gaus @ W^T + b the first Linear, dh its gradient), and a step gaus += beta * g
 * (beta = 0.001 / (||g|| + 1e-10) per row) moves h by beta * dh @ M with M = W @ W^T, so each
 * step is one [N, H] x [H, H] product instead of the forward and backward products through W,
 * with ||g||^2 = rowsum(dh * (dh @ M)). The true rows only feed BatchNorm's statistics (context
 * rows). At every fifth step (the projection) and after the last one, gaus itself is formed: the
 * detached sum of the steps since the last projection, (sum of beta * dh) @ W, is added, then
 * truncated into the annulus (as the reference, differentiable); the truncation gaus = a + s
 * (gaus - a) per row moves h to ha + s (h - ha), ha = a @ W^T + b (`anchorHidden`). Same maths as
 * the reference; the rounding differs by the order of the sums.
 */
export const hiddenAscent: Ascent = (gaus0, io) => {
  const dsc = io.discriminator;
  const { trunc } = io;
  const keepPreAt = lastProjection(io.steps);
  const anchorHidden = trunc.anchorHidden();
  const W = dsc.firstLinearWeight();
  const M = E.noGrad(() => E.matmul(W, E.transpose(W, 0, 1)));
  // the true rows' share of BatchNorm's statistics, the same at every step
  const ctx = batchNormPartials(io.hTrue!);
  let gaus = gaus0;
  let h = E.noGrad(() => dsc.firstLinear(gaus));
  let acc: E.Tensor | null = null; // sum of beta * dh since gaus was last formed
  let pre: E.Tensor | null = null; // the features before the last projection
  for (let step = 0; step < io.steps; step++) {
    const hs = h;
    const r = E.tidy(() => {
      const hv = E.detach(hs).requiresGrad_();
      const [dh] = E.grad(E.binaryCrossEntropy(dsc.scoresWithContext(ctx, hv), io.ones), [hv]);
      return E.noGrad(() => gasHiddenStep(hs, dh!, E.matmul(dh!, M), acc, STEP_SIZE));
    });
    h.dispose();
    acc?.dispose();
    h = r.h;
    acc = r.acc;
    const project = (step + 1) % 5 === 0;
    const last = step === io.steps - 1;
    if (!project && !last) continue;
    const next = E.tidy(() => {
      const x = E.add(
        gaus,
        E.noGrad(() => E.matmul(acc!, W)),
      );
      if (!project) return { y: x, pre: null, scale: null };
      return gasUpdatePre(x, { ...truncation(trunc), keepPre: step + 1 === keepPreAt, keepScale: !last });
    });
    if (next.pre) {
      pre?.dispose();
      pre = next.pre;
    }
    gaus.dispose(); // the graph keeps what the backward needs
    gaus = next.y;
    acc.dispose();
    acc = null;
    // the truncation y = a + s (x - a) moves h = x W^T + b to ha + s (h - ha) with ha = a W^T + b
    // (the Linear is affine); the final scoring computes its own h from gaus
    if (!last) {
      const sc = next.scale!;
      const hp = E.noGrad(() => E.add(anchorHidden, E.mul(sc, E.sub(h, anchorHidden))));
      h.dispose();
      sc.dispose();
      h = hp;
    }
  }
  h.dispose();
  M.dispose();
  ctx.dispose();
  const rg = pre ? io.radiusOf(pre) : null;
  pre?.dispose();
  return { gaus, rg };
};
