// Perlin-noise anomaly masks of GLASS's local anomaly synthesis (reference perlin.py + its call in
// datasets/mvtec.py), on the CPU. Two 2-D Perlin maps at random power-of-two lattice scales
// 2^minScale..2^(maxScale-1) per axis are each rotated by a random angle in [-90, 90] degrees
// (imgaug Affine: bilinear, zero outside, about the image centre) and thresholded at 0.5; the pair is
// combined as union, intersection or the first map alone (probability 1/3 each), multiplied by an
// optional foreground mask, and redrawn until the feature-grid mask is non-empty.
// Outputs: maskL, the full-resolution 0/1 mask used for blending, and maskS, its max-pool to the
// feature grid (kernel = image size / feature size), the per-patch label the discriminator learns.
import type { Rng } from './rng.ts';

const fade = (t: number) => t * t * t * (t * (t * 6 - 15) + 10);

/**
 * rand_perlin_2d_np for given gradient angles: `angles` holds (resY+1) x (resX+1) values, row-major,
 * axis 0 along the image height. Matches numpy's grid construction (coordinate = i * res/size, mod 1)
 * when the size is a multiple of the resolution; other sizes (which the reference rejects) use the
 * lattice cell containing the pixel.
 */
export function perlinNoise(height: number, width: number, resY: number, resX: number, angles: ArrayLike<number>): Float32Array {
  if (angles.length !== (resY + 1) * (resX + 1)) {
    throw new Error(`perlinNoise: need ${(resY + 1) * (resX + 1)} angles for res ${resY}x${resX}, got ${angles.length}`);
  }
  const gx = new Float64Array(angles.length),
    gy = new Float64Array(angles.length);
  for (let i = 0; i < angles.length; i++) {
    gx[i] = Math.cos(angles[i]!);
    gy[i] = Math.sin(angles[i]!);
  }
  const axis = (size: number, res: number) => {
    const delta = res / size,
      d = Math.floor(size / res),
      exact = size % res === 0;
    const cell = new Int32Array(size),
      frac = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const p = i * delta;
      cell[i] = exact ? Math.floor(i / d) : Math.min(res - 1, Math.floor(p));
      frac[i] = exact ? p % 1 : p - cell[i]!;
    }
    return { cell, frac };
  };
  const Y = axis(height, resY),
    X = axis(width, resX);
  const out = new Float32Array(height * width);
  const stride = resX + 1;
  for (let i = 0; i < height; i++) {
    const c0 = Y.cell[i]!,
      u = Y.frac[i]!,
      tu = fade(u);
    for (let j = 0; j < width; j++) {
      const c1 = X.cell[j]!,
        v = X.frac[j]!,
        tv = fade(v);
      const k00 = c0 * stride + c1,
        k10 = k00 + stride,
        k01 = k00 + 1,
        k11 = k10 + 1;
      // gradient . offset to each lattice corner; component 0 runs along the height axis
      const n00 = u * gx[k00]! + v * gy[k00]!;
      const n10 = (u - 1) * gx[k10]! + v * gy[k10]!;
      const n01 = u * gx[k01]! + (v - 1) * gy[k01]!;
      const n11 = (u - 1) * gx[k11]! + (v - 1) * gy[k11]!;
      const a = n00 + (n10 - n00) * tu,
        b = n01 + (n11 - n01) * tu;
      out[i * width + j] = Math.SQRT2 * (a + (b - a) * tv);
    }
  }
  return out;
}

/** Perlin noise with uniformly random gradient directions. */
export function randPerlin(height: number, width: number, resY: number, resX: number, rng: Rng): Float32Array {
  const angles = new Float64Array((resY + 1) * (resX + 1));
  for (let i = 0; i < angles.length; i++) angles[i] = 2 * Math.PI * rng.random();
  return perlinNoise(height, width, resY, resX, angles);
}

/**
 * Rotation of a float map about its centre ((w-1)/2, (h-1)/2 in pixel indices, as imgaug), bilinear,
 * with zeros outside the map (neighbours outside contribute 0, like OpenCV's constant border).
 */
export function rotateMap(src: Float32Array, height: number, width: number, angleDeg: number): Float32Array {
  const out = new Float32Array(height * width);
  const r = (angleDeg * Math.PI) / 180,
    cos = Math.cos(r),
    sin = Math.sin(r);
  const cx = (width - 1) / 2,
    cy = (height - 1) / 2;
  const at = (x: number, y: number) => (x >= 0 && x < width && y >= 0 && y < height ? src[y * width + x]! : 0);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // inverse of the forward rotation dst = R(r) (src - c) + c
      const dx = x - cx,
        dy = y - cy;
      const sx = cos * dx + sin * dy + cx,
        sy = -sin * dx + cos * dy + cy;
      const x0 = Math.floor(sx),
        y0 = Math.floor(sy);
      if (x0 < -1 || y0 < -1 || x0 >= width || y0 >= height) continue;
      const fx = sx - x0,
        fy = sy - y0;
      const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
      const bot = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
      out[y * width + x] = top * (1 - fy) + bot * fy;
    }
  }
  return out;
}

