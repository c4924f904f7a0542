// Image transforms of the GLASS data pipeline, run on the CPU (in the loader's worker threads) on 8-bit
// HWC images; only the finished float CHW batches are uploaded to the GPU later. Each op reproduces
// what torchvision 0.14 does on a PIL image, i.e. Pillow's C code, including its integer rounding:
// - resize: Pillow's separable resampling (bilinear: triangle filter whose support grows with the
//   downscale factor, i.e. antialiased; 22-bit fixed-point weights; horizontal pass first into an 8-bit
//   intermediate), and Pillow's NEAREST (pixel-centre sampling accumulated in doubles);
// - Resize(int) resizes the shorter side (torchvision truncates the longer one with int());
//   CenterCrop rounds its offsets with Python's round() (half to even) and zero-pads small images;
// - colour ops follow PIL.ImageEnhance (float32 blend, truncation), PIL's HSV round trip for hue,
//   ImageOps.autocontrast / equalize lookup tables; affine warps follow Image.transform (bilinear with
//   edge clamping inside, zero fill outside; nearest with Pillow's 16.16 fixed-point stepping).
// Fixture tests compare these against PIL/torchvision outputs on a real photo crop.
import { type Image, createImage, cloneImage, luma, checkImage } from './pixels.ts';
import type { Rng } from './rng.ts';

export type Interp = 'bilinear' | 'nearest';

export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** Mean/std for a normalisation; `{ mean: [.5,.5,.5], std: [.5,.5,.5] }` gives x*2-1 (MobileNet/TF style). */
export interface Normalization {
  mean: readonly number[];
  std: readonly number[];
}
export const IMAGENET: Normalization = { mean: IMAGENET_MEAN, std: IMAGENET_STD };
export const MINUS_ONE_TO_ONE: Normalization = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ------------------------------------------------------------------------------------------ sizes

/** torchvision Resize output size: an int resizes the shorter side (the longer one is truncated). */
export function resizeOutputSize(height: number, width: number, size: number | readonly [number, number]): [number, number] {
  if (typeof size !== 'number') return [size[0], size[1]];
  if (!Number.isInteger(size) || size <= 0) throw new Error(`resize: size must be a positive integer, got ${size}`);
  if (width <= height) return [Math.trunc((size * height) / width), size];
  return [size, Math.trunc((size * width) / height)];
}

/** torchvision Resize: `size` int = shorter side, [h, w] = exact size. */
export function resize(img: Image, size: number | readonly [number, number], interp: Interp = 'bilinear'): Image {
  const [h, w] = resizeOutputSize(img.height, img.width, size);
  if (h === img.height && w === img.width) return img; // torchvision returns the input unchanged
  return resizeTo(img, w, h, interp);
}

/** PIL Image.resize((width, height), BILINEAR | NEAREST). */
export function resizeTo(img: Image, width: number, height: number, interp: Interp = 'bilinear'): Image {
  checkImage(img, 'resizeTo');
  if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height))) {
    throw new Error(`resizeTo: bad output size ${width}x${height}`);
  }
  if (width === img.width && height === img.height) return cloneImage(img);
  return interp === 'nearest' ? resizeNearest(img, width, height) : resizeBilinear(img, width, height);
}

const PRECISION_BITS = 22; // Pillow: 32 - 8 - 2

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // per output index: first input index, tap count
  kk: Int32Array; // fixed-point weights, ksize per output index
}

