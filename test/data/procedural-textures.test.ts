// data/procedural-textures.ts and TextureSource('builtin'): the bank is fixed and deterministic, every
// family is present, the pictures have contrast and varied colours, a texture rendered small is the
// same picture as one rendered large, and LAS draws from the bank through datasets and loader workers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BUILTIN_TEXTURE_COUNT,
  BUILTIN_TEXTURE_FAMILIES,
  BUILTIN_TEXTURE_SIZE,
  builtinTexture,
  builtinTextureFamily,
  builtinTextureName,
  builtinTextureNames,
  parseBuiltinTexture,
} from '../../data/procedural-textures.ts';
import { BUILTIN_TEXTURES, TextureSource } from '../../data/las.ts';
import { AnomalyDataset, type TrainItem } from '../../data/datasets.ts';
import { DataLoader, type TrainBatch } from '../../data/loader.ts';
import { resize } from '../../data/transforms.ts';
import type { Image } from '../../data/image.ts';
import { makeTmpData, type TmpData } from './tmpdata.ts';

const quiet = () => {};
const SMALL = 64; // bank-wide checks render small: 1/16 of the pixels of the default size

/** Mean absolute difference per byte. */
function mad(a: Image, b: Image): number {
  assert.is(a.data.length, b.data.length);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i]! - b.data[i]!);
  return s / a.data.length;
}

interface Stats {
  range: number;
  sd: number;
  mean: [number, number, number];
  luma: number;
  sat: number;
}

/** Luma spread (2nd to 98th percentile), its sd, the mean colour and the mean saturation (max - min channel). */
function stats(img: Image): Stats {
  const n = img.width * img.height,
    d = img.data;
  const L = new Float64Array(n);
  const mean: [number, number, number] = [0, 0, 0];
  let sat = 0;
  for (let k = 0; k < n; k++) {
    const r = d[k * 3]!,
      g = d[k * 3 + 1]!,
      b = d[k * 3 + 2]!;
    L[k] = 0.299 * r + 0.587 * g + 0.114 * b;
    mean[0] += r / n;
    mean[1] += g / n;
    mean[2] += b / n;
    sat += (Math.max(r, g, b) - Math.min(r, g, b)) / n;
  }
  const luma = L.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(L.reduce((a, b) => a + (b - luma) ** 2, 0) / n);
  L.sort();
  return { range: L[Math.floor(n * 0.98)]! - L[Math.floor(n * 0.02)]!, sd, mean, luma, sat };
}

const sd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
};

const BANK = suite('procedural textures: the bank');
let small: Image[] = [];
BANK.before(() => {
  small = Array.from({ length: BUILTIN_TEXTURE_COUNT }, (_, i) => builtinTexture(i, SMALL));
});

BANK('names: builtin:<family>-<index>, unique, every family several times, parse round trip', () => {
  assert.ok(BUILTIN_TEXTURE_COUNT >= 48 && BUILTIN_TEXTURE_COUNT <= 96, `${BUILTIN_TEXTURE_COUNT}`);
  const names = builtinTextureNames();
  assert.is(names.length, BUILTIN_TEXTURE_COUNT);
  assert.is(new Set(names).size, names.length);
  assert.is(names[7], `builtin:${builtinTextureFamily(7)}-07`);
  const count = new Map<string, number>();
  names.forEach((name, i) => {
    assert.match(name, /^builtin:[a-z]+-\d\d$/);
    assert.is(name, builtinTextureName(i));
    assert.is(parseBuiltinTexture(name), i);
    count.set(builtinTextureFamily(i), (count.get(builtinTextureFamily(i)) ?? 0) + 1);
  });
  assert.ok(BUILTIN_TEXTURE_FAMILIES.length >= 10, 'a dozen or so families');
  for (const f of ['clouds', 'marble', 'wood', 'cells', 'cracks', 'stripes', 'checks', 'plaid', 'fibres', 'speckle', 'blotches']) {
    assert.ok((count.get(f) ?? 0) >= 3, `family ${f}: ${count.get(f) ?? 0} textures`);
  }
  // a name whose family does not match its index, an index past the bank, or no index at all
  const wrongFamily = `builtin:${builtinTextureFamily(1)}-00`;
  assert.throws(() => parseBuiltinTexture(wrongFamily), /not a builtin texture/);
  assert.throws(
    () => parseBuiltinTexture(`builtin:${builtinTextureFamily(0)}-${BUILTIN_TEXTURE_COUNT + BUILTIN_TEXTURE_FAMILIES.length}`),
    /not a builtin texture/,
  );
  assert.throws(() => parseBuiltinTexture('builtin:marble'), /not a builtin texture/);
  assert.throws(() => builtinTexture(BUILTIN_TEXTURE_COUNT), /out of range/);
  assert.throws(() => builtinTexture(0, 4), /size/);
});

