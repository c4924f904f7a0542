// engine/optim: a small MLP (Linear without bias+BatchNorm1d+LeakyReLU+Linear+Sigmoid,
// xavier-initialised in torch) trained 20 steps with BCE by SGD, Adam and AdamW must follow PyTorch's trajectory (loss
// per step, final parameters and buffers, eval output, optimizer state); state-dict round trips,
// zeroGrad, argument errors, and flat memory over 200 training steps inside tidy.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { loadFixture, assertClose, decode, type SpecTensor } from '../../helpers/oracle.ts';
import { collectGarbage } from '../../helpers/memory.ts';

const { nn, optim } = E;

interface Run {
  name: string;
  optimizer: 'Adam' | 'AdamW' | 'SGD';
  defaults: Record<string, unknown>;
  groups?: ({ params: number[] } & Record<string, unknown>)[];
  losses: number[];
  final: Record<string, SpecTensor>;
  eval_out: SpecTensor;
  state0: Record<string, SpecTensor | number>;
  param_groups: Record<string, unknown>[];
}
interface Fixture {
  mlp: { x: SpecTensor; y: SpecTensor; init: Record<string, SpecTensor>; keys: string[]; runs: Run[] };
}
const fx = loadFixture<Fixture>('nn/nn.json').mlp;

const before = async () => {
  await E.initDevice();
};

const snake: Record<string, string> = { weight_decay: 'weightDecay' };
const camel = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [snake[k] ?? k, v]));

function makeMlp() {
  const m = new nn.Sequential(new nn.Linear(6, 8, false), new nn.BatchNorm1d(8), new nn.LeakyReLU(0.2), new nn.Linear(8, 1), new nn.Sigmoid());
  m.loadStateDict(Object.fromEntries(Object.entries(fx.init).map(([k, s]) => [k, { shape: s.shape, data: decode(s) }])));
  return m;
}

function makeOptimizer(run: Run, params: E.Tensor[]): E.optim.Optimizer<object> {
  const d = camel(run.defaults);
  const input = run.groups ? run.groups.map((g) => ({ ...camel(g), params: g.params.map((i) => params[i]) })) : params;
  if (run.optimizer === 'SGD') return new optim.SGD(input as E.Tensor[], d as { lr: number });
  if (run.optimizer === 'Adam') return new optim.Adam(input as E.Tensor[], d);
  return new optim.AdamW(input as E.Tensor[], d);
}

/** torch's binary_cross_entropy (mean), log terms clamped at -100, composed from engine ops. */
function bce(p: E.Tensor, y: E.Tensor): E.Tensor {
  const lp = E.clamp(E.log(p), -100);
  const lq = E.clamp(E.log(E.sub(1, p)), -100);
  return E.neg(E.mean(E.add(E.mul(y, lp), E.mul(E.sub(1, y), lq))));
}

function trainStep(m: E.nn.Module, opt: E.optim.Optimizer<object>, x: E.Tensor, y: E.Tensor): E.Tensor {
  opt.zeroGrad();
  const loss = bce(m.forward(x), y);
  E.backward(loss);
  opt.step();
  return loss;
}

const TOL = { atol: 1e-5, rtol: 1e-5 };

const traj = suite('optimizers follow PyTorch on an MLP (20 steps, BCE)');
traj.before(before);
for (const run of fx.runs) {
  traj(run.name, async () => {
    const m = makeMlp();
    const params = m.parameters();
    const opt = makeOptimizer(run, params);
    const X = E.keep(E.tensor(decode(fx.x), { shape: fx.x.shape }));
    const Y = E.keep(E.tensor(decode(fx.y), { shape: fx.y.shape }));
    try {
      const losses: number[] = [];
      for (let i = 0; i < 20; i++) losses.push(await E.tidyAsync(() => trainStep(m, opt, X, Y).item()));
      assertClose(losses, run.losses, TOL.atol, TOL.rtol, `${run.name}: losses`);
      await E.tidyAsync(async () => {
        const sd = m.stateDict();
        assert.equal(Object.keys(sd), fx.keys);
        for (const [k, spec] of Object.entries(run.final)) {
          assertClose(await sd[k].data(), decode(spec), TOL.atol, TOL.rtol, `${run.name}: ${k}`);
        }
        m.eval();
        assertClose(await m.forward(X).data(), decode(run.eval_out), TOL.atol, TOL.rtol, `${run.name}: eval output`);
        const osd = opt.stateDict();
        const st = osd.state[0];
        for (const [k, v] of Object.entries(run.state0)) {
          if (typeof v === 'number') assert.is(st[k], v, `${run.name}: state 0 ${k}`);
          else assertClose(await (st[k] as E.Tensor).data(), decode(v), TOL.atol, 1e-4, `${run.name}: state 0 ${k}`);
        }
        assert.is(osd.param_groups.length, run.param_groups.length);
        osd.param_groups.forEach((g, i) => {
          for (const [k, v] of Object.entries(g)) assert.equal(v, run.param_groups[i][k], `${run.name}: param_groups[${i}].${k}`);
        });
      });
    } finally {
      m.dispose();
      opt.dispose();
      X.dispose();
      Y.dispose();
    }
  });
}
traj.run();