/** Pillow precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter. */
function bilinearCoeffs(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 1.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const v = x < xmax ? (ww !== 0 ? k[x]! / ww : k[x]!) : 0;
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function resizeBilinear(img: Image, W: number, H: number): Image {
  const C = img.channels;
  const needH = W !== img.width;
  const needV = H !== img.height;
  const cv = bilinearCoeffs(img.height, H);
  let src = img.data;
  let srcW = img.width;
  let yFirst = 0;
  const half = 1 << (PRECISION_BITS - 1);
  if (needH) {
    const ch = bilinearCoeffs(img.width, W);
    // Only the input rows the vertical pass will read are resampled (Pillow's ybox_first/last).
    const first = needV ? cv.bounds[0]! : 0;
    const last = needV ? cv.bounds[(H - 1) * 2]! + cv.bounds[(H - 1) * 2 + 1]! : img.height;
    const rows = last - first;
    const tmp = new Uint8Array(W * rows * C);
    const { ksize, bounds, kk } = ch;
    for (let y = 0; y < rows; y++) {
      const rowIn = (y + first) * img.width * C;
      const rowOut = y * W * C;
      for (let xx = 0; xx < W; xx++) {
        const xmin = bounds[xx * 2]!,
          xmax = bounds[xx * 2 + 1]!,
          kb = xx * ksize;
        for (let c = 0; c < C; c++) {
          let ss = half;
          let p = rowIn + xmin * C + c;
          for (let x = 0; x < xmax; x++, p += C) ss += src[p]! * kk[kb + x]!;
          tmp[rowOut + xx * C + c] = clip8(ss);
        }
      }
    }
    src = tmp;
    srcW = W;
    yFirst = first;
    if (!needV) return { width: W, height: H, channels: C, data: tmp };
  }
  const out = new Uint8Array(W * H * C);
  const { ksize, bounds, kk } = cv;
  const stride = srcW * C;
  for (let yy = 0; yy < H; yy++) {
    const ymin = bounds[yy * 2]! - yFirst,
      ymax = bounds[yy * 2 + 1]!,
      kb = yy * ksize;
    const rowOut = yy * W * C;
    for (let i = 0; i < W * C; i++) {
      let ss = half;
      let p = ymin * stride + i;
      for (let y = 0; y < ymax; y++, p += stride) ss += src[p]! * kk[kb + y]!;
      out[rowOut + i] = clip8(ss);
    }
  }
  return { width: W, height: H, channels: C, data: out };
}

/** Pillow's ImagingScaleAffine: source index COORD(a*(x+0.5)), with the position accumulated as Pillow does. */
function nearestTable(inSize: number, outSize: number): Int32Array {
  const a = inSize / outSize;
  const t = new Int32Array(outSize);
  let xo = a * 0.5;
  for (let x = 0; x < outSize; x++) {
    const xin = xo < 0 ? -1 : Math.trunc(xo);
    t[x] = Math.min(inSize - 1, Math.max(0, xin));
    xo += a;
  }
  return t;
}

function resizeNearest(img: Image, W: number, H: number): Image {
  const C = img.channels;
  const xt = nearestTable(img.width, W);
  const yt = nearestTable(img.height, H);
  const out = new Uint8Array(W * H * C);
  for (let y = 0; y < H; y++) {
    const rowIn = yt[y]! * img.width * C;
    for (let x = 0; x < W; x++) {
      const s = rowIn + xt[x]! * C,
        d = (y * W + x) * C;
      for (let c = 0; c < C; c++) out[d + c] = img.data[s + c]!;
    }
  }
  return { width: W, height: H, channels: C, data: out };
}

/** Crop a box; parts outside the image are zero (used for torchvision's pad-then-crop). */
export function crop(img: Image, top: number, left: number, height: number, width: number): Image {
  const C = img.channels;
  const out = createImage(width, height, C);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    const x0 = Math.max(0, -left),
      x1 = Math.min(width, img.width - left);
    if (x1 <= x0) continue;
    out.data.set(img.data.subarray((sy * img.width + left + x0) * C, (sy * img.width + left + x1) * C), (y * width + x0) * C);
  }
  return out;
}

/** torchvision CenterCrop (size int or [h, w]); images smaller than the crop are zero-padded first. */
export function centerCrop(img: Image, size: number | readonly [number, number]): Image {
  const [ch, cw] = typeof size === 'number' ? [size, size] : size;
  let { width: w, height: h } = img;
  let padTop = 0,
    padLeft = 0;
  if (cw > w || ch > h) {
    // torchvision pads (left, top) = floor(diff/2) and (right, bottom) = ceil(diff/2)
    padLeft = cw > w ? Math.floor((cw - w) / 2) : 0;
    padTop = ch > h ? Math.floor((ch - h) / 2) : 0;
    w += cw > w ? cw - img.width : 0;
    h += ch > h ? ch - img.height : 0;
  }
  const top = roundHalfEven((h - ch) / 2);
  const left = roundHalfEven((w - cw) / 2);
  if (top === 0 && left === 0 && padTop === 0 && padLeft === 0 && ch === img.height && cw === img.width) return img;
  return crop(img, top - padTop, left - padLeft, ch, cw);
}

// ------------------------------------------------------------------------------------- to tensor

