// Boolean masking (scan compaction), sort/topk/quantile/cumsum and softmax against PyTorch
// fixtures (test/fixtures/gen/shape_ops.py), the async (count readback) forms, a stable-sort
// property check on long lines, finite-difference gradients and error messages.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, decode, fromSpec, assertClose, randomValues, type OpFn, type Case } from '../../helpers/oracle.ts';
import { throwsWith } from '../../helpers/throws.ts';

const ops: Record<string, OpFn> = {
  maskedIndex: ([x, m], a) => E.maskedIndexCount(x, m, a.count),
  maskedSelect: ([x, m], a) => E.maskedSelectCount(x, m, a.count),
  maskedAssign: ([x, m, v]) => E.maskedAssign(x, m, v),
  maskedAssign_scalar: ([x, m], a) => E.maskedAssign(x, m, a.value),
  sort: ([x], a) => E.sort(x, a.dim, a.descending),
  sort_T: ([x], a) => E.sort(x.T, a.dim, a.descending),
  argsort: ([x], a) => E.argsort(x, a.dim, a.descending),
  topk: ([x], a) => E.topk(x, a.k, a.dim, a.largest),
  quantile: ([x], a) => E.quantile(x, a.q, a.dim, a.keepdim),
  cumsum: ([x], a) => E.cumsum(x, a.dim),
  cumsum_T: ([x], a) => E.cumsum(x.T, a.dim),
  softmax: ([x], a) => E.softmax(x, a.dim),
  logSoftmax: ([x], a) => E.logSoftmax(x, a.dim),
};

const cases = loadFixture('ops/shape_mask_sort.json').cases;
const fx = suite('mask / sort / softmax vs torch');
fx.before(async () => {
  await E.initDevice();
});
// oracle.assertClose computes inf - inf = NaN, so cases with infinities compare exactly here
const withInf = (c: Case) => c.name.includes('nan_inf');
registerCases(
  fx,
  cases.filter((c: Case) => !withInf(c)),
  ops,
);
for (const c of cases.filter(withInf)) {
  fx(`${c.name} (${c.op}, exact)`, async () => {
    await E.tidyAsync(async () => {
      const outs = ops[c.op]([fromSpec(c.inputs[0])], c.args) as E.Tensor[];
      for (let k = 0; k < c.out.length; k++) {
        const got = Array.from(await outs[k].data());
        const want = Array.from(decode(c.out[k]));
        assert.ok(
          got.length === want.length && got.every((v, i) => Object.is(v, want[i]) || (Number.isNaN(v) && Number.isNaN(want[i]))),
          `${c.name} output ${k}: [${got}] vs [${want}]`,
        );
      }
    });
  });
}
fx.run();

const as = suite('async masked selection (count read back)');
as.before(async () => {
  await E.initDevice();
});
for (const c of cases.filter((k: Case) => k.op === 'maskedIndex' || k.op === 'maskedSelect')) {
  as(c.name, async () => {
    await E.tidyAsync(async () => {
      const [x, m] = c.inputs.map((s, i) => fromSpec(s, c.requires_grad[i]));
      const out = c.op === 'maskedIndex' ? await E.maskedIndexAsync(x, m) : await E.maskedSelectAsync(x, m);
      assert.equal(out.shape, c.out[0].shape);
      assertClose(await out.data(), decode(c.out[0]), 0, 0, c.name);
      if (c.op === 'maskedIndex') assert.is(await E.countTrueAsync(m), c.args.count);
      if (c.grads && c.grad_out) {
        const [gx] = E.grad(out, [x], { gradOutputs: [fromSpec(c.grad_out)] });
        assertClose(await gx!.data(), decode(c.grads[0]!), 1e-6, 0, `${c.name}: grad`);
      }
    });
  });
}
as('noGrad around the async form records nothing', async () => {
  await E.tidyAsync(async () => {
    const x = E.tensor([1, 2, 3, 4], { requiresGrad: true });
    const m = E.tensor([true, false, true, true]);
    const out = await E.noGrad(() => E.maskedIndexAsync(x, m));
    assert.is(out.requiresGrad, false);
    assert.equal(Array.from(await out.data()), [1, 3, 4]);
  });
});
as('count larger than the selection pads with zeros, smaller truncates', async () => {
  await E.tidyAsync(async () => {
    const x = E.tensor([5, 6, 7, 8]);
    const m = E.tensor([false, true, false, true]);
    assert.equal(Array.from(await E.maskedIndexCount(x, m, 4).data()), [6, 8, 0, 0]);
    assert.equal(Array.from(await E.maskedIndexCount(x, m, 1).data()), [6]);
  });
});
as.run();

