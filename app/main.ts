/// <reference lib="dom" />
// The web app (dist-app/index.html, `npm run app`): plain TypeScript and DOM on the app library.
//  - One-click demo: the built-in synthetic class rendered in the page, GLASS trained on it with a
//    live progress bar and loss / AUROC chart, then the test images with heatmaps and scores.
//  - Your images: a folder of good images (picker or drag and drop), 10 % held out for the
//    threshold as the CLI does, training, and the checkpoint as a download in the CLI's format.
//  - Inspect: a checkpoint from the CLI (or this page), dropped images scored: score, heatmap
//    overlay, binary mask, with image and pixel threshold sliders starting at the checkpoint's.
//  - Backbone weights from files or a URL (TF.js model.json + shards, torchvision .pth or
//    .safetensors); without them a banner says seeded random weights are in use.
// Images are decoded by the browser (createImageBitmap without colour-space conversion or
// premultiplication -> WebGPU copyExternalImageToTexture, unpremultiplied -> imageFromRGBA: the
// CLI's bytes, alpha dropped, see app/decode.ts), then Resize + CenterCrop +
// normalisation as the CLI's data/transforms.ts. `?test=1` selects tiny sizes (the browser test),
// ?size=N and ?epochs=N override the demo's, ?weights=URL loads backbone weights at start;
// window.glassApp exposes the state for tests and the console.
import {
  E,
  Glass,
  batchesOf,
  checkpointSpecFromBytes,
  glassConfigFromSpec,
  loadCheckpointBytes,
  predict,
  type Image,
  type ModelSpec,
  type Prediction,
} from './lib.ts';
import {
  DEMO_SETTINGS,
  TEST_SETTINGS,
  holdOutSplit,
  isSyntheticClass,
  modelSpec,
  prepare,
  syntheticSet,
  trainGlass,
  trainedCheckpoint,
  type Picture,
  type Progress,
  type Trained,
  type TrainSettings,
} from './train.ts';
import { decodeImage } from './decode.ts';
import { drawChart, imageRGBA, mapToOriginal, maskRGBA, outlineMask, overlayRGBA, overlayScale, paint, type ChartData } from './visual.ts';
import { randomWeights, weightsFromFiles, weightsFromUrl, type LoadedWeights } from './weights.ts';

const params = new URLSearchParams(location.search);
const TEST = params.get('test') === '1';
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const pause = () => new Promise<void>((r) => setTimeout(r, 0));

type AppState = 'loading' | 'ready' | 'training' | 'done' | 'error';
const app = {
  state: 'loading' as AppState,
  weights: null as LoadedWeights | null,
  running: false,
  stop: false,
  trained: null as { t: Trained; spec: ModelSpec; file: string; test: Picture[] } | null,
  inspect: null as { glass: Glass; spec: ModelSpec; own: LoadedWeights | null; pictures: Picture[]; pred: Prediction | null } | null,
  timings: { stepMs: 0, imagesPerSecond: 0 },
  chart: { loss: [], evals: [], total: 1 } as ChartData,
  errors: [] as string[],
};
(globalThis as unknown as { glassApp: typeof app }).glassApp = app;

function setState(s: AppState) {
  app.state = s;
  document.body.dataset.state = s;
}

function status(el: HTMLElement, text: string, error = false) {
  el.textContent = text;
  el.classList.toggle('error', error);
}

function fail(el: HTMLElement, err: unknown) {
  const msg = err instanceof Error ? err.message : String(err);
  app.errors.push(msg);
  status(el, msg, true);
}

// ---------------------------------------------------------------------------------------------
// settings

/** The demo's settings; ?test=1 the tiny ones, ?size=N (resize = crop = N) and ?epochs=N override them. */
function defaults(): TrainSettings {
  const s = TEST ? { ...TEST_SETTINGS } : { ...DEMO_SETTINGS };
  const size = Number(params.get('size'));
  if (size >= 16) {
    s.imagesize = size;
    s.resize = TEST ? size : Math.round((size * 9) / 8);
  }
  const epochs = Number(params.get('epochs'));
  if (epochs >= 1) s.epochs = Math.round(epochs);
  return s;
}
const fields: [keyof TrainSettings, string][] = [
  ['resize', 's-resize'],
  ['imagesize', 's-imagesize'],
  ['epochs', 's-epochs'],
  ['batchSize', 's-batch'],
  ['embed', 's-embed'],
  ['hidden', 's-hidden'],
  ['lr', 's-lr'],
  ['limit', 's-limit'],
];

