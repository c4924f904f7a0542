// Frozen (eval-mode) BatchNorm as a per-channel affine y = x * scale + shift, with
// scale = gamma / sqrt(running_var + eps) and shift = beta - running_mean * scale, and the
// option to fold it into the preceding convolution's weight and bias (fewer kernels per layer).
import * as E from '../engine/index.ts';

export interface BnParams {
  weight: Float32Array | null;
  bias: Float32Array | null;
  mean: Float32Array;
  var: Float32Array;
  eps: number;
}

export function bnAffine(p: BnParams): { scale: Float32Array; shift: Float32Array } {
  const C = p.mean.length;
  const scale = new Float32Array(C);
  const shift = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const s = (p.weight ? p.weight[c] : 1) / Math.sqrt(p.var[c] + p.eps);
    scale[c] = s;
    shift[c] = (p.bias ? p.bias[c] : 0) - p.mean[c] * s;
  }
  return { scale, shift };
}

/** A conv followed by frozen BN: either folded (conv with bias) or conv then affine. */
export class ConvBn {
  readonly weight: E.Tensor;
  readonly bias: E.Tensor | null;
  private readonly scale: E.Tensor | null;
  private readonly shift: E.Tensor | null;
  constructor(
    weight: Float32Array,
    readonly shape: [number, number, number, number],
    bn: BnParams,
    readonly opts: E.Conv2dOptions,
    fold: boolean,
  ) {
    const { scale, shift } = bnAffine(bn);
    const cout = shape[0];
    if (scale.length !== cout) throw new Error(`ConvBn: BN has ${scale.length} channels, conv ${shape.join('x')} has ${cout} outputs`);
    if (fold) {
      const per = weight.length / cout;
      const w = new Float32Array(weight.length);
      for (let o = 0; o < cout; o++) for (let i = 0; i < per; i++) w[o * per + i] = weight[o * per + i] * scale[o];
      this.weight = E.keep(E.tensor(w, { shape }));
      this.bias = E.keep(E.tensor(shift));
      this.scale = this.shift = null;
    } else {
      this.weight = E.keep(E.tensor(weight, { shape }));
      this.bias = null;
      this.scale = E.keep(E.tensor(scale, { shape: [1, cout, 1, 1] }));
      this.shift = E.keep(E.tensor(shift, { shape: [1, cout, 1, 1] }));
    }
  }
  /** conv -> BN, then `act` (fused into the convolution's store when the BN is folded). */
  forward(x: E.Tensor, act: E.Activation | null = null): E.Tensor {
    if (!this.scale) return E.conv2d(x, this.weight, this.bias, { ...this.opts, activation: act });
    const y = E.add(E.mul(E.conv2d(x, this.weight, this.bias, this.opts), this.scale), this.shift!);
    return act === 'relu6' ? E.relu6(y) : act === 'relu' ? E.relu(y) : y;
  }
  dispose(): void {
    for (const t of [this.weight, this.bias, this.scale, this.shift]) t?.dispose();
  }
}