const st = suite('stable sort of long lines (property check against Array.sort)');
st.before(async () => {
  await E.initDevice();
});
st('3 x 5000 with many ties, both directions, and topk', async () => {
  await E.tidyAsync(async () => {
    const R = 3,
      n = 5000;
    const raw = Float32Array.from(randomValues(R * n, 11), (v) => Math.round(v * 40) / 8);
    const x = E.tensor(raw, { shape: [R, n] });
    for (const desc of [false, true]) {
      const [v, i] = E.sort(x, 1, desc);
      const vd = await v.data();
      const id = await i.data();
      for (let r = 0; r < R; r++) {
        const order = Array.from({ length: n }, (_, k) => k);
        order.sort((a, b) => (desc ? raw[r * n + b] - raw[r * n + a] : raw[r * n + a] - raw[r * n + b]) || a - b);
        for (let k = 0; k < n; k++) {
          if (id[r * n + k] !== order[k] || vd[r * n + k] !== raw[r * n + order[k]])
            throw new Error(`row ${r} desc ${desc} position ${k}: got index ${id[r * n + k]}, expected ${order[k]}`);
        }
      }
    }
    const [tv] = E.topk(x, 7, 1);
    const [sv] = E.sort(x, 1, true);
    assertClose(await tv.data(), await E.contiguous(E.slice(sv, 1, 0, 7)).data(), 0, 0, 'topk = sorted prefix');
  });
});
// q lists longer than one dispatch takes (48) run in chunks, each kernel built for its chunk's q
// count; the q values are shuffled so a q read from the wrong slot shows.
const manyQ = Array.from({ length: 50 }, (_, k) => ((k * 37) % 50) / 49);
st('quantile of 50 q values (two chunks) against the f32 linear interpolation of torch', async () => {
  await E.tidyAsync(async () => {
    const R = 3,
      n = 37;
    const raw = randomValues(R * n, 12);
    const got = await E.quantile(E.tensor(raw, { shape: [R, n] }), manyQ, 1).data();
    const f = Math.fround;
    const want: number[] = [];
    for (const q of manyQ) {
      for (let r = 0; r < R; r++) {
        const line = Float32Array.from(raw.slice(r * n, (r + 1) * n)).sort();
        const rank = f(f(q) * (n - 1));
        const lo = Math.floor(rank),
          w = f(rank - lo);
        const a = line[lo],
          b = line[Math.ceil(rank)];
        want.push(w < 0.5 ? f(a + f(w * f(b - a))) : f(b - f(f(b - a) * f(1 - w))));
      }
    }
    assertClose(got, want, 1e-6, 1e-6, 'quantile [50, 3]');
  });
});
st.run();

