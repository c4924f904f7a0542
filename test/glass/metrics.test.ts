// glass/metrics.ts against scikit-learn 1.2 (AUROC, AP) and the transcribed GLASS compute_pro
// (fixtures from test/fixtures/gen/metrics.py).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  averagePrecision,
  computePro,
  labelComponents,
  minMaxNormalizeF32,
  npSum,
  pairwiseSum,
  proCurve,
  proThresholds,
  rocAuc,
  truncateMask,
} from '../../glass/metrics.ts';
import { f32, f64, loadFixture, u8, worstRatio, type Encoded } from './fixture.ts';

interface AucCase {
  name: string;
  labels: Encoded;
  scores: Encoded;
  auroc: number;
  ap: number;
}
interface ProCase {
  name: string;
  masks: Encoded;
  amaps: Encoded;
  pro: number;
  curve: { thresholds: number[]; pro: number[]; fpr: number[] };
}

const scoresOf = (e: Encoded) => (e.dtype === 'f32' ? f32(e) : f64(e));

const auc = suite('metrics: AUROC / AP vs sklearn');
const aucCases = loadFixture<{ cases: AucCase[] }>('metrics/auroc_ap.json').cases;

auc('fixture has the expected cases', () => {
  assert.equal(
    aucCases.map((c) => c.name),
    ['random_f64', 'ties_6_levels', 'ties_2_levels', 'all_tied', 'two_points', 'inverted', 'pixels_f32'],
  );
});

for (const c of aucCases) {
  auc(`${c.name}: auroc and ap to 1e-15`, () => {
    const labels = u8(c.labels),
      scores = scoresOf(c.scores);
    const a = rocAuc(labels, scores),
      p = averagePrecision(labels, scores);
    assert.ok(Math.abs(a - c.auroc) <= 1e-15, `auroc ${a} vs sklearn ${c.auroc}`);
    assert.ok(Math.abs(p - c.ap) <= 1e-15, `ap ${p} vs sklearn ${c.ap}`);
  });
}

auc('ties are grouped, not ordered: permuting tied samples changes nothing', () => {
  const labels = [1, 0, 1, 0, 0, 1];
  const scores = [0.5, 0.5, 0.2, 0.2, 0.9, 0.9];
  const perm = [5, 4, 3, 2, 1, 0];
  assert.is(
    rocAuc(labels, scores),
    rocAuc(
      perm.map((i) => labels[i]),
      perm.map((i) => scores[i]),
    ),
  );
  // hand value: positive/negative pairs (0.5,0.5) (0.5,0.2)... = (0.5 + 1 + 0 ) ... computed exactly
  // P=3 N=3: pos {0.5,0.2,0.9} vs neg {0.5,0.2,0.9}: wins 3, ties 3 -> (3 + 1.5) / 9
  assert.ok(Math.abs(rocAuc(labels, scores) - 4.5 / 9) < 1e-15);
});

auc('one class present throws with a reason', () => {
  assert.throws(() => rocAuc([1, 1, 1], [0.1, 0.2, 0.3]), /only one class/);
  assert.throws(() => averagePrecision([0, 0], [0.1, 0.2]), /no positive/);
  assert.throws(() => rocAuc([0, 2], [0.1, 0.2]), /must be 0 or 1/);
  assert.throws(() => rocAuc([0, 1], [0.1, NaN]), /NaN/);
});

auc('pairwise sum matches numpy summation order on a case where order matters', () => {
  // 1e16 + 1 + 1 ... : sequential summation loses the ones, pairwise keeps some
  const a = new Float64Array(200).fill(1);
  a[0] = 1e16;
  const seq = Array.from(a).reduce((s, v) => s + v, 0);
  const pw = npSum(a);
  assert.is(seq, 1e16);
  assert.ok(pw > 1e16, `pairwise ${pw}`);
  assert.is(
    pairwiseSum((i) => i, 0, 1000),
    499500,
  );
});

auc('a million pixels in well under two seconds', () => {
  const n = 1_000_000;
  const labels = new Uint8Array(n),
    scores = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    labels[i] = s % 10 === 0 ? 1 : 0;
    scores[i] = ((s >>> 8) % 1000) / 1000 + labels[i] * 0.3;
  }
  const t0 = performance.now();
  const a = rocAuc(labels, scores);
  const p = averagePrecision(labels, scores);
  const ms = performance.now() - t0;
  assert.ok(a > 0.6 && a < 1 && p > 0.1 && p < 1, `auroc ${a} ap ${p}`);
  assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
});

const pro = suite('metrics: PRO vs transcribed GLASS compute_pro');
const proCases = loadFixture<{ cases: ProCase[] }>('metrics/pro.json').cases;

for (const c of proCases) {
  const [count, h, w] = c.masks.shape;
  pro(`${c.name}: per-threshold curve matches exactly`, () => {
    const cur = proCurve(u8(c.masks), f32(c.amaps), count, h, w);
    assert.is(cur.thresholds.length, c.curve.thresholds.length, 'number of thresholds');
    assert.equal(Array.from(cur.thresholds), c.curve.thresholds);
    assert.equal(Array.from(cur.fpr), c.curve.fpr);
    assert.equal(Array.from(cur.pro), c.curve.pro);
  });
  pro(`${c.name}: PRO to 1e-15`, () => {
    const v = computePro(u8(c.masks), f32(c.amaps), count, h, w);
    assert.ok(Math.abs(v - c.pro) <= 1e-15, `pro ${v} vs reference ${c.pro}`);
  });
}

pro('the 201-threshold case really has 201 thresholds', () => {
  const c = proCases.find((x) => x.name === 'arange_201')!;
  const a = f32(c.amaps);
  let lo = Infinity,
    hi = -Infinity;
  for (const v of a) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  assert.is(proThresholds(lo, hi).values.length, 201);
});

pro('8-connected labelling numbers regions in raster order of their first pixel', () => {
  const m = [0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0];
  const { labels, count } = labelComponents(m, 4, 4);
  assert.is(count, 3);
  assert.equal(Array.from(labels), [0, 1, 0, 0, 1, 0, 0, 2, 0, 0, 2, 2, 3, 0, 0, 0]);
});

pro('errors where the reference raises', () => {
  assert.throws(() => computePro(new Uint8Array(4), new Float32Array(4).fill(0.5), 1, 2, 2), /constant/);
  assert.throws(() => computePro(new Uint8Array(3), new Float32Array(4), 1, 2, 2), /expected 1x2x2/);
});

const misc = suite('metrics: helpers');

misc('minMaxNormalizeF32 and truncateMask follow numpy float32 / astype(int)', () => {
  // values printed by numpy 1.24 for (s - s.min()) / (s.max() - s.min() + 1e-10), s float32
  assert.equal(Array.from(minMaxNormalizeF32(Float32Array.from([2, 3, 4.5]))), [0, 0.4000000059604645, 1]);
  assert.equal(Array.from(minMaxNormalizeF32(Float32Array.from([0.1, 0.7, 0.30000001]))), [0, 1, 0.3333333730697632]);
  assert.equal(Array.from(truncateMask([0, 0.5, 0.999, 1])), [0, 0, 0, 1]);
});

auc.run();
pro.run();
misc.run();
