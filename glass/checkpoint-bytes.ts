// GLASS checkpoints as bytes (host-neutral; checkpoint.ts reads and writes them as files, written
// atomically). Ours are safetensors: `discriminator.*` and `pre_projection.*` with the reference's
// key names, optionally the optimiser states (`opt.<name>.state.<i>.<key>`, hyperparameters and
// steps in metadata) so a run can resume, and the training record in metadata (with the ModelSpec
// under `meta.model`, model-spec.ts). The reference's own `.pth` checkpoints ({discriminator,
// pre_projection}) load too, for evaluation.
//
// The resume file (ckpt.safetensors) also carries the weights of the best epoch so far under
// `best.*` (left out when the best epoch is the saved one: then they are the main weights), so
// that a run resumed into a fresh --out reports and keeps the same best epoch as an uninterrupted
// one, from that one file. A run with weight averaging (--ema) saves the averaged weights as the
// main weights (what it evaluates, so `glass test` on the file scores what the log reported) and
// the weights being trained under `live.*`, for resuming. Epoch numbers in checkpoint metadata
// (`epoch`, `best.epoch`) are 0-based, as the training loop counts (metadata `epoch_base: 0`
// says so); everything a user reads (logs, metrics.json, results.csv) numbers epochs from 1.
import * as E from '../engine/index.ts';
import { parseSafetensors, serializeSafetensors, type SafetensorsContent } from '../models/io/safetensors.ts';
import { flattenTensors, readTorch } from '../models/io/torch.ts';
import type { CpuTensor } from '../models/io/types.ts';
import { looksLikeZip } from '../models/io/zip.ts';
import type { Glass } from './glass.ts';
import type { ModelSpec } from './model-spec.ts';

async function toCpu(t: E.Tensor): Promise<CpuTensor> {
  const d = await t.data();
  const dtype = t.dtype === 'f32' ? 'float32' : 'int32';
  return { dtype, shape: [...t.shape], data: t.dtype === 'f32' ? (d as Float32Array) : Int32Array.from(d) };
}

export interface CheckpointMeta {
  [key: string]: unknown;
}

/** The `format` every glass-ts checkpoint carries in its metadata. */
export const CHECKPOINT_FORMAT = 'glass-ts/1';

/** Host copies of the tensors of `sd` under `prefix.`; the state dict's views are freed here. */
async function addState(tensors: Map<string, CpuTensor>, prefix: string, sd: Record<string, E.Tensor>): Promise<void> {
  try {
    for (const [k, v] of Object.entries(sd)) tensors.set(`${prefix}.${k}`, await toCpu(v));
  } finally {
    for (const v of Object.values(sd)) v.dispose();
  }
}

/** The model's weights (heads, BatchNorm statistics, centre) as host tensors, by checkpoint key. */
export async function snapshotWeights(glass: Glass): Promise<Map<string, CpuTensor>> {
  const tensors = new Map<string, CpuTensor>();
  await addState(tensors, 'discriminator', glass.discriminator.stateDict());
  if (glass.projection) await addState(tensors, 'pre_projection', glass.projection.stateDict());
  if (glass.center) tensors.set('center', await toCpu(glass.center));
  return tensors;
}

/**
 * What a checkpoint of the model holds (with `withOptimizers` its optimiser states too);
 * `bestWeights`, a snapshot of an earlier epoch, is stored beside them under `best.*`, and
 * `liveWeights`, the trained weights of a run whose model holds their average, under `live.*`.
 */
export async function checkpointContent(
  glass: Glass,
  meta: CheckpointMeta = {},
  withOptimizers = false,
  bestWeights: Map<string, CpuTensor> | null = null,
  liveWeights: Map<string, CpuTensor> | null = null,
): Promise<SafetensorsContent> {
  const tensors = await snapshotWeights(glass);
  const metadata: Record<string, string> = { format: CHECKPOINT_FORMAT, meta: JSON.stringify(meta) };
  if (withOptimizers) {
    const opts: [string, E.optim.Adam | E.optim.AdamW | null][] = [
      ['proj', glass.projOpt],
      ['dsc', glass.dscOpt],
    ];
    const info: Record<string, unknown> = {};
    for (const [name, opt] of opts) {
      if (!opt) continue;
      const sd = opt.stateDict();
      const scalars: Record<string, Record<string, number>> = {};
      try {
        for (const [i, entry] of Object.entries(sd.state)) {
          for (const [k, v] of Object.entries(entry)) {
            if (typeof v === 'number') (scalars[i] ??= {})[k] = v;
            else tensors.set(`opt.${name}.state.${i}.${k}`, await toCpu(v));
          }
        }
      } finally {
        for (const entry of Object.values(sd.state)) for (const v of Object.values(entry)) if (typeof v !== 'number') v.dispose();
      }
      info[name] = { param_groups: sd.param_groups, scalars };
    }
    metadata.optimizers = JSON.stringify(info);
  }
  if (bestWeights) for (const [k, v] of bestWeights) tensors.set(`best.${k}`, v);
  if (liveWeights) for (const [k, v] of liveWeights) tensors.set(`live.${k}`, v);
  return { tensors, metadata };
}

