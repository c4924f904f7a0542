// NaN like PyTorch (issue 17 item 7): ops built on max/min/clamp/comparisons must propagate NaN
// where torch does. WGSL leaves max/min/clamp of a NaN implementation-defined (lavapipe returns
// the other operand) and `v != v` is false for a NaN here, so the kernels test NaN on the bits.
// Expected values are written from torch's semantics, stated at each test (no Python at CI):
// - relu/relu6/hardtanh/clamp/maximum/minimum/amax/amin of NaN are NaN (torch docs: "propagates
//   NaN"); argmax/argmin return the first NaN's index (ATen's GreaterOrNan/LessOrNan);
//   max_pool2d's window value is NaN and its index the window's last NaN (ATen's kernels:
//   `if (val > maxval || isnan(val))` in scan order).
// - gradients: relu's threshold_backward(g, y, 0) and relu6's hardtanh_backward(g, x, 0, 6) zero
//   g only where x <= 0 / x outside (0, 6), so g passes at NaN; clamp_backward keeps g where
//   min <= x <= max, so 0 at NaN; leaky_relu_backward gives g * slope at NaN; maximum/minimum
//   mask by self < other (false with NaN), so both operands get g; amax divides g by the count
//   of elements equal to the result (none for NaN): the whole row's gradient is NaN.
// Elementwise cases run under both elementwise variants (vec4, scalar) on contiguous, strided and
// misaligned operands; reductions under both reduction variants (serial, and subgroup where the
// adapter has subgroups), over rows, columns, chunked multi-pass rows and misaligned views.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { subgroupSize } from '../../../engine/runtime/device.ts';
import { setDispatchHook } from '../../../engine/runtime/dispatch.ts';
import { runElementwise } from '../../../engine/ops/launch.ts';
import { isNan } from '../../../engine/wgsl/common.ts';
import { assertClose, offsetView } from '../../helpers/oracle.ts';

const t = suite('NaN like PyTorch');
t.before(async () => {
  await E.initDevice();
});
t.after(() => {
  E.setElementwiseVariant(null);
  E.setReduceVariant(null);
});

const N = NaN;
const INF = Infinity;
const EW_VARIANTS = ['vec4', 'scalar'] as const;
const REDUCE_VARIANTS = subgroupSize() > 0 ? (['serial', 'subgroup'] as const) : (['serial'] as const);

const exact = (actual: ArrayLike<number>, expected: ArrayLike<number>, label: string) => assertClose(actual, expected, 0, 0, label);
const data = async (x: E.Tensor) => Array.from((await x.data()) as ArrayLike<number>);

// 16 values: NaN first, in the middle and last of each vec4 and of the whole, infinities, zeros
const X = [N, -1.5, 2, 7, 0.5, N, -INF, INF, -0, 6, 0, N, 3, -2, 8, N];

async function eachEw(fn: (v: string) => Promise<void>) {
  for (const v of EW_VARIANTS) {
    E.setElementwiseVariant(v);
    try {
      await E.tidyAsync(() => fn(v));
    } finally {
      E.setElementwiseVariant(null);
    }
  }
}

/** x as a contiguous [4, 4], as a transposed view of the same values, and at an odd offset. */
function layouts(x: number[]): [string, E.Tensor, number[]][] {
  const R = 4,
    C = x.length / 4;
  const tr = new Float32Array(x.length);
  for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) tr[j * R + i] = x[i * C + j];
  return [
    ['contiguous', E.tensor(x, { shape: [R, C] }), x],
    ['transposed', E.tensor(tr, { shape: [C, R] }).T, x],
    ['offset', offsetView(Float32Array.from(x), [R, C], 1), x],
  ];
}

