// Image files <-> 8-bit HWC pixel buffers, on the CPU (Node: pngjs needs Node's zlib and streams;
// pixels.ts has the image type and conversions for any host). Decoding follows what PIL's
// Image.open(...).convert("RGB") / .convert("L") gives the reference GLASS code: alpha is dropped (not
// composited), palettes are expanded, grey is replicated to RGB, RGB becomes grey with PIL's ITU-R 601
// integer weights, and 16-bit samples keep their high byte (PIL does this for RGB;16B, LA;16B and
// RGBA;16B; for 16-bit grey PIL's mode-I conversion would clip to 255, which no caller wants).
// PNG goes through pngjs, JPEG through jpeg-js (baseline and progressive). Every failure names the
// file and the reason; nothing is decoded "tolerantly".
// Decompression bombs: a few hundred KB of PNG can declare 16000x16000 pixels, and the decoders
// allocate for the declared size up front, so the pixel count is checked from the header (PNG
// IHDR, JPEG SOF) before decoding. The limit is GLASS_MAX_IMAGE_PIXELS or the maxPixels option,
// default Pillow's Image.MAX_IMAGE_PIXELS (89478485, about 9459x9459): PIL, which the reference
// GLASS code reads images with, warns past it, and no dataset here comes near it.
import { readFileSync, writeFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { type Image, type ReadMode, checkImage, createImage, toGray, toRGB } from './pixels.ts';

export * from './pixels.ts';

export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

export const DEFAULT_MAX_IMAGE_PIXELS = 89_478_485;
export const IMAGE_PIXELS_ENV = 'GLASS_MAX_IMAGE_PIXELS';

export interface DecodeOptions {
  /** Most pixels (width x height) an image may declare; default GLASS_MAX_IMAGE_PIXELS, else 89478485. */
  maxPixels?: number;
}

/** The pixel limit: the option if given, else the environment, else the default. */
export function maxImagePixels(option?: number): number {
  if (option !== undefined) {
    if (!(option > 0)) throw new Error(`maxPixels must be a positive number, got ${option}`);
    return option;
  }
  const env = process.env[IMAGE_PIXELS_ENV];
  if (env === undefined || env === '') return DEFAULT_MAX_IMAGE_PIXELS;
  const v = /^\s*(\d+(\.\d*)?(e\d+)?|infinity)\s*$/i.test(env) ? Math.floor(Number(env.trim().toLowerCase() === 'infinity' ? Infinity : env)) : NaN;
  if (!(v > 0)) throw new Error(`${IMAGE_PIXELS_ENV}=${env} is not a pixel count (e.g. 200000000)`);
  return v;
}

/** Refuses a header's dimensions past the limit, before any decoder allocates for them. */
function checkPixels(width: number, height: number, fileBytes: number, name: string, maxPixels: number): void {
  const px = width * height;
  if (px <= maxPixels) return;
  throw new Error(
    `image ${name}: ${width}x${height} pixels (${(px / 1e6).toFixed(1)} megapixels, from a ${fileBytes}-byte file) ` +
      `is over the limit of ${maxPixels} pixels (a decompression bomb?); if the image is genuine, raise it with ` +
      `${IMAGE_PIXELS_ENV}=<pixels> or the maxPixels option`,
  );
}

export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

export interface ImageListing {
  /** image files, sorted by name (byte order, like Python's sorted(os.listdir())) */
  files: string[];
  /** other files that were found and left out (the caller warns about them) */
  others: string[];
  /** sub-folders that were not searched (non-recursive listing only) */
  folders: string[];
}

/** Image files in a folder (optionally searching sub-folders). Throws if the folder cannot be read. */
export function listImages(dir: string, recursive = false): ImageListing {
  const out: ImageListing = { files: [], others: [], folders: [] };
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(`folder ${d}: ${code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : `cannot be read (${code})`}`);
    }
    for (const name of names.sort(byteOrder)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        if (recursive) walk(p);
        else out.folders.push(p);
      } else if (isImageFile(name)) out.files.push(p);
      else out.others.push(p);
    }
  };
  walk(dir);
  if (recursive) out.files.sort(byteOrder); // whole-path order, as sorted(glob(...)) in the reference
  return out;
}