/** The model as a checkpoint file's bytes (the CLI's saveCheckpoint writes the same bytes). */
export async function checkpointBytes(
  glass: Glass,
  meta: CheckpointMeta = {},
  withOptimizers = false,
  bestWeights: Map<string, CpuTensor> | null = null,
  liveWeights: Map<string, CpuTensor> | null = null,
): Promise<Uint8Array> {
  const { tensors, metadata } = await checkpointContent(glass, meta, withOptimizers, bestWeights, liveWeights);
  return serializeSafetensors(tensors, metadata);
}

/** The metadata of a checkpoint of a weights snapshot (no optimiser state). */
export function weightsCheckpointMetadata(meta: CheckpointMeta): Record<string, string> {
  return { format: CHECKPOINT_FORMAT, meta: JSON.stringify(meta) };
}

/** A checkpoint of a weights snapshot (no optimiser state), as bytes. */
export function weightsCheckpointBytes(weights: Map<string, CpuTensor>, meta: CheckpointMeta): Uint8Array {
  return serializeSafetensors(weights, weightsCheckpointMetadata(meta));
}

function isWeightKey(k: string): boolean {
  return k === 'center' || k.startsWith('discriminator.') || k.startsWith('pre_projection.');
}

/**
 * The best epoch's weights a resume checkpoint carries: its `best.*` tensors, or its own weights
 * when its best epoch is its last; null when it has neither (files written before they were stored).
 */
export function bestWeightsOf({ tensors, metadata }: SafetensorsContent): Map<string, CpuTensor> | null {
  const best = new Map<string, CpuTensor>();
  for (const [k, v] of tensors) if (k.startsWith('best.')) best.set(k.slice(5), v);
  if (best.size) return best;
  const meta = JSON.parse(metadata?.meta ?? '{}') as { epoch?: number; best?: { epoch?: number } };
  if (meta.best?.epoch === undefined || meta.best.epoch !== meta.epoch) return null;
  return weightsOf({ tensors, metadata });
}

/** The trained (not averaged) weights a resume checkpoint of an --ema run carries under `live.*`; null without. */
export function liveWeightsOf({ tensors }: SafetensorsContent): Map<string, CpuTensor> | null {
  const live = new Map<string, CpuTensor>();
  for (const [k, v] of tensors) if (k.startsWith('live.')) live.set(k.slice(5), v);
  return live.size ? live : null;
}

/** Loads weights by checkpoint key (a snapshot, `best.*` or `live.*` stripped of the prefix) into the heads. */
export function loadWeights(glass: Glass, weights: Map<string, CpuTensor>): void {
  glass.discriminator.loadStateDict(host(prefixed(weights, 'discriminator')));
  if (glass.projection) glass.projection.loadStateDict(host(prefixed(weights, 'pre_projection')));
}

/** A glass-ts checkpoint's model weights (no optimiser state), by checkpoint key. */
export function weightsOf({ tensors }: SafetensorsContent): Map<string, CpuTensor> {
  const out = new Map<string, CpuTensor>();
  for (const [k, v] of tensors) if (isWeightKey(k)) out.set(k, v);
  return out;
}

export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  hasOptimizers: boolean;
}

function prefixed(all: Map<string, CpuTensor>, prefix: string): Map<string, CpuTensor> {
  const out = new Map<string, CpuTensor>();
  for (const [k, v] of all) if (k.startsWith(prefix + '.')) out.set(k.slice(prefix.length + 1), v);
  return out;
}

function host(m: Map<string, CpuTensor>) {
  return new Map([...m].map(([k, v]) => [k, { shape: v.shape, data: v.data as Float32Array | Int32Array }]));
}

/** The entries of a torch file that is not a GLASS checkpoint, summarised (a backbone's state dict has over a hundred). */
function notGlassPth(label: string, tree: unknown): Error {
  const keys = tree instanceof Map ? [...flattenTensors(tree).keys()] : [];
  const backbone = keys.some((k) => /^(conv1|bn1|layer\d|fc)\./.test(k) || /^features\./.test(k));
  const shown = keys.slice(0, 4).join(', ');
  return new Error(
    `${label}: not a GLASS checkpoint (no 'discriminator' entry)` +
      (keys.length ? `: its ${keys.length} tensors start ${shown}${keys.length > 4 ? ', ...' : ''}` : '') +
      (backbone ? '. It looks like backbone weights (pass those with --weights), not a trained GLASS model' : ''),
  );
}

