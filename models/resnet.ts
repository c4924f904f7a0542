// torchvision-compatible ResNets (resnet18, resnet50, wide_resnet50_2 and scaled-down variants
// for tests): same state_dict keys and shapes as torchvision, eval-mode forward with named taps
// (layer1..layer4) that stops after the last requested one. BatchNorm is frozen and optionally
// folded into the convolutions.
import * as E from '../engine/index.ts';
import { ConvBn, type BnParams } from './eval-bn.ts';
import { lastTapIndex, IMAGENET_MEAN, IMAGENET_STD, type Backbone } from './backbone.ts';
import type { CpuTensor } from './io/types.ts';

export interface ResNetConfig {
  block: 'BasicBlock' | 'Bottleneck';
  layers: [number, number, number, number];
  planes?: [number, number, number, number];
  stemWidth?: number;
  groups?: number;
  widthPerGroup?: number;
  numClasses?: number;
  bnEps?: number;
}

export const RESNET_CONFIGS: Record<string, ResNetConfig> = {
  resnet18: { block: 'BasicBlock', layers: [2, 2, 2, 2] },
  resnet50: { block: 'Bottleneck', layers: [3, 4, 6, 3] },
  wide_resnet50_2: { block: 'Bottleneck', layers: [3, 4, 6, 3], widthPerGroup: 128 },
};

interface BlockSpec {
  prefix: string;
  inplanes: number;
  width: number;
  outplanes: number;
  stride: number;
  downsample: boolean;
}

function full(cfg: ResNetConfig) {
  return {
    planes: cfg.planes ?? [64, 128, 256, 512],
    stem: cfg.stemWidth ?? 64,
    groups: cfg.groups ?? 1,
    wpg: cfg.widthPerGroup ?? 64,
    numClasses: cfg.numClasses ?? 1000,
    eps: cfg.bnEps ?? 1e-5,
    expansion: cfg.block === 'Bottleneck' ? 4 : 1,
  };
}

/** The block structure torchvision's _make_layer builds. */
function blocks(cfg: ResNetConfig): BlockSpec[][] {
  const f = full(cfg);
  let inplanes = f.stem;
  return cfg.layers.map((n, li) => {
    const planes = f.planes[li];
    const stride = li === 0 ? 1 : 2;
    const out: BlockSpec[] = [];
    for (let b = 0; b < n; b++) {
      const s = b === 0 ? stride : 1;
      const width = cfg.block === 'Bottleneck' ? Math.floor(planes * (f.wpg / 64)) * f.groups : planes;
      const outplanes = planes * f.expansion;
      out.push({ prefix: `layer${li + 1}.${b}`, inplanes, width, outplanes, stride: s, downsample: b === 0 && (s !== 1 || inplanes !== outplanes) });
      inplanes = outplanes;
    }
    return out;
  });
}

/** state_dict keys and shapes exactly as torchvision names them (num_batches_tracked: []). */
export function resnetKeys(cfg: ResNetConfig): [string, number[]][] {
  const f = full(cfg);
  const keys: [string, number[]][] = [];
  const bn = (p: string, c: number) => {
    for (const k of ['weight', 'bias', 'running_mean', 'running_var']) keys.push([`${p}.${k}`, [c]]);
    keys.push([`${p}.num_batches_tracked`, []]);
  };
  keys.push(['conv1.weight', [f.stem, 3, 7, 7]]);
  bn('bn1', f.stem);
  for (const layer of blocks(cfg)) {
    for (const b of layer) {
      if (cfg.block === 'Bottleneck') {
        keys.push([`${b.prefix}.conv1.weight`, [b.width, b.inplanes, 1, 1]]);
        bn(`${b.prefix}.bn1`, b.width);
        keys.push([`${b.prefix}.conv2.weight`, [b.width, b.width / f.groups, 3, 3]]);
        bn(`${b.prefix}.bn2`, b.width);
        keys.push([`${b.prefix}.conv3.weight`, [b.outplanes, b.width, 1, 1]]);
        bn(`${b.prefix}.bn3`, b.outplanes);
      } else {
        keys.push([`${b.prefix}.conv1.weight`, [b.width, b.inplanes, 3, 3]]);
        bn(`${b.prefix}.bn1`, b.width);
        keys.push([`${b.prefix}.conv2.weight`, [b.outplanes, b.width, 3, 3]]);
        bn(`${b.prefix}.bn2`, b.outplanes);
      }
      if (b.downsample) {
        keys.push([`${b.prefix}.downsample.0.weight`, [b.outplanes, b.inplanes, 1, 1]]);
        bn(`${b.prefix}.downsample.1`, b.outplanes);
      }
    }
  }
  const last = blocks(cfg)[3].at(-1)!.outplanes;
  keys.push(['fc.weight', [f.numClasses, last]], ['fc.bias', [f.numClasses]]);
  return keys;
}

export type WeightMap = Map<string, CpuTensor>;