/** Sorts like Python's sorted() on str (code points), not locale order. */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What the first bytes say the file is, for error messages and dispatch. */
function sniff(b: Uint8Array): string {
  const at = (i: number) => b[i] ?? -1;
  if (at(0) === 0x89 && at(1) === 0x50 && at(2) === 0x4e && at(3) === 0x47) return 'png';
  if (at(0) === 0xff && at(1) === 0xd8) return 'jpeg';
  if (at(0) === 0x47 && at(1) === 0x49 && at(2) === 0x46) return 'GIF';
  if (at(0) === 0x42 && at(1) === 0x4d) return 'BMP';
  if ((at(0) === 0x49 && at(1) === 0x49) || (at(0) === 0x4d && at(1) === 0x4d)) return 'TIFF';
  if (at(0) === 0x52 && at(1) === 0x49 && at(2) === 0x46 && at(3) === 0x46) return 'RIFF/WebP';
  return 'unknown';
}

/**
 * Decodes PNG or JPEG bytes. Grey files (PNG colour types 0 and 4, one-component JPEG) come back with
 * one channel, everything else with three. `name` is only used in error messages.
 */
export function decodeImage(bytes: Uint8Array, name = '<buffer>', opts: DecodeOptions = {}): Image {
  if (bytes.length === 0) throw new Error(`image ${name}: empty file`);
  const kind = sniff(bytes);
  const maxPixels = maxImagePixels(opts.maxPixels);
  if (kind === 'png') return decodePNG(bytes, name, maxPixels);
  if (kind === 'jpeg') return decodeJPEG(bytes, name, maxPixels);
  throw new Error(`image ${name}: unsupported format (${kind}; only PNG and JPEG are decoded)`);
}

/** Walks the PNG chunk list: checks it is complete and the size allowed, and drops tRNS (see decodePNG). */
function pngChunks(b: Uint8Array, name: string, maxPixels: number): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const keep: Uint8Array[] = [b.subarray(0, 8)];
  let p = 8;
  let sawIHDR = false;
  let sawIDAT = false;
  let dropped = false;
  for (;;) {
    if (p + 12 > b.length) throw new Error(`image ${name}: truncated PNG (chunk list ends at byte ${p} of ${b.length}, no IEND)`);
    const len = dv.getUint32(p);
    const type = String.fromCharCode(b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!);
    const end = p + 12 + len;
    if (end > b.length) throw new Error(`image ${name}: truncated PNG (${type} chunk needs ${len} bytes, file ends early)`);
    if (p === 8 && type !== 'IHDR') throw new Error(`image ${name}: corrupt PNG (first chunk is ${JSON.stringify(type)}, not IHDR)`);
    if (type === 'IHDR') {
      if (len < 8) throw new Error(`image ${name}: corrupt PNG (IHDR of ${len} bytes)`);
      checkPixels(dv.getUint32(p + 8), dv.getUint32(p + 12), b.length, name, maxPixels);
      sawIHDR = true;
    }
    if (type === 'IDAT') sawIDAT = true;
    // tRNS only feeds alpha, which convert("RGB") drops; pngjs would instead zero the colour of
    // key-coloured pixels, so the chunk is removed before decoding.
    if (type !== 'tRNS') keep.push(b.subarray(p, end));
    else dropped = true;
    p = end;
    if (type === 'IEND') break;
  }
  if (!sawIHDR || !sawIDAT) throw new Error(`image ${name}: corrupt PNG (no ${sawIHDR ? 'IDAT' : 'IHDR'} chunk)`);
  return dropped ? Buffer.concat(keep) : b;
}

