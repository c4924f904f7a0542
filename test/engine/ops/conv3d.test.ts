// conv3d against PyTorch fixtures (test/fixtures/gen/ops3d.py): forward and input, weight and
// bias gradients over stride/padding/dilation/groups/'same'/'valid' cases; finite-difference
// checks; strided and offset inputs; the unsplit weight-gradient path against a CPU reference;
// nn.Conv3d; shape errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, assertClose, randomValues, offsetView, type OpFn } from '../../helpers/oracle.ts';
import { throwsWith } from '../../helpers/throws.ts';
import { liveTensors } from '../../helpers/memory.ts';

const opts = (a: Record<string, any>): E.Conv3dOptions => ({ stride: a.stride, padding: a.padding, dilation: a.dilation, groups: a.groups });
const ops: Record<string, OpFn> = {
  conv3d: ([x, w, b], a) => E.conv3d(x, w, b ?? null, opts(a)),
};
const before = async () => {
  await E.initDevice();
};

const fx = suite('conv3d vs torch');
fx.before(before);
registerCases(fx, loadFixture('ops/conv3d.json').cases, ops);
fx.run();

const gc = suite('conv3d finite-difference gradients');
gc.before(before);
const gcases: [string, number[], number[], boolean, E.Conv3dOptions][] = [
  ['2x2x2 pad 1 with bias', [1, 2, 3, 3, 4], [2, 2, 2, 2, 2], true, { padding: 1 }],
  ['stride 2, dilation, rectangular kernel', [1, 2, 5, 4, 5], [2, 2, 2, 1, 3], true, { stride: [2, 1, 2], dilation: [2, 1, 1], padding: [1, 0, 1] }],
  ['groups 2', [2, 4, 3, 3, 3], [4, 2, 2, 2, 2], true, { groups: 2, padding: [0, 1, 0] }],
  ["'same' even kernel", [1, 1, 3, 4, 3], [2, 1, 2, 2, 2], false, { padding: 'same' }],
];
for (const [name, xs, ws, bias, o] of gcases) {
  gc(name, () => gradcheck(([x, w, b]) => E.conv3d(x, w, b ?? null, o), [{ shape: xs }, { shape: ws }, ...(bias ? [{ shape: [ws[0]] }] : [])]));
}
gc.run();

