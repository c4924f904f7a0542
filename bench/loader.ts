// Throughput of the CPU data pipeline alone (data/loader.ts: decode, resize, LAS with textures and
// Perlin masks, normalise, batch), in images per second, on the shared MVTec bottle copy at the
// reference geometry (Resize 329, CenterCrop 288) with the GIMP textures as anomaly source.
// Epoch 0 decodes every PNG; later epochs reuse the resized images cached in each worker, so both are
// reported. Prints a table and writes JSON (default bench/results/loader.json).
// Usage: npx tsx bench/loader.ts [--workers 0,1,2] [--images 96] [--batch 8] [--json FILE]
//        [--root DIR --class NAME --textures DIR]   (defaults: $GLASS_SHARED or ../shared)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { AnomalyDataset, type Split } from '../data/datasets.ts';
import { DataLoader } from '../data/loader.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const repo = resolve(new URL('..', import.meta.url).pathname);
const shared = resolve(process.env.GLASS_SHARED ?? resolve(repo, '../shared'));
const root = opt('root', resolve(shared, 'data/mvtec_bottle'));
const className = opt('class', 'bottle');
const textures = opt('textures', resolve(shared, 'data/textures/gimp'));
const workerCounts = opt('workers', '0,1,2').split(',').map(Number);
const maxImages = Number(opt('images', '96'));
const batchSize = Number(opt('batch', '8'));
const jsonPath = resolve(opt('json', resolve(repo, 'bench/results/loader.json')));

interface Row {
  split: Split;
  workers: number;
  epoch: number;
  images: number;
  seconds: number;
  imagesPerSec: number;
}

async function run(split: Split, workers: number): Promise<Row[]> {
  const ds = AnomalyDataset.open({
    kind: 'mvtec',
    root,
    className,
    split,
    resize: 329,
    imagesize: 288,
    textures: split === 'train' ? textures : undefined,
    warn: () => {},
  });
  const dl = new DataLoader(ds, { batchSize, workers, seed: 0, dropLast: split === 'train' });
  const rows: Row[] = [];
  try {
    // epoch 0 decodes the files; epoch 1 (training) reads the per-worker cache of resized images
    for (const epoch of split === 'train' ? [0, 1] : [0]) {
      let n = 0;
      const t0 = performance.now();
      for await (const b of dl.epoch(epoch)) {
        n += b.indices.length;
        if (n >= maxImages) break;
      }
      const s = (performance.now() - t0) / 1000;
      rows.push({ split, workers, epoch, images: n, seconds: s, imagesPerSec: n / s });
    }
  } finally {
    await dl.close();
  }
  return rows;
}

const rows: Row[] = [];
for (const w of workerCounts) {
  rows.push(...(await run('train', w)));
  rows.push(...(await run('test', w)));
}

const head = ['split', 'workers', 'epoch', 'images', 'seconds', 'images/s'];
const body = rows.map((r) => [
  r.split,
  String(r.workers),
  r.epoch === 0 ? '0 (decode)' : `${r.epoch} (cached)`,
  String(r.images),
  r.seconds.toFixed(2),
  r.imagesPerSec.toFixed(1),
]);
const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
console.log(`loader: ${root}/${className}, Resize 329 -> CenterCrop 288, batch ${batchSize}, textures ${textures}`);
console.log(`(train includes LAS: texture decode + rand_augmenter + 2 Perlin maps + blend; ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)})`);
console.log(line(head));
for (const b of body) console.log(line(b));

mkdirSync(dirname(jsonPath), { recursive: true });
writeFileSync(
  jsonPath,
  JSON.stringify(
    {
      meta: {
        bench: 'loader',
        date: new Date().toISOString(),
        root,
        className,
        textures,
        resize: 329,
        imagesize: 288,
        batchSize,
        cpus: cpus().length,
        load1: loadavg()[0],
      },
      records: rows,
    },
    null,
    2,
  ),
);
console.log(`wrote ${jsonPath}`);
