/// <reference lib="dom" />
// Image decoding in the page, byte for byte as the CLI (data/image.ts): the browser's decoder
// (createImageBitmap, no colour-space conversion, no premultiplication), then the RGBA pixels read
// back through WebGPU (copyExternalImageToTexture with premultipliedAlpha false into an rgba8unorm
// texture, copied to a buffer), then imageFromRGBA, which drops alpha as the CLI does (PIL's
// convert("RGB"), tRNS ignored). A 2D canvas's getImageData is exact only where alpha is 255 (it
// stores premultiplied colour), so it is kept here for comparison only (rgbaByCanvas).
// test/browser/png-decode.test.ts checks, through test/browser/pages/parity.ts which imports this
// module, that decodeImage gives the CLI's bytes for PNGs of every colour type and bit depth.
import { E, imageFromRGBA, type Image } from './lib.ts';

/** RGBA of a bitmap through a 2D canvas (premultiplied inside: exact only where alpha is 255). */
export function rgbaByCanvas(bmp: ImageBitmap): Uint8ClampedArray {
  const canvas = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bmp, 0, 0);
  return ctx.getImageData(0, 0, bmp.width, bmp.height).data;
}

/** RGBA of a bitmap through WebGPU (copyExternalImageToTexture, unpremultiplied: colour kept under any alpha). */
export async function rgbaByWebGPU(bmp: ImageBitmap): Promise<Uint8Array> {
  const device = await E.initDevice();
  const { width, height } = bmp;
  const texture = device.createTexture({
    size: [width, height],
    format: 'rgba8unorm',
    usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC | GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.TEXTURE_BINDING,
  });
  const bytesPerRow = Math.ceil((width * 4) / 256) * 256;
  const buf = device.createBuffer({ size: bytesPerRow * height, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  try {
    device.queue.copyExternalImageToTexture({ source: bmp }, { texture, premultipliedAlpha: false }, [width, height]);
    const enc = device.createCommandEncoder();
    enc.copyTextureToBuffer({ texture }, { buffer: buf, bytesPerRow }, [width, height]);
    device.queue.submit([enc.finish()]);
    await buf.mapAsync(GPUMapMode.READ);
    const rows = new Uint8Array(buf.getMappedRange());
    const out = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) out.set(rows.subarray(y * bytesPerRow, y * bytesPerRow + width * 4), y * width * 4);
    buf.unmap();
    return out;
  } finally {
    buf.destroy();
    texture.destroy();
  }
}

export type DecodeWay = 'canvas' | 'webgpu';

/** Decodes image bytes (any format the browser reads) to RGBA, and counts the pixels with alpha below 255. */
export async function decodeRGBA(
  file: Blob,
  way: DecodeWay = 'webgpu',
): Promise<{ rgba: Uint8Array | Uint8ClampedArray; width: number; height: number; alphaBelow255: number }> {
  const bmp = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  try {
    const rgba = way === 'canvas' ? rgbaByCanvas(bmp) : await rgbaByWebGPU(bmp);
    let alphaBelow255 = 0;
    for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) alphaBelow255++;
    return { rgba, width: bmp.width, height: bmp.height, alphaBelow255 };
  } finally {
    bmp.close();
  }
}

/**
 * The app's decoder: a file to an RGB (or grey) Image with the CLI's bytes (the WebGPU read-back
 * by default, so files with alpha keep their colour; `way` 'canvas' for comparisons only).
 */
export async function decodeImage(file: Blob, mode: 'rgb' | 'gray' = 'rgb', way: DecodeWay = 'webgpu'): Promise<{ image: Image; alphaBelow255: number }> {
  const d = await decodeRGBA(file, way);
  return { image: imageFromRGBA(d.rgba, d.width, d.height, mode), alphaBelow255: d.alphaBelow255 };
}
