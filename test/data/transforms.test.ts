// data/transforms.ts against torchvision 0.14 / PIL 9.4 outputs on crops of a real photo (fixtures from
// test/fixtures/gen/data.py): resize (bilinear antialiased, nearest, fixed size, up and down), Resize and
// CenterCrop geometry, ToTensor + Normalize, colour ops, flips, affine warps; plus rand_augmenter picks.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Image, readImage } from '../../data/image.ts';
import * as T from '../../data/transforms.ts';
import { Rng } from '../../data/rng.ts';

const FIX = new URL('../fixtures/data/', import.meta.url).pathname;
const src = readImage(join(FIX, 'src64x48.png'));
const mask = readImage(join(FIX, 'mask64x48.png'), 'gray');
const small = T.crop(src, 10, 20, 16, 20); // the generator's src[10:26, 20:40]

/** Mean absolute difference in 8-bit levels (the brief's tolerance is 1 level = 1/255). */
function mad(a: Image, expected: Uint8Array): number {
  assert.is(a.data.length, expected.length, 'size');
  let s = 0;
  for (let i = 0; i < expected.length; i++) s += Math.abs(a.data[i]! - expected[i]!);
  return s / expected.length;
}

const RS = suite('transforms: resize and crop vs torchvision');
const meta = JSON.parse(readFileSync(join(FIX, 'resize.json'), 'utf8')) as {
  cases: { name: string; width: number; height: number; channels?: number }[];
  normalized: [number, number, number, number][];
};
const strip = readImage(join(FIX, 'resize.png'), 'gray').data;
const ops: Record<string, () => Image> = {
  short23: () => T.resize(src, 23),
  fixed19x41: () => T.resize(src, [19, 41]),
  fixed48x30: () => T.resize(src, [48, 30]),
  up37: () => T.resize(small, 37),
  near23: () => T.resize(src, 23, 'nearest'),
  near_up37: () => T.resize(small, 37, 'nearest'),
  pipeline40c32: () => T.centerCrop(T.resize(src, 40), 32),
  mask_near23: () => T.resize(mask, 23, 'nearest'),
  mask_bil23: () => T.resize(mask, 23),
  mask_pipeline40c32: () => T.centerCrop(T.resize(mask, 40), 32),
};
let off = 0;
for (const c of meta.cases) {
  const n = c.width * c.height * (c.channels ?? 3);
  const expected = strip.subarray(off, off + n);
  off += n;
  RS(`${c.name} (${c.width}x${c.height})`, () => {
    const out = ops[c.name]!();
    assert.is(out.width, c.width);
    assert.is(out.height, c.height);
    const d = mad(out, expected);
    assert.ok(d <= 1, `MAD ${d.toFixed(3)} levels`);
    // Pillow's integer arithmetic is reproduced exactly, so demand it
    assert.is(d, 0, `MAD ${d} levels`);
  });
}

RS('ToTensor + Normalize(ImageNet) give torchvision float32 values', () => {
  const t = T.toTensor(T.centerCrop(T.resize(src, 40), 32), T.IMAGENET);
  for (const [c, y, x, v] of meta.normalized) assert.is(t[c * 1024 + y * 32 + x], Math.fround(v), `c${c} y${y} x${x}`);
  // normalize() on a plain tensor agrees with the fused table
  const plain = T.normalize(T.toTensor(T.centerCrop(T.resize(src, 40), 32)), 3, T.IMAGENET);
  let maxd = 0;
  for (let i = 0; i < t.length; i++) maxd = Math.max(maxd, Math.abs(plain[i]! - t[i]!));
  assert.ok(maxd < 1e-6, `max diff ${maxd}`);
  // and tensorToImage undoes both
  assert.equal(T.tensorToImage(t, 3, 32, 32, T.IMAGENET).data, T.centerCrop(T.resize(src, 40), 32).data);
});

RS.run();

const GEO = suite('transforms: Resize / CenterCrop geometry vs torchvision');
const sizes = JSON.parse(readFileSync(join(FIX, 'sizes.json'), 'utf8')) as {
  resize: [number, number, number, number, number][];
  centerCrop: [number, number, number, number, number[], number[]][];
};

GEO('Resize(int) output sizes (shorter side, longer side truncated)', () => {
  for (const [h, w, s, oh, ow] of sizes.resize) assert.equal(T.resizeOutputSize(h, w, s), [oh, ow], `${h}x${w} -> ${s}`);
});