function f32(w: WeightMap, key: string, shape: number[], model: string): Float32Array {
  const t = w.get(key);
  if (!t) throw new Error(`${model}: weight '${key}' is missing from the state dict`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
    throw new Error(`${model}: weight '${key}' has shape [${t.shape}], expected [${shape}]`);
  if (!(t.data instanceof Float32Array)) throw new Error(`${model}: weight '${key}' must be float32, got ${t.dtype}`);
  return t.data;
}

interface Block {
  convs: ConvBn[];
  down: ConvBn | null;
}

export interface ResNetOptions {
  /** Fold eval BatchNorm into the convs (default true). */
  foldBn?: boolean;
  /** Verify the weight map has exactly torchvision's keys (default true). */
  strict?: boolean;
}

export class ResNet implements Backbone {
  readonly tapNames = ['layer1', 'layer2', 'layer3', 'layer4'] as const;
  readonly defaultTaps = ['layer2', 'layer3'] as const;
  readonly mean = IMAGENET_MEAN;
  readonly std = IMAGENET_STD;
  private stem: ConvBn;
  private layers: Block[][];
  private readonly outChannels: number[];

  constructor(
    readonly name: string,
    readonly cfg: ResNetConfig,
    weights: WeightMap,
    opts: ResNetOptions = {},
  ) {
    const fold = opts.foldBn ?? true;
    const f = full(cfg);
    if (opts.strict ?? true) {
      const expected = new Set(resnetKeys(cfg).map(([k]) => k));
      const missing = [...expected].filter((k) => !weights.has(k) && !k.endsWith('num_batches_tracked'));
      const unexpected = [...weights.keys()].filter((k) => !expected.has(k));
      if (missing.length || unexpected.length)
        throw new Error(
          `${name}: state dict does not match torchvision's (missing: ${missing.slice(0, 8).join(', ') || 'none'}${missing.length > 8 ? ', ...' : ''}; unexpected: ${unexpected.slice(0, 8).join(', ') || 'none'})`,
        );
    }
    const bnOf = (p: string, c: number): BnParams => ({
      weight: f32(weights, `${p}.weight`, [c], name),
      bias: f32(weights, `${p}.bias`, [c], name),
      mean: f32(weights, `${p}.running_mean`, [c], name),
      var: f32(weights, `${p}.running_var`, [c], name),
      eps: f.eps,
    });
    const conv = (key: string, shape: [number, number, number, number], bn: string, o: E.Conv2dOptions) =>
      new ConvBn(f32(weights, key, shape, name), shape, bnOf(bn, shape[0]), o, fold);
    this.stem = conv('conv1.weight', [f.stem, 3, 7, 7], 'bn1', { stride: 2, padding: 3 });
    this.layers = blocks(cfg).map((layer) =>
      layer.map((b) => {
        const convs =
          cfg.block === 'Bottleneck'
            ? [
                conv(`${b.prefix}.conv1.weight`, [b.width, b.inplanes, 1, 1], `${b.prefix}.bn1`, {}),
                conv(`${b.prefix}.conv2.weight`, [b.width, b.width / f.groups, 3, 3], `${b.prefix}.bn2`, { stride: b.stride, padding: 1, groups: f.groups }),
                conv(`${b.prefix}.conv3.weight`, [b.outplanes, b.width, 1, 1], `${b.prefix}.bn3`, {}),
              ]
            : [
                conv(`${b.prefix}.conv1.weight`, [b.width, b.inplanes, 3, 3], `${b.prefix}.bn1`, { stride: b.stride, padding: 1 }),
                conv(`${b.prefix}.conv2.weight`, [b.outplanes, b.width, 3, 3], `${b.prefix}.bn2`, { padding: 1 }),
              ];
        const down = b.downsample
          ? conv(`${b.prefix}.downsample.0.weight`, [b.outplanes, b.inplanes, 1, 1], `${b.prefix}.downsample.1`, { stride: b.stride })
          : null;
        return { convs, down };
      }),
    );
    this.outChannels = blocks(cfg).map((l) => l.at(-1)!.outplanes);
  }

  tapInfo(tap: string): { stride: number; channels: number } {
    const i = this.tapNames.indexOf(tap as (typeof this.tapNames)[number]);
    if (i < 0) throw new Error(`${this.name}: unknown tap '${tap}' (available: ${this.tapNames.join(', ')})`);
    return { stride: 4 * 2 ** i, channels: this.outChannels[i] };
  }

  forward(x: E.Tensor, taps: readonly string[]): Map<string, E.Tensor> {
    const last = lastTapIndex(this, taps);
    const out = new Map<string, E.Tensor>();
    E.noGrad(() => {
      let h = E.tidy(() => E.maxPool2d(this.stem.forward(x, 'relu'), { kernelSize: 3, stride: 2, padding: 1 }));
      for (let li = 0; li <= last; li++) {
        for (const blk of this.layers[li]) {
          const prev = h;
          h = E.tidy(() => {
            let y = prev;
            blk.convs.forEach((c, i) => {
              y = c.forward(y, i < blk.convs.length - 1 ? 'relu' : null);
            });
            const idn = blk.down ? blk.down.forward(prev) : prev;
            return E.relu(E.add(y, idn));
          });
          prev.dispose();
        }
        const name = this.tapNames[li];
        if (taps.includes(name)) out.set(name, E.detach(h)); // a second handle on the same storage
      }
      h.dispose();
    });
    return out;
  }

  dispose(): void {
    this.stem.dispose();
    for (const l of this.layers) for (const b of l) [...b.convs, b.down].forEach((c) => c?.dispose());
  }
}
