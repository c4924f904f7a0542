// 3-D pooling against PyTorch fixtures (test/fixtures/gen/ops3d.py): max_pool3d (ceil_mode,
// dilation, ties routed to the first maximum, NaN, return_indices as flat D*H*W volume indices),
// avg_pool3d (count_include_pad, ceil_mode, divisor_override); finite-difference checks; strided
// inputs; nn.MaxPool3d / AvgPool3d; shape errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, assertClose, randomValues, type OpFn, distinctValues } from '../../helpers/oracle.ts';
import { throwsWith } from '../../helpers/throws.ts';
import { liveTensors } from '../../helpers/memory.ts';

const nul = <T>(v: T | null | undefined) => (v === null ? undefined : v);
const maxOpts = (a: Record<string, any>): E.MaxPool3dOptions => ({
  kernelSize: a.kernelSize,
  stride: nul(a.stride),
  padding: a.padding,
  dilation: a.dilation,
  ceilMode: a.ceilMode,
});
const ops: Record<string, OpFn> = {
  maxPool3d: ([x], a) => E.maxPool3d(x, maxOpts(a)),
  maxPool3dWithIndices: ([x], a) => E.maxPool3dWithIndices(x, maxOpts(a)),
  avgPool3d: ([x], a) =>
    E.avgPool3d(x, {
      kernelSize: a.kernelSize,
      stride: nul(a.stride),
      padding: a.padding,
      ceilMode: a.ceilMode,
      countIncludePad: a.countIncludePad,
      divisorOverride: a.divisorOverride,
    }),
};
const before = async () => {
  await E.initDevice();
};

const fx = suite('3-D pooling vs torch');
fx.before(before);
registerCases(fx, loadFixture('ops/pool3d.json').cases, ops);
fx.run();

const gc = suite('3-D pooling finite-difference gradients');
gc.before(before);
gc('maxPool3d 3x3x3 stride 2 pad 1, ceil mode', () =>
  gradcheck(([x]) => E.maxPool3d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }), [{ shape: [1, 2, 4, 5, 4], data: distinctValues(160, 1) }], {
    eps: 1e-3,
  }),
);
gc('maxPool3d dilation, rectangular window', () =>
  gradcheck(
    ([x]) => E.maxPool3d(x, { kernelSize: [2, 2, 1], stride: [1, 2, 1], dilation: [2, 1, 1] }),
    [{ shape: [1, 1, 5, 4, 3], data: distinctValues(60, 2) }],
    {
      eps: 1e-3,
    },
  ),
);
gc('avgPool3d overlapping, exclude pad, ceil mode', () =>
  gradcheck(([x]) => E.avgPool3d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), [{ shape: [1, 2, 4, 5, 4] }]),
);
gc('avgPool3d include pad, rectangular', () =>
  gradcheck(([x]) => E.avgPool3d(x, { kernelSize: [2, 3, 2], stride: [1, 2, 2], padding: [1, 1, 0] }), [{ shape: [2, 1, 3, 5, 4] }]),
);
gc('avgPool3d divisor override', () => gradcheck(([x]) => E.avgPool3d(x, { kernelSize: 2, stride: 1, divisorOverride: 3 }), [{ shape: [1, 1, 3, 3, 4] }]));
gc.run();

