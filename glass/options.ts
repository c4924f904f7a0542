// Command-line options of `npm run glass`, with the reference main.py's flag names, the
// presets (`paper` = shell/run-mvtec.sh, `fast` = sizes a 2-core CPU machine can train in
// minutes, `cpu` = those sizes with the schedule measured best per CPU-minute), and a small
// parser (--flag value, --flag=value, repeatable -le / -d). Every flag has a value type with
// its allowed range in FLAGS; checkArgs checks given flags and preset values against it in one
// place, before any work starts, so a nonsensical value is a usage error naming the flag rather
// than a failure deep inside an op (or a silent no-op).
import { DEFAULT_CONFIG, type GlassConfig } from './glass.ts';
import { BACKBONES } from '../models/registry.ts';
import { classNameProblem } from '../data/datasets.ts';

/** A mistake in the command line: main() exits with status 2 for these, 1 for other failures. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Preset {
  description: string;
  values: Record<string, string | number>;
}

// the `fast` sizes, also under `cpu`
const FAST_VALUES: Preset['values'] = {
  pretrain_embed_dimension: 384,
  target_embed_dimension: 384,
  dsc_hidden: 256,
  dsc_layers: 2,
  meta_epochs: 8,
  eval_epochs: 1,
  resize: 224,
  imagesize: 224,
  batch_size: 8,
  noise: 0.015,
  radius: 0.75,
  p: 0.5,
  step: 20,
  limit: 96,
  lr: 0.0001,
  fg: 1,
  rand_aug: 1,
  mining: 1,
  pre_proj: 1,
};

export const PRESETS: Record<string, Preset> = {
  paper: {
    description: "the reference's MVTec script (shell/run-mvtec.sh): WideResNet50 layer2+layer3, 288 px, 1536-d embeddings, 640 epochs",
    values: {
      backbone: 'wideresnet50',
      pretrain_embed_dimension: 1536,
      target_embed_dimension: 1536,
      dsc_hidden: 1024,
      dsc_layers: 2,
      meta_epochs: 640,
      eval_epochs: 1,
      resize: 288,
      imagesize: 288,
      batch_size: 8,
      noise: 0.015,
      radius: 0.75,
      p: 0.5,
      step: 20,
      limit: 392,
      lr: 0.0001,
      fg: 1,
      rand_aug: 1,
      mining: 1,
      pre_proj: 1,
    },
  },
  fast: {
    description: 'for CPU-only machines (Mesa lavapipe): 224 px, 384-d embeddings, hidden 256, 8 epochs, 96 samples per epoch; everything else as the paper',
    values: FAST_VALUES,
  },
  cpu: {
    description:
      "fast's sizes trained for quality per CPU-minute (docs/QUALITY.md): lr 5e-4 annealed to 0 (cosine) over 56 epochs, 5 ascent steps, BatchNorm statistics averaged per epoch, evaluation every 2 epochs, the whole frame resized (no centre crop)",
    values: { ...FAST_VALUES, meta_epochs: 56, eval_epochs: 2, step: 5, lr: 0.0005, lr_schedule: 'cosine', bn_stats: 'epoch', geometry: 'full' },
  },
};

/** What values a flag accepts: `allowed` says it in words, `problem` returns null for a good value. */
export interface ValueType {
  allowed: string;
  problem(v: string): string | null;
}

const numberOf = (v: string) => (v.trim() === '' ? NaN : Number(v));

/** An integer in [min, max]. */
function int(min: number, max = Infinity): ValueType {
  const allowed = max === Infinity ? `an integer >= ${min}` : max === min + 1 ? `${min} or ${max}` : `an integer from ${min} to ${max}`;
  return {
    allowed,
    problem: (v) => {
      const n = numberOf(v);
      return Number.isInteger(n) && n >= min && n <= max ? null : `expected ${allowed}`;
    },
  };
}

