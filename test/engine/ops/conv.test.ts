// conv2d against PyTorch fixtures (test/fixtures/gen/conv_ops.py): forward and input, weight and
// bias gradients over stride/padding/dilation/groups/depthwise/1x1 cases, again with other tile
// shapes, without subgroups and through the matmul path; the fused activation against F.relu /
// F.relu6 of F.conv2d; finite-difference checks; shape errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, assertClose, randomValues, type OpFn } from '../../helpers/oracle.ts';
import { setDispatchHook } from '../../../engine/runtime/dispatch.ts';
import { throwsWith } from '../../helpers/throws.ts';
import { liveTensors } from '../../helpers/memory.ts';

type Args = Record<string, any>;
const opts = (a: Args): E.Conv2dOptions => ({ stride: a.stride, padding: a.padding, dilation: a.dilation, groups: a.groups });
const ops: Record<string, OpFn> = {
  conv2d: ([x, w, b], a) => E.conv2d(x, w, b ?? null, opts(a)),
  conv2d_xT: ([x, w], a) => E.conv2d(E.transpose(x, 2, 3), w, null, opts(a)),
  conv2d_proj: ([x, w, s, b], a) => E.sum(E.mul(E.conv2d(x, w, b ?? null, opts(a)), s), [0, 2, 3]),
  // the fused activation against F.relu / F.relu6 of F.conv2d
  conv2d_act: ([x, w, b], a) => E.conv2d(x, w, b ?? null, { ...opts(a), activation: a.activation }),
};
const cases = loadFixture('ops/conv.json').cases.filter((c) => c.op in ops);
const before = async () => {
  await E.initDevice();
};

const fx = suite('conv2d vs torch');
fx.before(before);
registerCases(fx, cases, ops);
fx.run();

// The same fixtures through other kernel variants (every code generator path must stay correct
// on devices that pick them): small tiles and the split/vec options, no subgroups, gemm for 1x1.
const pick = (names: string[]) => cases.filter((c) => names.some((n) => c.name.startsWith(n)));
const variants: [string, Partial<E.ConvTuning>, string[]][] = [
  ['tiles 8x8, direct 2 rows, wgrad 2 ci x 8 columns', { tm: 8, tn: 8, wg: 16, directTr: 2, directTn: 4, wgTm: 8, wgTc: 2, wgPv: 2 }, ['conv_stride_dil']],
  ['no subgroups', { subgroups: false, matmul1x1: false }, ['conv_1x1_aligned', 'conv_groups2']],
  ['gemm kernel for 1x1 (the matmul path is the default)', { matmul1x1: false }, ['conv_1x1_bias', 'conv_1x1_aligned']],
  ['forced single split', { wgSplits: 1 }, ['conv_3x3_p1', 'conv_depthwise_dil2']],
];
for (const [name, t, names] of variants) {
  const s = suite(`conv2d vs torch, ${name}`);
  s.before(async () => {
    await before();
    E.setConvTuning(t);
  });
  s.after(() => {
    E.setConvTuning(null);
  });
  registerCases(s, pick(names), ops);
  s.run();
}

const gc = suite('conv2d finite-difference gradients');
gc.before(before);
const gcases: [string, number[], number[], boolean, E.Conv2dOptions][] = [
  ['3x3 pad 1 with bias', [1, 2, 5, 4], [3, 2, 3, 3], true, { padding: 1 }],
  ['stride 2, dilation 2, asymmetric padding', [1, 2, 6, 7], [2, 2, 2, 3], false, { stride: 2, dilation: [2, 1], padding: [1, 0, 2, 1] }],
  ['groups 2', [1, 4, 4, 4], [4, 2, 2, 2], true, { groups: 2, padding: 1 }],
  ['depthwise stride 2', [1, 3, 5, 5], [3, 1, 3, 3], true, { groups: 3, stride: 2, padding: 1 }],
  ['1x1', [2, 3, 3, 2], [2, 3, 1, 1], true, {}],
];
for (const [name, xs, ws, bias, o] of gcases) {
  gc(name, () => gradcheck(([x, w, b]) => E.conv2d(x, w, b ?? null, o), [{ shape: xs }, { shape: ws }, ...(bias ? [{ shape: [ws[0]] }] : [])]));
}
gc.run();

