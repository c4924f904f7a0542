// The synthetic dataset's images (see synthetic.ts for the dataset and its files): a textured
// surface class ('woodgrain': warped growth rings, fibres, pores) and a rounded object class
// ('button': a four-hole sewing button with rim, shading and drop shadow on cloth), each rendered
// with seeded variation, and small low-contrast defects drawn through a coverage map whose
// ground-truth mask is exactly the pixels it covers by at least MASK_COVERAGE. Host-neutral:
// renderSample gives the images in memory.
import { type Image, createImage } from './pixels.ts';
import { Rng } from './rng.ts';

export const SYNTHETIC_CLASSES = ['woodgrain', 'button'] as const;
export type SyntheticClass = (typeof SYNTHETIC_CLASSES)[number];
export const DEFECT_TYPES = ['scratch', 'spot', 'crack', 'missing', 'stain'] as const;
export type DefectType = (typeof DEFECT_TYPES)[number];
export const MASK_COVERAGE = 0.25;

// ------------------------------------------------------------------------------ noise and shapes

/** Seeded 2-D gradient noise at real coordinates (so fields can be shifted, stretched and warped). */
class Noise {
  private perm = new Uint8Array(512);
  private gx = new Float64Array(256);
  private gy = new Float64Array(256);

  constructor(rng: Rng) {
    const p = rng.permutation(256);
    for (let i = 0; i < 512; i++) this.perm[i] = p[i & 255]!;
    for (let i = 0; i < 256; i++) {
      const a = rng.uniform(0, 2 * Math.PI);
      this.gx[i] = Math.cos(a);
      this.gy[i] = Math.sin(a);
    }
  }

  /** roughly in [-0.7, 0.7] */
  at(x: number, y: number): number {
    const xi = Math.floor(x),
      yi = Math.floor(y);
    const fx = x - xi,
      fy = y - yi;
    const X = xi & 255,
      Y = yi & 255,
      X1 = (X + 1) & 255,
      Y1 = (Y + 1) & 255;
    const p = this.perm,
      gx = this.gx,
      gy = this.gy;
    const k00 = p[p[X]! + Y]!,
      k10 = p[p[X1]! + Y]!,
      k01 = p[p[X]! + Y1]!,
      k11 = p[p[X1]! + Y1]!;
    const n00 = gx[k00]! * fx + gy[k00]! * fy;
    const n10 = gx[k10]! * (fx - 1) + gy[k10]! * fy;
    const n01 = gx[k01]! * fx + gy[k01]! * (fy - 1);
    const n11 = gx[k11]! * (fx - 1) + gy[k11]! * (fy - 1);
    const u = fx * fx * fx * (fx * (fx * 6 - 15) + 10),
      v = fy * fy * fy * (fy * (fy * 6 - 15) + 10);
    const a = n00 + (n10 - n00) * u,
      b = n01 + (n11 - n01) * u;
    return a + (b - a) * v;
  }

  /** fractal sum of `octaves` octaves, each twice the frequency and half the amplitude */
  fbm(x: number, y: number, octaves: number): number {
    let s = 0,
      amp = 1,
      f = 1,
      norm = 0;
    for (let o = 0; o < octaves; o++) {
      s += amp * this.at(x * f + o * 17.3, y * f - o * 9.1);
      norm += amp;
      amp *= 0.5;
      f *= 2;
    }
    return s / norm;
  }
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
/** coverage of a pixel by a shape whose signed distance (negative inside) is d, ~1 px antialiasing */
const cover = (d: number, soft = 0.5) => clamp01(0.5 - d / (2 * soft));

type RGB = [number, number, number];

/** Float RGB layer, H x W x 3, values 0..255. */
interface Layer {
  size: number;
  data: Float32Array;
}

function newLayer(size: number): Layer {
  return { size, data: new Float32Array(size * size * 3) };
}

/** Distance from (px, py) to the polyline pts. */
function polylineDistance(pts: number[][], px: number, py: number): number {
  let best = Infinity;
  for (let i = 0; i + 1 < pts.length; i++) {
    const [ax, ay] = pts[i] as [number, number],
      [bx, by] = pts[i + 1] as [number, number];
    const dx = bx - ax,
      dy = by - ay;
    const len2 = dx * dx + dy * dy || 1;
    const t = clamp01(((px - ax) * dx + (py - ay) * dy) / len2);
    const ex = ax + t * dx - px,
      ey = ay + t * dy - py;
    best = Math.min(best, ex * ex + ey * ey);
  }
  return Math.sqrt(best);
}

/** Coverage of a stroke of the given half-width along a polyline (evaluated in its bounding box only). */
function strokeCoverage(size: number, pts: number[][], halfWidth: number): Float32Array {
  const cov = new Float32Array(size * size);
  const xs = pts.map((p) => p[0]!),
    ys = pts.map((p) => p[1]!);
  const m = halfWidth + 2;
  const x0 = Math.max(0, Math.floor(Math.min(...xs) - m)),
    x1 = Math.min(size - 1, Math.ceil(Math.max(...xs) + m));
  const y0 = Math.max(0, Math.floor(Math.min(...ys) - m)),
    y1 = Math.min(size - 1, Math.ceil(Math.max(...ys) + m));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) cov[y * size + x] = cover(polylineDistance(pts, x + 0.5, y + 0.5) - halfWidth);
  }
  return cov;
}

