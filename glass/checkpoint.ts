// GLASS checkpoints. Ours are safetensors, written atomically (temp file + fsync + rename):
// `discriminator.*` and `pre_projection.*` with the reference's key names, optionally the
// optimiser states (`opt.<name>.state.<i>.<key>`, hyperparameters and steps in metadata) so a
// run can resume, and the training record in metadata. The reference's own `.pth` checkpoints
// ({discriminator, pre_projection}) load too, for evaluation.
import * as E from '../engine/index.ts';
import { readSafetensors, writeSafetensors } from '../models/io/safetensors.ts';
import { loadStateDict as loadTorch } from '../models/io/torch.ts';
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

export async function saveCheckpoint(glass: Glass, path: string, meta: CheckpointMeta = {}, withOptimizers = false): Promise<void> {
  const tensors = new Map<string, CpuTensor>();
  const add = async (prefix: string, sd: Record<string, E.Tensor>) => {
    for (const [k, v] of Object.entries(sd)) tensors.set(`${prefix}.${k}`, await toCpu(v));
  };
  await add('discriminator', glass.discriminator.stateDict());
  if (glass.projection) await add('pre_projection', glass.projection.stateDict());
  const metadata: Record<string, string> = { format: 'glass-ts/1', meta: JSON.stringify(meta) };
  if (withOptimizers) {
    const opts: [string, E.optim.Adam | E.optim.AdamW | null][] = [['proj', glass.projOpt], ['dsc', glass.dscOpt]];
    const info: Record<string, unknown> = {};
    for (const [name, opt] of opts) {
      if (!opt) continue;
      const sd = opt.stateDict();
      const scalars: Record<string, Record<string, number>> = {};
      for (const [i, entry] of Object.entries(sd.state)) {
        for (const [k, v] of Object.entries(entry)) {
          if (typeof v === 'number') (scalars[i] ??= {})[k] = v;
          else tensors.set(`opt.${name}.state.${i}.${k}`, await toCpu(v));
        }
      }
      info[name] = { param_groups: sd.param_groups, scalars };
    }
    metadata.optimizers = JSON.stringify(info);
  }
  if (glass.center) tensors.set('center', await toCpu(glass.center));
  writeSafetensors(path, tensors, metadata);
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

/** Loads a glass-ts safetensors checkpoint or a reference `.pth` into `glass` (strict keys). */
export function loadCheckpoint(glass: Glass, path: string): LoadedCheckpoint {
  if (path.endsWith('.pth') || path.endsWith('.pt')) {
    const dsc = loadTorch(path, { prefix: 'discriminator', int64: 'int32' });
    glass.discriminator.loadStateDict(host(dsc));
    if (glass.projection) glass.projection.loadStateDict(host(loadTorch(path, { prefix: 'pre_projection', int64: 'int32' })));
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
