// bench/elongate-set.ts: the canvas layout (the image at its slot, fills elsewhere, masks padded
// with zeros) and the count of defects a centre crop removes, on a tiny MVTec-layout class.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createImage, readImage, readMask, writePNG, type Image } from '../../data/image.ts';
import { elongate } from '../../bench/elongate-set.ts';

const t = suite('bench elongate-set');

const solid = (v: number, w = 4, h = 2): Image => createImage(w, h, 1, v);

t('elongate: the image at its slot, the fills in order elsewhere, rows kept', () => {
  const main = createImage(2, 2, 1);
  main.data.set([1, 2, 3, 4]);
  const out = elongate(main, [solid(7, 2), solid(8, 2)], 3, 1);
  assert.is(out.width, 6);
  assert.is(out.height, 2);
  assert.equal([...out.data], [7, 7, 1, 2, 8, 8, 7, 7, 3, 4, 8, 8]);
  assert.throws(() => elongate(main, [solid(0, 3)], 2, 0), /images differ in size/);
});

t('command line: writes 2:1 images and masks, and counts the defects the centre crop removes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'elongate-'));
  try {
    const src = join(dir, 'in', 'part');
    for (const d of ['train/good', 'test/good', 'test/bad', 'ground_truth/bad']) mkdirSync(join(src, d), { recursive: true });
    for (let i = 0; i < 3; i++) writePNG(join(src, 'train/good', `00${i}.png`), solid(50 + i, 8, 8));
    for (let i = 0; i < 2; i++) writePNG(join(src, 'test/good', `00${i}.png`), solid(60 + i, 8, 8));
    for (const [i, x] of [
      [0, 0],
      [1, 4],
    ]) {
      writePNG(join(src, 'test/bad', `00${i}.png`), solid(200, 8, 8));
      const m = solid(0, 8, 8);
      m.data[3 * 8 + x] = 255;
      writePNG(join(src, 'ground_truth/bad', `00${i}_mask.png`), m);
    }
    const script = fileURLToPath(new URL('../../bench/elongate-set.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--data', join(dir, 'in'), '-d', 'part', '--out', join(dir, 'out')], {
      encoding: 'utf8',
    });
    assert.is(r.status, 0, r.stderr);
    // the crop keeps the canvas's middle half (columns 4-11): count the masks with no defect there
    let lost = 0;
    for (const i of [0, 1]) {
      const img = readImage(join(dir, `out/part/test/bad/00${i}.png`));
      const mask = readMask(join(dir, `out/part/ground_truth/bad/00${i}_mask.png`));
      assert.equal([img.width, img.height, mask.width, mask.height], [16, 8, 16, 8]);
      const on = [...mask.data.keys()].filter((k) => mask.data[k] > 0);
      assert.is(on.length, 1, 'the mask keeps its one defect pixel, zeros elsewhere');
      const x = on[0] % 16;
      assert.ok(x === [0, 4][i] || x === [0, 4][i] + 8, `defect column ${x}`);
      assert.is(img.data[(3 * 16 + x) * 3], 200, 'the image sits where its mask does');
      if (x < 4 || x >= 12) lost++;
    }
    assert.match(r.stdout, new RegExp(`removes the whole defect from ${lost} of 2 defective images`));
    const bad = spawnSync(process.execPath, ['--import', 'tsx', script, '--data', join(dir, 'in')], { encoding: 'utf8' });
    assert.is(bad.status, 2);
    assert.match(bad.stderr, /--data, -d, --out and an integer --width >= 2 are required/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