const api = suite('3-D pooling API');
api.before(before);
api('maxPool3dWithIndices returns torch-style volume indices', async () => {
  await E.tidyAsync(async () => {
    // one 2x2x2 window per output: the maximum of volume 0 at (1, 0, 1), of volume 1 at (0, 1, 0)
    const v0 = [0, 1, 2, 3, 4, 9, 6, 7];
    const v1 = [5, 1, 8, 3, 4, 2, 6, 7];
    const x = E.tensor([...v0, ...v1], { shape: [1, 2, 2, 2, 2] });
    const [v, i] = E.maxPool3dWithIndices(x, { kernelSize: 2 });
    assert.equal([...v.shape], [1, 2, 1, 1, 1]);
    assert.equal(Array.from(await v.data()), [9, 8]);
    assert.equal(Array.from(await i.data()), [5, 2]);
    assert.is(i.dtype, 'i32');
  });
});
api('strided and offset inputs give the dense result and gradients', async () => {
  const xs = [2, 3, 4, 5, 6];
  const xv = randomValues(
    xs.reduce((a, b) => a * b),
    5,
  );
  await E.tidyAsync(async () => {
    // x() builds the input anew for each op: grad frees the graph of the view
    const run = async (x: () => E.Tensor, wrt: E.Tensor, back: (g: E.Tensor) => E.Tensor) => {
      const res: Float32Array[] = [];
      for (const f of [
        (t: E.Tensor) => E.maxPool3d(t, { kernelSize: [2, 3, 2], stride: 1, padding: 1 }),
        (t: E.Tensor) => E.avgPool3d(t, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
      ]) {
        const y = f(x());
        const [g] = E.grad(E.sum(E.mul(y, E.tensor(randomValues(y.size, 6), { shape: y.shape }))), [wrt]);
        res.push((await y.data()) as Float32Array, (await back(g!).data()) as Float32Array);
      }
      return res;
    };
    const xd = E.tensor(xv, { shape: xs, requiresGrad: true });
    const dense = await run(
      () => xd,
      xd,
      (g) => g,
    );
    // a transposed view, and a slice starting 7 elements into its buffer
    const xT = E.tensor(xv, { shape: xs }).permute([0, 1, 4, 3, 2]).contiguous().detach().requiresGrad_();
    const strided = await run(
      () => E.permute(xT, [0, 1, 4, 3, 2]),
      xT,
      (g) => E.permute(g, [0, 1, 4, 3, 2]),
    );
    const big = E.tensor(Float32Array.from([...new Array(7).fill(0), ...xv]), { requiresGrad: true });
    const xo = () => E.reshape(E.narrow(big, 0, 7, xv.length), xs);
    assert.is(xo().offset, 7);
    const offset = await run(xo, big, (g) => E.reshape(E.narrow(g, 0, 7, xv.length), xs));
    dense.forEach((d, k) => {
      assertClose(strided[k], d, 0, 0, `strided ${k}`);
      assertClose(offset[k], d, 0, 0, `offset ${k}`);
    });
  });
});
api('forward and backward leave no tensors behind', async () => {
  const x = E.tensor(randomValues(2 * 4 * 5 * 6 * 7, 6), { shape: [2, 4, 5, 6, 7], requiresGrad: true });
  const before = liveTensors();
  await E.tidyAsync(async () => {
    const L = E.add(E.sum(E.maxPool3d(x, { kernelSize: 3, stride: 2, padding: 1 })), E.sum(E.avgPool3d(x, { kernelSize: 2 })));
    const [g] = E.grad(L, [x]);
    await g!.data();
  });
  assert.is(liveTensors(), before);
  x.dispose();
});
api('nn.MaxPool3d / nn.AvgPool3d = the functional ops', async () => {
  const mp = new E.nn.MaxPool3d([2, 3, 2], { stride: 2, padding: 1, ceilMode: true });
  const ap = new E.nn.AvgPool3d(3, { stride: [1, 2, 2], padding: 1, countIncludePad: false });
  assert.equal(mp.stateDict(), {});
  await E.tidyAsync(async () => {
    const x = E.tensor(randomValues(2 * 5 * 6 * 7, 3), { shape: [2, 5, 6, 7] });
    const mo = { kernelSize: [2, 3, 2] as const, stride: 2, padding: 1, ceilMode: true };
    assertClose(await mp.forward(x).data(), await E.maxPool3d(x, mo).data(), 0, 0, 'MaxPool3d');
    const [v, i] = mp.forwardWithIndices(x);
    const [v2, i2] = E.maxPool3dWithIndices(x, mo);
    assertClose(await v.data(), await v2.data(), 0, 0, 'MaxPool3d values');
    assertClose(await i.data(), await i2.data(), 0, 0, 'MaxPool3d indices');
    const ao = { kernelSize: 3, stride: [1, 2, 2] as const, padding: 1, countIncludePad: false };
    assertClose(await ap.forward(x).data(), await E.avgPool3d(x, ao).data(), 0, 0, 'AvgPool3d');
  });
  assert.throws(() => new E.nn.MaxPool3d(0), /MaxPool3d: kernelSize/);
});
api.run();

const err = suite('3-D pooling errors');
err.before(before);
err('padding over half the kernel', () =>
  throwsWith(
    () => E.maxPool3d(E.zeros([1, 1, 5, 5, 5]), { kernelSize: [2, 4, 3], padding: [1, 2, 2] }),
    ['maxPool3d', 'padding [1, 2, 2]', 'kernel size [2, 4, 3]', '[1, 1, 5, 5, 5]'],
  ),
);
err('output too small', () =>
  throwsWith(() => E.avgPool3d(E.zeros([1, 1, 4, 2, 5]), { kernelSize: 3 }), ['avgPool3d', 'output size 1x0x1', '[1, 1, 4, 2, 5]']),
);
err('input rank', () => throwsWith(() => E.maxPool3d(E.zeros([1, 5, 5]), { kernelSize: 2 }), ['maxPool3d', '5-D', '[1, 5, 5]']));
err('stride 0', () => throwsWith(() => E.avgPool3d(E.zeros([1, 1, 4, 4, 4]), { kernelSize: 2, stride: [1, 0, 1] }), ['avgPool3d', 'stride']));
err('kernel size not a triple', () =>
  throwsWith(() => E.maxPool3d(E.zeros([1, 1, 4, 4, 4]), { kernelSize: [2, 2] as any }), ['maxPool3d', 'kernelSize', 'triple']),
);
err('divisor override 0', () =>
  throwsWith(() => E.avgPool3d(E.zeros([1, 1, 4, 4, 4]), { kernelSize: 2, divisorOverride: 0 }), ['avgPool3d', 'divisorOverride']),
);
err.run();
