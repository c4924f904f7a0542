// Backbones by name, as GLASS's CLI names them: wideresnet50, resnet18, resnet50 (torchvision
// .pth weights: a path, or the weight cache filled by `npm run glass -- weights`), and
// mobilenet_v1 (a TensorFlow.js layers folder). `random: true` builds the same network with
// seeded random weights (He-normal convs, identity BatchNorm): for tests and a demo fallback.
// Node only (files and the weight cache); backbones.ts builds them from weights in memory.
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Backbone } from './backbone.ts';
import { BACKBONES, backboneFromWeights, randomBackbone, resnetArch } from './backbones.ts';
import { loadStateDict, loadTfjsLayersModel } from './io/files.ts';
import { resolveBackbone, defaultWeightsDir } from './weights-cache.ts';

export * from './backbones.ts';

export interface BackboneOptions {
  /** .pth file (ResNets) or tfjs model folder (MobileNetV1). */
  weights?: string;
  /** Seeded random weights instead of pretrained ones. */
  random?: boolean;
  seed?: number;
  foldBn?: boolean;
}

/** Where the weight cache keeps a torchvision file for `name`, if it is there. */
export function cachedTorchvisionFile(name: string): string | null {
  const info = resolveBackbone(name);
  const p = join(defaultWeightsDir(), basename(new URL(info.url).pathname));
  return existsSync(p) ? p : null;
}

export function createBackbone(name: string, opts: BackboneOptions = {}): Backbone {
  const foldBn = opts.foldBn ?? true;
  if (name === 'mobilenet_v1') {
    if (opts.random) return randomBackbone(name, opts.seed ?? 0, { foldBn });
    if (!opts.weights) throw new Error('mobilenet_v1: pass --weights <tfjs model folder> (e.g. ../shared/weights/mobilenet_v1_1.0_224)');
    if (!existsSync(opts.weights) || !statSync(opts.weights).isDirectory())
      throw new Error(`mobilenet_v1: weights folder ${opts.weights} not found (expected model.json and shard files)`);
    return backboneFromWeights(name, loadTfjsLayersModel(opts.weights), { foldBn });
  }
  if (!resnetArch(name)) throw new Error(`unknown backbone '${name}' (available: ${BACKBONES.join(', ')})`);
  if (opts.random) return randomBackbone(name, opts.seed ?? 0, { foldBn });
  const file = opts.weights ?? cachedTorchvisionFile(name);
  if (!file)
    throw new Error(
      `${name}: no weights. Run \`npm run glass -- weights --backbone ${name}\` (downloads, or --from FILE imports a local copy), or pass --weights FILE.pth`,
    );
  return backboneFromWeights(name, loadStateDict(file, { int64: 'int32' }), { foldBn });
}
