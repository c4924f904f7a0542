// Test helpers: PyTorch fixture cases (forward and backward in one go, like tinygrad's
// helper_test_op), closeness assertions that say where and by how much values differ, and a
// finite-difference gradient check that every differentiable op must pass.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Test } from 'uvu';
import { Tensor, tensor, grad, tidyAsync, noGrad, mul, sum, narrow, reshape, type DType } from '../../engine/index.ts';

export interface SpecTensor {
  shape: number[];
  dtype: 'f32' | 'i32' | 'bool';
  b64?: string;
  sin?: number;
}

export interface Case {
  name: string;
  op: string;
  args: Record<string, any>;
  inputs: SpecTensor[];
  requires_grad: boolean[];
  out: SpecTensor[];
  grad_out?: SpecTensor;
  grads?: (SpecTensor | null)[];
  atol?: number;
  rtol?: number;
}

const fixtureRoot = resolve(new URL('../fixtures', import.meta.url).pathname);

export function loadFixture<T = { cases: Case[] }>(rel: string): T {
  return JSON.parse(readFileSync(resolve(fixtureRoot, rel), 'utf8')) as T;
}

export function decode(s: SpecTensor): Float32Array | Int32Array | Uint32Array {
  const n = s.shape.reduce((a, b) => a * b, 1);
  if (s.sin !== undefined) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.fround(Math.sin(i * s.sin));
    return out;
  }
  const buf = Buffer.from(s.b64 ?? '', 'base64');
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  if (s.dtype === 'f32') return new Float32Array(ab);
  if (s.dtype === 'i32') return new Int32Array(ab);
  return new Uint32Array(ab);
}

export function fromSpec(s: SpecTensor, requiresGrad = false): Tensor {
  return tensor(decode(s), { shape: s.shape, dtype: s.dtype as DType, requiresGrad });
}