function showSettings(s: TrainSettings) {
  $<HTMLInputElement>('s-layers').value = s.layers.join(', ');
  for (const [k, id] of fields) $<HTMLInputElement>(id).value = String(s[k]);
}

function readSettings(): TrainSettings {
  const s = defaults();
  s.layers = $<HTMLInputElement>('s-layers')
    .value.split(/[\s,]+/)
    .filter(Boolean);
  for (const [k, id] of fields) {
    const v = Number($<HTMLInputElement>(id).value);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${k}: expected a positive number, got '${$<HTMLInputElement>(id).value}'`);
    (s as unknown as Record<string, number>)[k] = k === 'lr' ? v : Math.round(v);
  }
  if (s.resize < s.imagesize) throw new Error(`resize ${s.resize} is below the crop ${s.imagesize}`);
  return s;
}

function tapsFor(name: string): string[] {
  return name === 'mobilenet_v1' ? [...defaults().layers] : ['layer2', 'layer3'];
}

// ---------------------------------------------------------------------------------------------
// backbone weights

function showWeights() {
  const w = app.weights;
  const banner = $('banner');
  const random = !w || w.weights.kind === 'random';
  banner.hidden = false;
  banner.className = random ? 'banner' : 'banner info';
  banner.textContent = random
    ? `Seeded random backbone weights are in use (${$<HTMLSelectElement>('bb-name').value}, seed 0): the demo shows the method working, but detection quality needs pretrained weights. Load them on the left (TF.js MobileNetV1 or torchvision ResNet).`
    : `Backbone: ${w!.label}.`;
  status($('bb-status'), w ? w.label : 'seeded random weights');
}

function currentWeights(): LoadedWeights {
  const name = $<HTMLSelectElement>('bb-name').value;
  if (!app.weights || app.weights.weights.name !== name) {
    if (app.weights && app.weights !== app.inspect?.own) app.weights.backbone.dispose();
    app.weights = randomWeights(name, 0);
    showWeights();
  }
  return app.weights;
}

function useWeights(w: LoadedWeights) {
  if (app.weights && app.weights !== app.inspect?.own) app.weights.backbone.dispose();
  app.weights = w;
  $<HTMLSelectElement>('bb-name').value = w.weights.name;
  $<HTMLInputElement>('s-layers').value = tapsFor(w.weights.name).join(', ');
  showWeights();
}

async function fileBytes(f: File): Promise<Uint8Array> {
  return new Uint8Array(await f.arrayBuffer());
}

async function loadWeightFiles(list: FileList | null) {
  if (!list?.length || app.running) return;
  const el = $('bb-status');
  try {
    status(el, `reading ${list.length} file(s)…`);
    const files = new Map<string, Uint8Array>();
    for (const f of list) files.set(f.name, await fileBytes(f));
    const first = list[0] as File & { webkitRelativePath?: string };
    const where = first.webkitRelativePath ? first.webkitRelativePath.split('/')[0] : files.has('model.json') ? 'model.json' : first.name;
    let name = $<HTMLSelectElement>('bb-name').value;
    if (!files.has('model.json') && name === 'mobilenet_v1') name = 'resnet18';
    useWeights(await weightsFromFiles(name, files, where));
  } catch (err) {
    fail(el, err);
  }
}

// ---------------------------------------------------------------------------------------------
// images

const IMAGE_RE = /\.(png|jpe?g|bmp|gif|webp)$/i;

/** Decodes a file with the browser to the CLI's bytes (app/decode.ts: WebGPU read-back, alpha dropped). */
async function decode(file: Blob): Promise<Image> {
  return (await decodeImage(file)).image;
}

interface NamedFile {
  path: string;
  file: File;
}

/** Files of a drop, folders read recursively (webkitGetAsEntry). */
async function droppedFiles(dt: DataTransfer): Promise<NamedFile[]> {
  const out: NamedFile[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((ok, no) => (entry as FileSystemFileEntry).file(ok, no));
      out.push({ path: prefix + entry.name, file });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((ok, no) => reader.readEntries(ok, no));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  };
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (entries.length) for (const e of entries) await walk(e, '');
  else for (const f of dt.files) out.push({ path: f.name, file: f });
  return out;
}

function listed(list: FileList | null): NamedFile[] {
  return [...(list ?? [])].map((f) => ({ path: (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, file: f }));
}

async function decodeAll(files: NamedFile[], el: HTMLElement): Promise<Picture[]> {
  const imgs = files.filter((f) => IMAGE_RE.test(f.path)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const out: Picture[] = [];
  for (const [i, f] of imgs.entries()) {
    status(el, `decoding ${i + 1}/${imgs.length}: ${f.path}`);
    out.push({ name: f.path, image: await decode(f.file) });
    if (i % 8 === 7) await pause();
  }
  return out;
}

function dropZone(zone: HTMLElement, onFiles: (f: NamedFile[]) => void) {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', async (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer) onFiles(await droppedFiles(e.dataTransfer));
  });
}

// ---------------------------------------------------------------------------------------------
// training (demo and own images)

function metric(label: string, v: string) {
  const d = document.createElement('div');
  d.className = 'metric';
  d.innerHTML = `<b></b>`;
  d.querySelector('b')!.textContent = v;
  d.append(label);
  return d;
}

const f4 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(4));

function progressUI(p: Progress) {
  const frac = p.iteration / Math.max(p.iterations, 1);
  $('progress-bar').style.width = `${(100 * frac).toFixed(1)}%`;
  $<HTMLProgressElement>('progress').value = frac;
  if (p.stats) app.chart.loss.push(p.stats.loss);
  if (p.metrics) app.chart.evals.push({ at: p.iteration, image: p.metrics.image_auroc, pixel: p.metrics.pixel_auroc });
  app.chart.total = p.iterations;
  drawChart($<HTMLCanvasElement>('chart'), app.chart);
  const per = p.steps ? `${((1000 * p.stepSeconds) / p.steps).toFixed(0)} ms/iteration` : '';
  status(
    $('train-status'),
    `epoch ${p.epoch + 1}/${p.epochs} · iteration ${p.iteration}/${p.iterations}` +
      (p.stats ? ` · loss ${p.stats.loss.toFixed(4)} · p_true ${p.stats.pTrue.toFixed(3)} · p_fake ${p.stats.pFake.toFixed(3)}` : '') +
      (p.metrics ? ` · image AUROC ${f4(p.metrics.image_auroc)} · pixel AUROC ${f4(p.metrics.pixel_auroc)}` : '') +
      (per ? ` · ${per}` : ''),
  );
}

function setRunning(on: boolean) {
  app.running = on;
  for (const id of ['demo-run', 'own-train', 'bb-url-load', 'bb-files', 'bb-name'])
    $<HTMLButtonElement>(id).disabled = on || (id === 'own-train' && !ownPictures.length);
  $<HTMLButtonElement>('train-stop').disabled = !on;
  if (on) $<HTMLButtonElement>('train-save').disabled = true;
}

async function runTraining(title: string, train: Picture[], test: Picture[], trainedOn: { dataset: string; className: string }) {
  const el = $('train-status');
  let s: TrainSettings;
  try {
    s = readSettings();
  } catch (err) {
    $('training').hidden = false;
    return fail(el, err);
  }
  const w = currentWeights();
  app.trained?.t.glass.dispose();
  app.trained = null;
  app.stop = false;
  app.chart = { loss: [], evals: [], total: 1 };
  $('training').hidden = false;
  $('train-title').textContent = title;
  $('summary').replaceChildren();
  $('results').replaceChildren();
  $('progress-bar').style.width = '0%';
  drawChart($<HTMLCanvasElement>('chart'), app.chart);
  setRunning(true);
  setState('training');
  status(el, `training on ${train.length} images (${w.backbone.name}, ${s.imagesize} px, ${s.epochs} epochs)…`);
  await pause();
  try {
    const t = await trainGlass(w.backbone, s, train, test, { onProgress: progressUI, pause, cancelled: () => app.stop });
    const spec = modelSpec(t, w.backbone, w.weights, trainedOn);
    app.trained = { t, spec, file: `${trainedOn.dataset}_${trainedOn.className}_ckpt_best.safetensors`, test };
    app.timings = { stepMs: t.stepMs, imagesPerSecond: t.imagesPerSecond };
    $('progress-bar').style.width = '100%';
    $<HTMLProgressElement>('progress').value = 1;
    const sum = $('summary');
    if (t.metrics) sum.append(metric('image AUROC', f4(t.metrics.image_auroc)), metric('pixel AUROC', f4(t.metrics.pixel_auroc)));
    if (t.threshold) sum.append(metric('image threshold', t.threshold.image.toPrecision(4)), metric('pixel threshold', t.threshold.pixel.toPrecision(4)));
    sum.append(
      metric('ms / training iteration', t.stepMs.toFixed(0)),
      metric('test images / s', t.imagesPerSecond.toFixed(1)),
      metric('epochs', String(t.epochsDone)),
    );
    status(
      el,
      `done: ${t.epochsDone} epoch(s)${t.threshold ? `; threshold from ${t.threshold.images} ${trainedOn.dataset === 'folder' ? 'held-out' : 'good test'} images` : ''}. ` +
        "Heatmaps: blue at the good images' median map value, green at the pixel threshold, red above.",
    );
    showTrainedResults(t, test);
    $<HTMLButtonElement>('train-save').disabled = false;
    setState('done');
  } catch (err) {
    fail(el, err);
    setState('error');
  } finally {
    setRunning(false);
  }
}

function tile(name: string, score: number, anomalous: boolean | null, canvases: HTMLCanvasElement[], extra = ''): HTMLElement {
  const d = document.createElement('div');
  d.className = 'tile' + (anomalous ? ' anomalous' : '');
  const pics = document.createElement('div');
  if (canvases.length > 1) pics.className = 'pics';
  pics.append(...canvases);
  const cap = document.createElement('div');
  cap.className = 'cap';
  const n = document.createElement('span');
  n.className = 'name';
  n.textContent = name.replace(/^test\//, '');
  n.title = name + (extra ? ` (${extra})` : '');
  const sc = document.createElement('span');
  sc.className = 'score';
  sc.textContent = score.toFixed(3);
  cap.append(n, sc);
  if (anomalous !== null) {
    const b = document.createElement('span');
    b.className = `badge ${anomalous ? 'ng' : 'ok'}`;
    b.textContent = anomalous ? 'anomalous' : 'good';
    cap.append(b);
  }
  d.append(pics, cap);
  return d;
}

function showTrainedResults(t: Trained, test: Picture[]) {
  const [H, W] = t.pred.size;
  const scale = overlayScale(t.threshold);
  const tiles = test.map((p, i) => {
    const map = t.pred.maps.subarray(i * H * W, (i + 1) * H * W);
    const rgba = overlayRGBA(t.crops[i], map, scale);
    const gt = t.pred.masks.subarray(i * H * W, (i + 1) * H * W);
    if (gt.some((v) => v > 0)) outlineMask(rgba, gt, W, H);
    const c = document.createElement('canvas');
    c.className = 'heatmap';
    paint(c, rgba, W, H);
    const score = t.pred.scores[i];
    const verdict = t.threshold ? score >= t.threshold.image : null;
    return tile(p.name, score, verdict, [c], p.label === undefined ? '' : p.label ? 'labelled anomalous' : 'labelled good');
  });
  $('results').replaceChildren(...tiles);
}

// ---------------------------------------------------------------------------------------------
// demo

function demoCounts() {
  return TEST ? { train: 8, test: 6 } : { train: 24, test: 20 };
}

async function runDemo() {
  if (app.running) return;
  const cls = $<HTMLSelectElement>('demo-class').value;
  if (!isSyntheticClass(cls)) return;
  let size: number;
  try {
    size = readSettings().resize;
  } catch (err) {
    $('training').hidden = false;
    return fail($('train-status'), err);
  }
  const { train, test } = syntheticSet(cls, size, demoCounts());
  await runTraining(`Demo: synthetic ${cls}`, train, test, { dataset: 'synthetic', className: cls });
}

// ---------------------------------------------------------------------------------------------
// own images

let ownPictures: Picture[] = [];
let ownName = 'images';

async function takeOwn(files: NamedFile[]) {
  if (app.running) return;
  const el = $('own-info');
  try {
    ownPictures = await decodeAll(files, el);
    const first = files.find((f) => f.path.includes('/'));
    ownName = (first ? first.path.split('/')[0] : 'images').replace(/[^\w.-]+/g, '_') || 'images';
    if (ownPictures.length < 4) throw new Error(`${ownPictures.length} image(s): training needs at least 4 (2 are held out to set the threshold)`);
    const split = holdOutSplit(ownPictures, 0);
    status(el, `${ownName}: ${ownPictures.length} good images: ${split.train.length} to train on, ${split.heldOut.length} held out for the threshold`);
  } catch (err) {
    ownPictures = ownPictures.length >= 4 ? ownPictures : [];
    fail(el, err);
  }
  $<HTMLButtonElement>('own-train').disabled = ownPictures.length < 4;
}

async function trainOwn() {
  if (app.running || ownPictures.length < 4) return;
  const seed = readSettings().seed;
  const split = holdOutSplit(ownPictures, seed);
  await runTraining(
    `Your images: ${ownName}`,
    split.train,
    split.heldOut.map((p) => ({ ...p, label: 0 as const })),
    { dataset: 'folder', className: ownName },
  );
}

function download(bytes: Uint8Array, name: string) {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function saveCheckpoint() {
  if (!app.trained) return;
  const bytes = await trainedCheckpoint(app.trained.t, app.trained.spec);
  (globalThis as unknown as { glassLastCheckpoint: Uint8Array }).glassLastCheckpoint = bytes;
  download(bytes, app.trained.file);
}

// ---------------------------------------------------------------------------------------------
// inspect

function sameWeights(a: ModelSpec['weights'], b: ModelSpec['weights']): boolean {
  if (a.name !== b.name) return false;
  if (a.kind === 'random' || b.kind === 'random') return a.kind === b.kind && (a.seed ?? 0) === (b.seed ?? 0);
  return a.sha256 !== undefined && a.sha256 === b.sha256;
}

async function loadInspectCheckpoint(file: File) {
  const el = $('ins-info');
  try {
    const bytes = await fileBytes(file);
    const spec = checkpointSpecFromBytes(bytes, file.name);
    if (!spec)
      throw new Error(
        `${file.name}: no model definition (ModelSpec) in it: a checkpoint from an older glass-ts or the reference's .pth; test it with the CLI and its flags`,
      );
    let own: LoadedWeights | null = null;
    let backboneW: LoadedWeights;
    if (spec.weights.kind === 'random') {
      own = randomWeights(spec.backbone, spec.weights.seed ?? 0);
      backboneW = own;
    } else {
      const w = app.weights;
      if (!w || !sameWeights(w.weights, spec.weights)) {
        throw new Error(
          `${file.name} was trained with ${spec.backbone} weights ${spec.weights.path ?? ''} (sha256 ${spec.weights.sha256?.slice(0, 12)}…): ` +
            'load the same weights on the left first',
        );
      }
      backboneW = w;
    }
    closeInspect();
    const glass = new Glass(backboneW.backbone, glassConfigFromSpec(spec));
    loadCheckpointBytes(glass, bytes, file.name);
    app.inspect = { glass, spec, own, pictures: [], pred: null };
    const thr = spec.threshold;
    status(
      el,
      `${file.name}: ${spec.backbone} [${spec.layers.join(', ')}], ${spec.imagesize} px (resize ${spec.resize}), embed ${spec.targetEmbedDimension}` +
        (thr ? `, threshold image ${thr.image.toPrecision(4)} / pixel ${thr.pixel.toPrecision(4)}` : ', no threshold stored') +
        (spec.weights.kind === 'random' ? ' · random backbone weights (as trained)' : ''),
    );
    setupSliders();
  } catch (err) {
    fail(el, err);
  }
}

