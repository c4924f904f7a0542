// Weight files on disk (Node only): the path-based readers and writers over the in-memory formats
// of safetensors.ts, torch.ts, zip.ts and tfjs.ts. Kept apart so that a browser build of those
// formats never reaches node:fs.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeAll, writeFileAtomic } from './atomic.ts';
import { ByteBudget, maxWeightsBytes } from './limits.ts';
import { MAX_HEADER, parseSafetensors, prepareSafetensors, type SafetensorsContent, type SafetensorsReadOptions, type TensorInput } from './safetensors.ts';
import { parseTfjsLayersModel, type TfjsModel } from './tfjs.ts';
import { readStateDict, readTorch, type TorchLoadOptions } from './torch.ts';
import type { CpuTensor } from './types.ts';
import { ZipArchive, type ZipOptions } from './zip.ts';

export function readSafetensors(path: string, opts: SafetensorsReadOptions = {}): SafetensorsContent {
  // Refuse a file that cannot fit before reading all of it into memory.
  const size = statSync(path).size;
  const limit = maxWeightsBytes(opts.maxBytes);
  if (size > 8 + MAX_HEADER + limit) {
    throw new Error(`safetensors: ${path}: ${new ByteBudget(limit).take(size, `a ${size}-byte file`)}`);
  }
  return parseSafetensors(readFileSync(path), path, opts);
}

/**
 * Writes a safetensors file atomically: validation happens before anything touches the disk, and
 * the bytes stream into a temp file that replaces `path` only once complete and fsynced.
 */
export function writeSafetensors(path: string, tensors: TensorInput, metadata?: Record<string, string>): void {
  const { head, parts } = prepareSafetensors(tensors, metadata);
  writeFileAtomic(path, (fd) => {
    writeAll(fd, head);
    for (const p of parts) writeAll(fd, p);
  });
}

/** Reads a .pth/.pt file; see readTorch. */
export function loadTorch(path: string, opts: TorchLoadOptions = {}): unknown {
  return readTorch(readFileSync(path), { ...opts, label: path });
}

/** A .pth/.pt file's tensors as one flat name -> tensor map; see readStateDict. */
export function loadStateDict(path: string, opts: TorchLoadOptions & { prefix?: string } = {}): Map<string, CpuTensor> {
  return readStateDict(readFileSync(path), { ...opts, label: path });
}

export function openZip(path: string, opts: ZipOptions = {}): ZipArchive {
  return new ZipArchive(readFileSync(path), path, opts);
}

/**
 * Loads a TF.js layers model from its model.json (or the folder holding it). Throws only when
 * model.json itself is unusable; unreadable weights are reported in `missing`.
 */
export function loadTfjsLayersModel(path: string, opts: { maxBytes?: number } = {}): TfjsModel {
  maxWeightsBytes(opts.maxBytes); // a bad limit is reported before anything is read
  const isDir = existsSync(path) ? statSync(path).isDirectory() : !path.endsWith('.json');
  const jsonPath = isDir ? join(path, 'model.json') : path;
  const dir = dirname(resolve(jsonPath));
  if (!existsSync(jsonPath)) throw new Error(`tfjs: ${jsonPath} not found`);
  let modelJson: string;
  try {
    modelJson = readFileSync(jsonPath, 'utf8');
  } catch (err) {
    throw new Error(`tfjs: ${jsonPath}: not valid JSON: ${(err as Error).message}`);
  }
  return parseTfjsLayersModel({
    modelJson,
    label: jsonPath,
    dir,
    maxBytes: opts.maxBytes,
    shard: (p) => (existsSync(join(dir, p)) ? readFileSync(join(dir, p)) : undefined),
  });
}
