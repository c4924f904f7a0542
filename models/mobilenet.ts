// MobileNetV1 (alpha 1.0) as Keras builds it, loaded from a TensorFlow.js layers model:
// ReLU6, BatchNorm eps 1e-3, TF "same" padding (stride-2 layers pad 0 before and 1 after),
// depthwise kernels HWC1 and conv kernels HWIO converted to our OIHW, input x/127.5 - 1
// (mean 0.5, std 0.5 on [0,1] RGB). Taps by Keras layer name: conv1, conv_pw_1 .. conv_pw_13,
// each the output after its BatchNorm and ReLU6. Weights that the model file lacks make the
// taps that need them a clear error (the shared copy has no conv_pw_13/kernel).
import * as E from '../engine/index.ts';
import { ConvBn, type BnParams } from './eval-bn.ts';
import { lastTapIndex, type Backbone } from './backbone.ts';
import type { TfjsModel } from './io/tfjs.ts';
import type { CpuTensor } from './io/types.ts';

/** (pointwise filters, depthwise stride) of the 13 separable blocks. */
export const MOBILENET_BLOCKS: [number, number][] = [
  [64, 1],
  [128, 2],
  [128, 1],
  [256, 2],
  [256, 1],
  [512, 2],
  [512, 1],
  [512, 1],
  [512, 1],
  [512, 1],
  [512, 1],
  [1024, 2],
  [1024, 1],
];

const EPS = 1e-3;

/** Keras "same" padding for a 3x3 window: stride 1 pads 1 all round, stride 2 pads 0 before, 1 after. */
function samePad(stride: number, k: number): [number, number, number, number] {
  if (k === 1) return [0, 0, 0, 0];
  return stride === 1 ? [1, 1, 1, 1] : [0, 1, 0, 1];
}

function permuteHWIOtoOIHW(t: CpuTensor, depthwise: boolean): { data: Float32Array; shape: [number, number, number, number] } {
  const [H, W, I, O] = t.shape;
  const src = t.data as Float32Array;
  // depthwise kernels are [H, W, C, 1]: channel C becomes the output dim, one input per group
  const outC = depthwise ? I : O;
  const inC = depthwise ? 1 : I;
  const out = new Float32Array(src.length);
  for (let h = 0; h < H; h++)
    for (let w = 0; w < W; w++)
      for (let i = 0; i < I; i++)
        for (let o = 0; o < O; o++) {
          const v = src[((h * W + w) * I + i) * O + o];
          const oc = depthwise ? i : o;
          const ic = depthwise ? 0 : i;
          out[((oc * inC + ic) * H + h) * W + w] = v;
        }
  return { data: out, shape: [outC, inC, H, W] };
}

export interface MobileNetOptions {
  foldBn?: boolean;
}

export class MobileNetV1 implements Backbone {
  readonly name = 'mobilenet_v1';
  readonly tapNames = ['conv1', ...MOBILENET_BLOCKS.map((_, i) => `conv_pw_${i + 1}`)];
  readonly defaultTaps = ['conv_pw_5', 'conv_pw_11'];
  readonly mean = [0.5, 0.5, 0.5] as const;
  readonly std = [0.5, 0.5, 0.5] as const;
  /** layers[0] = conv1; layers[i] = [dw, pw] of block i. Null where weights are missing. */
  private stages: (ConvBn[] | null)[] = [];
  private missingFor = new Map<number, string[]>();

  constructor(model: TfjsModel, opts: MobileNetOptions = {}) {
    const fold = opts.foldBn ?? true;
    const w = model.weights;
    const missingNames = new Set(model.missing.map((m) => m.name));
    const need = (names: string[], stage: number): boolean => {
      const miss = names.filter((n) => missingNames.has(n) || !w.has(n));
      if (miss.length) this.missingFor.set(stage, miss);
      return miss.length === 0;
    };
    const bn = (p: string): BnParams => ({
      weight: w.get(`${p}/gamma`)!.data as Float32Array,
      bias: w.get(`${p}/beta`)!.data as Float32Array,
      mean: w.get(`${p}/moving_mean`)!.data as Float32Array,
      var: w.get(`${p}/moving_variance`)!.data as Float32Array,
      eps: EPS,
    });
    const bnNames = (p: string) => ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((k) => `${p}/${k}`);
    if (need(['conv1/kernel', ...bnNames('conv1_bn')], 0)) {
      const k = permuteHWIOtoOIHW(w.get('conv1/kernel')!, false);
      this.stages.push([new ConvBn(k.data, k.shape, bn('conv1_bn'), { stride: 2, padding: samePad(2, 3) }, fold)]);
    } else this.stages.push(null);
    MOBILENET_BLOCKS.forEach(([, stride], i) => {
      const b = i + 1;
      const names = [`conv_dw_${b}/depthwise_kernel`, ...bnNames(`conv_dw_${b}_bn`), `conv_pw_${b}/kernel`, ...bnNames(`conv_pw_${b}_bn`)];
      if (!need(names, b)) {
        this.stages.push(null);
        return;
      }
      const dw = permuteHWIOtoOIHW(w.get(`conv_dw_${b}/depthwise_kernel`)!, true);
      const pw = permuteHWIOtoOIHW(w.get(`conv_pw_${b}/kernel`)!, false);
      this.stages.push([
        new ConvBn(dw.data, dw.shape, bn(`conv_dw_${b}_bn`), { stride, padding: samePad(stride, 3), groups: dw.shape[0] }, fold),
        new ConvBn(pw.data, pw.shape, bn(`conv_pw_${b}_bn`), {}, fold),
      ]);
    });
  }

  tapInfo(tap: string): { stride: number; channels: number } {
    const i = this.tapNames.indexOf(tap);
    if (i < 0) throw new Error(`mobilenet_v1: unknown tap '${tap}' (available: ${this.tapNames.join(', ')})`);
    if (i === 0) return { stride: 2, channels: 32 };
    const stride = 2 * MOBILENET_BLOCKS.slice(0, i).reduce((s, [, st]) => s * st, 1);
    return { stride, channels: MOBILENET_BLOCKS[i - 1][0] };
  }

  forward(x: E.Tensor, taps: readonly string[]): Map<string, E.Tensor> {
    const last = lastTapIndex(this, taps);
    for (let s = 0; s <= last; s++) {
      if (!this.stages[s])
        throw new Error(`mobilenet_v1: tap '${this.tapNames[last]}' needs weights missing from the model file: ${this.missingFor.get(s)!.join(', ')}`);
    }
    const out = new Map<string, E.Tensor>();
    E.noGrad(() => {
      let h = x;
      for (let s = 0; s <= last; s++) {
        const prev = h;
        h = E.tidy(() => {
          let y = prev;
          for (const c of this.stages[s]!) y = c.forward(y, 'relu6');
          return y;
        });
        if (prev !== x) prev.dispose();
        if (taps.includes(this.tapNames[s])) out.set(this.tapNames[s], E.detach(h));
      }
      if (h !== x) h.dispose();
    });
    return out;
  }

  dispose(): void {
    for (const s of this.stages) s?.forEach((c) => c.dispose());
  }
}
