// glass/distribution.ts: FFT against numpy.fft, the OpenCV-style 8-bit steps, and the GLASS
// distribution judge on two synthetic 289x289 images (fixtures from test/fixtures/gen/metrics.py).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bgrToGrayU8, boxBlurU8, distributionJudge, fft, fft2Real, meanImageToBgrU8, resizeLinearU8 } from '../../glass/distribution.ts';
import { f32, f64, loadFixture, u8, worstRatio, type Encoded } from './fixture.ts';

const fx = loadFixture<any>('metrics/distribution.json');

/** The integer-only test image of metrics.py synth_image (BGR, HWC). */
function synthImage(h: number, w: number, kind: 'object' | 'texture'): Uint8Array {
  const out = new Uint8Array(h * w * 3);
  const mod = (a: number, m: number) => ((a % m) + m) % m;
  const div = (a: number, b: number) => Math.floor(a / b);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let b: number, g: number, r: number;
      if (kind === 'object') {
        const cy = div(h, 2) + 3,
          cx = div(w, 2) - 5,
          rad = div(h, 3);
        const d2 = (y - cy) ** 2 + (x - cx) ** 2;
        const inside = d2 <= rad * rad ? 1 : 0;
        const ring = d2 <= div(rad, 2) ** 2 ? 1 : 0;
        b = 20 + mod(x * 7 + y * 3, 23) + 170 * inside - 60 * ring;
        g = 30 + mod(x * 5 + y * 11, 19) + 150 * inside;
        r = 25 + mod(x * 13 + y * 2, 29) + 120 * inside + 40 * ring;
      } else {
        b = 90 + 70 * mod(div(x, 3) + div(y, 3), 2) + mod(x * y, 7);
        g = 100 + 60 * mod(div(x, 2), 2) + mod(x + 2 * y, 5);
        r = 110 + 50 * mod(div(y, 4), 2) + mod(3 * x + y, 9);
      }
      const clip = (v: number) => Math.max(0, Math.min(255, v));
      out[(y * w + x) * 3] = clip(b);
      out[(y * w + x) * 3 + 1] = clip(g);
      out[(y * w + x) * 3 + 2] = clip(r);
    }
  }
  return out;
}

const f = suite('distribution: FFT vs numpy.fft');

for (const c of fx.fft as { n: number; re: Encoded; im: Encoded; outRe: Encoded; outIm: Encoded }[]) {
  f(`length ${c.n} (${(c.n & (c.n - 1)) === 0 ? 'radix-2' : 'Bluestein'})`, () => {
    const re = f64(c.re),
      im = f64(c.im);
    fft(re, im);
    const scale = Math.sqrt(c.n) * 8;
    const a = worstRatio(re, f64(c.outRe), 1e-13 * scale, 0),
      b = worstRatio(im, f64(c.outIm), 1e-13 * scale, 0);
    assert.ok(a.ratio <= 1 && b.ratio <= 1, `re ratio ${a.ratio} at ${a.index}, im ratio ${b.ratio} at ${b.index}`);
  });
}

f('2-D DFT of a real 7x10 image', () => {
  const c = fx.fft2;
  const { re, im } = fft2Real(f64(c.input), c.h, c.w);
  assert.ok(worstRatio(re, f64(c.outRe), 1e-9, 0).ratio <= 1);
  assert.ok(worstRatio(im, f64(c.outIm), 1e-9, 0).ratio <= 1);
});

const cv = suite('distribution: OpenCV-style 8-bit steps');

for (const c of fx.resize as any[]) {
  cv(`resize ${c.h}x${c.w} -> ${c.outH}x${c.outW} within one grey level of float bilinear`, () => {
    const src = c.input ? u8(c.input) : synthImage(c.h, c.w, 'object');
    const out = resizeLinearU8(src, c.h, c.w, 3, c.outH, c.outW);
    assert.is(out.length, c.outH * c.outW * 3);
    if (c.float) {
      const ref = f32(c.float);
      let worst = 0;
      for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - ref[i]));
      assert.ok(worst <= 1, `max deviation ${worst}`);
    } else {
      let sum = 0;
      for (const v of out) sum += v;
      // per-pixel rounding (at most 0.5 + fixed-point error each) bounds the total
      assert.ok(Math.abs(sum - c.floatSum) <= 0.6 * out.length, `sum ${sum} vs ${c.floatSum}`);
    }
  });
}

