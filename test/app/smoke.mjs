// What a browser page does with the app library, as a script: LAS on synthetic samples with the
// built-in textures, then (with `gpu`) a few GLASS steps on a random ResNet-18, predict, and a
// checkpoint round trip in memory. test/app/bundle.test.ts runs it on the browser bundle in plain
// Node (`node test/app/smoke.mjs <bundle>`: no TypeScript loader, the device from navigator.gpu,
// which here is Dawn's GPU object put where a browser has its own) and on app/lib.ts in-process
// (Node's host), and compares the two.
import { pathToFileURL } from 'node:url';

const cat = (xs) => {
  const out = new Float32Array(xs.reduce((n, x) => n + x.length, 0));
  xs.reduce((at, x) => (out.set(x, at), at + x.length), 0);
  return out;
};

/** `L`: the app library's exports. Returns what the test compares. */
export async function scenario(L, gpu = true) {
  const { E } = L;
  const out = { host: L.host().name };
  const size = 32;
  const norm = L.IMAGENET;
  const samples = [0, 1, 2, 3].map((i) => L.renderSample(i % 2 ? 'woodgrain' : 'button', size, new L.Rng(10 + i), i === 3 ? 'spot' : null));
  const images = samples.map((s) => L.toTensor(s.image, norm));
  const textures = new L.TextureSource(L.BUILTIN_TEXTURES);
  const las = images.slice(0, 2).map((img, i) => L.synthesize(img, textures, new L.Rng(20 + i), { resize: size, imagesize: size, norm, featSize: size / 8 }));
  out.las = {
    textures: textures.paths.length,
    maskS: las[0].maskS.length,
    texture: las[0].texture,
    beta: las[0].beta,
    sum: las[0].aug.reduce((a, b) => a + b, 0),
  };
  if (!gpu) return out;

  await E.initDevice();
  E.manualSeed(0);
  const cfg = { ...L.DEFAULT_CONFIG, pretrainEmbedDimension: 16, targetEmbedDimension: 16, dscHidden: 8 };
  const backbone = L.randomBackbone('resnet18', 0);
  const glass = new L.Glass(backbone, cfg);
  const shape = [2, 3, size, size];
  const batch = { paths: ['a', 'b'], images: cat(images.slice(0, 2)), augs: cat(las.map((l) => l.aug)), masksS: cat(las.map((l) => l.maskS)), shape };
  const cache = new L.EmbeddingCache(1 << 26);
  const emb = L.embedFixed(glass, cache, batch.paths, batch.images, shape);
  glass.setCenterFromBatches([{ emb, batch: 2 }]);
  emb.dispose();
  const losses = [];
  for (let i = 0; i < 2; i++) losses.push((await L.trainStep(glass, batch, cache)).loss);
  const pred = await L.predict(glass, L.batchesOf(images, [size, size], { batchSize: 2, labels: [0, 0, 0, 1] }), null);
  const spec = { backbone: 'resnet18', layers: cfg.layers, resize: size, imagesize: size, threshold: null };
  const bytes = await L.checkpointBytes(glass, { epoch: 0, model: spec }, true);
  const again = new L.Glass(backbone, cfg);
  const loaded = L.loadCheckpointBytes(again, bytes, 'in memory');
  const pred2 = await L.predict(again, L.batchesOf(images, [size, size], { batchSize: 2 }), null);
  out.gpu = {
    losses,
    scores: [...pred.scores],
    reloadedScores: [...pred2.scores],
    auroc: L.evaluate(pred, false).image_auroc,
    checkpointBytes: bytes.length,
    hasOptimizers: loaded.hasOptimizers,
    spec: L.checkpointSpecFromBytes(bytes, 'in memory')?.backbone ?? null,
  };
  cache.dispose();
  glass.dispose();
  again.dispose();
  backbone.dispose();
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const L = await import(pathToFileURL(process.argv[2]).href);
  const gpu = process.argv[3] !== 'cpu';
  if (gpu) {
    const { create } = await import('webgpu');
    const flags = process.env.WGT_BACKEND ? [`backend=${process.env.WGT_BACKEND}`] : [];
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: create(flags) }, configurable: true });
  }
  const out = await scenario(L, gpu);
  if (gpu) L.E.releaseDevice();
  console.log(JSON.stringify(out));
  process.exit(0);
}
