// glass/visualize.ts: the JET colours against OpenCV's own table (test/fixtures/gen/visuals.py),
// and the result strip (image | mask | heatmap of the jointly min-max scaled maps) read back
// from the PNG it writes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jet, writeVisuals, mapToOriginal, writeOverlays } from '../../glass/visualize.ts';
import { readImage, writePNG, createImage } from '../../data/image.ts';
import { loadFixture } from '../helpers/oracle.ts';
import type { Prediction } from '../../glass/trainer.ts';

const { rgb: table } = loadFixture<{ rgb: number[][] }>('glass/jet.json');
const t = suite('visuals');

// OpenCV builds JET from its own tables; the ramps here land within one unit of them
t('jet() is OpenCV COLORMAP_JET within one level per channel, quantised like astype(uint8)', () => {
  assert.is(table.length, 256);
  for (let u = 0; u < 256; u++) {
    // any v in [u / 255, (u + 1) / 255) is the level u
    for (const v of [(u + 0.01) / 255, (u + 0.99) / 255]) {
      const got = jet(Math.min(v, 1));
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(got[c] - table[u][c]) <= 1, `level ${u} channel ${c}: ${got[c]} vs OpenCV ${table[u][c]}`);
    }
  }
  assert.equal(jet(-1), jet(0));
  assert.equal(jet(2), [table[255][0], table[255][1], table[255][2]]);
});

t('writeVisuals: image | mask | heatmap, maps scaled over the whole set', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glass-visuals-'));
  try {
    const H = 2,
      W = 3;
    const norm = { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] };
    const images = [0, 1].map((k) => Float32Array.from({ length: 3 * H * W }, (_, i) => Math.sin(i + k) * 1.5));
    const maps = Float32Array.from({ length: 2 * H * W }, (_, i) => 3 + i * 0.5); // 3 .. 8.5 over both images
    const masks = Float32Array.from({ length: 2 * H * W }, (_, i) => (i % 4 === 1 ? 1 : 0));
    const pred: Prediction = {
      scores: Float32Array.of(0, 1),
      labels: Uint8Array.of(0, 1),
      maps,
      masks,
      paths: ['/data/x/test/good/000.png', '/data/x/test/crack/001.png'],
      images,
      size: [H, W],
    };
    await writeVisuals(dir, pred, norm);
    assert.equal(readdirSync(dir).sort(), ['crack_001.png', 'good_000.png']);
    const lo = 3,
      hi = 3 + 11 * 0.5;
    for (const [i, name] of [
      [0, 'good_000.png'],
      [1, 'crack_001.png'],
    ] as const) {
      const img = readImage(join(dir, name));
      assert.is(img.width, 3 * W);
      assert.is(img.height, H);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const p = y * W + x;
          const px = (col: number) => [0, 1, 2].map((c) => img.data[(y * 3 * W + col) * 3 + c]);
          const want = [0, 1, 2].map((c) => Math.round(Math.min(Math.max(images[i][c * H * W + p] * norm.std[c] + norm.mean[c], 0), 1) * 255));
          assert.equal(px(x), want, `${name} image (${y}, ${x})`);
          assert.equal(px(W + x), new Array(3).fill(masks[i * H * W + p] * 255), `${name} mask (${y}, ${x})`);
          const level = Math.floor(((maps[i * H * W + p] - lo) / (hi - lo)) * 255);
          const heat = px(2 * W + x);
          for (let c = 0; c < 3; c++)
            assert.ok(Math.abs(heat[c] - table[level][c]) <= 1, `${name} heatmap (${y}, ${x}) level ${level}: ${heat} vs ${table[level]}`);
        }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('mapToOriginal follows Resize + CenterCrop back to the original pixels', () => {
  // an 8x4 image, shorter side 4 -> resized 8x4 (unchanged), centre crop 4 -> columns 2..5;
  // the map's value is its column, so original column x reads x - 2 inside the crop
  const map = Float32Array.from({ length: 16 }, (_, i) => i % 4);
  const out = mapToOriginal(map, 8, 4, { resize: 4, imagesize: 4 });
  for (let y = 0; y < 4; y++)
    for (let x = 0; x < 8; x++) {
      const v = out[y * 8 + x];
      if (x < 2 || x > 5) assert.ok(Number.isNaN(v), `(${x}, ${y}) is outside the crop`);
      else assert.ok(Math.abs(v - (x - 2)) < 1e-6, `(${x}, ${y}) = ${v}`);
    }
  // downscaled 2x (16x8 -> 8x4): original columns 4..11 cover the crop; x = 5 sits at crop u = 0.25
  const half = mapToOriginal(map, 16, 8, { resize: 4, imagesize: 4 });
  assert.ok(Number.isNaN(half[3]) && !Number.isNaN(half[4]) && !Number.isNaN(half[11]) && Number.isNaN(half[12]));
  assert.ok(Math.abs(half[5] - 0.25) < 1e-6, `${half[5]}`);
});

t("mapToOriginal with geometry 'full': the whole image maps onto the map, stretched, no NaN", () => {
  // an 8x4 image stretched to 4x4: original column x lies at map u = (x + 0.5) / 2 - 0.5
  const map = Float32Array.from({ length: 16 }, (_, i) => i % 4);
  const out = mapToOriginal(map, 8, 4, { resize: 4, imagesize: 4, geometry: 'full' });
  for (let y = 0; y < 4; y++)
    for (let x = 0; x < 8; x++) {
      const u = Math.min(Math.max((x + 0.5) / 2 - 0.5, 0), 3);
      assert.ok(Math.abs(out[y * 8 + x] - u) < 1e-6, `(${x}, ${y}) = ${out[y * 8 + x]}, want ${u}`);
    }
});

t('writeOverlays: heatmap and mask at the original size, mask at the pixel threshold, outside the crop untinted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glass-overlay-'));
  try {
    const img = createImage(6, 4, 3, 200);
    writePNG(join(dir, 'a.png'), img);
    const map = Float32Array.from({ length: 16 }, (_, i) => (i % 4 === 3 ? 0.9 : 0.1));
    const pred: Prediction = {
      scores: Float32Array.of(0.9),
      labels: Uint8Array.of(0),
      maps: map,
      masks: new Float32Array(16),
      paths: [join(dir, 'a.png')],
      images: [],
      size: [4, 4],
    };
    await writeOverlays(join(dir, 'out'), pred, { resize: 4, imagesize: 4 }, { image: 0.5, pixel: 0.5, pixelNormal: 0.1, rule: 'test', images: 1 });
    const heat = readImage(join(dir, 'out', 'heatmaps', 'a.png'), 'native');
    const mask = readImage(join(dir, 'out', 'masks', 'a.png'), 'native');
    assert.equal([heat.width, heat.height, mask.width, mask.height], [6, 4, 6, 4]);
    // crop columns 1..4; the map's last column (0.9) lands on original column 4
    assert.equal(
      Array.from({ length: 6 }, (_, x) => mask.data[x]),
      [0, 0, 0, 0, 255, 0],
    );
    assert.equal([...heat.data.subarray(0, 3)], [100, 100, 100], 'outside the crop: half the image, no colour');
    // at the median (0.1) the colour is JET's bottom (dark blue), at 0.9 (> threshold) it is red-ish
    const px = (x: number) => [...heat.data.subarray(x * 3, x * 3 + 3)];
    assert.equal(
      px(1),
      jet(0)
        .map((c, i) => Math.round(0.5 * 200 + 0.5 * c))
        .slice(0, 3),
    );
    assert.ok(px(4)[0] > px(4)[2], 'above the threshold: more red than blue');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
