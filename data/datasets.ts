// Anomaly-detection datasets on disk -> training and test items (normalised float CHW tensors), on the
// CPU. Layouts: MVTec AD and MPDD (<root>/<class>/train/good, test/<type>, ground_truth/<type>/
// <name>_mask.png), VisA (<root>/split_csv/1cls.csv), and a plain folder layout for custom data.
// Processing follows GLASS datasets/mvtec.py and visa.py: Resize(resize) (shorter side) ->
// [training jitter, all off by default] -> CenterCrop(imagesize) -> ToTensor -> Normalize (ImageNet
// unless the caller passes another); training items add the LAS image and Perlin masks (las.ts).
// Listing problems are never silent: missing folders, unmatched or surplus masks and unreadable
// files are errors; non-image files, ignored sub-folders and a missing ground_truth folder (e.g. the
// shared bottle copy) are warnings, collected in `warnings` and printed through `warn`.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { type Image, byteOrder, imageFiles, listImages, readImage } from './image.ts';
import {
  IMAGENET,
  type Normalization,
  type Interp,
  centerCrop,
  colorJitter,
  randomAffine,
  randomGrayscale,
  randomHflip,
  randomVflip,
  resize,
  roundHalfEven,
  toTensor,
} from './transforms.ts';
import { TextureSource, synthesize, type LasOptions } from './las.ts';
import { Rng, deriveSeed } from './rng.ts';

export type Split = 'train' | 'test';
export type DatasetKind = 'mvtec' | 'mpdd' | 'visa' | 'folder';

/** One image of a split. */
export interface Entry {
  path: string;
  /** 0 normal, 1 anomalous */
  label: 0 | 1;
  /** defect type folder ('good' / 'normal' for normal images) */
  defect: string;
  /** ground-truth mask, null for normal images and for datasets without masks */
  maskPath: string | null;
}

export interface Listing {
  entries: Entry[];
  warnings: string[];
  /** false when anomalous test images have no masks (their pixel masks are all zero) */
  hasPixelMasks: boolean;
}

/** Plain folders: `train` holds normal images; `test` / `masks` are a folder whose sub-folders are the
 * defect types, or an explicit { type: folder } map. The normal test type is `goodName` ('good').
 * `train` and each test type may instead list image files (a split of one folder of good images
 * into training and held-out images). */
export interface FolderLayout {
  train: string | string[];
  test?: string | Record<string, string | string[]>;
  masks?: string | Record<string, string>;
  goodName?: string;
}

/** Training-time jitter of GLASS's transform_img (all off by default, as in the reference scripts). */
export interface AugmentOptions {
  rotateDegrees?: number;
  translate?: number;
  scale?: number;
  brightness?: number;
  contrast?: number;
  saturation?: number;
  gray?: number;
  hflip?: number;
  vflip?: number;
}

/**
 * How an image of any aspect ratio becomes the square network input. 'crop': the reference's
 * Resize(resize, shorter side) then CenterCrop(imagesize), which on elongated images drops the
 * ends, defects there included, while the image keeps its label. 'full': the whole frame is
 * resized (stretched) to imagesize x imagesize, so every pixel is seen and scored; masks, maps
 * and heatmaps follow the same mapping.
 */
export type Geometry = 'crop' | 'full';
export const GEOMETRIES: readonly Geometry[] = ['crop', 'full'];