BANK('deterministic per index (byte-identical), different indices differ', () => {
  for (const i of [0, 5, 17, BUILTIN_TEXTURE_COUNT - 1]) {
    const a = builtinTexture(i),
      b = builtinTexture(i);
    assert.equal([a.width, a.height, a.channels, a.data.length], [BUILTIN_TEXTURE_SIZE, BUILTIN_TEXTURE_SIZE, 3, BUILTIN_TEXTURE_SIZE ** 2 * 3]);
    assert.ok(a.data !== b.data, 'a fresh buffer per call');
    assert.equal(a.data, b.data, `texture ${i}`);
    assert.equal(builtinTexture(i, SMALL).data, small[i]!.data);
  }
  for (let i = 0; i < small.length; i++) {
    for (let j = i + 1; j < small.length; j++) assert.ok(mad(small[i]!, small[j]!) > 5, `${builtinTextureName(i)} vs ${builtinTextureName(j)}`);
  }
});

BANK('contrast: no flat texture, most use a large part of 0..255', () => {
  const s = small.map(stats);
  s.forEach((t, i) => {
    assert.ok(t.range >= 30, `${builtinTextureName(i)}: luma p2..p98 spans only ${t.range.toFixed(1)}`);
    assert.ok(t.sd >= 8, `${builtinTextureName(i)}: luma sd ${t.sd.toFixed(1)}`);
  });
  const ranges = s.map((t) => t.range).sort((a, b) => a - b);
  assert.ok(ranges[ranges.length >> 1]! >= 90, `median luma spread ${ranges[ranges.length >> 1]}`);
  let lo = 255,
    hi = 0;
  for (const img of small) for (const v of img.data) ((lo = Math.min(lo, v)), (hi = Math.max(hi, v)));
  assert.equal([lo, hi], [0, 255], 'the bank reaches both ends of the range');
});

BANK('colour: mean colours vary, some textures grey and many coloured', () => {
  const s = small.map(stats);
  for (let ch = 0; ch < 3; ch++) assert.ok(sd(s.map((t) => t.mean[ch]!)) >= 25, `channel ${ch}: mean colours too alike`);
  assert.ok(sd(s.map((t) => t.luma)) >= 25, 'dark and light textures');
  const grey = s.filter((t) => t.sat < 12).length,
    coloured = s.filter((t) => t.sat > 40).length;
  assert.ok(grey >= 4, `${grey} grey textures`);
  assert.ok(coloured >= BUILTIN_TEXTURE_COUNT / 3, `${coloured} coloured textures`);
  // no two textures share a mean colour (within 3 levels on every channel) and a luma spread
  for (let i = 0; i < s.length; i++) {
    for (let j = i + 1; j < s.length; j++) {
      const near = s[i]!.mean.every((m, ch) => Math.abs(m - s[j]!.mean[ch]!) < 3) && Math.abs(s[i]!.range - s[j]!.range) < 3;
      assert.ok(!near, `${builtinTextureName(i)} and ${builtinTextureName(j)} look alike`);
    }
  }
});

BANK('rendered small it is the same picture as rendered large and downscaled; fast enough', () => {
  const times: number[] = [];
  for (let i = 0; i < BUILTIN_TEXTURE_FAMILIES.length; i++) {
    const t0 = performance.now();
    const big = builtinTexture(i);
    times.push(performance.now() - t0);
    const down = resize(big, SMALL),
      other = resize(builtinTexture(i + BUILTIN_TEXTURE_FAMILIES.length, SMALL), SMALL);
    const same = mad(small[i]!, down),
      diff = mad(small[i]!, other);
    assert.ok(same < 0.6 * diff, `${builtinTextureName(i)}: small vs downscaled ${same.toFixed(1)}, vs another of its family ${diff.toFixed(1)}`);
  }
  // a few ms each on a desktop; the bound only catches a slow path (per-pixel allocation, no tables)
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  assert.ok(mean < 60, `mean ${mean.toFixed(1)} ms per ${BUILTIN_TEXTURE_SIZE}px texture`);
});

