// Backbones by name from weights in memory: the ResNets from a torchvision state dict (.pth or
// .safetensors bytes), MobileNetV1 from a TensorFlow.js layers model (model.json and its shards),
// or seeded random weights (He-normal convs, identity BatchNorm) for tests and a demo fallback.
// Host-neutral: registry.ts adds what needs Node (weight files, the weight cache).
import type { Backbone } from './backbone.ts';
import { ResNet, RESNET_CONFIGS, resnetKeys, type WeightMap } from './resnet.ts';
import { MobileNetV1, MOBILENET_BLOCKS } from './mobilenet.ts';
import { parseSafetensors } from './io/safetensors.ts';
import { parseTfjsLayersModel, type TfjsModel } from './io/tfjs.ts';
import { readStateDict } from './io/torch.ts';
import type { CpuTensor } from './io/types.ts';
import { looksLikeZip } from './io/zip.ts';

export const BACKBONES = ['wideresnet50', 'resnet18', 'resnet50', 'mobilenet_v1'] as const;
export type BackboneName = (typeof BACKBONES)[number];

const TORCHVISION_ARCH: Record<string, string> = { wideresnet50: 'wide_resnet50_2', resnet18: 'resnet18', resnet50: 'resnet50' };

/** The torchvision architecture of a ResNet backbone name (GLASS's or torchvision's), else null. */
export function resnetArch(name: string): string | null {
  return TORCHVISION_ARCH[name] ?? (Object.values(TORCHVISION_ARCH).includes(name) ? name : null);
}

function unknownBackbone(name: string): Error {
  return new Error(`unknown backbone '${name}' (available: ${BACKBONES.join(', ')})`);
}

/** Deterministic normal samples (Box-Muller over a xorshift stream). */
function normals(n: number, std: number, seed: number): Float32Array {
  let s = seed >>> 0 || 0x9e3779b9;
  const u = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 2 ** 32;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const th = 2 * Math.PI * u();
    out[i] = r * Math.cos(th) * std;
    if (i + 1 < n) out[i + 1] = r * Math.sin(th) * std;
  }
  return out;
}

function cpu(shape: number[], data: Float32Array): CpuTensor {
  return { dtype: 'float32', shape, data };
}

