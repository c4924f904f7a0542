// Layers: Linear, Conv2d, BatchNorm1d/2d, activations and Sequential, with torch's parameter
// names, shapes and default initialisation (kaiming_uniform(a=sqrt(5)) weights, U(+-1/sqrt(fan_in))
// biases; BatchNorm weight 1, bias 0, running mean 0, var 1, num_batches_tracked 0).
import { pair } from '../ops/args.ts';
import { Tensor } from '../core/tensor.ts';
import { zeros, ones, full } from '../ops/creation.ts';
import { assign } from '../ops/views.ts';
import { tidy } from '../core/memory.ts';
import { Module } from './module.ts';
import { kaimingUniform, uniform, calculateFans } from './init.ts';
import { linear } from '../ops/matmul.ts';
import { relu, leakyRelu, sigmoid } from '../ops/unary.ts';
import { batchNorm, incrementCounter } from '../ops/batchnorm.ts';
import * as convOps from '../ops/conv.ts';
import { fmt } from '../core/shape.ts';

/** Initialises weight and bias the way torch's Linear/Conv reset_parameters does. */
function resetLinearLike(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform(weight, { a: Math.sqrt(5) });
  if (bias) {
    const { fanIn } = calculateFans(weight.shape);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform(bias, -bound, bound);
  }
}

/** y = x W^T + b; weight [out, in], bias [out]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super();
    this.weight = this.registerParameter('weight', Tensor.empty([outFeatures, inFeatures]))!;
    this.bias = this.registerParameter('bias', bias ? Tensor.empty([outFeatures]) : null);
    resetLinearLike(this.weight, this.bias);
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export interface Conv2dModuleOptions {
  stride?: number | [number, number];
  /** number, [h, w], or torch's 'same' / 'valid' (passed to conv2d as given). */
  padding?: number | [number, number] | 'same' | 'valid';
  dilation?: number | [number, number];
  groups?: number;
  bias?: boolean;
}

type Pair = number | [number, number];
type Conv2dFn = (
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  opts: { stride: Pair; padding: Pair | 'same' | 'valid'; dilation: Pair; groups: number },
) => Tensor;
// square settings travel as plain numbers, the form every conv2d signature accepts
const squash = (v: [number, number]): Pair => (v[0] === v[1] ? v[0] : v);

/** 2-D convolution; weight [out, in / groups, kh, kw]. Runs conv2d from ops/conv.ts. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | 'same' | 'valid';
  readonly dilation: [number, number];
  readonly groups: number;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | [number, number],
    opts: Conv2dModuleOptions = {},
  ) {
    super();
    this.kernelSize = pair('Conv2d', 'kernelSize', kernelSize, 1, 1);
    this.stride = pair('Conv2d', 'stride', opts.stride, 1, 1);
    this.padding = typeof opts.padding === 'string' ? opts.padding : pair('Conv2d', 'padding', opts.padding, 0, 0);
    this.dilation = pair('Conv2d', 'dilation', opts.dilation, 1, 1);
    this.groups = opts.groups ?? 1;
    if (inChannels % this.groups || outChannels % this.groups)
      throw new Error(`Conv2d: in (${inChannels}) and out (${outChannels}) channels must be divisible by groups (${this.groups})`);
    this.weight = this.registerParameter('weight', Tensor.empty([outChannels, inChannels / this.groups, ...this.kernelSize]))!;
    this.bias = this.registerParameter('bias', opts.bias === false ? null : Tensor.empty([outChannels]));
    resetLinearLike(this.weight, this.bias);
  }
  forward(x: Tensor): Tensor {
    // looked up at call time: the conv op is developed separately and may not exist yet
    const conv2d = (convOps as Record<string, unknown>).conv2d as Conv2dFn | undefined;
    if (typeof conv2d !== 'function') throw new Error('Conv2d: engine/ops/conv.ts does not provide conv2d yet');
    return conv2d(x, this.weight, this.bias, {
      stride: squash(this.stride),
      padding: typeof this.padding === 'string' ? this.padding : squash(this.padding),
      dilation: squash(this.dilation),
      groups: this.groups,
    });
  }
}

export interface BatchNormModuleOptions {
  eps?: number;
  /** null: cumulative moving average (factor 1 / num_batches_tracked). */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/** Shared logic of BatchNorm1d/2d (torch's _BatchNorm.forward). */
