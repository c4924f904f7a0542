// The whole definition of a trained GLASS model, stored in its checkpoint's metadata, so that
// `glass test` and `glass predict` need only `--checkpoint` and the images: the backbone and the
// identity of its weights (a hash, verified when loading), the taps, the image geometry and
// normalisation, the head sizes, the distribution mode and the decision threshold. A flag that
// contradicts the checkpoint is an error naming both values: evaluating with other taps or sizes
// silently gives meaningless scores. Reading the spec from a checkpoint: checkpoint-bytes.ts
// (specOf, checkpointSpecFromBytes) and checkpoint.ts (readCheckpointSpec, by path).
import type { WeightsIdentity } from '../models/pretrained.ts';
import { DEFAULT_CONFIG, type GlassConfig } from './glass.ts';
import type { Parsed } from './options.ts';
import type { Threshold } from './threshold.ts';
import type { Geometry } from '../data/datasets.ts';

export interface ModelSpec {
  backbone: string;
  weights: WeightsIdentity;
  layers: string[];
  resize: number;
  imagesize: number;
  /** input geometry (data/datasets.ts); absent in checkpoints from before it existed: 'crop' */
  geometry?: Geometry;
  mean: number[];
  std: number[];
  pretrainEmbedDimension: number;
  targetEmbedDimension: number;
  dscLayers: number;
  dscHidden: number;
  preProj: number;
  /** the embedding's neighbourhood (fixed at 3 x 3, stride 1, as the reference) */
  patchsize: number;
  /** 1 hypersphere, 0 manifold */
  svd: number;
  /** batch size of the training run's evaluation (the same batches give the same bits) */
  batchSize: number;
  /** set once training ends (glass/threshold.ts) */
  threshold: Threshold | null;
  /** where it was trained (informative) */
  trainedOn?: { dataset: string; className: string };
}

export function glassConfigFromSpec(spec: ModelSpec): GlassConfig {
  return {
    ...DEFAULT_CONFIG,
    layers: [...spec.layers],
    pretrainEmbedDimension: spec.pretrainEmbedDimension,
    targetEmbedDimension: spec.targetEmbedDimension,
    dscLayers: spec.dscLayers,
    dscHidden: spec.dscHidden,
    preProj: spec.preProj,
    svd: spec.svd,
  };
}

/** The flags that define the model, and the spec's value for each. */
const DEFINING: [flag: string, key: string, get: (s: ModelSpec) => string | number | string[]][] = [
  ['-b', 'backbone', (s) => s.backbone],
  ['-le', 'layer', (s) => s.layers],
  ['--resize', 'resize', (s) => s.resize],
  ['--imagesize', 'imagesize', (s) => s.imagesize],
  ['--geometry', 'geometry', (s) => s.geometry ?? 'crop'],
  ['--pretrain_embed_dimension', 'pretrain_embed_dimension', (s) => s.pretrainEmbedDimension],
  ['--target_embed_dimension', 'target_embed_dimension', (s) => s.targetEmbedDimension],
  ['--dsc_layers', 'dsc_layers', (s) => s.dscLayers],
  ['--dsc_hidden', 'dsc_hidden', (s) => s.dscHidden],
  ['--pre_proj', 'pre_proj', (s) => s.preProj],
  ['--svd', 'svd', (s) => s.svd],
];

/**
 * Throws when an explicitly given flag disagrees with the checkpoint (preset values are not
 * checked: the checkpoint replaces the preset). Weights are checked by hash when they load.
 */
export function checkFlagsAgainstSpec(args: Parsed, spec: ModelSpec, ckpt: string): void {
  const clashes: string[] = [];
  for (const [flag, key, get] of DEFINING) {
    const given = args[key];
    if (given === undefined || typeof given === 'boolean') continue;
    const want = get(spec);
    const same = Array.isArray(want) ? Array.isArray(given) && given.join(',') === want.join(',') : String(given) === String(want) || Number(given) === want;
    if (!same) clashes.push(`${flag} ${Array.isArray(given) ? given.join(',') : given} (the checkpoint has ${Array.isArray(want) ? want.join(',') : want})`);
  }
  if (args.random_backbone && spec.weights.kind !== 'random') clashes.push(`--random_backbone (the checkpoint was trained with ${spec.weights.kind} weights)`);
  if (clashes.length) {
    throw new Error(
      `${ckpt} defines the model; these flags contradict it: ${clashes.join('; ')}. Leave them out (the checkpoint's values are used) or use another checkpoint`,
    );
  }
}
