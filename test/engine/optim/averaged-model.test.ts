// engine/optim/averaged-model.ts: AveragedModel's averages match torch.optim.swa_utils.AveragedModel
// (use_buffers=True; EMA and SWA) step for step when fed the same live values; swap() exchanges
// live and averaged values and a second swap restores them; a state dict round-trips; integer
// buffers are copied; bad arguments are errors naming the class; no tensor leaks per update.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { assertClose, decode, loadFixture, type SpecTensor } from '../../helpers/oracle.ts';

interface Step {
  live: Record<string, SpecTensor>;
  ema: Record<string, SpecTensor>;
  swa: Record<string, SpecTensor>;
}
const fx = loadFixture<{ decay: number; steps: Step[] }>('nn/averaged_model.json');

const t = suite('AveragedModel');
t.before(async () => {
  await E.initDevice();
});

const makeModel = () => new E.nn.Sequential(new E.nn.Linear(4, 3), new E.nn.BatchNorm1d(3));
const host = (s: SpecTensor) => ({ shape: s.shape, data: decode(s) });

/** Loads a fixture's float entries into the model (num_batches_tracked is not in the fixture). */
function setLive(m: E.nn.Module, live: Record<string, SpecTensor>) {
  const r = m.loadStateDict(Object.fromEntries(Object.entries(live).map(([k, v]) => [k, host(v)])), { strict: false });
  assert.equal(r.unexpectedKeys, []);
}

async function assertAverages(avg: E.optim.AveragedModel, want: Record<string, SpecTensor>, label: string) {
  const sd = avg.stateDict();
  try {
    for (const [k, v] of Object.entries(want)) assertClose(await sd.averages[`0.${k}`].data(), decode(v), 1e-6, 1e-5, `${label} ${k}`);
  } finally {
    Object.values(sd.averages).forEach((x) => x.dispose());
  }
}

for (const kind of ['ema', 'swa'] as const) {
  t(`${kind}: the averages follow torch's AveragedModel over ${fx.steps.length} updates`, async () => {
    const m = makeModel();
    const avg = new E.optim.AveragedModel(m, kind === 'ema' ? { decay: fx.decay } : {});
    for (const [i, s] of fx.steps.entries()) {
      setLive(m, s.live);
      avg.updateParameters();
      await assertAverages(avg, s[kind], `update ${i + 1}`);
    }
    assert.is(avg.nAveraged, fx.steps.length);
    avg.dispose();
    m.dispose();
  });
}

t('swap exchanges live and averaged values; a second swap restores both', async () => {
  const m = makeModel();
  const avg = new E.optim.AveragedModel(m, { decay: fx.decay });
  for (const s of fx.steps) (setLive(m, s.live), avg.updateParameters());
  const last = fx.steps[fx.steps.length - 1];
  avg.swap();
  for (const [k, v] of Object.entries(last.ema)) assertClose(await m.stateDict()[k].data(), decode(v), 1e-6, 1e-5, `swapped in ${k}`);
  await assertAverages(avg, last.live, 'held while swapped');
  avg.swap();
  for (const [k, v] of Object.entries(last.live)) assertClose(await m.stateDict()[k].data(), decode(v), 0, 0, `swapped back ${k}`);
  await assertAverages(avg, last.ema, 'averages after swapping back');
  avg.dispose();
  m.dispose();
});

t('a state dict round-trips into a fresh AveragedModel, which continues identically', async () => {
  const [a, b] = [makeModel(), makeModel()];
  const avgA = new E.optim.AveragedModel(a, { decay: fx.decay });
  const half = 3;
  for (const s of fx.steps.slice(0, half)) (setLive(a, s.live), avgA.updateParameters());
  const sd = avgA.stateDict();
  const avgB = new E.optim.AveragedModel(b, { decay: fx.decay });
  avgB.loadStateDict({
    n_averaged: sd.n_averaged,
    averages: Object.fromEntries(await Promise.all(Object.entries(sd.averages).map(async ([k, v]) => [k, { shape: v.shape, data: await v.data() }]))),
  });
  Object.values(sd.averages).forEach((x) => x.dispose());
  assert.is(avgB.nAveraged, half);
  for (const s of fx.steps.slice(half)) (setLive(b, s.live), avgB.updateParameters());
  await assertAverages(avgB, fx.steps[fx.steps.length - 1].ema, 'resumed');
  for (const x of [avgA, avgB, a, b]) x.dispose();
});

t('integer buffers are copied, not averaged', async () => {
  const m = makeModel();
  const avg = new E.optim.AveragedModel(m, { decay: 0.5 });
  const bn = m.child('1') as E.nn.BatchNorm1d;
  E.noGrad(() => E.tidy(() => void bn.forward(E.randn([6, 3]))));
  avg.updateParameters();
  E.noGrad(() => E.tidy(() => void bn.forward(E.randn([6, 3]))));
  avg.updateParameters();
  const sd = avg.stateDict();
  assert.equal([...(await sd.averages['0.1.num_batches_tracked'].data())], [2]);
  Object.values(sd.averages).forEach((x) => x.dispose());
  avg.dispose();
  m.dispose();
});

t('bad arguments are errors naming AveragedModel', () => {
  const m = makeModel();
  assert.throws(() => new E.optim.AveragedModel(m, { decay: 1 }), /AveragedModel: decay must be in \[0, 1\), got 1/);
  assert.throws(() => new E.optim.AveragedModel([]), /AveragedModel: got no modules/);
  const avg = new E.optim.AveragedModel(m);
  assert.throws(() => avg.loadStateDict({ n_averaged: 0, averages: {} }), /AveragedModel.loadStateDict: missing 0\.0\.weight/);
  avg.dispose();
  m.dispose();
});

t('an update or a swap leaves no tensor behind', async () => {
  const m = makeModel();
  const avg = new E.optim.AveragedModel(m, { decay: fx.decay });
  avg.updateParameters();
  const first = E.memoryStats();
  for (let i = 0; i < 5; i++) (avg.updateParameters(), avg.swap());
  const s = E.memoryStats();
  assert.is(s.liveTensors + (s.collectedTensors - first.collectedTensors), first.liveTensors);
  avg.dispose();
  m.dispose();
});

t.run();
