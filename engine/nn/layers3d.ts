// 3-D layers: Conv3d, MaxPool3d, AvgPool3d with torch's parameter names, shapes and default
// initialisation (Conv3d: kaiming_uniform(a=sqrt(5)) weight, U(+-1/sqrt(fan_in)) bias, as
// torch's _ConvNd.reset_parameters). They run ops/conv3d.ts and ops/pool3d.ts.
import { triple, type Triple } from '../ops/args.ts';
import { Tensor } from '../core/tensor.ts';
import { Module } from './module.ts';
import { kaimingUniform, uniform, calculateFans } from './init.ts';
import { conv3d } from '../ops/conv3d.ts';
import { maxPool3d, maxPool3dWithIndices, avgPool3d } from '../ops/pool3d.ts';

type T3 = [number, number, number];

export interface Conv3dModuleOptions {
  stride?: Triple;
  /** number, [d, h, w], or torch's 'same' / 'valid'. */
  padding?: Triple | 'same' | 'valid';
  dilation?: Triple;
  groups?: number;
  bias?: boolean;
}

/** 3-D convolution; weight [out, in / groups, kd, kh, kw]. */
export class Conv3d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: T3;
  readonly stride: T3;
  readonly padding: T3 | 'same' | 'valid';
  readonly dilation: T3;
  readonly groups: number;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Triple,
    opts: Conv3dModuleOptions = {},
  ) {
    super();
    this.kernelSize = triple('Conv3d', 'kernelSize', kernelSize, 1, 1);
    this.stride = triple('Conv3d', 'stride', opts.stride, 1, 1);
    this.padding = typeof opts.padding === 'string' ? opts.padding : triple('Conv3d', 'padding', opts.padding, 0, 0);
    this.dilation = triple('Conv3d', 'dilation', opts.dilation, 1, 1);
    this.groups = opts.groups ?? 1;
    if (!Number.isInteger(this.groups) || this.groups < 1 || inChannels % this.groups || outChannels % this.groups)
      throw new Error(`Conv3d: in (${inChannels}) and out (${outChannels}) channels must be divisible by groups (${this.groups})`);
    this.weight = this.registerParameter('weight', Tensor.empty([outChannels, inChannels / this.groups, ...this.kernelSize]))!;
    this.bias = this.registerParameter('bias', opts.bias === false ? null : Tensor.empty([outChannels]));
    kaimingUniform(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const { fanIn } = calculateFans(this.weight.shape);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      uniform(this.bias, -bound, bound);
    }
  }
  forward(x: Tensor): Tensor {
    return conv3d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
}

export interface MaxPool3dModuleOptions {
  /** Defaults to kernelSize. */
  stride?: Triple | null;
  padding?: Triple;
  dilation?: Triple;
  ceilMode?: boolean;
}

/** torch.nn.MaxPool3d; `forwardWithIndices` is its return_indices=True form. */
export class MaxPool3d extends Module {
  constructor(
    readonly kernelSize: Triple,
    readonly opts: MaxPool3dModuleOptions = {},
  ) {
    super();
    // fail at construction, as torch's arguments would at the first call
    triple('MaxPool3d', 'kernelSize', kernelSize, 1, 1);
  }
  forward(x: Tensor): Tensor {
    return maxPool3d(x, { kernelSize: this.kernelSize, ...this.opts });
  }
  /** [values, i32 indices into each D*H*W volume]. */
  forwardWithIndices(x: Tensor): [Tensor, Tensor] {
    return maxPool3dWithIndices(x, { kernelSize: this.kernelSize, ...this.opts });
  }
}

export interface AvgPool3dModuleOptions {
  stride?: Triple | null;
  padding?: Triple;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

/** torch.nn.AvgPool3d. */
export class AvgPool3d extends Module {
  constructor(
    readonly kernelSize: Triple,
    readonly opts: AvgPool3dModuleOptions = {},
  ) {
    super();
    triple('AvgPool3d', 'kernelSize', kernelSize, 1, 1);
  }
  forward(x: Tensor): Tensor {
    return avgPool3d(x, { kernelSize: this.kernelSize, ...this.opts });
  }
}
