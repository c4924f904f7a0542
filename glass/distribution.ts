// GLASS's "distribution judge" (utils.distribution_judge): decides manifold vs hypersphere for a
// class from the spectrum of its mean training image. Includes the small FFT it needs (radix-2,
// Bluestein for other lengths) and CPU versions of the OpenCV steps it calls (cv2.resize
// INTER_LINEAR on 8-bit, cvtColor BGR2GRAY, blur). See docs/glass-reference.md,
// "Distribution judge".

import type { GasMode } from './class-table.ts';

// ---------------------------------------------------------------------------------------------
// FFT

/** In-place forward DFT (sign -1, unnormalised, like numpy.fft.fft) of any length. */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  if (im.length !== n) throw new Error(`fft: re has ${n} values but im has ${im.length}`);
  if (n <= 1) return;
  if ((n & (n - 1)) === 0) fftRadix2(re, im, false);
  else fftBluestein(re, im);
}

function fftRadix2(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i];
      re[i] = re[j];
      re[j] = t;
      t = im[i];
      im[i] = im[j];
      im[j] = t;
    }
  }
  const sign = inverse ? 1 : -1;
  for (let len = 2; len <= n; len <<= 1) {
    const half = len >> 1;
    const ang = (sign * 2 * Math.PI) / len;
    for (let k = 0; k < half; k++) {
      // Twiddles from the angle directly (not by recurrence) keep the error at O(eps log n).
      const wr = Math.cos(ang * k),
        wi = Math.sin(ang * k);
      for (let s = 0; s < n; s += len) {
        const a = s + k,
          b = a + half;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
}

/** Bluestein's chirp-z: a length-n DFT as a circular convolution of power-of-two length. */
function fftBluestein(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  let m = 1;
  while (m < 2 * n - 1) m <<= 1;
  // chirp w_k = exp(-i pi k^2 / n); k^2 reduced mod 2n keeps the angle small and exact.
  const cr = new Float64Array(n),
    ci = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const k2 = Number((BigInt(k) * BigInt(k)) % BigInt(2 * n));
    const a = (Math.PI * k2) / n;
    cr[k] = Math.cos(a);
    ci[k] = -Math.sin(a);
  }
  const ar = new Float64Array(m),
    ai = new Float64Array(m);
  for (let k = 0; k < n; k++) {
    ar[k] = re[k] * cr[k] - im[k] * ci[k];
    ai[k] = re[k] * ci[k] + im[k] * cr[k];
  }
  const br = new Float64Array(m),
    bi = new Float64Array(m);
  br[0] = cr[0];
  bi[0] = -ci[0];
  for (let k = 1; k < n; k++) {
    br[k] = br[m - k] = cr[k];
    bi[k] = bi[m - k] = -ci[k];
  }
  fftRadix2(ar, ai, false);
  fftRadix2(br, bi, false);
  for (let k = 0; k < m; k++) {
    const xr = ar[k] * br[k] - ai[k] * bi[k];
    const xi = ar[k] * bi[k] + ai[k] * br[k];
    ar[k] = xr;
    ai[k] = xi;
  }
  fftRadix2(ar, ai, true);
  for (let k = 0; k < n; k++) {
    const xr = ar[k] / m,
      xi = ai[k] / m;
    re[k] = xr * cr[k] - xi * ci[k];
    im[k] = xr * ci[k] + xi * cr[k];
  }
}

/** 2-D DFT of a real height x width image (rows, then columns); returns re/im row-major. */
export function fft2Real(img: ArrayLike<number>, height: number, width: number): { re: Float64Array; im: Float64Array } {
  const re = new Float64Array(height * width),
    im = new Float64Array(height * width);
  const rr = new Float64Array(width),
    ri = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      rr[x] = img[y * width + x];
      ri[x] = 0;
    }
    fft(rr, ri);
    re.set(rr, y * width);
    im.set(ri, y * width);
  }
  const cr = new Float64Array(height),
    ci = new Float64Array(height);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      cr[y] = re[y * width + x];
      ci[y] = im[y * width + x];
    }
    fft(cr, ci);
    for (let y = 0; y < height; y++) {
      re[y * width + x] = cr[y];
      im[y * width + x] = ci[y];
    }
  }
  return { re, im };
}

// ---------------------------------------------------------------------------------------------
// OpenCV steps on 8-bit images (interleaved HWC)

