// The page side of the browser parity tests (test/browser/png-decode.test.ts and
// glass-parity.test.ts): bundled for the browser from app/lib.ts by test/browser/page-bundle.ts and
// served with parity.html. Everything is reached through globalThis.parity; arrays travel as
// base64 (f32 little-endian, or bytes) to keep puppeteer's JSON small.
import {
  E,
  randomBackbone,
  Glass,
  glassConfigFromSpec,
  checkpointSpecFromBytes,
  loadCheckpointBytes,
  checkpointBytes,
  snapshotWeights,
  resize,
  centerCrop,
  toTensor,
  batchesOf,
  predict,
  evaluate,
  trainStep,
  synthesize,
  TextureSource,
  Rng,
  deriveSeed,
  BUILTIN_TEXTURES,
  type Image,
  type ModelSpec,
  type Metrics,
  type IterationStats,
} from '../../../app/lib.ts';
import { decodeImage, type DecodeWay } from '../../../app/decode.ts';

// ------------------------------------------------------------------------------------------------
// base64 <-> typed arrays

function bytesToB64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}
function b64ToBytes(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
const f32ToB64 = (a: Float32Array) => bytesToB64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
const b64ToF32 = (s: string) => {
  const b = b64ToBytes(s);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// ------------------------------------------------------------------------------------------------
// Decoding: the app's own decoder (app/decode.ts), the canvas read-back beside it for comparison

async function decodeBytes(bytes: Uint8Array, way: DecodeWay = 'webgpu', mode: 'rgb' | 'gray' = 'rgb'): Promise<{ image: Image; alphaBelow255: number }> {
  return decodeImage(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' }), mode, way);
}

async function decodeUrl(url: string, way: DecodeWay = 'webgpu', mode: 'rgb' | 'gray' = 'rgb') {
  return decodeBytes(await fetchBytes(url), way, mode);
}

// ------------------------------------------------------------------------------------------------
// The model

let device: GPUDevice | null = null;
const deviceErrors: string[] = [];

async function init(): Promise<{ adapter: string }> {
  device = await E.initDevice();
  device.addEventListener('uncapturederror', (e) => deviceErrors.push((e as GPUUncapturedErrorEvent).error.message));
  device.lost.then((i) => deviceErrors.push(`device lost: ${i.reason} ${i.message}`));
  return { adapter: E.describeDevice() };
}

interface Loaded {
  spec: ModelSpec;
  glass: Glass;
}

let model: Loaded | null = null;

function buildGlass(spec: ModelSpec): Glass {
  if (spec.weights.kind !== 'random') throw new Error('the parity page builds random backbones only');
  const backbone = randomBackbone(spec.backbone, (spec.weights as { seed?: number }).seed ?? 0);
  return new Glass(backbone, glassConfigFromSpec(spec));
}

function disposeModel() {
  if (!model) return;
  model.glass.dispose();
  model.glass.backbone?.dispose();
  model = null;
}

/** Loads checkpoint bytes (from `url`) into a fresh Glass on the seeded random backbone its spec names. */
async function loadModel(url: string): Promise<{ spec: ModelSpec }> {
  const bytes = await fetchBytes(url);
  const spec = checkpointSpecFromBytes(bytes, url);
  if (!spec) throw new Error(`${url}: no ModelSpec`);
  disposeModel();
  const glass = buildGlass(spec);
  loadCheckpointBytes(glass, bytes, url);
  model = { spec, glass };
  return { spec };
}

/** The test transform: Resize(resize) -> CenterCrop(imagesize) -> ToTensor + Normalize. */
function testTensor(img: Image, spec: ModelSpec): Float32Array {
  return toTensor(centerCrop(resize(img, spec.resize), spec.imagesize), {
    mean: spec.mean as [number, number, number],
    std: spec.std as [number, number, number],
  });
}

function testMask(img: Image, spec: ModelSpec): Float32Array {
  const m = centerCrop(resize(img, spec.resize, 'nearest'), spec.imagesize);
  return Float32Array.from(m.data, (v) => (v > 0 ? 1 : 0));
}

interface PredictInput {
  urls: string[];
  labels?: number[];
  maskUrls?: (string | null)[];
  batchSize?: number;
}

async function runPredict(inp: PredictInput) {
  if (!model) throw new Error('no model loaded');
  const { spec, glass } = model;
  const t0 = performance.now();
  const images: Float32Array[] = [];
  for (const u of inp.urls) images.push(testTensor((await decodeUrl(u)).image, spec));
  const masks: (Float32Array | null)[] = [];
  for (const u of inp.maskUrls ?? []) masks.push(u ? testMask((await decodeUrl(u, 'webgpu', 'gray')).image, spec) : null);
  const t1 = performance.now();
  const pred = await predict(
    glass,
    batchesOf(images, [spec.imagesize, spec.imagesize], { batchSize: inp.batchSize ?? spec.batchSize, labels: inp.labels, masks, paths: inp.urls }),
    null,
  );
  const t2 = performance.now();
  return { pred, decodeMs: t1 - t0, predictMs: t2 - t1 };
}

async function predictUrls(inp: PredictInput) {
  // a first run compiles the pipelines; the timed one is the second
  const warm = await runPredict(inp);
  const r = await runPredict(inp);
  const metrics: Metrics | null = inp.labels ? evaluate(r.pred, true) : null;
  return {
    scores: Array.from(r.pred.scores),
    maps: f32ToB64(r.pred.maps),
    size: r.pred.size,
    metrics,
    ms: { decode: r.decodeMs, predict: r.predictMs, firstPredict: warm.predictMs },
    deviceErrors,
  };
}

// ------------------------------------------------------------------------------------------------
// Training

interface StepInput {
  /** ModelSpec of the model to build (with a seeded random backbone) */
  spec: ModelSpec;
  seed: number;
  /** checkpoint loaded into the fresh model (else it keeps its seeded initialisation) */
  ckUrl?: string;
  /** f32 base64, [B, 3, H, W] */
  images: string;
  /** f32 base64, LAS images and mask_s from Node; absent: generated here from lasSeed */
  augs?: string;
  masksS?: string;
  /** with `urls`: decode the training images here and make LAS from (lasSeed, epoch 0, index) */
  urls?: string[];
  lasSeed?: number;
  /** mask_s grid side (imagesize / the first tap's stride) */
  featSize?: number;
  shape: number[];
}

function snapshotToB64(w: Map<string, { shape: number[]; data: unknown }>): Record<string, { shape: number[]; data: string }> {
  const out: Record<string, { shape: number[]; data: string }> = {};
  for (const [k, v] of w) out[k] = { shape: v.shape, data: f32ToB64(Float32Array.from(v.data as ArrayLike<number>)) };
  return out;
}

/** LAS in the page, as the CLI's training dataset makes it for item `index` at epoch 0. */
function lasHere(image: Float32Array, spec: ModelSpec, seed: number, index: number, featSize: number) {
  const textures = ((lasHere as unknown as { t?: TextureSource }).t ??= new TextureSource(BUILTIN_TEXTURES));
  // the dataset's trainItem: rng.fork(10) for the image's jitter, then rng.fork(11) for LAS (each fork draws from rng)
  const rng = new Rng(deriveSeed(seed, 0, index));
  rng.fork(10);
  const rLas = rng.fork(11);
  return synthesize(image, textures, rLas, {
    resize: spec.resize,
    imagesize: spec.imagesize,
    norm: { mean: spec.mean as [number, number, number], std: spec.std as [number, number, number] },
    featSize,
    randAug: true,
    textureTransform: (img) => centerCrop(resize(img, spec.resize), spec.imagesize),
  });
}

/**
 * A fresh model (E.manualSeed(seed) first, as the CLI's trainer) with the checkpoint's weights when
 * one is given, the centre from the batch's own embeddings, then two trainStep()s on the batch:
 * the statistics of both, the weights after the first, the times (the second's pipelines compiled).
 */
async function trainSteps(inp: StepInput) {
  const spec = inp.spec;
  const [B, , H, W] = inp.shape;
  let images: Float32Array;
  let augs: Float32Array;
  let masksS: Float32Array;
  let lasMs = 0;
  if (inp.urls) {
    const t0 = performance.now();
    images = new Float32Array(B * 3 * H * W);
    augs = new Float32Array(B * 3 * H * W);
    const parts: Float32Array[] = [];
    for (let i = 0; i < B; i++) {
      const img = testTensor((await decodeUrl(inp.urls[i]!)).image, spec);
      images.set(img, i * 3 * H * W);
      const las = lasHere(img, spec, inp.lasSeed ?? 0, i, inp.featSize ?? Math.trunc(spec.imagesize / 8));
      augs.set(las.aug, i * 3 * H * W);
      parts.push(las.maskS);
    }
    masksS = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      masksS.set(p, o);
      o += p.length;
    }
    lasMs = performance.now() - t0;
  } else {
    images = b64ToF32(inp.images);
    augs = b64ToF32(inp.augs!);
    masksS = b64ToF32(inp.masksS!);
  }
  const ck = inp.ckUrl ? await fetchBytes(inp.ckUrl) : null;
  const run = async () => {
    E.manualSeed(inp.seed);
    const glass = buildGlass(spec);
    try {
      if (ck) loadCheckpointBytes(glass, ck, inp.ckUrl);
      const emb = glass.embed(E.tensor(images, { shape: [...inp.shape] }));
      glass.setCenterFromBatches([{ emb, batch: B }]);
      emb.dispose();
      const stats: IterationStats[] = [];
      const times: number[] = [];
      let weights: ReturnType<typeof snapshotToB64> | null = null;
      // the weights after the first step; a second one, timed, runs on compiled pipelines
      for (let s = 0; s < 2; s++) {
        const t = performance.now();
        stats.push(await trainStep(glass, { paths: [], images, augs, masksS, shape: inp.shape }));
        times.push(performance.now() - t);
        weights ??= snapshotToB64(await snapshotWeights(glass));
      }
      return { stats, times, weights: weights! };
    } finally {
      glass.dispose();
      glass.backbone?.dispose();
    }
  };
  const r = await run();
  return { ...r, lasMs, augs: f32ToB64(augs), masksS: f32ToB64(masksS), images: f32ToB64(images), deviceErrors };
}

/**
 * One step on the loaded model (centre from the batch, then trainStep), then its checkpoint as
 * bytes in the CLI's format (the loaded spec as meta.model) and the metrics of predict() on the
 * given test images with the updated weights.
 */
async function stepAndSave(inp: { seed: number; images: string; augs: string; masksS: string; shape: number[]; test: PredictInput }) {
  if (!model) throw new Error('no model loaded');
  const { glass, spec } = model;
  const [B] = inp.shape;
  E.manualSeed(inp.seed);
  const images = b64ToF32(inp.images);
  const emb = glass.embed(E.tensor(images, { shape: [...inp.shape] }));
  glass.setCenterFromBatches([{ emb, batch: B }]);
  emb.dispose();
  const stats = await trainStep(glass, { paths: [], images, augs: b64ToF32(inp.augs), masksS: b64ToF32(inp.masksS), shape: inp.shape });
  const r = await runPredict(inp.test);
  const metrics = evaluate(r.pred, true);
  const bytes = await checkpointBytes(glass, { epoch_base: 0, epoch: 0, seed: inp.seed, model: { ...spec, threshold: null } });
  return { stats, metrics, scores: Array.from(r.pred.scores), checkpoint: bytesToB64(bytes), deviceErrors };
}

/** PNGs decoded both ways: RGB bytes (base64), sizes and how many pixels had alpha below 255. */
async function decodeAll(urls: string[]) {
  const out = [];
  for (const u of urls) {
    const bytes = await fetchBytes(u);
    const c = await decodeBytes(bytes, 'canvas');
    const g = await decodeBytes(bytes, 'webgpu');
    out.push({
      url: u,
      width: c.image.width,
      height: c.image.height,
      alphaBelow255: g.alphaBelow255,
      canvas: bytesToB64(c.image.data),
      webgpu: bytesToB64(g.image.data),
    });
  }
  return out;
}

Object.assign(globalThis, { parity: { init, decodeAll, loadModel, predictUrls, trainSteps, stepAndSave } });
