// One full GLASS training iteration and the inference path on the GPU against an independent
// PyTorch re-implementation of the reference (test/fixtures/gen/glass_ref.py): embeddings,
// centre, radii, losses, p_true/p_fake, every parameter gradient, the updated parameters and
// BatchNorm running stats, patch scores and maps, within 1e-4 relative.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../engine/index.ts';
import { Glass, DEFAULT_CONFIG } from '../../glass/glass.ts';
import { loadFixture, f32, type Encoded } from './fixture.ts';
import { assertClose } from '../helpers/oracle.ts';
import { gaussianFilter2d } from '../../glass/gaussian.ts';

const RTOL = 1e-4;
const ATOL = 1e-6;

function T(e: Encoded): E.Tensor {
  return E.tensor(f32(e), { shape: e.shape });
}

async function close(t: E.Tensor, e: Encoded | number, label: string, atol = ATOL, rtol = RTOL): Promise<void> {
  const exp = typeof e === 'number' ? Float32Array.of(e) : f32(e);
  assertClose(await t.data(), exp, atol, rtol, label);
}

function hostState(sd: Record<string, Encoded>) {
  return Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, { shape: v.shape, data: f32(v) }]));
}

// each mode with the ascent steps in the discriminator's hidden space (the default at these
// shapes) and on the features as the reference writes them
for (const [mode, ascentSpace] of [
  ['hypersphere', 'hidden'],
  ['manifold', 'hidden'],
  ['hypersphere', 'features'],
  ['manifold', 'features'],
] as const) {
  const t = suite(`GLASS iteration parity (${mode}, ascent in ${ascentSpace} space)`);
  const fx = loadFixture(`glass/iteration_${mode}.json`);
  const c = fx.config;
  t.before(async () => {
    await E.initDevice();
  });

  t('embedding, centre, iteration, gradients, updates, inference', async () => {
    const glass = new Glass(null, {
      ...DEFAULT_CONFIG,
      layers: ['t0', 't1'],
      pretrainEmbedDimension: c.pretrain_embed_dimension,
      targetEmbedDimension: c.target_embed_dimension,
      dscLayers: c.dsc_layers,
      dscHidden: c.dsc_hidden,
      dscMargin: c.dsc_margin,
      preProj: c.pre_proj,
      mining: c.mining,
      noise: c.noise,
      radius: c.radius,
      p: c.p,
      lr: c.lr,
      svd: fx.svd,
      step: c.step,
      ascentSpace,
    });
    glass.projection!.loadStateDict(hostState(fx.init.pre_projection));
    glass.discriminator.loadStateDict(hostState(fx.init.discriminator), { strict: false });
    await E.tidyAsync(async () => {
      const tapsTrue = fx.inputs.taps_true.map(T);
      const tapsAug = fx.inputs.taps_aug.map(T);
      const embTrue = glass.embedTaps(tapsTrue);
      const embAug = glass.embedTaps(tapsAug);
      const I = fx.intermediates;
      await close(embTrue, I.emb_true, 'emb_true');
      await close(embAug, I.emb_aug, 'emb_aug');
      glass.setCenterFromBatches([{ emb: embTrue, batch: c.batch }]);
      await close(glass.center!, I.center, 'center');
      const maskS = f32(fx.inputs.mask_s);
      const stats = await Glass.readStats(glass.trainIteration(embTrue, embAug, maskS, T(fx.draws.noise.tensor)));
      const scalar = (got: number, want: number, label: string) => assertClose([got], [want], ATOL, RTOL, label);
      scalar(stats.rT, I.r_t, 'r_t');
      scalar(stats.rG, I.r_g, 'r_g');
      scalar(stats.rF, I.r_f, 'r_f');
      scalar(stats.bceLoss, I.bce_loss, 'bce_loss');
      scalar(stats.focalLoss, I.focal_loss, 'focal_loss');
      scalar(stats.loss, I.loss, 'loss');
      scalar(stats.pTrue, I.p_true, 'p_true');
      scalar(stats.pFake, I.p_fake, 'p_fake');
      // gradients before the optimiser steps (a first Adam step hides their magnitude)
      for (const [mod, name] of [
        [glass.projection!, 'pre_projection'],
        [glass.discriminator, 'discriminator'],
      ] as const) {
        const params = new Map(mod.namedParameters());
        for (const [k, g] of Object.entries(fx.grads[name] as Record<string, Encoded>)) {
          const p = params.get(k);
          assert.ok(p, `${name}.${k} exists`);
          await close(p!.grad!, g, `grad ${name}.${k}`, 1e-6, 1e-3);
        }
        const sd = mod.stateDict();
        for (const [k, v] of Object.entries(fx.updated[name] as Record<string, Encoded>)) {
          assert.ok(sd[k], `${name}.${k} in our state dict`);
          // The Linear bias feeding BatchNorm has a mathematically zero gradient (BN removes any
          // per-channel shift): torch and we both get float rounding noise there (checked above to
          // be < 1e-6), and a first Adam step turns noise into +-lr whatever its size. So that one
          // parameter may differ by 2 lr (AdamW lr = 2 * lr); every other one must match to 1e-4.
          const zeroGrad = name === 'discriminator' && k === 'body.block1.0.bias';
          await close(sd[k], v, `updated ${name}.${k}`, zeroGrad ? 2 * 2 * c.lr + 1e-6 : 1e-6, RTOL);
        }
      }
      const nbt = glass.discriminator.stateDict()['body.block1.1.num_batches_tracked'];
      assert.is(await nbt.item(), fx.num_batches_tracked);
      // inference with the updated weights: torch's exactly, so that the rounding-noise bias above
      // (which also shifts eval-mode BatchNorm) does not blur the check of the inference path
      glass.projection!.loadStateDict(hostState(fx.updated.pre_projection));
      glass.discriminator.loadStateDict(hostState(fx.updated.discriminator), { strict: false });
      const B = c.batch;
      const ps = glass.patchScores(glass.embedTaps(tapsTrue), B);
      await close(ps, fx.inference.patch_scores, 'patch_scores', 1e-6, RTOL);
      await close(E.max(E.reshape(ps, [B, -1]), 1), fx.inference.image_scores, 'image_scores', 1e-6, RTOL);
      const [H, W] = c.segmentation_size;
      const up = E.interpolate(E.unsqueeze(ps, 1), { size: [H, W], mode: 'bilinear', alignCorners: false });
      await close(up, fx.inference.upsampled, 'upsampled', 1e-6, RTOL);
      const upd = await up.data();
      const seg = new Float32Array(upd.length);
      for (let b = 0; b < B; b++) seg.set(gaussianFilter2d(upd.subarray(b * H * W, (b + 1) * H * W) as Float32Array, H, W, c.gaussian_sigma), b * H * W);
      assertClose(seg, f32(fx.inference.segmentation), 1e-6, RTOL, 'segmentation');
    });
    glass.dispose();
  });
  t.run();
}