function decodePNG(bytes: Uint8Array, name: string, maxPixels: number): Image {
  const clean = pngChunks(bytes, name, maxPixels);
  let png: { width: number; height: number; data: ArrayLike<number>; depth: number; colorType: number };
  try {
    png = PNG.sync.read(Buffer.from(clean.buffer, clean.byteOffset, clean.byteLength), { skipRescale: true }) as typeof png;
  } catch (err) {
    throw new Error(`image ${name}: corrupt PNG (${(err as Error).message})`);
  }
  const { width, height, data, depth, colorType } = png;
  const n = width * height;
  if (data.length < n * 4) throw new Error(`image ${name}: corrupt PNG (decoded ${data.length} samples for ${width}x${height})`);
  const grey = colorType === 0 || colorType === 4;
  const out = createImage(width, height, grey ? 1 : 3);
  const o = out.data;
  // pngjs always hands back RGBA; palette entries are already expanded to 8 bits.
  if (grey) {
    if (depth === 16) for (let i = 0; i < n; i++) o[i] = data[i * 4]! >> 8;
    else if (depth < 8) {
      const scale = 255 / ((1 << depth) - 1); // 1, 2, 4 bits map to 0..255 exactly (x255, x85, x17)
      for (let i = 0; i < n; i++) o[i] = data[i * 4]! * scale;
    } else for (let i = 0; i < n; i++) o[i] = data[i * 4]!;
  } else {
    const shift = depth === 16 && colorType !== 3 ? 8 : 0;
    for (let i = 0; i < n; i++) {
      o[i * 3] = data[i * 4]! >> shift;
      o[i * 3 + 1] = data[i * 4 + 1]! >> shift;
      o[i * 3 + 2] = data[i * 4 + 2]! >> shift;
    }
  }
  return out;
}

interface JpegFrame {
  width: number;
  height: number;
  /** per component: horizontal and vertical sampling factors */
  comps: { h: number; v: number }[];
  /** an Adobe APP14 segment asks for its own colour transform (jpeg-js then ignores colorTransform) */
  adobeTransform: boolean;
}

/** Reads the frame header (SOFn) and Adobe marker, or returns null if no frame header precedes the scan. */
function jpegFrame(b: Uint8Array): JpegFrame | null {
  let p = 2;
  let adobeTransform = false;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return null;
    const m = b[p + 1]!;
    if (m === 0xff) {
      p++;
      continue;
    } // fill byte
    if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) {
      p += 2;
      continue;
    }
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    if (m === 0xee && len >= 12 && b[p + 4] === 0x41 && b[p + 5] === 0x64) adobeTransform = (b[p + 15] ?? 0) !== 0;
    const isSOF = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (isSOF) {
      const n = b[p + 9] ?? 0;
      const comps: { h: number; v: number }[] = [];
      for (let i = 0; i < n; i++) {
        const f = b[p + 11 + i * 3] ?? 0x11;
        comps.push({ h: f >> 4 || 1, v: f & 15 || 1 });
      }
      const height = ((b[p + 5] ?? 0) << 8) | (b[p + 6] ?? 0);
      const width = ((b[p + 7] ?? 0) << 8) | (b[p + 8] ?? 0);
      return { width, height, comps, adobeTransform };
    }
    if (m === 0xda) return null; // scan data before any frame header
    p += 2 + len;
  }
  return null;
}