cv('resize to the same size is a copy', () => {
  const src = synthImage(9, 7, 'object');
  assert.equal(resizeLinearU8(src, 9, 7, 3, 9, 7), src);
});

cv('grey conversion uses OpenCV fixed-point BGR weights', () => {
  // B=255 only -> (255*1868 + 8192) >> 14 = 29; R=255 only -> 76; G=255 only -> 150
  assert.equal(Array.from(bgrToGrayU8(Uint8Array.from([255, 0, 0, 0, 0, 255, 0, 255, 0]), 1, 3)), [29, 76, 150]);
});

cv('box blur reflects 101 at the border and rounds to nearest', () => {
  // 1x3 row [0, 0, 10] with k=3: reflect-101 extends as [0 | 0 0 10 | 0]; column sums of the
  // 3x3 window over a 1-row image count the row three times (rows reflect 101 to itself).
  const out = boxBlurU8(Uint8Array.from([0, 0, 10]), 1, 3, 3);
  assert.equal(Array.from(out), [0, 3, 3]);
});

cv('mean image to uint8 BGR as utils.torch_format_2_numpy_img', () => {
  const c = fx.toNumpyImg;
  assert.equal(meanImageToBgrU8(f32(c.input), c.h, c.w), u8(c.output));
});

const j = suite('distribution: the judge');

for (const c of fx.judge as any[]) {
  j(`${c.kind} image: every statistic and the flag (${c.flag})`, () => {
    const img = synthImage(c.h, c.w, c.kind);
    const r = distributionJudge(img, c.h, c.w);
    let graySum = 0,
      blurredSum = 0,
      weighted = 0;
    const resized = resizeLinearU8(img, c.h, c.w, 3, 289, 289);
    for (const v of bgrToGrayU8(resized, 289, 289)) graySum += v;
    r.gray.forEach((v, i) => {
      blurredSum += v;
      weighted += v * (i % 251);
    });
    assert.is(graySum, c.graySum, 'grey sum');
    assert.is(blurredSum, c.blurredSum, 'blurred sum');
    assert.is(weighted, c.blurredWeighted, 'blurred weighted sum');
    assert.equal(Array.from(r.gray.subarray(((c.h / 3) | 0) * c.w, ((c.h / 3) | 0) * c.w + c.w)), c.blurredRow);
    for (const [py, px, v] of c.probe as [number, number, number][]) {
      const got = r.spectrum[py * c.w + px];
      assert.ok(Math.abs(got - v) < 1e-9 * Math.max(1, Math.abs(v)) || (got === -Infinity && v === null), `spectrum at ${py},${px}: ${got} vs ${v}`);
    }
    assert.is(r.points, c.points, 'points');
    assert.is(r.sideX, c.sideX, 'sideX');
    assert.is(r.sideY, c.sideY, 'sideY');
    assert.is(Math.round(r.radius * r.radius), c.maxD2, 'radius^2');
    assert.is(r.discPoints, c.discPoints, 'disc points');
    assert.ok(Math.abs(r.l1Density - c.l1Density) < 1e-15 && Math.abs(r.l2Density - c.l2Density) < 1e-15, 'densities');
    assert.is(r.flag, c.flag);
    assert.is(r.mode, c.flag === 1 ? 'hypersphere' : 'manifold');
  });
}

j('options move the decision: a stricter point count turns the object image to manifold', () => {
  const c = (fx.judge as any[]).find((x) => x.kind === 'object');
  const r = distributionJudge(synthImage(289, 289, 'object'), 289, 289, { minPoints: c.points });
  assert.is(r.flag, 0);
});

j('a uniform image has no bright point off the DC term and is manifold', () => {
  const img = new Uint8Array(289 * 289 * 3).fill(128);
  const r = distributionJudge(img, 289, 289);
  assert.is(r.points, 1);
  assert.is(r.flag, 0);
});

f.run();
cv.run();
j.run();
