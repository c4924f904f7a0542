// Transformer-backbone layers: LayerNorm, GroupNorm and GELU with torch's constructor arguments,
// parameter names (weight, bias) and initialisation (weight 1, bias 0).
import { Tensor } from '../core/tensor.ts';
import { zeros, ones } from '../ops/creation.ts';
import { Module } from './module.ts';
import { layerNorm, groupNorm } from '../ops/norm.ts';
import { gelu } from '../ops/unary.ts';

export interface LayerNormModuleOptions {
  eps?: number;
  /** Learnable weight (and bias, unless `bias` is false) of shape normalizedShape; default true. */
  elementwiseAffine?: boolean;
  bias?: boolean;
}

/** torch.nn.LayerNorm(normalized_shape, eps, elementwise_affine, bias). */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  constructor(normalizedShape: number | readonly number[], opts: LayerNormModuleOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.eps = opts.eps ?? 1e-5;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    const affine = this.elementwiseAffine;
    this.registerParameter('weight', affine ? ones(this.normalizedShape) : null);
    this.registerParameter('bias', affine && opts.bias !== false ? zeros(this.normalizedShape) : null);
  }
  get weight(): Tensor | null {
    return this.param('weight');
  }
  get bias(): Tensor | null {
    return this.param('bias');
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

export interface GroupNormModuleOptions {
  eps?: number;
  /** Learnable per-channel weight and bias; default true. */
  affine?: boolean;
}

/** torch.nn.GroupNorm(num_groups, num_channels, eps, affine). */
export class GroupNorm extends Module {
  readonly eps: number;
  readonly affine: boolean;
  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    opts: GroupNormModuleOptions = {},
  ) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || numChannels % numGroups !== 0)
      throw new Error(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    this.eps = opts.eps ?? 1e-5;
    this.affine = opts.affine ?? true;
    this.registerParameter('weight', this.affine ? ones([numChannels]) : null);
    this.registerParameter('bias', this.affine ? zeros([numChannels]) : null);
  }
  get weight(): Tensor | null {
    return this.param('weight');
  }
  get bias(): Tensor | null {
    return this.param('bias');
  }
  forward(x: Tensor): Tensor {
    if (x.rank >= 2 && x.shape[1] !== this.numChannels)
      throw new Error(`GroupNorm: input [${x.shape.join(', ')}] has ${x.shape[1]} channels, expected ${this.numChannels}`);
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}

/** torch.nn.GELU(approximate='none' | 'tanh'). */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
    if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`GELU: approximate must be 'none' or 'tanh', got '${approximate}'`);
  }
  forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
}