export interface PerlinOptions {
  /** scales are 2^k with k drawn from [minScale, maxScale) per axis; GLASS uses 0 and 6 */
  minScale?: number;
  maxScale?: number;
  threshold?: number;
}

/** generate_thr: one rotated, thresholded Perlin map (0/1 bytes). */
export function perlinThreshold(height: number, width: number, rng: Rng, opts: PerlinOptions = {}): Uint8Array {
  const lo = opts.minScale ?? 0,
    hi = opts.maxScale ?? 6,
    thr = opts.threshold ?? 0.5;
  const sy = 2 ** rng.int(lo, hi),
    sx = 2 ** rng.int(lo, hi);
  const noise = randPerlin(height, width, sy, sx, rng);
  const rot = rotateMap(noise, height, width, rng.uniform(-90, 90));
  const out = new Uint8Array(height * width);
  for (let i = 0; i < out.length; i++) out[i] = rot[i]! > thr ? 1 : 0;
  return out;
}

export type PerlinCombine = 'union' | 'intersection' | 'single';

export interface PerlinMask {
  /** full resolution, height x width, 0/1 */
  maskL: Float32Array;
  /** max-pooled to the feature grid, featH x featW, 0/1 */
  maskS: Float32Array;
  featH: number;
  featW: number;
  combine: PerlinCombine;
  /** how many draws it took to get a non-empty mask */
  tries: number;
}

export interface PerlinMaskOptions extends PerlinOptions {
  /** foreground mask (height x width, non-zero = foreground); the whole image when absent */
  foreground?: ArrayLike<number> | null;
  /** give up (with an error) after this many empty draws; the reference loops forever */
  maxTries?: number;
}

/** Max-pool with kernel = stride = (trunc(H/featSize), trunc(W/featSize)), no padding (torch max_pool2d). */
export function maxPoolMask(mask: ArrayLike<number>, height: number, width: number, featSize: number): { data: Float32Array; featH: number; featW: number } {
  const ky = Math.trunc(height / featSize),
    kx = Math.trunc(width / featSize);
  if (ky < 1 || kx < 1) throw new Error(`maxPoolMask: feature size ${featSize} exceeds image ${height}x${width}`);
  const featH = Math.floor(height / ky),
    featW = Math.floor(width / kx);
  const data = new Float32Array(featH * featW);
  for (let fy = 0; fy < featH; fy++) {
    for (let fx = 0; fx < featW; fx++) {
      let m = 0;
      for (let y = fy * ky; y < (fy + 1) * ky; y++) {
        for (let x = fx * kx; x < (fx + 1) * kx; x++) if (mask[y * width + x]! > m) m = mask[y * width + x]!;
      }
      data[fy * featW + fx] = m;
    }
  }
  return { data, featH, featW };
}

/** perlin_mask(..., flag=1): the (mask_s, mask_l) pair of GLASS, for an image of height x width. */
export function perlinMask(height: number, width: number, featSize: number, rng: Rng, opts: PerlinMaskOptions = {}): PerlinMask {
  const fg = opts.foreground ?? null;
  const n = height * width;
  if (fg) {
    if (fg.length !== n) throw new Error(`perlinMask: foreground mask has ${fg.length} values for ${height}x${width}`);
    let any = false;
    for (let i = 0; i < n && !any; i++) any = fg[i]! > 0;
    if (!any) throw new Error('perlinMask: foreground mask is empty, no anomaly can be placed');
  }
  const maxTries = opts.maxTries ?? 1000;
  for (let tries = 1; tries <= maxTries; tries++) {
    const a = perlinThreshold(height, width, rng, opts);
    const b = perlinThreshold(height, width, rng, opts);
    const u = rng.random();
    const combine: PerlinCombine = u > 2 / 3 ? 'union' : u > 1 / 3 ? 'intersection' : 'single';
    const maskL = new Float32Array(n);
    let any = false;
    for (let i = 0; i < n; i++) {
      let v = combine === 'union' ? a[i]! | b[i]! : combine === 'intersection' ? a[i]! & b[i]! : a[i]!;
      if (fg && !(fg[i]! > 0)) v = 0;
      maskL[i] = v;
      if (v) any = true;
    }
    if (!any) continue; // the pooled mask would be all zero too
    const pooled = maxPoolMask(maskL, height, width, featSize);
    let anyS = false;
    for (let i = 0; i < pooled.data.length && !anyS; i++) anyS = pooled.data[i]! > 0;
    if (!anyS) continue; // mask only in the rows/columns max-pool drops
    return { maskL, maskS: pooled.data, featH: pooled.featH, featW: pooled.featW, combine, tries };
  }
  throw new Error(`perlinMask: no non-empty mask in ${maxTries} draws (${height}x${width}, feature size ${featSize})`);
}
