// The whole evaluation path of `glass test` against the reference GLASS code, on five small grey
// PNGs with 1-2 px cracks (fixture from test/fixtures/gen/eval_path.py: datasets/mvtec.py's
// transforms, RescaleSegmentor and metrics.py, with fixed patch scores in place of a network).
// It checks, in the order the data flows: our MVTec listing, the image tensor (grey PNG decode,
// Resize(40), CenterCrop(32), ToTensor, Normalize), the ground truth under --mask_rule reference
// (bilinear kept soft, only 1.0 counts) and binary (NEAREST, > 0), the maps from the patch scores,
// then predict() + evaluate() as cmdTest calls them, with a stub in place of the network.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import * as E from '../../engine/index.ts';
import { AnomalyDataset, type TestItem } from '../../data/datasets.ts';
import { DataLoader } from '../../data/loader.ts';
import { MASK_RULES, predict, evaluate, concatFloat32, type MaskRule, type Prediction } from '../../glass/trainer.ts';
import type { Glass } from '../../glass/glass.ts';
import { rescaleSegmentation } from '../../glass/gaussian.ts';
import { averagePrecision, computePro, minMaxNormalizeF32, proCurve, rocAuc, truncateMask } from '../../glass/metrics.ts';
import { f32, loadFixture, u8, type Encoded } from './fixture.ts';

interface Item {
  name: string;
  path: string;
  label: 0 | 1;
  source_size: [number, number];
  image: Encoded;
  mask: Encoded;
  mask_int: Encoded;
  mask_binary: Encoded;
  positives: { reference: number; binary: number; fractional: number };
  patch_scores: Encoded;
  map: Encoded;
}
interface PixelMetrics {
  pixel_auroc: number;
  pixel_ap: number;
  pixel_pro: number;
}
const fx = loadFixture<{
  root: string;
  className: string;
  resize: number;
  imagesize: number;
  grid: [number, number];
  items: Item[];
  image: { image_auroc: number; image_ap: number };
  metrics: { reference: PixelMetrics; truncated: PixelMetrics; binary: PixelMetrics; normalised: PixelMetrics };
  negatives: { float_sum: number; count_below_1: number };
}>('data/eval_path.json');

const root = fileURLToPath(new URL(`../fixtures/${fx.root}`, import.meta.url));
const S = fx.imagesize,
  HW = S * S;
const [gh, gw] = fx.grid;

/** The dataset `glass test` opens (cmdTest): MVTec layout, crop geometry, ImageNet norm, the rule's mask resampling. */
function openTest(rule: MaskRule): AnomalyDataset {
  return AnomalyDataset.open({
    kind: 'mvtec',
    root,
    className: fx.className,
    split: 'test',
    resize: fx.resize,
    imagesize: S,
    geometry: 'crop',
    maskResample: MASK_RULES[rule],
    warn: (m) => assert.unreachable(`unexpected dataset warning: ${m}`),
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; index: number } {
  assert.is(a.length, b.length, 'length');
  let max = 0,
    index = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) {
      max = d;
      index = i;
    }
  }
  return { max, index };
}