function closeInspect() {
  if (!app.inspect) return;
  app.inspect.glass.dispose();
  app.inspect.own?.backbone.dispose();
  app.inspect = null;
}

async function inspectImages(files: NamedFile[]) {
  const el = $('ins-info');
  const ins = app.inspect;
  if (!ins) return status(el, 'load a checkpoint first', true);
  try {
    const pics = await decodeAll(files, el);
    if (!pics.length) throw new Error('no images among the files (png, jpg, bmp, gif, webp)');
    const norm = { mean: ins.spec.mean, std: ins.spec.std };
    const tensors = pics.map((p) => prepare(p, ins.spec, norm).tensor);
    status(el, `scoring ${pics.length} image(s)…`);
    const t0 = performance.now();
    const pred = await predict(
      ins.glass,
      batchesOf(tensors, [ins.spec.imagesize, ins.spec.imagesize], { batchSize: ins.spec.batchSize, paths: pics.map((p) => p.name) }),
      null,
    );
    const ips = pics.length / ((performance.now() - t0) / 1000);
    ins.pictures = pics;
    ins.pred = pred;
    status(el, `${pics.length} image(s) scored (${ips.toFixed(1)} images/s)`);
    setupSliders();
    renderInspect();
  } catch (err) {
    fail(el, err);
  }
}

