// Command-line options of `npm run glass`, with the reference main.py's flag names, the two
// presets (`paper` = shell/run-mvtec.sh, `fast` = sizes a 2-core CPU machine can train in
// minutes), and a small parser (--flag value, --flag=value, repeatable -le / -d).
import { DEFAULT_CONFIG, type GlassConfig } from './glass.ts';

export interface Preset {
  description: string;
  values: Record<string, string | number>;
}

export const PRESETS: Record<string, Preset> = {
  paper: {
    description: "the reference's MVTec script (shell/run-mvtec.sh): WideResNet50 layer2+layer3, 288 px, 1536-d embeddings, 640 epochs",
    values: {
      backbone: 'wideresnet50', pretrain_embed_dimension: 1536, target_embed_dimension: 1536, dsc_hidden: 1024, dsc_layers: 2,
      meta_epochs: 640, eval_epochs: 1, resize: 288, imagesize: 288, batch_size: 8, noise: 0.015, radius: 0.75, p: 0.5,
      step: 20, limit: 392, lr: 0.0001, fg: 1, rand_aug: 1, mining: 1, pre_proj: 1,
    },
  },
  fast: {
    description: 'for CPU-only machines (Mesa lavapipe): 224 px, 384-d embeddings, hidden 256, 8 epochs, 96 samples per epoch; everything else as the paper',
    values: {
      pretrain_embed_dimension: 384, target_embed_dimension: 384, dsc_hidden: 256, dsc_layers: 2, meta_epochs: 8, eval_epochs: 1,
      resize: 224, imagesize: 224, batch_size: 8, noise: 0.015, radius: 0.75, p: 0.5, step: 20, limit: 96, lr: 0.0001,
      fg: 1, rand_aug: 1, mining: 1, pre_proj: 1,
    },
  },
};

export interface FlagSpec {
  names: string[];
  help: string;
  repeat?: boolean;
  bool?: boolean;
}