/** Coverage of an irregular blob: radius modulated by noise around the angle. */
function blobCoverage(size: number, cx: number, cy: number, r: number, wobble: number, noise: Noise, soft = 0.6): Float32Array {
  const cov = new Float32Array(size * size);
  const seed = cx * 0.37 + cy * 0.11;
  const m = r * (1 + wobble) + 3;
  for (let y = Math.max(0, Math.floor(cy - m)); y <= Math.min(size - 1, Math.ceil(cy + m)); y++) {
    for (let x = Math.max(0, Math.floor(cx - m)); x <= Math.min(size - 1, Math.ceil(cx + m)); x++) {
      const dx = x + 0.5 - cx,
        dy = y + 0.5 - cy;
      const a = Math.atan2(dy, dx);
      const rr = r * (1 + wobble * 1.6 * noise.fbm(Math.cos(a) * 1.3 + seed, Math.sin(a) * 1.3 - seed, 3));
      cov[y * size + x] = cover(Math.hypot(dx, dy) - rr, soft);
    }
  }
  return cov;
}

function bezier(p0: number[], p1: number[], p2: number[], n: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i <= n; i++) {
    const t = i / n,
      a = (1 - t) * (1 - t),
      b = 2 * (1 - t) * t,
      c = t * t;
    out.push([a * p0[0]! + b * p1[0]! + c * p2[0]!, a * p0[1]! + b * p1[1]! + c * p2[1]!]);
  }
  return out;
}

// --------------------------------------------------------------------------------- the classes

interface Scene {
  size: number;
  /** final colour before sensor noise */
  color: Layer;
  /** where defects may go: 1 inside the object (button) or the whole image (woodgrain) */
  region: Float32Array;
  /** background layer and object coverage (button only), for "missing piece" defects */
  background?: Layer;
  objectCover?: Float32Array;
  centre: [number, number];
  radius: number;
  noise: Noise;
}

function renderWoodgrain(size: number, rng: Rng): Scene {
  const noise = new Noise(rng.fork(1));
  const color = newLayer(size);
  const theta = rng.uniform(-0.3, 0.3);
  const cos = Math.cos(theta),
    sin = Math.sin(theta);
  const ringFreq = rng.uniform(0.028, 0.04) * (256 / size);
  const warp = rng.uniform(2.2, 3.2);
  const ox = rng.uniform(0, 200),
    oy = rng.uniform(0, 200);
  // one overall tone plus a little per-channel drift keeps every plank a plausible wood colour
  const tone = rng.uniform(0.9, 1.06);
  const base: RGB = [190 * tone + rng.uniform(-4, 4), 139 * tone + rng.uniform(-4, 4), 94 * tone + rng.uniform(-4, 4)];
  const darkK = rng.uniform(0.6, 0.68);
  const light = rng.uniform(-0.06, 0.06),
    lightDir = rng.uniform(0, 2 * Math.PI);
  const s = 256 / size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = (x * cos + y * sin) * s,
        v = (-x * sin + y * cos) * s;
      const w = noise.fbm(u * 0.004 + ox, v * 0.012 + oy, 4);
      const rings = v * ringFreq + warp * w;
      let band = 0.5 + 0.5 * Math.sin(2 * Math.PI * rings);
      band = Math.pow(band, 1.6);
      const fibre = noise.fbm(u * 0.015 + 40 + ox, v * 0.45 + oy, 3);
      const pores = noise.at(u * 0.35 + 90, v * 1.2 + 13);
      const t = clamp01(0.2 + 0.7 * band + 0.35 * fibre + 0.08 * pores);
      const shade = 1 + light * (((x / size - 0.5) * Math.cos(lightDir) + (y / size - 0.5) * Math.sin(lightDir)) * 2);
      const i = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) color.data[i + c] = base[c]! * (darkK + (1 - darkK) * t) * shade;
    }
  }
  return { size, color, region: new Float32Array(size * size).fill(1), centre: [size / 2, size / 2], radius: size / 2, noise };
}

