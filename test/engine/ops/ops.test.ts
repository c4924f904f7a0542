// Engine-foundation ops against PyTorch fixtures (test/fixtures/gen/core_ops.py) and
// finite-difference gradient checks for every differentiable op; the creation kernels (fill,
// arange, Philox rand/randn) against CPU references.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, assertClose, type OpFn } from '../../helpers/oracle.ts';

const ops: Record<string, OpFn> = {
  neg: ([x]) => E.neg(x),
  exp: ([x]) => E.exp(x),
  log: ([x]) => E.log(x),
  sqrt: ([x]) => E.sqrt(x),
  rsqrt: ([x]) => E.rsqrt(x),
  abs: ([x]) => E.abs(x),
  relu: ([x]) => E.relu(x),
  relu6: ([x]) => E.relu6(x),
  leakyRelu: ([x], a) => E.leakyRelu(x, a.slope),
  sigmoid: ([x]) => E.sigmoid(x),
  tanh: ([x]) => E.tanh(x),
  clamp: ([x], a) => E.clamp(x, a.min ?? null, a.max ?? null),
  square: ([x]) => E.square(x),
  exp_T: ([x]) => E.exp(x.T),
  add: ([a, b]) => E.add(a, b),
  sub: ([a, b]) => E.sub(a, b),
  mul: ([a, b]) => E.mul(a, b),
  div: ([a, b]) => E.div(a, b),
  maximum: ([a, b]) => E.maximum(a, b),
  minimum: ([a, b]) => E.minimum(a, b),
  pow: ([a, b]) => E.pow(a, b),
  pow_scalar: ([x], a) => E.pow(x, a.e),
  add_scalar: ([x], a) => E.add(x, a.s),
  rsub_scalar: ([x], a) => E.sub(a.s, x),
  rdiv_scalar: ([x], a) => E.div(a.s, x),
  mul_TT: ([a, b]) => E.mul(a.T, b.T),
  add_slice: ([a, b]) => E.add(E.slice(a, 1, 1, 4), E.slice(b, 0, 0, undefined, 2)),
  eq: ([a, b]) => E.eq(a, b),
  ne: ([a, b]) => E.ne(a, b),
  lt: ([a, b]) => E.lt(a, b),
  le: ([a, b]) => E.le(a, b),
  gt: ([a, b]) => E.gt(a, b),
  ge: ([a, b]) => E.ge(a, b),
  where: ([m, x, y]) => E.where(m, x, y),
  sum: ([x], a) => E.sum(x, a.dim),
  sum_keep: ([x], a) => E.sum(x, a.dim, true),
  mean: ([x], a) => E.mean(x, a.dim),
  max: ([x], a) => E.max(x, a.dim),
  min: ([x], a) => E.min(x, a.dim),
  argmax: ([x], a) => E.argmax(x, a.dim),
  argmin: ([x], a) => E.argmin(x, a.dim),
  var: ([x], a) => E.variance(x, a.dim, a.unbiased),
  std: ([x], a) => E.std(x, a.dim, a.unbiased),
  norm: ([x], a) => E.norm(x, a.dim),
  sum_T: ([x]) => E.sum(x.T, 0),
  logsumexp: ([x], a) => E.logsumexp(x, a.dim),
  matmul: ([a, b]) => E.matmul(a, b),
  matmul_At: ([a, b]) => E.matmul(a.T, b),
  matmul_Bt: ([a, b]) => E.matmul(a, b.T),
  matmul_AtBt: ([a, b]) => E.matmul(a.T, b.T),
  linear: ([x, w, b]) => E.linear(x, w, b ?? null),
};

const fx = suite('core ops vs torch');
fx.before(async () => {
  await E.initDevice();
});
registerCases(fx, loadFixture('ops/core.json').cases, ops);
fx.run();

