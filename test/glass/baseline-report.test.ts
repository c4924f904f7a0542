// glass/baseline-report.ts: the comparison `glass train --baseline knn` prints and records. A run
// below the baseline on any metric is called weaker, naming the metrics; equal or above is not.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { baselineLine, compareWithBaseline } from '../../glass/baseline-report.ts';
import type { Metrics } from '../../glass/loop.ts';

const t = suite('glass baseline report');
const m = (image: number | null, pixel: number | null, pro: number | null): Metrics => ({
  image_auroc: image,
  image_ap: null,
  pixel_auroc: pixel,
  pixel_ap: null,
  pixel_pro: pro,
});

t('weaker on the metrics where GLASS is below, with the differences', () => {
  const c = compareWithBaseline(m(0.62, 0.77, 0.55), m(0.66, 0.88, 0.5), 12.3);
  assert.equal(c.weaker, ['image AUROC', 'pixel AUROC']);
  assert.ok(Math.abs(c.delta.image_auroc! + 0.04) < 1e-12 && Math.abs(c.delta.pixel_pro! - 0.05) < 1e-12);
  const line = baselineLine('pcb', c);
  assert.match(
    line,
    /^pcb: GLASS \(best epoch\) vs kNN baseline on the same features: image AUROC 0\.6200 vs 0\.6600, pixel AUROC 0\.7700 vs 0\.8800, PRO 0\.5500 vs 0\.5000/,
  );
  assert.match(line, /WEAKER than the nearest-neighbour baseline on image AUROC, pixel AUROC/);
  assert.match(line, /baseline took 12 s/);
});

t('at least as good: no warning; missing metrics are left out of the verdict', () => {
  const c = compareWithBaseline(m(0.99, null, null), m(0.99, null, null), 1);
  assert.equal(c.weaker, []);
  assert.is(c.delta.pixel_auroc, null);
  assert.match(baselineLine('bottle', c), /image AUROC 0\.9900 vs 0\.9900 \| at least as good/);
  assert.match(baselineLine('own', compareWithBaseline(m(null, null, null), m(null, null, null), 1)), /no metrics to compare/);
});

t.run();