export interface DatasetOptions {
  kind: DatasetKind;
  split: Split;
  /** dataset root (mvtec/mpdd/visa) */
  root?: string;
  /** class (sub-dataset) name (mvtec/mpdd/visa) */
  className?: string;
  folder?: FolderLayout;
  /** Resize(resize): shorter side; GLASS default 288 */
  resize?: number;
  /** CenterCrop(imagesize); GLASS default 288 */
  imagesize?: number;
  /**
   * Input geometry (see Geometry): 'crop' (default, the reference's Resize(shorter side) +
   * CenterCrop) or 'full' (the whole frame resized to imagesize x imagesize; `resize` unused).
   */
  geometry?: Geometry;
  /** default ImageNet mean/std; null = plain [0,1] */
  norm?: Normalization | null;
  /** anomaly-source folder for LAS (required for training items unless las is false) */
  textures?: string;
  /** training items without LAS (aug/masks omitted) */
  las?: boolean;
  randAug?: boolean;
  /** use foreground masks from <root>/fg_mask/<class>/<file name> (or fgDir) */
  fg?: boolean;
  fgDir?: string;
  /** mask_s grid = imagesize / downsampling (GLASS 8) */
  downsampling?: number;
  betaMean?: number;
  betaStd?: number;
  augment?: AugmentOptions;
  /** test masks: PIL NEAREST then > 0 (default), or the reference's bilinear Resize kept soft in [0,1]
   * (its metric then counts only pixels equal to 1) */
  maskResample?: Interp;
  /** the reference's MVTec rule: toothbrush and wood use resize = round(imagesize * 329 / 288) */
  classResizeRule?: boolean;
  /** keep resized (pre-jitter) images in memory between epochs (default: on for training, up to
   * cacheBytes per dataset instance, i.e. per worker) */
  cacheImages?: boolean;
  cacheBytes?: number;
  warn?: (msg: string) => void;
}

export interface TrainItem {
  index: number;
  path: string;
  image: Float32Array;
  /** LAS image, 3 x H x W (absent when las is false) */
  aug?: Float32Array;
  /** Perlin mask on the feature grid, featH x featW */
  maskS?: Float32Array;
  /** Perlin mask at full resolution, H x W */
  maskL?: Float32Array;
  beta?: number;
  texture?: string;
}

export interface TestItem {
  index: number;
  path: string;
  image: Float32Array;
  label: 0 | 1;
  defect: string;
  /** ground truth, H x W in [0,1] (zeros for normal images and datasets without masks) */
  mask: Float32Array;
}

/** Everything a worker thread needs to rebuild the dataset without listing the folders again. */
export interface DatasetSpec {
  options: Omit<DatasetOptions, 'warn'>;
  listing: Listing;
  textures: string[] | null;
}

// ------------------------------------------------------------------------------------- listings

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function subfolders(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => isDir(join(dir, n)))
    .sort(byteOrder);
}

function requireDir(p: string, what: string, hint = ''): void {
  if (!existsSync(p)) throw new Error(`${what} ${p}: folder does not exist${hint}`);
  if (!isDir(p)) throw new Error(`${what} ${p}: is not a folder`);
}

/** Lists image files, turning everything left out into warnings. */
function imagesIn(dir: string, warnings: string[]): string[] {
  const l = listImages(dir);
  if (l.others.length) warnings.push(`${dir}: ignored ${l.others.length} non-image file(s): ${preview(l.others.map((p) => basename(p)))}`);
  if (l.folders.length) warnings.push(`${dir}: ignored ${l.folders.length} sub-folder(s): ${preview(l.folders.map((p) => basename(p)))}`);
  return l.files;
}

function preview(xs: string[], n = 5): string {
  return xs.slice(0, n).join(', ') + (xs.length > n ? `, ... (${xs.length - n} more)` : '');
}

const stem = (p: string) => basename(p, extname(p));

/**
 * Pairs each image with its mask by name: `<stem>_mask.*` (MVTec/MPDD) or `<stem>.*`. Images without a
 * mask and masks without an image are errors, reported together.
 */
function pairMasks(images: string[], maskDir: string, warnings: string[], what: string): string[] {
  const masks = imagesIn(maskDir, warnings);
  const byStem = new Map<string, string>();
  for (const m of masks) {
    const s = stem(m);
    const key = s.endsWith('_mask') ? s.slice(0, -5) : s;
    if (byStem.has(key)) throw new Error(`${what}: masks ${byStem.get(key)} and ${m} both match image name ${key}`);
    byStem.set(key, m);
  }
  const out: string[] = [];
  const missing: string[] = [];
  const used = new Set<string>();
  for (const img of images) {
    const m = byStem.get(stem(img));
    if (m) {
      out.push(m);
      used.add(m);
    } else missing.push(basename(img));
  }
  const surplus = masks.filter((m) => !used.has(m)).map((m) => basename(m));
  if (missing.length || surplus.length) {
    throw new Error(
      `${what}: ${images.length} images but ${masks.length} masks in ${maskDir}` +
        (missing.length ? `; no mask for ${preview(missing)}` : '') +
        (surplus.length ? `; masks without image: ${preview(surplus)}` : ''),
    );
  }
  return out;
}

