// Input geometry (data/datasets.ts `geometry`): on an elongated image whose defect sits at one
// end, the reference's Resize + CenterCrop ('crop') cuts the defect out of the input and its mask,
// while 'full' resizes the whole frame, so the defect and its mask pixels survive. Both give
// imagesize x imagesize inputs; 'full' equals torchvision's Resize((size, size)).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnomalyDataset } from '../../data/datasets.ts';
import { writePNG, type Image } from '../../data/image.ts';
import { resizeTo, toTensor } from '../../data/transforms.ts';
import { throwsWith } from '../helpers/throws.ts';

const t = suite('dataset input geometry');
let root = '';
const W = 120,
  H = 40,
  I = 32;

function img(width: number, height: number, channels: 1 | 3, f: (x: number, y: number, c: number) => number): Image {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = f(x, y, c);
  return { width, height, channels, data };
}

t.before(() => {
  root = mkdtempSync(join(tmpdir(), 'glass-geom-'));
  const plain = img(W, H, 3, (x, y, c) => (x * 2 + y + c * 40) & 255);
  writePNG(join(root, 'part/train/good/000.png'), plain);
  writePNG(join(root, 'part/test/good/000.png'), plain);
  // a defect in the last tenth of the width: outside the centre crop of a 40 x 120 frame
  const defect = (x: number) => x >= W - 12;
  writePNG(
    join(root, 'part/test/crack/000.png'),
    img(W, H, 3, (x, y, c) => (defect(x) ? 250 : (x * 2 + y + c * 40) & 255)),
  );
  writePNG(
    join(root, 'part/ground_truth/crack/000_mask.png'),
    img(W, H, 1, (x) => (defect(x) ? 255 : 0)),
  );
});
t.after(() => rmSync(root, { recursive: true, force: true }));

const open = (geometry?: 'crop' | 'full') =>
  AnomalyDataset.open({ kind: 'mvtec', root, className: 'part', split: 'test', resize: I, imagesize: I, norm: null, geometry, warn: () => {} });

t("'crop' (the default) loses a defect at the end of an elongated image; 'full' keeps it", () => {
  const crop = open();
  const full = open('full');
  assert.is(crop.geometry, 'crop');
  const idx = [...Array(crop.length).keys()].find((i) => crop.testItem(i).label === 1)!;
  const c = crop.testItem(idx),
    f = full.testItem(idx);
  assert.is(c.image.length, 3 * I * I);
  assert.is(f.image.length, 3 * I * I);
  const positives = (m: Float32Array) => m.reduce((a, v) => a + (v > 0 ? 1 : 0), 0);
  assert.is(positives(c.mask), 0, 'the crop removed the whole defect, yet the label stays 1');
  assert.is(c.label, 1);
  // 12 of 120 columns -> about a tenth of 32 columns, every row
  const p = positives(f.mask);
  assert.ok(p >= 2 * I && p <= 5 * I, `full-frame mask keeps the defect: ${p} pixels`);
  // the defect's columns are on the right edge of the full-frame mask
  for (let y = 0; y < I; y++) assert.is(f.mask[y * I + I - 1], 1);
});

t("'full' is torchvision's Resize((size, size)) of the whole frame", async () => {
  const full = open('full');
  const { readImage } = await import('../../data/image.ts');
  const i0 = [...Array(full.length).keys()].find((i) => full.testItem(i).label === 0)!;
  const want = toTensor(resizeTo(readImage(join(root, 'part/test/good/000.png'), 'rgb'), I, I), null);
  assert.equal(Array.from(full.testItem(i0).image), Array.from(want));
});

t('an unknown geometry is an error naming the choices', () => {
  throwsWith(() => open('tile' as 'full'), "geometry must be one of crop, full, got 'tile'");
});

t.run();
