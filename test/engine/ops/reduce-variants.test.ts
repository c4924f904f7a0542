// Reduction kernel variants (engine/ops/reduce.ts): 'serial' (scalar, vec4 columns, vec4 rows)
// and 'subgroup' (rows; where the device has subgroups), each forced by name, against CPU
// references: sum/mean/max/min over rows, columns and middle dims, long rows split into chunks
// (multi-pass), ragged and misaligned rows (views at odd offsets), int sums, argmax/argmin with
// ties (first index). The serial vec4 paths must match an f32 emulation of their own order bit
// for bit (columns: the scalar loop's order; rows: four running sums joined pairwise). Columns
// of views at offsets over chunked passes: every ReduceParams field, mean's scale on the last pass.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { subgroupSize } from '../../../engine/runtime/device.ts';
import { setDispatchHook } from '../../../engine/runtime/dispatch.ts';
import { assertClose, offsetView } from '../../helpers/oracle.ts';
import { values } from '../../helpers/matmul-ref.ts';

const t = suite('reduce variants');
t.before(async () => {
  await E.initDevice();
});
t.after(() => void E.setReduceVariant(null));

/** Reduces [outer, R, inner] over R on the CPU in float64 (or with `f32`, an order emulation). */
function cpuReduce(x: Float32Array, outer: number, R: number, inner: number, op: 'sum' | 'max' | 'min'): Float64Array {
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let acc = op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
      for (let r = 0; r < R; r++) {
        const v = x[(o * R + r) * inner + i];
        acc = op === 'sum' ? acc + v : op === 'max' ? Math.max(acc, v) : Math.min(acc, v);
      }
      out[o * inner + i] = acc;
    }
  return out;
}

