// engine/nn and ops/batchnorm: F.batch_norm fixtures (train/eval forward, gradients, running
// stats; also followed by F.leaky_relu for the fused negativeSlope) and finite-difference checks,
// Module state dicts (torch key names, strict loading errors, CPU tensors, in-place copies),
// train()/eval() switching of BatchNorm, layer defaults, and torch.nn.init's fan/gain rules and
// distributions (test/fixtures/gen/nn.py).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { setDispatchHook } from '../../../engine/runtime/dispatch.ts';
import { registerCases, loadFixture, gradcheck, assertClose, decode, offsetView, type OpFn, type Case, type SpecTensor } from '../../helpers/oracle.ts';
import { liveTensors } from '../../helpers/memory.ts';

const { nn } = E;

interface NnFixture {
  cases: Case[];
  fans: { shape: number[]; fan_in: number; fan_out: number }[];
  gains: { nonlinearity: string; param: number | null; gain: number }[];
  nested: { state_dict: [string, number[], string][]; parameters: string[] };
  mlp: { init: Record<string, SpecTensor>; keys: string[] };
}
const fx = loadFixture<NnFixture>('nn/nn.json');

const before = async () => {
  await E.initDevice();
};

// ---- batch_norm against torch ----
const bnOpts = (training: boolean, a: Record<string, number>) => ({ training, momentum: a.momentum, eps: a.eps });
const ops: Record<string, OpFn> = {
  bn_train: ([x, rm, rv, w, b], a) => [E.batchNorm(x, rm, rv, w, b, bnOpts(true, a)), rm, rv],
  bn_train_noaffine: ([x, rm, rv], a) => [E.batchNorm(x, rm, rv, null, null, bnOpts(true, a)), rm, rv],
  bn_train_nostats: ([x, w, b], a) => E.batchNorm(x, null, null, w, b, bnOpts(true, a)),
  bn_eval: ([x, rm, rv, w, b], a) => [E.batchNorm(x, rm, rv, w, b, bnOpts(false, a)), rm, rv],
  bn_eval_noaffine: ([x, rm, rv], a) => [E.batchNorm(x, rm, rv, null, null, bnOpts(false, a)), rm, rv],
  // the fused LeakyReLU against F.leaky_relu(F.batch_norm(...))
  bn_train_leaky: ([x, rm, rv, w, b], a) => [E.batchNorm(x, rm, rv, w, b, { ...bnOpts(true, a), negativeSlope: a.slope }), rm, rv],
  bn_train_nostats_leaky: ([x, w, b], a) => E.batchNorm(x, null, null, w, b, { ...bnOpts(true, a), negativeSlope: a.slope }),
  bn_eval_leaky: ([x, rm, rv, w, b], a) => [E.batchNorm(x, rm, rv, w, b, { ...bnOpts(false, a), negativeSlope: a.slope }), rm, rv],
};
// the fixture's bn_train_ctx / bn_train_head cases are GLASS's fused batch norm
// (test/glass/fused-batchnorm.test.ts)
const APP_FUSION_OPS = new Set(['bn_train_ctx', 'bn_train_head']);
const cases = suite('batch_norm vs torch');
cases.before(before);
registerCases(
  cases,
  fx.cases.filter((c) => !APP_FUSION_OPS.has(c.op)),
  ops,
);
cases.run();