export function randomResnetWeights(arch: string, seed = 0): WeightMap {
  const cfg = RESNET_CONFIGS[arch];
  const m: WeightMap = new Map();
  let k = 0;
  for (const [name, shape] of resnetKeys(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (name.endsWith('num_batches_tracked')) continue;
    if (shape.length === 4) m.set(name, cpu(shape, normals(n, Math.sqrt(2 / (shape[1] * shape[2] * shape[3])), seed + ++k)));
    else if (name.endsWith('running_var') || (name.endsWith('.weight') && shape.length === 1)) m.set(name, cpu(shape, new Float32Array(n).fill(1)));
    else if (name.startsWith('fc.weight')) m.set(name, cpu(shape, normals(n, 0.01, seed + ++k)));
    else m.set(name, cpu(shape, new Float32Array(n)));
  }
  return m;
}

export function randomMobilenetModel(seed = 0): TfjsModel {
  const w = new Map<string, CpuTensor>();
  let k = 0;
  const bn = (p: string, c: number) => {
    w.set(`${p}/gamma`, cpu([c], new Float32Array(c).fill(1)));
    w.set(`${p}/beta`, cpu([c], new Float32Array(c)));
    w.set(`${p}/moving_mean`, cpu([c], new Float32Array(c)));
    w.set(`${p}/moving_variance`, cpu([c], new Float32Array(c).fill(1)));
  };
  w.set('conv1/kernel', cpu([3, 3, 3, 32], normals(3 * 3 * 3 * 32, Math.sqrt(2 / 27), seed + ++k)));
  bn('conv1_bn', 32);
  let cin = 32;
  MOBILENET_BLOCKS.forEach(([cout], i) => {
    const b = i + 1;
    w.set(`conv_dw_${b}/depthwise_kernel`, cpu([3, 3, cin, 1], normals(9 * cin, Math.sqrt(2 / 9), seed + ++k)));
    bn(`conv_dw_${b}_bn`, cin);
    w.set(`conv_pw_${b}/kernel`, cpu([1, 1, cin, cout], normals(cin * cout, Math.sqrt(2 / cin), seed + ++k)));
    bn(`conv_pw_${b}_bn`, cout);
    cin = cout;
  });
  return { dir: '(random)', layers: [], weights: w, manifest: [], missing: [], topology: null };
}

export interface BuildOptions {
  /** Fold BatchNorm into the convolutions (default true). */
  foldBn?: boolean;
}

/** The backbone `name` with seeded random weights. */
export function randomBackbone(name: string, seed = 0, opts: BuildOptions = {}): Backbone {
  const foldBn = opts.foldBn ?? true;
  if (name === 'mobilenet_v1') return new MobileNetV1(randomMobilenetModel(seed), { foldBn });
  const arch = resnetArch(name);
  if (!arch) throw unknownBackbone(name);
  return new ResNet(name, RESNET_CONFIGS[arch], randomResnetWeights(arch, seed), { foldBn });
}

/** The backbone `name` from parsed weights: a ResNet state dict, or MobileNetV1's TF.js model. */
export function backboneFromWeights(name: string, weights: WeightMap | TfjsModel, opts: BuildOptions = {}): Backbone {
  const foldBn = opts.foldBn ?? true;
  if (name === 'mobilenet_v1') {
    if (weights instanceof Map) throw new Error('mobilenet_v1: needs a TF.js layers model (model.json and shards), not a state dict');
    return new MobileNetV1(weights, { foldBn });
  }
  const arch = resnetArch(name);
  if (!arch) throw unknownBackbone(name);
  if (!(weights instanceof Map)) throw new Error(`${name}: needs a torchvision state dict (.pth or .safetensors), not a TF.js model`);
  return new ResNet(name, RESNET_CONFIGS[arch], weights, { foldBn });
}

/**
 * A ResNet state dict from the bytes of a torchvision .pth (zip or legacy pickle) or a
 * .safetensors file; `label` names it in errors.
 */
export function readResnetWeights(bytes: Uint8Array, label = '<buffer>', opts: { maxBytes?: number } = {}): WeightMap {
  const pickled = looksLikeZip(bytes) || (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5);
  if (pickled) return readStateDict(bytes, { int64: 'int32', label, maxBytes: opts.maxBytes });
  return parseSafetensors(bytes, label, opts).tensors;
}

/**
 * A TF.js layers model from its files by name: `model.json` and the shard files its manifest
 * lists (a missing shard's weights land in `missing`, as from a folder).
 */
export function readTfjsModel(
  files: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>,
  label = 'model.json',
  opts: { maxBytes?: number } = {},
): TfjsModel {
  const get = (n: string) => (files instanceof Map ? files.get(n) : (files as Record<string, Uint8Array>)[n]);
  const json = get('model.json');
  if (!json) throw new Error(`tfjs: ${label}: no model.json among the files given`);
  return parseTfjsLayersModel({
    modelJson: new TextDecoder().decode(json),
    label,
    dir: label,
    maxBytes: opts.maxBytes,
    shard: (p) => get(p) ?? get(p.slice(p.lastIndexOf('/') + 1)),
  });
}

/**
 * The backbone `name` from weight files in memory: a ResNet from one .pth or .safetensors file's
 * bytes, MobileNetV1 from its TF.js files by name (see readTfjsModel).
 */
export function backboneFromBytes(
  name: string,
  weights: Uint8Array | ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>,
  opts: BuildOptions & { label?: string; maxBytes?: number } = {},
): Backbone {
  if (name !== 'mobilenet_v1' && !resnetArch(name)) throw unknownBackbone(name);
  if (weights instanceof Uint8Array) {
    if (name === 'mobilenet_v1') throw new Error('mobilenet_v1: needs its TF.js files (model.json and shards) by name, not one file');
    return backboneFromWeights(name, readResnetWeights(weights, opts.label, opts), opts);
  }
  if (name !== 'mobilenet_v1') throw new Error(`${name}: needs the bytes of one .pth or .safetensors file`);
  return backboneFromWeights(name, readTfjsModel(weights, opts.label, opts), opts);
}
