// data/loader.ts: batch order (seeded shuffle, dropLast), batch contents and shapes, and identical
// results with 0, 1 and 2 worker threads (per-item seeding), on a tiny generated dataset.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AnomalyDataset, type TrainItem } from '../../data/datasets.ts';
import { DataLoader, type Batch, type TrainBatch, type TestBatch } from '../../data/loader.ts';
import { makeTmpData, type TmpData } from './tmpdata.ts';

let tmp: TmpData;
let train: AnomalyDataset;
let test: AnomalyDataset;
const quiet = () => {};

async function all(dl: DataLoader, epoch: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of dl.epoch(epoch)) out.push(b);
  return out;
}

const ORDER = suite('loader: order and batching');
ORDER.before(() => {
  tmp = makeTmpData({ train: 10, size: 48 });
  train = AnomalyDataset.open({
    kind: 'mvtec',
    root: tmp.root,
    className: 'button',
    split: 'train',
    resize: 40,
    imagesize: 32,
    textures: tmp.textures,
    warn: quiet,
  });
  test = AnomalyDataset.open({ kind: 'mvtec', root: tmp.root, className: 'button', split: 'test', resize: 40, imagesize: 32, warn: quiet });
});

ORDER('shuffled order is a seeded permutation: same seed and epoch repeat, others differ', () => {
  const a = new DataLoader(train, { seed: 1 }),
    b = new DataLoader(train, { seed: 1 }),
    c = new DataLoader(train, { seed: 2 });
  const o = a.order(0);
  assert.equal(
    [...o].sort((x, y) => x - y),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.equal(b.order(0), o);
  assert.not.equal(a.order(1), o);
  assert.not.equal(c.order(0), o);
  assert.equal(new DataLoader(train, { shuffle: false }).order(3), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(new DataLoader(test).order(0), [0, 1, 2, 3, 4, 5, 6], 'test data is not shuffled by default');
});

ORDER('batch sizes with and without dropLast', () => {
  const keep = new DataLoader(train, { batchSize: 4 }),
    drop = new DataLoader(train, { batchSize: 4, dropLast: true });
  assert.is(keep.length, 3);
  assert.equal(
    keep.batches(0).map((b) => b.length),
    [4, 4, 2],
  );
  assert.is(drop.length, 2);
  assert.equal(
    drop.batches(0).map((b) => b.length),
    [4, 4],
  );
  assert.equal(drop.batches(0).flat(), keep.order(0).slice(0, 8));
  assert.throws(() => new DataLoader(train, { batchSize: 0 }), /batch size/);
});

ORDER('train batches hold the items, in order, as [B,3,H,W] / [B,fh,fw] / [B,H,W]', async () => {
  const dl = new DataLoader(train, { batchSize: 4, seed: 7 });
  const batches = (await all(dl, 0)) as TrainBatch[];
  assert.is(batches.length, 3);
  const per = 3 * 32 * 32;
  batches.forEach((b, k) => {
    assert.equal(b.indices, dl.batches(0)[k]);
    assert.equal(b.shape, [b.indices.length, 3, 32, 32]);
    assert.equal(b.featShape, [4, 4]);
    assert.is(b.masksS!.length, b.indices.length * 16);
    assert.is(b.masksL!.length, b.indices.length * 1024);
    b.indices.forEach((idx, i) => {
      const it = train.item(idx, 7, 0) as TrainItem;
      assert.equal(b.images.subarray(i * per, (i + 1) * per), it.image);
      assert.equal(b.augs!.subarray(i * per, (i + 1) * per), it.aug!);
      assert.equal(b.masksS!.subarray(i * 16, (i + 1) * 16), it.maskS!);
      assert.is(b.betas![i], Math.fround(it.beta!));
      assert.is(b.paths[i], it.path);
    });
  });
});

ORDER('test batches: labels, masks, defects', async () => {
  const batches = (await all(new DataLoader(test, { batchSize: 3 }), 0)) as TestBatch[];
  assert.equal(
    batches.map((b) => b.indices.length),
    [3, 3, 1],
  );
  const labels = batches.flatMap((b) => Array.from(b.labels));
  assert.equal(
    labels,
    test.entries.map((e) => e.label),
  );
  assert.equal(
    batches.flatMap((b) => b.defects),
    test.entries.map((e) => e.defect),
  );
  const b0 = batches[0]!;
  for (let i = 0; i < 3; i++) {
    const m = b0.masks.subarray(i * 1024, (i + 1) * 1024);
    assert.is(
      m.some((v) => v > 0),
      b0.labels[i] === 1,
      `item ${i}`,
    );
  }
});

ORDER.run();

const WORK = suite('loader: worker threads');
WORK.after(() => tmp.cleanup());

WORK('results are identical with 0, 1 and 2 workers, across epochs', async () => {
  const ref = new DataLoader(train, { batchSize: 3, seed: 5, workers: 0 });
  const one = new DataLoader(train, { batchSize: 3, seed: 5, workers: 1, prefetch: 2 });
  const two = new DataLoader(train, { batchSize: 3, seed: 5, workers: 2, prefetch: 3 });
  try {
    for (const epoch of [0, 1]) {
      const r = (await all(ref, epoch)) as TrainBatch[];
      for (const dl of [one, two]) {
        const w = (await all(dl, epoch)) as TrainBatch[];
        assert.is(w.length, r.length);
        w.forEach((b, k) => {
          assert.equal(b.indices, r[k]!.indices);
          assert.equal(b.images, r[k]!.images);
          assert.equal(b.augs, r[k]!.augs);
          assert.equal(b.masksL, r[k]!.masksL);
          assert.equal(b.betas, r[k]!.betas);
        });
      }
    }
    // stopping early and starting the next epoch still works
    for await (const b of two.epoch(2)) {
      assert.is(b.indices.length, 3);
      break;
    }
    const again = await all(two, 3);
    assert.is(again.length, 4);
  } finally {
    await one.close();
    await two.close();
  }
});

WORK('a failing item rejects the epoch with the file name', async () => {
  const bad = AnomalyDataset.open({ kind: 'mvtec', root: tmp.root, className: 'button', split: 'test', resize: 40, imagesize: 32, warn: quiet });
  writeFileSync(bad.entries[4]!.path, 'broken');
  const dl = new DataLoader(bad, { batchSize: 2, workers: 1 });
  try {
    await all(dl, 0);
    assert.unreachable('no error');
  } catch (err) {
    assert.ok((err as Error).message.includes(bad.entries[4]!.path), (err as Error).message);
  } finally {
    await dl.close();
  }
});

WORK('close() with a reply still queued keeps the process alive until the workers exit', () => {
  // test/helpers/loader-close.ts ends with code 13 (unsettled top-level await) if it does not
  const root = resolve(new URL('../..', import.meta.url).pathname);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/loader-close.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.error, undefined, `child did not finish: ${r.error?.message}`);
  assert.is(r.status, 0, `exit code ${r.status}: ${r.stderr}`);
  assert.match(r.stdout, /^closed$/m);
});

WORK.run();