function count(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

/** The ground truth evaluate() scores pixels with (its inline `v >= 1`; reference: .astype(int)). */
const binarise = (m: Float32Array) => Uint8Array.from(m, (v) => (v >= 1 ? 1 : 0));

// Tolerances. Images: pixels of the same 8-bit level give the same float32 on both sides (ToTensor
// divides by 255, Normalize subtracts and divides, all in float32), while a one-level difference
// in decode or resize moves a value by >= 1 / 255 / 0.229 = 0.017; 1e-6 separates the two with room
// for a last-place rounding difference. Masks: k / 255 in float32 on both sides, exact. Maps from the
// CPU segmentor: torch's bilinear sums its taps in another order (~1 ulp, docs/glass-reference.md
// section 7) and the gaussian is a convex combination, so maps in [-0.25, 0.8] stay within
// ~2e-7 (measured 6e-8); 1e-6 allows that and no visible change of the map. The GPU path (engine
// interpolate, then the same CPU gaussian) gets the same bound: a fused multiply-add moves a value
// by an ulp, not more. Metrics: rank-based, so equal maps give the same numbers up to summation
// order (1e-12); the GPU maps may reorder near-tied pixels, one swapped pair moves AUROC by
// 1 / (P N) ~ 1e-6, hence 1e-5 there.
const TOL_IMAGE = 1e-6,
  TOL_MAP_CPU = 1e-6,
  TOL_MAP_GPU = 1e-6,
  TOL_METRIC = 1e-12,
  TOL_METRIC_GPU = 1e-5;

const ds = { reference: openTest('reference'), binary: openTest('binary') };
const items: Record<MaskRule, TestItem[]> = {
  reference: fx.items.map((_, i) => ds.reference.testItem(i)),
  binary: fx.items.map((_, i) => ds.binary.testItem(i)),
};

const t = suite('eval path vs the reference transforms (thin masks)');

t('fixture: thin cracks lose pixels under the reference rule, one crack loses all of them', () => {
  const cracks = fx.items.filter((it) => it.label === 1);
  assert.ok(cracks.length >= 3, 'several defective images');
  for (const it of cracks) {
    assert.ok(it.positives.reference < it.positives.binary, `${it.name}: reference ${it.positives.reference} < binary ${it.positives.binary}`);
    assert.ok(it.positives.fractional > 0, `${it.name}: soft edges`);
  }
  assert.ok(
    cracks.some((it) => it.positives.reference === 0 && it.positives.binary > 0),
    'a 1 px crack with no pixel left at 1.0',
  );
  assert.ok(
    fx.items.some((it) => it.source_size[0] > 1.5 * it.source_size[1]) && fx.items.some((it) => it.source_size[1] > 1.5 * it.source_size[0]),
    'wide and tall images',
  );
});

t('listing: our MVTec reader lists the fixture in the reference order (types sorted, files sorted)', () => {
  for (const rule of ['reference', 'binary'] as const) {
    const got = ds[rule].entries.map((e) => ({ path: relative(root, e.path).split('\\').join('/'), label: e.label }));
    assert.equal(
      got,
      fx.items.map((it) => ({ path: it.path, label: it.label })),
    );
  }
});

for (const [i, it] of fx.items.entries()) {
  const [w, h] = it.source_size;

  t(`${it.name} (${w}x${h}): image tensor = PIL convert('RGB') -> Resize(${fx.resize}) -> CenterCrop(${S}) -> ToTensor -> Normalize`, () => {
    const got = items.reference[i].image;
    const d = maxAbsDiff(got, f32(it.image));
    assert.ok(d.max <= TOL_IMAGE, `max |diff| ${d.max} at ${d.index}`);
    // a grey PNG becomes three equal channels before the per-channel normalisation
    assert.equal(maxAbsDiff(items.binary[i].image, got).max, 0, 'the mask rule does not touch the image');
  });

  t(`${it.name}: --mask_rule reference = ToTensor of PIL's bilinear Resize + CenterCrop; only 1.0 counts`, () => {
    const m = items.reference[i].mask;
    const d = maxAbsDiff(m, f32(it.mask));
    assert.is(d.max, 0, `soft mask: max |diff| ${d.max} at ${d.index}`);
    assert.equal(Array.from(truncateMask(m)), Array.from(u8(it.mask_int)), 'truncateMask = masks.astype(int)');
    assert.equal(Array.from(binarise(m)), Array.from(u8(it.mask_int)), "evaluate()'s v >= 1 = masks.astype(int)");
    assert.is(count(binarise(m)), it.positives.reference, 'positive pixels, reference rule');
    let fractional = 0;
    for (const v of m) fractional += v > 0 && v < 1 ? 1 : 0;
    assert.is(fractional, it.positives.fractional, 'fractional pixels');
  });

  t(`${it.name}: --mask_rule binary = PIL NEAREST Resize + CenterCrop, > 0`, () => {
    const m = items.binary[i].mask;
    assert.equal(Array.from(m), Array.from(u8(it.mask_binary)));
    assert.is(count(m), it.positives.binary, 'positive pixels, binary rule');
  });

  t(`${it.name}: rescaleSegmentation (bilinear ${gh}x${gw} -> ${S}x${S}, gaussian sigma 4) = RescaleSegmentor`, () => {
    const got = rescaleSegmentation(f32(it.patch_scores), 1, gh, gw, S, S);
    const d = maxAbsDiff(got, f32(it.map));
    assert.ok(d.max <= TOL_MAP_CPU, `max |diff| ${d.max} at ${d.index}`);
  });
}

t('pixel metrics from the CPU maps and our masks = metrics.py (AUROC / AP on masks.astype(int), both rules)', () => {
  const maps = concatFloat32(fx.items.map((it) => rescaleSegmentation(f32(it.patch_scores), 1, gh, gw, S, S)));
  const ref = binarise(concatFloat32(items.reference.map((x) => x.mask)));
  const bin = binarise(concatFloat32(items.binary.map((x) => x.mask)));
  near(rocAuc(ref, maps), fx.metrics.reference.pixel_auroc, TOL_METRIC, 'reference pixel AUROC');
  near(averagePrecision(ref, maps), fx.metrics.reference.pixel_ap, TOL_METRIC, 'reference pixel AP');
  near(rocAuc(bin, maps), fx.metrics.binary.pixel_auroc, TOL_METRIC, 'binary pixel AUROC');
  near(averagePrecision(bin, maps), fx.metrics.binary.pixel_ap, TOL_METRIC, 'binary pixel AP');
  near(computePro(bin, maps, fx.items.length, S, S), fx.metrics.binary.pixel_pro, TOL_METRIC, 'binary PRO');
  // glass.py 23e2e2ce min-max normalises the maps first; here that creates no ties
  const norm = minMaxNormalizeF32(maps);
  near(rocAuc(ref, norm), fx.metrics.normalised.pixel_auroc, TOL_METRIC, 'normalised pixel AUROC');
  near(averagePrecision(ref, norm), fx.metrics.normalised.pixel_ap, TOL_METRIC, 'normalised pixel AP');
});

// PRO under the reference rule. metrics.compute_pro gets the float mask: its regions come from
// skimage.measure.label, which casts to int (fractional pixels are background), and its FPR is
// #(map > th & mask < 1) / sum(1 - mask), so fractional pixels weigh fractionally in the
// denominator. proCurve reads a soft mask that way; a truncated (0/1) mask would divide by
// #(mask < 1) instead, which moves which thresholds pass fpr < 0.3, hence PRO.
t('PRO, --mask_rule reference: computePro on the soft mask = compute_pro; on the truncated mask it differs', () => {
  const maps = concatFloat32(fx.items.map((it) => rescaleSegmentation(f32(it.patch_scores), 1, gh, gw, S, S)));
  const soft = concatFloat32(items.reference.map((x) => x.mask));
  const ours = computePro(soft, maps, fx.items.length, S, S);
  near(ours, fx.metrics.reference.pixel_pro, TOL_METRIC, 'PRO of the soft mask');
  const truncated = computePro(binarise(soft), maps, fx.items.length, S, S);
  near(truncated, fx.metrics.truncated.pixel_pro, TOL_METRIC, 'PRO with the truncated mask');
  assert.ok(Math.abs(truncated - fx.metrics.reference.pixel_pro) > 1e-6, 'this fixture tells the two denominators apart (else the check above proves nothing)');
  // the denominators themselves
  let below = 0;
  for (const v of soft) below += v < 1 ? 1 : 0;
  assert.is(below, fx.negatives.count_below_1, '#(mask < 1)');
  const c = proCurve(soft, maps, fx.items.length, S, S);
  const t0 = c.fpr.findIndex((f) => f > 0);
  const fp = c.fpr[t0] * fx.negatives.float_sum;
  near(fp, Math.round(fp), 1e-9, 'FPR x sum(1 - mask) is a whole count of false positives');
});

// --------------------------------------------------------------- predict + evaluate (GPU, stubbed net)

/** The part of Glass predict() uses: embed passes the images through, patchScores hands out the
 * fixture's scores in dataset order (the test loader does not shuffle). */
function stubGlass(): Glass {
  let next = 0;
  return {
    embed: (images: E.Tensor) => images,
    patchScores: (_emb: E.Tensor, B: number) => {
      const data = new Float32Array(B * gh * gw);
      for (let b = 0; b < B; b++) data.set(f32(fx.items[next++].patch_scores), b * gh * gw);
      return E.tensor(data, { shape: [B, gh, gw] });
    },
  } as unknown as Glass;
}

async function predictRule(rule: MaskRule): Promise<Prediction> {
  // batches of 2 over 5 images: a partial last batch, as on real test sets
  const loader = new DataLoader(openTest(rule), { batchSize: 2, shuffle: false });
  try {
    return await predict(stubGlass(), loader, null, true);
  } finally {
    await loader.close();
  }
}

const g = suite('eval path: predict() + evaluate() as `glass test` runs them');
g.before(async () => {
  await E.initDevice();
});

g('--mask_rule reference: images, masks, maps, scores and every metric match the reference', async () => {
  const pred = await predictRule('reference');
  assert.equal(pred.size, [S, S]);
  assert.equal(
    pred.paths.map((p) => relative(root, p).split('\\').join('/')),
    fx.items.map((it) => it.path),
  );
  assert.equal(
    Array.from(pred.labels),
    fx.items.map((it) => it.label),
  );
  const di = maxAbsDiff(concatFloat32(pred.images), concatFloat32(fx.items.map((it) => f32(it.image))));
  assert.ok(di.max <= TOL_IMAGE, `images: max |diff| ${di.max}`);
  assert.is(maxAbsDiff(pred.masks, concatFloat32(fx.items.map((it) => f32(it.mask)))).max, 0, 'masks');
  const dm = maxAbsDiff(pred.maps, concatFloat32(fx.items.map((it) => f32(it.map))));
  assert.ok(dm.max <= TOL_MAP_GPU, `maps: max |diff| ${dm.max} at ${dm.index}`);
  const maxScore = fx.items.map((it) => Math.max(...f32(it.patch_scores)));
  assert.equal(Array.from(pred.scores), maxScore, 'image score = max of the raw patch scores');

  const m = evaluate(pred, true);
  near(m.image_auroc!, fx.image.image_auroc, TOL_METRIC, 'image AUROC');
  near(m.image_ap!, fx.image.image_ap, TOL_METRIC, 'image AP');
  near(m.pixel_auroc!, fx.metrics.reference.pixel_auroc, TOL_METRIC_GPU, 'pixel AUROC');
  near(m.pixel_ap!, fx.metrics.reference.pixel_ap, TOL_METRIC_GPU, 'pixel AP');
  near(m.pixel_pro!, fx.metrics.reference.pixel_pro, TOL_METRIC_GPU, 'pixel PRO (soft mask, as compute_pro)');
});

g('--mask_rule binary: masks and metrics match the binary rule computed on the Python side', async () => {
  const pred = await predictRule('binary');
  assert.equal(Array.from(pred.masks), Array.from(concatFloat32(fx.items.map((it) => u8(it.mask_binary)))));
  const perImage = fx.items.map((_, i) => count(pred.masks.subarray(i * HW, (i + 1) * HW)));
  assert.equal(
    perImage,
    fx.items.map((it) => it.positives.binary),
  );
  const m = evaluate(pred, true);
  near(m.pixel_auroc!, fx.metrics.binary.pixel_auroc, TOL_METRIC_GPU, 'pixel AUROC');
  near(m.pixel_ap!, fx.metrics.binary.pixel_ap, TOL_METRIC_GPU, 'pixel AP');
  near(m.pixel_pro!, fx.metrics.binary.pixel_pro, TOL_METRIC_GPU, 'pixel PRO');
});

function near(got: number, want: number, tol: number, what: string): void {
  assert.ok(Math.abs(got - want) <= tol, `${what}: ${got} vs reference ${want} (|diff| ${Math.abs(got - want)} > ${tol})`);
}

t.run();
g.run();
