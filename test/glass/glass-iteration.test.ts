// Re-derives the numbers in test/fixtures/glass/iteration_<mode>.json (PyTorch, glass_ref.py)
// on the CPU from the formulas in docs/glass-reference.md: embedding, projection, centre, r_t,
// the first GAS forward in BatchNorm train mode, hard mining, the focal loss, p_true/p_fake,
// the first Adam/AdamW step and the whole inference path. If the document is wrong somewhere,
// one of these fails; the GPU parity test can then trust the description.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rescaleSegmentation, resizeBilinear } from '../../glass/gaussian.ts';
import { f32, loadFixture, u8, worstRatio, type Encoded } from './fixture.ts';

type Fx = any;

// ---- small CPU helpers (float64 math; the fixture is float32, hence the tolerances)

/** [rows, inDim] x W[outDim, inDim]^T + b */
function linear(x: ArrayLike<number>, rows: number, inDim: number, w: ArrayLike<number>, outDim: number, b?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * w[o * inDim + i];
      y[r * outDim + o] = s;
    }
  }
  return y;
}

/** torch.quantile(x, q), linear interpolation, with torch's lerp. */
function quantile(x: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(x).sort();
  const rank = q * (s.length - 1);
  const lo = Math.floor(rank),
    hi = Math.ceil(rank),
    w = rank - lo;
  return w < 0.5 ? s[lo] + w * (s[hi] - s[lo]) : s[hi] - (s[hi] - s[lo]) * (1 - w);
}

/** F.adaptive_avg_pool1d over the last axis of a [rows, len] array. */
function adaptivePool(x: ArrayLike<number>, rows: number, len: number, out: number): Float64Array {
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < out; i++) {
      const a = Math.floor((i * len) / out),
        b = Math.ceil(((i + 1) * len) / out);
      let s = 0;
      for (let k = a; k < b; k++) s += x[r * len + k];
      y[r * out + i] = s / (b - a);
    }
  }
  return y;
}

/**
 * GLASS._embed from tap features: unfold 3x3 (pad 1) per tap -> bilinear of every (c, ki, kj)
 * patch-grid plane of taps >= 1 to tap 0's grid -> per tap adaptive pool of the C*9 vector
 * (c-major, then ki, kj) to `pretrain` -> stack taps -> adaptive pool of the taps*pretrain vector
 * to `target`. Rows are (b, y, x) of tap 0's grid.
 */
function embed(taps: { data: Float32Array; c: number; h: number; w: number }[], batch: number, pretrain: number, target: number): Float64Array {
  const h0 = taps[0].h,
    w0 = taps[0].w,
    L = h0 * w0,
    N = batch * L;
  const pooled: Float64Array[] = [];
  for (const t of taps) {
    // unfolded[b][c][ki][kj][y][x] on the tap's own grid
    const plane = t.h * t.w;
    const unf = new Float32Array(batch * t.c * 9 * plane);
    for (let b = 0; b < batch; b++)
      for (let c = 0; c < t.c; c++)
        for (let ki = 0; ki < 3; ki++)
          for (let kj = 0; kj < 3; kj++) {
            for (let y = 0; y < t.h; y++)
              for (let x = 0; x < t.w; x++) {
                const yy = y + ki - 1,
                  xx = x + kj - 1;
                const v = yy < 0 || yy >= t.h || xx < 0 || xx >= t.w ? 0 : t.data[((b * t.c + c) * t.h + yy) * t.w + xx];
                unf[((((b * t.c + c) * 3 + ki) * 3 + kj) * t.h + y) * t.w + x] = v;
              }
          }
    const grid = t.h === h0 && t.w === w0 ? unf : resizeBilinear(unf, batch * t.c * 9, t.h, t.w, h0, w0);
    const vec = new Float64Array(N * t.c * 9);
    for (let b = 0; b < batch; b++)
      for (let k = 0; k < t.c * 9; k++)
        for (let p = 0; p < L; p++) {
          vec[(b * L + p) * t.c * 9 + k] = grid[(b * t.c * 9 + k) * L + p];
        }
    pooled.push(adaptivePool(vec, N, t.c * 9, pretrain));
  }
  const stacked = new Float64Array(N * taps.length * pretrain);
  for (let r = 0; r < N; r++)
    for (let t = 0; t < taps.length; t++)
      for (let i = 0; i < pretrain; i++) {
        stacked[(r * taps.length + t) * pretrain + i] = pooled[t][r * pretrain + i];
      }
  return adaptivePool(stacked, N, taps.length * pretrain, target);
}

