// How anomaly maps are drawn, shared by the CLI's PNGs (glass/visualize.ts) and the web app
// (app/visual.ts): the JET colour map as OpenCV's, the absolute threshold-anchored colour scale,
// and the map carried back through Resize + CenterCrop onto the original image's pixels. Pure
// code (no Node), so the browser bundle uses the same functions.
import { resizeOutputSize, roundHalfEven } from '../data/transforms.ts';
import type { Threshold } from './threshold.ts';

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

/**
 * Where map values land on the colour scale, (v - base) / span: with a threshold, the good images'
 * median map value (blue) to twice the threshold's distance from it, so the pixel threshold sits
 * mid-scale (green) and yellow to red is above it; without one, map values 0..1 span the scale.
 */
export function overlayScale(threshold: Pick<Threshold, 'pixel' | 'pixelNormal'> | null): { base: number; span: number } {
  const base = Math.min(threshold?.pixelNormal ?? 0, threshold ? threshold.pixel : Infinity);
  const span = threshold && threshold.pixel > base ? 2 * (threshold.pixel - base) : 1;
  return { base, span };
}

/**
 * Where the model's input lies in the original image: 'crop' (default), Resize(resize) of the
 * shorter side then CenterCrop(imagesize); 'full', the whole image resized to imagesize x imagesize.
 */
export interface InputGeometry {
  resize: number;
  imagesize: number;
  geometry?: 'crop' | 'full';
}

/**
 * Bilinear sample of an imagesize x imagesize map at every pixel of the original width x height
 * image, following the geometry back (Resize + CenterCrop, or the full-frame resize); NaN outside
 * the crop (pixels the model never saw; none with 'full').
 */
export function mapToOriginal(map: Float32Array, width: number, height: number, g: InputGeometry): Float32Array {
  const I = g.imagesize;
  // 'full' stretched the whole frame to I x I: no crop, every pixel maps inside the map
  const [rh, rw] = g.geometry === 'full' ? [I, I] : resizeOutputSize(height, width, g.resize);
  const top = g.geometry === 'full' ? 0 : roundHalfEven((rh - I) / 2);
  const left = g.geometry === 'full' ? 0 : roundHalfEven((rw - I) / 2);
  const sx = rw / width;
  const sy = rh / height;
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const v = (y + 0.5) * sy - 0.5 - top;
    const inY = v >= -0.5 && v <= I - 0.5;
    const v0 = Math.min(Math.max(Math.floor(v), 0), I - 1);
    const v1 = Math.min(v0 + 1, I - 1);
    const fv = Math.min(Math.max(v - v0, 0), 1);
    for (let x = 0; x < width; x++) {
      const u = (x + 0.5) * sx - 0.5 - left;
      if (!inY || u < -0.5 || u > I - 0.5) {
        out[y * width + x] = NaN;
        continue;
      }
      const u0 = Math.min(Math.max(Math.floor(u), 0), I - 1);
      const u1 = Math.min(u0 + 1, I - 1);
      const fu = Math.min(Math.max(u - u0, 0), 1);
      const a = map[v0 * I + u0] + (map[v0 * I + u1] - map[v0 * I + u0]) * fu;
      const b = map[v1 * I + u0] + (map[v1 * I + u1] - map[v1 * I + u0]) * fu;
      out[y * width + x] = a + (b - a) * fv;
    }
  }
  return out;
}
