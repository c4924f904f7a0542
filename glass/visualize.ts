// Per-image result PNGs as the reference's _evaluate writes them: the input image | the
// ground-truth mask | the anomaly map as a JET heatmap (cv2.applyColorMap of the map quantised to
// uint8). Maps are scaled jointly over the test set (min-max of all maps), so colours compare
// across images. Written at the test image size (the reference resizes the strip to 768x256).
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createImage, writePNG } from '../data/image.ts';
import type { Prediction } from './trainer.ts';

/**
 * OpenCV's COLORMAP_JET of v in [0, 1] -> [r, g, b] in 0..255: v is quantised to the level
 * floor(255 v) as the reference's astype('uint8') does, then the piecewise-linear JET ramps give
 * each channel within one unit of cv2's table (test/glass/visualize.test.ts checks all 256).
 */
export function jet(v: number): [number, number, number] {
  const x = (Math.floor(Math.min(Math.max(v, 0), 1) * 255) / 255) * 4;
  const r = Math.min(Math.max(Math.min(x - 1.5, -x + 4.5), 0), 1);
  const g = Math.min(Math.max(Math.min(x - 0.5, -x + 3.5), 0), 1);
  const b = Math.min(Math.max(Math.min(x + 0.5, -x + 2.5), 0), 1);
  return [Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)];
}

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
 * What a user who scores new images looks at: heatmaps/<name>.png, the anomaly map over the image
 * (JET at half opacity), and, given a pixel threshold, masks/<name>.png (white where the map is
 * at or above it). The colour scale is absolute so images compare: with a threshold it sits at the
 * middle of the scale (green), so yellow to red means above it; without one, map values 0..1 (the
 * discriminator's output) span the scale.
 */
export async function writeOverlays(dir: string, pred: Prediction, norm: { mean: number[]; std: number[] }, pixelThreshold: number | null): Promise<void> {
  const [H, W] = pred.size;
  const names = outputNames(pred.paths);
  mkdirSync(join(dir, 'heatmaps'), { recursive: true });
  if (pixelThreshold !== null) mkdirSync(join(dir, 'masks'), { recursive: true });
  const scale = pixelThreshold !== null && pixelThreshold > 0 ? 0.5 / pixelThreshold : 1;
  pred.paths.forEach((_, i) => {
    const img = pred.images[i];
    const over = createImage(W, H, 3);
    const mask = pixelThreshold !== null ? createImage(W, H, 1) : null;
    for (let p = 0; p < H * W; p++) {
      const v = pred.maps[i * H * W + p];
      const heat = jet(v * scale);
      for (let c = 0; c < 3; c++) {
        const x = Math.min(Math.max(img[c * H * W + p] * norm.std[c] + norm.mean[c], 0), 1) * 255;
        over.data[p * 3 + c] = Math.round(0.5 * x + 0.5 * heat[c]);
      }
      if (mask) mask.data[p] = v >= pixelThreshold! ? 255 : 0;
    }
    writePNG(join(dir, 'heatmaps', names[i]), over);
    if (mask) writePNG(join(dir, 'masks', names[i]), mask);
  });
}