function setupSliders() {
  const ins = app.inspect;
  const img = $<HTMLInputElement>('ins-image-thr');
  const pix = $<HTMLInputElement>('ins-pixel-thr');
  if (!ins) return;
  const thr = ins.spec.threshold;
  const scores = ins.pred ? [...ins.pred.scores] : [];
  const [H, W] = ins.pred?.size ?? [0, 0];
  const maxima = ins.pred ? scores.map((_, i) => Math.max(...ins.pred!.maps.subarray(i * H * W, (i + 1) * H * W))) : [];
  const range = (vals: number[], t: number | undefined) => {
    const all = [...vals, ...(t !== undefined ? [t] : [])];
    const lo = all.length ? Math.min(...all) : 0;
    const hi = all.length ? Math.max(...all) : 1;
    const pad = (hi - lo || 1) * 0.1;
    return [Math.max(0, lo - pad), hi + pad];
  };
  const set = (el: HTMLInputElement, vals: number[], t: number | undefined) => {
    const [lo, hi] = range(vals, t);
    el.min = String(lo);
    el.max = String(hi);
    el.step = String((hi - lo) / 1000);
    el.value = String(t ?? (vals.length ? (lo + hi) / 2 : 0.5));
    el.disabled = false;
  };
  set(img, scores, thr?.image);
  set(pix, maxima, thr?.pixel);
  showSliderValues();
}

