// 8-bit images in memory (HWC, grey or RGB) and the pixel conversions that need no codec: PIL's
// grey/RGB conversions, float maps to pixels, and RGBA pixels as a browser canvas hands them over.
// Host-neutral; image.ts adds decoding and encoding (pngjs and jpeg-js) and files, for Node.

/** 8-bit image, rows top to bottom, channels interleaved (HWC). */
export interface Image {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

export function createImage(width: number, height: number, channels: 1 | 3, fill = 0): Image {
  const data = new Uint8Array(width * height * channels);
  if (fill !== 0) data.fill(fill);
  return { width, height, channels, data };
}

export function cloneImage(img: Image): Image {
  return { width: img.width, height: img.height, channels: img.channels, data: img.data.slice() };
}

/** Grey to RGB by replication; RGB passes through unchanged (not copied). */
export function toRGB(img: Image): Image {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const out = createImage(img.width, img.height, 3);
  for (let i = 0; i < n; i++) {
    const v = img.data[i]!;
    out.data[i * 3] = v;
    out.data[i * 3 + 1] = v;
    out.data[i * 3 + 2] = v;
  }
  return out;
}

/** PIL's RGB -> L: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16. */
export function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/** RGB to one grey channel with PIL's weights; grey passes through unchanged (not copied). */
export function toGray(img: Image): Image {
  if (img.channels === 1) return img;
  const n = img.width * img.height;
  const out = createImage(img.width, img.height, 1);
  const d = img.data;
  for (let i = 0; i < n; i++) out.data[i] = luma(d[i * 3]!, d[i * 3 + 1]!, d[i * 3 + 2]!);
  return out;
}

export type ReadMode = 'rgb' | 'gray' | 'native';

/**
 * RGBA pixels (a canvas's ImageData, a decoded bitmap) to an Image, alpha dropped as PIL's
 * convert("RGB") does; 'gray' converts with PIL's weights. The app decodes files with the
 * browser's own decoders and hands the pixels over here.
 */
export function imageFromRGBA(rgba: ArrayLike<number>, width: number, height: number, mode: 'rgb' | 'gray' = 'rgb'): Image {
  const n = width * height;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`imageFromRGBA: bad size ${width}x${height}`);
  }
  if (rgba.length !== n * 4) throw new Error(`imageFromRGBA: ${rgba.length} values for ${width}x${height} RGBA`);
  const out = createImage(width, height, mode === 'rgb' ? 3 : 1);
  const o = out.data;
  if (mode === 'rgb') {
    for (let i = 0; i < n; i++) {
      o[i * 3] = rgba[i * 4]!;
      o[i * 3 + 1] = rgba[i * 4 + 1]!;
      o[i * 3 + 2] = rgba[i * 4 + 2]!;
    }
  } else for (let i = 0; i < n; i++) o[i] = luma(rgba[i * 4]!, rgba[i * 4 + 1]!, rgba[i * 4 + 2]!);
  return out;
}

/**
 * CHW float data (e.g. a heatmap or a de-normalised tensor) to an 8-bit image: values are mapped
 * linearly from [lo, hi] to [0, 255], clamped and rounded.
 */
export function floatToImage(chw: Float32Array | Float64Array, width: number, height: number, channels: 1 | 3, lo = 0, hi = 1): Image {
  const n = width * height;
  if (chw.length !== n * channels) throw new Error(`floatToImage: ${chw.length} values for ${channels}x${height}x${width}`);
  const out = createImage(width, height, channels);
  const s = 255 / (hi - lo);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < n; i++) {
      const v = Math.round((chw[c * n + i]! - lo) * s);
      out.data[i * channels + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

export function checkImage(img: Image, op: string): void {
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new Error(`${op}: image buffer has ${img.data.length} bytes for ${img.width}x${img.height}x${img.channels}`);
  }
}
