// glass/gaussian.ts against scipy.ndimage.gaussian_filter and torch bilinear interpolation
// (fixtures from test/fixtures/gen/metrics.py).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gaussianFilter2d, gaussianKernel1d, rescaleSegmentation, resizeBilinear } from '../../glass/gaussian.ts';
import { f32, loadFixture, ulps32, worstRatio, type Encoded } from './fixture.ts';

interface GCase {
  h: number;
  w: number;
  sigma: number;
  truncate: number;
  input: Encoded;
  output: Encoded;
}
interface BCase {
  planes: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  input: Encoded;
  output: Encoded;
}
const fx = loadFixture<{
  gaussian: GCase[];
  bilinear: BCase[];
  segmentor: { batch: number; h: number; w: number; targetH: number; targetW: number; input: Encoded; output: Encoded };
}>('metrics/gaussian.json');

function maxUlps(a: Float32Array, b: Float32Array): number {
  assert.is(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, ulps32(a[i], b[i]));
  return m;
}

const g = suite('gaussian: scipy.ndimage.gaussian_filter');

g('kernel: radius int(truncate * sigma + 0.5), normalised, symmetric', () => {
  const k = gaussianKernel1d(4);
  assert.is(k.length, 33);
  assert.ok(Math.abs(k.reduce((a, b) => a + b, 0) - 1) < 1e-15);
  assert.is(k[0], k[32]);
  assert.ok(k[16] > k[15] && k[15] > k[0]);
  assert.is(gaussianKernel1d(1.5).length, 2 * 6 + 1);
});

for (const c of fx.gaussian) {
  g(`${c.h}x${c.w} sigma ${c.sigma}: within 1 float32 ulp of scipy`, () => {
    const out = gaussianFilter2d(f32(c.input), c.h, c.w, c.sigma, c.truncate);
    const u = maxUlps(out, f32(c.output));
    assert.ok(u <= 1, `max ${u} ulps`);
  });
}

g('maps smaller than the kernel radius reflect repeatedly (13x9, radius 16): exact', () => {
  const c = fx.gaussian.find((x) => x.h === 13 && x.w === 9)!;
  assert.is(maxUlps(gaussianFilter2d(f32(c.input), 13, 9), f32(c.output)), 0);
});

g('shape mismatch throws', () => {
  assert.throws(() => gaussianFilter2d(new Float32Array(5), 2, 3), /expected 2x3/);
});

const b = suite('gaussian: torch bilinear align_corners=False');

for (const c of fx.bilinear) {
  // torch's CPU kernel takes a 4-weight, possibly FMA-contracted route that differs in the last
  // bits from the separable formula; values are O(1), so 5e-7 absolute is a few float32 ulps.
  b(`${c.planes}x${c.inH}x${c.inW} -> ${c.outH}x${c.outW} within 5e-7`, () => {
    const out = resizeBilinear(f32(c.input), c.planes, c.inH, c.inW, c.outH, c.outW);
    const { ratio, index } = worstRatio(out, f32(c.output), 5e-7, 0);
    assert.ok(ratio <= 1, `worst at ${index}: ${out[index]} vs ${f32(c.output)[index]}`);
  });
}

b('segmentor (bilinear to 24x24 then gaussian sigma 4) within 5e-7', () => {
  const s = fx.segmentor;
  const out = rescaleSegmentation(f32(s.input), s.batch, s.h, s.w, s.targetH, s.targetW);
  const { ratio, index } = worstRatio(out, f32(s.output), 5e-7, 0);
  assert.ok(ratio <= 1, `worst at ${index}: ${out[index]} vs ${f32(s.output)[index]}`);
});

g.run();
b.run();
