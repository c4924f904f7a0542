// engine/optim/lr-scheduler.ts: CosineAnnealingLR sets the rates torch's scheduler gives
// (two groups, past T_max, eta_min 0 and > 0), a scheduler made at lastEpoch k continues an
// uninterrupted one exactly, and bad arguments are errors naming the scheduler.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { loadFixture } from '../../helpers/oracle.ts';

interface Case {
  lrs: number[];
  t_max: number;
  eta_min: number;
  rates: number[][];
}
const fx = loadFixture<{ cases: Case[] }>('nn/lr_scheduler.json');

const t = suite('lr scheduler');
t.before(async () => {
  await E.initDevice();
});

function optimizerWith(lrs: number[]) {
  const params = lrs.map(() => E.keep(E.zeros([1]).requiresGrad_()));
  return { opt: new E.optim.Adam(params.map((p, i) => ({ params: [p], lr: lrs[i] }))), params };
}

for (const [k, c] of fx.cases.entries()) {
  t(`CosineAnnealingLR follows torch: case ${k} (T_max ${c.t_max}, eta_min ${c.eta_min}, ${c.rates.length - 1} steps)`, () => {
    const { opt, params } = optimizerWith(c.lrs);
    const s = new E.optim.CosineAnnealingLR(opt, { tMax: c.t_max, etaMin: c.eta_min });
    c.rates.forEach((want, e) => {
      if (e > 0) s.step();
      const got = s.getLastLr();
      // torch steps a recursive form; the closed form agrees to rounding
      want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) <= 1e-15 + 1e-12 * Math.abs(w), `epoch ${e} group ${i}: ${got[i]} vs torch ${w}`));
      assert.equal(s.stateDict().last_epoch, e);
    });
    opt.dispose();
    params.forEach((p) => p.dispose());
  });
}

t('a scheduler made at lastEpoch k sets the rates of an uninterrupted one (resume)', () => {
  const a = optimizerWith([1e-3]);
  const b = optimizerWith([1e-3]);
  const full = new E.optim.CosineAnnealingLR(a.opt, { tMax: 10 });
  for (let e = 0; e < 4; e++) full.step();
  b.opt.paramGroups[0].lr = 0.5; // a loaded state dict brings the decayed rate of its epoch
  const resumed = new E.optim.CosineAnnealingLR(b.opt, { tMax: 10, lastEpoch: 4, baseLrs: [1e-3] });
  assert.is(b.opt.paramGroups[0].lr, a.opt.paramGroups[0].lr);
  full.step();
  resumed.step();
  assert.is(b.opt.paramGroups[0].lr, a.opt.paramGroups[0].lr);
  assert.ok(a.opt.paramGroups[0].lr < 1e-3, 'the rate fell');
  for (const o of [a, b]) {
    o.opt.dispose();
    o.params.forEach((p) => p.dispose());
  }
});

t('argument errors name the scheduler', () => {
  const { opt, params } = optimizerWith([1e-3]);
  assert.throws(() => new E.optim.CosineAnnealingLR(opt, { tMax: 0 }), /CosineAnnealingLR: tMax must be an integer >= 1, got 0/);
  assert.throws(() => new E.optim.CosineAnnealingLR(opt, { tMax: 3, etaMin: -1 }), /CosineAnnealingLR: etaMin/);
  assert.throws(() => new E.optim.CosineAnnealingLR(opt, { tMax: 3, lastEpoch: 1.5 }), /CosineAnnealingLR: lastEpoch/);
  assert.throws(() => new E.optim.CosineAnnealingLR(opt, { tMax: 3, baseLrs: [1, 2] }), /CosineAnnealingLR: 2 base rates for 1 parameter groups/);
  opt.dispose();
  params.forEach((p) => p.dispose());
});

t.run();