GEO('CenterCrop placement, Python rounding and zero padding', () => {
  for (const [h, w, ch, cw, xs, ys] of sizes.centerCrop) {
    // pixels encode their own coordinates (x+1, y+1) as the generator's did
    const img: Image = { width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3) };
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img.data.set([x + 1, y + 1, 0], (y * w + x) * 3);
    const out = T.centerCrop(img, [ch, cw]);
    assert.is(out.width, cw);
    assert.is(out.height, ch);
    const gx = [],
      gy = [];
    for (let i = 0; i < cw * ch; i++) {
      gx.push(out.data[i * 3]!);
      gy.push(out.data[i * 3 + 1]!);
    }
    assert.equal(gx, xs, `${h}x${w} crop ${ch}x${cw} (x)`);
    assert.equal(gy, ys, `${h}x${w} crop ${ch}x${cw} (y)`);
  }
});

GEO('roundHalfEven is Python round()', () => {
  assert.equal([0.5, 1.5, 2.5, 20.5, -0.5, -1.5, 2.4, 2.6].map(T.roundHalfEven), [0, 2, 2, 20, -0, -2, 2, 3]);
});

GEO.run();

const COL = suite('transforms: colour ops and warps vs torchvision functional (PIL)');
const colorMeta = JSON.parse(readFileSync(join(FIX, 'color_ops.json'), 'utf8')) as { names: string[] };
const stack = readImage(join(FIX, 'color_ops.png'));
const s16 = readImage(join(FIX, 'src16.png'));
const N16 = 16 * 16 * 3;
const low: Image = { width: 16, height: 16, channels: 3, data: stack.data.slice(0, N16) };
const cops: Record<string, () => Image> = {
  input_low: () => low,
  'brightness1.3': () => T.adjustBrightness(s16, 1.3),
  'brightness0.6': () => T.adjustBrightness(s16, 0.6),
  'contrast0.7': () => T.adjustContrast(s16, 0.7),
  'contrast1.5': () => T.adjustContrast(s16, 1.5),
  'saturation1.6': () => T.adjustSaturation(s16, 1.6),
  'saturation0.3': () => T.adjustSaturation(s16, 0.3),
  'hue0.15': () => T.adjustHue(s16, 0.15),
  'hue-0.2': () => T.adjustHue(s16, -0.2),
  'hue0.04': () => T.adjustHue(s16, 0.04),
  grayscale3: () => T.grayscale(s16, 3),
  autocontrast: () => T.autocontrast(s16),
  autocontrast_low: () => T.autocontrast(low),
  equalize: () => T.equalize(s16),
  equalize_low: () => T.equalize(low),
  hflip: () => T.hflip(s16),
  vflip: () => T.vflip(s16),
  rotate30_bilinear: () => T.affine(s16, { angle: 30 }, 'bilinear'),
  'rotate-40_nearest': () => T.affine(s16, { angle: -40 }, 'nearest'),
  'affine10_t2-3_s1.1': () => T.affine(s16, { angle: 10, translate: [2, -3], scale: 1.1 }, 'bilinear'),
  rotate90_nearest: () => T.rotate(s16, 90, 'nearest'),
};

colorMeta.names.forEach((name, i) => {
  if (name === 'input_low') return;
  COL(name, () => {
    const f = cops[name];
    assert.ok(f, `no op for fixture ${name}`);
    const d = mad(f(), stack.data.subarray(i * N16, (i + 1) * N16));
    assert.ok(d <= 1, `MAD ${d.toFixed(3)} levels`);
    assert.is(d, 0, `MAD ${d} levels (Pillow's arithmetic is reproduced exactly)`);
  });
});

COL('the fixtures are not identities of the input', () => {
  // guards against a generator bug making the comparisons above vacuous
  for (const [i, name] of colorMeta.names.entries()) {
    if (name === 'input_low') continue;
    const out = stack.data.subarray(i * N16, (i + 1) * N16);
    const inp = name.endsWith('_low') ? low.data : s16.data;
    assert.ok(
      out.some((v, k) => v !== inp[k]),
      name,
    );
  }
});

COL('adjustHue rejects factors outside [-0.5, 0.5]', () => {
  assert.throws(() => T.adjustHue(s16, 0.6), /hue factor/);
});

COL.run();

const AUG = suite('transforms: random ops (seeded)');