function showSliderValues() {
  $('ins-image-val').textContent = Number($<HTMLInputElement>('ins-image-thr').value).toPrecision(4);
  $('ins-pixel-val').textContent = Number($<HTMLInputElement>('ins-pixel-thr').value).toPrecision(4);
}

function renderInspect() {
  const ins = app.inspect;
  if (!ins?.pred) return;
  const [H, W] = ins.pred.size;
  const imageThr = Number($<HTMLInputElement>('ins-image-thr').value);
  const pixelThr = Number($<HTMLInputElement>('ins-pixel-thr').value);
  // the colour scale stays the checkpoint's (absolute, so images compare); the sliders move the decisions
  const scale = overlayScale(ins.spec.threshold);
  const tiles = ins.pictures.map((p, i) => {
    const map = mapToOriginal(ins.pred!.maps.subarray(i * H * W, (i + 1) * H * W), p.image.width, p.image.height, ins.spec);
    const over = document.createElement('canvas');
    over.className = 'heatmap';
    paint(over, overlayRGBA(p.image, map, scale), p.image.width, p.image.height);
    const mask = document.createElement('canvas');
    mask.className = 'mask';
    paint(mask, maskRGBA(map, pixelThr), p.image.width, p.image.height);
    const score = ins.pred!.scores[i];
    return tile(p.name, score, score >= imageThr, [over, mask]);
  });
  $('results').replaceChildren(...tiles);
}