/** Loads the reference's checkpoint ({discriminator, pre_projection}, read by readTorch) into `glass`. */
export function loadReferenceCheckpoint(glass: Glass, tree: unknown, label: string): LoadedCheckpoint {
  if (!(tree instanceof Map) || !tree.has('discriminator')) throw notGlassPth(label, tree);
  glass.discriminator.loadStateDict(host(flattenTensors(tree.get('discriminator'))));
  if (glass.projection) {
    if (!tree.has('pre_projection'))
      throw new Error(`${label}: no 'pre_projection' entry, but the model has a projection (--pre_proj 0 for a checkpoint without one)`);
    glass.projection.loadStateDict(host(flattenTensors(tree.get('pre_projection'))));
  }
  return { meta: { source: 'reference .pth' }, hasOptimizers: false };
}

/** Loads a parsed glass-ts checkpoint into `glass` (strict keys); `label` names it in errors. */
export function loadCheckpointContent(glass: Glass, { tensors, metadata }: SafetensorsContent, label: string): LoadedCheckpoint {
  if (metadata?.format !== CHECKPOINT_FORMAT) throw new Error(`${label}: not a glass-ts checkpoint (metadata format ${metadata?.format ?? 'missing'})`);
  loadWeights(glass, tensors);
  const c = tensors.get('center');
  if (c) {
    glass.center?.dispose();
    glass.center = E.keep(E.tensor(c.data as Float32Array, { shape: c.shape }));
  }
  let hasOptimizers = false;
  if (metadata.optimizers) {
    const info = JSON.parse(metadata.optimizers) as Record<
      string,
      { param_groups: Record<string, unknown>[]; scalars: Record<string, Record<string, number>> }
    >;
    const opts: [string, E.optim.Adam | E.optim.AdamW | null][] = [
      ['proj', glass.projOpt],
      ['dsc', glass.dscOpt],
    ];
    for (const [name, opt] of opts) {
      const o = info[name];
      if (!opt || !o) continue;
      const state: Record<string, Record<string, { shape: number[]; data: Float32Array } | number>> = {};
      for (const [i, sc] of Object.entries(o.scalars)) state[i] = { ...sc };
      for (const [k, v] of prefixed(tensors, `opt.${name}.state`)) {
        const [i, key] = [k.slice(0, k.indexOf('.')), k.slice(k.indexOf('.') + 1)];
        (state[i] ??= {})[key] = { shape: v.shape, data: v.data as Float32Array };
      }
      opt.loadStateDict({ state, param_groups: o.param_groups });
      hasOptimizers = true;
    }
  }
  return { meta: JSON.parse(metadata.meta ?? '{}') as CheckpointMeta, hasOptimizers };
}

/** Whether checkpoint bytes are a torch.save file (the reference's .pth) rather than safetensors. */
function isTorchFile(bytes: Uint8Array): boolean {
  return looksLikeZip(bytes) || (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5);
}

/**
 * Loads a glass-ts checkpoint or a reference `.pth` from its bytes into `glass` (strict keys);
 * `label` names it in errors.
 */
export function loadCheckpointBytes(glass: Glass, bytes: Uint8Array, label = '<buffer>'): LoadedCheckpoint {
  if (isTorchFile(bytes)) return loadReferenceCheckpoint(glass, readTorch(bytes, { int64: 'int32', label }), label);
  return loadCheckpointContent(glass, parseSafetensors(bytes, label), label);
}

/** The ModelSpec in a glass-ts checkpoint's metadata; null for checkpoints written before it was stored. */
export function specOf(metadata: Record<string, string>, label: string): ModelSpec | null {
  if (metadata?.format !== CHECKPOINT_FORMAT) throw new Error(`${label}: not a glass-ts checkpoint (metadata format ${metadata?.format ?? 'missing'})`);
  const meta = JSON.parse(metadata.meta ?? '{}') as { model?: ModelSpec };
  return meta.model ?? null;
}

/** The ModelSpec of checkpoint bytes; null for older checkpoints and the reference's .pth files. */
export function checkpointSpecFromBytes(bytes: Uint8Array, label = '<buffer>'): ModelSpec | null {
  if (isTorchFile(bytes)) return null;
  return specOf(parseSafetensors(bytes, label).metadata, label);
}
