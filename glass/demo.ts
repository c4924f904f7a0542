// `npm run demo`: trains and evaluates GLASS on the built-in synthetic dataset (written on first
// use to .cache/synthetic) with the best backbone available: MobileNetV1 from --weights or
// ../shared, else seeded random weights (said loudly). Small sizes so that it finishes in a few
// minutes on a 2-core CPU machine with Mesa lavapipe; any `npm run glass -- train` flag can be
// appended to change them (e.g. `npm run demo -- --meta_epochs 10`).
import { existsSync } from 'node:fs';
import { main, SHARED_MOBILENET } from './cli.ts';

const extra = process.argv.slice(2);
const hasWeights = extra.includes('--weights') || existsSync(SHARED_MOBILENET);
const args = [
  'train',
  '-b', 'mobilenet_v1',
  '-le', 'conv_pw_5',
  '-le', 'conv_pw_11',
  '--resize', '144',
  '--imagesize', '128',
  '--pretrain_embed_dimension', '256',
  '--target_embed_dimension', '256',
  '--dsc_hidden', '128',
  '--meta_epochs', '12',
  '--limit', '48',
  // 5x the reference's 1e-4: the demo trains 12 short epochs instead of 640 (measured on the
  // synthetic classes: pixel AUROC 0.80-0.91 after 15 epochs at 1e-4, 0.93-0.98 after 10 at 5e-4)
  '--lr', '0.0005',
  '--batch_size', '8',
  '--out', 'results/demo',
];
if (!hasWeights) {
  console.log(
    'demo: no MobileNetV1 weights found (looked for --weights and ' + SHARED_MOBILENET + ').\n' +
      '      Get ImageNet weights as a TensorFlow.js layers model (Keras MobileNet alpha 1.0, 224) and pass\n' +
      '      `npm run demo -- --weights DIR`, or train a ResNet with `npm run glass -- weights --backbone resnet18`.\n' +
      '      Continuing with RANDOM backbone weights: expect much weaker results.',
  );
  args.push('--random_backbone');
}
const t0 = Date.now();
const code = await main([...args, ...extra]);
// a later --out wins (the CLI parser keeps the last value), so report the folder actually used
const outAt = extra.lastIndexOf('--out');
const out = outAt >= 0 && extra[outAt + 1] ? extra[outAt + 1] : 'results/demo';
console.log(`demo: finished in ${((Date.now() - t0) / 1000).toFixed(0)} s (metrics: ${out}/results.csv)`);
process.exitCode = code;