// ---- finite differences ----
const gc = suite('batchNorm gradients (finite differences)');
gc.before(before);
const stat = (C: number, seed: number, lo: number) => Float32Array.from({ length: C }, (_, i) => lo + ((i * 7 + seed) % 5) * 0.1);
gc('training, [N, C] with weight and bias', () =>
  gradcheck(([x, w, b]) => E.batchNorm(x, null, null, w, b, { training: true }), [{ shape: [5, 3] }, { shape: [3] }, { shape: [3] }]),
);
gc('training, [N, C, H, W] with weight and bias', () =>
  gradcheck(([x, w, b]) => E.batchNorm(x, null, null, w, b, { training: true }), [{ shape: [2, 3, 2, 2] }, { shape: [3] }, { shape: [3] }]),
);
gc('training, [N, C, L] without affine, long reduction (chunked)', () =>
  gradcheck(([x]) => E.batchNorm(x, null, null, null, null, { training: true }), [{ shape: [3, 2, 100] }], { seed: 3 }),
);
gc('eval, [N, C, H, W]', async () => {
  const rm = E.keep(E.tensor(stat(3, 1, -0.2)));
  const rv = E.keep(E.tensor(stat(3, 2, 0.5)));
  try {
    await gradcheck(([x, w, b]) => E.batchNorm(x, rm, rv, w, b, { training: false }), [{ shape: [2, 3, 2, 2] }, { shape: [3] }, { shape: [3] }]);
  } finally {
    rm.dispose();
    rv.dispose();
  }
});
gc('training, [N, C] with C % 4 == 0 (vec4-over-channels kernels)', () =>
  gradcheck(([x, w, b]) => E.batchNorm(x, null, null, w, b, { training: true }), [{ shape: [6, 8] }, { shape: [8] }, { shape: [8] }], { seed: 5 }),
);
gc('eval, [N, C] with C % 4 == 0', async () => {
  const rm = E.keep(E.tensor(stat(4, 3, -0.1)));
  const rv = E.keep(E.tensor(stat(4, 4, 0.6)));
  try {
    await gradcheck(([x, w]) => E.batchNorm(x, rm, rv, w, null, { training: false }), [{ shape: [5, 4] }, { shape: [4] }]);
  } finally {
    rm.dispose();
    rv.dispose();
  }
});
gc('only weight needs a gradient (input constant)', () =>
  gradcheck(([x, w]) => E.batchNorm(x, null, null, w, null, { training: true }), [{ shape: [4, 3], grad: false }, { shape: [3] }]),
);
gc.run();

// ---- layouts: a view starting off a multiple of 4 takes the scalar kernels ----
const lay = suite('batchNorm layouts');
lay.before(before);
lay('input and weight at unaligned offsets give what aligned copies give (scalar vs vec4 kernels)', () =>
  E.tidyAsync(async () => {
    for (const shape of [
      [40, 8],
      [3, 4, 2, 4],
    ]) {
      const n = shape.reduce((a, b) => a * b);
      const C = shape[1];
      const x = offsetView(
        Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 2 + (i % 3)),
        shape,
        1,
        true,
      );
      const w = offsetView(
        Float32Array.from({ length: C }, (_, i) => 0.5 + i * 0.1),
        [C],
        1,
        true,
      );
      assert.is(x.offset % 4, 1);
      const xa = E.contiguous(E.mul(x, 1)).detach().requiresGrad_();
      const wa = E.contiguous(E.mul(w, 1)).detach().requiresGrad_();
      assert.is(xa.offset, 0);
      const dy = E.tensor(
        Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.21)),
        { shape },
      );
      const yu = E.batchNorm(x, null, null, w, null, { training: true });
      const ya = E.batchNorm(xa, null, null, wa, null, { training: true });
      E.sum(E.mul(yu, dy)).backward();
      E.sum(E.mul(ya, dy)).backward();
      assertClose(await yu.data(), await ya.data(), 1e-5, 1e-5, `y ${shape}`);
      assertClose(await x.grad!.data(), await xa.grad!.data(), 1e-5, 1e-4, `dx ${shape}`);
      assertClose(await w.grad!.data(), await wa.grad!.data(), 1e-5, 1e-4, `dw ${shape}`);
    }
  }),
);
lay.run();