// Inputs kept away from kinks (relu at 0, abs at 0, clamp bounds) so central differences hold.
const away = (n: number, seed: number) => {
  const d = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const u = s / 2 ** 31;
    d[i] = (u < 0.5 ? -1 : 1) * (0.2 + u);
  }
  return d;
};
const pos = (n: number) => Float32Array.from(away(n, 3), Math.abs);
const gc = suite('finite-difference gradients');
gc.before(async () => {
  await E.initDevice();
});
const S = [2, 3];
const unary: [string, (x: E.Tensor) => E.Tensor, Float32Array?][] = [
  ['neg', E.neg],
  ['exp', E.exp],
  ['log', E.log, pos(6)],
  ['sqrt', E.sqrt, pos(6)],
  ['rsqrt', E.rsqrt, pos(6)],
  ['abs', E.abs, away(6, 1)],
  ['relu', E.relu, away(6, 2)],
  ['relu6', E.relu6, away(6, 4)],
  ['leakyRelu', (x) => E.leakyRelu(x, 0.2), away(6, 5)],
  ['sigmoid', E.sigmoid],
  ['tanh', E.tanh],
  ['clamp', (x) => E.clamp(x, -0.5, 0.5), Float32Array.from([-0.9, -0.3, 0.1, 0.3, 0.8, -0.1])],
  ['square', E.square],
  ['reciprocal', E.reciprocal, pos(6)],
];
for (const [name, f, data] of unary) gc(name, () => gradcheck(([x]) => f(x), [{ shape: S, data }]));
const binary: [string, (a: E.Tensor, b: E.Tensor) => E.Tensor, number[], number[]][] = [
  ['add (broadcast)', E.add, [2, 3], [3]],
  ['sub (broadcast)', E.sub, [2, 1], [1, 3]],
  ['mul (broadcast)', E.mul, [2, 3], [2, 1]],
  ['div', (a, b) => E.div(a, E.add(E.abs(b), 0.5)), [2, 3], [2, 3]],
  ['pow', (a, b) => E.pow(E.add(E.abs(a), 0.5), b), [2, 3], [2, 3]],
  ['matmul', E.matmul, [3, 4], [4, 2]],
  ['matmul batched broadcast', E.matmul, [2, 3, 4], [4, 5]],
  ['matmul transposed', (a, b) => E.matmul(a.T, b), [4, 3], [4, 2]],
];
for (const [name, f, sa, sb] of binary) gc(name, () => gradcheck(([a, b]) => f(a, b), [{ shape: sa }, { shape: sb }]));
// values at least 0.1 apart so central differences never straddle the max/min switch
const A6 = Float32Array.from([0.5, -0.2, 0.3, 0.1, 0.9, -0.7]);
const B6 = Float32Array.from([0.1, 0.4, 0.75, 0.3, -0.9, 0.0]);
gc('maximum', () =>
  gradcheck(
    ([a, b]) => E.maximum(a, b),
    [
      { shape: [2, 3], data: A6 },
      { shape: [2, 3], data: B6 },
    ],
  ),
);
gc('minimum (broadcast)', () =>
  gradcheck(
    ([a, b]) => E.minimum(a, b),
    [
      { shape: [2, 3], data: A6 },
      { shape: [3], data: B6.slice(0, 3) },
    ],
  ),
);
gc('where', () => gradcheck(([a, b]) => E.where(E.gt(a, 0), a, b), [{ shape: S, data: away(6, 9) }, { shape: S }]));
gc('linear with bias', () => gradcheck(([x, w, b]) => E.linear(x, w, b), [{ shape: [3, 4] }, { shape: [2, 4] }, { shape: [2] }]));
const reductions: [string, (x: E.Tensor) => E.Tensor][] = [
  ['sum dim', (x) => E.sum(x, 1)],
  ['sum all', (x) => E.sum(x)],
  ['mean dims', (x) => E.mean(x, [0, 2], true)],
  ['max dim', (x) => E.max(x, 1)],
  ['min all', (x) => E.min(x)],
  ['var', (x) => E.variance(x, 2)],
  ['std', (x) => E.std(x, [0, 1])],
  ['norm', (x) => E.norm(x, 2)],
  ['logsumexp', (x) => E.logsumexp(x, 1)],
];
for (const [name, f] of reductions) gc(name, () => gradcheck(([x]) => f(x), [{ shape: [2, 3, 4] }]));
const views: [string, (x: E.Tensor) => E.Tensor][] = [
  ['reshape', (x) => E.mul(E.reshape(x, [4, 6]), E.reshape(x, [4, 6]))],
  ['permute', (x) => E.square(E.permute(x, [2, 0, 1]))],
  ['transpose + contiguous', (x) => E.square(E.contiguous(E.transpose(x, 0, 2)))],
  ['expand', (x) => E.square(E.expand(E.slice(x, 2, 0, 1), [2, 3, 5]))],
  ['slice with step', (x) => E.square(E.slice(x, 2, 1, undefined, 2))],
  ['select', (x) => E.square(E.select(x, 1, -1))],
  ['squeeze/unsqueeze', (x) => E.square(E.unsqueeze(E.squeeze(E.slice(x, 0, 0, 1), 0), 2))],
];
for (const [name, f] of views) gc(name, () => gradcheck(([x]) => f(x), [{ shape: [2, 3, 4] }]));
gc.run();

