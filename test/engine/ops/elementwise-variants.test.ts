// The elementwise kernel variants of engine/ops/launch.ts against plain CPU loops: contiguous
// (vec4 or scalar), and strided with runs of 1, 4 or 16 innermost elements in which each operand
// is a vec4 ('v'), a broadcast scalar ('b') or four strided scalars ('s'), the output included
// (assign into a transposed view). The kernel keys recorded show every variant ran. Also: flip's
// negative strides, and the parameter struct each (rank, inputs, scalars, layout) gets.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { setDispatchHook } from '../../../engine/runtime/dispatch.ts';
import { assertClose, offsetView } from '../../helpers/oracle.ts';
import { UNROLL, elementwiseKernel, elementwiseParams } from '../../../engine/wgsl/elementwise.ts';
import { WG } from '../../../engine/wgsl/common.ts';
import { throwsWith } from '../../helpers/throws.ts';

const t = suite('elementwise variants');
t.before(async () => {
  await E.initDevice();
});

const vals = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 0.61 + seed) * 3));

/** A [R, C] matrix of `v` stored transposed ([C, R] contiguous), returned as a strided view. */
function transposed(v: Float32Array, R: number, C: number): E.Tensor {
  const d = new Float32Array(R * C);
  for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) d[j * R + i] = v[i * C + j];
  return E.tensor(d, { shape: [C, R] }).T;
}

/** A [R, C] contiguous view of `v` starting one element into its buffer (not vec4-aligned). */
const unaligned = (v: Float32Array, R: number, C: number) => offsetView(v, [R, C], 1);