export const FLAGS: Record<string, FlagSpec> = {
  preset: { names: ['--preset'], help: 'paper | fast (flags given explicitly override the preset)' },
  data: { names: ['--data'], help: 'dataset root (MVTec/MPDD/VisA/custom layout), or a folder of good images only (train: 10% held out to set the decision threshold, no metrics); default: the synthetic dataset' },
  class: { names: ['-d', '--class', '--subdatasets'], help: 'class name, repeatable (default: every class in the root)', repeat: true },
  dataset: { names: ['--dataset'], help: 'mvtec | mpdd | visa | custom (default mvtec layout)' },
  augpath: { names: ['--augpath'], help: "anomaly-source images for LAS: a folder of JPG/PNG (searched recursively; DTD in the paper), or 'builtin' (default): 64 seeded procedural textures" },
  backbone: { names: ['-b', '--backbone'], help: 'wideresnet50 | resnet18 | resnet50 | mobilenet_v1 (default: mobilenet_v1 when its weights folder is given or in ../shared, else resnet18; ResNet weights download on first use, GLASS_OFFLINE=1 skips that)' },
  layer: { names: ['-le', '--layer', '--layers_to_extract_from'], help: 'backbone tap, repeatable (default: the backbone\'s two taps)', repeat: true },
  weights: { names: ['--weights'], help: 'backbone weights: .pth (ResNets) or tfjs folder (mobilenet_v1)' },
  random_backbone: { names: ['--random_backbone'], help: 'use seeded random backbone weights (for tests)', bool: true },
  out: { names: ['--out', '--results_path'], help: 'output folder (default results; merge: the first folder named)' },
  seed: { names: ['--seed'], help: 'random seed (default 0)' },
  pretrain_embed_dimension: { names: ['--pretrain_embed_dimension'], help: 'per-tap pooled dimension' },
  target_embed_dimension: { names: ['--target_embed_dimension'], help: 'embedding dimension D' },
  meta_epochs: { names: ['--meta_epochs'], help: 'epochs' },
  eval_epochs: { names: ['--eval_epochs'], help: 'evaluate every N epochs' },
  dsc_layers: { names: ['--dsc_layers'], help: 'discriminator layers' },
  dsc_hidden: { names: ['--dsc_hidden'], help: 'discriminator hidden size' },
  dsc_margin: { names: ['--dsc_margin'], help: 'score margin for p_true/p_fake' },
  pre_proj: { names: ['--pre_proj'], help: 'projection layers (0: none)' },
  mining: { names: ['--mining'], help: '1: gradient ascent + hard mining' },
  noise: { names: ['--noise'], help: 'std of the gaussian feature noise' },
  radius: { names: ['--radius'], help: 'quantile for r_t' },
  p: { names: ['--p'], help: 'hard-mining quantile' },
  lr: { names: ['--lr'], help: 'learning rate' },
  step: { names: ['--step'], help: 'gradient-ascent steps' },
  limit: { names: ['--limit'], help: 'training samples per epoch' },
  svd: { names: ['--svd'], help: '1 hypersphere, 0 manifold (overrides the class table)' },
  distribution: { names: ['--distribution'], help: '0 table, 1 judge, 2 manifold, 3 hypersphere, 4 opposite of the table' },
  resize: { names: ['--resize'], help: 'shorter side before the centre crop' },
  imagesize: { names: ['--imagesize'], help: 'centre crop size' },
  batch_size: { names: ['--batch_size'], help: 'batch size' },
  fg: { names: ['--fg'], help: '1: multiply LAS masks by foreground masks (fg_mask/<class>/...)' },
  rand_aug: { names: ['--rand_aug'], help: '1: 3 random augmentations of the texture' },
  mean: { names: ['--mean'], help: 'LAS blend beta mean' },
  std: { names: ['--std'], help: 'LAS blend beta std' },
  workers: { names: ['--workers', '--num_workers'], help: 'data worker threads (default 1)' },
  resume: { names: ['--resume'], help: 'checkpoint to resume training from' },
  checkpoint: { names: ['--checkpoint'], help: 'checkpoint to evaluate (test/predict): ours (.safetensors: it defines the model, other model flags are not needed) or the reference (.pth)' },
  shard: { names: ['--shard'], help: 'i/n: train only every n-th class from the i-th (0-based; Slurm array / Kubernetes indexed Job); combine with `merge`' },
  input: { names: ['--input'], help: 'folder of images to score (predict)' },
  val: { names: ['--val'], help: "labelled folder (good/ and defect folders) to choose the threshold by best F1 (predict; default: the checkpoint's threshold)" },
  visuals: { names: ['--visuals'], help: '1: write image | mask | heatmap PNGs' },
  from: { names: ['--from'], help: 'import a local weight file (weights)' },
  profile: { names: ['--profile'], help: 'print per-kernel GPU times of one training iteration', bool: true },
  help: { names: ['-h', '--help'], help: 'this help', bool: true },
};

export type Parsed = Record<string, string | string[] | boolean | undefined> & { _: string[] };

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
    if (!key) throw new Error(`unknown option ${name} (see --help)`);
    const spec = FLAGS[key];
    let value: string | boolean;
    if (spec.bool) value = eq > 0 ? a.slice(eq + 1) !== '0' : true;
    else if (eq > 0) value = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new Error(`option ${name} needs a value`);
      value = argv[++i];
    }
    if (spec.repeat) ((out[key] as string[] | undefined) ?? (out[key] = [] as string[]) as string[]).push(String(value));
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
  for (const f of Object.values(FLAGS)) lines.push(`  ${f.names.join(', ').padEnd(44)} ${f.help}`);
  return lines.join('\n');
}

/** A numeric option: explicit flag, else preset, else default. */
export function num(args: Parsed, key: string, preset: Preset | null, dflt: number): number {
  const v = args[key] ?? preset?.values[key];
  if (v === undefined || v === true || v === false) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${key}: expected a number, got '${v}'`);
  return n;
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
