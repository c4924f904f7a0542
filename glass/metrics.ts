// Evaluation metrics on the CPU with the reference's exact semantics: AUROC and AP as
// scikit-learn 1.2 computes them (roc_auc_score, average_precision_score) and PRO as GLASS's
// metrics.compute_pro computes it. See docs/glass-reference.md, "Metrics".
//
// Everything sorts once (two native typed-array sorts) and is O(n log n); PRO buckets every pixel
// once against its <= 201 thresholds instead of re-thresholding and dilating 200 times.

/** numpy's pairwise summation (add.reduce on a contiguous float64 array), over term(i), i in [start, start+n). */
export function pairwiseSum(term: (i: number) => number, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += term(start + i);
    return res;
  }
  if (n <= 128) {
    const r = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < 8; j++) r[j] = term(start + j);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += term(start + i + j);
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) res += term(start + i);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(term, start, n2) + pairwiseSum(term, start + n2, n - n2);
}

/** np.sum / np.mean of a plain array, bit-for-bit as numpy does it. */
export function npSum(a: ArrayLike<number>): number {
  return pairwiseSum((i) => a[i], 0, a.length);
}

type Sortable = Float32Array | Float64Array;

/**
 * Distinct-threshold cumulative counts, as sklearn's _binary_clf_curve: scores in decreasing
 * order, one point per distinct score value (exact equality groups ties), tps/fps = number of
 * positives/negatives with score >= that value.
 */
export interface ClfCurve {
  tps: Float64Array;
  fps: Float64Array;
  /** the distinct score values, decreasing */
  thresholds: Float64Array;
  positives: number;
  negatives: number;
}

export function binaryClfCurve(labels: ArrayLike<number>, scores: ArrayLike<number>, what = 'binaryClfCurve'): ClfCurve {
  const n = labels.length;
  if (scores.length !== n) {
    throw new Error(`${what}: labels has ${n} entries but scores has ${scores.length}`);
  }
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l === 1) positives++;
    else if (l !== 0) throw new Error(`${what}: labels must be 0 or 1, found ${l} at index ${i}`);
    if (Number.isNaN(scores[i])) throw new Error(`${what}: score at index ${i} is NaN`);
  }
  const negatives = n - positives;
  const Ctor = scores instanceof Float32Array ? Float32Array : Float64Array;
  const pos: Sortable = new Ctor(positives);
  const neg: Sortable = new Ctor(negatives);
  for (let i = 0, a = 0, b = 0; i < n; i++) {
    if (labels[i] === 1) pos[a++] = scores[i];
    else neg[b++] = scores[i];
  }
  pos.sort();
  neg.sort();
  // First pass counts distinct values so the outputs are allocated once.
  let distinct = 0;
  {
    let i = pos.length - 1,
      j = neg.length - 1;
    while (i >= 0 || j >= 0) {
      const v = i < 0 ? neg[j] : j < 0 ? pos[i] : Math.max(pos[i], neg[j]);
      while (i >= 0 && pos[i] === v) i--;
      while (j >= 0 && neg[j] === v) j--;
      distinct++;
    }
  }
  const tps = new Float64Array(distinct),
    fps = new Float64Array(distinct),
    thresholds = new Float64Array(distinct);
  let i = pos.length - 1,
    j = neg.length - 1,
    tp = 0,
    fp = 0,
    k = 0;
  while (i >= 0 || j >= 0) {
    const v = i < 0 ? neg[j] : j < 0 ? pos[i] : Math.max(pos[i], neg[j]);
    while (i >= 0 && pos[i] === v) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === v) {
      fp++;
      j--;
    }
    tps[k] = tp;
    fps[k] = fp;
    thresholds[k] = v;
    k++;
  }
  return { tps, fps, thresholds, positives, negatives };
}

