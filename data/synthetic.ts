// A small procedural anomaly-detection dataset in the MVTec AD layout, for demos and tests without
// downloads: a textured surface class ('woodgrain': warped growth rings, fibres, pores) and a rounded
// object class ('button': a four-hole sewing button with rim, shading and drop shadow on cloth), each
// rendered with seeded variation (colour, grain direction and scale, position, rotation, lighting,
// sensor noise). Test defects are small and low-contrast on purpose (scratches, spots, cracks, missing
// pieces, colour stains), so that telling them from normal variation needs good features: an ImageNet
// backbone should beat a random-weight one. Every defect is drawn through a coverage map, and its
// ground-truth mask is exactly the pixels it covers by at least MASK_COVERAGE (a quarter: thin
// scratches would otherwise leave visibly changed, unlabelled edge pixels).
//   writeSyntheticDataset(root)  -> <root>/<class>/{train/good, test/<type>, ground_truth/<type>},
//                                   plus <root>/fg_mask/<class>/ for the training images; a marker
//                                   file in each, so that rewriting replaces only what it wrote
// The images come from synthetic-render.ts (host-neutral); this module writes them (Node).
//   CLI: npx tsx data/synthetic.ts <root> [--size 256] [--train 48] [--good 16] [--defective 30] [--seed 0]
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writePNG } from './image.ts';
import { Rng, deriveSeed } from './rng.ts';
import { DEFECT_TYPES, SYNTHETIC_CLASSES, renderSample, type DefectType, type SyntheticClass } from './synthetic-render.ts';

export * from './synthetic-render.ts';

export interface SyntheticOptions {
  classes?: readonly SyntheticClass[];
  size?: number;
  train?: number;
  testGood?: number;
  /** anomalous test images per class, spread evenly over the defect types */
  testDefective?: number;
  defects?: readonly DefectType[];
  seed?: number;
  /** write <root>/fg_mask/<class>/<name> for the training images (default true) */
  fgMasks?: boolean;
  /** delete <root>/<class> first (default true), so stale files never mix in; only folders this
   * generator wrote (SYNTHETIC_MARKER) are deleted, anything else there is an error */
  clean?: boolean;
}

export interface SyntheticSummary {
  root: string;
  classes: string[];
  /** per class: train, test good, test per defect type */
  counts: Record<string, Record<string, number>>;
  version: number;
}

const name3 = (i: number) => String(i).padStart(3, '0');

/** Writes the dataset; the same options always give the same files. */
export function writeSyntheticDataset(root: string, opts: SyntheticOptions = {}): SyntheticSummary {
  const classes = opts.classes ?? SYNTHETIC_CLASSES;
  const size = opts.size ?? 256,
    nTrain = opts.train ?? 48,
    nGood = opts.testGood ?? 16,
    nBad = opts.testDefective ?? 30;
  const defects = opts.defects ?? DEFECT_TYPES;
  const seed = opts.seed ?? 0;
  const counts: Record<string, Record<string, number>> = {};
  classes.forEach((cls, ci) => {
    const dir = join(root, cls);
    const fgDir = join(root, 'fg_mask', cls);
    if (opts.clean ?? true) {
      for (const d of [dir, fgDir]) {
        if (!existsSync(d)) continue;
        if (!writtenByUs(root, d, cls)) {
          throw new Error(
            `${d} exists and was not written by the synthetic dataset generator (no ${SYNTHETIC_MARKER} in it): ` +
              'not replacing it; write the synthetic dataset to another folder, or remove this one yourself',
          );
        }
      }
      rmSync(dir, { recursive: true, force: true });
      rmSync(fgDir, { recursive: true, force: true });
    }
    const marker = JSON.stringify({ generator: 'glass-ts data/synthetic.ts', version: SYNTHETIC_VERSION, class: cls }) + '\n';
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, SYNTHETIC_MARKER), marker);
    if (opts.fgMasks ?? true) {
      mkdirSync(fgDir, { recursive: true });
      writeFileSync(join(fgDir, SYNTHETIC_MARKER), marker);
    }
    const c: Record<string, number> = { train: nTrain, good: nGood };
    const rngFor = (split: number, i: number) => new Rng(deriveSeed(seed, ci, split, i));
    for (let i = 0; i < nTrain; i++) {
      const s = renderSample(cls, size, rngFor(0, i));
      writePNG(join(dir, 'train', 'good', `${name3(i)}.png`), s.image);
      if (opts.fgMasks ?? true) writePNG(join(root, 'fg_mask', cls, `${name3(i)}.png`), s.foreground);
    }
    for (let i = 0; i < nGood; i++) writePNG(join(dir, 'test', 'good', `${name3(i)}.png`), renderSample(cls, size, rngFor(1, i)).image);
    defects.forEach((d, di) => {
      const n = Math.floor(nBad / defects.length) + (di < nBad % defects.length ? 1 : 0);
      c[d] = n;
      for (let i = 0; i < n; i++) {
        const s = renderSample(cls, size, rngFor(2 + di, i), d);
        writePNG(join(dir, 'test', d, `${name3(i)}.png`), s.image);
        writePNG(join(dir, 'ground_truth', d, `${name3(i)}_mask.png`), s.mask);
      }
    });
    counts[cls] = c;
  });
  const summary = { root, classes: [...classes], counts, version: SYNTHETIC_VERSION };
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'synthetic.json'), JSON.stringify({ ...summary, options: opts }, null, 2) + '\n');
  return summary;
}

/** The file the generator leaves in each folder it writes: only folders holding it are ever replaced. */
export const SYNTHETIC_MARKER = '.glass-synthetic';

/**
 * Whether the generator wrote folder `dir` (class `cls` under `root`): its marker, or (folders
 * written before the marker existed) the root's synthetic.json listing the class.
 */
function writtenByUs(root: string, dir: string, cls: string): boolean {
  if (existsSync(join(dir, SYNTHETIC_MARKER))) return true;
  try {
    const j = JSON.parse(readFileSync(join(root, 'synthetic.json'), 'utf8')) as { classes?: unknown };
    return Array.isArray(j.classes) && j.classes.includes(cls);
  } catch {
    return false;
  }
}

/**
 * Bumped whenever the generator's output changes (2: stronger stains, 48/16/30 images per class),
 * so that a cached copy written by an older version is rewritten rather than silently reused.
 */
export const SYNTHETIC_VERSION = 2;

/** True when `root` holds a complete dataset written by this generator version. */
export function syntheticIsCurrent(root: string): boolean {
  try {
    return JSON.parse(readFileSync(join(root, 'synthetic.json'), 'utf8')).version === SYNTHETIC_VERSION;
  } catch {
    return false;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const root = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  if (!root) {
    console.error('usage: npx tsx data/synthetic.ts <root> [--size 256] [--train 48] [--good 16] [--defective 30] [--seed 0]');
    process.exit(2);
  }
  const num = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const t0 = Date.now();
  const sum = writeSyntheticDataset(root, {
    size: num('--size'),
    train: num('--train'),
    testGood: num('--good'),
    testDefective: num('--defective'),
    seed: num('--seed'),
  });
  console.log(`wrote ${sum.classes.join(', ')} to ${root} in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${JSON.stringify(sum.counts)}`);
}
