// data/las.ts: the GLASS blend expression against torch (fixture), beta's clipped normal, texture
// sources (recursive search, errors) and a full synthesis step on small images.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clipBeta, lasBlend, sampleBeta, synthesize, TextureSource, prepareTexture, type LasOptions } from '../../data/las.ts';
import { imageFiles, readImage } from '../../data/image.ts';
import { IMAGENET, toTensor, resize, centerCrop } from '../../data/transforms.ts';
import { Rng } from '../../data/rng.ts';
import { makeTmpData, type TmpData } from './tmpdata.ts';

const FIX = new URL('../fixtures/data/', import.meta.url).pathname;
const las = JSON.parse(readFileSync(join(FIX, 'las.json'), 'utf8')) as {
  image: number[];
  texture: number[];
  mask: number[];
  beta: number;
  out: number[];
  clip: [number, number][];
};

const BLEND = suite('las: blend and beta');

BLEND('blend matches the reference expression evaluated by torch', () => {
  const out = lasBlend(Float32Array.from(las.image), Float32Array.from(las.texture), Float32Array.from(las.mask), las.beta);
  assert.is(out.length, las.out.length);
  for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i]! - las.out[i]!) < 1e-6, `${i}: ${out[i]} vs ${las.out[i]}`);
});

BLEND('outside the mask the image is unchanged; inside it is (1-beta) texture + beta image', () => {
  const img = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i / 7);
  const tex = Float32Array.from({ length: 24 }, (_, i) => -i / 5);
  const m = Float32Array.from([1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1]);
  const out = lasBlend(img, tex, m, 0.3);
  for (let i = 0; i < 24; i++) {
    const want = m[i % 12] ? 0.7 * tex[i]! + 0.3 * img[i]! : img[i]!;
    assert.ok(Math.abs(out[i]! - want) < 1e-6);
  }
  assert.throws(() => lasBlend(img, tex.subarray(1), m, 0.3), /shapes/);
});

BLEND('beta ~ N(0.5, 0.1) clipped to [0.2, 0.8]', () => {
  const r = new Rng(4);
  const n = 4000;
  const xs = Array.from({ length: n }, () => sampleBeta(r));
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(sd - 0.1) < 0.008, `sd ${sd}`);
  assert.ok(xs.every((x) => x >= 0.2 && x <= 0.8));
  // with mean 0.3 the lower clip is hit often; the clip points match numpy's np.clip
  const low = Array.from({ length: 2000 }, () => sampleBeta(r, 0.3, 0.1));
  assert.ok(low.filter((x) => x === 0.2).length > 200);
  for (const [v, c] of las.clip) assert.is(clipBeta(v), c);
});

BLEND.run();

const SYN = suite('las: textures and synthesis');
let tmp: TmpData;
SYN.before(() => {
  tmp = makeTmpData({ train: 2 });
});
SYN.after(() => tmp.cleanup());

SYN('TextureSource finds JPG/PNG files recursively, sorted, and reports other files', () => {
  writeFileSync(join(tmp.textures, 'a', 'readme.txt'), 'x');
  const t = new TextureSource(tmp.textures, undefined, undefined, imageFiles);
  assert.equal(
    t.paths.map((p) => p.slice(tmp.textures.length + 1)),
    ['a/t1.png', 'b/c/t2.jpg'],
  );
  assert.ok(t.ignored.some((p) => p.endsWith('readme.txt')));
  mkdirSync(join(tmp.dir, 'empty'));
  assert.throws(() => new TextureSource(join(tmp.dir, 'empty'), undefined, undefined, imageFiles), /no \.png\/\.jpg/);
  assert.throws(() => new TextureSource(join(tmp.dir, 'absent'), undefined, undefined, imageFiles), /does not exist/);
  // without file access (a browser) a folder is refused by name; the bank and images in memory work
  assert.throws(() => new TextureSource(tmp.textures), /needs file access/);
  const mem = TextureSource.fromImages(new Map([['grey', readImage(join(tmp.textures, 'a', 't1.png'), 'gray')]]));
  assert.equal(mem.paths, ['grey']);
  assert.is(mem.load('grey').channels, 3);
});

SYN('prepareTexture: Resize -> 3 ops -> CenterCrop -> normalised tensor', () => {
  const o: LasOptions = { resize: 40, imagesize: 32, norm: IMAGENET, featSize: 4 };
  const img = readImage(join(tmp.textures, 'a', 't1.png'));
  const { tensor, ops } = prepareTexture(img, new Rng(1), o);
  assert.is(tensor.length, 3 * 32 * 32);
  assert.is(ops.length, 3);
  // without randAug the caller's transform is used
  const plain = prepareTexture(img, new Rng(1), { ...o, randAug: false, textureTransform: (i) => centerCrop(resize(i, 40), 32) });
  assert.equal(plain.tensor, toTensor(centerCrop(resize(img, 40), 32), IMAGENET));
  assert.equal(plain.ops, []);
});

SYN('synthesize: shapes, blend inside the Perlin mask only, deterministic per seed', () => {
  const src = new TextureSource(tmp.textures, undefined, undefined, imageFiles);
  const o: LasOptions = { resize: 40, imagesize: 32, norm: IMAGENET, featSize: 4 };
  const image = toTensor(centerCrop(resize(readImage(join(FIX, 'src64x48.png')), 40), 32), IMAGENET);
  const a = synthesize(image, src, new Rng(8), o);
  const b = synthesize(image, src, new Rng(8), o);
  assert.equal(a.aug, b.aug);
  assert.is(a.texture, b.texture);
  assert.is(a.maskL.length, 32 * 32);
  assert.equal([a.featH, a.featW], [4, 4]);
  assert.ok(a.beta >= 0.2 && a.beta <= 0.8);
  let inside = 0;
  for (let i = 0; i < image.length; i++) {
    const m = a.maskL[i % 1024]!;
    if (!m) assert.is(a.aug[i], image[i]);
    else if (a.aug[i] !== image[i]) inside++;
  }
  assert.ok(inside > 0, 'the mask region changed');
  assert.throws(() => synthesize(image.subarray(3), src, new Rng(1), o), /expected 3x32x32/);
});

SYN.run();
