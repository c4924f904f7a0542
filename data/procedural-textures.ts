// Built-in anomaly-source textures for local anomaly synthesis (data/las.ts), for users who have no
// texture folder such as DTD: a fixed bank of BUILTIN_TEXTURE_COUNT seeded procedural RGB textures in
// DTD-like families (clouds, marble, wood, cells, cracks, stripes, checks, plaid, weave, dots, fibres,
// speckle, blotches), each with its own palette, scale and contrast. Texture i is a pure function
// of i (and the size), so loader workers regenerate exactly the pixels the main thread would.
// Patterns live in image-relative coordinates, and pixel-scale details (line widths, dot radii,
// thread size) scale with size / 256, so one texture rendered larger is the same picture, sharper.
import type { Image } from './pixels.ts';
import { Rng, deriveSeed } from './rng.ts';

export const BUILTIN_TEXTURE_COUNT = 64;
/** The side of a builtin texture when nothing asks for more (DTD images are 300-640 px). */
export const BUILTIN_TEXTURE_SIZE = 256;
export const BUILTIN_TEXTURE_PREFIX = 'builtin:';

export const BUILTIN_TEXTURE_FAMILIES = [
  'clouds',
  'marble',
  'wood',
  'cells',
  'cracks',
  'stripes',
  'checks',
  'plaid',
  'weave',
  'dots',
  'fibres',
  'speckle',
  'blotches',
] as const;
export type BuiltinTextureFamily = (typeof BUILTIN_TEXTURE_FAMILIES)[number];

// Changing this (or any generator) changes every texture: the bank is meant to be fixed.
const BANK_SEED = 0x6c415353;

/** Families are interleaved so that any prefix of the bank is already varied. */
export function builtinTextureFamily(index: number): BuiltinTextureFamily {
  checkIndex(index);
  return BUILTIN_TEXTURE_FAMILIES[index % BUILTIN_TEXTURE_FAMILIES.length]!;
}

/** `builtin:<family>-<index>`, e.g. builtin:marble-07; the number is the bank index. */
export function builtinTextureName(index: number): string {
  return `${BUILTIN_TEXTURE_PREFIX}${builtinTextureFamily(index)}-${String(index).padStart(2, '0')}`;
}

export function builtinTextureNames(): string[] {
  return Array.from({ length: BUILTIN_TEXTURE_COUNT }, (_, i) => builtinTextureName(i));
}

export function isBuiltinTexture(name: string): boolean {
  return name.startsWith(BUILTIN_TEXTURE_PREFIX);
}

/** The bank index of a builtin name; the family must match so that a stale or mistyped name fails loudly. */
export function parseBuiltinTexture(name: string): number {
  const m = /^builtin:([a-z]+)-(\d+)$/.exec(name);
  const index = m ? Number(m[2]) : -1;
  if (!m || index >= BUILTIN_TEXTURE_COUNT || builtinTextureFamily(index) !== m[1]) {
    throw new Error(
      `texture ${name}: not a builtin texture (expected builtin:<family>-<index>, e.g. ${builtinTextureName(1)}, index < ${BUILTIN_TEXTURE_COUNT})`,
    );
  }
  return index;
}

/** Builtin texture `index` as a size x size RGB image (deterministic). */
export function builtinTexture(index: number, size = BUILTIN_TEXTURE_SIZE): Image {
  const family = builtinTextureFamily(index);
  if (!Number.isInteger(size) || size < 8) throw new Error(`builtinTexture: size must be an integer >= 8, got ${size}`);
  const c = new Canvas(size, new Rng(deriveSeed(BANK_SEED, index)));
  GENERATORS[family](c);
  finish(c);
  return c.toImage();
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= BUILTIN_TEXTURE_COUNT) {
    throw new Error(`builtin texture index ${index} out of range (0..${BUILTIN_TEXTURE_COUNT - 1})`);
  }
}

// ------------------------------------------------------------------------------------ noise

const fade = (t: number) => t * t * t * (t * (t * 6 - 15) + 10);
const clamp01 = (t: number) => (t < 0 ? 0 : t > 1 ? 1 : t);
const smoothstep = (a: number, b: number, x: number) => {
  const t = clamp01((x - a) / (b - a));
  return t * t * (3 - 2 * t);
};
const frac = (x: number) => x - Math.floor(x);

/** 2-D gradient noise with a seeded permutation and gradient table (values roughly in [-0.7, 0.7]). */
class Noise {
  private readonly perm = new Uint8Array(512);
  private readonly gx = new Float64Array(256);
  private readonly gy = new Float64Array(256);
  // octave weights (normalised to sum 1) for the last (octaves, gain) asked for
  private readonly amps = new Float64Array(MAX_OCTAVES);
  private gain = NaN;
  private octaves = 0;

  constructor(rng: Rng) {
    const p = rng.permutation(256);
    for (let i = 0; i < 512; i++) this.perm[i] = p[i & 255]!;
    for (let i = 0; i < 256; i++) {
      const a = (2 * Math.PI * (i + rng.random())) / 256; // evenly spread directions, no clumping
      this.gx[i] = Math.cos(a);
      this.gy[i] = Math.sin(a);
    }
  }

  at(x: number, y: number): number {
    const xf = Math.floor(x),
      yf = Math.floor(y);
    const fx = x - xf,
      fy = y - yf;
    const P = this.perm,
      GX = this.gx,
      GY = this.gy;
    const X = xf & 255,
      Y = yf & 255; // & wraps negatives too, so any coordinate is valid
    const a = P[X]! + Y,
      b = P[X + 1]! + Y;
    const h00 = P[a]!,
      h01 = P[a + 1]!,
      h10 = P[b]!,
      h11 = P[b + 1]!;
    const n00 = fx * GX[h00]! + fy * GY[h00]!;
    const n10 = (fx - 1) * GX[h10]! + fy * GY[h10]!;
    const n01 = fx * GX[h01]! + (fy - 1) * GY[h01]!;
    const n11 = (fx - 1) * GX[h11]! + (fy - 1) * GY[h11]!;
    const u = fade(fx),
      v = fade(fy);
    const x0 = n00 + u * (n10 - n00),
      x1 = n01 + u * (n11 - n01);
    return x0 + v * (x1 - x0);
  }

  /**
   * Fractal sum of octaves [from, to) of `octaves`, normalised by the weight of all of them, so that a
   * field can be split into its low octaves (sampled coarsely) and its high ones (per pixel) and summed
   * back.
   */
  fbm(x: number, y: number, octaves: number, gain = 0.5, from = 0, to = octaves): number {
    return this.sum(0, x, y, octaves, gain, from, to);
  }

