// Per-image result PNGs as the reference's _evaluate writes them: the input image | the
// ground-truth mask | the anomaly map as a JET heatmap (cv2.applyColorMap of the map quantised to
// uint8). Maps are scaled jointly over the test set (min-max of all maps), so colours compare
// across images. Written at the test image size (the reference resizes the strip to 768x256).
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createImage, readImage, writePNG } from '../data/image.ts';
import type { Prediction } from './loop.ts';
import type { Threshold } from './threshold.ts';
import { jet, mapToOriginal, overlayScale, type InputGeometry } from './heatmap.ts';

export { jet, mapToOriginal, overlayScale, type InputGeometry };

export async function writeVisuals(dir: string, pred: Prediction, norm: { mean: number[]; std: number[] }): Promise<void> {
  const [H, W] = pred.size;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of pred.maps) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo || 1;
  pred.paths.forEach((path, i) => {
    const img = pred.images[i];
    const out = createImage(W * 3, H, 3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const p = y * W + x;
        const rgb = [0, 1, 2].map((c) => Math.round(Math.min(Math.max(img[c * H * W + p] * norm.std[c] + norm.mean[c], 0), 1) * 255));
        const m = pred.masks[i * H * W + p];
        const heat = jet((pred.maps[i * H * W + p] - lo) / span);
        for (let c = 0; c < 3; c++) {
          out.data[(y * W * 3 + x) * 3 + c] = rgb[c];
          out.data[(y * W * 3 + W + x) * 3 + c] = Math.round(Math.min(Math.max(m, 0), 1) * 255);
          out.data[(y * W * 3 + 2 * W + x) * 3 + c] = heat[c];
        }
      }
    const name = `${basename(dirname(path))}_${basename(path).replace(/\.[^.]+$/, '')}.png`;
    mkdirSync(dir, { recursive: true });
    writePNG(join(dir, name), out);
  });
}

/** Output names for a flat folder's images: the file stem, with the extension kept where stems repeat. */
function outputNames(paths: string[]): string[] {
  const stems = paths.map((p) => basename(p).replace(/\.[^.]+$/, ''));
  const seen = new Map<string, number>();
  for (const s of stems) seen.set(s, (seen.get(s) ?? 0) + 1);
  return paths.map((p, i) => (seen.get(stems[i])! > 1 ? basename(p).replace(/\.([^.]+)$/, '_$1') : stems[i]) + '.png');
}

/**
 * What a user who scores new images looks at, at each image's own size: heatmaps/<name>.png, the
 * anomaly map over the original image (JET at half opacity; the parts outside the model's centre
 * crop are left untinted and darkened), and, given a threshold, masks/<name>.png (white where the
 * map is at or above the pixel threshold). The colour scale is absolute so images compare: with a
 * threshold, the good images' median map value is blue, the threshold green (mid-scale) and yellow
 * to red above it; without one, map values 0..1 (the discriminator's output) span the scale.
 */
export async function writeOverlays(dir: string, pred: Prediction, geometry: InputGeometry, threshold: Threshold | null): Promise<void> {
  const [H, W] = pred.size;
  if (H !== geometry.imagesize || W !== geometry.imagesize) throw new Error(`writeOverlays: maps are ${H}x${W}, geometry says ${geometry.imagesize}`);
  const names = outputNames(pred.paths);
  mkdirSync(join(dir, 'heatmaps'), { recursive: true });
  if (threshold) mkdirSync(join(dir, 'masks'), { recursive: true });
  const { base, span } = overlayScale(threshold);
  pred.paths.forEach((path, i) => {
    const img = readImage(path, 'rgb');
    const map = mapToOriginal(pred.maps.subarray(i * H * W, (i + 1) * H * W), img.width, img.height, geometry);
    const over = createImage(img.width, img.height, 3);
    const mask = threshold ? createImage(img.width, img.height, 1) : null;
    for (let p = 0; p < map.length; p++) {
      const v = map[p];
      const seen = !Number.isNaN(v);
      const heat = seen ? jet((v - base) / span) : [0, 0, 0];
      for (let c = 0; c < 3; c++) over.data[p * 3 + c] = Math.round(0.5 * img.data[p * 3 + c] + 0.5 * heat[c]);
      if (mask) mask.data[p] = seen && v >= threshold!.pixel ? 255 : 0;
    }
    writePNG(join(dir, 'heatmaps', names[i]), over);
    if (mask) writePNG(join(dir, 'masks', names[i]), mask);
  });
}
