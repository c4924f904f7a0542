// Backbones by name, as GLASS's CLI names them: wideresnet50, resnet18, resnet50 (torchvision
// .pth weights: a path, or the weight cache filled by `npm run glass -- weights`), and
// mobilenet_v1 (a TensorFlow.js layers folder). `random: true` builds the same network with
// seeded random weights (He-normal convs, identity BatchNorm): for tests and a demo fallback.
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Backbone } from './backbone.ts';
import { ResNet, RESNET_CONFIGS, resnetKeys, type WeightMap } from './resnet.ts';
import { MobileNetV1, MOBILENET_BLOCKS } from './mobilenet.ts';
import { loadStateDict } from './io/torch.ts';
import { resolveBackbone, defaultWeightsDir } from './weights-cache.ts';
import type { CpuTensor } from './io/types.ts';
import type { TfjsModel } from './io/tfjs.ts';

export const BACKBONES = ['wideresnet50', 'resnet18', 'resnet50', 'mobilenet_v1'] as const;
export type BackboneName = (typeof BACKBONES)[number];

const TORCHVISION_ARCH: Record<string, string> = { wideresnet50: 'wide_resnet50_2', resnet18: 'resnet18', resnet50: 'resnet50' };

export interface BackboneOptions {
  /** .pth file (ResNets) or tfjs model folder (MobileNetV1). */
  weights?: string;
  /** Seeded random weights instead of pretrained ones. */
  random?: boolean;
  seed?: number;
  foldBn?: boolean;
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

/** Where the weight cache keeps a torchvision file for `name`, if it is there. */
export function cachedTorchvisionFile(name: string): string | null {
  const info = resolveBackbone(name);
  const p = join(defaultWeightsDir(), basename(new URL(info.url).pathname));
  return existsSync(p) ? p : null;
}

export function createBackbone(name: string, opts: BackboneOptions = {}): Backbone {
  const foldBn = opts.foldBn ?? true;
  if (name === 'mobilenet_v1') {
    if (opts.random) return new MobileNetV1(randomMobilenetModel(opts.seed ?? 0), { foldBn });
    if (!opts.weights) throw new Error('mobilenet_v1: pass --weights <tfjs model folder> (e.g. ../shared/weights/mobilenet_v1_1.0_224)');
    if (!existsSync(opts.weights) || !statSync(opts.weights).isDirectory())
      throw new Error(`mobilenet_v1: weights folder ${opts.weights} not found (expected model.json and shard files)`);
    return MobileNetV1.load(opts.weights, { foldBn });
  }
  const arch = TORCHVISION_ARCH[name] ?? (Object.values(TORCHVISION_ARCH).includes(name) ? name : null);
  if (!arch) throw new Error(`unknown backbone '${name}' (available: ${BACKBONES.join(', ')})`);
  if (opts.random) return new ResNet(name, RESNET_CONFIGS[arch], randomResnetWeights(arch, opts.seed ?? 0), { foldBn });
  const file = opts.weights ?? cachedTorchvisionFile(name);
  if (!file)
    throw new Error(`${name}: no weights. Run \`npm run glass -- weights --backbone ${name}\` (downloads, or --from FILE imports a local copy), or pass --weights FILE.pth`);
  return new ResNet(name, RESNET_CONFIGS[arch], loadStateDict(file, { int64: 'int32' }), { foldBn });
}