/** A finite number in an interval written as in mathematics: '(0, inf)', '[0, 1]'. */
function real(interval: string): ValueType {
  const m = /^([[(])(-?[\d.]+|-inf), *([\d.]+|inf)([\])])$/.exec(interval);
  if (!m) throw new Error(`internal: bad interval ${interval}`);
  const lo = Number(m[2].replace('inf', 'Infinity'));
  const hi = Number(m[3].replace('inf', 'Infinity'));
  const allowed = hi === Infinity ? `a number ${m[1] === '(' ? '>' : '>='} ${lo}` : `a number in ${interval}`;
  return {
    allowed,
    problem: (v) => {
      const n = numberOf(v);
      const ok = Number.isFinite(n) && (m[1] === '(' ? n > lo : n >= lo) && (m[4] === ')' ? n < hi : n <= hi);
      return ok ? null : `expected ${allowed}`;
    },
  };
}

function oneOf(values: readonly string[]): ValueType {
  const allowed = values.join(' | ');
  return { allowed, problem: (v) => (values.includes(v) ? null : `expected ${allowed}`) };
}

const TEXT: ValueType = { allowed: 'a non-empty value', problem: (v) => (v === '' ? 'expected a non-empty value' : null) };
const SWITCH = int(0, 1);
const CLASS_NAME: ValueType = {
  allowed: 'a class (folder) name',
  problem: (v) => {
    const why = classNameProblem(v);
    return why ? `a class name ${why}; it must be a single folder name` : null;
  },
};
const SHARD: ValueType = {
  allowed: 'i/n with 0 <= i < n (e.g. 0/4)',
  problem: (v) => {
    const m = /^(\d+)\/(\d+)$/.exec(v);
    return m && Number(m[2]) >= 1 && Number(m[1]) < Number(m[2]) ? null : 'expected i/n with 0 <= i < n (e.g. 0/4)';
  },
};
/** A flag without a value. */
const BOOL: ValueType = { allowed: 'no value', problem: () => null };

export interface FlagSpec {
  names: string[];
  help: string;
  value: ValueType;
  repeat?: boolean;
  bool?: boolean;
}

