// Decision thresholds: the quantile rule uses only good images (scores, map maxima, map median),
// and best-F1 picks the score with the best F1. Expected values follow from numpy's linear
// quantile written out by hand for two or three points.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { goodImageThreshold, bestF1Threshold, quantileLinear } from '../../glass/threshold.ts';
import type { Prediction } from '../../glass/trainer.ts';

const t = suite('thresholds');

function prediction(scores: number[], labels: number[], maps: number[][]): Prediction {
  return {
    scores: Float32Array.from(scores),
    labels: Uint8Array.from(labels),
    maps: Float32Array.from(maps.flat()),
    masks: new Float32Array(maps.flat().length),
    paths: scores.map((_, i) => `${i}.png`),
    images: [],
    size: [2, 2],
  };
}

t('quantile rule on good images only', () => {
  const p = prediction(
    [0.2, 0.9, 0.4, 0.3],
    [0, 1, 0, 0],
    [
      [0.1, 0.2, 0.1, 0.15],
      [0.9, 0.9, 0.9, 0.9],
      [0.1, 0.35, 0.2, 0.12],
      [0.3, 0.1, 0.1, 0.1],
    ],
  );
  const th = goodImageThreshold(p)!;
  // good scores sorted 0.2 0.3 0.4: position 0.99 * 2 = 1.98 -> 0.3 + 0.98 * 0.1
  assert.ok(Math.abs(th.image - (0.3 + 0.98 * 0.1)) < 1e-6, `${th.image}`);
  // good map maxima 0.2 0.35 0.3 -> sorted 0.2 0.3 0.35
  assert.ok(Math.abs(th.pixel - (0.3 + 0.98 * 0.05)) < 1e-6, `${th.pixel}`);
  // median of the 12 good map values: halfway between the 6th and 7th sorted (0.1 x6, 0.12, 0.15, ...)
  assert.ok(Math.abs(th.pixelNormal! - 0.11) < 1e-6, `${th.pixelNormal}`);
  assert.is(th.images, 3);
  assert.is(goodImageThreshold(prediction([0.5], [1], [[0, 0, 0, 0]])), null, 'no good images, no threshold');
});

t('quantileLinear checks its input', () => {
  assert.throws(() => quantileLinear([], 0.5), /no values/);
  assert.throws(() => quantileLinear([1], 1.5), /q must be in/);
  assert.is(quantileLinear([3, 1, 2], 0), 1);
  assert.is(quantileLinear([3, 1, 2], 1), 3);
});

t('best F1 threshold', () => {
  // descending: 0.9 (1) 0.8 (1) 0.4 (0) 0.35 (1) 0.1 (0); F1 at >= 0.35 is 2*3 / (2*3 + 1 + 0)
  const r = bestF1Threshold([0, 0, 1, 1, 1], [0.1, 0.4, 0.35, 0.8, 0.9]);
  assert.is(r.threshold, 0.35);
  assert.ok(Math.abs(r.f1 - 6 / 7) < 1e-12);
});

t.run();