const gc = suite('mask / sort / softmax: finite-difference gradients');
gc.before(async () => {
  await E.initDevice();
});
// values at least 0.2 apart so the eps = 0.01 perturbations never reorder them
const spaced = (n: number, seed: number) => {
  const perm = Array.from({ length: n }, (_, i) => i);
  const r = randomValues(n, seed);
  perm.sort((a, b) => r[a] - r[b]);
  return Float32Array.from(perm, (i) => i * 0.2 - n * 0.1);
};
const mask6 = () => E.tensor([true, false, true, true, false, true]);
gc('maskedIndexCount', () => gradcheck(([x]) => E.maskedIndexCount(x, mask6(), 4), [{ shape: [6, 2] }]));
gc('maskedSelectCount (broadcast)', () => gradcheck(([x]) => E.maskedSelectCount(x, E.tensor([[true, false, true]]), 4), [{ shape: [2, 3] }]));
gc('maskedAssign rows', () => gradcheck(([x, v]) => E.mul(E.maskedAssign(x, mask6(), v), 2), [{ shape: [6, 2] }, { shape: [4, 2] }]));
gc('maskedAssign broadcast row', () => gradcheck(([x, v]) => E.maskedAssign(x, mask6(), v), [{ shape: [6, 2] }, { shape: [2] }]));
gc('sort values', () => gradcheck(([x]) => E.sort(x, 1, true)[0], [{ shape: [2, 9], data: spaced(18, 3) }]));
gc('topk values', () => gradcheck(([x]) => E.topk(x, 3, 0, false)[0], [{ shape: [7, 2], data: spaced(14, 4) }]));
gc('quantile', () => gradcheck(([x]) => E.quantile(x, [0.1, 0.5, 0.93], 1), [{ shape: [2, 8], data: spaced(16, 5) }]));
gc('quantile, 50 q values (two chunks)', () => gradcheck(([x]) => E.quantile(x, manyQ, 1), [{ shape: [2, 8], data: spaced(16, 7) }]));
gc('quantile all', () => gradcheck(([x]) => E.quantile(x, 0.75), [{ shape: [3, 3], data: spaced(9, 6) }]));
gc('cumsum', () => gradcheck(([x]) => E.cumsum(x, 0), [{ shape: [5, 3] }]));
gc('cumsum long (blocked)', () => gradcheck(([x]) => E.cumsum(x, 0), [{ shape: [70] }]));
gc('softmax', () => gradcheck(([x]) => E.softmax(x, 1), [{ shape: [3, 4] }]));
gc('logSoftmax', () => gradcheck(([x]) => E.logSoftmax(x, 0), [{ shape: [3, 4] }]));
gc.run();

const er = suite('mask / sort / softmax: errors');
er.before(async () => {
  await E.initDevice();
});
er('masks', async () => {
  const x = E.zeros([4, 3]);
  throwsWith(() => E.maskedIndexCount(x, E.zeros([4]), 1), /maskedIndexCount: mask must be a bool tensor, got f32/);
  throwsWith(() => E.maskedIndexCount(x, E.zeros([3], 'bool'), 1), /the shape of the mask \[3\] does not match the shape of x \[4, 3\] at dim 0/);
  throwsWith(() => E.maskedIndexCount(x, E.zeros([4], 'bool'), -1), /count must be a non-negative integer/);
  throwsWith(() => E.maskedSelectCount(x, E.zeros([2], 'bool'), 1), /maskedSelectCount: shapes \[4, 3\] and \[2\] cannot be broadcast/);
  throwsWith(() => E.maskedAssign(x, E.zeros([4], 'bool'), E.zeros([2, 2])), /maskedAssign: shapes \[2, 3\] and \[2, 2\] cannot be broadcast/);
  throwsWith(() => E.maskedAssign(x, E.zeros([4], 'bool'), E.zeros([1, 2, 3])), /values \[1, 2, 3\] must broadcast to a row \[3\]/);
  let msg = '';
  await E.maskedIndexAsync(x, E.zeros([4])).catch((e: Error) => (msg = e.message));
  assert.match(msg, /maskedIndexAsync: mask must be a bool tensor, got f32/);
});
er('sort / topk / quantile / cumsum / softmax', () => {
  const x = E.zeros([3, 4]);
  throwsWith(() => E.sort(x, 2), /sort: dim 2 out of range for a tensor of rank 2/);
  throwsWith(() => E.topk(x, 5, 1), /topk: k = 5 out of range for dim 1 of size 4/);
  throwsWith(() => E.quantile(x, 1.5), /quantile: q values must be in the range \[0, 1\], got \[1.5\]/);
  throwsWith(() => E.quantile(E.zeros([0]), 0.5), /quantile: input \[0\] must be non-empty/);
  throwsWith(() => E.quantile(E.zeros([3], 'i32'), 0.5), /quantile: expected an f32 input, got i32/);
  throwsWith(() => E.cumsum(x, -3), /cumsum: dim -3 out of range/);
  throwsWith(() => E.softmax(E.zeros([3], 'i32'), 0), /softmax: expected an f32 input, got i32/);
});
er.run();