/** MVTec AD / MPDD layout: <root>/<class>/{train/good, test/<type>, ground_truth/<type>}. */
export function listMVTec(root: string, className: string, split: Split): Listing {
  const warnings: string[] = [];
  checkClassName(className, `dataset ${root}`);
  requireDir(root, 'dataset root');
  const classDir = join(root, className);
  if (!isDir(classDir)) {
    const have = subfolders(root).filter((n) => n !== 'fg_mask' && n !== 'split_csv');
    throw new Error(`dataset class ${classDir}: folder does not exist (classes found in ${root}: ${have.length ? preview(have, 20) : 'none'})`);
  }
  const splitDir = join(classDir, split);
  requireDir(splitDir, `${split} split`);
  const types = subfolders(splitDir);
  const loose = listImages(splitDir).files;
  if (loose.length) warnings.push(`${splitDir}: ignored ${loose.length} image(s) outside a type sub-folder: ${preview(loose.map((p) => basename(p)))}`);
  const entries: Entry[] = [];
  if (split === 'train') {
    if (!types.includes('good')) throw new Error(`train split ${splitDir}: no 'good' sub-folder (found: ${types.join(', ') || 'none'})`);
    const other = types.filter((t) => t !== 'good');
    if (other.length) warnings.push(`${splitDir}: ignored sub-folder(s) other than good: ${other.join(', ')}`);
    const files = imagesIn(join(splitDir, 'good'), warnings);
    if (files.length === 0) throw new Error(`train split ${join(splitDir, 'good')}: no images`);
    for (const path of files) entries.push({ path, label: 0, defect: 'good', maskPath: null });
    return { entries, warnings, hasPixelMasks: false };
  }
  if (types.length === 0) throw new Error(`test split ${splitDir}: no type sub-folders`);
  const gtDir = join(classDir, 'ground_truth');
  const hasGT = isDir(gtDir);
  const defects = types.filter((t) => t !== 'good');
  if (!hasGT && defects.length) {
    warnings.push(`${classDir}: no ground_truth folder; anomalous test images get all-zero masks, so pixel-level metrics are unavailable`);
  }
  for (const t of types) {
    const files = imagesIn(join(splitDir, t), warnings);
    if (files.length === 0) warnings.push(`test type ${join(splitDir, t)}: folder has no images`);
    let masks: (string | null)[] = files.map(() => null);
    if (t !== 'good' && hasGT) {
      const md = join(gtDir, t);
      if (!isDir(md)) throw new Error(`ground truth ${md}: folder does not exist, but test type '${t}' has ${files.length} images`);
      masks = pairMasks(files, md, warnings, `ground truth for ${className}/${t}`);
    }
    files.forEach((path, i) => entries.push({ path, label: t === 'good' ? 0 : 1, defect: t, maskPath: masks[i] ?? null }));
  }
  if (hasGT) {
    const extra = subfolders(gtDir).filter((t) => !types.includes(t));
    if (extra.length) warnings.push(`${gtDir}: mask folder(s) without test images: ${extra.join(', ')}`);
  }
  return { entries, warnings, hasPixelMasks: hasGT && defects.length > 0 };
}

/** Minimal CSV reader (quoted fields with "" escapes, CRLF or LF); `lines[i]` is where row i starts (1-based). */
function parseCSV(text: string): { rows: string[][]; lines: number[] } {
  const rows: string[][] = [];
  const lines: number[] = [];
  let row: string[] = [],
    field = '',
    quoted = false;
  let line = 1,
    rowLine = 1;
  const endRow = () => {
    row.push(field);
    if (row.some((f) => f !== '')) {
      rows.push(row);
      lines.push(rowLine);
    }
    row = [];
    field = '';
    rowLine = line;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      line++;
      endRow();
    } else field += ch;
  }
  endRow();
  return { rows, lines };
}

