// Shape and resampling ops (interpolate, unfold/fold, cat/stack/split/chunk, gather,
// index_select, repeat, flip, pad) against PyTorch fixtures (test/fixtures/gen/shape_ops.py),
// finite-difference gradient checks, and error messages.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, type OpFn } from '../../helpers/oracle.ts';
import { setDispatchHook } from '../../../engine/runtime/dispatch.ts';
import { throwsWith } from '../../helpers/throws.ts';

const interp = (a: Record<string, any>): E.InterpolateOptions => ({
  size: a.size,
  scaleFactor: a.scaleFactor,
  mode: a.mode,
  alignCorners: a.alignCorners,
  recomputeScaleFactor: a.recomputeScaleFactor,
});

const ops: Record<string, OpFn> = {
  interpolate: ([x], a) => E.interpolate(x, interp(a)),
  interpolate_nhwc: ([x], a) => E.interpolate(E.permute(x, [0, 3, 1, 2]), interp(a)),
  unfold: ([x], a) => E.unfold(x, a as E.UnfoldOptions),
  unfold_T: ([x], a) => E.unfold(E.transpose(x, 2, 3), a as E.UnfoldOptions),
  fold: ([x], a) => E.fold(x, a as E.FoldOptions),
  cat: (xs, a) => E.cat(xs, a.dim),
  cat_T: ([x, y], a) => E.cat([x.T, y], a.dim),
  stack: (xs, a) => E.stack(xs, a.dim),
  split: ([x], a) => E.split(x, a.size, a.dim).slice(a.skip ?? 0),
  chunk: ([x], a) => E.chunk(x, a.chunks, a.dim),
  gather: ([x, i], a) => E.gather(x, a.dim, i),
  gather_T: ([x, i], a) => E.gather(x.T, a.dim, i),
  indexSelect: ([x, i], a) => E.indexSelect(x, a.dim, i),
  repeat: ([x], a) => E.repeat(x, a.reps),
  flip: ([x], a) => E.flip(x, a.dims),
  flip_T: ([x], a) => E.flip(x.T, a.dims),
  pad: ([x], a) => E.pad(x, a.pads, { mode: a.mode, value: a.value }),
  pad_T: ([x], a) => E.pad(E.transpose(x, 2, 3), a.pads, { mode: a.mode, value: a.value }),
};

const fx = suite('shape ops vs torch');
fx.before(async () => {
  await E.initDevice();
});
registerCases(fx, loadFixture('ops/shape_ops.json').cases, ops);
fx.run();

const gc = suite('shape ops: finite-difference gradients');
gc.before(async () => {
  await E.initDevice();
});
const one: [string, number[], (x: E.Tensor) => E.Tensor][] = [
  ['interpolate bilinear up', [1, 2, 3, 4], (x) => E.interpolate(x, { size: [5, 7], mode: 'bilinear' })],
  ['interpolate bilinear down align', [1, 1, 6, 7], (x) => E.interpolate(x, { size: [4, 3], mode: 'bilinear', alignCorners: true })],
  ['interpolate bilinear scale 0.6', [1, 1, 6, 7], (x) => E.interpolate(x, { scaleFactor: 0.6, mode: 'bilinear' })],
  ['interpolate nearest', [1, 2, 3, 5], (x) => E.interpolate(x, { size: [7, 3], mode: 'nearest' })],
  ['unfold', [1, 2, 4, 5], (x) => E.unfold(x, { kernelSize: [2, 3], padding: 1, stride: [1, 2], dilation: [2, 1] })],
  ['fold', [1, 8, 6], (x) => E.fold(x, { outputSize: [3, 4], kernelSize: 2 })],
  ['cat', [2, 3], (x) => E.cat([x, E.square(x), E.slice(x, 1, 1)], 1)],
  ['stack', [2, 3], (x) => E.stack([x, E.square(x)], 1)],
  [
    'split',
    [5, 2],
    (x) => {
      const [a, b, c] = E.split(x, 2, 0);
      return E.cat([E.square(a), E.mul(b, 3), c], 0);
    },
  ],
  [
    'chunk',
    [2, 5],
    (x) => {
      const [a, b] = E.chunk(x, 2, 1);
      return E.cat([E.square(a), b], 1);
    },
  ],
  ['repeat', [2, 3], (x) => E.repeat(x, [2, 1, 2])],
  ['flip', [2, 3, 4], (x) => E.flip(E.transpose(x, 0, 2), [0, 1])],
  ['pad constant', [2, 3], (x) => E.pad(x, [2, -1, 1, 1], { value: 0.3 })],
  ['pad reflect', [1, 1, 3, 4], (x) => E.pad(x, [2, 3, 1, 2], { mode: 'reflect' })],
  ['pad replicate', [1, 2, 3], (x) => E.pad(x, [2, 1], { mode: 'replicate' })],
  ['pad circular', [1, 3, 3], (x) => E.pad(x, [1, 3, 2, 0], { mode: 'circular' })],
];
for (const [name, shape, f] of one) gc(name, () => gradcheck(([x]) => f(x), [{ shape }]));
gc('gather (repeated indices)', async () => {
  const idx = E.tensor(new Int32Array([0, 2, 2, 1, 0, 0]), { shape: [2, 3] });
  await gradcheck(([x]) => E.gather(x, 1, idx), [{ shape: [3, 4] }]);
});
gc('indexSelect', async () => {
  const idx = E.tensor(new Int32Array([3, 0, 3]));
  await gradcheck(([x]) => E.indexSelect(x, 1, idx), [{ shape: [2, 4, 2] }]);
});
gc.run();