/** Per channel, the float32 value torchvision's ToTensor + Normalize gives for each 8-bit level. */
function normLUT(norm: Normalization | null, channels: number): Float32Array[] {
  const luts: Float32Array[] = [];
  for (let c = 0; c < channels; c++) {
    const lut = new Float32Array(256);
    const m = norm ? Math.fround(norm.mean[c] ?? norm.mean[0]!) : 0;
    const s = norm ? Math.fround(norm.std[c] ?? norm.std[0]!) : 1;
    for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
    luts.push(lut);
  }
  return luts;
}

/**
 * ToTensor (+ optional Normalize): HWC uint8 -> CHW float32 in [0,1] (or normalised), written into
 * `out` at `offset` when given, so batches are filled without extra copies.
 */
export function toTensor(img: Image, norm: Normalization | null = null, out?: Float32Array, offset = 0): Float32Array {
  const C = img.channels,
    n = img.width * img.height;
  const dst = out ?? new Float32Array(C * n);
  if (dst.length < offset + C * n) throw new Error(`toTensor: output holds ${dst.length - offset} values, need ${C * n}`);
  const luts = normLUT(norm, C);
  for (let c = 0; c < C; c++) {
    const lut = luts[c]!,
      base = offset + c * n;
    for (let i = 0; i < n; i++) dst[base + i] = lut[img.data[i * C + c]!]!;
  }
  return dst;
}

/** Inverse of toTensor (+ normalisation): CHW float -> 8-bit HWC image, rounded and clamped (for previews). */
export function tensorToImage(t: Float32Array, channels: 1 | 3, height: number, width: number, norm: Normalization | null = null): Image {
  const n = height * width;
  if (t.length !== channels * n) throw new Error(`tensorToImage: ${t.length} values for ${channels}x${height}x${width}`);
  const out = createImage(width, height, channels);
  for (let c = 0; c < channels; c++) {
    const m = norm ? (norm.mean[c] ?? norm.mean[0]!) : 0,
      s = norm ? (norm.std[c] ?? norm.std[0]!) : 1;
    for (let i = 0; i < n; i++) out.data[i * channels + c] = clampByte(Math.round((t[c * n + i]! * s + m) * 255));
  }
  return out;
}

/** torchvision Normalize on a CHW float tensor, in place. */
export function normalize(t: Float32Array, channels: number, norm: Normalization): Float32Array {
  const n = t.length / channels;
  if (!Number.isInteger(n)) throw new Error(`normalize: ${t.length} values do not split into ${channels} channels`);
  for (let c = 0; c < channels; c++) {
    const m = Math.fround(norm.mean[c] ?? norm.mean[0]!),
      s = Math.fround(norm.std[c] ?? norm.std[0]!);
    for (let i = c * n; i < (c + 1) * n; i++) t[i] = (t[i]! - m) / s;
  }
  return t;
}

// ----------------------------------------------------------------------------------- colour ops

function needRGB(img: Image, op: string): void {
  if (img.channels !== 3) throw new Error(`${op}: needs an RGB image, got ${img.channels} channel(s)`);
}

/** PIL Image.blend(degenerate, img, factor) for one byte pair, in float32 like Pillow's C. */
function blendByte(d: number, v: number, a: number, interp: boolean): number {
  const t = Math.fround(d + Math.fround(a * (v - d)));
  return interp ? Math.trunc(t) : t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
}

/** Blend with a constant degenerate value: a 256-entry table does the work. */
function blendConst(img: Image, factor: number, d: number): Image {
  const a = Math.fround(factor),
    interp = a >= 0 && a <= 1;
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = blendByte(d, v, a, interp);
  const out = createImage(img.width, img.height, img.channels);
  const src = img.data,
    dst = out.data;
  for (let i = 0; i < src.length; i++) dst[i] = lut[src[i]!]!;
  return out;
}

/** torchvision adjust_brightness (PIL ImageEnhance.Brightness). */
export function adjustBrightness(img: Image, factor: number): Image {
  return blendConst(img, factor, 0);
}

/** Mean of PIL's "L" conversion, rounded as ImageEnhance.Contrast does. */
function meanLuma(img: Image): number {
  const d = img.data,
    n = img.width * img.height;
  let s = 0;
  if (img.channels === 1) for (let i = 0; i < n; i++) s += d[i]!;
  else for (let i = 0; i < n; i++) s += luma(d[i * 3]!, d[i * 3 + 1]!, d[i * 3 + 2]!);
  return Math.trunc(s / n + 0.5);
}

