// Makes an elongated copy of an MVTec-layout class, for measuring `--geometry` (crop vs full) on
// sets whose images are square. Each image is placed at the left or the right of a WIDTH-times-
// wider canvas (seeded choice) and the rest is filled with other images of the same folder's good
// images (train/good for training, test/good for test), so the canvas looks like more of the same
// part; masks get zeros there. The reference's Resize + CenterCrop keeps the middle 1/WIDTH of the
// canvas, so a defect near the image's outer edge is cropped away while its label stays.
//   npx tsx bench/elongate-set.ts --data ROOT -d CLASS --out ROOT2 [--width 2] [--seed 0]
import { mkdirSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createImage, listImages, readImage, readMask, writePNG, type Image } from '../data/image.ts';
import { Rng } from '../data/rng.ts';

/** A canvas `width` times as wide as `main`, with `main` at slot `at` and `fill` images elsewhere. */
export function elongate(main: Image, fill: readonly Image[], width: number, at: number): Image {
  const out = createImage(main.width * width, main.height, main.channels);
  for (let slot = 0, f = 0; slot < width; slot++) {
    const src = slot === at ? main : fill[f++ % fill.length];
    if (src.width !== main.width || src.height !== main.height || src.channels !== main.channels)
      throw new Error(`elongate: images differ in size (${src.width}x${src.height}x${src.channels} vs ${main.width}x${main.height}x${main.channels})`);
    const rowBytes = main.width * main.channels;
    for (let y = 0; y < main.height; y++)
      out.data.set(src.data.subarray(y * rowBytes, (y + 1) * rowBytes), (y * out.width + slot * main.width) * main.channels);
  }
  return out;
}

function main(argv: string[]): number {
  const usage = 'usage: npx tsx bench/elongate-set.ts --data ROOT -d CLASS --out ROOT2 [--width 2] [--seed 0]';
  let v: { data?: string; d?: string; out?: string; width: string; seed: string };
  try {
    v = parseArgs({
      args: argv,
      options: {
        data: { type: 'string' },
        d: { type: 'string' },
        out: { type: 'string' },
        width: { type: 'string', default: '2' },
        seed: { type: 'string', default: '0' },
      },
    }).values as typeof v;
  } catch (err) {
    console.error(`elongate-set: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  const width = Number(v.width);
  if (!v.data || !v.d || !v.out || !Number.isInteger(width) || width < 2) {
    console.error(`elongate-set: --data, -d, --out and an integer --width >= 2 are required\n${usage}`);
    return 2;
  }
  const src = join(v.data, v.d);
  const dst = join(v.out, v.d);
  const rng = new Rng(Number(v.seed));
  const load = (dir: string) => listImages(dir).files.map((f) => ({ name: basename(f), img: readImage(f, 'rgb') }));
  const pools = { train: load(join(src, 'train', 'good')), test: load(join(src, 'test', 'good')) };
  let lost = 0,
    defective = 0;
  for (const split of ['train', 'test'] as const) {
    for (const type of listImages(join(src, split)).folders.map((f) => basename(f))) {
      const dir = join(src, split, type);
      mkdirSync(join(dst, split, type), { recursive: true });
      for (const { name, img } of load(dir)) {
        const pool = pools[split].filter((p) => !(type === 'good' && p.name === name)).map((p) => p.img);
        const fill = Array.from({ length: width - 1 }, () => pool[rng.nextU32() % pool.length]);
        const at = rng.nextU32() % width;
        writePNG(join(dst, split, type, name), elongate(img, fill, width, at));
        const maskPath = join(src, 'ground_truth', type, name.replace(/\.[^.]+$/, '_mask.png'));
        if (split === 'test' && type !== 'good' && existsSync(maskPath)) {
          const mask = readMask(maskPath);
          const blank = createImage(mask.width, mask.height, mask.channels);
          const long = elongate(mask, [blank], width, at);
          mkdirSync(join(dst, 'ground_truth', type), { recursive: true });
          writePNG(join(dst, 'ground_truth', type, name.replace(/\.[^.]+$/, '_mask.png')), long);
          // the centre crop keeps columns [W(width-1)/2, W(width+1)/2) of the canvas
          const x0 = (mask.width * (width - 1)) / 2,
            x1 = x0 + mask.width;
          let inside = false;
          for (let y = 0; y < long.height && !inside; y++)
            for (let x = Math.ceil(x0); x < x1 && !inside; x++) inside = long.data[(y * long.width + x) * long.channels] > 0;
          defective++;
          if (!inside) lost++;
        }
      }
    }
  }
  console.log(`wrote ${dst}: ${width}:1 canvases; the centre crop removes the whole defect from ${lost} of ${defective} defective images`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));