// ---- BatchNorm + LeakyReLU fused (negativeSlope) ----
const fused = suite('batchNorm + LeakyReLU fused');
fused.before(before);
// [N, C] with C % 4 (c4 kernels), spatial S % 4 (s4), neither (scalar), and an unaligned input
// (scalar fallback): values, every gradient and the running statistics are the same bits as
// leakyRelu(batchNorm(...)) run as two ops, in training (affine or not) and eval mode.
fused('same bits as batchNorm then leakyRelu: layouts, affine or not, train and eval, slopes 0.2 and 0', () =>
  E.tidyAsync(async () => {
    const shapes: [number[], number][] = [
      [[40, 8], 0],
      [[3, 4, 2, 4], 0],
      [[6, 3, 5], 0],
      [[40, 8], 1],
    ];
    for (const [shape, offset] of shapes)
      for (const slope of [0.2, 0])
        for (const [training, affine] of [
          [true, true],
          [true, false],
          [false, true],
        ]) {
          const n = shape.reduce((a, b) => a * b),
            C = shape[1];
          const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 2 + (i % 3) - 1);
          const make = () => ({
            x: offset ? offsetView(data, shape, offset, true) : E.tensor(data, { shape }).requiresGrad_(),
            w: affine
              ? E.tensor(
                  Float32Array.from({ length: C }, (_, i) => 0.5 + i * 0.1),
                  { shape: [C] },
                ).requiresGrad_()
              : null,
            b: affine
              ? E.tensor(
                  Float32Array.from({ length: C }, (_, i) => 0.1 * i - 0.2),
                  { shape: [C] },
                ).requiresGrad_()
              : null,
            rm: E.tensor(
              Float32Array.from({ length: C }, (_, i) => 0.1 * i),
              { shape: [C] },
            ),
            rv: E.tensor(
              Float32Array.from({ length: C }, (_, i) => 1 + 0.2 * i),
              { shape: [C] },
            ),
          });
          const f = make(),
            u = make();
          const label = `${shape} offset ${offset} slope ${slope} ${training ? 'train' : 'eval'}${affine ? ' affine' : ''}`;
          const yf = E.batchNorm(f.x, f.rm, f.rv, f.w, f.b, { training, negativeSlope: slope });
          const yu = E.leakyRelu(E.batchNorm(u.x, u.rm, u.rv, u.w, u.b, { training }), slope);
          const dy = E.tensor(
            Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.21)),
            { shape },
          );
          E.sum(E.mul(yf, dy)).backward();
          E.sum(E.mul(yu, dy)).backward();
          assertClose(await yf.data(), await yu.data(), 0, 0, `y ${label}`);
          assertClose(await f.x.grad!.data(), await u.x.grad!.data(), 0, 0, `dx ${label}`);
          if (affine) {
            assertClose(await f.w!.grad!.data(), await u.w!.grad!.data(), 0, 0, `dw ${label}`);
            assertClose(await f.b!.grad!.data(), await u.b!.grad!.data(), 0, 0, `db ${label}`);
          }
          assertClose(await f.rm.data(), await u.rm.data(), 0, 0, `running mean ${label}`);
          assertClose(await f.rv.data(), await u.rv.data(), 0, 0, `running var ${label}`);
          // the activation did something: some outputs are negative (slope 0.2) or zero (slope 0)
          const yv = await yf.data();
          assert.ok(yv.some((v) => (slope ? v < 0 : v === 0)) && yv.some((v) => v > 0), label);
        }
  }),
);
// a smaller step than the default: a central difference across the kink of the LeakyReLU
// (an output within about eps of 0) is not a derivative
fused('finite-difference gradients (train and eval)', async () => {
  const o = { eps: 1e-3, atol: 1e-2, rtol: 1e-2 };
  await gradcheck(
    ([x, w, b]) => E.batchNorm(x, null, null, w, b, { training: true, negativeSlope: 0.2 }),
    [{ shape: [6, 8] }, { shape: [8] }, { shape: [8] }],
    { seed: 5, ...o },
  );
  await gradcheck(
    ([x, w, b]) => E.batchNorm(x, null, null, w, b, { training: true, negativeSlope: 0.1 }),
    [{ shape: [2, 3, 2, 2] }, { shape: [3] }, { shape: [3] }],
    { seed: 6, ...o },
  );
  await E.tidyAsync(async () => {
    const rm = E.tensor(Float32Array.of(0.1, -0.2, 0.3), { shape: [3] }),
      rv = E.tensor(Float32Array.of(0.9, 1.1, 1.3), { shape: [3] });
    await gradcheck(
      ([x, w, b]) => E.batchNorm(x, rm, rv, w, b, { training: false, negativeSlope: 0.2 }),
      [{ shape: [5, 3] }, { shape: [3] }, { shape: [3] }],
      o,
    );
  });
});
fused('nn.Sequential runs BatchNorm + LeakyReLU as one op, with the same results as module by module', () =>
  E.tidyAsync(async () => {
    const seq = new nn.Sequential(
      new nn.Linear(6, 8),
      new nn.BatchNorm1d(8),
      new nn.LeakyReLU(0.2),
      new nn.Linear(8, 4),
      new nn.BatchNorm1d(4),
      new nn.LeakyReLU(-0.1),
    );
    const x = E.tensor(
      Float32Array.from({ length: 60 }, (_, i) => Math.sin(i * 0.7)),
      { shape: [10, 6] },
    );
    const names: string[] = [];
    setDispatchHook({ passFor: (k) => (names.push(k.name), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
    let y: E.Tensor;
    try {
      y = seq.forward(x);
      await E.sync();
    } finally {
      setDispatchHook(null);
    }
    assert.ok(names.includes('batchnorm.normalize.leaky'), names.join(' '));
    // the pair with a negative slope is not fused: its LeakyReLU runs on its own
    assert.is(names.filter((n) => n === 'ew.leakyRelu').length, 1, names.join(' '));
    seq.layers.forEach((m) => m.eval());
    let z = x;
    for (const m of seq.layers) z = m.forward(z);
    assertClose(await seq.forward(x).data(), await z.data(), 0, 0, 'eval: fused vs module by module');
    assert.ok(y!.shape[1] === 4);
  }),
);
fused.run();

// ---- errors ----
const errs = suite('batchNorm errors');
errs.before(before);
errs('one value per channel in training, missing running stats in eval, wrong shapes', () =>
  E.tidy(() => {
    assert.throws(() => E.batchNorm(E.zeros([1, 3]), null, null, null, null, { training: true }), /more than 1 value per channel/);
    assert.throws(() => E.batchNorm(E.zeros([2, 3]), null, null, null, null, { training: false }), /running statistics are required/);
    assert.throws(() => E.batchNorm(E.zeros([2, 3]), null, null, E.ones([4]), null, { training: true }), /weight must be f32 of shape \[3\]/);
    assert.throws(() => E.batchNorm(E.zeros([3]), null, null, null, null, { training: true }), /\[N, C, \.\.\.\]/);
    assert.throws(
      () => E.batchNorm(E.zeros([2, 3]), null, null, null, null, { training: true, negativeSlope: -0.1 }),
      /negativeSlope must be a finite number >= 0/,
    );
  }),
);
errs.run();

// ---- modules and state dicts ----
class Net extends nn.Module {
  layers = this.registerModule('layers', new nn.Sequential(new nn.Linear(6, 8), new nn.BatchNorm1d(8), new nn.LeakyReLU(0.2)));
  bn = this.registerModule('bn', new nn.BatchNorm2d(3));
  head = this.registerModule('head', new nn.Linear(8, 1, false));
  forward(x: E.Tensor): E.Tensor {
    return this.head.forward(this.layers.forward(x));
  }
}

/** The values of a tensor computed inside a scope that frees everything else. */
const values = (f: () => E.Tensor) => E.tidyAsync(() => f().data());
const host = (s: SpecTensor) => ({ shape: s.shape, data: decode(s) });
const mlp = () => new nn.Sequential(new nn.Linear(6, 8, false), new nn.BatchNorm1d(8), new nn.LeakyReLU(0.2), new nn.Linear(8, 1), new nn.Sigmoid());

const mod = suite('nn.Module');
mod.before(before);

mod('state-dict keys, shapes, dtypes and parameter order match torch', () => {
  const net = new Net();
  E.tidy(() => {
    const sd = net.stateDict();
    const ours = Object.entries(sd).map(([k, t]) => [k, [...t.shape], t.dtype]);
    const theirs = fx.nested.state_dict.map(([k, s, d]) => [k, s, d === 'torch.int64' ? 'i32' : 'f32']);
    assert.equal(ours, theirs);
    assert.equal(
      net.namedParameters().map(([k]) => k),
      fx.nested.parameters,
    );
    const m = mlp();
    assert.equal(Object.keys(m.stateDict()), fx.mlp.keys);
    m.dispose();
  });
  net.dispose();
});

mod('parameters are kept leaves that require grad; dispose frees them', () => {
  const live0 = liveTensors();
  const net = E.tidy(() => new Net());
  const ps = net.parameters();
  assert.is(ps.length, 7);
  for (const p of ps) {
    assert.ok(p.isLeaf && p.requiresGrad && p.kept && !p.disposed);
  }
  assert.is(net.buffers().length, 6);
  assert.is(liveTensors(), live0 + 13);
  net.dispose();
  assert.ok(ps.every((p) => p.disposed));
  assert.is(liveTensors(), live0);
});

mod('strict loadStateDict lists missing, unexpected and mismatched keys in one error', () => {
  const net = new Net();
  E.tidy(() => {
    const sd: Record<string, E.Tensor | E.nn.HostTensor> = net.stateDict();
    delete sd['layers.0.bias'];
    delete sd['bn.running_var'];
    delete sd['bn.num_batches_tracked']; // tolerated, as torch does for old checkpoints
    sd['layers.2.weight'] = E.zeros([3]);
    sd['head.weight'] = { shape: [1, 9], data: new Float32Array(9) };
    let msg = '';
    try {
      net.loadStateDict(sd);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.match(msg, /missing keys: 'layers\.0\.bias', 'bn\.running_var'\n/);
    assert.match(msg, /unexpected keys: 'layers\.2\.weight'\n/);
    assert.match(msg, /shape mismatches: 'head\.weight': checkpoint \[1, 9\], model \[1, 8\]/);
    assert.not.match(msg, /num_batches_tracked/);
    // non-strict: mismatches still fail, missing/unexpected are reported
    assert.throws(() => net.loadStateDict(sd, { strict: false }), /shape mismatches/);
    sd['head.weight'] = { shape: [1, 8], data: new Float32Array(8).fill(0.5) };
    const r = net.loadStateDict(sd, { strict: false });
    assert.equal(r.missingKeys, ['layers.0.bias', 'bn.running_var']);
    assert.equal(r.unexpectedKeys, ['layers.2.weight']);
  });
  net.dispose();
});

mod('loadStateDict from CPU tensors (f32, int64, f16) copies in place', async () => {
  const m = mlp();
  const w0 = m.parameters()[0];
  const sd: Record<string, E.nn.HostTensor> = {};
  for (const [k, s] of Object.entries(fx.mlp.init)) sd[k] = host(s);
  sd['1.num_batches_tracked'] = { shape: [], data: new BigInt64Array([7n]), dtype: 'int64' };
  // 1.0, -2.0, 0.5, ... as IEEE half bit patterns
  const halves = [0x3c00, 0xc000, 0x3800, 0x0000, 0x3c00, 0x3c00, 0x3c00, 0x3c00];
  sd['1.running_var'] = { shape: [8], data: Uint16Array.from(halves), dtype: 'float16' };
  m.loadStateDict(sd);
  assert.ok(m.parameters()[0] === w0, 'parameters keep their identity');
  assertClose(await w0.data(), decode(fx.mlp.init['0.weight']), 0, 0, '0.weight');
  await E.tidyAsync(async () => {
    const out = m.stateDict();
    assert.is(out['1.num_batches_tracked'].dtype, 'i32');
    assert.equal([...(await out['1.num_batches_tracked'].data())], [7]);
    assert.equal([...(await out['1.running_var'].data())], [1, -2, 0.5, 0, 1, 1, 1, 1]);
    // values share storage with the module, as torch's state_dict does
    E.assign(out['3.bias'], E.full([], 2));
    assert.equal([...(await m.parameters()[4].data())], [2]);
  });
  m.dispose();
});

mod('loadStateDict copies from Tensors of another module (and casts dtypes)', async () => {
  const a = new Net();
  const b = new Net();
  E.tidy(() => b.loadStateDict(a.stateDict()));
  await E.tidyAsync(async () => {
    const sb = Object.entries(b.stateDict());
    for (const [i, [ka, ta]] of Object.entries(a.stateDict()).entries()) {
      assert.is(ka, sb[i][0]);
      assertClose(await sb[i][1].data(), await ta.data(), 0, 0, ka);
    }
  });
  a.dispose();
  b.dispose();
});

mod('train()/eval() switching of BatchNorm1d: running stats, counter, outputs', async () => {
  const bn = new nn.BatchNorm1d(3, { momentum: 0.5 });
  const seq = new nn.Sequential(bn, new nn.ReLU());
  assert.ok(seq.training && bn.training);
  const xs = [
    [0.5, -1, 2, 1.5, 0, -2, -0.5, 3, 1, 2.5, 1, 0],
    [1, 1, 1, 2, 0, -1, 3, -1, 0.5, 0, 2, 2],
  ];
  const rm = [0, 0, 0];
  const rv = [1, 1, 1];
  for (const x of xs) {
    E.tidy(() => void seq.forward(E.tensor(x, { shape: [4, 3] })));
    for (let c = 0; c < 3; c++) {
      const col = [0, 1, 2, 3].map((n) => x[n * 3 + c]);
      const mu = col.reduce((s, v) => s + v, 0) / 4;
      const v = col.reduce((s, u) => s + (u - mu) ** 2, 0) / 3;
      rm[c] = 0.5 * mu + 0.5 * rm[c];
      rv[c] = 0.5 * v + 0.5 * rv[c];
    }
  }
  assertClose(await bn.runningMean!.data(), rm, 1e-6, 1e-5, 'running_mean');
  assertClose(await bn.runningVar!.data(), rv, 1e-6, 1e-5, 'running_var');
  assert.equal([...(await bn.numBatchesTracked!.data())], [2]);
  seq.eval();
  assert.ok(!seq.training && !bn.training);
  const x = [0.3, -0.7, 1.1, 2, 0.1, -0.4];
  await E.tidyAsync(async () => {
    E.assign(bn.weight!, E.tensor([1.5, 0.5, -1]));
    E.assign(bn.bias!, E.tensor([0.1, 0.2, 0.3]));
    const y = await bn.forward(E.tensor(x, { shape: [2, 3] })).data();
    const want = x.map((v, i) => ((v - rm[i % 3]) / Math.sqrt(rv[i % 3] + 1e-5)) * [1.5, 0.5, -1][i % 3] + [0.1, 0.2, 0.3][i % 3]);
    assertClose(y, want, 1e-5, 1e-5, 'eval output');
  });
  assert.equal([...(await bn.numBatchesTracked!.data())], [2], 'eval does not count batches');
  assertClose(await bn.runningMean!.data(), rm, 1e-6, 1e-5, 'running_mean unchanged in eval');
  seq.train();
  assert.ok(bn.training);
  seq.dispose();
});

mod('BatchNorm2d with momentum null (cumulative average) and without running stats', async () => {
  const bn = new nn.BatchNorm2d(2, { momentum: null });
  const a = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: 16 }, (_, i) => Math.cos(i * 0.7) * 2);
  const means = [a, b].map((d) =>
    [0, 1].map((c) => [0, 1].reduce((s, n) => s + d.slice((n * 2 + c) * 4, (n * 2 + c) * 4 + 4).reduce((u, v) => u + v, 0), 0) / 8),
  );
  for (const d of [a, b]) E.tidy(() => void bn.forward(E.tensor(d, { shape: [2, 2, 2, 2] })));
  // factor 1/1 then 1/2: the running mean is the plain average of the batch means
  assertClose(
    await bn.runningMean!.data(),
    [0, 1].map((c) => (means[0][c] + means[1][c]) / 2),
    1e-6,
    1e-5,
    'cumulative running mean',
  );
  bn.dispose();
  const free = new nn.BatchNorm2d(2, { trackRunningStats: false, affine: false });
  assert.equal(Object.keys(free.stateDict()), []);
  free.eval();
  const y = await values(() => free.forward(E.tensor(a, { shape: [2, 2, 2, 2] })));
  const ch0 = [0, 1, 2, 3, 8, 9, 10, 11].map((i) => y[i]);
  assert.ok(Math.abs(ch0.reduce((s, v) => s + v, 0)) < 1e-5, 'eval without running stats uses batch statistics');
  free.dispose();
});

mod('resetRunningStats (torch reset_running_stats): mean 0, var 1, counter 0; then a cumulative average restarts', async () => {
  const bn = new nn.BatchNorm1d(3);
  const batch = (k: number) => Float32Array.from({ length: 12 }, (_, i) => Math.sin(i * 1.3 + k) * (k + 1) + k);
  for (let k = 0; k < 3; k++) E.tidy(() => void bn.forward(E.tensor(batch(k), { shape: [4, 3] })));
  assert.ok(
    (await bn.runningMean!.data()).some((v) => v !== 0),
    'precondition: trained statistics',
  );
  bn.resetRunningStats();
  assert.equal(Array.from(await bn.runningMean!.data()), [0, 0, 0]);
  assert.equal(Array.from(await bn.runningVar!.data()), [1, 1, 1]);
  assert.equal(Array.from(await bn.numBatchesTracked!.data()), [0]);
  // momentum null after a reset: the plain average of the batch means and unbiased variances
  bn.momentum = null;
  const ks = [3, 4];
  for (const k of ks) E.tidy(() => void bn.forward(E.tensor(batch(k), { shape: [4, 3] })));
  const col = (d: Float32Array, c: number) => [0, 1, 2, 3].map((n) => d[n * 3 + c]);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const uvar = (v: number[]) => v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1);
  const want = (f: (v: number[]) => number) => [0, 1, 2].map((c) => mean(ks.map((k) => f(col(batch(k), c)))));
  assertClose(await bn.runningMean!.data(), want(mean), 1e-6, 1e-5, 'running mean');
  assertClose(await bn.runningVar!.data(), want(uvar), 1e-6, 1e-5, 'running var');
  assert.equal(Array.from(await bn.numBatchesTracked!.data()), [2]);
  bn.dispose();
});

mod('Linear default init is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); forward is x W^T + b', async () => {
  E.manualSeed(1);
  const lin = new nn.Linear(16, 32);
  const w = await lin.weight.data();
  const bnd = 1 / 4;
  assert.ok(w.every((v) => Math.abs(v) <= bnd) && Math.max(...w) > 0.8 * bnd && Math.min(...w) < -0.8 * bnd);
  assert.ok((await lin.bias!.data()).every((v) => Math.abs(v) <= bnd));
  const y = await values(() => lin.forward(E.ones([2, 16])));
  const b = await lin.bias!.data();
  for (let o = 0; o < 32; o++) {
    let s = b[o];
    for (let i = 0; i < 16; i++) s += w[o * 16 + i];
    assertClose([y[o], y[32 + o]], [s, s], 1e-5, 1e-5, `output ${o}`);
  }
  lin.dispose();
});

const hasConv = typeof (E as Record<string, unknown>).conv2d === 'function';
const conv = hasConv ? mod : mod.skip;
if (!hasConv) console.log('  skip: nn.Conv2d forward test: engine/ops/conv.ts does not export conv2d yet');
conv('Conv2d: parameters, state-dict keys and forward against a direct convolution', async () => {
  E.manualSeed(2);
  const m = new nn.Conv2d(2, 4, 3, { padding: 1, stride: 2 });
  assert.equal(
    E.tidy(() => Object.keys(m.stateDict())),
    ['weight', 'bias'],
  );
  assert.equal([...m.weight.shape], [4, 2, 3, 3]);
  const xd = Float32Array.from({ length: 2 * 2 * 5 * 5 }, (_, i) => Math.sin(i * 0.3));
  const y = await values(() => m.forward(E.tensor(xd, { shape: [2, 2, 5, 5] })));
  const w = await m.weight.data();
  const b = await m.bias!.data();
  const want = new Float32Array(2 * 4 * 3 * 3);
  for (let n = 0; n < 2; n++)
    for (let o = 0; o < 4; o++)
      for (let oy = 0; oy < 3; oy++)
        for (let ox = 0; ox < 3; ox++) {
          let s = b[o];
          for (let c = 0; c < 2; c++)
            for (let ky = 0; ky < 3; ky++)
              for (let kx = 0; kx < 3; kx++) {
                const iy = oy * 2 - 1 + ky;
                const ix = ox * 2 - 1 + kx;
                if (iy < 0 || iy >= 5 || ix < 0 || ix >= 5) continue;
                s += w[((o * 2 + c) * 3 + ky) * 3 + kx] * xd[((n * 2 + c) * 5 + iy) * 5 + ix];
              }
          want[((n * 4 + o) * 3 + oy) * 3 + ox] = s;
        }
  assertClose(y, want, 1e-5, 1e-4, 'conv2d output');
  m.dispose();
});
mod.run();

// ---- init ----
const init = suite('nn.init');
init.before(before);

init('fan rules and gains match torch', () => {
  for (const f of fx.fans) assert.equal(nn.init.calculateFans(f.shape), { fanIn: f.fan_in, fanOut: f.fan_out }, `fans of [${f.shape}]`);
  for (const g of fx.gains) {
    const ours = nn.init.calculateGain(g.nonlinearity as E.nn.init.Nonlinearity, g.param);
    assert.ok(Math.abs(ours - g.gain) < 1e-12, `gain ${g.nonlinearity}(${g.param}): ${ours} vs ${g.gain}`);
  }
  assert.throws(() => nn.init.calculateFans([5]), /fewer than 2 dims/);
});

async function moments(t: E.Tensor): Promise<{ mean: number; std: number; min: number; max: number }> {
  const d = await t.data();
  let s = 0,
    s2 = 0,
    mn = Infinity,
    mx = -Infinity;
  for (const v of d) {
    s += v;
    s2 += v * v;
    mn = Math.min(mn, v);
    mx = Math.max(mx, v);
  }
  const mean = s / d.length;
  return { mean, std: Math.sqrt(s2 / d.length - mean * mean), min: mn, max: mx };
}

type InitCase = [string, number[], (t: E.Tensor) => E.Tensor, { mean: number; std: number; bound?: number }];
const sq3 = Math.sqrt(3);
const initCases: InitCase[] = [
  ['xavierNormal', [512, 256], (t) => nn.init.xavierNormal(t), { mean: 0, std: Math.sqrt(2 / 768) }],
  ['xavierNormal gain 2, conv shape', [64, 32, 3, 3], (t) => nn.init.xavierNormal(t, 2), { mean: 0, std: 2 * Math.sqrt(2 / (288 + 576)) }],
  ['xavierUniform', [256, 512], (t) => nn.init.xavierUniform(t), { mean: 0, std: Math.sqrt(2 / 768), bound: sq3 * Math.sqrt(2 / 768) }],
  [
    'kaimingNormal fan_out relu',
    [128, 64, 3, 3],
    (t) => nn.init.kaimingNormal(t, { mode: 'fan_out', nonlinearity: 'relu' }),
    { mean: 0, std: Math.sqrt(2) / Math.sqrt(128 * 9) },
  ],
  [
    'kaimingUniform default (leaky_relu a=0)',
    [300, 400],
    (t) => nn.init.kaimingUniform(t),
    { mean: 0, std: Math.sqrt(2 / 400), bound: sq3 * Math.sqrt(2 / 400) },
  ],
  [
    'kaimingUniform a=sqrt(5) (Linear default)',
    [300, 400],
    (t) => nn.init.kaimingUniform(t, { a: Math.sqrt(5) }),
    { mean: 0, std: 1 / Math.sqrt(400) / sq3, bound: 1 / Math.sqrt(400) },
  ],
  ['normal(2, 3)', [100000], (t) => nn.init.normal(t, 2, 3), { mean: 2, std: 3 }],
  ['uniform(-1, 3)', [100000], (t) => nn.init.uniform(t, -1, 3), { mean: 1, std: 4 / Math.sqrt(12), bound: 3 }],
];
for (const [name, shape, fn, want] of initCases) {
  init(`${name} ${JSON.stringify(shape)}: mean, std and bounds`, async () => {
    const t = E.keep(E.Tensor.empty(shape));
    fn(t);
    const m = await moments(t);
    const n = t.size;
    t.dispose();
    assert.ok(Math.abs(m.mean - want.mean) < (4 * want.std) / Math.sqrt(n), `mean ${m.mean} vs ${want.mean}`);
    assert.ok(Math.abs(m.std / want.std - 1) < 0.01, `std ${m.std} vs ${want.std}`);
    if (want.bound !== undefined) {
      const lo = name.startsWith('uniform') ? -1 : -want.bound;
      assert.ok(m.min >= lo && m.max <= want.bound, `range [${m.min}, ${m.max}] outside [${lo}, ${want.bound}]`);
      assert.ok(m.max > want.bound * 0.99, 'fills up to the bound');
    }
  });
}

init('constant / zeros / ones fill in place; seeded initialisation is reproducible', async () => {
  await E.tidyAsync(async () => {
    const t = E.Tensor.empty([3, 4]);
    assert.ok(nn.init.constant(t, 0.25) === t);
    assert.equal([...(await t.data())], new Array(12).fill(0.25));
    nn.init.ones(t);
    assert.equal([...(await t.data())], new Array(12).fill(1));
    nn.init.zeros(t);
    assert.equal([...(await t.data())], new Array(12).fill(0));
    const a = E.Tensor.empty([8, 5]);
    const b = E.Tensor.empty([8, 5]);
    E.manualSeed(42);
    nn.init.xavierNormal(a);
    E.manualSeed(42);
    nn.init.xavierNormal(b);
    assert.equal([...(await a.data())], [...(await b.data())]);
    assert.throws(() => nn.init.xavierNormal(E.Tensor.empty([4])), /fewer than 2 dims/);
  });
});
init.run();