/** torchvision adjust_contrast (PIL ImageEnhance.Contrast: blend with the mean grey level). */
export function adjustContrast(img: Image, factor: number): Image {
  return blendConst(img, factor, meanLuma(img));
}

/** torchvision adjust_saturation (PIL ImageEnhance.Color: blend with the grey version). */
export function adjustSaturation(img: Image, factor: number): Image {
  if (img.channels === 1) return cloneImage(img);
  // The degenerate value is each pixel's grey level: a 256 x 256 (grey, value) table.
  const a = Math.fround(factor),
    interp = a >= 0 && a <= 1;
  const lut = new Uint8Array(65536);
  for (let d = 0; d < 256; d++) for (let v = 0; v < 256; v++) lut[(d << 8) | v] = blendByte(d, v, a, interp);
  const out = createImage(img.width, img.height, 3);
  const src = img.data,
    dst = out.data;
  for (let i = 0; i < src.length; i += 3) {
    const g = luma(src[i]!, src[i + 1]!, src[i + 2]!) << 8;
    dst[i] = lut[g | src[i]!]!;
    dst[i + 1] = lut[g | src[i + 1]!]!;
    dst[i + 2] = lut[g | src[i + 2]!]!;
  }
  return out;
}

/** torchvision adjust_hue for PIL: RGB -> PIL HSV, shift H by uint8(hue*255) with wrap-around, back. */
export function adjustHue(img: Image, hueFactor: number): Image {
  if (!(hueFactor >= -0.5 && hueFactor <= 0.5)) throw new Error(`adjustHue: hue factor ${hueFactor} is not in [-0.5, 0.5]`);
  if (img.channels === 1) return cloneImage(img);
  // numpy's uint8 cast of a negative float wraps (truncate toward zero, then mod 256)
  const shift = ((Math.trunc(hueFactor * 255) % 256) + 256) % 256;
  const out = createImage(img.width, img.height, 3);
  const s = img.data,
    o = out.data;
  const f32 = Math.fround;
  for (let i = 0; i < s.length; i += 3) {
    const r = s[i]!,
      g = s[i + 1]!,
      b = s[i + 2]!;
    // Pillow rgb2hsv_row (float32 intermediates)
    const maxc = Math.max(r, g, b),
      minc = Math.min(r, g, b);
    let uh = 0,
      us = 0;
    const uv = maxc;
    if (minc !== maxc) {
      const cr = maxc - minc;
      const sat = f32(cr / maxc);
      const rc = f32((maxc - r) / cr),
        gc = f32((maxc - g) / cr),
        bc = f32((maxc - b) / cr);
      let h: number;
      if (r === maxc) h = f32(bc - gc);
      else if (g === maxc) h = f32(2.0 + rc - bc);
      else h = f32(4.0 + gc - rc);
      h = f32((h / 6.0 + 1.0) % 1.0);
      uh = Math.min(255, Math.max(0, Math.trunc(h * 255.0)));
      us = Math.min(255, Math.max(0, Math.trunc(sat * 255.0)));
    }
    const hh = (uh + shift) & 255;
    // Pillow hsv2rgb
    if (us === 0) {
      o[i] = o[i + 1] = o[i + 2] = uv;
      continue;
    }
    const k = Math.floor((hh * 6.0) / 255.0);
    const f = f32((hh * 6.0) / 255.0 - k);
    const fs = f32(us / 255.0);
    const p = clampByte(roundHalfAway(uv * (1.0 - fs)));
    const q = clampByte(roundHalfAway(uv * (1.0 - fs * f)));
    const t = clampByte(roundHalfAway(uv * (1.0 - fs * (1.0 - f))));
    let rr: number, gg: number, bb: number;
    switch (k % 6) {
      case 0:
        rr = uv;
        gg = t;
        bb = p;
        break;
      case 1:
        rr = q;
        gg = uv;
        bb = p;
        break;
      case 2:
        rr = p;
        gg = uv;
        bb = t;
        break;
      case 3:
        rr = p;
        gg = q;
        bb = uv;
        break;
      case 4:
        rr = t;
        gg = p;
        bb = uv;
        break;
      default:
        rr = uv;
        gg = p;
        bb = q;
        break;
    }
    o[i] = rr;
    o[i + 1] = gg;
    o[i + 2] = bb;
  }
  return out;
}