function keysDuring(fn: () => Promise<void>): Promise<Set<string>> {
  const keys = new Set<string>();
  setDispatchHook({ passFor: (k) => (keys.add(k.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
  return fn().then(
    () => (setDispatchHook(null), keys),
    (e) => {
      setDispatchHook(null);
      throw e;
    },
  );
}

t('the bit test isNan finds every NaN on this adapter and nothing else', async () => {
  // quiet and signalling NaNs of both signs, against infinities, FLT_MAX, zeros, denormals
  const bits = [0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fffffff, 0xffffffff, 0x7f800000, 0xff800000, 0x7f7fffff, 0, 0x80000000, 1];
  const x = E.tensor(new Float32Array(Uint32Array.from(bits).buffer));
  const want = bits.map((b) => ((b & 0x7fffffff) >>> 0 > 0x7f800000 ? 1 : 0));
  await eachEw(async (v) => {
    const y = runElementwise({ name: 'test.isnan', expr: `select(0.0, 1.0, ${isNan('a')})` }, [x], x.shape, 'f32');
    exact(await data(y), want, `isNan (${v})`);
  });
});

t('relu, relu6, clamp and leakyRelu propagate NaN (forward)', async () => {
  const relu = (v: number) => (Number.isNaN(v) ? N : Math.max(v, 0));
  const clamp = (v: number, lo: number, hi: number) => (Number.isNaN(v) ? N : Math.min(Math.max(v, lo), hi));
  await eachEw(async (v) => {
    for (const [lay, x, vals] of layouts(X)) {
      const l = `(${v}, ${lay})`;
      exact(await data(E.relu(x)), vals.map(relu), `relu ${l}`);
      exact(
        await data(E.relu6(x)),
        vals.map((a) => clamp(a, 0, 6)),
        `relu6 ${l}`,
      );
      exact(
        await data(E.clamp(x, -1, 1)),
        vals.map((a) => clamp(a, -1, 1)),
        `clamp(-1, 1) ${l}`,
      );
      exact(
        await data(E.clamp(x, 0)),
        vals.map((a) => clamp(a, 0, INF)),
        `clamp(min 0) ${l}`,
      );
      exact(
        await data(E.clamp(x, null, 1)),
        vals.map((a) => clamp(a, -INF, 1)),
        `clamp(max 1) ${l}`,
      );
      exact(
        await data(E.leakyRelu(x, 0.25)),
        vals.map((a) => (a > 0 ? a : a * 0.25)),
        `leakyRelu ${l}`,
      );
    }
    // integer inputs keep their kernels' values
    const xi = E.tensor([-3, 0, 5, 9], { dtype: 'i32' });
    exact(await data(E.relu(xi)), [0, 0, 5, 9], `relu i32 (${v})`);
    exact(await data(E.clamp(xi, 0, 6)), [0, 0, 5, 6], `clamp i32 (${v})`);
  });
});

t('relu, relu6, clamp and leakyRelu gradients at NaN follow torch', async () => {
  const g = X.map((_, i) => i + 1);
  const gradOf = async (f: (x: E.Tensor) => E.Tensor) => {
    const x = E.tensor(X, { requiresGrad: true });
    const [gx] = E.grad(f(x), [x], { gradOutputs: [E.tensor(g)] });
    return data(gx!);
  };
  await eachEw(async (v) => {
    // relu: 0 where x <= 0, g elsewhere (NaN included)
    exact(
      await gradOf(E.relu),
      X.map((a, i) => (a <= 0 ? 0 : g[i])),
      `relu grad (${v})`,
    );
    // relu6 (hardtanh 0..6): 0 where x <= 0 or x >= 6, g elsewhere (NaN included)
    exact(
      await gradOf(E.relu6),
      X.map((a, i) => (a <= 0 || a >= 6 ? 0 : g[i])),
      `relu6 grad (${v})`,
    );
    // clamp: g where lo <= x <= hi, 0 elsewhere (NaN included)
    exact(
      await gradOf((x) => E.clamp(x, -1, 1)),
      X.map((a, i) => (a >= -1 && a <= 1 ? g[i] : 0)),
      `clamp grad (${v})`,
    );
    // leaky relu: g where x > 0, g * slope elsewhere (NaN included)
    exact(
      await gradOf((x) => E.leakyRelu(x, 0.25)),
      X.map((a, i) => (a > 0 ? g[i] : g[i] * 0.25)),
      `leakyRelu grad (${v})`,
    );
  });
});

t('maximum and minimum propagate NaN from either operand', async () => {
  // torch.maximum/minimum: NaN if either operand is NaN
  const B = [1, N, 2, 7, N, 3, 5, -INF, 0, N, -0, 1, 9, -3, 8, N];
  const fmax = (a: number, b: number) => Math.max(a, b); // JS Math.max/min propagate NaN
  const fmin = (a: number, b: number) => Math.min(a, b);
  await eachEw(async (v) => {
    for (const [lay, x, vals] of layouts(X)) {
      const l = `(${v}, ${lay})`;
      const b = E.tensor(B, { shape: [4, 4] });
      exact(
        await data(E.maximum(x, b)),
        vals.map((a, i) => fmax(a, B[i])),
        `maximum(x, b) ${l}`,
      );
      exact(
        await data(E.maximum(b, x)),
        vals.map((a, i) => fmax(B[i], a)),
        `maximum(b, x) ${l}`,
      );
      exact(
        await data(E.minimum(x, b)),
        vals.map((a, i) => fmin(a, B[i])),
        `minimum(x, b) ${l}`,
      );
      exact(
        await data(E.maximum(x, 1)),
        vals.map((a) => fmax(a, 1)),
        `maximum(x, 1) ${l}`,
      );
      exact(
        await data(E.minimum(1, x)),
        vals.map((a) => fmin(1, a)),
        `minimum(1, x) ${l}`,
      );
      exact(
        await data(E.maximum(x, N)),
        vals.map(() => N),
        `maximum(x, NaN) ${l}`,
      );
      // a broadcast row holding a NaN
      const row = [N, 0, 1, 2];
      exact(
        await data(E.minimum(x, E.tensor(row))),
        vals.map((a, i) => fmin(a, row[i % 4])),
        `minimum(x, row) ${l}`,
      );
    }
  });
});

t('maximum and minimum gradients: both operands get g where either is NaN', async () => {
  // torch: grad_self = where(a == b, g / 2, g).masked_fill(a < b, 0) for maximum (a > b for
  // minimum), grad_other symmetric: with a NaN no mask applies, so both get g
  const A = [N, 1, 2, 3, N, 5];
  const B = [0, N, 2, 4, N, 1];
  const g = [1, 2, 3, 4, 5, 6];
  const w = (x: number, y: number) => (Number.isNaN(x) || Number.isNaN(y) || x > y ? 1 : x === y ? 0.5 : 0);
  await eachEw(async (v) => {
    for (const op of ['maximum', 'minimum'] as const) {
      const a = E.tensor(A, { requiresGrad: true });
      const b = E.tensor(B, { requiresGrad: true });
      const [ga, gb] = E.grad(E[op](a, b), [a, b], { gradOutputs: [E.tensor(g)] });
      const wa = op === 'maximum' ? A.map((x, i) => w(x, B[i])) : A.map((x, i) => w(B[i], x));
      const wb = op === 'maximum' ? B.map((x, i) => w(x, A[i])) : B.map((x, i) => w(A[i], x));
      exact(
        await data(ga!),
        wa.map((k, i) => k * g[i]),
        `${op} grad a (${v})`,
      );
      exact(
        await data(gb!),
        wb.map((k, i) => k * g[i]),
        `${op} grad b (${v})`,
      );
    }
  });
});

t('comparisons and casts to bool treat NaN as torch does', async () => {
  // IEEE: every comparison with NaN is false except !=; bool(NaN) is true
  const a = [N, 1, N, -INF, 2, 0];
  const b = [N, N, 1, -INF, 2, N];
  const ops = {
    eq: (x: number, y: number) => x === y,
    ne: (x: number, y: number) => x !== y,
    lt: (x: number, y: number) => x < y,
    le: (x: number, y: number) => x <= y,
    gt: (x: number, y: number) => x > y,
    ge: (x: number, y: number) => x >= y,
  };
  await eachEw(async (v) => {
    const ta = E.tensor(a);
    const tb = E.tensor(b);
    for (const [op, f] of Object.entries(ops) as [keyof typeof ops, (x: number, y: number) => boolean][]) {
      exact(
        await data(E[op](ta, tb)),
        a.map((x, i) => +f(x, b[i])),
        `${op}(a, b) (${v})`,
      );
      // the same tensor on both sides: a compiler may fold x <= x to true
      exact(
        await data(E[op](ta, ta)),
        a.map((x) => +f(x, x)),
        `${op}(a, a) (${v})`,
      );
      exact(
        await data(E[op](ta, 0)),
        a.map((x) => +f(x, 0)),
        `${op}(a, 0) (${v})`,
      );
    }
    exact(
      await data(E.cast(ta, 'bool')),
      a.map((x) => +(x !== 0)),
      `cast bool (${v})`,
    );
  });
});

/** torch.amax/amin and argmax/argmin of `vals` viewed as [outer, R, inner] over R. */
function ref(vals: number[], outer: number, R: number, inner: number, op: 'max' | 'min' | 'argmax' | 'argmin'): number[] {
  const out: number[] = [];
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const line = Array.from({ length: R }, (_, r) => vals[(o * R + r) * inner + i]);
      if (op === 'max') out.push(Math.max(...line));
      else if (op === 'min') out.push(Math.min(...line));
      else {
        const nan = line.findIndex((v) => Number.isNaN(v));
        const ext = op === 'argmax' ? Math.max(...line) : Math.min(...line);
        out.push(nan >= 0 ? nan : line.indexOf(ext));
      }
    }
  return out;
}

/** Rows of R values: NaN first, in the middle, last, NaN only, none, infinities, -inf only. */
function nanRows(R: number): number[] {
  const rows: number[][] = [];
  const base = (s: number) => Array.from({ length: R }, (_, j) => Math.fround(Math.sin(j * 0.7 + s) * 10));
  const withNan = (s: number, at: number[]) => base(s).map((v, j) => (at.includes(j) ? N : v));
  rows.push(
    withNan(1, [0]),
    withNan(2, [R >> 1]),
    withNan(3, [R - 1]),
    withNan(4, [1, R - 2]),
    base(5).map(() => N),
    base(6),
  );
  rows.push(
    base(7).map((v, j) => (j === 2 ? INF : j === R - 3 ? -INF : v)),
    base(8).map(() => -INF),
    base(9).map(() => INF),
  );
  return rows.flat();
}

t('max/min reductions propagate NaN in every kernel variant', async () => {
  for (const v of REDUCE_VARIANTS) {
    E.setReduceVariant(v);
    const keys = await keysDuring(() =>
      E.tidyAsync(async () => {
        // rows: vec4 (R % 4 == 0), scalar (odd R), a long row in chunks (multi-pass)
        for (const R of [64, 63, 5, 3000]) {
          const vals = nanRows(R);
          const outer = vals.length / R;
          const x = E.tensor(vals, { shape: [outer, R] });
          for (const op of ['max', 'min'] as const) exact(await data(E[op](x, 1)), ref(vals, outer, R, 1, op), `${op} rows R=${R} (${v})`);
          // a misaligned view of the same rows (scalar kernel)
          const xo = offsetView(Float32Array.from(vals), [outer, R], 1);
          exact(await data(E.max(xo, 1)), ref(vals, outer, R, 1, 'max'), `max rows R=${R} offset (${v})`);
        }
        // columns: vec4 (inner % 4 == 0) and scalar, and a middle dim
        for (const [outer, R, inner] of [
          [1, 9, 8],
          [1, 9, 7],
          [3, 9, 4],
          [2, 600, 4],
        ] as const) {
          const vals = Array.from({ length: outer * R * inner }, (_, e) =>
            e % 11 === 3 || e === outer * R * inner - 1 ? N : e % 13 === 5 ? -INF : Math.fround(Math.cos(e) * 5),
          );
          const x = E.tensor(vals, { shape: [outer, R, inner] });
          for (const op of ['max', 'min'] as const)
            exact(await data(E[op](x, 1)), ref(vals, outer, R, inner, op), `${op} [${outer}, ${R}, ${inner}] over R (${v})`);
        }
        // everything: a 1-D reduction in several passes, NaN in one chunk only
        const n = 70001;
        const big = Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i) * 100));
        big[45678] = N;
        for (const op of ['max', 'min'] as const) exact(await data(E[op](E.tensor(big))), [N], `${op} all, one NaN (${v})`);
        big[45678] = 0;
        exact(await data(E.max(E.tensor(big))), [Math.max(...big)], `max all, no NaN (${v})`);
      }),
    );
    // rows go to the subgroup kernel where forced; columns always take the serial ones
    const want = v === 'serial' ? ['reduce:max:f32', 'reduce:max:f32:r4', 'reduce:max:f32:v4'] : ['reduce:max:f32', 'reduce:max:f32:v4'];
    for (const k of want) assert.ok(keys.has(k), `${v}: kernel ${k} ran`);
    if (v === 'subgroup')
      assert.ok(
        [...keys].some((k) => k.startsWith('reduce.sg:max:f32')),
        'subgroup kernel ran',
      );
  }
  E.setReduceVariant(null);
});