/**
 * cv2.resize(src, (outW, outH)) with the default INTER_LINEAR on uint8, as OpenCV's generic
 * fixed-point path computes it: float source coordinates (dx + 0.5) * scale - 0.5 clamped to the
 * image, 11-bit weights (round(w * 2048)), result (sum + 2^21) >> 22. OpenCV's SIMD and IPP paths
 * can differ from this by one grey level on some pixels. Same size returns a copy, as cv2 does.
 */
export function resizeLinearU8(src: Uint8Array, height: number, width: number, channels: number, outH: number, outW: number): Uint8Array {
  if (src.length !== height * width * channels) {
    throw new Error(`resizeLinearU8: src has ${src.length} values, expected ${height}x${width}x${channels}`);
  }
  if (outH === height && outW === width) return src.slice();
  const taps = (inSize: number, outSize: number) => {
    const scale = 1 / (outSize / inSize); // OpenCV: scale_x = 1. / inv_scale_x, in double
    const ofs = new Int32Array(outSize),
      a0 = new Int32Array(outSize),
      a1 = new Int32Array(outSize);
    for (let d = 0; d < outSize; d++) {
      let fx = Math.fround((d + 0.5) * scale - 0.5);
      let sx = Math.floor(fx);
      fx = Math.fround(fx - sx);
      if (sx < 0) {
        fx = 0;
        sx = 0;
      }
      if (sx >= inSize - 1) {
        fx = 0;
        sx = inSize - 1;
      }
      ofs[d] = sx;
      // saturate_cast<short>(float) rounds half to even (cvRound).
      a0[d] = roundHalfEven(Math.fround(1 - fx) * 2048);
      a1[d] = roundHalfEven(fx * 2048);
    }
    return { ofs, a0, a1 };
  };
  const tx = taps(width, outW),
    ty = taps(height, outH);
  const rowBuf = (y: number) => {
    const out = new Int32Array(outW * channels);
    for (let d = 0; d < outW; d++) {
      const sx = tx.ofs[d],
        sx1 = Math.min(sx + 1, width - 1);
      for (let c = 0; c < channels; c++) {
        out[d * channels + c] = src[(y * width + sx) * channels + c] * tx.a0[d] + src[(y * width + sx1) * channels + c] * tx.a1[d];
      }
    }
    return out;
  };
  const dst = new Uint8Array(outH * outW * channels);
  for (let d = 0; d < outH; d++) {
    const sy = ty.ofs[d],
      sy1 = Math.min(sy + 1, height - 1);
    const r0 = rowBuf(sy),
      r1 = rowBuf(sy1);
    const b0 = ty.a0[d],
      b1 = ty.a1[d];
    for (let i = 0; i < outW * channels; i++) {
      const v = (r0[i] * b0 + r1[i] * b1 + (1 << 21)) >> 22;
      dst[d * outW * channels + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return dst;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** cv2.cvtColor(img, COLOR_BGR2GRAY) on uint8: (1868 B + 9617 G + 4899 R + 8192) >> 14. */
export function bgrToGrayU8(bgr: Uint8Array, height: number, width: number): Uint8Array {
  const n = height * width;
  if (bgr.length !== n * 3) throw new Error(`bgrToGrayU8: expected ${height}x${width}x3 = ${n * 3} values, got ${bgr.length}`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = (bgr[3 * i] * 1868 + bgr[3 * i + 1] * 9617 + bgr[3 * i + 2] * 4899 + 8192) >> 14;
  }
  return out;
}

/** OpenCV BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba) for any distance. */
function reflect101(p: number, len: number): number {
  if (len === 1) return 0;
  while (p < 0 || p >= len) p = p < 0 ? -p : 2 * len - 2 - p;
  return p;
}

/**
 * cv2.blur(img, (k, k)) on a single-channel uint8 image: the mean over a k x k window centred on
 * each pixel, border BORDER_REFLECT_101, rounded to nearest (the window sum over k^2 never ties
 * for odd k).
 */
export function boxBlurU8(src: Uint8Array, height: number, width: number, k: number): Uint8Array {
  if (src.length !== height * width) throw new Error(`boxBlurU8: expected ${height}x${width} values, got ${src.length}`);
  const r = k >> 1;
  const rows = new Int32Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let d = -r; d <= r; d++) s += src[y * width + reflect101(x + d, width)];
      rows[y * width + x] = s;
    }
  }
  const out = new Uint8Array(height * width);
  const area = k * k;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let d = -r; d <= r; d++) s += rows[reflect101(y + d, height) * width + x];
      out[y * width + x] = Math.min(255, Math.floor((2 * s + area) / (2 * area)));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The judge

/** Mean training image (normalised CHW float) to the uint8 BGR HWC image GLASS judges. */
export function meanImageToBgrU8(chw: Float32Array, height: number, width: number, mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225]): Uint8Array {
  const n = height * width;
  if (chw.length !== 3 * n) throw new Error(`meanImageToBgrU8: expected 3x${height}x${width} values, got ${chw.length}`);
  const out = new Uint8Array(3 * n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      // utils.torch_format_2_numpy_img: (x * std + mean) * 255, astype(uint8) truncates.
      const v = Math.trunc((chw[c * n + i] * std[c] + mean[c]) * 255);
      out[3 * i + (2 - c)] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

export interface JudgeOptions {
  /** side the mean image is resized to (289) */
  size?: number;
  /** box blur kernel (39) */
  blur?: number;
  /** spectrum threshold in 20 ln|F| units (170) */
  threshold?: number;
  /** density above which a class is hypersphere (0.21) */
  density?: number;
  /** radius the bright region must exceed (12) */
  minRadius?: number;
  /** number of bright spectrum points it must exceed (60) */
  minPoints?: number;
}

export interface JudgeResult {
  flag: 0 | 1;
  mode: GasMode;
  /** spectrum points with 20 ln|F| > threshold */
  points: number;
  sideX: number;
  sideY: number;
  radius: number;
  /** integer lattice points of the (2h x 2w) grid within radius of the centre */
  discPoints: number;
  l1Density: number;
  l2Density: number;
  /** the blurred grey image the spectrum was taken of */
  gray: Uint8Array;
  /** fftshifted 20 ln|F|, size x size */
  spectrum: Float64Array;
}

/**
 * utils.distribution_judge: resize the mean image to size x size, grey, box blur, 2-D DFT,
 * fftshift, 20 ln|F|; the points above `threshold` decide: hypersphere (1) when
 * (l1 density > 0.21 or l2 density > 0.21) and radius > 12 and points > 60, else manifold (0).
 * The reference crashes when no point passes the threshold; this returns manifold then.
 */
export function distributionJudge(bgr: Uint8Array, height: number, width: number, opts: JudgeOptions = {}): JudgeResult {
  const size = opts.size ?? 289,
    blur = opts.blur ?? 39,
    threshold = opts.threshold ?? 170;
  const density = opts.density ?? 0.21,
    minRadius = opts.minRadius ?? 12,
    minPoints = opts.minPoints ?? 60;
  const resized = resizeLinearU8(bgr, height, width, 3, size, size);
  const gray = boxBlurU8(bgrToGrayU8(resized, size, size), size, size, blur);
  const { re, im } = fft2Real(gray, size, size);
  const h = size,
    w = size,
    cy = h >> 1,
    cx = w >> 1;
  const spectrum = new Float64Array(h * w);
  let points = 0,
    sideX = 0,
    sideY = 0,
    maxD2 = -1;
  for (let y = 0; y < h; y++) {
    const sy = (y - cy + h) % h; // fftshift: shifted row y holds frequency row (y - h//2) mod h
    for (let x = 0; x < w; x++) {
      const sx = (x - cx + w) % w;
      const k = sy * w + sx;
      const v = 20 * Math.log(Math.hypot(re[k], im[k]));
      spectrum[y * w + x] = v;
      if (v > threshold) {
        points++;
        const dx = x - cx,
          dy = y - cy;
        sideX = Math.max(sideX, Math.abs(dx));
        sideY = Math.max(sideY, Math.abs(dy));
        maxD2 = Math.max(maxD2, dx * dx + dy * dy);
      }
    }
  }
  if (points === 0) {
    return { flag: 0, mode: 'manifold', points, sideX: 0, sideY: 0, radius: 0, discPoints: 0, l1Density: 0, l2Density: 0, gray, spectrum };
  }
  const radius = Math.sqrt(maxD2);
  // np.indices((2h, 2w)): the lattice starts at 0, so the disc is clipped above/left of the centre.
  let discPoints = 0;
  for (let y = 0; y < 2 * h; y++) {
    const dy = y - cy;
    for (let x = 0; x < 2 * w; x++) {
      const dx = x - cx;
      if (dx * dx + dy * dy <= maxD2) discPoints++;
    }
  }
  const l1Density = points / (4 * Math.max(sideX, 1) * Math.max(sideY, 1));
  const l2Density = points / (discPoints + 1e-10);
  const flag = (l1Density > density || l2Density > density) && radius > minRadius && points > minPoints ? 1 : 0;
  return { flag, mode: flag === 1 ? 'hypersphere' : 'manifold', points, sideX, sideY, radius, discPoints, l1Density, l2Density, gray, spectrum };
}