function decodeJPEG(bytes: Uint8Array, name: string, maxPixels: number): Image {
  const frame = jpegFrame(bytes);
  if (!frame || frame.comps.length === 0) throw new Error(`image ${name}: corrupt or truncated JPEG (no frame header)`);
  checkPixels(frame.width, frame.height, bytes.length, name, maxPixels);
  // A complete JPEG ends with EOI; jpeg-js would otherwise hand back a partly grey image.
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0x00) end--; // some writers pad with zeros
  if (end < 2 || bytes[end - 2] !== 0xff || bytes[end - 1] !== 0xd9) {
    throw new Error(`image ${name}: truncated JPEG (no end-of-image marker)`);
  }
  const ncomp = frame.comps.length;
  if (ncomp !== 1 && ncomp !== 3 && ncomp !== 4) throw new Error(`image ${name}: unsupported JPEG with ${ncomp} components`);
  // For plain YCbCr files we take jpeg-js's raw planes and do chroma upsampling and colour conversion
  // the way libjpeg (PIL's decoder) does; jpeg-js's own nearest-neighbour chroma upsampling is off by
  // several levels at colour edges.
  const raw = ncomp === 3 && !frame.adobeTransform;
  let dec: { width: number; height: number; data: Uint8Array };
  try {
    // jpeg-js has its own caps (100 MP, a memory budget); ours was checked above, so theirs follow it.
    dec = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: (maxPixels + 1) / 1e6,
      maxMemoryUsageInMB: Math.max(2048, Math.ceil((maxPixels * 16) / 2 ** 20)),
      ...(raw ? { colorTransform: false } : {}),
    });
  } catch (err) {
    throw new Error(`image ${name}: corrupt JPEG (${(err as Error).message})`);
  }
  const { width, height, data } = dec;
  if (ncomp === 1) {
    const out = createImage(width, height, 1);
    for (let i = 0; i < width * height; i++) out.data[i] = data[i * 3]!;
    return out;
  }
  if (!raw) return { width, height, channels: 3, data: data.subarray(0, width * height * 3) };
  return ycbcrToRGB(data, width, height, frame.comps);
}

/** Component c of jpeg-js's nearest-upsampled output, back at its own (subsampled) resolution. */
function componentPlane(data: Uint8Array, W: number, H: number, c: number, fx: number, fy: number): { plane: Uint8Array; w: number; h: number } {
  const w = Math.ceil(W / fx);
  const h = Math.ceil(H / fy);
  const plane = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(H - 1, y * fy);
    for (let x = 0; x < w; x++) plane[y * w + x] = data[(sy * W + Math.min(W - 1, x * fx)) * 3 + c]!;
  }
  return { plane, w, h };
}

/** libjpeg's upsampling (jdsample.c): triangle ("fancy") filters for 2x1, 1x2 and 2x2, replication otherwise. */
function upsample(p: Uint8Array, w: number, h: number, fx: number, fy: number, W: number, H: number): Uint8Array {
  const out = new Uint8Array(W * H);
  const row = (y: number) => Math.min(h - 1, Math.max(0, y)) * w; // edge rows are replicated, as libjpeg's context rows
  const fancy = w > 2;
  const put = (x: number, y: number, v: number) => {
    if (x < W && y < H) out[y * W + x] = v;
  };
  if (fancy && fx === 2 && fy === 2) {
    const sums = new Int32Array(w);
    for (let y = 0; y < h; y++) {
      for (let v = 0; v < 2; v++) {
        const r0 = row(y),
          r1 = row(v === 0 ? y - 1 : y + 1);
        for (let x = 0; x < w; x++) sums[x] = p[r0 + x]! * 3 + p[r1 + x]!;
        const oy = y * 2 + v;
        put(0, oy, (sums[0]! * 4 + 8) >> 4);
        put(1, oy, (sums[0]! * 3 + sums[1]! + 7) >> 4);
        for (let x = 1; x < w - 1; x++) {
          put(2 * x, oy, (sums[x]! * 3 + sums[x - 1]! + 8) >> 4);
          put(2 * x + 1, oy, (sums[x]! * 3 + sums[x + 1]! + 7) >> 4);
        }
        put(2 * w - 2, oy, (sums[w - 1]! * 3 + sums[w - 2]! + 8) >> 4);
        put(2 * w - 1, oy, (sums[w - 1]! * 4 + 7) >> 4);
      }
    }
  } else if (fancy && fx === 2 && fy === 1) {
    for (let y = 0; y < h; y++) {
      const r = y * w;
      put(0, y, p[r]!);
      put(1, y, (p[r]! * 3 + p[r + 1]! + 2) >> 2);
      for (let x = 1; x < w - 1; x++) {
        put(2 * x, y, (p[r + x]! * 3 + p[r + x - 1]! + 1) >> 2);
        put(2 * x + 1, y, (p[r + x]! * 3 + p[r + x + 1]! + 2) >> 2);
      }
      put(2 * w - 2, y, (p[r + w - 1]! * 3 + p[r + w - 2]! + 1) >> 2);
      put(2 * w - 1, y, p[r + w - 1]!);
    }
  } else if (fancy && fx === 1 && fy === 2) {
    for (let y = 0; y < h; y++) {
      for (let v = 0; v < 2; v++) {
        const r0 = row(y),
          r1 = row(v === 0 ? y - 1 : y + 1),
          bias = v === 0 ? 1 : 2;
        for (let x = 0; x < w; x++) put(x, y * 2 + v, (p[r0 + x]! * 3 + p[r1 + x]! + bias) >> 2);
      }
    }
  } else {
    for (let y = 0; y < H; y++) {
      const r = Math.min(h - 1, Math.floor(y / fy)) * w;
      for (let x = 0; x < W; x++) out[y * W + x] = p[r + Math.min(w - 1, Math.floor(x / fx))]!;
    }
  }
  return out;
}