/**
 * Why `name` cannot be a class name, or null. Class names become output folders
 * (<out>/<dataset>_<class>) and input folders (<root>/<class>), so each must be one plain path
 * component: a name from a CSV, a flag or a metrics.json must never reach outside those roots.
 */
export function classNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'is not a string';
  if (name === '') return 'is empty';
  if (name === '.' || name === '..') return 'is a relative path (. or ..)';
  if (/[/\\]/.test(name)) return 'contains a path separator (/ or \\)';
  if (/[\x00-\x1f\x7f]/.test(name)) return 'contains a control character';
  return null;
}

/** `name` when it is a valid class name (see classNameProblem), else an error naming `source`. */
export function checkClassName(name: unknown, source: string): string {
  const why = classNameProblem(name);
  if (why) throw new Error(`${source}: class name ${JSON.stringify(name)} ${why}: a class name must be a single folder name`);
  return name as string;
}

/** VisA's 1-class split file <root>/split_csv/1cls.csv: its rows and a column lookup by name. */
function readVisASplit(root: string): { csvPath: string; rows: string[][]; lines: number[]; col: (name: string) => number } {
  requireDir(root, 'dataset root');
  const csvPath = join(root, 'split_csv', '1cls.csv');
  if (!existsSync(csvPath)) throw new Error(`VisA split file ${csvPath}: does not exist (expected the 1cls split CSV of VisA)`);
  const { rows, lines } = parseCSV(readFileSync(csvPath, 'utf8'));
  const header = (rows.shift() ?? []).map((h) => h.trim());
  lines.shift();
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`VisA split file ${csvPath}: no '${name}' column (header: ${header.join(',')})`);
    return i;
  };
  return { csvPath, rows, lines, col };
}

/** Class names of a dataset root: VisA's from its split CSV, else the sub-folders holding `train/`. */
export function datasetClasses(kind: DatasetKind, root: string): string[] {
  if (kind === 'visa') {
    const { csvPath, rows, lines, col } = readVisASplit(root);
    const i = col('object');
    rows.forEach((r, k) => checkClassName(r[i] ?? '', `VisA split file ${csvPath} line ${lines[k]} ('object' column)`));
    return [...new Set(rows.map((r) => r[i]!))].sort(byteOrder);
  }
  requireDir(root, 'dataset root');
  return subfolders(root)
    .filter((d) => isDir(join(root, d, 'train')))
    .map((d) => checkClassName(d, `dataset root ${root}`))
    .sort(byteOrder);
}