const misc = suite('conv2d API');
misc.before(before);
misc('unbatched [C, H, W] input matches the batched result', async () => {
  await E.tidyAsync(async () => {
    const x = E.tensor(randomValues(2 * 5 * 6, 1), { shape: [2, 5, 6] });
    const w = E.tensor(randomValues(3 * 2 * 9, 2), { shape: [3, 2, 3, 3] });
    const y = E.conv2d(x, w, null, { padding: 1 });
    assert.equal([...y.shape], [3, 5, 6]);
    assertClose(await y.data(), await E.conv2d(E.unsqueeze(x, 0), w, null, { padding: 1 }).data(), 0, 0, 'unbatched');
  });
});
misc('conv2dInputGrad / conv2dWeightGrad agree with autograd', async () => {
  await E.tidyAsync(async () => {
    const o: E.Conv2dOptions = { stride: 2, padding: [1, 0, 0, 1], groups: 2 };
    const x = E.tensor(randomValues(2 * 4 * 7 * 6, 3), { shape: [2, 4, 7, 6], requiresGrad: true });
    const w = E.tensor(randomValues(6 * 2 * 9, 4), { shape: [6, 2, 3, 3], requiresGrad: true });
    const y = E.conv2d(x, w, null, o);
    const gy = E.tensor(randomValues(y.size, 5), { shape: y.shape });
    const [gx, gw] = E.grad(y, [x, w], { gradOutputs: [gy] });
    assertClose(await E.conv2dInputGrad(x.shape, w, gy, o).data(), await gx!.data(), 0, 0, 'input grad');
    assertClose(await E.conv2dWeightGrad(x, w.shape, gy, o).data(), await gw!.data(), 0, 0, 'weight grad');
  });
});
misc('forward and backward leave no tensors behind', async () => {
  const x = E.tensor(randomValues(1 * 4 * 9 * 9, 6), { shape: [1, 4, 9, 9], requiresGrad: true });
  const w = E.tensor(randomValues(8 * 4 * 9, 7), { shape: [8, 4, 3, 3], requiresGrad: true });
  const b = E.tensor(randomValues(8, 8), { requiresGrad: true });
  const before = liveTensors();
  await E.tidyAsync(async () => {
    const L = E.sum(E.conv2d(x, w, b, { padding: 1, stride: 2 }));
    const gs = E.grad(L, [x, w, b]);
    await gs[1]!.data();
  });
  assert.is(liveTensors(), before);
  for (const t of [x, w, b]) t.dispose();
});

misc.run();

