// data/perlin.ts: the Perlin noise of GLASS perlin.py for stored gradient angles, mask statistics
// against the reference perlin_mask run in numpy (test/fixtures/gen/data.py), the union / intersection /
// single combination, max-pooling, foreground masks and determinism under a seed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { maxPoolMask, perlinMask, perlinNoise, perlinThreshold, rotateMap } from '../../data/perlin.ts';
import { Rng } from '../../data/rng.ts';

const FIX = new URL('../fixtures/data/', import.meta.url).pathname;
const fx = JSON.parse(readFileSync(join(FIX, 'perlin.json'), 'utf8')) as {
  noise: { shape: [number, number]; res: [number, number]; angles: number[]; noise: number[] }[];
  stats: {
    size: number;
    feat: number;
    samples: number;
    thr_coverage: [number, number];
    thr_empty_fraction: number;
    coverage_l: [number, number];
    coverage_s: [number, number];
    blobs: [number, number];
    by_kind: Record<string, [number, number, number]>;
  };
};

const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
};
const meanSd = (a: number[]) => {
  const m = sum(a) / a.length;
  return [m, Math.sqrt(sum(a.map((v) => (v - m) ** 2)) / a.length)] as const;
};

/** 4-connected components of a 0/1 map (scipy.ndimage.label's default structure). */
function blobs(m: ArrayLike<number>, h: number, w: number): number {
  const seen = new Uint8Array(h * w);
  let n = 0;
  const stack: number[] = [];
  for (let i = 0; i < h * w; i++) {
    if (!m[i] || seen[i]) continue;
    n++;
    stack.push(i);
    seen[i] = 1;
    while (stack.length) {
      const p = stack.pop()!,
        y = Math.floor(p / w),
        x = p % w;
      for (const [dy, dx] of [
        [1, 0],
        [-1, 0],
        [0, 1],
        [0, -1],
      ] as const) {
        const yy = y + dy,
          xx = x + dx,
          q = yy * w + xx;
        if (yy >= 0 && yy < h && xx >= 0 && xx < w && m[q] && !seen[q]) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
  }
  return n;
}

const NOISE = suite('perlin: noise vs reference');

for (const c of fx.noise) {
  NOISE(`rand_perlin_2d_np ${c.shape.join('x')} res ${c.res.join('x')}`, () => {
    const n = perlinNoise(c.shape[0], c.shape[1], c.res[0], c.res[1], c.angles);
    assert.is(n.length, c.noise.length);
    let maxd = 0;
    for (let i = 0; i < n.length; i++) maxd = Math.max(maxd, Math.abs(n[i]! - c.noise[i]!));
    assert.ok(maxd < 1e-6, `max diff ${maxd}`);
  });
}

NOISE('rotateMap: 0 degrees is the identity, 90 degrees is a quarter turn about the centre', () => {
  const h = 6,
    w = 6;
  const m = Float32Array.from({ length: h * w }, (_, i) => i + 1);
  assert.equal(rotateMap(m, h, w, 0), m);
  const r = rotateMap(m, h, w, 90);
  // forward map dst = R(90) (src - c) + c with R(90) = [[0, -1], [1, 0]] on (x, y):
  // dst(x, y) = src(x' = y, y' = w-1-x) for a square map
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) assert.ok(Math.abs(r[y * w + x]! - m[(w - 1 - x) * w + y]!) < 1e-4, `(${x},${y})`);
});

NOISE.run();

const STATS = suite('perlin: mask statistics vs the reference perlin_mask');
const S = fx.stats.size,
  N = 200;
const rng = new Rng(2024);
const samples = Array.from({ length: N }, () => perlinMask(S, S, fx.stats.feat, rng));
const thr = Array.from({ length: N }, () => sum(perlinThreshold(S, S, rng)) / (S * S));

/** |ours - reference| within 4.5 standard errors of the difference of two sample means. */
function close(name: string, ours: readonly [number, number], ref: readonly [number, number], nRef: number): void {
  const se = Math.sqrt(ours[1] ** 2 / N + ref[1] ** 2 / nRef);
  assert.ok(Math.abs(ours[0] - ref[0]) < 4.5 * se, `${name}: ours ${ours[0].toFixed(4)} vs reference ${ref[0].toFixed(4)} (se ${se.toFixed(4)})`);
}

STATS('single thresholded map coverage', () => {
  close('coverage', meanSd(thr), fx.stats.thr_coverage, fx.stats.samples);
  // empty maps (nothing above 0.5) happen; the reference saw them at this rate
  const empty = thr.filter((v) => v === 0).length / N;
  assert.ok(Math.abs(empty - fx.stats.thr_empty_fraction) < 0.07, `empty fraction ${empty}`);
});

STATS('full-resolution and feature-grid coverage, connected blobs', () => {
  close('mask_l coverage', meanSd(samples.map((m) => sum(m.maskL) / (S * S))), fx.stats.coverage_l, fx.stats.samples);
  close('mask_s coverage', meanSd(samples.map((m) => sum(m.maskS) / m.maskS.length)), fx.stats.coverage_s, fx.stats.samples);
  close('blobs', meanSd(samples.map((m) => blobs(m.maskL, S, S))), fx.stats.blobs, fx.stats.samples);
});

STATS('each combination kind: frequency about 1/3 and its own coverage', () => {
  for (const kind of ['union', 'intersection', 'single'] as const) {
    const mine = samples.filter((m) => m.combine === kind);
    const [nRef, mRef, sRef] = fx.stats.by_kind[kind]!;
    // kinds are drawn 1/3 each, but empty draws are redrawn, which favours union over intersection
    const pRef = nRef / fx.stats.samples;
    assert.ok(Math.abs(mine.length / N - pRef) < 0.12, `${kind}: ${mine.length}/${N} vs reference ${nRef}/${fx.stats.samples}`);
    close(`${kind} coverage`, meanSd(mine.map((m) => sum(m.maskL) / (S * S))), [mRef, sRef], nRef);
  }
});

STATS('every mask is non-empty and 0/1; mask_s is the max-pool of mask_l', () => {
  for (const m of samples) {
    assert.ok(sum(m.maskS) > 0);
    assert.ok(m.maskL.every((v) => v === 0 || v === 1));
    assert.equal(maxPoolMask(m.maskL, S, S, fx.stats.feat).data, m.maskS);
    assert.is(m.featH, fx.stats.feat);
  }
});

STATS.run();

const COMB = suite('perlin: combination, foreground, determinism');

COMB('the mask is the union / intersection / first map of the two thresholded maps', () => {
  const seen = new Set<string>();
  for (let seed = 0; seed < 40; seed++) {
    // replay the draws perlinMask makes: map a, map b, then the combination draw
    const r = new Rng(seed);
    const a = perlinThreshold(32, 32, r),
      b = perlinThreshold(32, 32, r);
    const u = r.random();
    const m = perlinMask(32, 32, 4, new Rng(seed));
    if (m.tries !== 1) continue;
    const kind = u > 2 / 3 ? 'union' : u > 1 / 3 ? 'intersection' : 'single';
    assert.is(m.combine, kind);
    seen.add(kind);
    for (let i = 0; i < 32 * 32; i++) {
      const want = kind === 'union' ? a[i]! | b[i]! : kind === 'intersection' ? a[i]! & b[i]! : a[i]!;
      assert.is(m.maskL[i], want);
    }
  }
  assert.is(seen.size, 3);
});

COMB('maxPoolMask uses kernel = size / feature size, floor mode', () => {
  const m = new Float32Array(10 * 10);
  m[0 * 10 + 3] = 1; // window (0, 1) for kernel 2
  m[9 * 10 + 9] = 1; // row/column 9 are dropped by floor((10)/3) = 3 windows of 3
  const p = maxPoolMask(m, 10, 10, 5);
  assert.equal([p.featH, p.featW], [5, 5]);
  assert.is(p.data[1], 1);
  assert.is(sum(p.data), 2);
  const q = maxPoolMask(m, 10, 10, 3);
  assert.equal([q.featH, q.featW], [3, 3]);
  assert.is(sum(q.data), 1);
});

COMB('foreground masks confine the anomaly; empty foreground is an error', () => {
  const fg = new Uint8Array(48 * 48);
  for (let y = 10; y < 30; y++) for (let x = 12; x < 40; x++) fg[y * 48 + x] = 1;
  const r = new Rng(3);
  for (let k = 0; k < 10; k++) {
    const m = perlinMask(48, 48, 6, r, { foreground: fg });
    assert.ok(sum(m.maskL) > 0);
    for (let i = 0; i < fg.length; i++) if (!fg[i]) assert.is(m.maskL[i], 0);
  }
  assert.throws(() => perlinMask(48, 48, 6, r, { foreground: new Uint8Array(48 * 48) }), /foreground mask is empty/);
  assert.throws(() => perlinMask(48, 48, 6, r, { foreground: new Uint8Array(10) }), /foreground mask has 10 values/);
});

COMB('a tiny foreground that no draw hits ends with an error after maxTries', () => {
  const fg = new Uint8Array(32 * 32);
  fg[0] = 1;
  assert.throws(() => perlinMask(32, 32, 4, new Rng(1), { foreground: fg, maxTries: 3 }), /no non-empty mask in 3 draws/);
});

COMB('same seed, same mask; different seeds, different masks', () => {
  const a = perlinMask(40, 40, 5, new Rng(77)),
    b = perlinMask(40, 40, 5, new Rng(77)),
    c = perlinMask(40, 40, 5, new Rng(78));
  assert.equal(a.maskL, b.maskL);
  assert.equal(a.maskS, b.maskS);
  assert.not.equal(a.maskL, c.maskL);
});

COMB.run();