/** sklearn.metrics.auc on a monotone curve: direction from the x differences, then np.trapz. */
function sklearnAuc(x: (i: number) => number, y: (i: number) => number, n: number, what: string): number {
  if (n < 2) throw new Error(`${what}: at least 2 points are needed to compute the area under a curve, got ${n}`);
  let anyNeg = false,
    allNonPos = true;
  for (let i = 0; i + 1 < n; i++) {
    const d = x(i + 1) - x(i);
    if (d < 0) anyNeg = true;
    if (d > 0) allNonPos = false;
  }
  let direction = 1;
  if (anyNeg) {
    if (allNonPos) direction = -1;
    else throw new Error(`${what}: x is neither increasing nor decreasing, the area is undefined`);
  }
  // np.trapz: add.reduce(d * (y[1:] + y[:-1]) / 2.0)
  const area = pairwiseSum((i) => ((x(i + 1) - x(i)) * (y(i + 1) + y(i))) / 2.0, 0, n - 1);
  return direction * area;
}

/**
 * sklearn.metrics.roc_auc_score for binary labels (0/1), including roc_curve's
 * drop_intermediate=True point pruning and the trapezoid sum order, so results match to the bit
 * in all but pathological cases.
 */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const c = binaryClfCurve(labels, scores, 'rocAuc');
  if (c.positives === 0 || c.negatives === 0) {
    throw new Error(`rocAuc: only one class present in labels (${c.positives} positives, ${c.negatives} negatives); ROC AUC is undefined`);
  }
  const m = c.tps.length;
  // Kept indices: the ends and every point where the second difference of fps or tps is nonzero.
  let keep: Uint32Array;
  if (m > 2) {
    const tmp = new Uint32Array(m);
    let q = 0;
    tmp[q++] = 0;
    for (let k = 0; k + 2 < m; k++) {
      const d2f = c.fps[k + 2] - 2 * c.fps[k + 1] + c.fps[k];
      const d2t = c.tps[k + 2] - 2 * c.tps[k + 1] + c.tps[k];
      if (d2f !== 0 || d2t !== 0) tmp[q++] = k + 1;
    }
    tmp[q++] = m - 1;
    keep = tmp.subarray(0, q);
  } else {
    keep = Uint32Array.from({ length: m }, (_, k) => k);
  }
  // Curve with the (0, 0) point prepended.
  const fpTot = c.fps[m - 1],
    tpTot = c.tps[m - 1];
  const fpr = (i: number) => (i === 0 ? 0 : c.fps[keep[i - 1]]) / fpTot;
  const tpr = (i: number) => (i === 0 ? 0 : c.tps[keep[i - 1]]) / tpTot;
  return sklearnAuc(fpr, tpr, keep.length + 1, 'rocAuc');
}

/** sklearn.metrics.average_precision_score for binary labels (0/1), same summation order. */
export function averagePrecision(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const c = binaryClfCurve(labels, scores, 'averagePrecision');
  if (c.positives === 0) {
    throw new Error('averagePrecision: no positive labels; average precision is undefined');
  }
  const m = c.tps.length;
  const tpTot = c.tps[m - 1];
  // precision_recall_curve stops at the first threshold reaching full recall, then reverses.
  let last = 0;
  while (c.tps[last] !== tpTot) last++;
  const precision = (i: number) => c.tps[i] / (c.tps[i] + c.fps[i]);
  const recall = (i: number) => c.tps[i] / tpTot;
  const pr = (k: number) => (k <= last ? precision(last - k) : 1);
  const rc = (k: number) => (k <= last ? recall(last - k) : 0);
  return -pairwiseSum((k) => (rc(k + 1) - rc(k)) * pr(k), 0, last + 1);
}

/**
 * Connected components of equal nonzero values with 8-connectivity (skimage.measure.label with
 * its defaults: background 0, connectivity = ndim). Labels start at 1 and follow the raster order
 * of each component's first pixel, as skimage numbers them. Returns the label image and count.
 */
export function labelComponents(mask: ArrayLike<number>, height: number, width: number, offset = 0): { labels: Int32Array; count: number } {
  const n = height * width;
  const labels = new Int32Array(n);
  const stack = new Int32Array(n);
  let count = 0;
  for (let p = 0; p < n; p++) {
    const v = mask[offset + p];
    if (v === 0 || labels[p] !== 0) continue;
    count++;
    labels[p] = count;
    let top = 0;
    stack[top++] = p;
    while (top > 0) {
      const q = stack[--top];
      const y = (q / width) | 0,
        x = q - y * width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const r = yy * width + xx;
          if (labels[r] === 0 && mask[offset + r] === v) {
            labels[r] = count;
            stack[top++] = r;
          }
        }
      }
    }
  }
  return { labels, count };
}

