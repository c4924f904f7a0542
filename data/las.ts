// Local anomaly synthesis (LAS) of GLASS, on the CPU: a Perlin-shaped region of the normal training
// image is replaced by a blend of itself and a texture from an anomaly-source folder (DTD in the
// paper; any folder of JPG/PNG files here, searched recursively):
//   aug = img * (1 - m) + (1 - beta) * texture * m + beta * img * m,   beta ~ N(0.5, 0.1) clipped to [0.2, 0.8]
// where img and texture are already normalised CHW tensors and m is the full-resolution Perlin mask.
// The texture goes through Resize(resize) -> 3 of the 9 rand_augmenter ops -> CenterCrop(imagesize),
// as in the reference (or through the caller's image transform when randAug is off).
// Without such a folder, textures = 'builtin' draws from a fixed bank of procedural textures
// (data/procedural-textures.ts) instead. Host-neutral: a folder is read through the TextureFiles
// the caller passes (Node: image.ts's imageFiles); a browser uses the bank or images in memory.
import { type Image, toRGB } from './pixels.ts';
import { BUILTIN_TEXTURE_SIZE, builtinTexture, builtinTextureNames, isBuiltinTexture, parseBuiltinTexture } from './procedural-textures.ts';
import { type Normalization, centerCrop, randAug, resize, toTensor, type RandAugOp } from './transforms.ts';
import { perlinMask, type PerlinCombine } from './perlin.ts';
import type { Rng } from './rng.ts';

/** np.clip(beta, .2, .8) */
export function clipBeta(b: number): number {
  return b < 0.2 ? 0.2 : b > 0.8 ? 0.8 : b;
}

/** beta = clip(N(mean, std), 0.2, 0.8). */
export function sampleBeta(rng: Rng, mean = 0.5, std = 0.1): number {
  return clipBeta(rng.normal(mean, std));
}

/**
 * The GLASS blend for a CHW image and texture of the same shape and an H x W mask (broadcast over
 * channels). Computed in float64 (the reference promotes to float64 through the numpy mask) and
 * stored as float32.
 */
export function lasBlend(image: Float32Array, texture: Float32Array, maskL: ArrayLike<number>, beta: number, out?: Float32Array): Float32Array {
  const hw = maskL.length;
  if (image.length !== texture.length || image.length % hw !== 0) {
    throw new Error(`lasBlend: image has ${image.length} values, texture ${texture.length}, mask ${hw}: shapes must be C x H x W and H x W`);
  }
  const dst = out ?? new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) {
    const m = maskL[i % hw]!,
      x = image[i]!;
    dst[i] = x * (1 - m) + (1 - beta) * texture[i]! * m + beta * x * m;
  }
  return dst;
}

/** The `textures` value (and TextureSource dir) that selects the procedural bank instead of a folder. */
export const BUILTIN_TEXTURES = 'builtin';

/** How a TextureSource reaches a folder of texture files. */
export interface TextureFiles {
  /** The image files under `dir`, searched recursively and sorted, and the other files found. */
  list(dir: string): { files: string[]; others: string[] };
  /** A texture file decoded to RGB. */
  read(path: string): Image;
}

/**
 * The anomaly-source images: every JPG/PNG under `dir`, sorted by path (listed and read through
 * `files`), or with dir = BUILTIN_TEXTURES the procedural bank (paths `builtin:<family>-<nn>`), or
 * images in memory (fromImages); decoded or generated images are cached.
 */
export class TextureSource {
  readonly dir: string;
  readonly paths: string[];
  readonly ignored: string[];
  private cache = new Map<string, Image>();
  private cacheBytes = 0;

  constructor(
    dir: string,
    paths?: string[],
    private maxCacheBytes = 128 << 20,
    private readonly files: TextureFiles | null = null,
  ) {
    this.dir = dir;
    if (paths) {
      this.paths = paths;
      this.ignored = [];
    } else if (dir === BUILTIN_TEXTURES) {
      this.paths = builtinTextureNames();
      this.ignored = [];
    } else {
      const l = this.folder().list(dir);
      this.paths = l.files;
      this.ignored = l.others;
    }
    if (this.paths.length === 0) throw new Error(`textures ${dir}: no .png/.jpg/.jpeg files found (searched recursively)`);
  }

