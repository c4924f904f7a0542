// Parameter initialisers with torch.nn.init's rules (fan computation, gains, bounds), filling
// tensors in place from the engine's seeded Philox generator (manualSeed/rand/randn), so a seed
// reproduces an initialisation. The values differ from torch's CPU generator; the distributions
// are the same. Each returns the tensor it filled; the fill is not recorded by autograd.
import type { Tensor } from '../core/tensor.ts';
import { noGrad } from '../autograd/tape.ts';
import { rand, randn, full } from '../ops/creation.ts';
import { assign } from '../ops/views.ts';
import { fmt } from '../core/shape.ts';

export type Nonlinearity =
  | 'linear'
  | 'conv1d'
  | 'conv2d'
  | 'conv3d'
  | 'conv_transpose1d'
  | 'conv_transpose2d'
  | 'conv_transpose3d'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'leaky_relu'
  | 'selu';

/** torch.nn.init.calculate_gain. `param` is leaky_relu's negative slope (default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param: number | null = null): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'conv_transpose1d':
    case 'conv_transpose2d':
    case 'conv_transpose3d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.sqrt(2);
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new Error(`calculateGain: unsupported nonlinearity '${nonlinearity as string}'`);
  }
}

/** torch's _calculate_fan_in_and_fan_out: dim 1 x receptive field, dim 0 x receptive field. */
export function calculateFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`init: fan in and fan out can not be computed for a tensor with fewer than 2 dims, got ${fmt(shape)}`);
  let rf = 1;
  for (const d of shape.slice(2)) rf *= d;
  return { fanIn: shape[1] * rf, fanOut: shape[0] * rf };
}

function fill(t: Tensor, make: () => Tensor): Tensor {
  noGrad(() => {
    const v = make();
    assign(t, v);
    v.dispose();
  });
  return t;
}

function checkFloat(name: string, t: Tensor): void {
  t.assertLive(name);
  if (t.dtype !== 'f32') throw new Error(`${name}: expected an f32 tensor, got ${t.dtype}`);
}

/** U(a, b) (torch.nn.init.uniform_). */
export function uniform(t: Tensor, a = 0, b = 1): Tensor {
  checkFloat('init.uniform', t);
  return fill(t, () => rand(t.shape, a, b));
}

/** N(mean, std) (torch.nn.init.normal_). */
export function normal(t: Tensor, mean = 0, std = 1): Tensor {
  checkFloat('init.normal', t);
  return fill(t, () => randn(t.shape, mean, std));
}

export function constant(t: Tensor, value: number): Tensor {
  t.assertLive('init.constant');
  return fill(t, () => full([], value, t.dtype));
}
export const zeros = (t: Tensor) => constant(t, 0);
export const ones = (t: Tensor) => constant(t, 1);

/** U(-a, a) with a = gain * sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform(t: Tensor, gain = 1): Tensor {
  checkFloat('init.xavierUniform', t);
  const { fanIn, fanOut } = calculateFans(t.shape);
  const a = Math.sqrt(3) * gain * Math.sqrt(2 / (fanIn + fanOut));
  return fill(t, () => rand(t.shape, -a, a));
}

/** N(0, std) with std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal(t: Tensor, gain = 1): Tensor {
  checkFloat('init.xavierNormal', t);
  const { fanIn, fanOut } = calculateFans(t.shape);
  return fill(t, () => randn(t.shape, 0, gain * Math.sqrt(2 / (fanIn + fanOut))));
}

export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (leaky_relu only). */
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
}

function kaimingStd(name: string, t: Tensor, o: KaimingOptions): number {
  checkFloat(name, t);
  const mode = o.mode ?? 'fan_in';
  if (mode !== 'fan_in' && mode !== 'fan_out') throw new Error(`${name}: mode must be 'fan_in' or 'fan_out', got '${mode as string}'`);
  const fans = calculateFans(t.shape);
  const fan = mode === 'fan_in' ? fans.fanIn : fans.fanOut;
  return calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan);
}

/** U(-bound, bound) with bound = sqrt(3) * gain / sqrt(fan) (torch.nn.init.kaiming_uniform_). */
export function kaimingUniform(t: Tensor, o: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd('init.kaimingUniform', t, o);
  return fill(t, () => rand(t.shape, -bound, bound));
}

/** N(0, gain / sqrt(fan)) (torch.nn.init.kaiming_normal_). */
export function kaimingNormal(t: Tensor, o: KaimingOptions = {}): Tensor {
  const std = kaimingStd('init.kaimingNormal', t, o);
  return fill(t, () => randn(t.shape, 0, std));
}