/** Discriminator: Linear -> BatchNorm1d (train: batch stats, biased var; eval: running) -> LeakyReLU(0.2) -> Linear -> sigmoid. */
function discriminator(x: ArrayLike<number>, rows: number, p: Record<string, Float32Array>, dim: number, hidden: number, train: boolean): Float64Array {
  const a = linear(x, rows, dim, p['body.block1.0.weight'], hidden, p['body.block1.0.bias']);
  for (let j = 0; j < hidden; j++) {
    let mean: number, vr: number;
    if (train) {
      mean = 0;
      for (let r = 0; r < rows; r++) mean += a[r * hidden + j];
      mean /= rows;
      vr = 0;
      for (let r = 0; r < rows; r++) vr += (a[r * hidden + j] - mean) ** 2;
      vr /= rows;
    } else {
      mean = p['body.block1.1.running_mean'][j];
      vr = p['body.block1.1.running_var'][j];
    }
    const g = p['body.block1.1.weight'][j],
      b = p['body.block1.1.bias'][j];
    for (let r = 0; r < rows; r++) {
      const v = ((a[r * hidden + j] - mean) / Math.sqrt(vr + 1e-5)) * g + b;
      a[r * hidden + j] = v >= 0 ? v : 0.2 * v;
    }
  }
  const z = linear(a, rows, hidden, p['tail.0.weight'], 1);
  return z.map((v) => 1 / (1 + Math.exp(-v)));
}

const bceMean = (s: ArrayLike<number>, target: number) => {
  let acc = 0;
  for (let i = 0; i < s.length; i++) acc += -(target * Math.max(Math.log(s[i]), -100) + (1 - target) * Math.max(Math.log(1 - s[i]), -100));
  return acc / s.length;
};

function close(name: string, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol = 0): void {
  const { ratio, index } = worstRatio(got, want, atol, rtol);
  assert.ok(ratio <= 1, `${name}: worst at ${index}: ${got[index]} vs ${want[index]} (ratio ${ratio.toFixed(2)})`);
}

function params(group: Record<string, Encoded>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(group).map(([k, v]) => [k, f32(v)]));
}