const er = suite('shape ops: errors');
er.before(async () => {
  await E.initDevice();
});
er('interpolate', () => {
  const x = E.zeros([1, 1, 4, 4]);
  throwsWith(() => E.interpolate(E.zeros([4, 4]), { size: 2 }), /interpolate: expected a 4-D NCHW input, got \[4, 4\]/);
  throwsWith(() => E.interpolate(x, { size: 2, scaleFactor: 2 }), /exactly one of size or scaleFactor/);
  throwsWith(() => E.interpolate(x, {}), /exactly one of size or scaleFactor/);
  throwsWith(() => E.interpolate(x, { size: 2, alignCorners: true }), /alignCorners can only be set with .*bilinear/);
  throwsWith(() => E.interpolate(x, { size: 2, mode: 'area' as 'bilinear' }), /mode 'area' is not supported/);
  throwsWith(() => E.interpolate(x, { scaleFactor: 0.1 }), /output size \[0, 0\] must be positive/);
});
er('unfold / fold', () => {
  throwsWith(() => E.unfold(E.zeros([1, 1, 2, 2]), { kernelSize: 3 }), /unfold: kernel 3x3 .* does not fit the spatial size 2x2/);
  throwsWith(() => E.unfold(E.zeros([4, 4]), { kernelSize: 2 }), /unfold: expected a 3-D or 4-D input/);
  throwsWith(() => E.fold(E.zeros([1, 6, 4]), { outputSize: 3, kernelSize: 2 }), /fold: dim 1 of \[1, 6, 4\] must be divisible by the kernel size 2x2/);
  throwsWith(() => E.fold(E.zeros([1, 4, 5]), { outputSize: 3, kernelSize: 2 }), /fold: input \[1, 4, 5\] has 5 blocks, expected 2x2 = 4/);
  throwsWith(() => E.unfold(E.zeros([1, 1, 4, 4]), { kernelSize: 2, stride: 0 }), /stride must be an integer >= 1/);
});
er('cat / stack / split / chunk', () => {
  throwsWith(() => E.cat([], 0), /cat: expected a non-empty list/);
  throwsWith(() => E.cat([E.zeros([2, 3]), E.zeros([3, 2])], 0), /cat: sizes of tensors must match except in dim 0/);
  throwsWith(() => E.cat([E.zeros([2, 3])], 2), /cat: dim 2 out of range/);
  throwsWith(() => E.stack([E.zeros([2]), E.zeros([3])]), /stack: all tensors must have the same shape, got \[2\] and \[3\]/);
  throwsWith(() => E.split(E.zeros([5]), [2, 2]), /split: sizes \[2, 2\] must be non-negative and sum to 5/);
  throwsWith(() => E.chunk(E.zeros([5]), 0), /chunk: number of chunks must be a positive integer/);
});
er('gather / indexSelect / repeat / flip / pad', () => {
  const x = E.zeros([3, 4]);
  throwsWith(() => E.gather(x, 1, E.zeros([3, 2])), /gather: index must be an i32 tensor, got f32/);
  throwsWith(() => E.gather(x, 1, E.zeros([3], 'i32')), /gather: index \[3\] must have the same number of dims as x \[3, 4\]/);
  throwsWith(() => E.gather(x, 1, E.zeros([4, 2], 'i32')), /gather: index \[4, 2\] is larger than x \[3, 4\] in dim 0/);
  throwsWith(() => E.indexSelect(x, 0, E.zeros([2, 2], 'i32')), /indexSelect: index must be 1-D/);
  throwsWith(() => E.repeat(x, [2]), /repeat: 1 repeat counts for a tensor of rank 2/);
  throwsWith(() => E.flip(x, [0, 0]), /flip: repeated dim/);
  throwsWith(() => E.pad(x, [1]), /pad: padding length must be even/);
  throwsWith(() => E.pad(x, [4, 0], { mode: 'reflect' }), /pad: reflect padding \(4, 0\) must be smaller than the size 4 of dim 1/);
  throwsWith(() => E.pad(x, [-1, 0], { mode: 'reflect' }), /negative padding is only supported in mode 'constant'/);
  throwsWith(() => E.pad(x, [-3, -2]), /pad: padding \(-3, -2\) makes dim 1 of \[3, 4\] negative/);
});
er('out-of-range gather indices give NaN instead of reading out of bounds', async () => {
  const r = E.gather(E.ones([2, 3]), 1, E.tensor(new Int32Array([0, 7, -1, 2]), { shape: [2, 2] }));
  const d = Array.from(await r.data());
  assert.equal(d[0], 1);
  assert.ok(Number.isNaN(d[1]) && Number.isNaN(d[2]));
  assert.equal(d[3], 1);
});
// views with negative strides (how flip addresses its source) reach the kernels' wrapping u32
// index arithmetic as two's complement strides
er('gather through negative-stride views of x and index', async () => {
  await E.tidyAsync(async () => {
    const x = E.tensor([0, 1, 2, 3, 4, 5], { shape: [2, 3] });
    const xr = x.view_([2, 3], [3, -1], 2); // rows reversed: [[2, 1, 0], [5, 4, 3]]
    const i = E.tensor(new Int32Array([0, 2, 1, 1]), { shape: [2, 2] });
    const ir = i.view_([2, 2], [-2, 1], 2); // index rows swapped: [[1, 1], [0, 2]]
    assert.equal(Array.from(await E.gather(xr, 1, ir).data()), [1, 1, 5, 3]);
  });
});
er.run();

