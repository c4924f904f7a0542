// GLASS in a real browser against the CLI in Node (issue 18): a tiny model trained by the CLI
// in-process (random MobileNet weights, 64 px) is loaded from its checkpoint bytes in the page
// (test/browser/pages/parity.ts, bundled from app/lib.ts), which decodes the test PNGs itself and
// predicts; one training iteration in the page equals Node's; and a checkpoint the page saves after
// a step loads in `glass test` with the page's own metrics. Node runs WebGPU on its adapter
// (lavapipe here), the page on Chromium's (SwiftShader): the tolerances below are what holds
// between the two. Prints the browser and Node times for predict and for one iteration.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import * as E from '../../engine/index.ts';
import { writeSyntheticDataset } from '../../data/synthetic.ts';
import { readImage } from '../../data/image.ts';
import { resize, centerCrop, toTensor } from '../../data/transforms.ts';
import { AnomalyDataset, type TrainItem } from '../../data/datasets.ts';
import { randomBackbone } from '../../models/backbones.ts';
import { Glass, type IterationStats } from '../../glass/glass.ts';
import { glassConfigFromSpec, type ModelSpec } from '../../glass/model-spec.ts';
import { readCheckpointSpec, loadCheckpoint } from '../../glass/checkpoint.ts';
import { snapshotWeights } from '../../glass/checkpoint-bytes.ts';
import { batchesOf, concatFloat32, evaluate, predict, trainStep, type Metrics } from '../../glass/loop.ts';
import { cliCapture, TINY_TRAIN } from '../helpers/cli.ts';
import { browserOrSkip, openBrowser, type BrowserSession } from './harness.ts';
import { bundlePage } from './page-bundle.ts';

const t = suite('browser: GLASS parity with the CLI');
const env = await browserOrSkip('browser: GLASS parity with the CLI');
const test = env ? t : t.skip;
const pages = resolve(new URL('pages', import.meta.url).pathname);

/** Tolerances that hold between lavapipe (Node) and SwiftShader (the page). */
const TOL = { score: 1e-4, map: 1e-4, loss: 1e-4, weight: 1e-4, metric: 1e-6 };
const SEED = 5;

const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const f32 = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length, 'lengths');
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}
const ms = (x: number) => `${x.toFixed(0)} ms`;

let dir = '';
const log: string[] = [];
const capture = cliCapture(log);
let session: BrowserSession | null = null;

interface Setup {
  s: BrowserSession;
  ck: string;
  spec: ModelSpec;
  data: string;
  test: { urls: string[]; labels: number[]; maskUrls: (string | null)[]; paths: string[]; maskPaths: (string | null)[] };
  train: { items: TrainItem[]; urls: string[]; shape: number[]; featSize: number };
  trainMs: number;
}
let setup: Promise<Setup> | null = null;

