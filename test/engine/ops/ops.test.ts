// Engine-foundation ops against PyTorch fixtures (test/fixtures/gen/core_ops.py) and
// finite-difference gradient checks for every differentiable op.
import { suite } from 'uvu';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, type OpFn } from '../../helpers/oracle.ts';

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
  ['neg', E.neg], ['exp', E.exp], ['log', E.log, pos(6)], ['sqrt', E.sqrt, pos(6)], ['rsqrt', E.rsqrt, pos(6)],
  ['abs', E.abs, away(6, 1)], ['relu', E.relu, away(6, 2)], ['relu6', E.relu6, away(6, 4)],
  ['leakyRelu', (x) => E.leakyRelu(x, 0.2), away(6, 5)], ['sigmoid', E.sigmoid], ['tanh', E.tanh],
  ['clamp', (x) => E.clamp(x, -0.5, 0.5), Float32Array.from([-0.9, -0.3, 0.1, 0.3, 0.8, -0.1])], ['square', E.square],
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
gc('maximum', () => gradcheck(([a, b]) => E.maximum(a, b), [{ shape: [2, 3], data: A6 }, { shape: [2, 3], data: B6 }]));
gc('minimum (broadcast)', () => gradcheck(([a, b]) => E.minimum(a, b), [{ shape: [2, 3], data: A6 }, { shape: [3], data: B6.slice(0, 3) }]));
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