  /** Textures given as decoded images by name (a browser's own decoders made them); RGB or grey. */
  static fromImages(images: ReadonlyMap<string, Image>, maxCacheBytes?: number): TextureSource {
    const read = (path: string): Image => {
      const img = images.get(path);
      if (!img) throw new Error(`textures: no image named ${path}`);
      return toRGB(img);
    };
    return new TextureSource('(images)', [...images.keys()], maxCacheBytes, { list: () => ({ files: [...images.keys()], others: [] }), read });
  }

  private folder(): TextureFiles {
    if (this.files) return this.files;
    throw new Error(
      `textures ${this.dir}: reading a texture folder needs file access (in Node pass data/image.ts's imageFiles); ` +
        `without it use '${BUILTIN_TEXTURES}' or TextureSource.fromImages`,
    );
  }

  pick(rng: Rng): string {
    return rng.choice(this.paths);
  }

  /**
   * The texture decoded to RGB, optionally Resize(shorter side)d, cached up to maxCacheBytes (the
   * result is shared: callers must not modify it). A builtin path needs no other state (workers get
   * only the path list); it is rendered at least as large as the requested side, as if the file were
   * that big, so that it is never upscaled.
   */
  load(path: string, shorterSide?: number): Image {
    const key = shorterSide ? `${shorterSide}:${path}` : path;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const raw = isBuiltinTexture(path) ? builtinTexture(parseBuiltinTexture(path), Math.max(BUILTIN_TEXTURE_SIZE, shorterSide ?? 0)) : this.folder().read(path);
    const img = shorterSide ? resize(raw, shorterSide) : raw;
    if (this.cacheBytes + img.data.length <= this.maxCacheBytes) {
      this.cache.set(key, img);
      this.cacheBytes += img.data.length;
    }
    return img;
  }
}

export interface LasOptions {
  /** Resize(resize) before the augmentations, shorter side (GLASS: same as the image's) */
  resize: number;
  /** CenterCrop(imagesize) after them */
  imagesize: number;
  norm: Normalization | null;
  /** feature-grid size of mask_s (GLASS: imagesize // 8) */
  featSize: number;
  /** use rand_augmenter on the texture (GLASS default 1); otherwise `textureTransform` */
  randAug?: boolean;
  textureTransform?: (img: Image, rng: Rng) => Image;
  betaMean?: number;
  betaStd?: number;
  minScale?: number;
  maxScale?: number;
}

export interface LasResult {
  aug: Float32Array;
  maskL: Float32Array;
  maskS: Float32Array;
  featH: number;
  featW: number;
  beta: number;
  texture: string;
  ops: RandAugOp[];
  combine: PerlinCombine;
}

/**
 * The texture as a normalised CHW tensor of imagesize x imagesize. With randAug, `resized` says the
 * image has already been through Resize(o.resize) (TextureSource caches that step).
 */
export function prepareTexture(img: Image, rng: Rng, o: LasOptions, resized = false): { tensor: Float32Array; ops: RandAugOp[] } {
  if (o.randAug === false) {
    if (!o.textureTransform) throw new Error('prepareTexture: randAug is off and no textureTransform was given');
    return { tensor: toTensor(o.textureTransform(img, rng), o.norm), ops: [] };
  }
  const r = randAug(resized ? img : resize(img, o.resize), rng);
  return { tensor: toTensor(centerCrop(r.image, o.imagesize), o.norm), ops: r.ops };
}

/**
 * One LAS sample for a normalised image tensor of 3 x imagesize x imagesize. Independent sub-streams
 * of `rng` drive the texture, the mask and beta, so changing one part does not reshuffle the others.
 */
export function synthesize(image: Float32Array, textures: TextureSource, rng: Rng, o: LasOptions, foreground?: ArrayLike<number> | null): LasResult {
  const H = o.imagesize,
    W = o.imagesize;
  if (image.length !== 3 * H * W) throw new Error(`synthesize: image has ${image.length} values, expected 3x${H}x${W}`);
  const rTex = rng.fork(1),
    rMask = rng.fork(2),
    rBeta = rng.fork(3);
  const texture = textures.pick(rTex);
  const pre = o.randAug !== false;
  const { tensor, ops } = prepareTexture(textures.load(texture, pre ? o.resize : undefined), rTex, o, pre);
  const m = perlinMask(H, W, o.featSize, rMask, { foreground, minScale: o.minScale, maxScale: o.maxScale });
  const beta = sampleBeta(rBeta, o.betaMean, o.betaStd);
  return {
    aug: lasBlend(image, tensor, m.maskL, beta),
    maskL: m.maskL,
    maskS: m.maskS,
    featH: m.featH,
    featW: m.featW,
    beta,
    texture,
    ops,
    combine: m.combine,
  };
}