t('argmax/argmin return the first NaN in every kernel variant', async () => {
  for (const v of REDUCE_VARIANTS) {
    E.setReduceVariant(v);
    const keys = await keysDuring(() =>
      E.tidyAsync(async () => {
        for (const R of [64, 63, 5, 40]) {
          const vals = nanRows(R);
          const outer = vals.length / R;
          const x = E.tensor(vals, { shape: [outer, R] });
          for (const op of ['argmax', 'argmin'] as const) exact(await data(E[op](x, 1)), ref(vals, outer, R, 1, op), `${op} rows R=${R} (${v})`);
        }
        // columns (inner > 1)
        const vals = Array.from({ length: 9 * 6 }, (_, e) => (e === 20 || e === 26 || e === 53 ? N : Math.fround(Math.sin(e) * 3)));
        const x = E.tensor(vals, { shape: [9, 6] });
        for (const op of ['argmax', 'argmin'] as const) exact(await data(E[op](x, 0)), ref(vals, 1, 9, 6, op), `${op} columns (${v})`);
        // flattened
        exact(await data(E.argmax(x)), [20], `argmax flattened (${v})`);
      }),
    );
    assert.ok(keys.has('reduce:argmax:f32') || [...keys].some((k) => k.startsWith('reduce.sg:argmax')), `${v}: argmax kernel ran`);
  }
  E.setReduceVariant(null);
});