/** VisA with its 1-class split file <root>/split_csv/1cls.csv (object,split,label,image,mask). */
export function listVisA(root: string, className: string, split: Split): Listing {
  const warnings: string[] = [];
  checkClassName(className, `VisA dataset ${root}`);
  const { csvPath, rows, col } = readVisASplit(root);
  const [cObj, cSplit, cLabel, cImg, cMask] = ['object', 'split', 'label', 'image', 'mask'].map(col) as [number, number, number, number, number];
  const classes = new Set(rows.map((r) => r[cObj]));
  if (!classes.has(className))
    throw new Error(`VisA split file ${csvPath}: no rows for class '${className}' (classes: ${preview([...classes].map(String).sort(byteOrder), 20)})`);
  const mine = rows.filter((r) => r[cObj] === className && r[cSplit] === split);
  // The reference orders by label name: 'anomaly' before 'normal'; training uses normal rows only.
  const labels = split === 'train' ? ['normal'] : ['anomaly', 'normal'];
  const entries: Entry[] = [];
  const missing: string[] = [];
  const unknown = mine.filter((r) => r[cLabel] !== 'normal' && r[cLabel] !== 'anomaly');
  if (unknown.length) warnings.push(`${csvPath}: ignored ${unknown.length} ${className}/${split} row(s) with labels other than normal/anomaly`);
  if (split === 'train') {
    const anomalies = mine.filter((r) => r[cLabel] === 'anomaly').length;
    if (anomalies) warnings.push(`${csvPath}: ignored ${anomalies} anomalous row(s) in the ${className} train split`);
  }
  let withMask = 0;
  for (const lab of labels) {
    for (const r of mine.filter((x) => x[cLabel] === lab)) {
      const path = resolve(root, r[cImg] ?? '');
      if (!existsSync(path)) missing.push(r[cImg] ?? '');
      let maskPath: string | null = null;
      if (lab === 'anomaly') {
        const m = (r[cMask] ?? '').trim();
        if (!m) throw new Error(`VisA split file ${csvPath}: anomalous image ${r[cImg]} has no mask entry`);
        maskPath = resolve(root, m);
        if (!existsSync(maskPath)) missing.push(m);
        withMask++;
      }
      entries.push({ path, label: lab === 'anomaly' ? 1 : 0, defect: lab, maskPath });
    }
  }
  if (missing.length) throw new Error(`VisA ${className}/${split}: ${missing.length} file(s) named in ${csvPath} do not exist: ${preview(missing)}`);
  if (entries.length === 0) throw new Error(`VisA ${className}/${split}: no images in ${csvPath}`);
  return { entries, warnings, hasPixelMasks: withMask > 0 };
}

/** The plain folder layout (see FolderLayout). */
export function listFolder(layout: FolderLayout, split: Split): Listing {
  const warnings: string[] = [];
  const good = layout.goodName ?? 'good';
  if (split === 'train') {
    const files = filesOf(layout.train, 'train folder', warnings);
    if (files.length === 0) throw new Error(`train folder ${layout.train}: no images`);
    return { entries: files.map((path) => ({ path, label: 0, defect: good, maskPath: null })), warnings, hasPixelMasks: false };
  }
  if (!layout.test) throw new Error('folder dataset: no test folder given (layout.test)');
  const testDirs = typeof layout.test === 'string' ? dirMap(layout.test, 'test folder') : layout.test;
  const maskDirs = layout.masks === undefined ? null : typeof layout.masks === 'string' ? dirMap(layout.masks, 'mask folder') : layout.masks;
  const types = Object.keys(testDirs).sort(byteOrder);
  if (!types.length) throw new Error('folder dataset: the test folder has no type sub-folders');
  const defects = types.filter((t) => t !== good);
  if (!maskDirs && defects.length)
    warnings.push(`folder dataset: no mask folder given; anomalous test images get all-zero masks, so pixel-level metrics are unavailable`);
  const entries: Entry[] = [];
  for (const t of types) {
    const files = filesOf(testDirs[t]!, `test type '${t}'`, warnings);
    if (files.length === 0) warnings.push(`test type ${t}: no images`);
    let masks: (string | null)[] = files.map(() => null);
    if (t !== good && maskDirs) {
      const md = maskDirs[t];
      if (!md) throw new Error(`folder dataset: no mask folder for test type '${t}'`);
      requireDir(md, `mask folder for '${t}'`);
      masks = pairMasks(files, md, warnings, `masks for ${t}`);
    }
    files.forEach((path, i) => entries.push({ path, label: t === good ? 0 : 1, defect: t, maskPath: masks[i] ?? null }));
  }
  return { entries, warnings, hasPixelMasks: !!maskDirs && defects.length > 0 };
}

/**
 * The CLI's `--dataset custom` layout under <root>/<class>: normal training images in `train/`
 * (or `train/good/`), test types as sub-folders of `test/`, and optional masks in
 * `ground_truth/<type>/` (matched by name like MVTec's, `<name>_mask.png` or `<name>.png`).
 */