// contiguous() of a view with its last two dims swapped takes a 4x4-block kernel where the dims
// and the offset are multiples of 4; every layout must give the elements of the view in order.
const tc = suite('contiguous of transposed views');
tc.before(async () => {
  await E.initDevice();
});

/** The view's elements in row-major order, read through its strides on the CPU. */
function viewOrder(data: ArrayLike<number>, shape: number[], strides: readonly number[], offset: number): number[] {
  const out: number[] = [];
  const idx = shape.map(() => 0);
  for (let n = 0; n < shape.reduce((a, b) => a * b, 1); n++) {
    out.push(data[offset + idx.reduce((a, v, d) => a + v * strides[d], 0)]);
    for (let d = shape.length - 1; d >= 0; d--)
      if (++idx[d] < shape[d]) break;
      else idx[d] = 0;
  }
  return out;
}

const layouts: [string, number[], (x: E.Tensor) => E.Tensor, boolean][] = [
  ['a 2-D transpose', [8, 12], (x) => E.transpose(x, 0, 1), true],
  ['a batch of transposes', [3, 8, 4], (x) => E.transpose(x, 1, 2), true],
  ['a transpose at an offset (a slice of rows)', [20, 8], (x) => E.transpose(E.narrow(x, 0, 4, 12), 0, 1), true],
  ['a size-1 leading dim', [1, 4, 16], (x) => E.transpose(x, 1, 2), true],
  ['odd dims (strided kernel)', [6, 10], (x) => E.transpose(x, 0, 1), false],
  ['an offset not a multiple of 4 (strided kernel)', [100], (x) => E.transpose(E.reshape(E.narrow(x, 0, 2, 96), [12, 8]), 0, 1), false],
  ['leading dims permuted too (strided kernel)', [2, 3, 4, 8], (x) => E.permute(x, [1, 0, 3, 2]), false],
];
for (const [name, shape, view, blocked] of layouts)
  tc(`${name}: the view's elements in order (f32 and i32), gradient, kernel`, async () => {
    const keys: string[] = [];
    setDispatchHook({ passFor: (k) => (keys.push(k.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
    try {
      await E.tidyAsync(async () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 7);
        const x = E.tensor(data, { shape }).requiresGrad_();
        const v = view(x);
        const c = E.contiguous(v);
        assert.ok(c.isContiguous());
        assert.equal(Array.from(await c.data()), viewOrder(data, [...v.shape], v.strides, v.offset), 'f32');
        const xi = E.tensor(
          Int32Array.from({ length: n }, (_, i) => i - 50),
          { shape, dtype: 'i32' },
        );
        const vi = view(xi);
        assert.equal(
          Array.from(await E.contiguous(vi).data()),
          viewOrder(
            Int32Array.from({ length: n }, (_, i) => i - 50),
            [...vi.shape],
            vi.strides,
            vi.offset,
          ),
          'i32',
        );
        // the copy passes the gradient through: d sum(c * w) / dx = w scattered back through the view
        const w = E.tensor(
          Float32Array.from({ length: c.size }, (_, i) => i + 1),
          { shape: [...c.shape] },
        );
        E.sum(E.mul(c, w)).backward();
        const gx = await x.grad!.data();
        const back = new Float32Array(n);
        const order = viewOrder(
          Float32Array.from({ length: n }, (_, i) => i),
          [...v.shape],
          v.strides,
          v.offset,
        );
        order.forEach((src, i) => (back[src] += i + 1));
        assert.equal(Array.from(gx), Array.from(back), 'gradient');
      });
    } finally {
      setDispatchHook(null);
    }
    assert.is(keys.includes('copy.transpose'), blocked, `kernels: ${keys.join(', ')}`);
  });

tc.run();
