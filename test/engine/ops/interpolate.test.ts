// interpolate's 'bicubic' and 'nearest-exact' modes against PyTorch fixtures
// (test/fixtures/gen/pool_interp.py: sizes up and down, odd sizes, 1-pixel edges, scale factors
// incl. non-integer, downsampling and size-keeping ones, align_corners, a permuted view),
// finite-difference gradient checks and errors. 'nearest' and 'bilinear' are in shape-ops.test.ts
// (nearest's handling of infinities is here).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { registerCases, loadFixture, gradcheck, type OpFn } from '../../helpers/oracle.ts';
import { throwsWith } from '../../helpers/throws.ts';

const interp = (a: Record<string, any>): E.InterpolateOptions => ({
  size: a.size,
  scaleFactor: a.scaleFactor,
  mode: a.mode,
  alignCorners: a.alignCorners,
  recomputeScaleFactor: a.recomputeScaleFactor,
});
const ops: Record<string, OpFn> = {
  interpolate: ([x], a) => E.interpolate(x, interp(a)),
  interpolate_nhwc: ([x], a) => E.interpolate(E.permute(x, [0, 3, 1, 2]), interp(a)),
};
const before = async () => {
  await E.initDevice();
};
const cases = loadFixture('ops/pool_interp.json').cases.filter((c) => c.op in ops);

const fx = suite('interpolate bicubic / nearest-exact vs torch');
fx.before(before);
fx('the fixture holds both modes, with gradients', () => {
  for (const mode of ['bicubic', 'nearest-exact']) {
    const mine = cases.filter((c) => c.args.mode === mode);
    assert.ok(mine.length >= 10, `${mode}: ${mine.length} cases`);
    assert.ok(mine.filter((c) => c.grads).length >= 10, `${mode}: cases with gradients`);
  }
});
registerCases(fx, cases, ops);
fx.run();

const gc = suite('interpolate bicubic / nearest-exact: finite-difference gradients');
gc.before(before);
const bicubic =
  (o: E.InterpolateOptions) =>
  ([x]: E.Tensor[]) =>
    E.interpolate(x, { mode: 'bicubic', ...o });
gc('bicubic up, odd sizes', () => gradcheck(bicubic({ size: [7, 9] }), [{ shape: [1, 2, 4, 5] }]));
gc('bicubic up, alignCorners', () => gradcheck(bicubic({ size: [7, 9], alignCorners: true }), [{ shape: [1, 1, 4, 5] }]));
gc('bicubic down (clamped taps on both borders)', () => gradcheck(bicubic({ size: [3, 2] }), [{ shape: [1, 1, 8, 7] }]));
gc('bicubic down, alignCorners', () => gradcheck(bicubic({ size: [3, 4], alignCorners: true }), [{ shape: [1, 1, 7, 9] }]));
gc('bicubic non-integer scale factors', () => gradcheck(bicubic({ scaleFactor: [1.7, 0.6] }), [{ shape: [1, 1, 5, 9] }]));
gc('bicubic size-keeping scale factor 1.05', () => gradcheck(bicubic({ scaleFactor: 1.05 }), [{ shape: [1, 1, 6, 7] }]));
gc('bicubic 1-pixel input and output edges', async () => {
  await gradcheck(bicubic({ size: [3, 4] }), [{ shape: [1, 1, 1, 1] }]);
  await gradcheck(bicubic({ size: [1, 6] }), [{ shape: [1, 1, 3, 2] }]);
  await gradcheck(bicubic({ size: [1, 1], alignCorners: true }), [{ shape: [1, 1, 3, 4] }]);
});
gc('bicubic wide rows (H pass over several 32-column chunks)', () => gradcheck(bicubic({ size: [3, 70] }), [{ shape: [1, 1, 2, 40] }]));
gc('nearest-exact up and down', async () => {
  await gradcheck(([x]) => E.interpolate(x, { mode: 'nearest-exact', size: [7, 3] }), [{ shape: [1, 2, 3, 5] }]);
  await gradcheck(([x]) => E.interpolate(x, { mode: 'nearest-exact', scaleFactor: [0.3, 2.05] }), [{ shape: [1, 1, 11, 3] }]);
});
gc.run();

const api = suite('interpolate bicubic / nearest-exact API');
api.before(before);
api('nearest-exact differs from nearest where torch says so', async () => {
  await E.tidyAsync(async () => {
    const x = E.tensor([0, 1, 2, 3, 4], { shape: [1, 1, 1, 5] });
    // scale 5/3: nearest floor(o * 5/3) = 0, 1, 3; nearest-exact floor((o + 0.5) * 5/3) = 0, 2, 4
    assert.equal(Array.from(await E.interpolate(x, { size: [1, 3], mode: 'nearest' }).data()), [0, 1, 3]);
    assert.equal(Array.from(await E.interpolate(x, { size: [1, 3], mode: 'nearest-exact' }).data()), [0, 2, 4]);
  });
});
api('nearest modes copy infinities (torch), bilinear mixes them into NaN where a weight is 0', async () => {
  await E.tidyAsync(async () => {
    const x = E.tensor([1, Infinity, NaN, -Infinity], { shape: [1, 1, 2, 2] });
    // torch 1.13: nearest [1, 1, inf, 1, 1, inf, nan, nan, -inf], nearest-exact [1, inf, inf, nan, -inf, -inf, nan, -inf, -inf]
    const I = Infinity;
    assert.equal(Array.from(await E.interpolate(x, { size: [3, 3], mode: 'nearest' }).data()), [1, 1, I, 1, 1, I, NaN, NaN, -I]);
    assert.equal(Array.from(await E.interpolate(x, { size: [3, 3], mode: 'nearest-exact' }).data()), [1, I, I, NaN, -I, -I, NaN, -I, -I]);
  });
});
api('bicubic replicates the border and keeps constants', async () => {
  await E.tidyAsync(async () => {
    const y = await E.interpolate(E.full([1, 1, 3, 4], 2.5), { size: [7, 5], mode: 'bicubic' }).data();
    for (const v of y) assert.ok(Math.abs(v - 2.5) < 1e-5, `constant input gave ${v}`);
  });
});
api.run();

const err = suite('interpolate bicubic / nearest-exact errors');
err.before(before);
err('alignCorners only with bilinear and bicubic', () => {
  const x = E.zeros([1, 1, 4, 4]);
  throwsWith(() => E.interpolate(x, { size: 2, mode: 'nearest-exact', alignCorners: false }), ['interpolate', 'alignCorners', 'bicubic', "'nearest-exact'"]);
  throwsWith(() => E.interpolate(x, { size: 2, mode: 'area' as 'bicubic' }), ["mode 'area' is not supported", 'nearest-exact', 'bicubic']);
});
err.run();