export function customLayout(root: string, className: string): FolderLayout {
  checkClassName(className, `custom dataset ${root}`);
  const dir = join(root, className);
  requireDir(dir, `custom dataset class (under --data ${root})`);
  const train = isDir(join(dir, 'train', 'good')) ? join(dir, 'train', 'good') : join(dir, 'train');
  const gt = join(dir, 'ground_truth');
  return { train, test: join(dir, 'test'), ...(isDir(gt) ? { masks: gt } : {}) };
}

/** The images of a folder, or a given list of image files (each must exist). */
function filesOf(src: string | string[], what: string, warnings: string[]): string[] {
  if (typeof src === 'string') {
    requireDir(src, what);
    return imagesIn(src, warnings);
  }
  const missing = src.filter((p) => !existsSync(p));
  if (missing.length) throw new Error(`${what}: ${missing.length} listed file(s) do not exist: ${preview(missing)}`);
  return src;
}

function dirMap(dir: string, what: string): Record<string, string> {
  requireDir(dir, what);
  return Object.fromEntries(subfolders(dir).map((t) => [t, join(dir, t)]));
}

export function listDataset(o: Pick<DatasetOptions, 'kind' | 'root' | 'className' | 'folder' | 'split'>): Listing {
  if (o.kind === 'folder') {
    if (o.folder) return listFolder(o.folder, o.split);
    if (!o.root || !o.className) throw new Error('dataset kind "folder" needs the `folder` layout option, or `root` and `className`');
    return listFolder(customLayout(o.root, o.className), o.split);
  }
  if (!o.root || !o.className) throw new Error(`dataset kind "${o.kind}" needs \`root\` and \`className\``);
  return o.kind === 'visa' ? listVisA(o.root, o.className, o.split) : listMVTec(o.root, o.className, o.split);
}

// -------------------------------------------------------------------------------------- dataset

export class AnomalyDataset {
  readonly options: Omit<DatasetOptions, 'warn'>;
  readonly listing: Listing;
  readonly entries: Entry[];
  readonly warnings: string[];
  readonly resize: number;
  readonly imagesize: number;
  readonly geometry: Geometry;
  readonly featSize: number;
  readonly norm: Normalization | null;
  private readonly textures: TextureSource | null;
  private readonly fgDir: string | null;
  private readonly imageCache = new Map<number, Image>();
  private cachedBytes = 0;
  /** width x height of each image as read from disk (masks are compared with it) */
  private readonly sourceSize = new Map<number, [number, number]>();
  private maskSizeWarned = false;
  /** where warnings found while reading items go (a worker's copy has no `warn`: the console) */
  private warnSink: ((msg: string) => void) | null = null;

  /** Lists the files (printing warnings) and prepares the dataset. */
  static open(options: DatasetOptions): AnomalyDataset {
    const listing = listDataset(options);
    const { warn, ...rest } = options;
    const ds = new AnomalyDataset(rest, listing, null);
    const say = warn ?? ((m: string) => console.warn(`warning: ${m}`));
    for (const w of ds.warnings) say(w);
    ds.warnSink = say;
    return ds;
  }

  /** Rebuilds a dataset from `spec()` (in a worker), without listing or warning again. */
  static fromSpec(spec: DatasetSpec): AnomalyDataset {
    return new AnomalyDataset(spec.options, spec.listing, spec.textures);
  }