const misc = suite('optimizer state, zeroGrad and errors');
misc.before(before);

async function hostStateDict(sd: E.optim.OptimizerStateDict): Promise<E.optim.OptimizerStateDictInput> {
  const state: E.optim.OptimizerStateDictInput['state'] = {};
  for (const [i, e] of Object.entries(sd.state)) {
    state[i] = {};
    for (const [k, v] of Object.entries(e)) state[i][k] = typeof v === 'number' ? { shape: [], data: [v] } : { shape: [...v.shape], data: await v.data() };
  }
  return { state, param_groups: JSON.parse(JSON.stringify(sd.param_groups)) };
}

for (const [name, make] of [
  ['Adam (amsgrad, weight decay)', (p: E.Tensor[]) => new optim.Adam(p, { lr: 0.01, amsgrad: true, weightDecay: 0.01 })],
  ['AdamW', (p: E.Tensor[]) => new optim.AdamW(p, { lr: 0.01 })],
  ['SGD (momentum, nesterov)', (p: E.Tensor[]) => new optim.SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true })],
] as const) {
  misc(`${name}: state dict round trip (device tensors and CPU copies) continues the same trajectory`, async () => {
    const X = E.keep(E.tensor(decode(fx.x), { shape: fx.x.shape }));
    const Y = E.keep(E.tensor(decode(fx.y), { shape: fx.y.shape }));
    const a = makeMlp();
    const optA = make(a.parameters());
    for (let i = 0; i < 3; i++) E.tidy(() => void trainStep(a, optA, X, Y));
    const b = makeMlp();
    const c = makeMlp();
    const optB = make(b.parameters());
    const optC = make(c.parameters());
    optB.paramGroups[0].lr = 123; // replaced by the loaded hyperparameters
    const hostSd = await E.tidyAsync(async () => {
      b.loadStateDict(a.stateDict());
      c.loadStateDict(a.stateDict());
      const sd = optA.stateDict();
      optB.loadStateDict(sd);
      return hostStateDict(sd);
    });
    optC.loadStateDict(hostSd);
    assert.is(optB.paramGroups[0].lr, 0.01 * (name.startsWith('SGD') ? 5 : 1));
    for (let i = 0; i < 2; i++)
      for (const [m, o] of [
        [a, optA],
        [b, optB],
        [c, optC],
      ] as const)
        E.tidy(() => void trainStep(m, o, X, Y));
    const pa = await Promise.all(a.parameters().map((p) => p.data()));
    for (const m of [b, c]) {
      const pm = await Promise.all(m.parameters().map((p) => p.data()));
      pm.forEach((d, i) => assertClose(d, pa[i], 0, 0, `param ${i}`));
    }
    for (const t of [a, b, c, optA, optB, optC, X, Y]) t.dispose();
  });
}

misc('zeroGrad drops or zeroes gradients; step skips parameters without one', async () => {
  const p = E.keep(E.tensor([1, 2, 3], { requiresGrad: true }));
  const q = E.keep(E.tensor([5], { requiresGrad: true }));
  const opt = new optim.SGD([p, q], { lr: 0.5 });
  E.tidy(() => E.backward(E.sum(E.square(p))));
  assert.equal([...(await p.grad!.data())], [2, 4, 6]);
  opt.step();
  assert.equal([...(await p.data())], [0, 0, 0]);
  assert.equal([...(await q.data())], [5]);
  opt.zeroGrad(false);
  assert.equal([...(await p.grad!.data())], [0, 0, 0]);
  opt.zeroGrad();
  assert.is(p.grad, null);
  // a broadcast (stride-0) gradient is made dense before the fused kernel
  E.tidy(() => E.backward(E.sum(p)));
  assert.ok(!p.grad!.isContiguous());
  opt.step();
  assert.equal([...(await p.data())], [-0.5, -0.5, -0.5]);
  opt.dispose();
  p.dispose();
  q.dispose();
});

