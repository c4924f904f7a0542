// How a training run compares with the nearest-neighbour baseline on the same features
// (`glass train --baseline knn`): one line a user reads at the end of training, so nobody ships a
// detector weaker than the simplest one without knowing, and the record written beside metrics.json.
import type { Metrics } from './loop.ts';

export interface BaselineComparison {
  baseline: 'knn';
  /** the baseline's metrics, computed as glass test computes a run's */
  knn: Metrics;
  /** the run's best epoch's metrics */
  glass: Metrics;
  /** per metric: GLASS minus the baseline (null where either is missing) */
  delta: Record<'image_auroc' | 'pixel_auroc' | 'pixel_pro', number | null>;
  /** the metrics where GLASS is below the baseline */
  weaker: string[];
  seconds: number;
}

const KEYS = [
  ['image_auroc', 'image AUROC'],
  ['pixel_auroc', 'pixel AUROC'],
  ['pixel_pro', 'PRO'],
] as const;

export function compareWithBaseline(glass: Metrics, knn: Metrics, seconds: number): BaselineComparison {
  const delta = {} as BaselineComparison['delta'];
  const weaker: string[] = [];
  for (const [k, name] of KEYS) {
    const g = glass[k],
      b = knn[k];
    delta[k] = g === null || b === null ? null : g - b;
    if (delta[k] !== null && delta[k]! < 0) weaker.push(name);
  }
  return { baseline: 'knn', knn, glass, delta, weaker, seconds };
}

/** The line printed after training. */
export function baselineLine(className: string, c: BaselineComparison): string {
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(4));
  const parts = KEYS.filter(([k]) => c.glass[k] !== null || c.knn[k] !== null).map(([k, name]) => `${name} ${f(c.glass[k])} vs ${f(c.knn[k])}`);
  if (parts.length === 0) return `${className}: no metrics to compare with the kNN baseline (no anomalous test images)`;
  const verdict = c.weaker.length
    ? `WEAKER than the nearest-neighbour baseline on ${c.weaker.join(', ')}: a plain kNN patch score on the same features beats this model there`
    : 'at least as good as the nearest-neighbour baseline on every metric';
  return `${className}: GLASS (best epoch) vs kNN baseline on the same features: ${parts.join(', ')} | ${verdict} (baseline took ${c.seconds.toFixed(0)} s)`;
}