// Philox4x32-10 (Salmon et al. 2011, Random123's philox4x32) on the CPU: the reference for rand.
function philox(ctr: number[], key: number[]): number[] {
  const mulhilo = (a: number, b: number) => {
    const p = BigInt(a) * BigInt(b);
    return [Number(p >> 32n), Number(p & 0xffffffffn)];
  };
  let c = [...ctr],
    k0 = key[0],
    k1 = key[1];
  for (let r = 0; r < 10; r++) {
    const [h0, l0] = mulhilo(0xd2511f53, c[0]);
    const [h1, l1] = mulhilo(0xcd9e8d57, c[2]);
    c = [(h1 ^ c[1] ^ k0) >>> 0, l1, (h0 ^ c[3] ^ k1) >>> 0, l0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return c;
}

const cr = suite('creation kernels');
cr.before(async () => {
  await E.initDevice();
});

cr('full and arange in each dtype', async () => {
  assert.equal(Array.from(await E.full([5], -3, 'i32').data()), [-3, -3, -3, -3, -3]);
  assert.equal(Array.from(await E.full([3], 7, 'u32').data()), [7, 7, 7]);
  assert.equal(Array.from(await E.full([2], 1, 'bool').data()), [1, 1]);
  assert.equal(Array.from(await E.full([2], -0.1).data()), [Math.fround(-0.1), Math.fround(-0.1)]);
  assert.equal(Array.from(await E.arange(10, 0, -3).data()), [10, 7, 4, 1]);
  const f = E.arange(-2, 3, 0.5);
  assert.is(f.dtype, 'f32');
  assertClose(
    await f.data(),
    Array.from({ length: 10 }, (_, i) => -2 + 0.5 * i),
    0,
    0,
    'arange f32',
  );
});

cr('rand: the Philox4x32-10 stream of seed and counter, across the counter high word and the no-wrap jump', async () => {
  // Random123's known answer for counter 0, key 0 anchors the reference itself
  assert.equal(philox([0, 0, 0, 0], [0, 0]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  const u01 = (x: number) => Math.fround((Math.floor(x / 256) + 0.5) / 16777216);
  const seed: [number, number] = [0x12345678, 0x9abcdef0];
  const prev = E.generatorState();
  try {
    // [counter before, counter the draw uses]: inside the high word 1, and one jumping to it
    // because 3 quads from 2^32 - 2 would wrap the low word
    for (const [before, used] of [
      [2 ** 32 + 5, 2 ** 32 + 5],
      [2 ** 32 - 2, 2 ** 32],
    ]) {
      E.setGeneratorState({ seed, counter: before });
      const got = await E.rand([10], -1, 3).data();
      const want = Array.from({ length: 10 }, (_, e) => {
        const q = Math.floor(e / 4);
        const r = philox([(used % 2 ** 32) + q, Math.floor(used / 2 ** 32), 0, 0], seed);
        return u01(r[e % 4]) * 4 - 1;
      });
      assertClose(got, want, 1e-6, 0, `counter ${before}`);
      assert.is(E.generatorState().counter, used + 3);
    }
  } finally {
    E.setGeneratorState(prev);
  }
});

cr.run();
