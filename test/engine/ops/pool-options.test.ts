// Pooling options beyond torch's own arguments, against PyTorch fixtures
// (test/fixtures/gen/pool_interp.py): F.pad's asymmetric [left, right, top, bottom] padding for
// max and average pooling (with ceil mode, countIncludePad both ways, divisorOverride),
// countIncludePad: false with symmetric padding, and maxPool2d's returnIndices (ties included);
// finite-difference gradients, the 4-tuple agreeing with torch's symmetric padding, errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, randomValues, type OpFn, distinctValues } from '../../helpers/oracle.ts';
import { throwsWith } from '../../helpers/throws.ts';

const nul = <T>(v: T | null | undefined) => (v === null ? undefined : v);
const ops: Record<string, OpFn> = {
  maxPool2d: ([x], a) =>
    E.maxPool2d(x, {
      kernelSize: a.kernelSize,
      stride: nul(a.stride),
      padding: a.padding,
      dilation: a.dilation,
      ceilMode: a.ceilMode,
      returnIndices: a.returnIndices,
    }),
  avgPool2d: ([x], a) =>
    E.avgPool2d(x, {
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
const cases = loadFixture('ops/pool_interp.json').cases.filter((c) => c.op in ops);

const fx = suite('pooling options vs torch');
fx.before(before);
fx('the fixture holds each option, with gradients', () => {
  const count = (op: string, f: (a: Record<string, any>) => boolean) => cases.filter((c) => c.op === op && f(c.args) && c.grads).length;
  const asym = (a: Record<string, any>) => a.padding?.length === 4;
  assert.ok(count('maxPool2d', (a) => a.returnIndices) >= 6, 'returnIndices');
  assert.ok(count('maxPool2d', (a) => asym(a) && !a.returnIndices) >= 5, 'asymmetric max');
  assert.ok(count('avgPool2d', (a) => asym(a) && a.countIncludePad === false) >= 4, 'asymmetric avg, exclude pad');
  assert.ok(count('avgPool2d', (a) => asym(a) && a.countIncludePad === true) >= 4, 'asymmetric avg, include pad');
  assert.ok(count('avgPool2d', (a) => !asym(a) && a.countIncludePad === false) >= 3, 'symmetric avg, exclude pad');
});
registerCases(fx, cases, ops);
fx.run();

const gc = suite('pooling options: finite-difference gradients');
gc.before(before);
gc('maxPool2d asymmetric padding, ceil mode, dilation', () =>
  gradcheck(
    ([x]) => E.maxPool2d(x, { kernelSize: 3, stride: 2, padding: [1, 0, 0, 1], dilation: [1, 2], ceilMode: true }),
    [{ shape: [1, 2, 6, 7], data: distinctValues(84, 3) }],
    {
      eps: 1e-3,
    },
  ),
);
gc('maxPool2d returnIndices: the values backpropagate', () =>
  gradcheck(
    ([x]) => E.maxPool2d(x, { kernelSize: 2, stride: 1, padding: [0, 1, 1, 0], returnIndices: true })[0],
    [{ shape: [1, 1, 5, 4], data: distinctValues(20, 4) }],
    {
      eps: 1e-3,
    },
  ),
);
gc('avgPool2d asymmetric, include pad, ceil mode', () =>
  gradcheck(([x]) => E.avgPool2d(x, { kernelSize: 3, stride: 2, padding: [0, 1, 1, 0], ceilMode: true }), [{ shape: [1, 2, 6, 5] }]),
);
gc('avgPool2d asymmetric, exclude pad, ceil mode', () =>
  gradcheck(
    ([x]) => E.avgPool2d(x, { kernelSize: [2, 3], stride: [2, 1], padding: [1, 0, 0, 1], ceilMode: true, countIncludePad: false }),
    [{ shape: [1, 2, 5, 6] }],
  ),
);
gc('avgPool2d symmetric, exclude pad, stride 1', () =>
  gradcheck(([x]) => E.avgPool2d(x, { kernelSize: 3, stride: 1, padding: 1, countIncludePad: false }), [{ shape: [2, 1, 4, 5] }]),
);
gc.run();

const api = suite('pooling options API');
api.before(before);
const bits = async (t: E.Tensor) => Array.from(new Uint32Array((await t.data()).buffer.slice(0)));
api('a symmetric 4-tuple gives the same bits as torch-style padding (ceil mode included)', async () => {
  await E.tidyAsync(async () => {
    const x = E.tensor(randomValues(2 * 7 * 9, 5), { shape: [1, 2, 7, 9] });
    for (const ceilMode of [false, true]) {
      for (const countIncludePad of [false, true]) {
        const a = E.avgPool2d(x, { kernelSize: [3, 2], stride: [2, 3], padding: [1, 1], ceilMode, countIncludePad });
        const b = E.avgPool2d(x, { kernelSize: [3, 2], stride: [2, 3], padding: [1, 1, 1, 1], ceilMode, countIncludePad });
        assert.equal([...b.shape], [...a.shape]);
        assert.equal(await bits(b), await bits(a), `avg ceil ${ceilMode} cip ${countIncludePad}`);
      }
      const [m, mi] = E.maxPool2d(x, { kernelSize: 2, stride: 3, padding: 1, ceilMode, returnIndices: true });
      const [n, ni] = E.maxPool2d(x, { kernelSize: 2, stride: 3, padding: [1, 1, 1, 1], ceilMode, returnIndices: true });
      assert.equal([...n.shape], [...m.shape]);
      assert.equal(await bits(n), await bits(m), `max ceil ${ceilMode}`);
      assert.equal(Array.from(await ni.data()), Array.from(await mi.data()), `max indices ceil ${ceilMode}`);
    }
  });
});
api('returnIndices: [values, i32 indices]; maxPool2dWithIndices agrees; the default returns a tensor', async () => {
  await E.tidyAsync(async () => {
    const x = E.tensor([1, 5, 2, 5, 0, 3, 7, 7, 1, 4, 6, 2, 8, 0, 9, 9], { shape: [1, 1, 4, 4] });
    const [v, i] = E.maxPool2d(x, { kernelSize: 2, returnIndices: true });
    assert.equal(Array.from(await v.data()), [5, 7, 8, 9]);
    assert.equal(Array.from(await i.data()), [1, 6, 12, 14]);
    assert.is(i.dtype, 'i32');
    const [, j] = E.maxPool2dWithIndices(x, { kernelSize: 2 });
    assert.equal(Array.from(await j.data()), [1, 6, 12, 14]);
    const plain = E.maxPool2d(x, { kernelSize: 2, returnIndices: false });
    assert.ok(plain instanceof E.Tensor);
    // indices never point into the padding: the first in-bounds tap of a window starting there
    const [, k] = E.maxPool2d(E.zeros([1, 1, 3, 3]), { kernelSize: 2, padding: [1, 0, 1, 0], returnIndices: true });
    assert.equal(Array.from(await k.data()), [0, 1, 3, 4]);
  });
});
api('returnIndices: disposing the indices keeps the values differentiable', async () => {
  await E.tidyAsync(async () => {
    const x = E.tensor([1, 5, 2, 5, 0, 3, 7, 7, 1, 4, 6, 2, 8, 0, 9, 9], { shape: [1, 1, 4, 4], requiresGrad: true });
    const [v, i] = E.maxPool2d(x, { kernelSize: 2, returnIndices: true });
    i.dispose();
    const [g] = E.grad(E.sum(v), [x]);
    assert.equal(Array.from(await g!.data()), [0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0]);
  });
});
api.run();

const err = suite('pooling options errors');
err.before(before);
err('a 4-tuple side over half the kernel names the sides', () =>
  throwsWith(
    () => E.maxPool2d(E.zeros([1, 1, 6, 6]), { kernelSize: [4, 2], padding: [0, 2, 0, 1] }),
    ['maxPool2d', 'left 0, right 2, top 0, bottom 1', 'kernel size [4, 2]', '[1, 1, 6, 6]'],
  ),
);
err('padding of the wrong length or sign', () => {
  const x = E.zeros([1, 1, 6, 6]);
  throwsWith(
    () => E.avgPool2d(x, { kernelSize: 2, padding: [1, 0, 1] as unknown as E.PoolPadding }),
    ['avgPool2d', 'padding', '[1,0,1]', 'left, right, top, bottom'],
  );
  throwsWith(() => E.avgPool2d(x, { kernelSize: 2, padding: [1, -1, 0, 0] }), ['avgPool2d', 'padding', '[1,-1,0,0]']);
  throwsWith(() => E.avgPool2d(x, { kernelSize: 2, padding: [0.5, 0, 0, 0] }), ['avgPool2d', 'padding', '[0.5,0,0,0]']);
});
err('output too small with asymmetric padding names all four', () =>
  throwsWith(
    () => E.avgPool2d(E.zeros([1, 1, 1, 5]), { kernelSize: 3, padding: [1, 1, 0, 1] }),
    ['avgPool2d', 'output size 0x', '[1, 1, 0, 1]', '[1, 1, 1, 5]'],
  ),
);
err.run();