function keysOf(fn: () => Promise<void>): Promise<string[]> {
  const keys: string[] = [];
  setDispatchHook({ passFor: (k) => (keys.push(k.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
  return fn().then(
    () => (setDispatchHook(null), keys),
    (e) => {
      setDispatchHook(null);
      throw e;
    },
  );
}

// [outer, R] rows: vec4 rows, ragged R, a long row (chunked), many short rows
const ROWS: [number, number][] = [
  [37, 256],
  [5, 101],
  [3, 20000],
  [300, 64],
  [2, 7],
];

for (const variant of ['serial', 'subgroup'] as const)
  t(`${variant}: sum, mean, max, min over rows, columns and a middle dim; int sums; chunked rows`, async () => {
    E.setReduceVariant(variant);
    try {
      const keys = await keysOf(() =>
        E.tidyAsync(async () => {
          for (const [outer, R] of ROWS) {
            const xv = values(outer * R, outer + R);
            const x = E.tensor(xv, { shape: [outer, R] });
            const tol = 1e-5 * Math.sqrt(R);
            assertClose(await E.sum(x, 1).data(), cpuReduce(xv, outer, R, 1, 'sum'), tol, 1e-5, `sum rows ${outer}x${R}`);
            assertClose(
              await E.mean(x, 1).data(),
              cpuReduce(xv, outer, R, 1, 'sum').map((v) => v / R),
              1e-5,
              1e-5,
              `mean rows ${outer}x${R}`,
            );
            assertClose(await E.max(x, 1).data(), cpuReduce(xv, outer, R, 1, 'max'), 0, 0, `max rows ${outer}x${R}`);
            assertClose(await E.min(x, 1).data(), cpuReduce(xv, outer, R, 1, 'min'), 0, 0, `min rows ${outer}x${R}`);
            assertClose(await E.sum(x, 0).data(), cpuReduce(xv, 1, outer, R, 'sum'), tol, 1e-5, `sum columns ${outer}x${R}`);
            assertClose(await E.max(x, 0).data(), cpuReduce(xv, 1, outer, R, 'max'), 0, 0, `max columns ${outer}x${R}`);
          }
          // rows of a view at an odd offset (no vec4 path) and a middle dim
          const xv = values(4 * 9 * 12, 7);
          const x = E.tensor(xv, { shape: [4, 9, 12] });
          // rows of 12 (a multiple of 4) starting at element 3: not vec4-aligned
          const v = E.narrow(E.reshape(x, [-1]), 0, 3, 35 * 12);
          assertClose(await E.sum(E.reshape(v, [35, 12]), 1).data(), cpuReduce(xv.subarray(3), 35, 12, 1, 'sum'), 1e-5, 1e-5, 'rows at offset 3');
          assertClose(await E.sum(x, 1).data(), cpuReduce(xv, 4, 9, 12, 'sum'), 1e-5, 1e-5, 'middle dim');
          assertClose(await E.min(x, [0, 1]).data(), cpuReduce(xv, 1, 36, 12, 'min'), 0, 0, 'two leading dims');
          // integer sums are exact
          const iv = Int32Array.from({ length: 6 * 400 }, (_, i) => ((i * 7919) % 2001) - 1000);
          const xi = E.tensor(iv, { shape: [6, 400], dtype: 'i32' });
          const want = Array.from({ length: 6 }, (_, o) => iv.subarray(o * 400, (o + 1) * 400).reduce((a, b) => a + b, 0));
          assert.equal(Array.from(await E.sum(xi, 1).data()), want, 'int sums');
          // a bool count
          const mask = E.gt(x, 0);
          assert.is((await E.sum(mask).data())[0], xv.filter((a) => a > 0).length, 'bool count');
        }),
      );
      const sgKeys = keys.filter((k) => k.startsWith('reduce.sg:'));
      if (variant === 'subgroup' && subgroupSize() > 0) assert.ok(sgKeys.length > 0, `no subgroup kernel in ${[...new Set(keys)].join(', ')}`);
      if (variant === 'serial') assert.is(sgKeys.length, 0);
    } finally {
      E.setReduceVariant(null);
    }
  });

for (const variant of ['serial', 'subgroup'] as const)
  t(`${variant}: argmax/argmin give the first extremum (ties across lanes and chunks)`, async () => {
    E.setReduceVariant(variant);
    try {
      await E.tidyAsync(async () => {
        // row o has its maximum 5 at positions p and q > p (and minimum -5 at two positions)
        const R = 300,
          outer = 6;
        const xv = new Float32Array(outer * R).map((_, i) => Math.sin(i) * 0.5);
        const at = [
          [3, 200],
          [0, 1],
          [255, 256],
          [17, 18 + 32],
          [299, 299],
          [8, 9],
        ];
        at.forEach(([p, q], o) => {
          xv[o * R + p] = 5;
          xv[o * R + q] = 5;
          xv[o * R + ((p + 100) % R)] = -5;
          xv[o * R + ((p + 150) % R)] = -5;
        });
        const x = E.tensor(xv, { shape: [outer, R] });
        assert.equal(
          Array.from(await E.argmax(x, 1).data()),
          at.map(([p]) => p),
          'argmax',
        );
        assert.equal(
          Array.from(await E.argmin(x, 1).data()),
          at.map(([p]) => Math.min((p + 100) % R, (p + 150) % R)),
          'argmin',
        );
      });
    } finally {
      E.setReduceVariant(null);
    }
  });

t('serial vec4 paths: the same bits as an f32 emulation of their order', async () => {
  E.setReduceVariant('serial');
  try {
    await E.tidyAsync(async () => {
      const outer = 33,
        R = 200;
      const xv = values(outer * R, 99);
      const x = E.tensor(xv, { shape: [outer, R] });
      // columns (inner = 200, a multiple of 4): one running f32 sum per column, in row order
      const cols = new Float32Array(R);
      for (let r = 0; r < outer; r++) for (let i = 0; i < R; i++) cols[i] = Math.fround(cols[i] + xv[r * R + i]);
      assertClose(await E.sum(x, 0).data(), cols, 0, 0, 'columns');
      // rows (R = 200): four running sums (elements 4j + k), then (s0 + s1) + (s2 + s3)
      const rows = new Float32Array(outer);
      for (let o = 0; o < outer; o++) {
        const s = [0, 0, 0, 0];
        for (let j = 0; j < R; j++) s[j & 3] = Math.fround(s[j & 3] + xv[o * R + j]);
        rows[o] = Math.fround(Math.fround(s[0] + s[1]) + Math.fround(s[2] + s[3]));
      }
      assertClose(await E.sum(x, 1).data(), rows, 0, 0, 'rows');
    });
  } finally {
    E.setReduceVariant(null);
  }
});

t('variant names: unknown ones are errors; a forced subgroup variant falls back where it cannot run', () => {
  assert.throws(() => E.setReduceVariant('tree' as 'serial'), /reduce: unknown variant 'tree' \(serial, subgroup\)/);
  const prev = E.setReduceVariant('subgroup');
  assert.is(E.reduceVariantFor(4, 100), 'serial'); // columns never take it
  assert.is(E.reduceVariantFor(1, 100), subgroupSize() > 0 ? 'subgroup' : 'serial');
  E.setReduceVariant(prev);
});

t('chunked column means of views at offsets: vec4 and scalar columns, the scale applied once', async () => {
  E.setReduceVariant('serial');
  try {
    const keys = await keysOf(() =>
      E.tidyAsync(async () => {
        // R = 2000 rows over 8 columns: split into chunks (R > 512, few outputs), then a second pass
        const R = 2000,
          C = 8;
        for (const off of [4, 1]) {
          const xv = values(R * C, 50 + off);
          const x = offsetView(xv, [R, C], off);
          const want = cpuReduce(xv, 1, R, C, 'sum');
          assertClose(
            await E.mean(x, 0).data(),
            want.map((v) => v / R),
            1e-6,
            1e-5,
            `mean columns at offset ${off}`,
          );
          assertClose(await E.sum(x, 0).data(), want, 1e-5 * Math.sqrt(R), 1e-5, `sum columns at offset ${off}`);
          assertClose(await E.max(x, 0).data(), cpuReduce(xv, 1, R, C, 'max'), 0, 0, `max columns at offset ${off}`);
        }
      }),
    );
    // two passes per sum and mean: vec4 columns for both at offset 4; at offset 1 scalar ones,
    // then vec4 over the aligned partial sums
    const count = (k: string) => keys.filter((x) => x === k).length;
    assert.is(count('reduce:sum:f32:v4'), 6, keys.join(', '));
    assert.is(count('reduce:sum:f32'), 2, keys.join(', '));
  } finally {
    E.setReduceVariant(null);
  }
});

t.run();