t('max/min gradient of a row holding NaN is NaN (torch.amax rule); other rows unchanged', async () => {
  // amax backward: g * (x == result) / count(x == result); a NaN result matches nothing, so
  // g / 0 * 0 = NaN over the whole row
  const vals = [1, N, 3, 2, /**/ 5, 7, 7, 1, /**/ N, N, N, N];
  for (const v of REDUCE_VARIANTS) {
    E.setReduceVariant(v);
    await E.tidyAsync(async () => {
      const x = E.tensor(vals, { shape: [3, 4], requiresGrad: true });
      const [gx] = E.grad(E.max(x, 1), [x], { gradOutputs: [E.tensor([1, 2, 3])] });
      exact(await data(gx!), [N, N, N, N, 0, 1, 1, 0, N, N, N, N], `max grad (${v})`);
    });
  }
  E.setReduceVariant(null);
});

t('softmax, logSoftmax and logsumexp: a NaN row is NaN, infinities as torch', async () => {
  // torch: softmax/log_softmax of a row holding NaN is NaN everywhere in that row;
  // logsumexp shifts by the max but by 0 where the max is infinite: [inf, 1] -> inf,
  // [-inf, -inf] -> -inf, a NaN row -> NaN
  const x = E.tensor([1, N, 3, 2, /**/ 0, 1, 2, 3, /**/ INF, 1, 0, 0, /**/ -INF, -INF, -INF, -INF], { shape: [4, 4] });
  for (const v of REDUCE_VARIANTS) {
    E.setReduceVariant(v);
    await E.tidyAsync(async () => {
      const sm = await data(E.softmax(x, 1));
      assert.ok(sm.slice(0, 4).every(Number.isNaN), `softmax NaN row (${v})`);
      assert.ok(sm.slice(4, 8).every(Number.isFinite), `softmax finite row (${v})`);
      const ls = await data(E.logSoftmax(x, 1));
      assert.ok(ls.slice(0, 4).every(Number.isNaN), `logSoftmax NaN row (${v})`);
      const lse = await data(E.logsumexp(x, 1));
      assertClose(lse, [N, 3 + Math.log(1 + Math.exp(-1) + Math.exp(-2) + Math.exp(-3)), INF, -INF], 1e-5, 1e-5, `logsumexp (${v})`);
    });
  }
  E.setReduceVariant(null);
});