export const FLAGS: Record<string, FlagSpec> = {
  preset: { names: ['--preset'], help: 'paper | fast | cpu (flags given explicitly override the preset)', value: oneOf(Object.keys(PRESETS)) },
  data: {
    names: ['--data'],
    help: 'dataset root (MVTec/MPDD/VisA/custom layout), or a folder of good images only (train: 10% held out to set the decision threshold, no metrics); default: the synthetic dataset',
    value: TEXT,
  },
  class: { names: ['-d', '--class', '--subdatasets'], help: 'class name, repeatable (default: every class in the root)', repeat: true, value: CLASS_NAME },
  dataset: { names: ['--dataset'], help: 'mvtec | mpdd | visa | custom (default mvtec layout)', value: oneOf(['mvtec', 'mpdd', 'visa', 'custom']) },
  augpath: {
    names: ['--augpath'],
    help: "anomaly-source images for LAS: a folder of JPG/PNG (searched recursively; DTD in the paper), or 'builtin' (default): 64 seeded procedural textures",
    value: TEXT,
  },
  backbone: {
    names: ['-b', '--backbone'],
    help: 'wideresnet50 | resnet18 | resnet50 | mobilenet_v1 (default: mobilenet_v1 when its weights folder is given or in ../shared, else resnet18; ResNet weights download on first use, GLASS_OFFLINE=1 skips that)',
    value: oneOf(BACKBONES),
  },
  layer: {
    names: ['-le', '--layer', '--layers_to_extract_from'],
    help: "backbone tap, repeatable (default: the backbone's two taps)",
    repeat: true,
    value: TEXT,
  },
  weights: { names: ['--weights'], help: 'backbone weights: .pth (ResNets) or tfjs folder (mobilenet_v1)', value: TEXT },
  random_backbone: { names: ['--random_backbone'], help: 'use seeded random backbone weights (for tests)', bool: true, value: BOOL },
  out: { names: ['--out', '--results_path'], help: 'output folder (default results; merge: the first folder named)', value: TEXT },
  seed: { names: ['--seed'], help: 'random seed (default 0)', value: int(0, 2 ** 32 - 1) },
  pretrain_embed_dimension: { names: ['--pretrain_embed_dimension'], help: 'per-tap pooled dimension', value: int(1) },
  target_embed_dimension: { names: ['--target_embed_dimension'], help: 'embedding dimension D', value: int(1) },
  meta_epochs: { names: ['--meta_epochs'], help: 'epochs', value: int(1) },
  eval_epochs: { names: ['--eval_epochs'], help: 'evaluate every N epochs (and always after the last)', value: int(1) },
  dsc_layers: { names: ['--dsc_layers'], help: 'discriminator layers', value: int(1) },
  dsc_hidden: { names: ['--dsc_hidden'], help: 'discriminator hidden size', value: int(1) },
  // the discriminator's scores are probabilities
  dsc_margin: { names: ['--dsc_margin'], help: 'score margin for p_true/p_fake', value: real('[0, 1]') },
  pre_proj: { names: ['--pre_proj'], help: 'projection layers (0: none)', value: int(0) },
  mining: { names: ['--mining'], help: '1: gradient ascent + hard mining', value: SWITCH },
  noise: { names: ['--noise'], help: 'std of the gaussian feature noise', value: real('(0, inf)') },
  // radius and p are torch.quantile's q (p = 0 keeps every row, as the reference's `if p > 0`)
  radius: { names: ['--radius'], help: 'quantile for r_t', value: real('[0, 1]') },
  p: { names: ['--p'], help: 'hard-mining quantile', value: real('[0, 1]') },
  lr: { names: ['--lr'], help: 'learning rate', value: real('(0, inf)') },
  bn_stats: {
    names: ['--bn_stats'],
    help: "the discriminator's BatchNorm running statistics: 'reference' (default; momentum 0.1 over every pass, so about the last iteration's batch) or 'epoch' (a cumulative average over each epoch's passes: steadier scores)",
    value: oneOf(['reference', 'epoch']),
  },
  lr_schedule: {
    names: ['--lr_schedule'],
    help: "'constant' (default, the reference's) or 'cosine': both rates anneal towards 0 over --meta_epochs (torch's CosineAnnealingLR per epoch)",
    value: oneOf(['constant', 'cosine']),
  },
  ema: {
    names: ['--ema'],
    help: "decay of an exponential moving average of the heads' weights, updated every iteration, that evaluations and checkpoints use (0: none, the reference's)",
    value: real('[0, 1)'),
  },
  // --mining 0 is the way to train without gradient ascent
  step: { names: ['--step'], help: 'gradient-ascent steps', value: int(1) },
  limit: { names: ['--limit'], help: 'training samples per epoch', value: int(1) },
  svd: { names: ['--svd'], help: '1 hypersphere, 0 manifold (overrides the class table)', value: SWITCH },
  distribution: { names: ['--distribution'], help: '0 table, 1 judge, 2 manifold, 3 hypersphere, 4 opposite of the table', value: int(0, 4) },
  // smaller than imagesize is allowed: the centre crop pads, as torchvision's CenterCrop (cli.ts says so)
  resize: { names: ['--resize'], help: 'shorter side before the centre crop', value: int(1) },
  imagesize: { names: ['--imagesize'], help: 'centre crop size', value: int(1) },
  batch_size: { names: ['--batch_size'], help: 'batch size', value: int(1) },
  fg: { names: ['--fg'], help: '1: multiply LAS masks by foreground masks (<data>/fg_mask/<class>/...; given explicitly, they must exist)', value: SWITCH },
  rand_aug: { names: ['--rand_aug'], help: '1: 3 random augmentations of the texture', value: SWITCH },
  // LAS draws beta = clip(N(mean, std), 0.2, 0.8): a blend weight
  mean: { names: ['--mean'], help: 'LAS blend beta mean', value: real('[0, 1]') },
  std: { names: ['--std'], help: 'LAS blend beta std', value: real('[0, inf)') },
  workers: { names: ['--workers', '--num_workers'], help: 'data worker threads (default 1; 0: load on the main thread)', value: int(0) },
  resume: { names: ['--resume'], help: "checkpoint to resume training from (ckpt.safetensors: it carries the best epoch's weights too)", value: TEXT },
  checkpoint: {
    names: ['--checkpoint'],
    help: 'checkpoint to evaluate (test/predict): ours (.safetensors: it defines the model, other model flags are not needed) or the reference (.pth)',
    value: TEXT,
  },
  shard: {
    names: ['--shard'],
    help: 'i/n: train only every n-th class from the i-th (0-based; Slurm array / Kubernetes indexed Job); combine with `merge`',
    value: SHARD,
  },
  input: { names: ['--input'], help: 'folder of images to score (predict)', value: TEXT },
  val: {
    names: ['--val'],
    help: "labelled folder (good/ and defect folders) to choose the threshold by best F1 (predict; default: the checkpoint's threshold)",
    value: TEXT,
  },
  visuals: { names: ['--visuals'], help: '1: write image | mask | heatmap PNGs', value: SWITCH },
  geometry: {
    names: ['--geometry'],
    help: "input geometry: 'crop' (default, the reference's Resize of the shorter side + CenterCrop; elongated images lose their ends) or 'full' (the whole frame resized to imagesize x imagesize; masks, maps and heatmaps follow)",
    value: oneOf(['crop', 'full']),
  },
  baseline: {
    names: ['--baseline'],
    help: "'knn': after training, score the test set with a nearest-neighbour patch baseline on the same features and say how the run compares (written to baseline_knn.json); 'none' (default)",
    value: oneOf(['none', 'knn']),
  },
  eval_pro: { names: ['--eval_pro'], help: '1: every evaluation also computes pixel AP and PRO (slower; the final test always does)', value: SWITCH },
  mask_rule: {
    names: ['--mask_rule'],
    help: "ground truth of pixel metrics: 'binary' (default; nearest resize, every pixel > 0) or 'reference' (the reference code's bilinear resize, only pixels that stay 1.0: the paper's numbers)",
    value: oneOf(['binary', 'reference']),
  },
  from: { names: ['--from'], help: 'import a local weight file (weights)', value: TEXT },
  profile: { names: ['--profile'], help: 'print per-kernel GPU times of one training iteration', bool: true, value: BOOL },
  help: { names: ['-h', '--help'], help: 'this help', bool: true, value: BOOL },
};

