// `npm run demo`: trains and evaluates GLASS on the built-in synthetic dataset (written on first
// use to .cache/synthetic), with the built-in procedural anomaly textures and the best backbone at
// hand: MobileNetV1 from --weights or ../shared; else torchvision's resnet18 with ImageNet weights
// (downloaded on first use; offline, seeded random weights, said loudly). Small sizes so that it
// finishes in minutes on a 2-core CPU machine with Mesa lavapipe; any `glass train` flag can be
// appended (e.g. `npm run demo -- --meta_epochs 10`). It ends with a summary, or with the reason
// it failed as its last line and a non-zero exit status.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main, SHARED_MOBILENET, type RunReport } from './cli.ts';

const extra = process.argv.slice(2);
// a later flag wins (the CLI parser keeps the last value)
const flag = (name: string) => {
  const i = extra.lastIndexOf(name);
  return i >= 0 ? extra[i + 1] : undefined;
};
const mobilenet = flag('--weights') !== undefined || existsSync(SHARED_MOBILENET);
const backbone = mobilenet ? ['-b', 'mobilenet_v1', '-le', 'conv_pw_5', '-le', 'conv_pw_11'] : ['-b', 'resnet18', '-le', 'layer2', '-le', 'layer3'];
const out = flag('--out') ?? 'results/demo';
const args = [
  'train',
  ...((flag('-b') ?? flag('--backbone')) ? [] : backbone),
  '--resize',
  '144',
  '--imagesize',
  '128',
  '--pretrain_embed_dimension',
  '256',
  '--target_embed_dimension',
  '256',
  '--dsc_hidden',
  '128',
  '--meta_epochs',
  '12',
  '--limit',
  '48',
  // 5x the reference's 1e-4: the demo trains 12 short epochs instead of 640 (measured on the
  // synthetic classes: pixel AUROC 0.80-0.91 after 15 epochs at 1e-4, 0.93-0.98 after 10 at 5e-4)
  '--lr',
  '0.0005',
  '--batch_size',
  '8',
  '--out',
  out,
];
if (!mobilenet) console.log(`demo: no MobileNetV1 weights (--weights DIR, or ${SHARED_MOBILENET}): using resnet18 layer2 + layer3`);

const t0 = Date.now();
const report: RunReport = {};
let code: number;
try {
  code = await main([...args, ...extra], report);
} catch (err) {
  report.error = (err as Error).message;
  code = 1;
}
const secs = ((Date.now() - t0) / 1000).toFixed(0);
if (code !== 0) {
  console.log(`demo: FAILED after ${secs} s: ${report.error ?? `exit status ${code}`}`);
} else {
  console.log(summary(out, secs));
}
process.exitCode = code;

/** Per class: the best and last epoch's metrics, and where the heatmaps and checkpoint are. */
function summary(dir: string, seconds: string): string {
  const f = (x: number | null | undefined) => (x === null || x === undefined ? '   -  ' : x.toFixed(4));
  const lines = [`demo: finished in ${seconds} s. Test-set metrics (best epoch, selected on the test set as the reference does; last epoch):`];
  const csv = join(dir, 'results.csv');
  const classes = existsSync(csv)
    ? readFileSync(csv, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((r) => r.split(',')[0])
        .filter((c) => c !== 'mean')
    : [];
  for (const cls of classes) {
    const p = join(dir, cls, 'metrics.json');
    if (!existsSync(p)) continue;
    // epoch_base 1: epochs as users count them; files from before it was written counted from 0
    const m = JSON.parse(readFileSync(p, 'utf8'));
    lines.push(
      `  ${cls.padEnd(18)} image AUROC ${f(m.image_auroc)}  pixel AUROC ${f(m.pixel_auroc)}  PRO ${f(m.pixel_pro)}  (epoch ${m.best_epoch + 1 - (m.epoch_base ?? 0)}; last: image ${f(m.last?.image_auroc)}, pixel ${f(m.last?.pixel_auroc)})`,
    );
    lines.push(`  ${''.padEnd(18)} heatmaps: ${join(dir, cls, 'visuals')}/*.png   checkpoint: ${join(dir, cls, 'ckpt_best.safetensors')}`);
  }
  lines.push(`  table: ${csv}`);
  if (classes.length) {
    lines.push(`  score your own images: npm run glass -- predict --checkpoint ${join(dir, classes[0], 'ckpt_best.safetensors')} --input FOLDER`);
  }
  return lines.join('\n');
}