/** Max over a size x size window clipped at the borders (cv2.dilate with a rect kernel). */
export function windowMax(src: Float32Array, height: number, width: number, size = 5, offset = 0): Float32Array {
  const r = size >> 1;
  const rows = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let m = -Infinity;
      const x0 = Math.max(0, x - r),
        x1 = Math.min(width - 1, x + r);
      for (let xx = x0; xx <= x1; xx++) m = Math.max(m, src[offset + y * width + xx]);
      rows[y * width + x] = m;
    }
  }
  const out = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    const y0 = Math.max(0, y - r),
      y1 = Math.min(height - 1, y + r);
    for (let x = 0; x < width; x++) {
      let m = -Infinity;
      for (let yy = y0; yy <= y1; yy++) m = Math.max(m, rows[yy * width + x]);
      out[y * width + x] = m;
    }
  }
  return out;
}

/**
 * The threshold list of compute_pro, as numpy produces it: np.arange(min, max, (max - min) / n)
 * with float32 min/max. numpy subtracts the float32 scalars in float32, divides by n in float64,
 * sizes the range as ceil(range / step) (so 200 or 201 entries) and fills start + i * (step')
 * with step' = (start + step) - start. The comparisons `amaps > th` then happen in float32
 * (numpy 1.x value-based casting), so `compare` holds the thresholds rounded to float32.
 */
export function proThresholds(minTh: number, maxTh: number, numTh = 200): { values: Float64Array; compare: Float32Array } {
  const range = Math.fround(maxTh - minTh);
  const step = range / numTh;
  if (!(step > 0)) throw new Error(`proThresholds: anomaly maps are constant (min ${minTh} = max ${maxTh}); np.arange would fail`);
  const count = Math.ceil(range / step);
  const d = minTh + step - minTh;
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) values[i] = minTh + i * d;
  return { values, compare: Float32Array.from(values) };
}