for (const mode of ['manifold', 'hypersphere'] as const) {
  const fx: Fx = loadFixture(`glass/iteration_${mode}.json`);
  const cfg = fx.config;
  const B = cfg.batch,
    D = cfg.target_embed_dimension,
    P = cfg.pretrain_embed_dimension,
    Hd = cfg.dsc_hidden;
  const h0 = cfg.taps[0].h,
    w0 = cfg.taps[0].w,
    L = h0 * w0,
    N = B * L;
  const it = fx.intermediates;
  const taps = (list: Encoded[]) => list.map((e, i) => ({ data: f32(e), c: cfg.taps[i].channels, h: cfg.taps[i].h, w: cfg.taps[i].w }));
  const mask = f32(fx.inputs.mask_s);
  const projInit = params(fx.init.pre_projection),
    dscInit = params(fx.init.discriminator);
  const t = suite(`glass iteration fixture (${mode})`);

  t('shapes and call order are documented in the fixture', () => {
    assert.is(fx.mode, mode);
    assert.is(fx.svd, mode === 'hypersphere' ? 1 : 0);
    assert.equal(fx.inputs.mask_s.shape, [B, h0, w0]);
    assert.equal(fx.intermediates.true_feats.shape, [N, D]);
    assert.equal(fx.draws.noise.tensor.shape, [N, D]);
    assert.ok(fx.call_order.length >= 10);
    assert.is(fx.intermediates.gas_gaus_loss.length, cfg.step + 1);
    assert.is(fx.intermediates.r_g_each_projection.length, cfg.step / 5);
    // BatchNorm ran in train mode once per GAS step (21) and once on the fake features
    assert.is(fx.num_batches_tracked, cfg.step + 2);
  });

  t('embedding of true and augmented taps', () => {
    close('emb_true', embed(taps(fx.inputs.taps_true), B, P, D), f32(it.emb_true), 1e-6, 1e-5);
    close('emb_aug', embed(taps(fx.inputs.taps_aug), B, P, D), f32(it.emb_aug), 1e-6, 1e-5);
  });

  t('pre_projection and the per-position centre', () => {
    const tf = linear(f32(it.emb_true), N, D, projInit['layers.0fc.weight'], D, projInit['layers.0fc.bias']);
    close('true_feats', tf, f32(it.true_feats), 1e-5, 1e-5);
    close('fake_feats', linear(f32(it.emb_aug), N, D, projInit['layers.0fc.weight'], D, projInit['layers.0fc.bias']), f32(it.fake_feats), 1e-5, 1e-5);
    const c = new Float64Array(L * D);
    for (let b = 0; b < B; b++) for (let i = 0; i < L * D; i++) c[i] += tf[b * L * D + i] / B;
    close('center', c, f32(it.center), 1e-5, 1e-5);
  });

  t('r_t: 0.75-quantile of distances of normal fake patches and all true patches to the centre', () => {
    const tf = f32(it.true_feats),
      ff = f32(it.fake_feats),
      c = f32(it.center);
    const d: number[] = [];
    const dist = (src: Float32Array, r: number) => {
      let s = 0;
      for (let k = 0; k < D; k++) s += (src[r * D + k] - c[(r % L) * D + k]) ** 2;
      return Math.sqrt(s);
    };
    for (let r = 0; r < N; r++) if (mask[r] === 0) d.push(dist(ff, r));
    for (let r = 0; r < N; r++) d.push(dist(tf, r));
    close('r_t', [quantile(d, cfg.radius)], [it.r_t], 1e-6, 1e-5);
  });

  t('first GAS forward: BatchNorm in train mode over cat[true, true + noise]', () => {
    const tf = f32(it.true_feats),
      noise = f32(fx.draws.noise.tensor);
    const x = new Float64Array(2 * N * D);
    for (let i = 0; i < N * D; i++) {
      x[i] = tf[i];
      x[N * D + i] = tf[i] + noise[i];
    }
    const s = discriminator(x, 2 * N, dscInit, D, Hd, true);
    close('step-0 true_loss', [bceMean(s.subarray(0, N), 0)], [it.gas_true_loss[0]], 1e-6, 1e-5);
    close('step-0 gaus_loss', [bceMean(s.subarray(N), 1)], [it.gas_gaus_loss[0]], 1e-6, 1e-5);
  });

  t('GAS result respects the truncation of the mode', () => {
    const g = f32(it.gaus_feats),
      tf = f32(it.true_feats),
      c = f32(it.center);
    // after the step-19 projection only step 20's forward ran: no ascent step since, so the
    // truncation bound holds exactly (up to float32)
    for (let r = 0; r < N; r++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += (g[r * D + k] - (mode === 'manifold' ? tf[r * D + k] : c[(r % L) * D + k])) ** 2;
      const n = Math.sqrt(s);
      const [lo, hi] = mode === 'manifold' ? [0.5, 1.0] : [it.r_t, 2 * it.r_t];
      assert.ok(n >= lo * (1 - 1e-5) && n <= hi * (1 + 1e-5), `row ${r}: |h| = ${n} outside [${lo}, ${hi}]`);
    }
  });

  t('LAS: manifold leaves fake features alone, hypersphere projects masked ones to [2 r_t, 4 r_t]', () => {
    const before = f32(it.fake_feats),
      after = f32(it.fake_feats_las),
      c = f32(it.center);
    for (let r = 0; r < N; r++) {
      let moved = 0,
        s = 0;
      for (let k = 0; k < D; k++) {
        moved = Math.max(moved, Math.abs(before[r * D + k] - after[r * D + k]));
        s += (after[r * D + k] - c[(r % L) * D + k]) ** 2;
      }
      if (mode === 'manifold' || mask[r] === 0) assert.is(moved, 0, `row ${r} changed`);
      else {
        const n = Math.sqrt(s);
        assert.ok(n >= 2 * it.r_t * (1 - 1e-5) && n <= 4 * it.r_t * (1 + 1e-5), `row ${r}: ${n}`);
      }
    }
    const d: number[] = [];
    for (let r = 0; r < N; r++)
      if (mask[r] === 1) {
        let s = 0;
        for (let k = 0; k < D; k++) s += (before[r * D + k] - c[(r % L) * D + k]) ** 2;
        d.push(Math.sqrt(s));
      }
    close('r_f', [quantile(d, cfg.radius)], [it.r_f], 1e-6, 1e-5);
  });

  t('hard mining, focal loss, total loss, p_true / p_fake', () => {
    const fs = f32(it.fake_scores),
      ts = f32(it.true_scores),
      gs = f32(it.gaus_scores);
    const dist = Array.from(fs, (s, r) => (s - mask[r]) ** 2);
    const dHard = quantile(dist, cfg.p);
    close('d_hard', [dHard], [it.d_hard], 1e-7, 1e-5);
    const hard = u8(it.hard_mask);
    assert.equal(
      Array.from(dist, (v) => (v >= it.d_hard ? 1 : 0)),
      Array.from(hard),
    );
    // FocalLoss(): one-hot clamped to [smooth, 1 - smooth], pt = sum(one_hot * [1 - s, s]) + smooth
    const sm = cfg.focal.smooth;
    let acc = 0,
      m = 0;
    for (let r = 0; r < N; r++) {
      if (!hard[r]) continue;
      const p1 = fs[r],
        y = mask[r];
      const oh1 = y === 1 ? 1 - sm : sm,
        oh0 = y === 1 ? sm : 1 - sm;
      const pt = oh0 * (1 - p1) + oh1 * p1 + sm;
      acc += -((1 - pt) ** 2) * Math.log(pt);
      m++;
    }
    close('focal', [acc / m], [it.focal_loss], 1e-7, 1e-5);
    close('bce', [it.true_loss + it.gaus_loss], [it.bce_loss], 1e-7, 1e-6);
    close('bce from step-20 scores', [bceMean(ts, 0) + bceMean(gs, 1)], [it.bce_loss], 1e-6, 1e-5);
    close('loss', [it.bce_loss + it.focal_loss], [it.loss], 1e-7, 1e-6);
    let lowTrue = 0,
      zeros = 0,
      highFake = 0,
      nNormal = 0;
    for (let r = 0; r < N; r++) {
      const pt = fs[r] * (1 - mask[r]),
        pf = fs[r] * mask[r];
      if (pt < cfg.dsc_margin) lowTrue++;
      if (pt === 0) zeros++;
      if (pf >= cfg.dsc_margin) highFake++;
      if (mask[r] === 0) nNormal++;
    }
    for (let r = 0; r < N; r++) {
      if (ts[r] < cfg.dsc_margin) lowTrue++;
      if (ts[r] === 0) zeros++;
      if (gs[r] >= cfg.dsc_margin) highFake++;
    }
    assert.is(Math.fround((lowTrue - zeros) / (nNormal + N)), Math.fround(it.p_true));
    assert.is(Math.fround(highFake / (N - nNormal + N)), Math.fround(it.p_fake));
  });

  t('first optimizer step: Adam (L2 1e-5) on pre_projection, AdamW (decoupled 0.01) on the discriminator', () => {
    const lr = cfg.lr;
    const step = (p0: Float32Array, g: Float32Array, rate: number, l2: number, decoupled: number) =>
      Float64Array.from(p0, (p, i) => {
        const gi = g[i] + l2 * p;
        const m = 0.1 * gi,
          v = 0.001 * gi * gi;
        const denom = Math.sqrt(v) / Math.sqrt(1 - 0.999) + 1e-8;
        return p * (1 - rate * decoupled) - (rate / (1 - 0.9)) * (m / denom);
      });
    for (const [k, g] of Object.entries(fx.grads.pre_projection as Record<string, Encoded>)) {
      close(`proj ${k}`, step(projInit[k], f32(g), lr, 1e-5, 0), f32(fx.updated.pre_projection[k]), 1e-9, 1e-6);
    }
    for (const [k, g] of Object.entries(fx.grads.discriminator as Record<string, Encoded>)) {
      close(`dsc ${k}`, step(dscInit[k], f32(g), 2 * lr, 0, 0.01), f32(fx.updated.discriminator[k]), 1e-9, 1e-6);
    }
    // gradients reached every parameter
    for (const g of [...Object.values(fx.grads.pre_projection), ...Object.values(fx.grads.discriminator)] as Encoded[]) {
      assert.ok(f32(g).some((v) => v !== 0));
    }
  });

  t('inference: eval-mode scores, max image score, bilinear + gaussian segmentation', () => {
    const upd = params(fx.updated.discriminator),
      proj = params(fx.updated.pre_projection);
    const emb = embed(taps(fx.inputs.taps_true), B, P, D);
    const feats = linear(emb, N, D, proj['layers.0fc.weight'], D, proj['layers.0fc.bias']);
    const s = discriminator(feats, N, upd, D, Hd, false);
    const inf = fx.inference;
    close('patch scores', s, f32(inf.patch_scores), 1e-6, 1e-5);
    const ps = f32(inf.patch_scores);
    const maxes = [0, 1].map((b) => Math.max(...ps.subarray(b * L, (b + 1) * L)));
    assert.equal(maxes.map(Math.fround), Array.from(f32(inf.image_scores)));
    const [th, tw] = cfg.segmentation_size;
    close('upsampled', resizeBilinear(ps, B, h0, w0, th, tw), f32(inf.upsampled), 5e-7);
    close('segmentation', rescaleSegmentation(ps, B, h0, w0, th, tw, cfg.gaussian_sigma), f32(inf.segmentation), 5e-7);
  });

  t.run();
}
