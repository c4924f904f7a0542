// glass/embed.ts: the fused patch embedding against the reference's _embed composed from engine
// ops whose rules are checked against torch (unfold 3x3 pad 1 -> bilinear resize of taps >= 1
// to tap 0's grid, align_corners=False -> adaptive_avg_pool1d of each tap's C*9 vector -> stack
// -> adaptive_avg_pool1d to the target dim). Shapes cover 1-3 taps, 2x and non-integer scales,
// a tap larger than tap 0, a tap on tap 0's grid, pooling bins that do not divide evenly, target
// dims that are not a multiple of the kernel's dims per invocation, and a strided view.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../engine/index.ts';
import { patchEmbed } from '../../glass/embed.ts';
import { assertClose } from '../helpers/oracle.ts';

const t = suite('patchEmbed vs composed reference');
t.before(async () => {
  await E.initDevice();
});

function composed(taps: E.Tensor[], P: number, D: number): E.Tensor {
  const [B, , h0, w0] = taps[0].shape;
  const pooled = taps.map((x, i) => {
    const [, C, h, w] = x.shape;
    let u = E.reshape(E.unfold(x, { kernelSize: 3, padding: 1 }), [B, C * 9, h, w]);
    if (i > 0) u = E.interpolate(u, { size: [h0, w0], mode: 'bilinear', alignCorners: false });
    const rows = E.reshape(E.permute(u, [0, 2, 3, 1]), [B * h0 * w0, 1, C * 9]);
    return E.reshape(E.adaptiveAvgPool1d(rows, P), [B * h0 * w0, P]);
  });
  const stacked = E.reshape(E.stack(pooled, 1), [B * h0 * w0, 1, taps.length * P]);
  return E.reshape(E.adaptiveAvgPool1d(stacked, D), [B * h0 * w0, D]);
}

const rand = (shape: number[], seed: number) => {
  const n = shape.reduce((a, b) => a * b);
  return E.tensor(
    Float32Array.from({ length: n }, (_, i) => Math.abs(Math.sin(i * 0.731 + seed * 1.37)) * 2 - 0.3),
    { shape },
  );
};

const cases: { name: string; taps: number[][]; P: number; D: number }[] = [
  {
    name: 'GLASS layout: stride 8 and 16 taps (2x), bins of 6 and 12',
    taps: [
      [2, 8, 8, 8],
      [2, 16, 4, 4],
    ],
    P: 12,
    D: 12,
  },
  { name: 'one tap, P and D not dividing C*9 and T*P, D not a multiple of 16', taps: [[1, 5, 6, 7]], P: 7, D: 5 },
  {
    name: 'non-integer scale 4x5 -> 6x7, and a tap larger than tap 0 (downsampling)',
    taps: [
      [2, 4, 6, 7],
      [2, 3, 4, 5],
      [2, 2, 9, 11],
    ],
    P: 10,
    D: 17,
  },
  {
    name: 'second tap on tap 0 grid (no resize), wide target',
    taps: [
      [1, 3, 5, 5],
      [1, 6, 5, 5],
    ],
    P: 20,
    D: 37,
  },
  {
    name: 'a 1x1 grid tap and more dims than values (bins repeat)',
    taps: [
      [2, 2, 3, 3],
      [2, 2, 1, 1],
    ],
    P: 25,
    D: 40,
  },
];

for (const c of cases)
  t(c.name, () =>
    E.tidyAsync(async () => {
      const taps = c.taps.map((s, i) => rand(s, i + 1));
      const got = patchEmbed(taps, c.P, c.D);
      const [B, , h0, w0] = c.taps[0];
      assert.equal(got.shape, [B * h0 * w0, c.D]);
      assertClose(await got.data(), await composed(taps, c.P, c.D).data(), 1e-6, 1e-5, c.name);
    }),
  );

t('taps given as strided views (a channel slice, a non-contiguous tensor) embed like contiguous copies', () =>
  E.tidyAsync(async () => {
    const big0 = rand([2, 10, 8, 8], 3),
      big1 = rand([2, 4, 8, 4], 4);
    const v0 = E.slice(big0, 1, 2, 8); // [2, 6, 8, 8] at an offset
    const v1 = E.transpose(big1, 2, 3); // [2, 4, 4, 8] permuted
    assert.ok(v0.offset > 0 && !v1.isContiguous());
    const got = await patchEmbed([v0, v1], 9, 11).data();
    const want = await patchEmbed([E.contiguous(E.mul(v0, 1)), E.contiguous(E.mul(v1, 1))], 9, 11).data();
    assertClose(got, want, 0, 0, 'views');
    assertClose(got, await composed([v0, v1], 9, 11).data(), 1e-6, 1e-5, 'views vs composed');
  }),
);

t('errors name the op and the shapes', () =>
  E.tidy(() => {
    assert.throws(() => patchEmbed([], 4, 4), /patchEmbed: 1\.\.4 taps supported, got 0/);
    assert.throws(() => patchEmbed([E.zeros([2, 3, 4, 4]), E.zeros([1, 3, 2, 2])], 4, 4), /patchEmbed: tap 1 has shape \[1,3,2,2\], expected \[2, C, h, w\]/);
  }),
);

t.run();
