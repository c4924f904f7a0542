// Decision thresholds for a trained detector. GLASS itself reports only threshold-free metrics
// (AUROC, AP, PRO); a user who scores new images needs a yes/no. Two rules:
//  - goodImageThreshold: from good images the model did not train on (the held-out part of a folder
//    of good images, or the good images of a labelled test split). It needs no anomalies, so it works
//    for the user who has only good parts. Image threshold = the q-quantile (numpy's linear rule,
//    q = 0.99) of their image scores; pixel threshold = the same quantile of their maps' maxima, so a
//    good image at the quantile gets an empty mask. With n < 100 held-out images the quantile is
//    close to their maximum: about 1 / (n + 1) of new good images will score above it.
//  - bestF1Threshold: the score with the best F1 on labelled images (predict --val).
import type { Prediction } from './loop.ts';
import { Rng } from '../data/rng.ts';

export const THRESHOLD_QUANTILE = 0.99;

export interface Threshold {
  /** image score at or above which an image is anomalous */
  image: number;
  /** anomaly-map value at or above which a pixel is anomalous */
  pixel: number;
  /** the median map value of those good images: where a heatmap's colour scale starts */
  pixelNormal?: number;
  /** how it was chosen, in words */
  rule: string;
  /** number of images it was chosen on */
  images: number;
}

/** numpy.quantile(values, q) with the default 'linear' method. */
export function quantileLinear(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new Error('quantileLinear: no values');
  if (!(q >= 0 && q <= 1)) throw new Error(`quantileLinear: q must be in [0, 1], got ${q}`);
  const v = Float64Array.from(values).sort();
  const pos = q * (v.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, v.length - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

/** The quantile rule on the good (label 0) images of a prediction; null when it has none. */
export function goodImageThreshold(pred: Prediction, q = THRESHOLD_QUANTILE): Threshold | null {
  const [h, w] = pred.size;
  const scores: number[] = [];
  const maxima: number[] = [];
  const good = Array.from(pred.labels).filter((l) => l === 0).length;
  const values = new Float32Array(good * h * w);
  pred.labels.forEach((label, i) => {
    if (label !== 0) return;
    scores.push(pred.scores[i]);
    let m = -Infinity;
    const map = pred.maps.subarray(i * h * w, (i + 1) * h * w);
    for (const v of map) if (v > m) m = v;
    values.set(map, maxima.length * h * w);
    maxima.push(m);
  });
  if (!scores.length) return null;
  return {
    image: quantileLinear(scores, q),
    pixel: quantileLinear(maxima, q),
    pixelNormal: quantileLinear(values, 0.5),
    rule: `${q} quantile (linear) of ${scores.length} held-out good images' scores; pixel: of their map maxima`,
    images: scores.length,
  };
}

/** Threshold with the best F1 on labelled scores. */
export function bestF1Threshold(labels: ArrayLike<number>, scores: ArrayLike<number>): { threshold: number; f1: number } {
  const idx = Array.from(scores, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const P = Array.from(labels).reduce((a, b) => a + b, 0);
  let tp = 0;
  let fp = 0;
  let best = { threshold: Infinity, f1: 0 };
  for (let k = 0; k < idx.length; k++) {
    if (labels[idx[k]]) tp++;
    else fp++;
    if (k + 1 < idx.length && scores[idx[k + 1]] === scores[idx[k]]) continue;
    const f1 = (2 * tp) / (2 * tp + fp + (P - tp));
    if (f1 > best.f1) best = { threshold: scores[idx[k]], f1 };
  }
  return best;
}

/** Fraction of a folder of good images held out to set the threshold (at least 2 images). */
export const HOLDOUT_FRACTION = 0.1;

/** Splits good images into training and held-out ones (seeded, reproducible; the CLI and the web app). */
export function holdOutSplit<T>(items: readonly T[], seed: number): { train: T[]; heldOut: T[] } {
  if (items.length < 4) throw new Error(`${items.length} image(s): training on a folder of good images needs at least 4 (2 are held out to set the threshold)`);
  const k = Math.max(2, Math.round(items.length * HOLDOUT_FRACTION));
  const order = new Rng(seed).fork(7).permutation(items.length);
  const held = new Set(order.slice(0, k));
  return { train: items.filter((_, i) => !held.has(i)), heldOut: items.filter((_, i) => held.has(i)) };
}