function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}
function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** torchvision rgb_to_grayscale on PIL: convert("L"), replicated to 3 channels when asked. */
export function grayscale(img: Image, outChannels: 1 | 3 = 3): Image {
  const d = img.data,
    n = img.width * img.height;
  const out = createImage(img.width, img.height, outChannels);
  for (let i = 0; i < n; i++) {
    const v = img.channels === 1 ? d[i]! : luma(d[i * 3]!, d[i * 3 + 1]!, d[i * 3 + 2]!);
    if (outChannels === 1) out.data[i] = v;
    else out.data[i * 3] = out.data[i * 3 + 1] = out.data[i * 3 + 2] = v;
  }
  return out;
}

function applyLUTs(img: Image, luts: Uint8Array[]): Image {
  const out = createImage(img.width, img.height, img.channels);
  const C = img.channels,
    src = img.data,
    dst = out.data;
  for (let c = 0; c < C; c++) {
    const lut = luts[c]!;
    for (let i = c; i < src.length; i += C) dst[i] = lut[src[i]!]!;
  }
  return out;
}

function histograms(img: Image): Int32Array[] {
  const C = img.channels,
    d = img.data;
  const h = Array.from({ length: C }, () => new Int32Array(256));
  for (let c = 0; c < C; c++) {
    const hc = h[c]!;
    for (let i = c; i < d.length; i += C) hc[d[i]!]!++;
  }
  return h;
}

/** torchvision autocontrast on PIL (ImageOps.autocontrast, cutoff 0): per-channel min/max stretch. */
export function autocontrast(img: Image): Image {
  const luts = histograms(img).map((h) => {
    const lut = new Uint8Array(256);
    let lo = 0,
      hi = 255;
    while (lo < 255 && h[lo] === 0) lo++;
    while (hi > 0 && h[hi] === 0) hi--;
    if (hi <= lo) {
      for (let i = 0; i < 256; i++) lut[i] = i;
    } else {
      const scale = 255.0 / (hi - lo),
        offset = -lo * scale;
      for (let i = 0; i < 256; i++) lut[i] = clampByte(Math.trunc(i * scale + offset));
    }
    return lut;
  });
  return applyLUTs(img, luts);
}

/** torchvision equalize on PIL (ImageOps.equalize): per-channel histogram equalisation. */
export function equalize(img: Image): Image {
  const luts = histograms(img).map((h) => {
    const lut = new Uint8Array(256);
    let total = 0,
      last = 0,
      nonzero = 0;
    for (let i = 0; i < 256; i++)
      if (h[i]! > 0) {
        total += h[i]!;
        last = h[i]!;
        nonzero++;
      }
    const step = Math.floor((total - last) / 255);
    if (nonzero <= 1 || step === 0) {
      for (let i = 0; i < 256; i++) lut[i] = i;
    } else {
      let n = Math.floor(step / 2);
      for (let i = 0; i < 256; i++) {
        lut[i] = Math.min(255, Math.floor(n / step));
        n += h[i]!;
      }
    }
    return lut;
  });
  return applyLUTs(img, luts);
}

export function hflip(img: Image): Image {
  const { width: W, height: H, channels: C } = img;
  const out = createImage(W, H, C);
  const src = img.data,
    dst = out.data;
  for (let y = 0; y < H; y++) {
    const row = y * W * C;
    for (let x = 0; x < W; x++) {
      const s = row + x * C,
        d = row + (W - 1 - x) * C;
      dst[d] = src[s]!;
      if (C === 3) {
        dst[d + 1] = src[s + 1]!;
        dst[d + 2] = src[s + 2]!;
      }
    }
  }
  return out;
}

export function vflip(img: Image): Image {
  const { width: W, height: H, channels: C } = img;
  const out = createImage(W, H, C);
  const row = W * C;
  for (let y = 0; y < H; y++) out.data.set(img.data.subarray(y * row, (y + 1) * row), (H - 1 - y) * row);
  return out;
}

// --------------------------------------------------------------------------------------- affine

export interface AffineParams {
  /** degrees, counter-clockwise as torchvision */
  angle: number;
  /** pixels (tx, ty) */
  translate?: readonly [number, number];
  scale?: number;
  /** degrees (sx, sy) */
  shear?: readonly [number, number];
}