const err = suite('conv2d errors');
err.before(before);
err('weight/input channel mismatch names both shapes', () =>
  throwsWith(() => E.conv2d(E.zeros([1, 3, 5, 5]), E.zeros([4, 2, 3, 3])), ['conv2d', '[4, 2, 3, 3]', '[1, 3, 5, 5]']),
);
err('channels not divisible by groups', () =>
  throwsWith(() => E.conv2d(E.zeros([1, 6, 5, 5]), E.zeros([4, 2, 3, 3]), null, { groups: 4 }), ['conv2d', 'divisible by groups=4', '[1, 6, 5, 5]']),
);
err('output channels not divisible by groups', () =>
  throwsWith(() => E.conv2d(E.zeros([1, 4, 5, 5]), E.zeros([3, 2, 3, 3]), null, { groups: 2 }), ['conv2d', 'output channels 3', 'groups=2']),
);
err('empty output', () =>
  throwsWith(() => E.conv2d(E.zeros([1, 2, 2, 5]), E.zeros([4, 2, 3, 3])), ['conv2d', 'output size 0x3', '[1, 2, 2, 5]', '[4, 2, 3, 3]']),
);
err('bias length', () => throwsWith(() => E.conv2d(E.zeros([1, 2, 5, 5]), E.zeros([4, 2, 3, 3]), E.zeros([3])), ['conv2d', 'bias [3]', '4 output channels']));
err('input rank', () => throwsWith(() => E.conv2d(E.zeros([2, 5, 5, 1, 1]), E.zeros([4, 2, 3, 3])), ['conv2d', '[2, 5, 5, 1, 1]']));
err("'same' with stride", () =>
  throwsWith(() => E.conv2d(E.zeros([1, 2, 5, 5]), E.zeros([4, 2, 3, 3]), null, { padding: 'same', stride: 2 }), ['conv2d', "'same'", 'stride']),
);
err('bad padding spec', () =>
  throwsWith(() => E.conv2d(E.zeros([1, 2, 5, 5]), E.zeros([4, 2, 3, 3]), null, { padding: [1, 2, 3] as unknown as number }), ['conv2d', 'padding']),
);
err('grad_output shape', () =>
  throwsWith(() => E.conv2dInputGrad([1, 2, 5, 5], E.zeros([4, 2, 3, 3]), E.zeros([1, 4, 5, 5])), ['conv2d backward', '[1, 4, 5, 5]', '[1, 4, 3, 3]']),
);
err.run();

// ---- activation fused into the store ----
// conv2d(..., { activation }) against relu / relu6 of conv2d(...): the same bits forward and for
// every gradient, on each kernel path: the subgroup matmul for 1x1 (with a bias per row), its
// unfused fallbacks (one output pixel: the matrix-vector path; no subgroups: the gemm kernel),
// the gemm kernel (3x3), the direct kernel (depthwise) and the input gradient's own kernels.
const act = suite('conv2d activation (fused relu / relu6)');
act.before(before);
const acases: [string, number[], number[], boolean, E.Conv2dOptions, Partial<E.ConvTuning>?][] = [
  ['1x1 through the matmul kernel, bias per row', [2, 8, 6, 4], [12, 8, 1, 1], true, {}],
  ['1x1 without bias', [2, 8, 4, 4], [8, 8, 1, 1], false, {}],
  ['1x1 on a 1x1 image (matrix-vector path)', [3, 8, 1, 1], [8, 8, 1, 1], true, {}],
  ['1x1 through the gemm kernel (no subgroups)', [2, 8, 6, 4], [12, 8, 1, 1], true, {}, { subgroups: false, matmul1x1: false }],
  ['3x3 gemm kernel, stride 2', [2, 3, 9, 8], [8, 3, 3, 3], true, { stride: 2, padding: 1 }],
  ['depthwise direct kernel', [2, 6, 7, 8], [6, 1, 3, 3], true, { groups: 6, padding: 1 }],
];
for (const [name, xs, ws, bias, o, tuning] of acases)
  for (const a of ['relu6', 'relu'] as const)
    act(`${a}: ${name}`, () =>
      E.tidyAsync(async () => {
        if (tuning) E.setConvTuning(tuning);
        try {
          // values spread so that outputs fall below 0, inside (0, 6) and above 6
          const mk = (shape: number[], seed: number, scale: number) =>
            E.tensor(
              randomValues(
                shape.reduce((p, q) => p * q),
                seed,
              ).map((v) => v * scale),
              { shape },
            ).requiresGrad_();
          const make = () => ({ x: mk(xs, 1, 3), w: mk(ws, 2, 1.5), b: bias ? mk([ws[0]], 3, 2) : null });
          const f = make(),
            u = make();
          const yf = E.conv2d(f.x, f.w, f.b, { ...o, activation: a });
          const yu = (a === 'relu' ? E.relu : E.relu6)(E.conv2d(u.x, u.w, u.b, o));
          const yv = await yu.data();
          assert.ok(yv.some((v) => v === 0) && yv.some((v) => v > 0 && v < 6), `${name}: outputs on both sides of 0`);
          if (a === 'relu6')
            assert.ok(
              yv.some((v) => v === 6),
              `${name}: some outputs clamped at 6`,
            );
          const dy = E.tensor(randomValues(yf.size, 4), { shape: yf.shape });
          E.sum(E.mul(yf, dy)).backward();
          E.sum(E.mul(yu, dy)).backward();
          assertClose(await yf.data(), yv, 0, 0, `y ${name}`);
          assertClose(await f.x.grad!.data(), await u.x.grad!.data(), 0, 0, `dx ${name}`);
          assertClose(await f.w.grad!.data(), await u.w.grad!.data(), 0, 0, `dw ${name}`);
          if (bias) assertClose(await f.b!.grad!.data(), await u.b!.grad!.data(), 0, 0, `db ${name}`);
        } finally {
          if (tuning) E.setConvTuning(null);
        }
      }),
    );