  /** Sum of |noise|: creases where the noise crosses zero (marble veins, wood turbulence). */
  turbulence(x: number, y: number, octaves: number, gain = 0.5, from = 0, to = octaves): number {
    return this.sum(1, x, y, octaves, gain, from, to);
  }

  /** Ridged fBm: sharp bright ridges (vein networks). */
  ridged(x: number, y: number, octaves: number, gain = 0.5, from = 0, to = octaves): number {
    return this.sum(2, x, y, octaves, gain, from, to);
  }

  private sum(kind: number, x: number, y: number, octaves: number, gain: number, from: number, to: number): number {
    if (gain !== this.gain || octaves !== this.octaves) {
      this.gain = gain;
      this.octaves = octaves;
      let norm = 0;
      for (let o = 0, a = 1; o < octaves; o++, a *= gain) norm += a;
      for (let o = 0, a = 1; o < octaves; o++, a *= gain) this.amps[o] = a / norm;
    }
    let sum = 0;
    for (let o = from; o < to; o++) {
      const amp = this.amps[o]!;
      // octave o's coordinates in closed form, so that skipped low octaves cost nothing
      const n = this.at(OCT[o * 6]! * x + OCT[o * 6 + 1]! * y + OCT[o * 6 + 4]!, OCT[o * 6 + 2]! * x + OCT[o * 6 + 3]! * y + OCT[o * 6 + 5]!);
      if (kind === 0) sum += amp * n;
      else if (kind === 1) sum += amp * Math.abs(n);
      else {
        const r = 1 - Math.abs(n) * 1.4;
        sum += amp * r * r;
      }
    }
    return sum;
  }
}

/**
 * Per octave o, the affine map (a b; c d | e f) from octave 0's coordinates: each octave doubles the
 * frequency through a rotation by atan(3/4) and a shift, so lattice artefacts of octaves do not line up.
 */
const MAX_OCTAVES = 12;
const OCT = (() => {
  const t = new Float64Array(MAX_OCTAVES * 6);
  let a = 1,
    b = 0,
    c = 0,
    d = 1,
    e = 0,
    f = 0;
  for (let o = 0; o < MAX_OCTAVES; o++) {
    t.set([a, b, c, d, e, f], o * 6);
    [a, b, c, d, e, f] = [1.6 * a + 1.2 * c, 1.6 * b + 1.2 * d, -1.2 * a + 1.6 * c, -1.2 * b + 1.6 * d, 1.6 * e + 1.2 * f + 17.31, -1.2 * e + 1.6 * f + 5.83];
  }
  return t;
})();

/** How many octaves from base frequency `freq` (cycles per image) keep at least `minPx` pixels per cycle. */
function octavesFor(freq: number, want: number, size: number, minPx = 4): number {
  let o = 1;
  while (o < want && o < MAX_OCTAVES && freq * 2 ** o <= size / minPx) o++;
  return o;
}

/**
 * Worley (cellular) noise on a toroidal grid of g x g jittered points, in cell units: F1, F2 (nearest
 * and second-nearest distances) and the nearest point's cell id. The points are stored with a
 * one-cell border of wrapped copies, so the 3 x 3 search needs no modulo.
 */
class Worley {
  private readonly px: Float64Array;
  private readonly py: Float64Array;
  private readonly pid: Int32Array;

  constructor(
    readonly g: number,
    rng: Rng,
    jitter: number,
  ) {
    const jx = new Float64Array(g * g),
      jy = new Float64Array(g * g);
    for (let i = 0; i < g * g; i++) {
      jx[i] = 0.5 + jitter * (rng.random() - 0.5);
      jy[i] = 0.5 + jitter * (rng.random() - 0.5);
    }
    const G = g + 2;
    this.px = new Float64Array(G * G);
    this.py = new Float64Array(G * G);
    this.pid = new Int32Array(G * G);
    for (let yy = -1; yy <= g; yy++) {
      for (let xx = -1; xx <= g; xx++) {
        const j = ((yy + g) % g) * g + ((xx + g) % g),
          p = (yy + 1) * G + xx + 1;
        this.px[p] = xx + jx[j]!;
        this.py[p] = yy + jy[j]!;
        this.pid[p] = j;
      }
    }
  }

  /** F1, F2 and the id for point (x, y) in cell units (any value: it wraps), into f1[k], f2[k], id[k]. */
  eval(x: number, y: number, k: number, f1: Float32Array, f2: Float32Array, id: Int32Array): void {
    const g = this.g,
      G = g + 2;
    x -= g * Math.floor(x / g);
    y -= g * Math.floor(y / g);
    const cx = Math.min(g - 1, Math.floor(x)),
      cy = Math.min(g - 1, Math.floor(y));
    const PX = this.px,
      PY = this.py;
    let d1 = 1e9,
      d2 = 1e9,
      best = 0;
    for (let dy = 0; dy < 3; dy++) {
      const row = (cy + dy) * G + cx;
      for (let dx = 0; dx < 3; dx++) {
        const p = row + dx;
        const ex = PX[p]! - x,
          ey = PY[p]! - y;
        const d = ex * ex + ey * ey;
        if (d < d1) {
          d2 = d1;
          d1 = d;
          best = p;
        } else if (d < d2) d2 = d;
      }
    }
    f1[k] = Math.sqrt(d1);
    f2[k] = Math.sqrt(d2);
    id[k] = this.pid[best]!;
  }

  /** The whole image at g cells per side, through a coordinate warp (image units). */
  image(c: Canvas, wx: Float32Array | null, wy: Float32Array | null): { f1: Float32Array; f2: Float32Array; id: Int32Array } {
    const f1 = new Float32Array(c.n),
      f2 = new Float32Array(c.n),
      id = new Int32Array(c.n);
    const g = this.g,
      S = c.size;
    for (let y = 0, k = 0; y < S; y++) {
      for (let x = 0; x < S; x++, k++) {
        const u = x / S + (wx ? wx[k]! : 0),
          v = y / S + (wy ? wy[k]! : 0);
        this.eval(u * g, v * g, k, f1, f2, id);
      }
    }
    return { f1, f2, id };
  }
}

// ---------------------------------------------------------------------------------- colours

type RGB = [number, number, number];

function hsl(h: number, s: number, l: number): RGB {
  const f = (n: number) => {
    const k = (n + h * 12) % 12;
    return 255 * (l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1)));
  };
  return [f(0), f(8), f(4)];
}

const lum = (c: RGB) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];

/**
 * n colours ordered dark to light, with a lightness spread of `spread` (0..1). Schemes cover what DTD
 * shows: greys, earth tones, one hue in several shades, complementary pairs and arbitrary mixes.
 */