/** torchvision _get_inverse_affine_matrix (output pixel -> input pixel), centre = image centre. */
export function inverseAffineMatrix(width: number, height: number, p: AffineParams): number[] {
  const cx = width * 0.5,
    cy = height * 0.5;
  const [tx, ty] = p.translate ?? [0, 0];
  const scale = p.scale ?? 1;
  const rot = (p.angle * Math.PI) / 180;
  const sx = ((p.shear?.[0] ?? 0) * Math.PI) / 180,
    sy = ((p.shear?.[1] ?? 0) * Math.PI) / 180;
  const a = Math.cos(rot - sy) / Math.cos(sy);
  const b = (-Math.cos(rot - sy) * Math.tan(sx)) / Math.cos(sy) - Math.sin(rot);
  const c = Math.sin(rot - sy) / Math.cos(sy);
  const d = (-Math.sin(rot - sy) * Math.tan(sx)) / Math.cos(sy) + Math.cos(rot);
  const m = [d, -b, 0, -c, a, 0].map((v) => v / scale);
  m[2]! += m[0]! * (-cx - tx) + m[1]! * (-cy - ty);
  m[5]! += m[3]! * (-cx - tx) + m[4]! * (-cy - ty);
  m[2]! += cx;
  m[5]! += cy;
  return m;
}

/** torchvision F.affine on a PIL image (Image.transform AFFINE), fill 0 outside the source. */
export function affine(img: Image, p: AffineParams, interp: Interp = 'nearest'): Image {
  const m = inverseAffineMatrix(img.width, img.height, p);
  return interp === 'bilinear' ? affineBilinear(img, m) : affineNearest(img, m);
}

/** Rotation about the centre (torchvision RandomAffine with only degrees), same size, zero fill. */
export function rotate(img: Image, angle: number, interp: Interp = 'nearest'): Image {
  return affine(img, { angle }, interp);
}

function floorInt(x: number): number {
  return x < 0 ? Math.floor(x) : Math.trunc(x);
}

/** Pillow ImagingGenericTransform with affine_transform and the bilinear filter. */
function affineBilinear(img: Image, m: number[]): Image {
  const { width: W, height: H, channels: C } = img;
  const out = createImage(W, H, C);
  const [a0, a1, a2, a3, a4, a5] = m as [number, number, number, number, number, number];
  const src = img.data;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let xin = a0 * (x + 0.5) + a1 * (y + 0.5) + a2;
      let yin = a3 * (x + 0.5) + a4 * (y + 0.5) + a5;
      if (xin < 0 || xin >= W || yin < 0 || yin >= H) continue; // stays 0 (fill)
      xin -= 0.5;
      yin -= 0.5;
      const xi = floorInt(xin),
        yi = floorInt(yin);
      const dx = xin - xi,
        dy = yin - yi;
      const x0 = (xi < 0 ? 0 : xi < W ? xi : W - 1) * C;
      const x1 = (xi + 1 < 0 ? 0 : xi + 1 < W ? xi + 1 : W - 1) * C;
      const r0 = (yi < 0 ? 0 : yi < H ? yi : H - 1) * W * C;
      const hasR1 = yi + 1 >= 0 && yi + 1 < H;
      const r1 = (yi + 1) * W * C;
      const d = (y * W + x) * C;
      for (let c = 0; c < C; c++) {
        const p0 = src[r0 + x0 + c]!,
          p1 = src[r0 + x1 + c]!;
        const v1 = p0 + (p1 - p0) * dx;
        let v2 = v1;
        if (hasR1) {
          const q0 = src[r1 + x0 + c]!,
            q1 = src[r1 + x1 + c]!;
          v2 = q0 + (q1 - q0) * dx;
        }
        out.data[d + c] = Math.trunc(v1 + (v2 - v1) * dy);
      }
    }
  }
  return out;
}

