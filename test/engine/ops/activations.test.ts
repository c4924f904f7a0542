// erf and gelu (exact and tanh) against PyTorch (test/fixtures/gen/transformer_ops.py): the whole
// line at tight tolerances, NaN and infinities, views; finite-difference gradients; nn.GELU.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, assertClose, type OpFn } from '../../helpers/oracle.ts';
import { throwsWith } from '../../helpers/throws.ts';

const ops: Record<string, OpFn> = {
  erf: ([x]) => E.erf(x),
  gelu: ([x], a) => E.gelu(x, a.approximate),
  gelu_T: ([x], a) => E.gelu(x.T, a.approximate),
};

const fx = suite('erf / gelu vs torch');
fx.before(async () => {
  await E.initDevice();
});
registerCases(fx, loadFixture('ops/transformer_act.json').cases, ops);
fx.run();

const t = suite('erf / gelu');
t.before(async () => {
  await E.initDevice();
});

// Inputs spread over both branches of erf (|x| < 1 and beyond) and the gelu tails.
const spread = (n: number) => Float32Array.from({ length: n }, (_, i) => -3 + (6 * (i + 0.5)) / n);

t('finite differences: erf', () => gradcheck(([x]) => E.erf(x), [{ shape: [2, 5], data: spread(10) }], { eps: 1e-2 }));
t('finite differences: gelu exact', () => gradcheck(([x]) => E.gelu(x), [{ shape: [2, 5], data: spread(10) }]));
t('finite differences: gelu tanh', () => gradcheck(([x]) => E.gelu(x, 'tanh'), [{ shape: [2, 5], data: spread(10) }]));

t('erf is odd and saturates to exactly +-1', async () => {
  const xs = Float32Array.from([0.3, 1.7, 3.95, 4, 12, 1e30]);
  const [p, n] = await Promise.all([E.erf(E.tensor(xs)).data(), E.erf(E.neg(E.tensor(xs))).data()]);
  assertClose(
    n,
    Array.from(p, (v) => -v),
    0,
    0,
    'erf(-x) = -erf(x)',
  );
  assert.equal(Array.from(p.slice(3)), [1, 1, 1]);
});

t('integer inputs are converted to f32 (torch.erf of an int tensor)', async () => {
  const y = E.erf(E.tensor([0, 1, -2], { dtype: 'i32' }));
  assert.is(y.dtype, 'f32');
  assertClose(await y.data(), [0, 0.8427007794, -0.995322265], 1e-7, 0, 'erf(int)');
});

t('nn.GELU runs gelu with its approximate setting', async () => {
  const x = E.tensor(spread(8));
  for (const approx of ['none', 'tanh'] as const) {
    const m = new E.nn.GELU(approx);
    assertClose(await m.forward(x).data(), await E.gelu(x, approx).data(), 0, 0, `GELU('${approx}')`);
    assert.equal(Object.keys(m.stateDict()), []);
  }
  assert.is(new E.nn.GELU().approximate, 'none');
});

t('tensor methods: x.erf(), x.gelu(approximate) are the ops', async () => {
  const x = E.tensor([-2, -0.5, 0, 0.7, 3]);
  assert.equal(await x.erf().toArray(), await E.erf(x).toArray());
  assert.equal(await x.gelu().toArray(), await E.gelu(x).toArray());
  assert.equal(await x.gelu('tanh').toArray(), await E.gelu(x, 'tanh').toArray());
  assert.not.equal(await x.gelu('tanh').toArray(), await x.gelu().toArray());
});

t('bad approximate names the op and the value', () => {
  throwsWith(() => E.gelu(E.tensor([1]), 'fast' as 'tanh'), 'gelu', "'fast'");
  throwsWith(() => new E.nn.GELU('erf' as 'none'), 'GELU', "'erf'");
});
t.run();