function renderButton(size: number, rng: Rng): Scene {
  const noise = new Noise(rng.fork(2));
  const s = size / 256;
  // cloth background: fine weave plus slow blotches
  const bg = newLayer(size);
  const cloth: RGB = [rng.uniform(52, 62), rng.uniform(58, 68), rng.uniform(70, 82)];
  // the cloth lies square to the camera (small skew only): a freely rotating fine weave aliases into
  // moire at low resolution and would swamp the defects with background variation
  const weaveA = Math.PI / 4 + rng.uniform(-0.05, 0.05);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = (x * Math.cos(weaveA) + y * Math.sin(weaveA)) / s,
        v = (-x * Math.sin(weaveA) + y * Math.cos(weaveA)) / s;
      const weave = Math.sin(u * 0.8) * Math.sin(v * 0.8) * 0.5 + 0.5;
      const k = 0.88 + 0.1 * weave + 0.12 * noise.fbm((x * 0.02) / s, (y * 0.02) / s, 3) + 0.05 * noise.at((x * 0.7) / s + 50, (y * 0.7) / s);
      const i = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) bg.data[i + c] = cloth[c]! * k;
    }
  }
  const cx = size / 2 + rng.uniform(-6, 6) * s,
    cy = size / 2 + rng.uniform(-6, 6) * s;
  const R = size * rng.uniform(0.33, 0.35);
  const phi = rng.uniform(0, Math.PI / 2); // the hole pattern has 4-fold symmetry
  const plastic: RGB = [rng.uniform(206, 222), rng.uniform(176, 190), rng.uniform(118, 134)];
  const lx = -0.55 + rng.uniform(-0.1, 0.1),
    ly = -0.65 + rng.uniform(-0.1, 0.1);
  const holes = [0, 1, 2, 3].map((k) => [cx + 0.27 * R * Math.cos(phi + (k * Math.PI) / 2), cy + 0.27 * R * Math.sin(phi + (k * Math.PI) / 2)]);
  const holeR = 0.085 * R;
  const objCov = new Float32Array(size * size);
  const obj = newLayer(size);
  const color = newLayer(size);
  const shadowOff = 4 * s;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const px = x + 0.5,
        py = y + 0.5;
      const dx = px - cx,
        dy = py - cy,
        r = Math.hypot(dx, dy),
        rn = r / R;
      let holeD = Infinity;
      for (const h of holes) holeD = Math.min(holeD, Math.hypot(px - h[0]!, py - h[1]!) - holeR);
      // the disc minus its holes
      const cov = cover(r - R) * (1 - cover(holeD));
      objCov[y * size + x] = cov;
      // shading: a dome with a raised rim and a dished centre
      const nx = dx / R,
        ny = dy / R;
      const rim = Math.exp(-Math.pow((rn - 0.86) / 0.06, 2));
      const dish = rn < 0.7 ? -0.25 * (1 - rn / 0.7) : 0;
      const lambert = 0.82 + 0.22 * (nx * lx + ny * ly) * (0.4 + rim * 1.5) + dish * (nx * lx + ny * ly) * 0.6;
      const groove = 1 - 0.1 * Math.exp(-Math.pow((rn - 0.75) / 0.025, 2));
      const spec = 0.18 * Math.exp(-((nx + 0.42) ** 2 + (ny + 0.5) ** 2) / 0.02) * rim;
      const grain = 1 + 0.035 * noise.fbm((px * 0.05) / s + 70, (py * 0.05) / s, 3);
      const holeRim = 1 - 0.25 * Math.exp(-Math.max(0, holeD) / (1.5 * s));
      const i = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) obj.data[i + c] = plastic[c]! * lambert * groove * grain * holeRim + 255 * spec;
      // soft drop shadow from the disc outline
      const sd = Math.hypot(px - cx - shadowOff, py - cy - shadowOff) - R;
      const shadow = 1 - 0.45 * clamp01(0.5 - sd / (7 * s));
      for (let c = 0; c < 3; c++) bg.data[i + c] = bg.data[i + c]! * shadow;
    }
  }
  for (let i = 0; i < size * size; i++) {
    for (let c = 0; c < 3; c++) color.data[i * 3 + c] = bg.data[i * 3 + c]! * (1 - objCov[i]!) + obj.data[i * 3 + c]! * objCov[i]!;
  }
  const region = new Float32Array(size * size);
  for (let i = 0; i < region.length; i++) region[i] = objCov[i]! > 0.99 ? 1 : 0;
  return { size, color, region, background: bg, objectCover: objCov, centre: [cx, cy], radius: R, noise };
}

