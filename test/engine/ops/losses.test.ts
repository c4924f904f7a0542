// Losses (binary cross-entropy, MSE, the FocalLoss focal loss) against PyTorch fixtures
// (test/fixtures/gen/shape_ops.py, which transcribes the FocalLoss class), finite-
// difference gradients and error messages.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, type OpFn } from '../../helpers/oracle.ts';
import { throwsWith } from '../../helpers/throws.ts';

const ops: Record<string, OpFn> = {
  bce: ([p, t], a) => E.binaryCrossEntropy(p, t, { reduction: a.reduction }),
  bce_w: ([p, t, w], a) => E.binaryCrossEntropy(p, t, { weight: w, reduction: a.reduction }),
  mse: ([x, y], a) => E.mseLoss(x, y, { reduction: a.reduction }),
  // a binary classifier's two-class input: cat([1 - s, s], 1) against a 0/1 mask (the fixture's op name)
  focal_two_class: ([s, m]) => E.focalLoss(E.cat([E.sub(1, s), s], 1), m),
  focal: ([p, t], a) => E.focalLoss(p, t, { alpha: a.alpha, balanceIndex: a.balanceIndex, gamma: a.gamma, smooth: a.smooth, reduction: a.reduction }),
};

const fx = suite('losses vs torch');
fx.before(async () => {
  await E.initDevice();
});
registerCases(fx, loadFixture('ops/shape_losses.json').cases, ops);
fx.run();

const gc = suite('losses: finite-difference gradients');
gc.before(async () => {
  await E.initDevice();
});
const probs = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => 0.15 + 0.7 * ((Math.sin(i * 1.7 + seed) + 1) / 2));
gc('binaryCrossEntropy (input and target)', () =>
  gradcheck(
    ([p, t]) => E.binaryCrossEntropy(p, t, { reduction: 'none' }),
    [
      { shape: [2, 3], data: probs(6, 1) },
      { shape: [2, 3], data: probs(6, 2) },
    ],
    { eps: 1e-3 },
  ),
);
gc('binaryCrossEntropy weighted mean', () =>
  gradcheck(
    ([p]) => E.binaryCrossEntropy(p, E.tensor([0, 1, 1, 0, 0.5, 1], { shape: [2, 3] }), { weight: E.tensor([0.5, 2, 1]) }),
    [{ shape: [2, 3], data: probs(6, 3) }],
    { eps: 1e-3 },
  ),
);
gc('mseLoss (broadcast)', () => gradcheck(([a, b]) => E.mseLoss(a, b, { reduction: 'sum' }), [{ shape: [2, 3] }, { shape: [3] }]));
gc('focalLoss two-class layout cat([1 - s, s], 1)', () => {
  const m = E.tensor([0, 1, 1, 0, 1], { shape: [5, 1] });
  return gradcheck(([s]) => E.focalLoss(E.cat([E.sub(1, s), s], 1), m), [{ shape: [5, 1], data: probs(5, 4) }], { eps: 1e-3 });
});
gc('focalLoss 3 classes, alpha list, no reduction', () => {
  const t = E.tensor(new Int32Array([2, 0, 1, 1]), { shape: [4, 1] });
  return gradcheck(([p]) => E.focalLoss(p, t, { alpha: [1, 2, 3], reduction: 'none' }), [{ shape: [4, 3], data: probs(12, 5) }], { eps: 1e-3 });
});
gc.run();

const er = suite('losses: errors');
er.before(async () => {
  await E.initDevice();
});
er('messages', () => {
  const p = E.full([2, 3], 0.5);
  throwsWith(() => E.binaryCrossEntropy(p, E.zeros([3])), /binaryCrossEntropy: target size \[3\] must be the same as the input size \[2, 3\]/);
  throwsWith(
    () => E.binaryCrossEntropy(p, E.zeros([2, 3]), { weight: E.ones([2]) }),
    /binaryCrossEntropy \(weight\): shapes \[2, 3\] and \[2\] cannot be broadcast/,
  );
  throwsWith(() => E.binaryCrossEntropy(p, E.zeros([2, 3]), { reduction: 'avg' as 'mean' }), /unknown reduction 'avg'/);
  throwsWith(() => E.mseLoss(p, E.zeros([4])), /mseLoss: shapes \[2, 3\] and \[4\] cannot be broadcast/);
  throwsWith(() => E.focalLoss(E.zeros([4]), E.zeros([4])), /focalLoss: expected input \[M, C\] or \[N, C, \.\.\.\]/);
  throwsWith(() => E.focalLoss(p, E.zeros([3, 1])), /focalLoss: target \[3, 1\] has 3 entries for 2 rows/);
  throwsWith(() => E.focalLoss(p, E.zeros([2, 1]), { smooth: 2 }), /smooth value should be in \[0, 1\]/);
  throwsWith(() => E.focalLoss(p, E.zeros([2, 1]), { alpha: [1, 2] }), /alpha has 2 entries for 3 classes/);
});
er.run();