function palette(rng: Rng, n: number, spread = rng.uniform(0.35, 0.85)): RGB[] {
  const scheme = rng.choice(['grey', 'grey', 'earth', 'earth', 'mono', 'analogous', 'complement', 'random'] as const);
  const base = rng.random();
  const sat = scheme === 'grey' ? rng.uniform(0, 0.08) : scheme === 'earth' ? rng.uniform(0.2, 0.6) : rng.uniform(0.2, 0.9);
  const lo = rng.uniform(0.04, Math.max(0.05, 0.96 - spread));
  const out: RGB[] = [];
  for (let i = 0; i < n; i++) {
    const l = lo + (spread * (i + rng.uniform(-0.25, 0.25) * (n > 1 ? 1 : 0))) / Math.max(1, n - 1);
    let h = base;
    if (scheme === 'earth') h = rng.uniform(0.02, 0.14);
    else if (scheme === 'analogous') h = base + rng.uniform(-0.09, 0.09);
    else if (scheme === 'complement') h = base + (i % 2) * 0.5 + rng.uniform(-0.03, 0.03);
    else if (scheme === 'random') h = rng.random();
    const s = scheme === 'grey' ? sat : clamp01(sat * rng.uniform(0.6, 1.3));
    out.push(hsl(frac(h), s, clamp01(l)));
  }
  return out.sort((a, b) => lum(a) - lum(b));
}

/**
 * A 256-entry colour map through the palette stops, after a random gamma and contrast curve; the
 * stops are reversed half the time so that e.g. veins are dark on light or light on dark.
 */
function colourMap(rng: Rng, cols: RGB[], opts: { flip?: boolean; steps?: boolean } = {}): Float32Array {
  const stops = (opts.flip ?? rng.bernoulli(0.5)) ? [...cols].reverse() : cols;
  const gamma = Math.exp(rng.uniform(-0.6, 0.6));
  const sharp = rng.uniform(0, 1);
  const lut = new Float32Array(256 * 3);
  const m = stops.length;
  for (let i = 0; i < 256; i++) {
    let t = Math.pow(i / 255, gamma);
    t += sharp * (smoothstep(0, 1, t) - t);
    let a: RGB, b: RGB, f: number;
    if (opts.steps || m === 1) {
      a = b = stops[Math.min(m - 1, Math.floor(t * m))]!;
      f = 0;
    } else {
      const p = t * (m - 1),
        k = Math.min(m - 2, Math.floor(p));
      a = stops[k]!;
      b = stops[k + 1]!;
      f = p - k;
    }
    for (let ch = 0; ch < 3; ch++) lut[i * 3 + ch] = a[ch]! + (b[ch]! - a[ch]!) * f;
  }
  return lut;
}

// ----------------------------------------------------------------------------------- canvas

/** Float RGB buffer (0..255 scale) plus the texture's parameter stream. */
class Canvas {
  readonly n: number;
  readonly rgb: Float32Array;
  /** pixel-scale details are specified for 256 px and scaled by this */
  readonly px: number;

  constructor(
    readonly size: number,
    readonly rng: Rng,
  ) {
    this.n = size * size;
    this.rgb = new Float32Array(this.n * 3);
    this.px = size / BUILTIN_TEXTURE_SIZE;
  }

  /**
   * A scalar field f(u, v, k), u and v in [0, 1) image coordinates and k the pixel index, min-max
   * normalised to [0, 1] unless `raw`. Smooth fields pass `step` (pixels at 256 px): f is then sampled
   * on a grid that coarse and bilinearly upsampled, which makes low-frequency layers nearly free
   * (k is then -1). With `addTo` the field is added to that array (raw) instead.
   */
  field(f: (u: number, v: number, k: number) => number, step = 1, raw = false, addTo?: Float32Array): Float32Array {
    const { size } = this;
    const t = addTo ?? new Float32Array(this.n);
    const s = Math.max(1, Math.round(step * this.px));
    if (s === 1) {
      for (let y = 0, k = 0; y < size; y++) {
        const v = y / size;
        if (addTo) for (let x = 0; x < size; x++, k++) t[k] = t[k]! + f(x / size, v, k);
        else for (let x = 0; x < size; x++, k++) t[k] = f(x / size, v, k);
      }
    } else {
      const gs = Math.floor((size - 1) / s) + 2;
      const grid = new Float32Array(gs * gs);
      for (let j = 0, k = 0; j < gs; j++) for (let i = 0; i < gs; i++, k++) grid[k] = f((i * s) / size, (j * s) / size, -1);
      const ix = new Int32Array(size),
        fx = new Float32Array(size);
      for (let x = 0; x < size; x++) {
        ix[x] = Math.floor(x / s);
        fx[x] = (x - ix[x]! * s) / s;
      }
      for (let y = 0, k = 0; y < size; y++) {
        const r0 = ix[y]! * gs,
          r1 = r0 + gs,
          b = fx[y]!;
        for (let x = 0; x < size; x++, k++) {
          const i = ix[x]!,
            a = fx[x]!;
          const top = grid[r0 + i]! + (grid[r0 + i + 1]! - grid[r0 + i]!) * a;
          const bot = grid[r1 + i]! + (grid[r1 + i + 1]! - grid[r1 + i]!) * a;
          t[k] = (addTo ? t[k]! : 0) + top + (bot - top) * b;
        }
      }
    }
    return raw ? t : normalize(t);
  }

  /** Colours the canvas through a colour map, blending with alpha (a number or a per-pixel map). */
  paint(t: Float32Array, lut: Float32Array, alpha: number | Float32Array = 1): void {
    const o = this.rgb,
      am = typeof alpha === 'number' ? null : alpha,
      a0 = typeof alpha === 'number' ? alpha : 0;
    for (let k = 0; k < this.n; k++) {
      const a = am ? am[k]! : a0;
      if (a <= 0) continue;
      const i = ((clamp01(t[k]!) * 255 + 0.5) | 0) * 3;
      const j = k * 3;
      o[j] = o[j]! + (lut[i]! - o[j]!) * a;
      o[j + 1] = o[j + 1]! + (lut[i + 1]! - o[j + 1]!) * a;
      o[j + 2] = o[j + 2]! + (lut[i + 2]! - o[j + 2]!) * a;
    }
  }

  fill(c: RGB): void {
    for (let k = 0; k < this.n * 3; k++) this.rgb[k] = c[k % 3]!;
  }

  /** Multiplies brightness by a per-pixel factor (shading). */
  shade(s: Float32Array): void {
    const o = this.rgb;
    for (let k = 0; k < this.n; k++) {
      const f = s[k]!;
      o[k * 3] = o[k * 3]! * f;
      o[k * 3 + 1] = o[k * 3 + 1]! * f;
      o[k * 3 + 2] = o[k * 3 + 2]! * f;
    }
  }