/** Throws with the worst element when |a - e| > atol + rtol * |e| anywhere (NaNs must match). */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, label: string): void {
  if (actual.length !== expected.length) throw new Error(`${label}: ${actual.length} values, expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if ((Number.isNaN(e) && Number.isNaN(a)) || a === e) continue; // equal infinities too
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    const a = actual[worst];
    const e = expected[worst];
    throw new Error(`${label}: element ${worst} is ${a}, expected ${e} (|diff| ${Math.abs(a - e).toExponential(2)} > atol ${atol} + rtol ${rtol}·|e|)`);
  }
}

function sameShape(a: readonly number[], b: readonly number[], label: string): void {
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) throw new Error(`${label}: shape [${a}] expected [${b}]`);
}

export type OpFn = (inputs: Tensor[], args: Record<string, any>) => Tensor | Tensor[];

/** Registers one uvu test per fixture case: forward values, then input gradients. */
export function registerCases(test: Test, cases: Case[], registry: Record<string, OpFn>, tol = { atol: 1e-5, rtol: 1e-4 }): void {
  for (const c of cases) {
    test(`${c.name} (${c.op})`, async () => {
      const fn = registry[c.op];
      if (!fn) throw new Error(`no op '${c.op}' in the test registry`);
      const atol = c.atol ?? tol.atol;
      const rtol = c.rtol ?? tol.rtol;
      await tidyAsync(async () => {
        const ins = c.inputs.map((s, i) => fromSpec(s, c.requires_grad[i]));
        const r = fn(ins, c.args);
        const outs = Array.isArray(r) ? r : [r];
        for (let i = 0; i < c.out.length; i++) {
          sameShape(outs[i].shape, c.out[i].shape, `${c.name}: output ${i}`);
          assertClose(await outs[i].data(), decode(c.out[i]), atol, rtol, `${c.name}: output ${i}`);
          if (outs[i].dtype !== (c.out[i].dtype === 'bool' ? 'bool' : c.out[i].dtype))
            throw new Error(`${c.name}: dtype ${outs[i].dtype}, expected ${c.out[i].dtype}`);
        }
        if (c.grads && c.grad_out) {
          const wrt = ins.filter((_, i) => c.requires_grad[i]);
          const gs = grad(outs[0], wrt, { gradOutputs: [fromSpec(c.grad_out)], allowUnused: true });
          let k = 0;
          for (let i = 0; i < ins.length; i++) {
            if (!c.requires_grad[i]) continue;
            const expected = c.grads[i];
            const got = gs[k++];
            if (!expected) {
              if (got) assertClose(await got.data(), new Float32Array(got.size), 0, 0, `${c.name}: grad ${i} (torch: unused)`);
              continue;
            }
            if (!got) throw new Error(`${c.name}: no gradient for input ${i}`);
            sameShape(got.shape, expected.shape, `${c.name}: grad ${i}`);
            assertClose(await got.data(), decode(expected), atol * 10, rtol * 10, `${c.name}: grad ${i}`);
          }
        }
      });
    });
  }
}

/** Deterministic pseudo-random values in [-1, 1) (for inputs of gradient checks). */
export function randomValues(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/**
 * `n` values at least 0.05 apart, in a seeded random order: inputs for gradient checks of max-like
 * ops, so central differences never move an argmax.
 */
export function distinctValues(n: number, seed: number): Float32Array {
  const v = randomValues(n, seed);
  const order = [...v.keys()].sort((i, j) => v[i] - v[j]);
  const out = new Float32Array(n);
  order.forEach((i, rank) => (out[i] = (rank - n / 2) * 0.05));
  return out;
}

/**
 * Finite-difference check: the analytic gradient of L = sum(fn(inputs) * w) for a fixed random
 * w matches central differences (f32, so eps and tolerances are loose but meaningful).
 */
export async function gradcheck(
  fn: (xs: Tensor[]) => Tensor,
  inputs: { shape: number[]; data?: Float32Array; grad?: boolean }[],
  opts: { eps?: number; atol?: number; rtol?: number; seed?: number } = {},
): Promise<void> {
  const eps = opts.eps ?? 1e-2;
  const atol = opts.atol ?? 2e-2;
  const rtol = opts.rtol ?? 2e-2;
  const datas = inputs.map(
    (x, i) =>
      x.data ??
      randomValues(
        x.shape.reduce((a, b) => a * b, 1),
        (opts.seed ?? 7) + 31 * i,
      ),
  );
  await tidyAsync(async () => {
    const xs = inputs.map((x, i) => tensor(datas[i], { shape: x.shape, requiresGrad: x.grad !== false }));
    const out = fn(xs);
    const w = tensor(randomValues(out.size, 99), { shape: out.shape });
    const L = sum(mul(out, w));
    const wrt = xs.filter((_, i) => inputs[i].grad !== false);
    const analytic = await Promise.all(grad(L, wrt).map((g) => g!.data()));
    const evalL = async (i: number, j: number, delta: number): Promise<number> =>
      tidyAsync(async () => {
        const d = Float32Array.from(datas[i]);
        d[j] += delta;
        const ys = xs.map((x, k) => (k === i ? tensor(d, { shape: inputs[i].shape }) : x));
        return noGrad(() => sum(mul(fn(ys), w))).item();
      });
    let k = 0;
    for (let i = 0; i < inputs.length; i++) {
      if (inputs[i].grad === false) continue;
      const numeric = new Float32Array(datas[i].length);
      for (let j = 0; j < datas[i].length; j++) numeric[j] = ((await evalL(i, j, eps)) - (await evalL(i, j, -eps))) / (2 * eps);
      assertClose(analytic[k++], numeric, atol, rtol, `gradcheck input ${i}`);
    }
  });
}

/**
 * `values` as a [shape] view starting `offset` elements into a larger buffer (a leaf that can
 * require grad): kernels with vec4 paths must take their scalar fallback when offset % 4 != 0.
 */
export function offsetView(values: Float32Array, shape: number[], offset: number, requiresGrad = false): Tensor {
  const flat = tensor(Float32Array.from([...new Array(offset).fill(0), ...values]));
  const view = reshape(narrow(flat, 0, offset, values.length), shape).detach();
  return requiresGrad ? view.requiresGrad_() : view;
}