// ----------------------------------------------------------------------------------- defects

/** A point where the defect may be centred: inside `region`, `margin` pixels from its border. */
function pickPoint(sc: Scene, rng: Rng, margin: number): [number, number] {
  const { size } = sc;
  for (let t = 0; t < 500; t++) {
    const x = rng.uniform(margin, size - margin),
      y = rng.uniform(margin, size - margin);
    if (sc.objectCover) {
      const r = Math.hypot(x - sc.centre[0], y - sc.centre[1]);
      if (r > sc.radius - margin) continue;
    }
    if (sc.region[Math.floor(y) * size + Math.floor(x)]! > 0) return [x, y];
  }
  throw new Error('synthetic: no place for a defect');
}

/** Blends the scene colour towards f(colour) by coverage, inside the defect region; returns the coverage used. */
function paint(sc: Scene, cov: Float32Array, f: (rgb: RGB, i: number) => RGB, clipToRegion = true): Float32Array {
  const out = new Float32Array(cov.length);
  for (let i = 0; i < cov.length; i++) {
    const a = cov[i]! * (clipToRegion ? sc.region[i]! : 1);
    if (a <= 0) continue;
    out[i] = a;
    const p = i * 3,
      d = sc.color.data;
    const t = f([d[p]!, d[p + 1]!, d[p + 2]!], i);
    for (let c = 0; c < 3; c++) d[p + c] = d[p + c]! + (t[c]! - d[p + c]!) * a;
  }
  return out;
}