t('maxPool2d: a window with NaN gives NaN and routes the gradient to its last NaN', async () => {
  // [1, 1, 4, 6], kernel 2, stride 2: six windows; NaN at (0,0) only (first), (0,3) and (1,2)
  // (two: the last, (1,2), wins), (1,5) (last tap), none, and a whole-NaN window
  const H = 4,
    W = 6;
  const v = Array.from({ length: H * W }, (_, i) => i);
  for (const [r, c] of [
    [0, 0],
    [0, 3],
    [1, 2],
    [1, 5],
    [2, 4],
    [2, 5],
    [3, 4],
    [3, 5],
  ])
    v[r * W + c] = N;
  const expectVal = [N, N, N, 19, 21, N];
  const expectIdx = [0, 8, 11, 19, 21, 23];
  await E.tidyAsync(async () => {
    const x = E.tensor(v, { shape: [1, 1, H, W], requiresGrad: true });
    const [y, idx] = E.maxPool2dWithIndices(x, { kernelSize: 2 });
    exact(await data(y), expectVal, 'maxPool2d values');
    exact(await data(idx), expectIdx, 'maxPool2d indices');
    const [gx] = E.grad(y, [x], { gradOutputs: [E.tensor([1, 2, 3, 4, 5, 6], { shape: [1, 1, 2, 3] })] });
    const want = new Array<number>(H * W).fill(0);
    expectIdx.forEach((k, o) => (want[k] = o + 1));
    exact(await data(gx!), want, 'maxPool2d grad');
    // overlapping padded windows: NaN at (1, 1) in four windows, at (2, 2) in the middle of one
    const p = Array.from({ length: 25 }, (_, i) => i % 7);
    p[6] = N;
    p[12] = N;
    const yp = E.maxPool2d(E.tensor(p, { shape: [1, 1, 5, 5] }), { kernelSize: 3, stride: 2, padding: 1 });
    exact(await data(yp), [N, N, 4, N, N, 6, 6, 4, 5], 'maxPool2d padded');
    // +-inf keep their order
    const yi = E.maxPool2d(E.tensor([-INF, -INF, INF, 1], { shape: [1, 1, 2, 2] }), { kernelSize: [1, 2] });
    exact(await data(yi), [-INF, INF], 'maxPool2d infinities');
  });
});