/** Pillow ImagingTransformAffine for NEAREST (scale-only, 16.16 fixed point, or float stepping). */
function affineNearest(img: Image, m: number[]): Image {
  const { width: W, height: H, channels: C } = img;
  const [a0, a1, a2, a3, a4, a5] = m as [number, number, number, number, number, number];
  const out = createImage(W, H, C);
  const put = (x: number, y: number, xin: number, yin: number) => {
    if (xin >= 0 && xin < W && yin >= 0 && yin < H) {
      const s = (yin * W + xin) * C,
        d = (y * W + x) * C;
      for (let c = 0; c < C; c++) out.data[d + c] = img.data[s + c]!;
    }
  };
  const coord = (v: number) => (v < 0 ? -1 : Math.trunc(v));
  if (a1 === 0 && a3 === 0) {
    let yo = a5 + a4 * 0.5;
    const xt = new Int32Array(W);
    let xo = a2 + a0 * 0.5;
    for (let x = 0; x < W; x++, xo += a0) xt[x] = coord(xo);
    for (let y = 0; y < H; y++, yo += a4) {
      const yi = coord(yo);
      for (let x = 0; x < W; x++) put(x, y, xt[x]!, yi);
    }
    return out;
  }
  const fits = (x: number, y: number) => Math.abs(x * a0 + y * a1 + a2) < 32768 && Math.abs(x * a3 + y * a4 + a5) < 32768;
  if (fits(0, 0) && fits(W, H) && fits(0, H) && fits(W, 0)) {
    const fix = (v: number) => floorInt(v * 65536.0 + 0.5);
    const f0 = fix(a0),
      f1 = fix(a1),
      f3 = fix(a3),
      f4 = fix(a4);
    let f2 = fix(a2 + a0 * 0.5 + a1 * 0.5),
      f5 = fix(a5 + a3 * 0.5 + a4 * 0.5);
    for (let y = 0; y < H; y++) {
      let xx = f2,
        yy = f5;
      for (let x = 0; x < W; x++) {
        put(x, y, xx >> 16, yy >> 16);
        xx = (xx + f0) | 0;
        yy = (yy + f3) | 0;
      }
      f2 = (f2 + f1) | 0;
      f5 = (f5 + f4) | 0;
    }
    return out;
  }
  let xo = a2 + a1 * 0.5 + a0 * 0.5,
    yo = a5 + a4 * 0.5 + a3 * 0.5;
  for (let y = 0; y < H; y++, xo += a1, yo += a4) {
    let xx = xo,
      yy = yo;
    for (let x = 0; x < W; x++, xx += a0, yy += a3) put(x, y, coord(xx), coord(yy));
  }
  return out;
}

// ------------------------------------------------------------------------------ random versions

/** A ColorJitter argument: a number v means [max(0, 1 - v), 1 + v] (hue: [-v, v]); a pair is taken as is. */
export type JitterArg = number | readonly [number, number];

export interface ColorJitterParams {
  brightness?: JitterArg;
  contrast?: JitterArg;
  saturation?: JitterArg;
  hue?: JitterArg;
}

function jitterRange(v: JitterArg | undefined, name: string, hue = false): [number, number] | null {
  if (v === undefined) return null;
  let r: [number, number];
  if (typeof v === 'number') {
    if (v < 0) throw new Error(`colorJitter: ${name} must be non-negative, got ${v}`);
    r = hue ? [-v, v] : [Math.max(0, 1 - v), 1 + v];
  } else r = [v[0], v[1]];
  if (hue && (r[0] < -0.5 || r[1] > 0.5)) throw new Error(`colorJitter: hue range [${r}] must lie in [-0.5, 0.5]`);
  const centre = hue ? 0 : 1;
  return r[0] === centre && r[1] === centre ? null : r; // torchvision drops identity ranges
}

/** torchvision ColorJitter: factors drawn uniformly, the four ops applied in a random order. */
export function colorJitter(img: Image, rng: Rng, p: ColorJitterParams): Image {
  const b = jitterRange(p.brightness, 'brightness');
  const c = jitterRange(p.contrast, 'contrast');
  const s = jitterRange(p.saturation, 'saturation');
  const h = jitterRange(p.hue, 'hue', true);
  const order = rng.permutation(4);
  const bf = b && rng.uniform(b[0], b[1]);
  const cf = c && rng.uniform(c[0], c[1]);
  const sf = s && rng.uniform(s[0], s[1]);
  const hf = h && rng.uniform(h[0], h[1]);
  let out = img;
  for (const k of order) {
    if (k === 0 && bf !== null) out = adjustBrightness(out, bf);
    else if (k === 1 && cf !== null) out = adjustContrast(out, cf);
    else if (k === 2 && sf !== null) out = adjustSaturation(out, sf);
    else if (k === 3 && hf !== null) out = adjustHue(out, hf);
  }
  return out;
}