/** libjpeg's integer YCbCr -> RGB (jdcolor.c, 16-bit fixed point tables). */
const CR_R = new Int32Array(256),
  CB_B = new Int32Array(256),
  CR_G = new Int32Array(256),
  CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (91881 * x + 32768) >> 16;
  CB_B[i] = (116130 * x + 32768) >> 16;
  CR_G[i] = -46802 * x;
  CB_G[i] = -22554 * x + 32768;
}

function ycbcrToRGB(data: Uint8Array, W: number, H: number, comps: { h: number; v: number }[]): Image {
  const maxH = Math.max(...comps.map((c) => c.h));
  const maxV = Math.max(...comps.map((c) => c.v));
  const planes = comps.map((c, i) => {
    const fx = maxH / c.h,
      fy = maxV / c.v;
    if (fx === 1 && fy === 1) return null; // full resolution: read straight from jpeg-js's output
    if (!Number.isInteger(fx) || !Number.isInteger(fy)) return null;
    const { plane, w, h } = componentPlane(data, W, H, i, fx, fy);
    return upsample(plane, w, h, fx, fy, W, H);
  });
  const out = createImage(W, H, 3);
  const o = out.data;
  const n = W * H;
  const [p0, p1, p2] = planes;
  for (let i = 0; i < n; i++) {
    const y = p0 ? p0[i]! : data[i * 3]!;
    const cb = p1 ? p1[i]! : data[i * 3 + 1]!;
    const cr = p2 ? p2[i]! : data[i * 3 + 2]!;
    const r = y + CR_R[cr]!,
      g = y + ((CB_G[cb]! + CR_G[cr]!) >> 16),
      b = y + CB_B[cb]!;
    o[i * 3] = r < 0 ? 0 : r > 255 ? 255 : r;
    o[i * 3 + 1] = g < 0 ? 0 : g > 255 ? 255 : g;
    o[i * 3 + 2] = b < 0 ? 0 : b > 255 ? 255 : b;
  }
  return out;
}

/** Reads and decodes a file; 'rgb' and 'gray' convert like PIL's convert("RGB") / convert("L"). */
export function readImage(path: string, mode: ReadMode = 'rgb', opts: DecodeOptions = {}): Image {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`image ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const img = decodeImage(bytes, path, opts);
  return mode === 'rgb' ? toRGB(img) : mode === 'gray' ? toGray(img) : img;
}

/** TextureSource's access to a folder of texture files (las.ts's TextureFiles). */
export const imageFiles = {
  list: (dir: string): ImageListing => listImages(dir, true),
  read: (path: string): Image => readImage(path, 'rgb'),
};

/** A mask file as one 8-bit channel (PIL convert("L")); callers binarise after resizing. */
export function readMask(path: string, opts: DecodeOptions = {}): Image {
  return readImage(path, 'gray', opts);
}

/** PNG bytes for a grey or RGB image. */
export function encodePNG(img: Image): Buffer {
  checkImage(img, 'encodePNG');
  const colorType = img.channels === 1 ? 0 : 2;
  return PNG.sync.write({ width: img.width, height: img.height, data: Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength) } as PNG, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha: false,
    bitDepth: 8,
  });
}

export function writePNG(path: string, img: Image): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodePNG(img));
}