// Step counts the fixtures do not cover (a last step that is not a projection, fewer steps than
// one projection): the hidden-space ascent against the feature-space one, same inputs, every
// statistic, gradient and BatchNorm running statistic.
const agree = suite('GLASS ascent: hidden space vs feature space');
agree.before(async () => {
  await E.initDevice();
});
for (const mode of ['hypersphere', 'manifold'] as const)
  for (const step of [7, 3])
    agree(`${mode}, ${step} steps`, async () => {
      const fx = loadFixture(`glass/iteration_${mode}.json`);
      const c = fx.config;
      const run = async (ascentSpace: 'hidden' | 'features') => {
        const glass = new Glass(null, {
          ...DEFAULT_CONFIG,
          layers: ['t0', 't1'],
          pretrainEmbedDimension: c.pretrain_embed_dimension,
          targetEmbedDimension: c.target_embed_dimension,
          dscLayers: 2,
          dscHidden: c.dsc_hidden,
          svd: fx.svd,
          step,
          ascentSpace,
        });
        glass.projection!.loadStateDict(hostState(fx.init.pre_projection));
        glass.discriminator.loadStateDict(hostState(fx.init.discriminator), { strict: false });
        const out = await E.tidyAsync(async () => {
          const embTrue = glass.embedTaps(fx.inputs.taps_true.map(T));
          const embAug = glass.embedTaps(fx.inputs.taps_aug.map(T));
          glass.setCenterFromBatches([{ emb: embTrue, batch: c.batch }]);
          const stats = await Glass.readStats(glass.trainIteration(embTrue, embAug, f32(fx.inputs.mask_s), T(fx.draws.noise.tensor)));
          const grads: Record<string, ArrayLike<number>> = {};
          for (const [n, p] of [...glass.projection!.namedParameters(), ...glass.discriminator.namedParameters()]) grads[n] = await p.grad!.data();
          const sd = glass.discriminator.stateDict();
          return { stats, grads, rm: await sd['body.block1.1.running_mean'].data(), rv: await sd['body.block1.1.running_var'].data() };
        });
        glass.dispose();
        return out;
      };
      const a = await run('hidden'),
        b = await run('features');
      for (const k of Object.keys(b.stats) as (keyof typeof b.stats)[]) assertClose([a.stats[k]], [b.stats[k]], 1e-6, 1e-4, k);
      assert.ok(b.stats.rG > 0 || step < 5, 'r_g comes from a projection');
      for (const k of Object.keys(b.grads)) assertClose(a.grads[k], b.grads[k], 1e-6, 1e-3, `grad ${k}`);
      assertClose(a.rm, b.rm, 1e-7, 1e-5, 'running mean');
      assertClose(a.rv, b.rv, 1e-7, 1e-5, 'running var');
    });
agree.run();