function prepare(): Promise<Setup> {
  setup ??= (async () => {
    const t0 = performance.now();
    dir = mkdtempSync(join(tmpdir(), 'glass-browser-parity-'));
    const data = join(dir, 'data');
    writeSyntheticDataset(data, { classes: ['button'], size: 64, train: 6, testGood: 2, testDefective: 3, seed: 1 });
    const code = await capture(['train', '--data', data, '-d', 'button', ...TINY_TRAIN, '--seed', String(SEED), '--out', join(dir, 'out')]);
    assert.is(code, 0, log.join('\n'));
    const trainMs = performance.now() - t0;
    const ck = join(dir, 'out', 'mvtec_button', 'ckpt_best.safetensors');
    const spec = readCheckpointSpec(ck)!;
    assert.ok(spec && spec.weights.kind === 'random', 'a checkpoint with its ModelSpec, random weights');
    const norm = { mean: spec.mean as [number, number, number], std: spec.std as [number, number, number] };
    const common = { kind: 'mvtec' as const, root: data, className: 'button', resize: spec.resize, imagesize: spec.imagesize, norm };
    const testSet = AnomalyDataset.open({ ...common, split: 'test' });
    await E.initDevice(); // main() releases the device when a command ends
    const backbone = randomBackbone(spec.backbone, 0);
    const downsampling = backbone.tapInfo(spec.layers[0]!).stride;
    backbone.dispose();
    const trainSet = AnomalyDataset.open({ ...common, split: 'train', downsampling, textures: 'builtin' });
    const B = 4;
    const items = Array.from({ length: B }, (_, i) => trainSet.item(i, SEED, 0) as TrainItem);
    const files: Record<string, string | Uint8Array> = {
      '/parity.js': (await bundlePage(resolve(pages, 'parity.ts'))).js,
      '/ckpt.safetensors': readFileSync(ck),
    };
    const e = testSet.entries;
    e.forEach((x, i) => {
      files[`/test/${i}.png`] = readFileSync(x.path);
      if (x.maskPath) files[`/mask/${i}.png`] = readFileSync(x.maskPath);
    });
    items.forEach((x, i) => (files[`/train/${i}.png`] = readFileSync(x.path)));
    session = await openBrowser(env!, { root: pages, path: '/parity.html', files, timeoutMs: 120_000 });
    await session.evaluate(() => (globalThis as any).parity.init());
    return {
      s: session,
      ck,
      spec,
      data,
      trainMs,
      test: {
        urls: e.map((_, i) => `/test/${i}.png`),
        labels: e.map((x) => x.label),
        maskUrls: e.map((x, i) => (x.maskPath ? `/mask/${i}.png` : null)),
        paths: e.map((x) => x.path),
        maskPaths: e.map((x) => x.maskPath),
      },
      train: { items, urls: items.map((_, i) => `/train/${i}.png`), shape: [B, 3, spec.imagesize, spec.imagesize], featSize: trainSet.featSize },
    };
  })();
  return setup;
}
t.after(async () => {
  await session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The model of a checkpoint in Node, built as the page builds it (seeded random backbone + spec). */
function nodeGlass(spec: ModelSpec, ck?: string): Glass {
  const glass = new Glass(randomBackbone(spec.backbone, (spec.weights as { seed?: number }).seed ?? 0), glassConfigFromSpec(spec));
  if (ck) loadCheckpoint(glass, ck);
  return glass;
}
function disposeGlass(g: Glass) {
  g.dispose();
  g.backbone?.dispose();
}
function nodeTestImages(st: Setup): Float32Array[] {
  const { spec } = st;
  return st.test.paths.map((p) =>
    toTensor(centerCrop(resize(readImage(p, 'rgb'), spec.resize), spec.imagesize), { mean: spec.mean as any, std: spec.std as any }),
  );
}

interface PagePredict {
  scores: number[];
  maps: string;
  size: [number, number];
  metrics: Metrics | null;
  ms: { decode: number; predict: number; firstPredict: number };
  deviceErrors: string[];
}

test("predict: the page (own PNG decoding, checkpoint bytes) gives the CLI's scores and maps", async () => {
  const st = await prepare();
  const { s, spec } = st;
  // the CLI's predict on a folder of the test images
  const input = join(dir, 'predict-input');
  mkdirSync(input);
  st.test.paths.forEach((p, i) => copyFileSync(p, join(input, `${String(i).padStart(2, '0')}-${basename(p)}`)));
  log.length = 0;
  const code = await capture(['predict', '--checkpoint', st.ck, '--input', input, '--out', join(dir, 'pred')]);
  assert.is(code, 0, log.join('\n'));
  const csv = readFileSync(join(dir, 'pred', 'scores.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => Number(l.split(',')[1]));
  // maps with the same library functions in Node, timed warm
  await E.initDevice();
  const glass = nodeGlass(spec, st.ck);
  const images = nodeTestImages(st);
  const run = () => predict(glass, batchesOf(images, [spec.imagesize, spec.imagesize], { batchSize: spec.batchSize }), null);
  await run();
  const t0 = performance.now();
  const node = await run();
  const nodeMs = performance.now() - t0;
  disposeGlass(glass);
  assert.ok(maxAbs(node.scores, csv) <= 5e-7, "the library in Node gives scores.csv's scores (6 decimals)");

  await s.evaluate((u) => (globalThis as any).parity.loadModel(u), '/ckpt.safetensors');
  const page = (await s.evaluate((inp) => (globalThis as any).parity.predictUrls(inp), { urls: st.test.urls })) as PagePredict;
  assert.equal(page.deviceErrors, []);
  assert.equal(page.size, [spec.imagesize, spec.imagesize]);
  const dScore = maxAbs(page.scores, node.scores);
  const dCsv = maxAbs(page.scores, csv);
  const dMap = maxAbs(f32(page.maps), node.maps);
  console.log(
    `  predict ${images.length} images (${spec.imagesize} px): page ${ms(page.ms.predict)} (+ decode ${ms(page.ms.decode)}; first run ${ms(page.ms.firstPredict)}), Node ${ms(nodeMs)}`,
  );
  console.log(`  predict differences: scores ${dScore.toExponential(2)} (scores.csv ${dCsv.toExponential(2)}), maps ${dMap.toExponential(2)}`);
  assert.ok(dScore <= TOL.score, `scores differ by ${dScore}`);
  assert.ok(dCsv <= TOL.score, `scores.csv differs by ${dCsv}`);
  assert.ok(dMap <= TOL.map, `maps differ by ${dMap}`);
  assert.ok(page.scores.some((v, i) => v !== page.scores[0]) && node.maps.some((v) => v !== node.maps[0]), 'not a constant model');
});

interface PageStep {
  stats: IterationStats[];
  times: number[];
  weights: Record<string, { shape: number[]; data: string }>;
  lasMs: number;
  augs: string;
  masksS: string;
  images: string;
  deviceErrors: string[];
}

/** Node's side of parity.trainSteps: a fresh model after E.manualSeed, the checkpoint loaded, centre from the batch, two trainStep()s (weights after the first). */
async function nodeSteps(spec: ModelSpec, ck: string | undefined, images: Float32Array, augs: Float32Array, masksS: Float32Array, shape: number[]) {
  E.manualSeed(SEED);
  const glass = nodeGlass(spec, ck);
  try {
    const emb = glass.embed(E.tensor(images, { shape: [...shape] }));
    glass.setCenterFromBatches([{ emb, batch: shape[0]! }]);
    emb.dispose();
    const stats: IterationStats[] = [];
    const times: number[] = [];
    let weights: Awaited<ReturnType<typeof snapshotWeights>> | null = null;
    for (let k = 0; k < 2; k++) {
      const t0 = performance.now();
      stats.push(await trainStep(glass, { paths: [], images, augs, masksS, shape }));
      times.push(performance.now() - t0);
      weights ??= await snapshotWeights(glass);
    }
    return { stats, times, weights: weights! };
  } finally {
    disposeGlass(glass);
  }
}

/**
 * The biases whose gradient is zero in exact arithmetic: a Linear's bias right before BatchNorm
 * (the discriminator's hidden blocks), and the one-layer projection's bias, which only shifts every
 * row alike before that Linear + BatchNorm. Their gradient is rounding noise, which Adam's first
 * step turns into +-lr (m / sqrt(v) = g / |g|) whatever its size, so two adapters may move such an
 * element in opposite directions: they can differ by up to 2 lr (plus weight decay). Null for
 * every other weight.
 */
function zeroGradBound(key: string, spec: ModelSpec): number | null {
  const lr = glassConfigFromSpec(spec).lr;
  if (/^discriminator\.body\.block\d+\.0\.bias$/.test(key) && spec.dscLayers >= 2) return 2 * (2 * lr) * 1.001 + 1e-6; // AdamW at 2 lr
  if (/^pre_projection\.layers\.0fc\.bias$/.test(key) && spec.preProj === 1 && spec.dscLayers >= 2) return 2 * lr * 1.001 + 1e-6; // Adam at lr
  return null;
}

test("one training iteration: the page's losses and updated weights equal Node's; LAS made in the page equals the dataset's", async () => {
  const st = await prepare();
  const { s, spec } = st;
  const { items, shape } = st.train;
  const images = concatFloat32(items.map((x) => x.image));
  const augs = concatFloat32(items.map((x) => x.aug!));
  const masksS = concatFloat32(items.map((x) => x.maskS!));
  assert.ok(
    masksS.some((v) => v > 0),
    'LAS masks with some anomaly',
  );
  const node = await nodeSteps(spec, st.ck, images, augs, masksS, shape);
  // the page decodes the training PNGs and makes LAS from the same seed (epoch 0, item i)
  const page = (await s.evaluate((inp) => (globalThis as any).parity.trainSteps(inp), {
    spec,
    seed: SEED,
    ckUrl: '/ckpt.safetensors',
    images: '',
    urls: st.train.urls,
    lasSeed: SEED,
    featSize: st.train.featSize,
    shape,
  })) as PageStep;
  assert.equal(page.deviceErrors, []);
  assert.is(maxAbs(f32(page.images), images), 0, 'training images decoded in the page: identical');
  assert.is(maxAbs(f32(page.masksS), masksS), 0, "mask_s from the page's LAS: identical");
  assert.is(maxAbs(f32(page.augs), augs), 0, 'LAS images from the page: identical');
  const keys = Object.keys(node.stats[0]!) as (keyof IterationStats)[];
  const dStats = Math.max(...keys.map((k) => Math.abs(page.stats[0]![k] - node.stats[0]![k])));
  let dW = 0;
  let worstKey = '';
  let dZero = 0;
  assert.equal(Object.keys(page.weights).sort(), [...node.weights.keys()].sort(), 'the same weights');
  for (const [k, v] of node.weights) {
    const d = maxAbs(f32(page.weights[k]!.data), v.data as Float32Array);
    if (zeroGradBound(k, spec) !== null) dZero = Math.max(dZero, d);
    else if (d > dW) [dW, worstKey] = [d, k];
    if (process.env.PARITY_DEBUG) {
      const a = f32(page.weights[k]!.data),
        b = v.data as Float32Array;
      let n5 = 0,
        n4 = 0,
        mag = 0;
      for (let i = 0; i < a.length; i++) {
        const e = Math.abs(a[i]! - b[i]!);
        if (e > 1e-5) n5++;
        if (e > 1e-4) n4++;
        mag = Math.max(mag, Math.abs(b[i]!));
      }
      console.log(`    ${k} [${v.shape}] max ${d.toExponential(2)}, >1e-5: ${n5}, >1e-4: ${n4} of ${a.length}; max |w| ${mag.toExponential(2)}`);
    }
  }
  console.log(
    `  one iteration (batch ${shape[0]}, ${spec.imagesize} px, step ${glassConfigFromSpec(spec).step}): page ${ms(page.times[1]!)} (first ${ms(page.times[0]!)}), Node ${ms(node.times[1]!)} (first ${ms(node.times[0]!)}); ` +
      `page LAS + decode of ${shape[0]} images ${ms(page.lasMs)}`,
  );
  console.log(
    `  iteration differences: statistics ${dStats.toExponential(2)} (loss ${page.stats[0]!.loss.toFixed(6)} vs ${node.stats[0]!.loss.toFixed(6)}), weights ${dW.toExponential(2)} (${worstKey}); ` +
      `biases before BatchNorm ${dZero.toExponential(2)}`,
  );
  for (const k of keys)
    assert.ok(
      Math.abs(page.stats[0]![k] - node.stats[0]![k]) <= TOL.loss * Math.max(1, Math.abs(node.stats[0]![k])),
      `${k}: page ${page.stats[0]![k]}, Node ${node.stats[0]![k]}`,
    );
  assert.ok(dW <= TOL.weight, `weights differ by ${dW} (${worstKey})`);
  for (const [k, v] of node.weights) {
    const bound = zeroGradBound(k, spec);
    if (bound === null) continue;
    const d = maxAbs(f32(page.weights[k]!.data), v.data as Float32Array);
    assert.ok(d <= bound, `${k}: differs by ${d}, more than Adam's first step can move it twice (${bound})`);
  }
  // the step changed the weights (else equal weights would prove nothing)
  const loaded = nodeGlass(spec, st.ck);
  const before = await snapshotWeights(loaded);
  disposeGlass(loaded);
  assert.ok(
    [...before].some(([k, v]) => maxAbs(v.data as Float32Array, node.weights.get(k)!.data as Float32Array) > 1e-6),
    'the iteration moved the weights',
  );
});

test("a checkpoint the page saves after a step loads in `glass test` with the page's metrics", async () => {
  const st = await prepare();
  const { s } = st;
  const { items, shape } = st.train;
  await s.evaluate((u) => (globalThis as any).parity.loadModel(u), '/ckpt.safetensors');
  const r = (await s.evaluate((inp) => (globalThis as any).parity.stepAndSave(inp), {
    seed: SEED,
    shape,
    images: b64(concatFloat32(items.map((x) => x.image))),
    augs: b64(concatFloat32(items.map((x) => x.aug!))),
    masksS: b64(concatFloat32(items.map((x) => x.maskS!))),
    test: { urls: st.test.urls, labels: st.test.labels, maskUrls: st.test.maskUrls },
  })) as { stats: IterationStats; metrics: Metrics; scores: number[]; checkpoint: string; deviceErrors: string[] };
  assert.equal(r.deviceErrors, []);
  assert.ok(Number.isFinite(r.stats.loss));
  const file = join(dir, 'page-ckpt.safetensors');
  writeFileSync(file, Buffer.from(r.checkpoint, 'base64'));
  log.length = 0;
  const code = await capture([
    'test',
    '--checkpoint',
    file,
    '--data',
    st.data,
    '-d',
    'button',
    '--workers',
    '0',
    '--visuals',
    '0',
    '--out',
    join(dir, 'page-test'),
  ]);
  assert.is(code, 0, log.join('\n'));
  const cli = JSON.parse(readFileSync(join(dir, 'page-test', 'mvtec_button', 'metrics_test.json'), 'utf8')) as Metrics;
  const keys = ['image_auroc', 'image_ap', 'pixel_auroc', 'pixel_ap', 'pixel_pro'] as const;
  for (const k of keys) {
    assert.ok(typeof cli[k] === 'number' && typeof r.metrics[k] === 'number', `${k}: CLI ${cli[k]}, page ${r.metrics[k]}`);
    assert.ok(Math.abs(cli[k]! - r.metrics[k]!) <= TOL.metric, `${k}: CLI ${cli[k]}, page ${r.metrics[k]}`);
  }
  // and the step took: the page's checkpoint is not the one it loaded
  await E.initDevice();
  const old = nodeGlass(st.spec, st.ck);
  const now = nodeGlass(st.spec, file);
  const [a, b] = [await snapshotWeights(old), await snapshotWeights(now)];
  disposeGlass(old);
  disposeGlass(now);
  assert.ok(
    [...a].some(([k, v]) => maxAbs(v.data as Float32Array, b.get(k)!.data as Float32Array) > 1e-6),
    "the page's step changed the weights",
  );
  console.log(`  page checkpoint in glass test: ${keys.map((k) => `${k} ${cli[k]!.toFixed(4)}`).join(', ')} (the page's own: identical within ${TOL.metric})`);
});

test('no console errors or page errors', async () => {
  const st = await prepare();
  assert.equal(st.s.problems(), []);
  console.log(`  CLI training (setup) ${ms(st.trainMs)}; launch ${ms(st.s.timings.launchMs)}, page load ${ms(st.s.timings.loadMs)}`);
});

t.run();