abstract class BatchNormBase extends Module {
  readonly eps: number;
  momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  constructor(
    readonly numFeatures: number,
    opts: BatchNormModuleOptions = {},
  ) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    this.registerParameter('weight', this.affine ? ones([numFeatures]) : null);
    this.registerParameter('bias', this.affine ? zeros([numFeatures]) : null);
    this.registerBuffer('running_mean', this.trackRunningStats ? zeros([numFeatures]) : null);
    this.registerBuffer('running_var', this.trackRunningStats ? ones([numFeatures]) : null);
    this.registerBuffer('num_batches_tracked', this.trackRunningStats ? zeros([], 'i32') : null);
  }
  get weight(): Tensor | null {
    return this.param('weight');
  }
  get bias(): Tensor | null {
    return this.param('bias');
  }
  get runningMean(): Tensor | null {
    return this.buffer('running_mean');
  }
  get runningVar(): Tensor | null {
    return this.buffer('running_var');
  }
  /** i32 scalar on the device (int64 in torch checkpoints). */
  get numBatchesTracked(): Tensor | null {
    return this.buffer('num_batches_tracked');
  }

  /** torch's reset_running_stats(): running mean 0, running variance 1, counter 0. */
  resetRunningStats(): void {
    tidy(() => {
      for (const [b, v] of [
        [this.runningMean, 0],
        [this.runningVar, 1],
        [this.numBatchesTracked, 0],
      ] as const)
        if (b) assign(b, full(b.shape, v, b.dtype));
    });
  }

  protected abstract checkInput(x: Tensor): void;

  forward(x: Tensor): Tensor {
    return this.forwardActivated(x, null);
  }

  /**
   * forward(x) followed by LeakyReLU(negativeSlope) in the same kernels (null: none); the same
   * values and gradients as the two modules in a row. Sequential uses it for such pairs.
   */
  forwardActivated(x: Tensor, negativeSlope: number | null): Tensor {
    this.checkInput(x);
    if (x.shape[1] !== this.numFeatures) throw new Error(`${this.typeName}: input ${fmt(x.shape)} has ${x.shape[1]} channels, expected ${this.numFeatures}`);
    const nbt = this.numBatchesTracked;
    if (this.training && this.trackRunningStats && nbt) incrementCounter(nbt);
    const useBatch = this.training || (!this.runningMean && !this.runningVar);
    const track = !this.training || this.trackRunningStats;
    return batchNorm(x, track ? this.runningMean : null, track ? this.runningVar : null, this.weight, this.bias, {
      training: useBatch,
      momentum: this.momentum,
      eps: this.eps,
      numBatchesTracked: nbt,
      negativeSlope,
    });
  }
}

/** BatchNorm over [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    if (x.rank !== 2 && x.rank !== 3) throw new Error(`BatchNorm1d: expected 2-D or 3-D input, got ${fmt(x.shape)}`);
  }
}

/** BatchNorm over [N, C, H, W]. */
export class BatchNorm2d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    if (x.rank !== 4) throw new Error(`BatchNorm2d: expected 4-D input, got ${fmt(x.shape)}`);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** Runs its children in order; they are named '0', '1', ... as in torch. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }
  get length(): number {
    return this.layers.length;
  }
  at(i: number): Module {
    const m = this.layers.at(i);
    if (!m) throw new Error(`Sequential: index ${i} out of range for ${this.layers.length} layers`);
    return m;
  }
  forward(x: Tensor): Tensor {
    return this.forwardFrom(0, x);
  }

  /**
   * Runs layers start.. on x. A BatchNorm followed by a LeakyReLU with slope >= 0 runs as one
   * fused op (BatchNormBase.forwardActivated): the same results, one pass fewer each way.
   */
  forwardFrom(start: number, x: Tensor): Tensor {
    let y = x;
    for (let i = start; i < this.layers.length; i++) {
      const m = this.layers[i],
        next = this.layers[i + 1];
      if (m instanceof BatchNormBase && next instanceof LeakyReLU && next.negativeSlope >= 0) {
        y = m.forwardActivated(y, next.negativeSlope);
        i++;
      } else y = m.forward(y);
    }
    return y;
  }
}
