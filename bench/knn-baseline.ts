// Command line of the nearest-neighbour baseline (glass/knn-baseline.ts): image/pixel AUROC, AP
// and PRO of a PatchCore-style score on GLASS's patch embedding, as `glass test` computes them.
//   npx tsx bench/knn-baseline.ts --data ROOT -d CLASS [--imagesize 128 --resize 144] [--random_backbone] [--json FILE]
import { pathToFileURL } from 'node:url';
import * as E from '../engine/index.ts';
import { knnBaseline } from '../glass/knn-baseline.ts';
import { MASK_RULES, type MaskRule } from '../glass/trainer.ts';

export { FeatureBank, bankChunkRows, knnBaseline, type KnnOptions, type KnnResult } from '../glass/knn-baseline.ts';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { parseArgs } = await import('node:util');
  const { createBackbone } = await import('../models/registry.ts');
  const { SHARED_MOBILENET } = await import('../glass/cli.ts');
  const { writeFileSync } = await import('node:fs');
  const usage =
    'usage: npx tsx bench/knn-baseline.ts --data ROOT -d CLASS [--imagesize N] [--resize N] [--weights DIR | --random_backbone]\n' +
    '                                     [--geometry crop|full] [--mask_rule binary|reference] [--json FILE]\n' +
    '  nearest-neighbour patch scores on MobileNetV1 conv_pw_5 + conv_pw_11 features (the bank is kept in chunks,\n' +
    '  so any training-set size works); prints image AUROC/AP and pixel AUROC/AP/PRO computed as `glass test` does,\n' +
    '  pixel AUROC per defect type, and the seconds taken; --json writes them';
  let v: {
    data?: string;
    d?: string;
    imagesize: string;
    resize: string;
    weights: string;
    random_backbone: boolean;
    help: boolean;
    mask_rule: string;
    geometry: string;
    json?: string;
  };
  try {
    v = parseArgs({
      options: {
        data: { type: 'string' },
        d: { type: 'string' },
        imagesize: { type: 'string', default: '128' },
        resize: { type: 'string', default: '144' },
        weights: { type: 'string', default: SHARED_MOBILENET },
        random_backbone: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        mask_rule: { type: 'string', default: 'binary' },
        geometry: { type: 'string', default: 'crop' },
        json: { type: 'string' },
      },
    }).values as typeof v;
  } catch (err) {
    console.error(`knn-baseline: ${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
  if (v.help) {
    console.log(usage);
    process.exit(0);
  }
  if (!v.data || !v.d) {
    console.error(`knn-baseline: --data and -d are required\n${usage}`);
    process.exit(2);
  }
  if (!(v.mask_rule in MASK_RULES)) {
    console.error(`knn-baseline: --mask_rule must be one of ${Object.keys(MASK_RULES).join(', ')}, got '${v.mask_rule}'\n${usage}`);
    process.exit(2);
  }
  if (v.geometry !== 'crop' && v.geometry !== 'full') {
    console.error(`knn-baseline: --geometry must be one of crop, full, got '${v.geometry}'\n${usage}`);
    process.exit(2);
  }
  for (const k of ['imagesize', 'resize'] as const) {
    if (!/^[1-9][0-9]*$/.test(v[k])) {
      console.error(`knn-baseline: --${k} must be a positive integer, got '${v[k]}'\n${usage}`);
      process.exit(2);
    }
  }
  await E.initDevice();
  const bb = v.random_backbone ? createBackbone('mobilenet_v1', { random: true, seed: 0 }) : createBackbone('mobilenet_v1', { weights: v.weights });
  const layers = ['conv_pw_5', 'conv_pw_11'];
  const r = await knnBaseline(bb, {
    root: v.data,
    className: v.d,
    resize: +v.resize,
    imagesize: +v.imagesize,
    layers,
    maskRule: v.mask_rule as MaskRule,
    geometry: v.geometry,
  });
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(4));
  console.log(
    `${v.d} ${v.imagesize} px (${v.geometry}), ${v.random_backbone ? 'random' : 'ImageNet'} MobileNetV1, nearest-neighbour (mask rule ${r.maskRule}):`,
  );
  console.log('| image AUROC | image AP | pixel AUROC | pixel AP | PRO | bank s | test s |');
  console.log('|---|---|---|---|---|---|---|');
  console.log(
    `| ${f(r.image_auroc)} | ${f(r.image_ap)} | ${f(r.pixel_auroc)} | ${f(r.pixel_ap)} | ${f(r.pixel_pro)} | ${r.seconds.bank.toFixed(1)} | ${r.seconds.test.toFixed(1)} |`,
  );
  for (const [t, a] of Object.entries(r.byType)) console.log(`  ${t}: pixel AUROC ${a.toFixed(4)}`);
  if (v.json) {
    const { imageScores: _, ...rest } = r;
    const record = {
      baseline: 'knn',
      data: v.data,
      class: v.d,
      imagesize: +v.imagesize,
      resize: +v.resize,
      geometry: v.geometry,
      layers,
      backbone: v.random_backbone ? 'random' : v.weights,
      ...rest,
    };
    writeFileSync(v.json, JSON.stringify(record, null, 2) + '\n');
    console.log(`wrote ${v.json}`);
  }
  E.releaseDevice();
}