t('binaryCrossEntropy of a NaN probability or target is NaN; the -100 log clamp stays', async () => {
  // torch clamps each log at -100 (so p = 0 with y = 1 costs 100) and rejects p outside [0, 1]
  // (NaN included; that check would need a readback here): a NaN must at least not become 100
  const p = E.tensor([N, 0, 1, 0.5, 0.25, 0.5]);
  const y = E.tensor([1, 1, 0, 1, N, 0]);
  await eachEw(async (v) => {
    const l = await data(E.binaryCrossEntropy(p, y, { reduction: 'none' }));
    assertClose(l, [N, 100, 100, Math.log(2), N, Math.log(2)], 1e-5, 1e-5, `bce none (${v})`);
    assert.ok(Number.isNaN((await data(E.binaryCrossEntropy(p, y)))[0]), `bce mean is NaN (${v})`);
  });
});

t('conv2d fused relu/relu6 epilogues keep NaN like the separate ops', async () => {
  // conv2d(..., activation) must equal relu(conv2d(...)): a NaN bias makes a whole output
  // channel NaN before the activation, a NaN input pixel the outputs that see it
  const cases: { x: number[]; w: number[]; groups?: number; padding?: number }[] = [
    { x: [2, 4, 8, 8], w: [4, 4, 3, 3], padding: 1 }, // vec4 stores
    { x: [1, 3, 7, 7], w: [4, 3, 3, 3] }, // scalar stores
    { x: [2, 8, 6, 6], w: [4, 8, 1, 1] }, // 1x1: the matmul path
    { x: [1, 4, 9, 9], w: [4, 1, 3, 3], groups: 4, padding: 1 }, // depthwise
  ];
  for (const c of cases) {
    for (const act of ['relu', 'relu6'] as const) {
      await E.tidyAsync(async () => {
        const xs = Array.from({ length: c.x.reduce((a, b) => a * b) }, (_, i) => Math.fround(Math.sin(i * 0.37) * 4));
        xs[5] = N;
        const x = E.tensor(xs, { shape: c.x });
        const w = E.tensor(
          Array.from({ length: c.w.reduce((a, b) => a * b) }, (_, i) => Math.fround(Math.cos(i * 0.11))),
          { shape: c.w },
        );
        const b = E.tensor([0.5, N, -0.25, 1]);
        const opts = { groups: c.groups, padding: c.padding };
        const pre = await data(E.conv2d(x, w, b, opts));
        const fused = await data(E.conv2d(x, w, b, { ...opts, activation: act }));
        const plain = await data(E[act](E.conv2d(x, w, b, opts)));
        const label = `conv2d ${JSON.stringify(c)} + ${act}`;
        assert.ok(pre.some(Number.isNaN), 'the case has NaN outputs');
        assert.equal(fused.map(Number.isNaN), pre.map(Number.isNaN), `${label}: NaN where the convolution is NaN`);
        assertClose(fused, plain, 1e-5, 1e-5, label);
      });
    }
  }
});

t('sort, topk and quantile: NaN sorts as the largest (unchanged)', async () => {
  // torch.sort puts NaN after +inf ascending (first descending); quantile of a NaN line is NaN
  const x = E.tensor([3, N, -INF, 1, INF, N]);
  const [sv, si] = E.sort(x);
  exact(await data(sv), [-INF, 1, 3, INF, N, N], 'sort values');
  exact(await data(si), [2, 3, 0, 4, 1, 5], 'sort indices');
  const [tv, ti] = E.topk(x, 2);
  exact(await data(tv), [N, N], 'topk values');
  exact(await data(ti), [1, 5], 'topk indices');
  exact(await data(E.quantile(x, 0.5)), [N], 'quantile');
});

t.run();