/** Naive conv3d (groups 1) and its weight gradient for y's upstream gradient gy, on the CPU. */
function reference(x: Float32Array, xs: number[], w: Float32Array, ws: number[], gy: Float32Array, pad: number[], stride: number[]) {
  const [N, C, D, H, W] = xs;
  const [CO, , KD, KH, KW] = ws;
  const out = [D, H, W].map((L, i) => Math.floor((L + 2 * pad[i] - [KD, KH, KW][i]) / stride[i]) + 1);
  const [OD, OH, OW] = out;
  const y = new Float32Array(N * CO * OD * OH * OW);
  const dw = new Float64Array(w.length);
  for (let n = 0; n < N; n++)
    for (let co = 0; co < CO; co++)
      for (let od = 0; od < OD; od++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++) {
            const o = (((n * CO + co) * OD + od) * OH + oh) * OW + ow;
            let acc = 0;
            for (let c = 0; c < C; c++)
              for (let kd = 0; kd < KD; kd++)
                for (let kh = 0; kh < KH; kh++)
                  for (let kw = 0; kw < KW; kw++) {
                    const id = od * stride[0] - pad[0] + kd;
                    const ih = oh * stride[1] - pad[1] + kh;
                    const iw = ow * stride[2] - pad[2] + kw;
                    if (id < 0 || id >= D || ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                    const xi = (((n * C + c) * D + id) * H + ih) * W + iw;
                    const wi = (((co * C + c) * KD + kd) * KH + kh) * KW + kw;
                    acc += x[xi] * w[wi];
                    dw[wi] += gy[o] * x[xi];
                  }
            y[o] = acc;
          }
  return { y, dw, outShape: [N, CO, OD, OH, OW] };
}

const api = suite('conv3d API');
api.before(before);
api('a weight gradient with one output row (no split) matches a CPU reference', async () => {
  // 2 x 64 x 27 weight elements and N * OD = 1: the kernel's single-split path
  const xs = [1, 3, 3, 5, 6];
  const ws = [24, 3, 3, 3, 3];
  const xv = randomValues(
    xs.reduce((a, b) => a * b),
    11,
  );
  const wv = randomValues(
    ws.reduce((a, b) => a * b),
    12,
  );
  await E.tidyAsync(async () => {
    const x = E.tensor(xv, { shape: xs });
    const w = E.tensor(wv, { shape: ws, requiresGrad: true });
    const y = E.conv3d(x, w, null, { padding: [0, 1, 1], stride: [1, 2, 1] });
    const gyv = randomValues(y.size, 13);
    const ref = reference(xv, xs, wv, ws, gyv, [0, 1, 1], [1, 2, 1]);
    assert.equal([...y.shape], ref.outShape);
    assert.is(y.shape[0] * y.shape[2], 1);
    assertClose(await y.data(), ref.y, 1e-5, 1e-4, 'forward');
    const [gw] = E.grad(y, [w], { gradOutputs: [E.tensor(gyv, { shape: y.shape })] });
    assertClose(await gw!.data(), Float32Array.from(ref.dw), 1e-5, 1e-4, 'weight grad');
  });
});
api('strided and offset operands give the dense result and gradients', async () => {
  const xs = [2, 3, 4, 5, 6];
  const ws = [4, 3, 3, 2, 3];
  const xv = randomValues(
    xs.reduce((a, b) => a * b),
    21,
  );
  const wv = randomValues(
    ws.reduce((a, b) => a * b),
    22,
  );
  const bv = randomValues(4, 23);
  const o: E.Conv3dOptions = { padding: 1, stride: [2, 1, 1] };
  await E.tidyAsync(async () => {
    const run = async (x: E.Tensor, w: E.Tensor, b: E.Tensor) => {
      const y = E.conv3d(x, w, b, o);
      const gs = E.grad(E.sum(E.mul(y, E.tensor(randomValues(y.size, 24), { shape: y.shape }))), [x, w, b]);
      return [await y.data(), ...(await Promise.all(gs.map((g) => g!.data())))];
    };
    const dense = await run(
      E.tensor(xv, { shape: xs, requiresGrad: true }),
      E.tensor(wv, { shape: ws, requiresGrad: true }),
      E.tensor(bv, { requiresGrad: true }),
    );
    // x as a transposed view (non-contiguous), w and b at element offsets 3 and 1
    const xT = E.tensor(xv, { shape: xs }).permute([0, 1, 2, 4, 3]).contiguous().detach().requiresGrad_();
    const xView = E.transpose(xT, 3, 4);
    assert.not.ok(xView.isContiguous());
    const w = offsetView(wv, ws, 3, true);
    const b = offsetView(bv, [4], 1, true);
    const y = E.conv3d(xView, w, b, o);
    const gs = E.grad(E.sum(E.mul(y, E.tensor(randomValues(y.size, 24), { shape: y.shape }))), [xT, w, b]);
    assertClose(await y.data(), dense[0], 0, 0, 'forward');
    assertClose(await E.transpose(gs[0]!, 3, 4).data(), dense[1], 0, 0, 'input grad');
    assertClose(await gs[1]!.data(), dense[2], 0, 0, 'weight grad');
    assertClose(await gs[2]!.data(), dense[3], 0, 0, 'bias grad');
  });
});
api('forward and backward leave no tensors behind', async () => {
  const x = E.tensor(randomValues(2 * 4 * 5 * 6 * 7, 6), { shape: [2, 4, 5, 6, 7], requiresGrad: true });
  const w = E.tensor(randomValues(6 * 4 * 27, 7), { shape: [6, 4, 3, 3, 3], requiresGrad: true });
  const b = E.tensor(randomValues(6, 8), { requiresGrad: true });
  const before = liveTensors();
  await E.tidyAsync(async () => {
    const L = E.sum(E.conv3d(x, w, b, { padding: 1, stride: 2 }));
    const gs = E.grad(L, [x, w, b]);
    await gs[1]!.data();
  });
  assert.is(liveTensors(), before);
  for (const t of [x, w, b]) t.dispose();
});
api('nn.Conv3d: torch parameter shapes and names, forward = conv3d', async () => {
  const m = new E.nn.Conv3d(4, 6, [3, 1, 2], { stride: 2, padding: [1, 0, 1], groups: 2 });
  assert.equal([...m.weight.shape], [6, 2, 3, 1, 2]);
  assert.equal([...m.bias!.shape], [6]);
  assert.equal(Object.keys(m.stateDict()), ['weight', 'bias']);
  // kaiming_uniform(a=sqrt(5)): |w| <= 1/sqrt(fan_in), as the bias
  const bound = 1 / Math.sqrt(2 * 3 * 1 * 2);
  for (const v of await m.weight.data()) assert.ok(Math.abs(v) <= bound + 1e-7);
  for (const v of await m.bias!.data()) assert.ok(Math.abs(v) <= bound + 1e-7);
  await E.tidyAsync(async () => {
    const x = E.tensor(randomValues(4 * 5 * 6 * 7, 9), { shape: [1, 4, 5, 6, 7] });
    const want = E.conv3d(x, m.weight, m.bias, { stride: 2, padding: [1, 0, 1], groups: 2 });
    assertClose(await m.forward(x).data(), await want.data(), 0, 0, 'module');
  });
  const nb = new E.nn.Conv3d(2, 3, 2, { bias: false, padding: 'same' });
  assert.is(nb.bias, null);
  assert.equal(Object.keys(nb.stateDict()), ['weight']);
  await E.tidyAsync(async () => {
    assert.equal([...nb.forward(E.zeros([1, 2, 3, 4, 5])).shape], [1, 3, 3, 4, 5]);
  });
  m.dispose();
  nb.dispose();
});
api.run();

const err = suite('conv3d errors');
err.before(before);
err('weight/input channel mismatch names both shapes', () =>
  throwsWith(() => E.conv3d(E.zeros([1, 3, 4, 4, 4]), E.zeros([4, 2, 3, 3, 3])), ['conv3d', '[4, 2, 3, 3, 3]', '[1, 3, 4, 4, 4]']),
);
err('channels not divisible by groups', () =>
  throwsWith(() => E.conv3d(E.zeros([1, 6, 4, 4, 4]), E.zeros([4, 2, 3, 3, 3]), null, { groups: 4 }), ['conv3d', 'divisible by groups=4', '[1, 6, 4, 4, 4]']),
);
err('output channels not divisible by groups', () =>
  throwsWith(() => E.conv3d(E.zeros([1, 4, 4, 4, 4]), E.zeros([3, 2, 3, 3, 3]), null, { groups: 2 }), ['conv3d', 'output channels 3', 'groups=2']),
);
err('empty output', () =>
  throwsWith(() => E.conv3d(E.zeros([1, 2, 4, 2, 5]), E.zeros([4, 2, 3, 3, 3])), ['conv3d', 'output size 2x0x3', '[1, 2, 4, 2, 5]', '[4, 2, 3, 3, 3]']),
);
err('bias length', () =>
  throwsWith(() => E.conv3d(E.zeros([1, 2, 4, 4, 4]), E.zeros([4, 2, 3, 3, 3]), E.zeros([3])), ['conv3d', 'bias [3]', '4 output channels']),
);
err('input and weight rank', () => {
  throwsWith(() => E.conv3d(E.zeros([1, 2, 4, 4]), E.zeros([4, 2, 3, 3])), ['conv3d', '5-D weight', '[4, 2, 3, 3]']);
  throwsWith(() => E.conv3d(E.zeros([2, 4, 4]), E.zeros([4, 2, 3, 3, 3])), ['conv3d', '5-D NCDHW input', '[2, 4, 4]']);
});
err("'same' with a stride", () =>
  throwsWith(
    () => E.conv3d(E.zeros([1, 2, 4, 4, 4]), E.zeros([4, 2, 3, 3, 3]), null, { padding: 'same', stride: [1, 2, 1] }),
    ['conv3d', "padding='same'", 'stride [1, 2, 1]'],
  ),
);
err('settings that are not triples', () => {
  throwsWith(() => E.conv3d(E.zeros([1, 2, 4, 4, 4]), E.zeros([4, 2, 3, 3, 3]), null, { stride: [1, 2] as any }), ['conv3d', 'stride', 'triple']);
  throwsWith(() => E.conv3d(E.zeros([1, 2, 4, 4, 4]), E.zeros([4, 2, 3, 3, 3]), null, { padding: -1 }), ['conv3d', 'padding', '>= 0']);
  throwsWith(() => E.conv3d(E.zeros([1, 2, 4, 4, 4]), E.zeros([4, 2, 3, 3, 3]), null, { padding: 'full' as any }), ['conv3d', 'padding', "'same'"]);
});
err.run();