act('finite differences through relu6 (1x1 and 3x3), and a bad activation is an error', async () => {
  const o = { eps: 1e-3, atol: 1e-2, rtol: 1e-2 };
  await gradcheck(([x, w, b]) => E.conv2d(x, w, b, { activation: 'relu6' }), [{ shape: [2, 4, 3, 3] }, { shape: [8, 4, 1, 1] }, { shape: [8] }], {
    seed: 9,
    ...o,
  });
  await gradcheck(([x, w, b]) => E.conv2d(x, w, b, { padding: 1, activation: 'relu' }), [{ shape: [1, 2, 4, 4] }, { shape: [4, 2, 3, 3] }, { shape: [4] }], {
    seed: 10,
    ...o,
  });
  E.tidy(() =>
    assert.throws(
      () => E.conv2d(E.zeros([1, 2, 4, 4]), E.zeros([4, 2, 3, 3]), null, { activation: 'gelu' as never }),
      /conv2d: activation must be 'relu', 'relu6' or null, got 'gelu'/,
    ),
  );
});
act.run();

// ---- the direct kernel reading its input unpadded ----
// Where the input's rows are whole vec4s the direct kernel (depthwise, Cout/groups < 4) reads it as
// it is, with out-of-range rows and vec4s loading zeros, instead of a zero-padded copy. The same
// FMAs in the same order, so the same bits as through the copy: forward (bias, fused activation),
// and the input gradient, which is again a direct convolution (unpadded when the stride is 1).
// Geometries: every lead (padL mod 4), padding past the kernel and asymmetric, strides 1-3,
// dilation, channel multipliers, Cin/groups > 1, tiles of 1x4 (planes under 64 pixels), 1x8, 2x8 and 4x8,
// an input at an offset (a channel slice), and a non-contiguous input (which takes the copy).
const raw = suite('conv2d direct kernel on an unpadded input');
raw.before(before);
const rcases: [string, number[], number[], E.Conv2dOptions, ((x: E.Tensor) => E.Tensor)?][] = [
  ['depthwise 3x3 pad 1, 4x8 tiles (36x40 plane)', [2, 3, 36, 40], [3, 1, 3, 3], { groups: 3, padding: 1 }],
  ['depthwise 3x3 TF same stride 2 (pad 0,1,0,1)', [2, 4, 16, 16], [4, 1, 3, 3], { groups: 4, stride: 2, padding: [0, 1, 0, 1] }],
  ['depthwise 5x5 pad 2 dilation 2, lead 2', [1, 2, 13, 12], [2, 1, 5, 5], { groups: 2, padding: 2, dilation: 2 }],
  ['depthwise 3x3 pad 3 (past the kernel), lead 1', [1, 2, 7, 8], [2, 1, 3, 3], { groups: 2, padding: 3 }],
  ['asymmetric pad 2,0,1,3 stride 3x1, lead 3', [1, 3, 11, 12], [3, 1, 4, 3], { groups: 3, stride: [3, 1], padding: [2, 0, 1, 3] }],
  ['no padding, stride 2, multiplier 2', [1, 3, 9, 12], [6, 1, 3, 3], { groups: 3, stride: 2 }],
  ['Cin/groups 2, Cout/groups 3 (groups 2)', [1, 4, 8, 8], [6, 2, 3, 3], { groups: 2, padding: 1 }],
  ['ungrouped 2 output channels, 34x36 plane', [1, 3, 34, 36], [2, 3, 3, 3], { padding: 1 }],
  ['input at an offset (channel slice)', [1, 6, 8, 12], [2, 1, 3, 3], { groups: 2, padding: 1 }, (x) => E.narrow(x, 1, 4, 2)],
  ['non-contiguous input (takes the copy)', [1, 2, 12, 12], [2, 1, 3, 3], { groups: 2, padding: 1 }, (x) => E.transpose(x, 2, 3)],
];
for (const [name, xs, ws, o, view] of rcases)
  raw(name, async () => {
    const run = async (unpadded: boolean) => {
      E.setConvTuning({ directUnpadded: unpadded });
      const names: string[] = [];
      setDispatchHook({ passFor: (k) => (names.push(k.name), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
      try {
        return await E.tidyAsync(async () => {
          const x0 = E.tensor(
            randomValues(
              xs.reduce((p, q) => p * q),
              11,
            ),
            { shape: xs },
          ).requiresGrad_();
          const x = view ? view(x0) : x0;
          const w = E.tensor(
            randomValues(
              ws.reduce((p, q) => p * q),
              12,
            ),
            { shape: ws },
          ).requiresGrad_();
          const b = E.tensor(randomValues(ws[0], 13), { shape: [ws[0]] });
          const y = E.conv2d(x, w, b, { ...o, activation: 'relu' });
          const fwd = names.slice();
          E.sum(E.mul(y, E.tensor(randomValues(y.size, 14), { shape: y.shape }))).backward();
          return { y: await y.data(), dx: await x0.grad!.data(), dw: await w.grad!.data(), fwd };
        });
      } finally {
        setDispatchHook(null);
        E.setConvTuning(null);
      }
    };
    const u = await run(true),
      p = await run(false);
    assertClose(u.y, p.y, 0, 0, 'y');
    assertClose(u.dx, p.dx, 0, 0, 'dx');
    assertClose(u.dw, p.dw, 0, 0, 'dw');
    assert.ok(u.fwd.includes('conv2d.direct') && p.fwd.includes('conv2d.pad'), `${u.fwd.join(' ')} | ${p.fwd.join(' ')}`);
    assert.is(u.fwd.includes('conv2d.pad'), name.includes('takes the copy'), `forward kernels ${u.fwd.join(' ')}`);
  });
raw('against a float64 reference with every lead and the bias, and a 1x1 plane', async () => {
  // an independent check of the unpadded path itself (the fixtures cover the copy)
  for (const pl of [0, 1, 2, 3, 5]) {
    const [N, C, H, W, K] = [1, 2, 5, 8, 3];
    const X = randomValues(N * C * H * W, 20 + pl),
      Wt = randomValues(C * K * K, 30 + pl),
      B = randomValues(C, 40);
    const pt = 1,
      pb = 2,
      pr = 1;
    const OH = H + pt + pb - K + 1,
      OW = W + pl + pr - K + 1;
    const ref = new Float64Array(N * C * OH * OW);
    for (let c = 0; c < C; c++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let s = B[c];
          for (let ky = 0; ky < K; ky++)
            for (let kx = 0; kx < K; kx++) {
              const iy = oy - pt + ky,
                ix = ox - pl + kx;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) s += X[(c * H + iy) * W + ix] * Wt[(c * K + ky) * K + kx];
            }
          ref[(c * OH + oy) * OW + ox] = s;
        }
    const y = await E.tidyAsync(async () =>
      E.conv2d(E.tensor(X, { shape: [N, C, H, W] }), E.tensor(Wt, { shape: [C, 1, K, K] }), E.tensor(B), { groups: C, padding: [pt, pb, pl, pr] }).data(),
    );
    assertClose(y, Float32Array.from(ref), 1e-5, 1e-5, `padL ${pl}`);
  }
});
raw.run();