// torch.maximum(max_exp_avg_sq, exp_avg_sq) gives NaN when either is NaN; WGSL's max may return
// the other operand (lavapipe does), so each side is poisoned once here.
misc('Adam amsgrad: a NaN in the second moment or its running max propagates like torch.maximum', async () => {
  const nanAt = async (t: E.Tensor) => [...(await t.data())].map((v) => Number.isNaN(v));
  // a NaN gradient makes the new second moment NaN: the running max must become NaN too
  const p = E.keep(E.tensor([1, 2, 3, 4], { requiresGrad: true }));
  const opt = new optim.Adam([p], { lr: 0.1, amsgrad: true });
  p.grad = E.keep(E.tensor([NaN, 0.5, -1, 2]));
  opt.step();
  await E.tidyAsync(async () => {
    assert.equal(await nanAt(opt.stateDict().state[0].max_exp_avg_sq as E.Tensor), [true, false, false, false], 'max_exp_avg_sq after a NaN gradient');
  });
  // NaN only in loaded state (max at 1, second moment at 2), finite gradient: those steps are NaN
  const q = E.keep(E.tensor([1, 2, 3, 4], { requiresGrad: true }));
  const optQ = new optim.Adam([q], { lr: 0.1, amsgrad: true });
  const host = (data: number[]) => ({ shape: [4], data: Float32Array.from(data) });
  optQ.loadStateDict({
    state: { 0: { step: 1, exp_avg: host([0.1, 0.1, 0.1, 0.1]), exp_avg_sq: host([0.01, 0.01, NaN, 0.01]), max_exp_avg_sq: host([0.01, NaN, 0.01, 0.01]) } },
    param_groups: [{ params: [0] }],
  });
  q.grad = E.keep(E.tensor([0.5, 0.5, 0.5, 0.5]));
  optQ.step();
  assert.equal(await nanAt(q), [false, true, true, false], 'parameters after a step from NaN state');
  await E.tidyAsync(async () => {
    assert.equal(await nanAt(optQ.stateDict().state[0].max_exp_avg_sq as E.Tensor), [false, true, true, false], 'max_exp_avg_sq after a step from NaN state');
  });
  for (const t of [opt, optQ, p, q]) t.dispose();
});

misc('argument errors name the optimizer and the problem', () => {
  const p = E.keep(E.tensor([1, 2], { requiresGrad: true }));
  assert.throws(() => new optim.SGD([p], { lr: 0.1, nesterov: true }), /Nesterov momentum requires a momentum and zero dampening/);
  assert.throws(() => new optim.Adam([p], { betas: [1.0, 0.9] }), /Adam: invalid beta parameter at index 0/);
  assert.throws(() => new optim.AdamW([{ params: [p] }, { params: [p] }]), /more than one parameter group/);
  assert.throws(() => E.tidy(() => new optim.Adam([E.mul(p, 2)])), /non-leaf/);
  assert.throws(() => new optim.Adam([]), /empty parameter list/);
  const opt = new optim.Adam([p]);
  assert.throws(() => opt.loadStateDict({ state: {}, param_groups: [] }), /0 parameter groups, the optimizer 1/);
  assert.throws(() => opt.loadStateDict({ state: {}, param_groups: [{ params: [0, 1] }] }), /group 0 has 2 parameters in the state dict, 1 in the optimizer/);
  opt.dispose();
  p.dispose();
});

// Leaked handles of earlier test files may be garbage-collected at any time, which returns their
// storage (tensor.ts's safety net) and lowers liveBytes/liveStorages; a collected graph node also
// disposes its saved tensors (autograd/tape.ts), counted in collectedTensors. So live tensors plus
// those collected since the first step must be exactly flat, bytes/storages may only drop, and no
// buffer may be allocated after the first step (pool misses flat), which a leak in the step would need.

misc('memory stays flat over 200 MLP training steps inside tidy', async () => {
  const X = E.keep(E.tensor(decode(fx.x), { shape: fx.x.shape }));
  const Y = E.keep(E.tensor(decode(fx.y), { shape: fx.y.shape }));
  const m = makeMlp();
  const opt = new optim.Adam(m.parameters(), { lr: 1e-3, amsgrad: true });
  E.tidy(() => void trainStep(m, opt, X, Y));
  await collectGarbage();
  const first = E.memoryStats();
  let last = 0;
  for (let i = 1; i < 200; i++) {
    const loss = E.tidy(() => E.keep(trainStep(m, opt, X, Y)));
    if (i === 199) last = await loss.item();
    loss.dispose();
    if (i % 50 === 0 || i === 199) {
      const s = E.memoryStats();
      assert.is(s.liveTensors + (s.collectedTensors - first.collectedTensors), first.liveTensors, `live tensors after step ${i + 1}`);
      assert.ok(s.liveBytes <= first.liveBytes, `live bytes after step ${i + 1}: ${s.liveBytes} > ${first.liveBytes}`);
      assert.ok(s.liveStorages <= first.liveStorages, `live storages after step ${i + 1}: ${s.liveStorages} > ${first.liveStorages}`);
      assert.is(s.poolMisses, first.poolMisses, `buffers allocated after the first step (step ${i + 1})`);
    }
  }
  assert.ok(last < fx.runs[0].losses[0], 'the loss went down');
  for (const t of [m, opt, X, Y]) t.dispose();
});
misc.run();