  /** Blends colour c into pixel (x, y) with weight a; off-canvas pixels wrap, so lines can leave and re-enter. */
  blend(x: number, y: number, c: RGB, a: number): void {
    const s = this.size;
    const k = x >= 0 && y >= 0 && x < s && y < s ? y * s + x : (((y % s) + s) % s) * s + (((x % s) + s) % s);
    const o = this.rgb,
      j = k * 3;
    o[j] = o[j]! + (c[0] - o[j]!) * a;
    o[j + 1] = o[j + 1]! + (c[1] - o[j + 1]!) * a;
    o[j + 2] = o[j + 2]! + (c[2] - o[j + 2]!) * a;
  }

  /** An anti-aliased soft disk of radius r px (r < 1 deposits a bilinear splat). */
  dot(x: number, y: number, r: number, c: RGB, a: number): void {
    if (r < 1) {
      const x0 = Math.floor(x),
        y0 = Math.floor(y),
        fx = x - x0,
        fy = y - y0;
      const w = a * Math.max(0.35, r);
      this.blend(x0, y0, c, w * (1 - fx) * (1 - fy));
      this.blend(x0 + 1, y0, c, w * fx * (1 - fy));
      this.blend(x0, y0 + 1, c, w * (1 - fx) * fy);
      this.blend(x0 + 1, y0 + 1, c, w * fx * fy);
      return;
    }
    const R = Math.ceil(r + 1);
    const cx = Math.floor(x),
      cy = Math.floor(y);
    for (let yy = cy - R; yy <= cy + R; yy++) {
      for (let xx = cx - R; xx <= cx + R; xx++) {
        const d = Math.hypot(xx + 0.5 - x, yy + 0.5 - y);
        const cov = clamp01(r + 0.5 - d);
        if (cov > 0) this.blend(xx, yy, c, a * cov);
      }
    }
  }

  toImage(): Image {
    const clamped = new Uint8ClampedArray(this.n * 3);
    clamped.set(this.rgb); // clamps and rounds in native code
    return { width: this.size, height: this.size, channels: 3, data: new Uint8Array(clamped.buffer) };
  }
}

