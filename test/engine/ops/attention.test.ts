// scaled_dot_product_attention against torch's math path (test/fixtures/gen/transformer_ops.py:
// boolean and additive masks broadcast over batch dims, causal, scale, broadcast k/v, fully masked
// rows), finite-difference gradients (q, k, v and an additive mask), a mask whose broadcast batch
// dims do not merge (against matmul + where + softmax), and errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, assertClose, randomValues, type OpFn } from '../../helpers/oracle.ts';
import { throwsWith } from '../../helpers/throws.ts';

const ops: Record<string, OpFn> = {
  sdpa: ([q, k, v, mask], a) => E.scaledDotProductAttention(q, k, v, { attnMask: mask ?? null, isCausal: a.is_causal, scale: a.scale }),
};

const fx = suite('scaled_dot_product_attention vs torch');
fx.before(async () => {
  await E.initDevice();
});
registerCases(fx, loadFixture('ops/transformer_attn.json').cases, ops);
fx.run();

const t = suite('scaled_dot_product_attention');
t.before(async () => {
  await E.initDevice();
});

const sdpa = E.scaledDotProductAttention;
const qkv = [{ shape: [2, 2, 3] }, { shape: [2, 3, 3] }, { shape: [2, 3, 2] }];

t('finite differences: q, k, v', () => gradcheck(([q, k, v]) => sdpa(q, k, v), qkv));
t('finite differences: causal, scale', () => gradcheck(([q, k, v]) => sdpa(q, k, v, { isCausal: true, scale: 0.8 }), qkv));
t('finite differences: boolean mask with a fully masked row', () => {
  const mask = E.tensor([1, 0, 1, 0, 0, 0], { shape: [2, 3], dtype: 'bool' });
  return gradcheck(([q, k, v]) => sdpa(q, k, v, { attnMask: mask }), qkv);
});
t('finite differences: additive mask, broadcast over the batch', () =>
  gradcheck(([q, k, v, m]) => sdpa(q, k, v, { attnMask: m }), [...qkv, { shape: [2, 3] }]),
);

/** The same attention composed from matmul, where and softmax (no fully masked rows). */
function composed(q: E.Tensor, k: E.Tensor, v: E.Tensor, mask: E.Tensor): E.Tensor {
  const s = E.mul(E.matmul(q, E.transpose(k, -2, -1)), 1 / Math.sqrt(q.shape[q.rank - 1]));
  return E.matmul(E.softmax(E.where(mask, s, -Infinity), -1), v);
}

t('a mask broadcast along alternate batch dims (five that do not merge)', async () => {
  // batch [2, 2, 2, 2, 2] against a mask [2, 1, 2, 1, 2, L, S]
  const batch = [2, 2, 2, 2, 2];
  const L = 3,
    S = 4,
    D = 4;
  const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
  await E.tidyAsync(async () => {
    const q = E.tensor(randomValues(n(batch) * L * D, 1), { shape: [...batch, L, D] });
    const k = E.tensor(randomValues(n(batch) * S * D, 2), { shape: [...batch, S, D] });
    const v = E.tensor(randomValues(n(batch) * S * D, 3), { shape: [...batch, S, D] });
    const ms = [2, 1, 2, 1, 2, L, S];
    // every query keeps key 0, so no row is fully masked
    const m = E.tensor(
      Uint32Array.from({ length: n(ms) }, (_, i) => (i % S === 0 || (i * 7) % 3 === 0 ? 1 : 0)),
      { shape: ms, dtype: 'bool' },
    );
    assertClose(await sdpa(q, k, v, { attnMask: m }).data(), await composed(q, k, v, m).data(), 1e-5, 1e-4, 'sdpa vs composed');
  });
});

t('a fully masked row gives exact zeros and no NaN', async () => {
  const q = E.tensor(randomValues(8, 4), { shape: [2, 4], requiresGrad: true });
  const k = E.tensor(randomValues(12, 5), { shape: [3, 4], requiresGrad: true });
  const v = E.tensor(randomValues(6, 6), { shape: [3, 2], requiresGrad: true });
  const mask = E.tensor([0, 0, 0, 1, 0, 1], { shape: [2, 3], dtype: 'bool' });
  const y = sdpa(q, k, v, { attnMask: mask });
  const out = await y.data();
  assert.equal(Array.from(out.slice(0, 2)), [0, 0]);
  const [gq, gk, gv] = E.grad(E.sum(y), [q, k, v]);
  for (const g of [gq, gk, gv]) assert.ok(Array.from(await g!.data()).every(Number.isFinite), 'finite gradients');
  assert.equal(Array.from((await gq!.data()).slice(0, 4)), [0, 0, 0, 0]);
});

t('NaN: a NaN score gives a NaN row; a NaN key that the mask hides does not', async () => {
  const kv = randomValues(12, 7);
  kv[5] = NaN; // key 1
  const q = E.tensor(randomValues(8, 6), { shape: [2, 4] });
  const k = E.tensor(kv, { shape: [3, 4] });
  const v = E.tensor(randomValues(6, 8), { shape: [3, 2] });
  const open = await sdpa(q, k, v).data();
  assert.ok(Array.from(open).every(Number.isNaN), 'unmasked: every row NaN');
  const hide = E.tensor([1, 0, 1, 1, 1, 1], { shape: [2, 3], dtype: 'bool' });
  const y = await sdpa(q, k, v, { attnMask: hide }).data();
  assert.equal(Array.from(y, Number.isNaN), [false, false, true, true]);
});

t('errors name the op and the shapes', () => {
  const q = E.zeros([2, 3, 4]);
  const k = E.zeros([2, 5, 4]);
  const v = E.zeros([2, 5, 6]);
  throwsWith(() => sdpa(q, k, v, { dropoutP: 0.1 }), 'scaledDotProductAttention', 'dropoutP', '0.1');
  throwsWith(() => sdpa(q, k, v, { isCausal: true, attnMask: E.zeros([3, 5]) }), 'scaledDotProductAttention', 'isCausal');
  throwsWith(() => sdpa(q, E.zeros([2, 5, 3]), v), 'scaledDotProductAttention', 'embedding', 'k [2, 5, 3]');
  throwsWith(() => sdpa(q, k, E.zeros([2, 4, 6])), 'scaledDotProductAttention', 'sequence length', 'v [2, 4, 6]');
  throwsWith(() => sdpa(q, k, v, { attnMask: E.zeros([4, 5]) }), 'scaledDotProductAttention', 'attnMask [4, 5]', '[2, 3, 5]');
  throwsWith(() => sdpa(q, k, v, { attnMask: E.zeros([3, 5], 'i32') }), 'scaledDotProductAttention', 'bool or f32', 'i32');
  throwsWith(() => sdpa(E.zeros([3, 4]), E.zeros([3, 5, 4]), E.zeros([2, 5, 6])), 'scaledDotProductAttention', 'batch dims');
  throwsWith(() => sdpa(E.zeros([4]), k, v), 'scaledDotProductAttention', 'q', 'at least 2 dims');
});
t.run();
