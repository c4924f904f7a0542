// Which feature-space constraint GLASS's global anomaly synthesis uses per class: manifold
// (svd = 0, truncate around each normal feature) or hypersphere (svd = 1, truncate around the
// centre c). The reference reads it from datasets/excel/<dataset>_distribution.xlsx, or forces
// it with --distribution; resolveMode reproduces that choice with an explicit override on top.
// See docs/glass-reference.md, "Per-class table" and "Distribution judge".

export type GasMode = 'manifold' | 'hypersphere';

/** Class lists of the datasets the reference ships tables for (datasets/*.py, shell/run-*.sh). */
export const DATASET_CLASSES: Readonly<Record<string, readonly string[]>> = {
  mvtec: [
    'carpet',
    'grid',
    'leather',
    'tile',
    'wood',
    'bottle',
    'cable',
    'capsule',
    'hazelnut',
    'metal_nut',
    'pill',
    'screw',
    'toothbrush',
    'transistor',
    'zipper',
  ],
  visa: ['candle', 'capsules', 'cashew', 'chewinggum', 'fryum', 'macaroni1', 'macaroni2', 'pcb1', 'pcb2', 'pcb3', 'pcb4', 'pipe_fryum'],
  mpdd: ['bracket_black', 'bracket_brown', 'bracket_white', 'connector', 'metal_plate', 'tubes'],
  wfdd: ['grey_cloth', 'grid_cloth', 'yellow_cloth', 'pink_flower'],
};

export interface TableEntry {
  /** the Distribution column: 0 manifold, 1 hypersphere */
  distribution: 0 | 1;
  /** the Foreground column (used by the dataset only with --fg 2) */
  foreground: 0 | 1;
}

/**
 * The reference's shipped tables, as far as they can be known without the binary .xlsx files.
 * MVTec: per the maintainer's answer in cqylunlun/GLASS issue #71, Distribution = Foreground = 1
 * for bottle, cable, pill, screw, transistor and 0 for the other ten classes. (Re-running the
 * judge gives toothbrush = 1 because --distribution 1 skips the 329-px resize that toothbrush and
 * wood otherwise get; the shipped table says 0.) VisA, MPDD and WFDD tables ship with the
 * reference too but their contents could not be read here: load them with parseDistributionCsv
 * from a CSV export (columns Class, Distribution, Foreground) or pass a judge result.
 */
export const REFERENCE_TABLE: Readonly<Record<string, Readonly<Record<string, TableEntry>>>> = {
  mvtec: Object.fromEntries(
    DATASET_CLASSES.mvtec.map((c) => {
      const v: 0 | 1 = ['bottle', 'cable', 'pill', 'screw', 'transistor'].includes(c) ? 1 : 0;
      return [c, { distribution: v, foreground: v }];
    }),
  ),
  visa: {},
  mpdd: {},
  wfdd: {},
};

export type DistributionTable = Map<string, TableEntry>;

/**
 * A CSV export of <dataset>_distribution.xlsx: header Class,Distribution,Foreground, one row per
 * class, Class spelt as the reference writes it (`<dataset>_<class>`, e.g. mvtec_bottle).
 */
export function parseDistributionCsv(text: string): DistributionTable {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (lines.length === 0) throw new Error('parseDistributionCsv: empty text');
  const head = lines[0].split(',').map((h) => h.trim());
  const ci = head.indexOf('Class'),
    di = head.indexOf('Distribution'),
    fi = head.indexOf('Foreground');
  if (ci < 0 || di < 0) throw new Error(`parseDistributionCsv: header must name Class and Distribution, got "${lines[0]}"`);
  const out: DistributionTable = new Map();
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(',').map((c) => c.trim());
    const bit = (s: string | undefined, col: string): 0 | 1 => {
      const v = Number(s);
      if (v !== 0 && v !== 1) throw new Error(`parseDistributionCsv: line ${i + 1}: ${col} must be 0 or 1, got "${s}"`);
      return v;
    };
    const d = bit(cells[di], 'Distribution');
    out.set(cells[ci], { distribution: d, foreground: fi >= 0 ? bit(cells[fi], 'Foreground') : d });
  }
  return out;
}

/** The reference table entry for dataset/class, or null when it is not known. */
export function lookupClass(dataset: string, className: string, table?: DistributionTable): TableEntry | null {
  const fromCsv = table?.get(`${dataset}_${className}`) ?? table?.get(className);
  if (fromCsv) return fromCsv;
  return REFERENCE_TABLE[dataset]?.[className] ?? null;
}

/** The reference's --distribution values (glass.py GLASS.trainer). */
export type DistributionFlag = 0 | 1 | 2 | 3 | 4;

export interface ResolveModeInput {
  dataset: string;
  className: string;
  /**
   * --distribution: 0 read the table (default), 1 judge by the image spectrum, 2 force manifold,
   * 3 force hypersphere, 4 the opposite of the table.
   */
  distribution?: DistributionFlag;
  /** explicit choice; wins over everything */
  override?: GasMode;
  /** result of distributionJudge for this class, used by distribution 1 and as the fallback */
  judged?: GasMode;
  /** a table loaded with parseDistributionCsv, consulted before REFERENCE_TABLE */
  table?: DistributionTable;
}

export interface ResolvedMode {
  mode: GasMode;
  /** the reference's self.svd */
  svd: 0 | 1;
  source: 'override' | 'forced' | 'table' | 'table-inverted' | 'judge' | 'judge-fallback';
}

const fromSvd = (svd: 0 | 1): GasMode => (svd === 1 ? 'hypersphere' : 'manifold');
const toSvd = (m: GasMode): 0 | 1 => (m === 'hypersphere' ? 1 : 0);

/**
 * Chooses manifold or hypersphere as GLASS.trainer does. Where the reference's table lookup
 * fails it falls back to judging the spectrum (and then stops without training); here the
 * fallback is `judged` when given, otherwise an error that says what to pass.
 */
export function resolveMode(input: ResolveModeInput): ResolvedMode {
  const { dataset, className, override, judged, table } = input;
  const distribution = input.distribution ?? 0;
  if (override !== undefined) {
    if (override !== 'manifold' && override !== 'hypersphere') {
      throw new Error(`resolveMode: override must be 'manifold' or 'hypersphere', got ${String(override)}`);
    }
    return { mode: override, svd: toSvd(override), source: 'override' };
  }
  const needJudge = (why: string): ResolvedMode => {
    if (judged === undefined) {
      throw new Error(`resolveMode: ${dataset}/${className}: ${why}; run distributionJudge on the mean training image and pass judged, or pass override`);
    }
    return { mode: judged, svd: toSvd(judged), source: why.startsWith('distribution 1') ? 'judge' : 'judge-fallback' };
  };
  switch (distribution) {
    case 2:
      return { mode: 'manifold', svd: 0, source: 'forced' };
    case 3:
      return { mode: 'hypersphere', svd: 1, source: 'forced' };
    case 1:
      return needJudge('distribution 1 asks for the spectrum judge');
    case 0:
    case 4: {
      const entry = lookupClass(dataset, className, table);
      if (entry === null) return needJudge(`no table entry for this class (the reference would fall back to the judge)`);
      const svd: 0 | 1 = distribution === 4 ? (entry.distribution === 1 ? 0 : 1) : entry.distribution;
      return { mode: fromSvd(svd), svd, source: distribution === 4 ? 'table-inverted' : 'table' };
    }
    default:
      throw new Error(`resolveMode: distribution must be 0..4, got ${String(distribution)}`);
  }
}