function normalize(t: Float32Array): Float32Array {
  let lo = Infinity,
    hi = -Infinity;
  for (let k = 0; k < t.length; k++) {
    const v = t[k]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const s = hi > lo ? 1 / (hi - lo) : 0;
  for (let k = 0; k < t.length; k++) t[k] = (t[k]! - lo) * s;
  return t;
}

/** Cheap zero-mean noise in about [-1, 1] (triangular), for per-pixel grain. */
function grain(r: Rng): number {
  return (r.nextU32() + r.nextU32()) / 4294967296 - 1;
}

/** Global finishing: optional film grain and uneven illumination, as in photographed textures. */
function finish(c: Canvas): void {
  const rng = c.rng.fork(99);
  const o = c.rgb;
  if (rng.bernoulli(0.35)) {
    const n = new Noise(rng),
      f = rng.uniform(0.5, 1.5),
      amt = rng.uniform(0.1, 0.3);
    const light = c.field((u, v) => n.fbm(u * f, v * f, 2), 8);
    for (let k = 0; k < c.n; k++) {
      const m = 1 + amt * (light[k]! - 0.5);
      o[k * 3] = o[k * 3]! * m;
      o[k * 3 + 1] = o[k * 3 + 1]! * m;
      o[k * 3 + 2] = o[k * 3 + 2]! * m;
    }
  }
  if (rng.bernoulli(0.5)) {
    const amp = rng.uniform(2, 10);
    for (let k = 0; k < c.n; k++) {
      const g = amp * grain(rng);
      o[k * 3] = o[k * 3]! + g;
      o[k * 3 + 1] = o[k * 3 + 1]! + g;
      o[k * 3 + 2] = o[k * 3 + 2]! + g;
    }
  }
}

/** Low-frequency coordinate warp (two fBm fields), amplitude in image units; null when amp is 0. */
function warpFields(c: Canvas, amp: number, freq: number): [Float32Array, Float32Array] | [null, null] {
  const nx = new Noise(c.rng),
    ny = new Noise(c.rng);
  if (!(amp > 0)) return [null, null];
  return [c.field((u, v) => amp * nx.fbm(u * freq, v * freq, 3), 4, true), c.field((u, v) => amp * ny.fbm(u * freq + 31.7, v * freq + 11.3, 3), 4, true)];
}

// ------------------------------------------------------------------------------- generators

/**
 * An octave sum g(u, v, from, to), octave 0 at `freq` cycles per image, raw (not normalised). Each
 * octave is sampled as coarsely as its wavelength allows (every 4 px from 24 px per cycle, every 2 px
 * from 8) and bilinearly upsampled: only octaves finer than 8 px per cycle cost a lookup per pixel.
 */
function octaveField(c: Canvas, g: (u: number, v: number, from: number, to: number) => number, freq: number, octaves: number): Float32Array {
  const out = new Float32Array(c.n);
  let o = 0;
  for (const [step, minPx] of [
    [4, 24],
    [2, 8],
    [1, 0],
  ] as const) {
    const from = o;
    while (o < octaves && BUILTIN_TEXTURE_SIZE / (freq * 2 ** o) >= minPx) o++;
    if (o === from) continue;
    const to = o;
    c.field((u, v) => g(u, v, from, to), step, true, out);
  }
  return out;
}

/** x^p for x in [0, 1] through a 1024-entry table (Math.pow per pixel is a large share of a texture's time). */
function powTable(p: number): (x: number) => number {
  const tab = new Float32Array(1025);
  for (let i = 0; i <= 1024; i++) tab[i] = Math.pow(i / 1024, p);
  return (x) => {
    const f = clamp01(x) * 1024,
      i = Math.floor(f);
    return i >= 1024 ? tab[1024]! : tab[i]! + (tab[i + 1]! - tab[i]!) * (f - i);
  };
}

/** fBm clouds: plain, domain-warped (swirly), ridged (vein networks) or billowy. */
function clouds(c: Canvas): void {
  const r = c.rng;
  const variant = r.choice(['plain', 'warped', 'warped', 'ridged', 'billow'] as const);
  const freq = r.uniform(2, 9),
    gain = r.uniform(0.4, 0.65);
  const oct = octavesFor(freq, r.int(3, 7), c.size);
  const fx = freq * Math.exp(r.uniform(-0.7, 0.7)),
    fy = (freq * freq) / fx,
    warp = r.uniform(0.4, 1.5);
  const n = new Noise(r),
    w1 = new Noise(r),
    w2 = new Noise(r);
  const sum = variant === 'ridged' ? n.ridged.bind(n) : variant === 'billow' ? n.turbulence.bind(n) : n.fbm.bind(n);
  if (variant !== 'warped') {
    c.paint(normalize(octaveField(c, (u, v, a, b) => sum(u * fx, v * fy, oct, gain, a, b), freq, oct)), colourMap(r, palette(r, r.int(2, 5))));
    return;
  }
  // the warp is smooth: sampled coarsely; the warped sum has higher local frequencies, so per pixel
  const qx = c.field((u, v) => w1.fbm(u * fx * 0.5, v * fy * 0.5, 3), 4, true);
  const qy = c.field((u, v) => w2.fbm(u * fx * 0.5 + 5.2, v * fy * 0.5 + 1.3, 3), 4, true);
  const t = c.field((u, v, k) => n.fbm(u * fx + warp * 4 * qx[k]!, v * fy + warp * 4 * qy[k]!, Math.min(oct, 4), gain));
  c.paint(t, colourMap(r, palette(r, r.int(2, 5))));
}

/** Marble: a sine along one direction bent by turbulence into veins, over faint clouds. */
function marble(c: Canvas): void {
  const r = c.rng;
  const a = r.uniform(0, Math.PI),
    ca = Math.cos(a),
    sa = Math.sin(a);
  const f = r.uniform(1, 5),
    tf = r.uniform(1.5, 5),
    power = r.uniform(2, 7),
    sharp = r.uniform(0.12, 0.6);
  const n = new Noise(r),
    cl = new Noise(r),
    cloud = r.uniform(0.05, 0.3);
  const to = octavesFor(tf, 5, c.size),
    co = octavesFor(4, 3, c.size);
  const turb = octaveField(c, (u, v, lo, hi) => n.turbulence(u * tf, v * tf, to, 0.5, lo, hi), tf, to);
  const clouds = normalize(octaveField(c, (u, v, lo, hi) => cl.fbm(u * 4, v * 4, co, 0.5, lo, hi), 4, co));
  const vein = powTable(sharp);
  const t = c.field((u, v, k) => {
    const s = (u * ca + v * sa) * f * 2 * Math.PI + power * turb[k]!;
    return (1 - cloud) * vein(Math.abs(Math.sin(s))) + cloud * clouds[k]!;
  });
  c.paint(t, colourMap(r, palette(r, r.int(2, 5), r.uniform(0.4, 0.8))));
}

/** Wood: rings about a (possibly off-image) centre, stretched along the grain, wobbled, with fibres. */
function wood(c: Canvas): void {
  const r = c.rng;
  const cx = r.uniform(-1.5, 2.5),
    cy = r.uniform(-1.5, 2.5);
  const a = r.uniform(0, Math.PI),
    ca = Math.cos(a),
    sa = Math.sin(a);
  const stretch = r.uniform(0.1, 0.8),
    rings = r.uniform(8, 35),
    wobble = r.uniform(0.01, 0.08),
    k = Math.exp(r.uniform(-1, 1.2));
  const fib = r.uniform(0.05, 0.3);
  const n = new Noise(r),
    g = new Noise(r);
  const wo = octavesFor(3, 4, c.size);
  const late = powTable(k); // latewood: a sharp edge at one side of each ring
  const wob = octaveField(c, (u, v, lo, hi) => n.fbm(u * 3, v * 3, wo, 0.5, lo, hi), 3, wo);
  const t = c.field((u, v, i) => {
    const dx = u - cx,
      dy = v - cy;
    const p = (dx * ca + dy * sa) * stretch,
      q = -dx * sa + dy * ca;
    const d = Math.sqrt(p * p + q * q) + wobble * wob[i]!;
    const ring = late(frac(d * rings));
    return (1 - fib) * ring + fib * (g.at((u * ca + v * sa) * 4, (-u * sa + v * ca) * 120) + 0.5);
  });
  const earthy = r.bernoulli(0.7);
  const cols = earthy
    ? [hsl(r.uniform(0.04, 0.11), r.uniform(0.3, 0.7), r.uniform(0.12, 0.3)), hsl(r.uniform(0.05, 0.12), r.uniform(0.3, 0.7), r.uniform(0.4, 0.75))]
    : palette(r, r.int(2, 4));
  c.paint(t, colourMap(r, cols));
}

/** Cellular: pebbles / scales / cobbles (a colour per cell, domed, with mortar), or bubbly F1 fields. */
function cells(c: Canvas): void {
  const r = c.rng;
  const variant = r.choice(['pebbles', 'pebbles', 'bubbles', 'membrane'] as const);
  const g = r.int(4, 16),
    jitter = r.uniform(0.5, 1);
  const W = new Worley(g, r, jitter);
  const [wx, wy] = warpFields(c, r.uniform(0, 0.4) / g, r.uniform(2, 6));
  const { f1, f2, id } = W.image(c, wx, wy);
  const lut = colourMap(r, palette(r, r.int(2, 5)));
  if (variant === 'bubbles' || variant === 'membrane') {
    const t = new Float32Array(c.n);
    for (let k = 0; k < c.n; k++) t[k] = variant === 'bubbles' ? f1[k]! : Math.min(1, (f2[k]! - f1[k]!) * 2);
    c.paint(normalize(t), lut);
    return;
  }
  const cellT = Float32Array.from({ length: g * g }, () => r.random());
  const t = new Float32Array(c.n),
    s = new Float32Array(c.n);
  const mortar = r.uniform(0.02, 0.15),
    dome = r.uniform(0.1, 0.6),
    mortarDark = r.uniform(0.2, 0.7);
  for (let k = 0; k < c.n; k++) {
    t[k] = cellT[id[k]!]!;
    const edge = smoothstep(mortar * 0.5, mortar * 1.5, f2[k]! - f1[k]!);
    s[k] = (1 - dome * f1[k]! * f1[k]!) * (1 - mortarDark + mortarDark * edge);
  }
  c.paint(t, lut);
  c.shade(s);
}

/** Cracked mud / dried paint: plates separated by warped Worley borders, with finer secondary cracks. */
function cracks(c: Canvas): void {
  const r = c.rng;
  const g = r.int(3, 10),
    width = r.uniform(0.03, 0.1);
  const W = new Worley(g, r, r.uniform(0.7, 1));
  const fine = r.bernoulli(0.6) ? new Worley(g * r.int(2, 4), r, 1) : null;
  const [wx, wy] = warpFields(c, r.uniform(0.1, 0.35) / g, r.uniform(3, 8));
  const { f1, f2, id } = W.image(c, wx, wy);
  const sub = fine ? fine.image(c, wx, wy) : null;
  // mud: two close colours through clouds, plus a brightness per plate
  const mud = new Noise(r),
    mf = r.uniform(4, 16),
    mo = octavesFor(mf, 4, c.size);
  const base = normalize(octaveField(c, (u, v, lo, hi) => mud.fbm(u * mf, v * mf, mo, 0.5, lo, hi), mf, mo));
  c.paint(base, colourMap(r, palette(r, 2, r.uniform(0.1, 0.3))));
  const plate = Float32Array.from({ length: g * g }, () => r.uniform(0.85, 1.1));
  const crackDark = r.uniform(0.1, 0.5),
    curl = r.uniform(0, 0.35);
  const s = new Float32Array(c.n);
  for (let k = 0; k < c.n; k++) {
    const e = f2[k]! - f1[k]!;
    let m = smoothstep(width * 0.5, width, e);
    if (sub) m *= 1 - 0.7 * (1 - smoothstep(width * 0.25, width * 0.6, sub.f2[k]! - sub.f1[k]!)) * smoothstep(width, 3 * width, e);
    const rim = 1 - curl * (1 - smoothstep(width, width * 4, e));
    s[k] = plate[id[k]!]! * rim * (crackDark + (1 - crackDark) * m);
  }
  c.shade(s);
}

/** Stripes: sine / square / triangle / sawtooth bands, optionally zig-zagged, wavy, coloured per band. */
function stripes(c: Canvas): void {
  const r = c.rng;
  const a = r.bernoulli(0.5) ? r.choice([0, Math.PI / 2, Math.PI / 4]) + r.uniform(-0.1, 0.1) : r.uniform(0, Math.PI);
  const ca = Math.cos(a),
    sa = Math.sin(a);
  const f = r.uniform(3, 40),
    profile = r.choice(['sine', 'square', 'square', 'triangle', 'saw'] as const),
    duty = r.uniform(0.2, 0.8);
  const dist = r.bernoulli(0.6) ? r.uniform(0.05, 0.8) : 0,
    df = r.uniform(1, 5);
  const zig = r.bernoulli(0.25) ? r.uniform(0.2, 1.2) : 0,
    zf = r.uniform(4, 20);
  const edge = r.uniform(0.02, 0.15);
  const n = new Noise(r);
  const nb = r.int(2, 5);
  const perBand = r.bernoulli(0.5);
  const wave = dist ? c.field((u, v) => 2 * dist * n.fbm(u * df, v * df, 3), 4, true) : null;
  const band = new Uint8Array(c.n);
  const t = c.field((u, v, k) => {
    let s = (u * ca + v * sa) * f;
    if (wave) s += wave[k]!;
    if (zig) s += zig * Math.abs(frac((-u * sa + v * ca) * zf) - 0.5) * 2;
    const ph = frac(s);
    band[k] = ((Math.floor(s) % nb) + nb) % nb;
    if (profile === 'sine') return 0.5 + 0.5 * Math.sin(ph * 2 * Math.PI);
    // signed distance (in periods) to the nearest on/off boundary, positive inside the 'on' part
    if (profile === 'square') return smoothstep(-edge, edge, ph < duty ? Math.min(ph, duty - ph) : -Math.min(ph - duty, 1 - ph));
    if (profile === 'triangle') return 1 - Math.abs(2 * ph - 1);
    return ph;
  });
  const cols = palette(r, perBand ? nb + 1 : r.int(2, 4));
  if (!perBand) {
    c.paint(t, colourMap(r, cols));
    return;
  }
  // each band its own colour, shaded towards the darkest colour by the profile
  const depth = r.uniform(0.15, 0.6),
    o = c.rgb,
    lo = cols[0]!;
  for (let k = 0; k < c.n; k++) {
    const col = cols[band[k]! + 1]!,
      sh = 1 - depth * (1 - t[k]!);
    for (let ch = 0; ch < 3; ch++) o[k * 3 + ch] = lo[ch]! + (col[ch]! - lo[ch]!) * sh;
  }
}

/** Checks: a rotated, distorted checkerboard with soft or hard edges, or three-tone gingham. */
function checks(c: Canvas): void {
  const r = c.rng;
  const a = r.bernoulli(0.6) ? r.choice([0, Math.PI / 4]) + r.uniform(-0.08, 0.08) : r.uniform(0, Math.PI);
  const ca = Math.cos(a),
    sa = Math.sin(a);
  const f = r.uniform(2, 16),
    k = Math.exp(r.uniform(0.5, 4)),
    dist = r.bernoulli(0.6) ? r.uniform(0.05, 0.5) : 0,
    df = r.uniform(1, 4);
  const gingham = r.bernoulli(0.35);
  const n1 = new Noise(r),
    n2 = new Noise(r);
  const d1 = dist ? c.field((u, v) => 2 * dist * n1.fbm(u * df, v * df, 3), 4, true) : null;
  const d2 = dist ? c.field((u, v) => 2 * dist * n2.fbm(u * df, v * df, 3), 4, true) : null;
  const t = c.field((u, v, i) => {
    const s1 = (u * ca + v * sa) * f + (d1 ? d1[i]! : 0),
      s2 = (-u * sa + v * ca) * f + (d2 ? d2[i]! : 0);
    const a1 = Math.sin(Math.PI * s1),
      a2 = Math.sin(Math.PI * s2);
    return gingham ? Math.tanh(k * a1) + Math.tanh(k * a2) : Math.tanh(k * a1 * a2);
  });
  c.paint(t, colourMap(r, palette(r, r.int(2, 4), r.uniform(0.4, 0.9))));
}

/** Plaid / tartan: a random sett of coloured bands in both directions, woven in twill. */
function plaid(c: Canvas): void {
  const r = c.rng;
  const cols = palette(r, r.int(3, 5), r.uniform(0.4, 0.8));
  const nb = r.int(3, 8);
  const widths = Array.from({ length: nb }, () => r.uniform(0.5, 6));
  const colOf = Array.from({ length: nb }, () => r.int(0, cols.length));
  const total = widths.reduce((s, w) => s + w, 0);
  // the sett sampled at 1024 positions per repeat: colour index by position
  const sett = new Uint8Array(1024);
  for (let i = 0, b = 0, acc = widths[0]!; i < 1024; i++) {
    while ((i / 1024) * total > acc && b < nb - 1) acc += widths[++b]!;
    sett[i] = colOf[b]!;
  }
  const repeats = r.uniform(1.5, 6),
    symmetric = r.bernoulli(0.5);
  const thread = Math.max(1, Math.round(c.px * r.uniform(1, 3)));
  const [wx, wy] = warpFields(c, r.bernoulli(0.5) ? r.uniform(0.005, 0.03) : 0, r.uniform(2, 5));
  const at = (p: number) => {
    let q = frac(p * repeats);
    if (symmetric) q = 1 - Math.abs(2 * q - 1); // mirrored setts are the tartan norm
    return cols[sett[Math.min(1023, Math.floor(q * 1024))]!]!;
  };
  const o = c.rgb;
  const texture = r.uniform(0.05, 0.2);
  for (let y = 0, k = 0; y < c.size; y++) {
    for (let x = 0; x < c.size; x++, k++) {
      const cw = at(x / c.size + (wx ? wx[k]! : 0)),
        cf = at(y / c.size + (wy ? wy[k]! : 0));
      // 2/2 twill: warp threads up on two of every four diagonals, and a little shadow between
      const twill = (Math.floor(x / thread) + Math.floor(y / thread)) & 3;
      const m = twill < 2 ? 0.75 : 0.25;
      const sh = 1 - texture * (twill & 1);
      for (let ch = 0; ch < 3; ch++) o[k * 3 + ch] = (cw[ch]! * m + cf[ch]! * (1 - m)) * sh;
    }
  }
}

/** Woven fabric / basket weave / wickerwork: over-under threads with rounded cross-sections. */
function weave(c: Canvas): void {
  const r = c.rng;
  const f = r.uniform(4, 24),
    k = r.int(1, 4),
    gap = r.uniform(0.02, 0.15),
    fibre = r.uniform(0, 0.35);
  const a = r.bernoulli(0.7) ? r.uniform(-0.1, 0.1) : r.uniform(0, Math.PI),
    ca = Math.cos(a),
    sa = Math.sin(a);
  const dist = r.bernoulli(0.4) ? r.uniform(0.05, 0.3) : 0;
  const n = new Noise(r),
    g = new Noise(r);
  const wave = dist ? c.field((u, v) => 2 * dist * n.fbm(u * 3, v * 3, 2), 4, true) : null;
  const t = c.field((u, v, i) => {
    const s1 = (u * ca + v * sa) * f + (wave ? wave[i]! : 0),
      s2 = (-u * sa + v * ca) * f;
    const ci = Math.floor(s1),
      cj = Math.floor(s2);
    const fu = s1 - ci,
      fv = s2 - cj;
    const horiz = ((ci + cj) & 1) === 0;
    // across the threads on top: k threads per cell, each a rounded bump; along them a slight sag
    const across = horiz ? fv : fu,
      along = horiz ? fu : fv;
    const bump = Math.sin(Math.PI * frac(across * k)) * (0.75 + 0.25 * Math.sin(Math.PI * along));
    const edge = smoothstep(0, gap, Math.min(fu, 1 - fu, fv, 1 - fv));
    const fib = fibre ? fibre * g.at(horiz ? s1 * 2 : s1 * 40, horiz ? s2 * 40 : s2 * 2) : 0;
    return (bump + fib) * edge;
  });
  c.paint(t, colourMap(r, palette(r, r.int(2, 4)), { flip: false }));
}

/** Dots: polka dots on a (staggered) grid, jittered spots of varying size, or leopard-like rings. */
function dots(c: Canvas): void {
  const r = c.rng;
  const variant = r.choice(['polka', 'spots', 'rings'] as const);
  const g = r.int(3, 16);
  const cols = palette(r, r.int(2, 4), r.uniform(0.4, 0.9));
  c.fill(cols[r.bernoulli(0.5) ? 0 : cols.length - 1]!);
  const lut = colourMap(r, cols);
  const soft = r.uniform(0.01, 0.12);
  const [wx, wy] = warpFields(c, r.bernoulli(0.5) ? r.uniform(0.1, 0.4) / g : 0, r.uniform(2, 6));
  const alpha = new Float32Array(c.n),
    t = new Float32Array(c.n);
  if (variant === 'polka') {
    const rad = r.uniform(0.12, 0.45),
      stagger = r.bernoulli(0.5) ? 0.5 : 0;
    const tone = Float32Array.from({ length: 4096 }, () => r.random());
    const multi = r.bernoulli(0.4);
    for (let y = 0, k = 0; y < c.size; y++) {
      for (let x = 0; x < c.size; x++, k++) {
        const sy = (y / c.size + (wy ? wy[k]! : 0)) * g,
          row = Math.floor(sy);
        const sx = (x / c.size + (wx ? wx[k]! : 0)) * g + (row & 1) * stagger,
          col = Math.floor(sx);
        const d = Math.hypot(sx - col - 0.5, sy - row - 0.5);
        alpha[k] = 1 - smoothstep(rad - soft, rad + soft, d);
        t[k] = multi ? tone[(row * 64 + col) & 4095]! : 1 - d / rad;
      }
    }
  } else {
    const W = new Worley(g, r, r.uniform(0.6, 1));
    const { f1, id } = W.image(c, wx, wy);
    const rads = Float32Array.from({ length: g * g }, () => r.uniform(0.1, 0.45));
    const ringW = r.uniform(0.05, 0.15);
    for (let k = 0; k < c.n; k++) {
      const rad = rads[id[k]!]!,
        d = f1[k]!;
      if (variant === 'spots') {
        alpha[k] = 1 - smoothstep(rad - soft, rad + soft, d);
        t[k] = 1 - d / rad;
      } else {
        // a dark ring around a tinted core
        const ring = smoothstep(rad - ringW - soft, rad - ringW, d) * (1 - smoothstep(rad, rad + soft, d));
        alpha[k] = Math.max(ring, 0.6 * (1 - smoothstep(rad - ringW - soft, rad - ringW, d)));
        t[k] = ring > 0.5 ? 0 : 0.7;
      }
    }
  }
  c.paint(t, lut, alpha);
}

/** Fibres and scratches: many thin anti-aliased lines (straight, or bent by a flow field) on a plain ground. */
function fibres(c: Canvas): void {
  const r = c.rng;
  const variant = r.choice(['scratches', 'fibres', 'fibres', 'brushed', 'hair'] as const);
  const cols = palette(r, r.int(4, 6), r.uniform(0.6, 0.9));
  // the ground takes the middle of the palette, lines its dark or light end, so lines always show
  const mid = cols.slice(1, -1),
    light = r.bernoulli(0.5);
  const a0 = r.uniform(0, Math.PI),
    ca = Math.cos(a0),
    sa = Math.sin(a0);
  const gn = new Noise(r),
    gf = r.uniform(2, 8);
  const stretch = variant === 'brushed' ? 30 : 1,
    go = octavesFor(gf * stretch, 4, c.size);
  const ground = normalize(
    octaveField(c, (u, v, lo, hi) => gn.fbm((u * ca + v * sa) * gf, (-u * sa + v * ca) * gf * stretch, go, 0.5, lo, hi), gf * stretch, go),
  );
  c.paint(ground, colourMap(r, [mid[0]!, mid[mid.length - 1]!]));
  const flow = new Noise(r);
  const count = variant === 'scratches' ? r.int(15, 150) : variant === 'brushed' ? r.int(150, 400) : r.int(150, 600);
  const spread =
    variant === 'scratches' ? (r.bernoulli(0.5) ? Math.PI : r.uniform(0.05, 0.6)) : variant === 'brushed' ? r.uniform(0.01, 0.05) : r.uniform(0.1, Math.PI);
  const bend = variant === 'fibres' || variant === 'hair' ? r.uniform(0.5, 3) : 0;
  const lenLo = variant === 'fibres' ? 0.03 : variant === 'hair' ? 0.2 : 0.1,
    lenHi = variant === 'fibres' ? 0.25 : variant === 'hair' ? 0.8 : variant === 'brushed' ? 0.7 : 1.2;
  const wLo = variant === 'brushed' ? 0.5 : 0.8,
    wHi = variant === 'scratches' ? 3 : variant === 'brushed' ? 1.2 : 2;
  const S = c.size,
    step = 1;
  for (let i = 0; i < count; i++) {
    let x = r.uniform(0, S),
      y = r.uniform(0, S);
    let ang = a0 + r.uniform(-spread, spread);
    const len = r.uniform(lenLo, lenHi) * S,
      w = r.uniform(wLo, wHi) * c.px;
    const col = light ? cols[cols.length - 1 - r.int(0, 1 + (cols.length > 3 ? 1 : 0))]! : cols[r.int(0, 1 + (cols.length > 3 ? 1 : 0))]!;
    const alpha = r.uniform(0.35, 0.9);
    const seed = r.uniform(0, 100);
    for (let s = 0; s < len; s += step) {
      const taper = Math.min(1, s / (6 * c.px), (len - s) / (6 * c.px));
      c.dot(x, y, w / 2, col, alpha * (0.3 + 0.7 * taper));
      if (bend) ang += bend * 0.03 * flow.at((x / S) * 3 + seed, (y / S) * 3);
      x += step * Math.cos(ang);
      y += step * Math.sin(ang);
    }
  }
}

/** Speckle: granite / terrazzo (posterised noise with crystals), salt-and-pepper, or coloured sand. */
function speckle(c: Canvas): void {
  const r = c.rng;
  const variant = r.choice(['granite', 'salt', 'sand'] as const);
  const cols = palette(r, r.int(2, 5), r.uniform(0.4, 0.9));
  const pr = r.fork(7); // per-pixel draws come from their own stream: their count depends on the size
  const n = new Noise(r);
  if (variant === 'granite') {
    const f = r.uniform(10, 50),
      o = octavesFor(f, 3, c.size, 2);
    const t = octaveField(c, (u, v, lo, hi) => n.fbm(u * f, v * f, o, 0.7, lo, hi), f, o);
    for (let k = 0; k < c.n; k++) t[k] = t[k]! + 0.1 * grain(pr);
    normalize(t);
    c.paint(t, colourMap(r, cols, { steps: r.bernoulli(0.6) }));
    return;
  }
  const f = r.uniform(2, 8),
    o = octavesFor(f, 4, c.size);
  const base = normalize(octaveField(c, (u, v, lo, hi) => n.fbm(u * f, v * f, o, 0.5, lo, hi), f, o));
  c.paint(base, colourMap(r, [cols[0]!, cols[1]!]));
  if (variant === 'salt') {
    const density = r.uniform(0.01, 0.15),
      rad = r.uniform(0.3, 1.8) * c.px;
    const count = Math.round((density * c.n) / Math.max(1, Math.PI * rad * rad));
    for (let i = 0; i < count; i++) {
      const col = cols[pr.int(0, cols.length)]!;
      c.dot(pr.uniform(0, c.size), pr.uniform(0, c.size), rad * pr.uniform(0.5, 1.3), col, pr.uniform(0.6, 1));
    }
    return;
  }
  const amp = r.uniform(15, 60),
    chroma = r.uniform(0, 1),
    o3 = c.rgb;
  for (let k = 0; k < c.n; k++) {
    const m = grain(pr);
    for (let ch = 0; ch < 3; ch++) o3[k * 3 + ch] = o3[k * 3 + ch]! + amp * ((1 - chroma) * m + chroma * grain(pr));
  }
}

/** Blotches and stains: layers of thresholded fBm with soft edges and darker tide-mark rims. */
function blotches(c: Canvas): void {
  const r = c.rng;
  const cols = palette(r, r.int(2, 5), r.uniform(0.3, 0.8));
  const bn = new Noise(r),
    bf = r.uniform(2, 6),
    bo = octavesFor(bf, 4, c.size);
  const ground = normalize(octaveField(c, (u, v, lo, hi) => bn.fbm(u * bf, v * bf, bo, 0.5, lo, hi), bf, bo));
  c.paint(ground, colourMap(r, [cols[cols.length - 1]!, cols[Math.max(0, cols.length - 2)]!]));
  const layers = r.int(1, 4);
  for (let l = 0; l < layers; l++) {
    const n = new Noise(r),
      f = r.uniform(2, 10),
      thr = r.uniform(0.45, 0.7),
      soft = r.uniform(0.005, 0.06);
    const rim = r.bernoulli(0.5) ? r.uniform(0.01, 0.04) : 0,
      rimDark = r.uniform(0.5, 0.85);
    const col = cols[r.int(0, Math.max(1, cols.length - 1))]!,
      alpha = r.uniform(0.4, 0.95);
    const o = octavesFor(f, 4, c.size);
    const t = normalize(octaveField(c, (u, v, lo, hi) => n.fbm(u * f, v * f, o, 0.5, lo, hi), f, o));
    const a = new Float32Array(c.n),
      s = new Float32Array(c.n);
    for (let k = 0; k < c.n; k++) {
      a[k] = alpha * smoothstep(thr - soft, thr + soft, t[k]!);
      s[k] = rim ? 1 - (1 - rimDark) * Math.max(0, 1 - Math.abs(t[k]! - thr) / rim) : 1;
    }
    const lut = new Float32Array(256 * 3);
    for (let i = 0; i < 256 * 3; i++) lut[i] = col[i % 3]!;
    c.paint(t, lut, a);
    if (rim) c.shade(s);
  }
}

const GENERATORS: Record<BuiltinTextureFamily, (c: Canvas) => void> = {
  clouds,
  marble,
  wood,
  cells,
  cracks,
  stripes,
  checks,
  plaid,
  weave,
  dots,
  fibres,
  speckle,
  blotches,
};