t('every operand mode and run length matches a CPU loop', async () => {
  const keys = new Set<string>();
  setDispatchHook({ passFor: (k) => (keys.add(k.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
  try {
    await E.tidyAsync(async () => {
      for (const [R, C] of [
        [3, 32], // runs of 16
        [5, 12], // runs of 4
        [4, 7], // runs of 1
      ]) {
        const a = vals(R * C, 1);
        const b = vals(C, 2);
        const c = vals(R, 3);
        const ref = (f: (i: number, j: number) => number) => Float32Array.from({ length: R * C }, (_, e) => f(Math.floor(e / C), e % C));
        const A = E.tensor(a, { shape: [R, C] });
        const label = `${R}x${C}`;
        // contiguous: vec4 (sizes multiple of 4) or scalar
        assertClose(
          await E.mul(A, 2).data(),
          ref((i, j) => a[i * C + j] * 2),
          1e-6,
          1e-6,
          `${label} contiguous`,
        );
        // strided, v + b: a row-broadcast bias
        assertClose(
          await E.add(A, E.tensor(b)).data(),
          ref((i, j) => a[i * C + j] + b[j]),
          1e-6,
          1e-6,
          `${label} row broadcast`,
        );
        // strided, v + b along the inner dim: a column broadcast
        assertClose(
          await E.sub(A, E.tensor(c, { shape: [R, 1] })).data(),
          ref((i, j) => a[i * C + j] - c[i]),
          1e-6,
          1e-6,
          `${label} column broadcast`,
        );
        // strided, s: a transposed operand, and an unaligned one, next to an aligned one
        assertClose(
          await E.mul(transposed(a, R, C), A).data(),
          ref((i, j) => a[i * C + j] * a[i * C + j]),
          1e-5,
          1e-6,
          `${label} transposed`,
        );
        assertClose(
          await E.add(unaligned(a, R, C), E.tensor(b)).data(),
          ref((i, j) => a[i * C + j] + b[j]),
          1e-6,
          1e-6,
          `${label} unaligned`,
        );
        // three inputs (where) mixing all modes
        const cond = E.gt(E.tensor(c, { shape: [R, 1] }), 0);
        assertClose(
          await E.where(cond, transposed(a, R, C), E.tensor(b)).data(),
          ref((i, j) => (c[i] > 0 ? a[i * C + j] : b[j])),
          1e-6,
          1e-6,
          `${label} where`,
        );
        // output into a transposed view: the output's own stride
        const dst = E.zeros([C, R]);
        E.assign(dst.T, E.add(A, E.tensor(b)));
        const got = await dst.data();
        const want = new Float32Array(R * C);
        for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) want[j * R + i] = a[i * C + j] + b[j];
        assertClose(got, want, 1e-6, 1e-6, `${label} into a transposed view`);
      }
    });
  } finally {
    setDispatchHook(null);
  }
  const variants = new Set([...keys].filter((k) => k.startsWith('ew:')).map((k) => k.split(':')[3]));
  for (const v of ['c4', 'c', '2r16vvv', '2r16vbv', '2r4vbv', '2r16svv', '2r4svv', '2r16vs', '2r4vs', '2r16sbvv', '2r1'])
    assert.ok(variants.has(v), `variant ${v} never ran (ran: ${[...variants].join(', ')})`);
});

t('sizes spanning several workgroups, every step of each invocation loop and a ragged tail', async () => {
  // One contiguous invocation covers UNROLL elements (or vec4s) WG apart and a workgroup
  // WG * UNROLL: these sizes reach the last loop step of full workgroups and stop inside a tail.
  const per = WG * UNROLL;
  await E.tidyAsync(async () => {
    for (const n of [3 * per + 5, 4 * (2 * per + 3 * WG + 7)]) {
      const a = vals(n, 4);
      assertClose(
        await E.mul(E.tensor(a), 3).data(),
        a.map((x) => x * 3),
        1e-6,
        1e-6,
        `contiguous n ${n}`,
      );
    }
    // strided runs of 16 over many rows (row-broadcast add)
    const R = 97,
      C = 48;
    const a = vals(R * C, 5),
      b = vals(C, 6);
    const got = await E.add(E.tensor(a, { shape: [R, C] }), E.tensor(b)).data();
    assertClose(
      got,
      a.map((x, e) => x + b[e % C]),
      1e-6,
      1e-6,
      `row broadcast ${R}x${C}`,
    );
  });
});

t("named variant 'scalar': one element per load, the same values as 'vec4'; unknown names are errors", async () => {
  const run = async (v: 'vec4' | 'scalar') => {
    const keys = new Set<string>();
    const prev = E.setElementwiseVariant(v);
    setDispatchHook({ passFor: (k) => (keys.add(k.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
    try {
      return await E.tidyAsync(async () => {
        const a = E.tensor(vals(8 * 32, 4), { shape: [8, 32] });
        const out = [await E.mul(a, 3).data(), await E.add(a, E.tensor(vals(32, 5))).data(), await E.relu(transposed(vals(8 * 32, 6), 32, 8)).data()];
        return { out, keys: [...keys] };
      });
    } finally {
      setDispatchHook(null);
      E.setElementwiseVariant(prev);
    }
  };
  const v = await run('vec4'),
    s = await run('scalar');
  v.out.forEach((x, i) => assertClose(s.out[i], x, 0, 0, `op ${i}`));
  // contiguous keys end in ':c4:' for vec4 and ':c:' for scalar; strided runs are r16/r4 vs r1
  assert.ok(v.keys.some((k) => k.includes(':c4:')) && !s.keys.some((k) => k.includes(':c4:')), `${v.keys.join(' ')} | ${s.keys.join(' ')}`);
  assert.ok(
    s.keys.every((k) => !/:\dr(4|16)/.test(k)),
    s.keys.join(' '),
  );
  assert.throws(() => E.setElementwiseVariant('wide' as 'vec4'), /elementwise: unknown variant 'wide' \(vec4, scalar\)/);
});

t('flip: negative strides through the strided variants (runs of 16, 4 and 1; any dim reversed)', async () => {
  await E.tidyAsync(async () => {
    for (const [R, C] of [
      [3, 32],
      [5, 12],
      [4, 7],
    ]) {
      const a = vals(R * C, 7);
      const A = E.tensor(a, { shape: [R, C] });
      const want = (ri: boolean, ci: boolean) =>
        Float32Array.from({ length: R * C }, (_, e) => {
          const i = Math.floor(e / C),
            j = e % C;
          return a[(ri ? R - 1 - i : i) * C + (ci ? C - 1 - j : j)];
        });
      assertClose(await E.flip(A, 1).data(), want(false, true), 0, 0, `${R}x${C} flip dim 1`);
      assertClose(await E.flip(A, 0).data(), want(true, false), 0, 0, `${R}x${C} flip dim 0`);
      assertClose(await E.flip(A, [0, 1]).data(), want(true, true), 0, 0, `${R}x${C} flip both`);
    }
  });
});

t('one parameter struct per (rank, inputs, scalars, layout): the kernel declares what its packer packs', () => {
  const spec = { name: 'probe', expr: 'a * s0 + b', inTypes: ['f32', 'f32'], outType: 'f32', scalars: 1 };
  const k = elementwiseKernel(spec, 3, false, 4, 'vvv');
  // the same object for every kernel of the combination, another for another combination
  assert.is(k.params, elementwiseParams(2, 1, 3, false));
  assert.is(elementwiseKernel({ ...spec, name: 'other', expr: 'b - a * s0' }, 3, false, 16).params, k.params);
  assert.is.not(elementwiseParams(2, 1, 2, false), k.params);
  assert.is(elementwiseParams(2, 1, 5, true), elementwiseParams(2, 1, 0, true), 'contiguous: no rank in the struct');
  // n, out offset, 2 in offsets, 1 scalar, then shape, out strides and 2 x 3 in strides: 17 words
  const code = k.code();
  assert.ok(code.startsWith(k.params.struct.decl), code.slice(0, 200));
  assert.is(k.params.struct.words, 20);
  for (const f of ['n: u32', 'outOffset: u32', 'inOffsets_1: u32', 'scalars_0: f32', 'shape_2: u32', 'outStrides_2: u32', 'inStrides_5: u32'])
    assert.ok(k.params.struct.decl.includes(f), `${f} in ${k.params.struct.decl}`);
  assert.not.ok(elementwiseParams(1, 0, 0, true).struct.decl.includes('scalars'));
  const words = k.params.pack({
    n: 8,
    outOffset: 4,
    inOffsets: [0, 8],
    scalars: [1.5],
    shape: [2, 2, 2],
    outStrides: [4, 2, 1],
    inStrides: [4, 2, 1, -4, 0, 1],
  });
  assert.equal(Array.from(words.subarray(0, 17)), [8, 4, 0, 8, new Uint32Array(Float32Array.of(1.5).buffer)[0], 2, 2, 2, 4, 2, 1, 4, 2, 1, 2 ** 32 - 4, 0, 1]);
  // a value the struct does not declare, or one it needs but is not given, names the struct
  throwsWith(
    () => k.params.pack({ n: 8, outOffset: 0, inOffsets: [0, 0], shape: [2, 2, 2], outStrides: [4, 2, 1], inStrides: [4, 2, 1, 4, 2, 1] }),
    'ElementwiseParams',
    'scalars must be a list of 1 numbers',
  );
  throwsWith(() => elementwiseParams(1, 0, 0, true).pack({ n: 8, outOffset: 0, inOffsets: [0], shape: [8] }), 'ElementwiseParams', 'unknown parameter shape');
  throwsWith(() => elementwiseParams(1, 0, 0, true).pack({ n: 8, outOffset: -1, inOffsets: [0] }), 'outOffset = -1 is not a u32');
});

t('WGT_ELEMENTWISE_VARIANT picks a variant by name; a misspelt one is an error, not a silent default', async () => {
  const prev = E.env('WGT_ELEMENTWISE_VARIANT');
  const keys: string[] = [];
  setDispatchHook({ passFor: (k) => (keys.push(k.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
  try {
    E.setEnv('WGT_ELEMENTWISE_VARIANT', 'scalar');
    const a = await E.tidyAsync(async () => E.add(E.ones([64]), 1).data());
    E.setEnv('WGT_ELEMENTWISE_VARIANT', 'vec4');
    const b = await E.tidyAsync(async () => E.add(E.ones([64]), 1).data());
    assert.equal(Array.from(a), Array.from(b));
    const ew = keys.filter((k) => k.includes('add'));
    assert.is(ew.length, 2);
    assert.is.not(ew[0], ew[1], 'the two variants are different kernels');
    E.setEnv('WGT_ELEMENTWISE_VARIANT', 'vec8');
    throwsWith(() => E.add(E.ones([64]), 1), "elementwise: WGT_ELEMENTWISE_VARIANT='vec8' is not a variant (vec4, scalar)");
  } finally {
    E.setEnv('WGT_ELEMENTWISE_VARIANT', prev);
    setDispatchHook(null);
  }
});

t.run();