function addDefect(sc: Scene, type: DefectType, rng: Rng): Float32Array {
  const { size } = sc;
  const s = size / 256;
  switch (type) {
    case 'scratch': {
      const [x, y] = pickPoint(sc, rng, 24 * s);
      const len = rng.uniform(28, 60) * s,
        a = rng.uniform(0, 2 * Math.PI),
        bend = rng.uniform(-0.35, 0.35) * len;
      const p0 = [x - (Math.cos(a) * len) / 2, y - (Math.sin(a) * len) / 2],
        p2 = [x + (Math.cos(a) * len) / 2, y + (Math.sin(a) * len) / 2];
      const p1 = [x - Math.sin(a) * bend, y + Math.cos(a) * bend];
      const cov = strokeCoverage(size, bezier(p0, p1, p2, 24), Math.max(0.5, rng.uniform(0.7, 1.2) * s));
      const lift = rng.uniform(26, 42);
      return paint(sc, cov, (c) => [c[0] + lift, c[1] + lift, c[2] + lift * 0.9]);
    }
    case 'crack': {
      let [x, y] = pickPoint(sc, rng, 28 * s);
      let a = rng.uniform(0, 2 * Math.PI);
      const pts: number[][] = [[x, y]];
      const n = rng.int(7, 12);
      for (let k = 0; k < n; k++) {
        a += rng.uniform(-0.7, 0.7);
        const step = rng.uniform(3, 6) * s;
        x += Math.cos(a) * step;
        y += Math.sin(a) * step;
        pts.push([x, y]);
      }
      const cov = strokeCoverage(size, pts, Math.max(0.5, rng.uniform(0.55, 0.9) * s));
      const k = rng.uniform(0.45, 0.6);
      return paint(sc, cov, (c) => [c[0] * k, c[1] * k, c[2] * k]);
    }
    case 'spot': {
      const [x, y] = pickPoint(sc, rng, 16 * s);
      const cov = blobCoverage(size, x, y, rng.uniform(3.5, 7) * s, 0.25, sc.noise);
      const k = rng.uniform(0.62, 0.75);
      return paint(sc, cov, (c) => [c[0] * k, c[1] * k * 0.97, c[2] * k * 0.92]);
    }
    case 'stain': {
      // a dried drop: a faint tint inside and a darker tide line along the edge (the rim is what
      // makes it a shape rather than a colour shift)
      const [x, y] = pickPoint(sc, rng, 30 * s);
      const r = rng.uniform(10, 18) * s;
      const raw = blobCoverage(size, x, y, r, 0.35, sc.noise, 1.0 * s);
      const inner = blobCoverage(size, x, y, r - 2.2 * s, 0.35, sc.noise, 1.0 * s);
      const tint: RGB = rng.choice<RGB>([
        [90, 120, 150],
        [150, 90, 70],
        [110, 130, 80],
        [120, 100, 140],
      ]);
      const fill = rng.uniform(0.32, 0.45),
        rim = rng.uniform(0.6, 0.8);
      const cov = raw.map((v, i) => v * (fill + (rim - fill) * (1 - inner[i]!)));
      paint(sc, cov, (c) => [c[0] * 0.5 + tint[0] * 0.5, c[1] * 0.5 + tint[1] * 0.5, c[2] * 0.5 + tint[2] * 0.5]);
      return raw.map((v, i) => (v >= 0.5 ? sc.region[i]! : 0));
    }
    case 'missing': {
      if (sc.objectCover && sc.background) {
        // a bite out of the rim: the cloth shows through
        const ang = rng.uniform(0, 2 * Math.PI),
          br = sc.radius * rng.uniform(0.12, 0.2);
        const bx = sc.centre[0] + Math.cos(ang) * sc.radius,
          by = sc.centre[1] + Math.sin(ang) * sc.radius;
        const bite = blobCoverage(size, bx, by, br, 0.2, sc.noise);
        const removed = new Float32Array(size * size);
        for (let i = 0; i < removed.length; i++) {
          const o = sc.objectCover[i]!,
            keep = o * (1 - bite[i]!);
          removed[i] = o - keep;
          if (removed[i]! <= 0) continue;
          for (let c = 0; c < 3; c++) {
            const p = i * 3 + c;
            // recomposite: background where the piece is gone
            sc.color.data[p] = sc.color.data[p]! + (sc.background.data[p]! - sc.color.data[p]!) * (removed[i]! / Math.max(o, 1e-6));
          }
        }
        return removed;
      }
      // a chipped-out pit in the surface: darker inside, lighter broken edge
      const [x, y] = pickPoint(sc, rng, 20 * s);
      const r = rng.uniform(6, 10) * s;
      const cov = blobCoverage(size, x, y, r, 0.3, sc.noise);
      const inner = blobCoverage(size, x + 0.8 * s, y + 0.8 * s, r * 0.75, 0.3, sc.noise);
      const k = rng.uniform(0.55, 0.68);
      return paint(sc, cov, (c, i) => {
        const d = k + (1 - k) * 0.5 * (1 - inner[i]!);
        return [c[0] * d + 18 * (1 - inner[i]!), c[1] * d + 14 * (1 - inner[i]!), c[2] * d + 10 * (1 - inner[i]!)];
      });
    }
  }
}

// ------------------------------------------------------------------------------------- samples

export interface SyntheticSample {
  image: Image;
  /** 0/255, one channel: the defect (all zero for normal samples) */
  mask: Image;
  /** 0/255, one channel: the object (all 255 for the surface class) */
  foreground: Image;
}

/** Renders one image of a class, with a defect of the given type or none. */
export function renderSample(cls: SyntheticClass, size: number, rng: Rng, defect: DefectType | null = null): SyntheticSample {
  const sc = cls === 'woodgrain' ? renderWoodgrain(size, rng.fork(1)) : renderButton(size, rng.fork(1));
  const rDefect = rng.fork(2); // drawn even without a defect, so a sample and its defective twin share the rest
  const cov = defect ? addDefect(sc, defect, rDefect) : null;
  const image = createImage(size, size, 3);
  const nr = rng.fork(3);
  for (let i = 0; i < size * size * 3; i++) {
    const v = Math.round(sc.color.data[i]! + nr.normal(0, 1.2));
    image.data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  const mask = createImage(size, size, 1);
  if (cov) for (let i = 0; i < cov.length; i++) mask.data[i] = cov[i]! >= MASK_COVERAGE ? 255 : 0;
  const foreground = createImage(size, size, 1, 255);
  if (sc.objectCover) for (let i = 0; i < size * size; i++) foreground.data[i] = sc.objectCover[i]! >= 0.5 ? 255 : 0;
  // a defect with no pixel reaching MASK_COVERAGE would be an unlabelled anomaly: redraw it
  if (cov && !mask.data.some((v) => v > 0)) return renderSample(cls, size, rng, defect);
  return { image, mask, foreground };
}
