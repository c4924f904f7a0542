// CPU reference of GLASS's segmentation post-processing (common.RescaleSegmentor): bilinear
// upsampling of the patch-score grid as torch F.interpolate(mode='bilinear', align_corners=False)
// does it, then scipy.ndimage.gaussian_filter(sigma=4) with its defaults (mode 'reflect',
// truncate 4.0). Float32 rounding follows the originals step by step so GPU ports can be
// checked against this file. See docs/glass-reference.md, "Inference".

import { pairwiseSum } from './metrics.ts';

/**
 * scipy.ndimage._gaussian_kernel1d(sigma, 0, radius) with radius = int(truncate * sigma + 0.5):
 * exp(-0.5 / sigma^2 * x^2) over x in [-radius, radius], divided by its numpy (pairwise) sum.
 */
export function gaussianKernel1d(sigma: number, truncate = 4.0): Float64Array {
  if (!(sigma > 0)) throw new Error(`gaussianKernel1d: sigma must be > 0, got ${sigma}`);
  const radius = Math.trunc(truncate * sigma + 0.5);
  const k = new Float64Array(2 * radius + 1);
  const c = -0.5 / (sigma * sigma);
  for (let i = 0; i < k.length; i++) {
    const x = i - radius;
    k[i] = Math.exp(c * (x * x));
  }
  const s = pairwiseSum((i) => k[i], 0, k.length);
  for (let i = 0; i < k.length; i++) k[i] /= s;
  return k;
}

/** Index into [0, n) for scipy's 'reflect' mode (d c b a | a b c d | d c b a), any distance. */
function reflectIndex(i: number, n: number): number {
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

/**
 * One pass of scipy.ndimage.correlate1d with a symmetric kernel: lines of `len` samples spaced
 * `stride` apart, `lines` of them starting at line * lineStep. Accumulates in float64 exactly as
 * NI_Correlate1D's symmetric branch (centre tap, then pairs from the outermost in), stores float32.
 */
function correlateSymmetric(src: Float32Array, dst: Float32Array, kernel: Float64Array, len: number, stride: number, lines: number, lineStep: number): void {
  const r = (kernel.length - 1) >> 1;
  const line = new Float64Array(len + 2 * r);
  for (let l = 0; l < lines; l++) {
    const base = l * lineStep;
    for (let i = -r; i < len + r; i++) line[i + r] = src[base + reflectIndex(i, len) * stride];
    for (let i = 0; i < len; i++) {
      const c = i + r;
      let acc = line[c] * kernel[r];
      for (let j = -r; j < 0; j++) acc += (line[c + j] + line[c - j]) * kernel[r + j];
      dst[base + i * stride] = acc;
    }
  }
}

/**
 * scipy.ndimage.gaussian_filter(x, sigma) on one float32 height x width map: axis 0 then axis 1,
 * each pass written back to float32 as scipy does (output dtype = input dtype).
 */
export function gaussianFilter2d(input: Float32Array, height: number, width: number, sigma = 4, truncate = 4.0): Float32Array {
  if (input.length !== height * width) {
    throw new Error(`gaussianFilter2d: input has ${input.length} values, expected ${height}x${width} = ${height * width}`);
  }
  const k = gaussianKernel1d(sigma, truncate);
  const tmp = new Float32Array(height * width);
  const out = new Float32Array(height * width);
  correlateSymmetric(input, tmp, k, height, width, width, 1); // axis 0: columns
  correlateSymmetric(tmp, out, k, width, 1, height, width); // axis 1: rows
  return out;
}

/** torch's source index and weights for one axis of bilinear, align_corners=False, in float32. */
function linearTaps(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; w0: Float32Array; w1: Float32Array } {
  const i0 = new Int32Array(outSize),
    i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize),
    w1 = new Float32Array(outSize);
  const f = Math.fround;
  const scale = f(inSize / outSize);
  for (let o = 0; o < outSize; o++) {
    if (inSize === outSize) {
      i0[o] = o;
      i1[o] = o;
      w0[o] = 1;
      w1[o] = 0;
      continue;
    }
    let src = f(f(scale * f(o + 0.5)) - 0.5);
    if (src < 0) src = 0;
    const a = Math.trunc(src);
    i0[o] = a;
    i1[o] = a + (a < inSize - 1 ? 1 : 0);
    const l1 = Math.min(Math.max(f(src - a), 0), 1);
    w1[o] = l1;
    w0[o] = f(1 - l1);
  }
  return { i0, i1, w0, w1 };
}

/**
 * F.interpolate(x, size=(outH, outW), mode='bilinear', align_corners=False) for `planes`
 * stacked inH x inW float32 planes. Height is the outer interpolation, as in torch's CPU kernel.
 */
export function resizeBilinear(input: Float32Array, planes: number, inH: number, inW: number, outH: number, outW: number): Float32Array {
  if (input.length !== planes * inH * inW) {
    throw new Error(`resizeBilinear: input has ${input.length} values, expected ${planes}x${inH}x${inW}`);
  }
  const ty = linearTaps(inH, outH),
    tx = linearTaps(inW, outW);
  const f = Math.fround;
  const out = new Float32Array(planes * outH * outW);
  for (let p = 0; p < planes; p++) {
    const src = p * inH * inW,
      dst = p * outH * outW;
    for (let y = 0; y < outH; y++) {
      const r0 = src + ty.i0[y] * inW,
        r1 = src + ty.i1[y] * inW;
      for (let x = 0; x < outW; x++) {
        const a = tx.i0[x],
          b = tx.i1[x];
        const t0 = f(f(input[r0 + a] * tx.w0[x]) + f(input[r0 + b] * tx.w1[x]));
        const t1 = f(f(input[r1 + a] * tx.w0[x]) + f(input[r1 + b] * tx.w1[x]));
        out[dst + y * outW + x] = f(f(t0 * ty.w0[y]) + f(t1 * ty.w1[y]));
      }
    }
  }
  return out;
}

/**
 * RescaleSegmentor.convert_to_segmentation: patch scores [batch, h, w] -> bilinear to
 * [batch, targetH, targetW] -> gaussian_filter(sigma) per map. Returns the maps concatenated.
 */
export function rescaleSegmentation(patchScores: Float32Array, batch: number, h: number, w: number, targetH: number, targetW: number, sigma = 4): Float32Array {
  const up = resizeBilinear(patchScores, batch, h, w, targetH, targetW);
  const out = new Float32Array(up.length);
  const hw = targetH * targetW;
  for (let b = 0; b < batch; b++) out.set(gaussianFilter2d(up.subarray(b * hw, (b + 1) * hw), targetH, targetW, sigma), b * hw);
  return out;
}