AUG('randAug applies 3 distinct of the 9 rand_augmenter ops, all ops reachable, about uniformly', () => {
  const rng = new Rng(11);
  const counts = new Map<string, number>();
  const tiny = T.crop(s16, 0, 0, 8, 8);
  const n = 300;
  for (let k = 0; k < n; k++) {
    const { ops, image } = T.randAug(tiny, rng);
    assert.is(ops.length, 3);
    assert.is(new Set(ops).size, 3, ops.join());
    assert.is(image.channels, 3);
    for (const o of ops) counts.set(o, (counts.get(o) ?? 0) + 1);
  }
  assert.is(counts.size, 9);
  // each op is in a draw with probability 1/3: expected 100 of 300, sd ~8.2
  for (const [op, c] of counts) assert.ok(Math.abs(c - n / 3) < 35, `${op}: ${c}`);
});

AUG('randAug is the composition of its ops, replayed with the same stream', () => {
  const a = T.randAug(s16, new Rng(5));
  const r = new Rng(5);
  r.sample(9, 3);
  let img = s16;
  for (const op of a.ops) img = T.applyRandAugOp(img, op, r);
  assert.equal(img.data, a.image.data);
});

AUG('deterministic ops equal their functional forms; rotate stays within +-45 degrees', () => {
  const r = new Rng(1);
  assert.equal(T.applyRandAugOp(s16, 'hflip', r).data, T.hflip(s16).data);
  assert.equal(T.applyRandAugOp(s16, 'equalize', r).data, T.equalize(s16).data);
  assert.equal(T.applyRandAugOp(s16, 'grayscale', r).data, T.grayscale(s16, 3).data);
  // a 3x3 dot at radius 10 from the centre moves along an arc of at most 45 degrees
  const dot: Image = { width: 41, height: 41, channels: 3, data: new Uint8Array(41 * 41 * 3) };
  for (let y = 19; y <= 21; y++) for (let x = 29; x <= 31; x++) dot.data.set([255, 255, 255], (y * 41 + x) * 3);
  for (let k = 0; k < 40; k++) {
    const out = T.applyRandAugOp(dot, 'rotate', r);
    let found = false;
    for (let y = 0; y < 41; y++) {
      for (let x = 0; x < 41; x++) {
        if (out.data[(y * 41 + x) * 3]! > 0) {
          found = true;
          const ang = Math.abs((Math.atan2(y + 0.5 - 20.5, x + 0.5 - 20.5) * 180) / Math.PI);
          assert.ok(ang <= 45 + 9, `dot at angle ${ang}`);
        }
      }
    }
    assert.ok(found);
  }
});

AUG('colorJitter: zero ranges are the identity; a pair range is sampled inside it', () => {
  const r = new Rng(2);
  assert.equal(T.colorJitter(s16, r, { brightness: 0, contrast: 0, saturation: 0, hue: 0 }).data, s16.data);
  // brightness factor in [0.5, 0.5] exactly is brightness 0.5
  assert.equal(T.colorJitter(s16, r, { brightness: [0.5, 0.5] }).data, T.adjustBrightness(s16, 0.5).data);
  assert.throws(() => T.colorJitter(s16, r, { hue: [-0.7, 0.2] }), /hue/);
});

AUG('Random* wrappers apply their op with probability p', () => {
  const r = new Rng(12);
  let flips = 0;
  for (let k = 0; k < 400; k++) if (T.randomHflip(s16, r, 0.3) !== s16) flips++;
  assert.ok(Math.abs(flips - 120) < 40, `${flips} of 400`);
  assert.equal(T.randomEqualize(s16, r, 1).data, T.equalize(s16).data);
  assert.is(T.randomAutocontrast(s16, r, 0), s16);
  assert.equal(T.randomGrayscale(s16, r, 1).data, T.grayscale(s16, 3).data);
});

AUG('randomAffine with translate only shifts by whole pixels within the range', () => {
  const r = new Rng(9);
  for (let k = 0; k < 10; k++) {
    const out = T.randomAffine(s16, r, { degrees: 0, translate: [0.1, 0.1], interp: 'bilinear' });
    // find the shift: some (dx, dy) in [-3, 3]^2 must reproduce the interior exactly
    let ok = false;
    for (let dy = -3; dy <= 3 && !ok; dy++) {
      for (let dx = -3; dx <= 3 && !ok; dx++) {
        let same = true;
        for (let y = 3; y < 13 && same; y++)
          for (let x = 3; x < 13 && same; x++) same = out.data[(y * 16 + x) * 3] === s16.data[((y - dy) * 16 + (x - dx)) * 3];
        ok = same;
      }
    }
    assert.ok(ok, 'not a whole-pixel shift within 10%');
  }
});

AUG.run();