export type Parsed = Record<string, string | string[] | boolean | undefined> & { _: string[] };

/** The problem with `value` for flag `key`, as one line naming the flag, the value and what is allowed; null when fine. */
export function flagProblem(key: string, value: string | number): string | null {
  const spec = FLAGS[key];
  if (!spec) return `unknown option ${key}`;
  const why = spec.value.problem(String(value));
  return why ? `${spec.names[0]} ${JSON.stringify(String(value))}: ${why}` : null;
}

/**
 * Checks every given flag, and the values of the preset named, against FLAGS: the first problem
 * is a UsageError. Preset values are checked whether or not a flag overrides them.
 */
export function checkArgs(args: Parsed): void {
  for (const [key, v] of Object.entries(args)) {
    if (key === '_' || v === undefined || typeof v === 'boolean') continue;
    for (const one of Array.isArray(v) ? v : [v]) {
      const p = flagProblem(key, one);
      if (p) throw new UsageError(p);
    }
  }
  const preset = typeof args.preset === 'string' ? PRESETS[args.preset] : undefined;
  if (preset) checkPreset(args.preset as string, preset);
}

export function checkPreset(name: string, preset: Preset): void {
  for (const [key, v] of Object.entries(preset.values)) {
    const p = flagProblem(key, v);
    if (p) throw new UsageError(`${p} (from --preset ${name})`);
  }
}

