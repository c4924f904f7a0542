// layer_norm and group_norm against PyTorch (test/fixtures/gen/transformer_ops.py): odd sizes,
// one group and a group per channel, no affine, weight or bias alone, eps, chunked long rows and
// chunked per-channel sums; finite-difference gradients; misaligned views (scalar paths) against
// aligned ones (vec4 paths); gradients for a subset of inputs; errors; nn.LayerNorm / nn.GroupNorm.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, assertClose, offsetView, randomValues, type OpFn } from '../../helpers/oracle.ts';
import { throwsWith } from '../../helpers/throws.ts';

const ln = (x: E.Tensor, a: Record<string, any>, w: E.Tensor | null, b: E.Tensor | null) => E.layerNorm(x, a.normalized_shape, w, b, a.eps);
const gn = (x: E.Tensor, a: Record<string, any>, w: E.Tensor | null, b: E.Tensor | null) => E.groupNorm(x, a.num_groups, w, b, a.eps);
const ops: Record<string, OpFn> = {
  layer_norm_wb: ([x, w, b], a) => ln(x, a, w, b),
  layer_norm_w: ([x, w], a) => ln(x, a, w, null),
  layer_norm_b: ([x, b], a) => ln(x, a, null, b),
  layer_norm_none: ([x], a) => ln(x, a, null, null),
  layer_norm_T: ([x, w, b], a) => ln(x.T, a, w, b),
  group_norm: ([x, w, b], a) => gn(x, a, w, b),
  group_norm_none: ([x], a) => gn(x, a, null, null),
};

const fx = suite('layer_norm / group_norm vs torch');
fx.before(async () => {
  await E.initDevice();
});
registerCases(fx, loadFixture('ops/transformer_norm.json').cases, ops);
fx.run();

const t = suite('layer_norm / group_norm');
t.before(async () => {
  await E.initDevice();
});

// weights away from 0 so the gradient through them is well scaled
const weightish = (n: number, seed: number) => Float32Array.from(randomValues(n, seed), (v) => 1 + 0.5 * v);

t('finite differences: layerNorm (x, weight, bias)', () =>
  gradcheck(([x, w, b]) => E.layerNorm(x, [5], w, b), [{ shape: [3, 5] }, { shape: [5], data: weightish(5, 1) }, { shape: [5] }]),
);
t('finite differences: layerNorm over two dims, vec4 rows', () =>
  gradcheck(([x, w, b]) => E.layerNorm(x, [2, 4], w, b, 1e-3), [{ shape: [2, 2, 4] }, { shape: [2, 4], data: weightish(8, 2) }, { shape: [2, 4] }]),
);
t('finite differences: layerNorm without affine', () => gradcheck(([x]) => E.layerNorm(x, 6), [{ shape: [2, 6] }]));
t('finite differences: groupNorm (x, weight, bias), odd spatial', () =>
  gradcheck(([x, w, b]) => E.groupNorm(x, 2, w, b), [{ shape: [2, 4, 3] }, { shape: [4], data: weightish(4, 3) }, { shape: [4] }]),
);
t('finite differences: groupNorm, a group per channel, vec4 positions', () =>
  gradcheck(([x, w, b]) => E.groupNorm(x, 3, w, b), [{ shape: [1, 3, 2, 2] }, { shape: [3], data: weightish(3, 4) }, { shape: [3] }]),
);
t('finite differences: groupNorm without affine, one group', () => gradcheck(([x]) => E.groupNorm(x, 1), [{ shape: [2, 3, 2] }]));

/** Output and all gradients of fn(x, w, b) for a fixed upstream gradient, as host arrays. */
async function run(fn: (x: E.Tensor, w: E.Tensor, b: E.Tensor) => E.Tensor, x: E.Tensor, w: E.Tensor, b: E.Tensor): Promise<Float32Array[]> {
  return E.tidyAsync(async () => {
    const y = fn(x, w, b);
    const g = E.tensor(randomValues(y.size, 5), { shape: y.shape });
    const gs = E.grad(y, [x, w, b], { gradOutputs: [g] });
    return Promise.all([y, ...gs].map(async (v) => new Float32Array(await v!.data())));
  });
}

// A view starting 1 element into its buffer cannot be read as vec4s: the scalar kernels must
// give the vec4 kernels' results (same arithmetic per element, so to rounding of the sums).
const layouts: [string, number[], (x: E.Tensor, w: E.Tensor, b: E.Tensor) => E.Tensor, number][] = [
  ['layerNorm rows of 8 (vec4 stats, c4 sums)', [6, 8], (x, w, b) => E.layerNorm(x, 8, w, b), 8],
  ['layerNorm chunked rows of 1032', [2, 1032], (x, w, b) => E.layerNorm(x, 1032, w, b), 1032],
  ['groupNorm positions of 4 (s4 sums)', [3, 4, 2, 2], (x, w, b) => E.groupNorm(x, 2, w, b), 4],
  ['groupNorm [N, C] with 4 channels per group (c4 sums)', [5, 8], (x, w, b) => E.groupNorm(x, 2, w, b), 8],
];
for (const [name, shape, fn, C] of layouts) {
  t(`misaligned input matches aligned: ${name}`, async () => {
    const n = shape.reduce((a, b) => a * b, 1);
    const xv = Float32Array.from(randomValues(n, 9), (v, i) => 3 * v + (i % 7));
    const wv = weightish(C, 10);
    const bv = randomValues(C, 11);
    const ref = await run(fn, E.tensor(xv, { shape, requiresGrad: true }), E.tensor(wv, { requiresGrad: true }), E.tensor(bv, { requiresGrad: true }));
    const got = await run(fn, offsetView(xv, shape, 1, true), offsetView(wv, [C], 3, true), offsetView(bv, [C], 2, true));
    ['output', 'grad x', 'grad weight', 'grad bias'].forEach((what, i) => assertClose(got[i], ref[i], 2e-5, 2e-5, `${name}: ${what}`));
  });
}

