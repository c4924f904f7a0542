// GLASS checkpoint files (Node): written atomically (temp file + fsync + rename), read back into a
// model, by path. The format, its keys and metadata are checkpoint-bytes.ts's, re-exported here.
// A path ending in .pth or .pt is the reference's own checkpoint ({discriminator, pre_projection}).
import { loadTorch, readSafetensors, writeSafetensors } from '../models/io/files.ts';
import type { CpuTensor } from '../models/io/types.ts';
import {
  bestWeightsOf,
  checkpointContent,
  loadCheckpointContent,
  loadReferenceCheckpoint,
  specOf,
  weightsCheckpointMetadata,
  weightsOf,
  liveWeightsOf,
  type CheckpointMeta,
  type LoadedCheckpoint,
} from './checkpoint-bytes.ts';
import type { Glass } from './glass.ts';
import type { ModelSpec } from './model-spec.ts';

export * from './checkpoint-bytes.ts';

const isPth = (path: string) => path.endsWith('.pth') || path.endsWith('.pt');

/**
 * Saves the model (and with `withOptimizers` its optimiser states); `bestWeights`, a snapshot of
 * an earlier epoch, is stored beside them under `best.*`, `liveWeights` under `live.*`
 * (checkpoint-bytes.ts).
 */
export async function saveCheckpoint(
  glass: Glass,
  path: string,
  meta: CheckpointMeta = {},
  withOptimizers = false,
  bestWeights: Map<string, CpuTensor> | null = null,
  liveWeights: Map<string, CpuTensor> | null = null,
): Promise<void> {
  const { tensors, metadata } = await checkpointContent(glass, meta, withOptimizers, bestWeights, liveWeights);
  writeSafetensors(path, tensors, metadata);
}

/** Writes a checkpoint of a weights snapshot (no optimiser state). */
export function writeWeightsCheckpoint(path: string, weights: Map<string, CpuTensor>, meta: CheckpointMeta): void {
  writeSafetensors(path, weights, weightsCheckpointMetadata(meta));
}

/** The best epoch's weights a resume file carries; see bestWeightsOf. */
export function readBestWeights(path: string): Map<string, CpuTensor> | null {
  return bestWeightsOf(readSafetensors(path));
}

/** The trained weights of an --ema run's resume file; see liveWeightsOf. */
export function readLiveWeights(path: string): Map<string, CpuTensor> | null {
  return liveWeightsOf(readSafetensors(path));
}

/** A glass-ts checkpoint's model weights (no optimiser state), by checkpoint key. */
export function readWeights(path: string): Map<string, CpuTensor> {
  return weightsOf(readSafetensors(path));
}

/** Loads a glass-ts safetensors checkpoint or a reference `.pth` into `glass` (strict keys). */
export function loadCheckpoint(glass: Glass, path: string): LoadedCheckpoint {
  if (isPth(path)) return loadReferenceCheckpoint(glass, loadTorch(path, { int64: 'int32' }), path);
  return loadCheckpointContent(glass, readSafetensors(path), path);
}

/** The ModelSpec in a glass-ts checkpoint's metadata; null for older checkpoints and reference .pth files. */
export function readCheckpointSpec(path: string): ModelSpec | null {
  if (isPth(path)) return null;
  return specOf(readSafetensors(path).metadata, path);
}