export function parseArgs(argv: string[]): Parsed {
  const out: Parsed = { _: [] };
  const byName = new Map<string, string>();
  for (const [k, f] of Object.entries(FLAGS)) for (const n of f.names) byName.set(n, k);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-') || a === '-') {
      out._.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const key = byName.get(name);
    if (!key) throw new UsageError(`unknown option ${name} (see --help)`);
    const spec = FLAGS[key];
    let value: string | boolean;
    if (spec.bool) value = eq > 0 ? a.slice(eq + 1) !== '0' : true;
    else if (eq > 0) value = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`option ${name} needs a value`);
      value = argv[++i];
    }
    if (spec.repeat) ((out[key] as string[] | undefined) ?? ((out[key] = [] as string[]) as string[])).push(String(value));
    else out[key] = value;
  }
  return out;
}

const USAGE: Record<string, string> = {
  merge: 'glass-ts merge RUN_DIR... [--out DIR]: one results.csv from the per-class metrics.json of runs over disjoint classes (e.g. --shard runs)',
  predict: 'glass-ts predict --checkpoint CKPT --input FOLDER [--val LABELLED_FOLDER] [--out DIR]',
  test: 'glass-ts test --checkpoint CKPT --data ROOT [-d CLASS]',
};

export function helpText(command: string): string {
  const lines = [`usage: ${USAGE[command] ?? `glass-ts ${command} [options]`}   (in the repository: npm run glass -- ${command} ...)`, '', 'presets:'];
  for (const [k, p] of Object.entries(PRESETS)) lines.push(`  ${k.padEnd(6)} ${p.description}`);
  lines.push('', 'options:');
  for (const f of Object.values(FLAGS)) {
    // enumerations and free text are spelled out in the help itself
    const range = [TEXT, BOOL, SHARD, CLASS_NAME].includes(f.value) || f.value.allowed.includes('|') ? '' : ` [${f.value.allowed}]`;
    lines.push(`  ${f.names.join(', ').padEnd(44)} ${f.help}${range}`);
  }
  return lines.join('\n');
}

/** A numeric option: explicit flag, else preset, else default (values were checked by checkArgs; checked again for callers that skip it). */
export function num(args: Parsed, key: string, preset: Preset | null, dflt: number): number {
  const v = args[key] ?? preset?.values[key];
  if (v === undefined || v === true || v === false) return dflt;
  const p = flagProblem(key, String(v));
  if (p) throw new UsageError(p);
  return Number(v);
}

/** Where an option's value comes from: the command line, the preset, or the built-in default. */
export function origin(args: Parsed, key: string, preset: Preset | null): 'flag' | 'preset' | 'default' {
  return args[key] !== undefined ? 'flag' : preset?.values[key] !== undefined ? 'preset' : 'default';
}

export function str(args: Parsed, key: string, preset: Preset | null, dflt: string): string {
  const v = args[key] ?? preset?.values[key];
  return v === undefined || typeof v === 'boolean' ? dflt : String(v);
}

export function glassConfig(args: Parsed, preset: Preset | null, layers: string[], svd: number): GlassConfig {
  const d = DEFAULT_CONFIG;
  return {
    layers,
    pretrainEmbedDimension: num(args, 'pretrain_embed_dimension', preset, d.pretrainEmbedDimension),
    targetEmbedDimension: num(args, 'target_embed_dimension', preset, d.targetEmbedDimension),
    dscLayers: num(args, 'dsc_layers', preset, d.dscLayers),
    dscHidden: num(args, 'dsc_hidden', preset, d.dscHidden),
    dscMargin: num(args, 'dsc_margin', preset, d.dscMargin),
    preProj: num(args, 'pre_proj', preset, d.preProj),
    mining: num(args, 'mining', preset, d.mining),
    noise: num(args, 'noise', preset, d.noise),
    radius: num(args, 'radius', preset, d.radius),
    p: num(args, 'p', preset, d.p),
    lr: num(args, 'lr', preset, d.lr),
    svd,
    step: num(args, 'step', preset, d.step),
  };
}