  private constructor(options: Omit<DatasetOptions, 'warn'>, listing: Listing, texturePaths: string[] | null) {
    this.options = options;
    this.listing = listing;
    this.entries = listing.entries;
    this.warnings = [...listing.warnings];
    this.imagesize = options.imagesize ?? 288;
    this.geometry = options.geometry ?? 'crop';
    if (!GEOMETRIES.includes(this.geometry)) throw new Error(`dataset: geometry must be one of ${GEOMETRIES.join(', ')}, got '${String(this.geometry)}'`);
    let rs = options.resize ?? 288;
    if ((options.classResizeRule ?? true) && options.kind === 'mvtec' && (options.className === 'toothbrush' || options.className === 'wood')) {
      const r = roundHalfEven((this.imagesize * 329) / 288);
      if (r !== rs) this.warnings.push(`${options.className}: resize ${rs} -> ${r} (the reference's rule for toothbrush and wood)`);
      rs = r;
    }
    this.resize = rs;
    this.featSize = Math.trunc(this.imagesize / (options.downsampling ?? 8));
    this.norm = options.norm === undefined ? IMAGENET : options.norm;
    const wantLas = options.split === 'train' && options.las !== false;
    if (wantLas) {
      if (!options.textures)
        throw new Error('dataset: training with LAS needs `textures` (an anomaly-source image folder); pass las: false to train without it');
      this.textures = new TextureSource(options.textures, texturePaths ?? undefined, undefined, imageFiles);
      if (!texturePaths && this.textures.ignored.length) {
        this.warnings.push(
          `textures ${options.textures}: ignored ${this.textures.ignored.length} non-image file(s): ${preview(this.textures.ignored.map((p) => basename(p)))}`,
        );
      }
    } else this.textures = null;
    this.fgDir = null;
    if (wantLas && options.fg) {
      const dir = options.fgDir ?? (options.root && options.className ? join(options.root, 'fg_mask', options.className) : null);
      if (dir && isDir(dir)) this.fgDir = dir;
      else if (!texturePaths) this.warnings.push(`foreground masks requested but ${dir ?? '(no fgDir)'} does not exist; the whole image counts as foreground`);
    }
  }

  get length(): number {
    return this.entries.length;
  }

  get split(): Split {
    return this.options.split;
  }

  /** [3, imagesize, imagesize] */
  get imageShape(): [number, number, number] {
    return [3, this.imagesize, this.imagesize];
  }

  /** mask_s grid [featH, featW] (max-pool output size) */
  get featShape(): [number, number] {
    const k = Math.trunc(this.imagesize / this.featSize);
    const n = Math.floor(this.imagesize / k);
    return [n, n];
  }

  spec(): DatasetSpec {
    return { options: this.options, listing: this.listing, textures: this.textures ? this.textures.paths : null };
  }

  private loadResized(index: number): Image {
    const hit = this.imageCache.get(index);
    if (hit) return hit;
    const src = readImage(this.entries[index]!.path, 'rgb');
    this.sourceSize.set(index, [src.width, src.height]);
    const img = this.fit(src);
    const cap = this.options.cacheBytes ?? 512 << 20;
    if ((this.options.cacheImages ?? this.split === 'train') && this.cachedBytes + img.data.length <= cap) {
      this.imageCache.set(index, img);
      this.cachedBytes += img.data.length;
    }
    return img;
  }

  /**
   * The geometry's resize step: Resize(resize) of the shorter side ('crop', the crop follows), or
   * the whole frame to imagesize x imagesize ('full', the crop is then the identity).
   */
  private fit(img: Image, interp: Interp = 'bilinear'): Image {
    return resize(img, this.geometry === 'full' ? [this.imagesize, this.imagesize] : this.resize, interp);
  }

  /** transform_img after Resize: the training jitter (identity with default options), then the crop. */
  private jitterAndCrop(img: Image, rng: Rng): Image {
    const a = this.options.augment ?? {};
    let out = img;
    if (a.brightness || a.contrast || a.saturation) {
      out = colorJitter(out, rng, { brightness: a.brightness ?? 0, contrast: a.contrast ?? 0, saturation: a.saturation ?? 0 });
    }
    if (a.hflip) out = randomHflip(out, rng, a.hflip);
    if (a.vflip) out = randomVflip(out, rng, a.vflip);
    if (a.gray) out = randomGrayscale(out, rng, a.gray);
    if (a.rotateDegrees || a.translate || a.scale) {
      out = randomAffine(out, rng, {
        degrees: a.rotateDegrees ?? 0,
        translate: [a.translate ?? 0, a.translate ?? 0],
        scale: [1 - (a.scale ?? 0), 1 + (a.scale ?? 0)],
        interp: 'bilinear',
      });
    }
    return centerCrop(out, this.imagesize);
  }

