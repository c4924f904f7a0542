// GLASS checkpoints. Ours are safetensors, written atomically (temp file + fsync + rename):
// `discriminator.*` and `pre_projection.*` with the reference's key names, optionally the
// optimiser states (`opt.<name>.state.<i>.<key>`, hyperparameters and steps in metadata) so a
// run can resume, and the training record in metadata. The reference's own `.pth` checkpoints
// ({discriminator, pre_projection}) load too, for evaluation.
//
// The resume file (ckpt.safetensors) also carries the weights of the best epoch so far under
// `best.*` (left out when the best epoch is the saved one: then they are the main weights), so
// that a run resumed into a fresh --out reports and keeps the same best epoch as an uninterrupted
// one, from that one file. Epoch numbers in checkpoint metadata (`epoch`, `best.epoch`) are
// 0-based, as the training loop counts (metadata `epoch_base: 0` says so); everything a user reads
// (logs, metrics.json, results.csv) numbers epochs from 1.
import * as E from '../engine/index.ts';
import { readSafetensors, writeSafetensors } from '../models/io/safetensors.ts';
import { loadTorch, flattenTensors } from '../models/io/torch.ts';
import type { CpuTensor } from '../models/io/types.ts';
import type { Glass } from './glass.ts';

async function toCpu(t: E.Tensor): Promise<CpuTensor> {
  const d = await t.data();
  const dtype = t.dtype === 'f32' ? 'float32' : 'int32';
  return { dtype, shape: [...t.shape], data: t.dtype === 'f32' ? (d as Float32Array) : Int32Array.from(d) };
}

export interface CheckpointMeta {
  [key: string]: unknown;
}

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
 * Saves the model (and with `withOptimizers` its optimiser states); `bestWeights`, a snapshot of
 * an earlier epoch, is stored beside them under `best.*`.
 */
export async function saveCheckpoint(
  glass: Glass,
  path: string,
  meta: CheckpointMeta = {},
  withOptimizers = false,
  bestWeights: Map<string, CpuTensor> | null = null,
): Promise<void> {
  const tensors = await snapshotWeights(glass);
  const metadata: Record<string, string> = { format: 'glass-ts/1', meta: JSON.stringify(meta) };
  if (withOptimizers) {
    const opts: [string, E.optim.Adam | E.optim.AdamW | null][] = [['proj', glass.projOpt], ['dsc', glass.dscOpt]];
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
  writeSafetensors(path, tensors, metadata);
}

/** Writes a checkpoint of a weights snapshot (no optimiser state). */
export function writeWeightsCheckpoint(path: string, weights: Map<string, CpuTensor>, meta: CheckpointMeta): void {
  writeSafetensors(path, weights, { format: 'glass-ts/1', meta: JSON.stringify(meta) });
}

function isWeightKey(k: string): boolean {
  return k === 'center' || k.startsWith('discriminator.') || k.startsWith('pre_projection.');
}

/**
 * The best epoch's weights a resume file carries: its `best.*` tensors, or its own weights when
 * its best epoch is its last; null when it has neither (files written before they were stored).
 */
export function readBestWeights(path: string): Map<string, CpuTensor> | null {
  const { tensors, metadata } = readSafetensors(path);
  const best = new Map<string, CpuTensor>();
  for (const [k, v] of tensors) if (k.startsWith('best.')) best.set(k.slice(5), v);
  if (best.size) return best;
  const meta = JSON.parse(metadata?.meta ?? '{}') as { epoch?: number; best?: { epoch?: number } };
  if (meta.best?.epoch === undefined || meta.best.epoch !== meta.epoch) return null;
  return readWeights(path);
}

/** A glass-ts checkpoint's model weights (no optimiser state), by checkpoint key. */
export function readWeights(path: string): Map<string, CpuTensor> {
  const out = new Map<string, CpuTensor>();
  for (const [k, v] of readSafetensors(path).tensors) if (isWeightKey(k)) out.set(k, v);
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
function notGlassPth(path: string, tree: unknown): Error {
  const keys = tree instanceof Map ? [...flattenTensors(tree).keys()] : [];
  const backbone = keys.some((k) => /^(conv1|bn1|layer\d|fc)\./.test(k) || /^features\./.test(k));
  const shown = keys.slice(0, 4).join(', ');
  return new Error(
    `${path}: not a GLASS checkpoint (no 'discriminator' entry)` +
      (keys.length ? `: its ${keys.length} tensors start ${shown}${keys.length > 4 ? ', ...' : ''}` : '') +
      (backbone ? '. It looks like backbone weights (pass those with --weights), not a trained GLASS model' : ''),
  );
}

/** Loads a glass-ts safetensors checkpoint or a reference `.pth` into `glass` (strict keys). */
export function loadCheckpoint(glass: Glass, path: string): LoadedCheckpoint {
  if (path.endsWith('.pth') || path.endsWith('.pt')) {
    const tree = loadTorch(path, { int64: 'int32' });
    if (!(tree instanceof Map) || !tree.has('discriminator')) throw notGlassPth(path, tree);
    glass.discriminator.loadStateDict(host(flattenTensors(tree.get('discriminator'))));
    if (glass.projection) {
      if (!tree.has('pre_projection')) throw new Error(`${path}: no 'pre_projection' entry, but the model has a projection (--pre_proj 0 for a checkpoint without one)`);
      glass.projection.loadStateDict(host(flattenTensors(tree.get('pre_projection'))));
    }
    return { meta: { source: 'reference .pth' }, hasOptimizers: false };
  }
  const { tensors, metadata } = readSafetensors(path);
  if (metadata?.format !== 'glass-ts/1') throw new Error(`${path}: not a glass-ts checkpoint (metadata format ${metadata?.format ?? 'missing'})`);
  glass.discriminator.loadStateDict(host(prefixed(tensors, 'discriminator')));
  if (glass.projection) glass.projection.loadStateDict(host(prefixed(tensors, 'pre_projection')));
  const c = tensors.get('center');
  if (c) {
    glass.center?.dispose();
    glass.center = E.keep(E.tensor(c.data as Float32Array, { shape: c.shape }));
  }
  let hasOptimizers = false;
  if (metadata.optimizers) {
    const info = JSON.parse(metadata.optimizers) as Record<string, { param_groups: Record<string, unknown>[]; scalars: Record<string, Record<string, number>> }>;
    const opts: [string, E.optim.Adam | E.optim.AdamW | null][] = [['proj', glass.projOpt], ['dsc', glass.dscOpt]];
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