/** Number of entries of the ascending `sorted` strictly below v. */
function countBelow(sorted: Float32Array, v: number): number {
  let lo = 0,
    hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface ProOptions {
  /** num_th of compute_pro (200) */
  numThresholds?: number;
  /** rows with fpr below this are kept (0.3) */
  fprLimit?: number;
  /** side of the square dilation kernel applied before the per-region overlap (5) */
  dilation?: number;
}

export interface ProCurve {
  thresholds: Float64Array;
  pro: Float64Array;
  fpr: Float64Array;
}

/**
 * The per-threshold (pro, fpr) rows of GLASS compute_pro before the fpr < 0.3 filter.
 * masks: count x height x width of values in [0, 1]; amaps: the same shape, float32 anomaly maps.
 * A soft mask (the reference's bilinear-resized ground truth) is read as compute_pro reads it:
 * regions are the pixels equal to 1 (skimage's label casts to int), a false positive is a pixel
 * below 1 over the threshold, and the FPR divides by sum(1 - mask) (float64, numpy's pairwise
 * order), so fractional pixels count fractionally there. For 0/1 masks both are plain counts.
 */
export function proCurve(masks: ArrayLike<number>, amaps: Float32Array, count: number, height: number, width: number, opts: ProOptions = {}): ProCurve {
  const hw = height * width,
    n = count * hw;
  if (masks.length !== n || amaps.length !== n) {
    throw new Error(`proCurve: expected ${count}x${height}x${width} = ${n} entries, got masks ${masks.length}, amaps ${amaps.length}`);
  }
  let minTh = Infinity,
    maxTh = -Infinity;
  for (let i = 0; i < n; i++) {
    const m = masks[i];
    if (!(m >= 0 && m <= 1)) throw new Error(`proCurve: mask values must be in [0, 1], found ${m} at index ${i}`);
    const v = amaps[i];
    if (Number.isNaN(v)) throw new Error(`proCurve: anomaly map value at index ${i} is NaN`);
    if (v < minTh) minTh = v;
    if (v > maxTh) maxTh = v;
  }
  const th = proThresholds(minTh, maxTh, opts.numThresholds ?? 200);
  const T = th.values.length;
  // A pixel with value v is 1 in binary_amaps at threshold i iff v > compare[i], i.e. i < bucket(v).
  const negHist = new Float64Array(T + 1);
  const negatives = pairwiseSum((i) => 1 - masks[i], 0, n);
  const regions = Uint8Array.from({ length: n }, (_, i) => (masks[i] === 1 ? 1 : 0));
  const regionHists: Float64Array[] = [];
  const regionAreas: number[] = [];
  for (let img = 0; img < count; img++) {
    const off = img * hw;
    for (let p = 0; p < hw; p++) {
      if (masks[off + p] < 1) negHist[countBelow(th.compare, amaps[off + p])]++;
    }
    const wm = windowMax(amaps, height, width, opts.dilation ?? 5, off);
    const { labels, count: nReg } = labelComponents(regions, height, width, off);
    const base = regionHists.length;
    for (let r = 0; r < nReg; r++) {
      regionHists.push(new Float64Array(T + 1));
      regionAreas.push(0);
    }
    for (let p = 0; p < hw; p++) {
      const l = labels[p];
      if (l === 0) continue;
      regionHists[base + l - 1][countBelow(th.compare, wm[p])]++;
      regionAreas[base + l - 1]++;
    }
  }
  // Suffix sums turn "bucket" histograms into counts of pixels on at threshold i.
  const suffix = (h: Float64Array) => {
    const out = new Float64Array(T);
    let acc = h[T];
    for (let i = T - 1; i >= 0; i--) {
      out[i] = acc;
      acc += h[i];
    }
    return out;
  };
  const fpOn = suffix(negHist);
  const tpOn = regionHists.map(suffix);
  const R = regionAreas.length;
  const pro = new Float64Array(T),
    fpr = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    pro[i] = pairwiseSum((r) => tpOn[r][i] / regionAreas[r], 0, R) / R;
    fpr[i] = fpOn[i] / negatives;
  }
  return { thresholds: th.values, pro, fpr };
}

/**
 * GLASS metrics.compute_pro: PRO (per-region overlap) integrated over normalised fpr in [0, 0.3).
 * Throws where the reference raises (constant maps, fewer than 2 rows under the fpr limit);
 * GLASS._evaluate turns any such exception into pixel_pro = 0.
 */
export function computePro(masks: ArrayLike<number>, amaps: Float32Array, count: number, height: number, width: number, opts: ProOptions = {}): number {
  const c = proCurve(masks, amaps, count, height, width, opts);
  const limit = opts.fprLimit ?? 0.3;
  const keptPro: number[] = [],
    keptFpr: number[] = [];
  for (let i = 0; i < c.fpr.length; i++) {
    if (c.fpr[i] < limit) {
      keptFpr.push(c.fpr[i]);
      keptPro.push(c.pro[i]);
    }
  }
  let lo = Infinity,
    hi = -Infinity;
  for (const f of keptFpr) {
    lo = Math.min(lo, f);
    hi = Math.max(hi, f);
  }
  const denom = hi - lo + 1e-10;
  const x = keptFpr.map((f) => (f - lo) / denom);
  return sklearnAuc(
    (i) => x[i],
    (i) => keptPro[i],
    x.length,
    'computePro',
  );
}

/**
 * Min-max normalisation of GLASS._evaluate (commit 23e2e2ce; the other stored version skips
 * it): (x - min) / (max - min + 1e-10) with numpy 1.x float32 semantics.
 */
export function minMaxNormalizeF32(x: Float32Array): Float32Array {
  let lo = Infinity,
    hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    lo = Math.min(lo, x[i]);
    hi = Math.max(hi, x[i]);
  }
  const denom = Math.fround(Math.fround(hi - lo) + 1e-10);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.fround(x[i] - lo) / denom;
  return out;
}

/** Ground-truth masks as GLASS feeds them to sklearn: mask.astype(int) truncates, so only 1.0 counts. */
export function truncateMask(mask: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = Math.trunc(mask[i]) >= 1 ? 1 : 0;
  return out;
}