t('gradients for a subset of the inputs', async () => {
  const xv = randomValues(24, 3);
  const wv = weightish(6, 4);
  const bv = randomValues(6, 5);
  const full = await run(
    (x, w, b) => E.layerNorm(x, 6, w, b),
    E.tensor(xv, { shape: [4, 6], requiresGrad: true }),
    E.tensor(wv, { requiresGrad: true }),
    E.tensor(bv, { requiresGrad: true }),
  );
  await E.tidyAsync(async () => {
    const x = E.tensor(xv, { shape: [4, 6] });
    const w = E.tensor(wv, { requiresGrad: true });
    const b = E.tensor(bv);
    const y = E.layerNorm(x, 6, w, b);
    const [gw] = E.grad(y, [w], { gradOutputs: [E.tensor(randomValues(24, 5), { shape: [4, 6] })] });
    assertClose(await gw!.data(), full[2], 1e-6, 1e-6, 'weight gradient alone');
  });
});

t('a NaN poisons its own row (layer norm) or group (group norm) only, as in torch', async () => {
  const xv = randomValues(24, 8);
  xv[7] = NaN;
  const y = await E.layerNorm(E.tensor(xv, { shape: [4, 6] }), 6).data();
  assert.equal(Array.from(y, Number.isNaN), [...Array(6).fill(false), ...Array(6).fill(true), ...Array(12).fill(false)]);
  // one group of 12 per sample: sample 0 is NaN, sample 1 not
  const z = await E.groupNorm(E.tensor(xv, { shape: [2, 4, 3] }), 1).data();
  assert.equal(Array.from(z, Number.isNaN), [...Array(12).fill(true), ...Array(12).fill(false)]);
});

t('empty inputs give empty outputs', async () => {
  assert.equal(E.layerNorm(E.zeros([0, 4]), 4).shape, [0, 4]);
  assert.equal(E.groupNorm(E.zeros([0, 4, 3]), 2).shape, [0, 4, 3]);
});

t('errors name the op and the shapes', () => {
  const x = E.zeros([2, 3, 4]);
  throwsWith(() => E.layerNorm(x, [3]), 'layerNorm', 'normalizedShape [3]', '[2, 3, 4]');
  throwsWith(() => E.layerNorm(x, [4], E.ones([3])), 'layerNorm', 'weight [3]', '[4]');
  throwsWith(() => E.layerNorm(x, []), 'layerNorm', 'non-empty');
  throwsWith(() => E.layerNorm(E.zeros([2, 4], 'i32'), 4), 'layerNorm', 'f32', 'i32');
  throwsWith(() => E.groupNorm(x, 2), 'groupNorm', 'divisor', '3 channels', '[2, 3, 4]');
  throwsWith(() => E.groupNorm(x, 3, null, E.zeros([4])), 'groupNorm', 'bias [4]', '[3]');
  throwsWith(() => E.groupNorm(E.zeros([4]), 1), 'groupNorm', '[N, C, *]', '[4]');
});

t('nn.LayerNorm: torch parameter names, shapes and defaults; forward is layerNorm', async () => {
  const m = new E.nn.LayerNorm([2, 3], { eps: 1e-3 });
  const sd = m.stateDict();
  assert.equal(Object.keys(sd), ['weight', 'bias']);
  assert.equal((sd.weight as E.Tensor).shape, [2, 3]);
  assert.equal(Array.from(await m.weight!.data()), [1, 1, 1, 1, 1, 1]);
  assert.equal(Array.from(await m.bias!.data()), [0, 0, 0, 0, 0, 0]);
  await E.tidyAsync(async () => {
    E.noGrad(() => {
      E.assign(m.weight!, E.tensor(weightish(6, 1), { shape: [2, 3] }));
      E.assign(m.bias!, E.tensor(randomValues(6, 2), { shape: [2, 3] }));
    });
    const x = E.tensor(randomValues(24, 3), { shape: [4, 2, 3] });
    assertClose(await m.forward(x).data(), await E.layerNorm(x, [2, 3], m.weight, m.bias, 1e-3).data(), 0, 0, 'LayerNorm.forward');
  });
  assert.equal(Object.keys(new E.nn.LayerNorm(4, { elementwiseAffine: false }).stateDict()), []);
  assert.equal(Object.keys(new E.nn.LayerNorm(4, { bias: false }).stateDict()), ['weight']);
});

t('nn.GroupNorm: torch parameter names and defaults; checks channels', async () => {
  const m = new E.nn.GroupNorm(2, 6);
  assert.equal(Object.keys(m.stateDict()), ['weight', 'bias']);
  assert.equal(m.weight!.shape, [6]);
  assert.is(m.eps, 1e-5);
  const x = E.tensor(randomValues(36, 4), { shape: [2, 6, 3] });
  assertClose(await m.forward(x).data(), await E.groupNorm(x, 2).data(), 0, 0, 'GroupNorm.forward (weight 1, bias 0)');
  assert.equal(Object.keys(new E.nn.GroupNorm(3, 6, { affine: false }).stateDict()), []);
  throwsWith(() => new E.nn.GroupNorm(4, 6), 'GroupNorm', '6', '4');
  throwsWith(() => m.forward(E.zeros([2, 4, 3])), 'GroupNorm', '4 channels', 'expected 6');
});
t.run();
