// Pooling against PyTorch fixtures (test/fixtures/gen/conv_ops.py): max_pool2d (ceil_mode,
// dilation, ties routed to the first maximum), avg_pool2d (count_include_pad, ceil_mode,
// divisor_override), adaptive_avg_pool1d/2d with uneven and overlapping bins (GLASS's 1000 -> 384
// and 4608 -> 1536); finite-difference checks and shape errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, type OpFn, distinctValues } from '../../helpers/oracle.ts';
import { throwsWith } from '../../helpers/throws.ts';

const nul = <T>(v: T | null | undefined) => (v === null ? undefined : v);
const ops: Record<string, OpFn> = {
  maxPool2d: ([x], a) => E.maxPool2d(x, { kernelSize: a.kernelSize, stride: nul(a.stride), padding: a.padding, dilation: a.dilation, ceilMode: a.ceilMode }),
  avgPool2d: ([x], a) =>
    E.avgPool2d(x, {
      kernelSize: a.kernelSize,
      stride: nul(a.stride),
      padding: a.padding,
      ceilMode: a.ceilMode,
      countIncludePad: a.countIncludePad,
      divisorOverride: a.divisorOverride,
    }),
  adaptiveAvgPool2d: ([x], a) => E.adaptiveAvgPool2d(x, a.out),
  adaptiveAvgPool1d: ([x], a) => E.adaptiveAvgPool1d(x, a.out),
};
const before = async () => {
  await E.initDevice();
};

const fx = suite('pooling vs torch');
fx.before(before);
registerCases(
  fx,
  loadFixture('ops/conv.json').cases.filter((c) => c.op in ops),
  ops,
);
fx.run();

const gc = suite('pooling finite-difference gradients');
gc.before(before);
gc('maxPool2d 3x3 stride 2 pad 1, ceil mode', () =>
  gradcheck(([x]) => E.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }), [{ shape: [1, 2, 6, 5], data: distinctValues(60, 1) }], {
    eps: 1e-3,
  }),
);
gc('maxPool2d dilation 2', () =>
  gradcheck(([x]) => E.maxPool2d(x, { kernelSize: 2, stride: 1, dilation: 2 }), [{ shape: [1, 1, 5, 5], data: distinctValues(25, 2) }], { eps: 1e-3 }),
);
gc('avgPool2d overlapping, exclude pad, ceil mode', () =>
  gradcheck(([x]) => E.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), [{ shape: [1, 2, 6, 5] }]),
);
gc('adaptiveAvgPool2d overlapping bins', () => gradcheck(([x]) => E.adaptiveAvgPool2d(x, [4, 3]), [{ shape: [2, 1, 3, 5] }]));
gc('adaptiveAvgPool1d uneven bins', () => gradcheck(([x]) => E.adaptiveAvgPool1d(x, 4), [{ shape: [2, 10] }]));
gc('adaptiveAvgPool1d vec4 row kernel, overlapping bins', () => gradcheck(([x]) => E.adaptiveAvgPool1d(x, 11), [{ shape: [2, 1, 8] }]));
gc.run();

const api = suite('pooling API');
api.before(before);
api('maxPool2dWithIndices returns torch-style plane indices', async () => {
  await E.tidyAsync(async () => {
    const x = E.tensor([1, 5, 2, 5, 0, 3, 7, 7, 1, 4, 6, 2, 8, 0, 9, 9], { shape: [1, 1, 4, 4] });
    const [v, i] = E.maxPool2dWithIndices(x, { kernelSize: 2 });
    assert.equal(Array.from(await v.data()), [5, 7, 8, 9]);
    assert.equal(Array.from(await i.data()), [1, 6, 12, 14]);
    assert.is(i.dtype, 'i32');
  });
});
api('adaptiveAvgPool1d [N*P, 1, 4608] -> 1536 keeps the leading dims', async () => {
  await E.tidyAsync(async () => {
    const y = E.adaptiveAvgPool1d(E.ones([6, 1, 4608]), 1536);
    assert.equal([...y.shape], [6, 1, 1536]);
    assert.is(await E.sum(y).item(), 6 * 1536);
  });
});

api.run();

const err = suite('pooling errors');
err.before(before);
err('padding over half the kernel', () =>
  throwsWith(() => E.maxPool2d(E.zeros([1, 1, 5, 5]), { kernelSize: 2, padding: 2 }), ['maxPool2d', 'padding [2, 2]', 'kernel size [2, 2]', '[1, 1, 5, 5]']),
);
err('output too small', () => throwsWith(() => E.avgPool2d(E.zeros([1, 1, 2, 5]), { kernelSize: 3 }), ['avgPool2d', 'output size 0x1', '[1, 1, 2, 5]']));
err('input rank', () => throwsWith(() => E.maxPool2d(E.zeros([5, 5]), { kernelSize: 2 }), ['maxPool2d', '[5, 5]']));
err('adaptive output size', () => throwsWith(() => E.adaptiveAvgPool1d(E.zeros([1, 1, 8]), 0), ['adaptiveAvgPool', 'output size', '0']));
err('adaptive1d rank', () => throwsWith(() => E.adaptiveAvgPool1d(E.zeros([2, 1, 1, 8]), 2), ['adaptiveAvgPool1d', '[2, 1, 1, 8]']));
err('stride 0', () => throwsWith(() => E.avgPool2d(E.zeros([1, 1, 4, 4]), { kernelSize: 2, stride: 0 }), ['avgPool2d', 'stride']));
err.run();