// ---------------------------------------------------------------------------------------------
// wiring

function showTab(name: string) {
  for (const b of document.querySelectorAll<HTMLButtonElement>('.tab')) b.classList.toggle('active', b.dataset.tab === name);
  for (const p of ['demo', 'own', 'inspect']) $(`pane-${p}`).hidden = p !== name;
  $('training').hidden = name === 'inspect' || !(app.running || app.trained || app.chart.loss.length);
  if (app.running) return;
  if (name === 'inspect') {
    $('results').replaceChildren();
    renderInspect();
  } else if (app.trained) showTrainedResults(app.trained.t, app.trained.test);
  else $('results').replaceChildren();
}

async function main() {
  showSettings(defaults());
  const counts = demoCounts();
  $('demo-counts').textContent = `${counts.train} training and ${counts.test} test images${TEST ? ' (test sizes)' : ''}`;
  for (const b of document.querySelectorAll<HTMLButtonElement>('.tab')) b.addEventListener('click', () => showTab(b.dataset.tab!));
  $('bb-name').addEventListener('change', () => {
    $<HTMLInputElement>('s-layers').value = tapsFor($<HTMLSelectElement>('bb-name').value).join(', ');
    currentWeights();
  });
  $<HTMLInputElement>('bb-files').addEventListener('change', (e) => loadWeightFiles((e.target as HTMLInputElement).files));
  $('bb-url-load').addEventListener('click', async () => {
    const url = $<HTMLInputElement>('bb-url').value.trim();
    if (!url || app.running) return;
    try {
      status($('bb-status'), `fetching ${url}…`);
      useWeights(await weightsFromUrl($<HTMLSelectElement>('bb-name').value, url));
    } catch (err) {
      fail($('bb-status'), err);
    }
  });
  $('demo-run').addEventListener('click', () => void runDemo());
  $('own-train').addEventListener('click', () => void trainOwn());
  $('train-stop').addEventListener('click', () => {
    app.stop = true;
    status($('train-status'), 'stopping after this iteration…');
  });
  $('train-save').addEventListener('click', () => void saveCheckpoint());
  for (const id of ['own-dir', 'own-files'])
    $<HTMLInputElement>(id).addEventListener('change', (e) => void takeOwn(listed((e.target as HTMLInputElement).files)));
  dropZone($('own-drop'), (f) => void takeOwn(f));
  $<HTMLInputElement>('ins-ckpt').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void loadInspectCheckpoint(f);
  });
  $<HTMLInputElement>('ins-files').addEventListener('change', (e) => void inspectImages(listed((e.target as HTMLInputElement).files)));
  dropZone($('ins-drop'), (f) => void inspectImages(f));
  for (const id of ['ins-image-thr', 'ins-pixel-thr']) {
    $(id).addEventListener('input', () => {
      showSliderValues();
      renderInspect();
    });
  }
  window.addEventListener('resize', () => {
    if (!$('training').hidden) drawChart($<HTMLCanvasElement>('chart'), app.chart);
  });

  const dev = $('device');
  if (!('gpu' in navigator) || !navigator.gpu) {
    dev.textContent = 'WebGPU is not available in this browser';
    dev.classList.add('error');
    $<HTMLButtonElement>('demo-run').disabled = true;
    setState('error');
    return;
  }
  try {
    await E.initDevice();
    dev.textContent = `WebGPU: ${E.describeDevice()}`;
    dev.classList.add('ok');
    const url = params.get('weights');
    if (url) {
      status($('bb-status'), `fetching ${url}…`);
      try {
        useWeights(await weightsFromUrl($<HTMLSelectElement>('bb-name').value, url));
      } catch (err) {
        fail($('bb-status'), err);
      }
    }
    currentWeights();
    setState('ready');
  } catch (err) {
    dev.textContent = `WebGPU failed: ${(err as Error).message}`;
    dev.classList.add('error');
    setState('error');
  }
}

void main();