/** torchvision's Random* wrappers: apply `op` when a uniform draw is below p. */
export function randomApply(img: Image, rng: Rng, p: number, op: (img: Image) => Image): Image {
  return rng.random() < p ? op(img) : img;
}
export const randomHflip = (img: Image, rng: Rng, p = 0.5) => randomApply(img, rng, p, hflip);
export const randomVflip = (img: Image, rng: Rng, p = 0.5) => randomApply(img, rng, p, vflip);
export const randomGrayscale = (img: Image, rng: Rng, p = 0.1) => randomApply(img, rng, p, (i) => grayscale(i, i.channels === 1 ? 1 : 3));
export const randomAutocontrast = (img: Image, rng: Rng, p = 0.5) => randomApply(img, rng, p, autocontrast);
export const randomEqualize = (img: Image, rng: Rng, p = 0.5) => randomApply(img, rng, p, equalize);

export interface RandomAffineParams {
  /** a number d means [-d, d] */
  degrees: number | readonly [number, number];
  /** fractions of width and height */
  translate?: readonly [number, number];
  scale?: readonly [number, number];
  interp?: Interp;
}

/** torchvision RandomAffine (no shear); returns the input itself when the draw is the identity. */
export function randomAffine(img: Image, rng: Rng, p: RandomAffineParams): Image {
  const [d0, d1] = typeof p.degrees === 'number' ? [-p.degrees, p.degrees] : p.degrees;
  const angle = d0 === d1 ? d0 : rng.uniform(d0, d1);
  let tx = 0,
    ty = 0;
  if (p.translate) {
    const mx = p.translate[0] * img.width,
      my = p.translate[1] * img.height;
    tx = mx > 0 ? roundHalfEven(rng.uniform(-mx, mx)) : 0;
    ty = my > 0 ? roundHalfEven(rng.uniform(-my, my)) : 0;
  }
  const scale = p.scale && p.scale[0] !== p.scale[1] ? rng.uniform(p.scale[0], p.scale[1]) : (p.scale?.[0] ?? 1);
  if (angle === 0 && tx === 0 && ty === 0 && scale === 1) return img;
  return affine(img, { angle, translate: [tx, ty], scale }, p.interp ?? 'nearest');
}

// ------------------------------------------------------------------------- GLASS rand_augmenter

/** The nine augmentations of GLASS's rand_augmenter, in its order. */
export const RAND_AUG_OPS = [
  'contrast', // ColorJitter(contrast=(0.8, 1.2))
  'brightness', // ColorJitter(brightness=(0.8, 1.2))
  'saturation+hue', // ColorJitter(saturation=(0.8, 1.2), hue=(-0.2, 0.2))
  'hflip',
  'vflip',
  'grayscale', // RandomGrayscale(p=1), 3 channels out
  'autocontrast',
  'equalize',
  'rotate', // RandomAffine(degrees=(-45, 45)): torchvision's default NEAREST, zero fill
] as const;
export type RandAugOp = (typeof RAND_AUG_OPS)[number];

export function applyRandAugOp(img: Image, op: RandAugOp, rng: Rng): Image {
  switch (op) {
    case 'contrast':
      return colorJitter(img, rng, { contrast: [0.8, 1.2] });
    case 'brightness':
      return colorJitter(img, rng, { brightness: [0.8, 1.2] });
    case 'saturation+hue':
      return colorJitter(img, rng, { saturation: [0.8, 1.2], hue: [-0.2, 0.2] });
    case 'hflip':
      return hflip(img);
    case 'vflip':
      return vflip(img);
    case 'grayscale':
      return grayscale(img, 3);
    case 'autocontrast':
      return autocontrast(img);
    case 'equalize':
      return equalize(img);
    case 'rotate':
      return randomAffine(img, rng, { degrees: [-45, 45], interp: 'nearest' });
  }
}

/** Three distinct ops of the nine, in random order, applied one after another (RGB in, RGB out). */
export function randAug(img: Image, rng: Rng): { image: Image; ops: RandAugOp[] } {
  needRGB(img, 'randAug');
  const ops = rng.sample(RAND_AUG_OPS.length, 3).map((i) => RAND_AUG_OPS[i]!);
  let out = img;
  for (const op of ops) out = applyRandAugOp(out, op, rng);
  return { image: out, ops };
}