  private lasOptions(): LasOptions {
    const o = this.options;
    return {
      // 'full' has no shorter-side step: textures are brought to the input size before their crop
      resize: this.geometry === 'full' ? this.imagesize : this.resize,
      imagesize: this.imagesize,
      norm: this.norm,
      featSize: this.featSize,
      randAug: o.randAug ?? true,
      textureTransform: (img, rng) => this.jitterAndCrop(this.fit(img), rng),
      betaMean: o.betaMean,
      betaStd: o.betaStd,
    };
  }

  /** Foreground mask at imagesize x imagesize (1 = foreground), or null = whole image. */
  private foreground(path: string): Uint8Array | null {
    if (!this.fgDir) return null;
    const p = join(this.fgDir, basename(path));
    if (!existsSync(p)) throw new Error(`foreground mask ${p}: does not exist (for training image ${path})`);
    // Reference: Resize (bilinear) + CenterCrop + ToTensor, then ceil: any non-zero value is foreground.
    const m = centerCrop(this.fit(readImage(p, 'native')), this.imagesize);
    const out = new Uint8Array(this.imagesize * this.imagesize);
    for (let i = 0; i < out.length; i++) out[i] = m.data[i * m.channels]! > 0 ? 1 : 0;
    return out;
  }

  /** A training item; all randomness comes from `rng`. */
  trainItem(index: number, rng: Rng): TrainItem {
    const e = this.entry(index);
    const rImg = rng.fork(10),
      rLas = rng.fork(11);
    const image = toTensor(this.jitterAndCrop(this.loadResized(index), rImg), this.norm);
    if (!this.textures) return { index, path: e.path, image };
    const las = synthesize(image, this.textures, rLas, this.lasOptions(), this.foreground(e.path));
    return { index, path: e.path, image, aug: las.aug, maskS: las.maskS, maskL: las.maskL, beta: las.beta, texture: las.texture };
  }

  /** A test item (deterministic: no augmentation). */
  testItem(index: number): TestItem {
    const e = this.entry(index);
    const image = toTensor(centerCrop(this.loadResized(index), this.imagesize), this.norm);
    const n = this.imagesize * this.imagesize;
    const mask = new Float32Array(n);
    if (e.maskPath) {
      const interp = this.options.maskResample ?? 'nearest';
      const raw = readImage(e.maskPath, 'gray');
      this.checkMaskSize(index, raw);
      const m = centerCrop(this.fit(raw, interp), this.imagesize);
      const soft = interp === 'bilinear' && this.options.kind !== 'visa'; // VisA's reference binarises (> 0)
      for (let i = 0; i < n; i++) mask[i] = soft ? m.data[i]! / 255 : m.data[i]! > 0 ? 1 : 0;
    }
    return { index, path: e.path, image, label: e.label, defect: e.defect, mask };
  }

  /**
   * A mask of another size than its image is resized and cropped like the image, which misaligns
   * it when the aspect ratios differ: said once per dataset, naming the first such file.
   */
  private checkMaskSize(index: number, mask: Image): void {
    const size = this.sourceSize.get(index);
    if (this.maskSizeWarned || !size || (size[0] === mask.width && size[1] === mask.height)) return;
    this.maskSizeWarned = true;
    const e = this.entries[index]!;
    const msg =
      `mask ${e.maskPath} is ${mask.width}x${mask.height} but its image ${e.path} is ${size[0]}x${size[1]}: ` +
      'the mask is resized and cropped like the image, so pixel metrics may be off (said once per dataset)';
    (this.warnSink ?? ((m: string) => console.warn(`warning: ${m}`)))(msg);
  }

  /** The item for (seed, epoch, index): the same wherever and in whatever order it is computed. */
  item(index: number, seed: number, epoch: number): TrainItem | TestItem {
    return this.split === 'train' ? this.trainItem(index, new Rng(deriveSeed(seed, epoch, index))) : this.testItem(index);
  }

  private entry(index: number): Entry {
    const e = this.entries[index];
    if (!e) throw new Error(`dataset: index ${index} out of range (${this.entries.length} items)`);
    return e;
  }
}