BANK.run();

const LAS = suite('procedural textures: LAS');
let tmp: TmpData;
LAS.before(() => {
  tmp = makeTmpData({ train: 4, size: 48 });
});
LAS.after(() => tmp.cleanup());

LAS("TextureSource('builtin') lists the bank; load() generates, resizes and caches", () => {
  assert.is(BUILTIN_TEXTURES, 'builtin');
  const src = new TextureSource(BUILTIN_TEXTURES);
  assert.equal(src.paths, builtinTextureNames());
  assert.equal(src.ignored, []);
  const p = src.paths[9]!;
  const a = src.load(p, 40);
  assert.equal([a.width, a.height, a.channels], [40, 40, 3]);
  assert.equal(a.data, resize(builtinTexture(9), 40).data, 'as if read from a 256 px file and resized');
  assert.ok(src.load(p, 40) === a, 'cached');
  assert.is(src.load(p).width, BUILTIN_TEXTURE_SIZE);
  // larger sides are rendered at that size rather than upscaled
  assert.equal(src.load(p, 300).data, builtinTexture(9, 300).data);
  // a worker's copy has only the path list
  const w = new TextureSource(BUILTIN_TEXTURES, [p]);
  assert.equal(w.load(p, 40).data, a.data);
  assert.throws(() => src.load('builtin:nothing-99', 40), /not a builtin texture/);
});

LAS("a training item with textures 'builtin' blends a bank texture inside the mask only", () => {
  const ds = AnomalyDataset.open({
    kind: 'mvtec',
    root: tmp.root,
    className: 'button',
    split: 'train',
    resize: 40,
    imagesize: 32,
    textures: BUILTIN_TEXTURES,
    warn: quiet,
  });
  assert.equal(ds.spec().textures, builtinTextureNames());
  const it = ds.item(1, 3, 0) as TrainItem;
  assert.match(it.texture!, /^builtin:[a-z]+-\d\d$/);
  const hw = 32 * 32;
  let inside = 0,
    changed = 0;
  for (let i = 0; i < it.image.length; i++) {
    if (it.maskL![i % hw]! === 0) assert.is(it.aug![i], it.image[i], `pixel ${i} outside the mask changed`);
    else {
      inside++;
      if (Math.abs(it.aug![i]! - it.image[i]!) > 1e-3) changed++;
    }
  }
  assert.ok(inside > 0, 'empty mask');
  assert.ok(changed > 0.5 * inside, `only ${changed} of ${inside} masked values changed`);
  // a worker's rebuild of the dataset gives the same item
  const again = AnomalyDataset.fromSpec(ds.spec()).item(1, 3, 0) as TrainItem;
  assert.equal(again.aug, it.aug);
  assert.is(again.texture, it.texture);
});

LAS('the loader gives the same batches with one worker thread as without', async () => {
  const ds = AnomalyDataset.open({
    kind: 'mvtec',
    root: tmp.root,
    className: 'button',
    split: 'train',
    resize: 40,
    imagesize: 32,
    textures: BUILTIN_TEXTURES,
    warn: quiet,
  });
  const ref = new DataLoader(ds, { batchSize: 4, seed: 11, workers: 0 });
  const one = new DataLoader(ds, { batchSize: 4, seed: 11, workers: 1 });
  try {
    const r: TrainBatch[] = [],
      w: TrainBatch[] = [];
    for await (const b of ref.epoch(0)) r.push(b as TrainBatch);
    for await (const b of one.epoch(0)) w.push(b as TrainBatch);
    assert.is(w.length, 1);
    assert.is(r.length, 1);
    assert.equal(w[0]!.indices, r[0]!.indices);
    assert.equal(w[0]!.augs, r[0]!.augs);
    assert.equal(w[0]!.masksL, r[0]!.masksL);
    assert.equal(w[0]!.betas, r[0]!.betas);
    assert.not.equal(r[0]!.augs, r[0]!.images, 'LAS changed the batch');
  } finally {
    await one.close();
    await ref.close();
  }
});

LAS.run();
