// Losses: binary cross-entropy (torch.nn.functional.binary_cross_entropy, logs clamped at
// -100, torch's backward formula with its 1e-12 floor; inputs outside [0, 1] are not checked,
// that would need a readback: torch raises for them, NaN included, and here a NaN input or
// target gives a NaN loss rather than the clamp's 100), MSE, and the focal loss (Lin et al.) as
// in the common `FocalLoss` implementation (Hsuxu's Loss_ToolBox, copied into many projects),
// with its defaults gamma = 2, smooth = 1e-5, alpha = None, size_average = True.
//
// focalLoss input layout (as that FocalLoss's forward(logit, target)):
// - input: class probabilities [M, C], or [N, C, d1, ...] (moved to [N*d1*..., C] like its
//   view/permute). No nonlinearity is applied (apply_nonlin = None). A binary classifier's
//   scores s [K, 1] make the two-class input cat([1 - s, s], dim 1).
// - target: class indices as floats or ints, [M], [M, 1] or [N, 1, d1, ...] (e.g. a 0/1 mask
//   [K, 1]); floats are truncated like `.long()`.
// Per row: one_hot clamped to [smooth / (C - 1), 1 - smooth], pt = sum(one_hot * p) + smooth,
// loss = -alpha[t] * (1 - pt)^gamma * log(pt); mean over rows ('mean', the default).
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { tidy } from '../core/memory.ts';
import { broadcastShapes, fmt, sameShape } from '../core/shape.ts';
import { runElementwise } from './launch.ts';
import { sub, mul, add, pow, eq } from './binary.ts';
import { square, log, cast, clamp } from './unary.ts';
import { sum, mean } from './reduce.ts';
import { reshape, permute, contiguous, squeeze } from './views.ts';
import { arange, tensor } from './creation.ts';
import { isNan } from '../wgsl/common.ts';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(op: string, l: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return l;
  if (reduction === 'sum') return sum(l);
  if (reduction === 'mean') return mean(l);
  throw new Error(`${op}: unknown reduction '${reduction}' (mean, sum, none)`);
}

const LOG1P = `fn log1pf(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  return log(u) * x / (u - 1.0);
}
// torch's max(log(.), -100), NaN kept: WGSL's max may return -100 for a NaN (lavapipe does)
fn clampLog(l: f32) -> f32 { return select(max(l, -100.0), l, ${isNan('l')}); }`;

export interface BceOptions {
  /** Rescaling weight, broadcast to the input's shape (not differentiated, as in torch). */
  weight?: Tensor | null;
  reduction?: Reduction;
}

/** torch.nn.functional.binary_cross_entropy(p, target, weight, reduction). */
export function binaryCrossEntropy(p: Tensor, target: Tensor, opts: BceOptions = {}): Tensor {
  return tidy(() => binaryCrossEntropyImpl(p, target, opts));
}

function binaryCrossEntropyImpl(p: Tensor, target: Tensor, opts: BceOptions = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  if (p.dtype !== 'f32' || target.dtype !== 'f32') throw new Error(`binaryCrossEntropy: expected f32 input and target, got ${p.dtype} and ${target.dtype}`);
  if (!sameShape(p.shape, target.shape))
    throw new Error(`binaryCrossEntropy: target size ${fmt(target.shape)} must be the same as the input size ${fmt(p.shape)}`);
  const w = opts.weight ?? null;
  if (w && !sameShape(broadcastShapes('binaryCrossEntropy (weight)', p.shape, w.shape), p.shape))
    throw new Error(`binaryCrossEntropy: weight ${fmt(w.shape)} must broadcast to the input size ${fmt(p.shape)}`);
  const ins = w ? [p, target, w] : [p, target];
  const wt = w ? ' * c' : '';
  const l = runElementwise({ name: 'bce', expr: `((b - 1.0) * clampLog(log1pf(-a)) - b * clampLog(log(a)))${wt}`, helpers: LOG1P }, ins, p.shape, 'f32');
  const el = record(
    l,
    'binaryCrossEntropy',
    [p, target],
    (g, needs, saved) => {
      // kernel operands: a = g, b = p, c = target, d = weight
      const sv = [g, ...saved];
      return [
        needs[0] ? runElementwise({ name: 'bce.grad', expr: `a * (b - c) / max((1.0 - b) * b, 1e-12)${w ? ' * d' : ''}` }, sv, p.shape, 'f32') : null,
        needs[1] ? runElementwise({ name: 'bce.gradTarget', expr: `-a * log(b / (1.0 - b))${w ? ' * d' : ''}` }, sv, p.shape, 'f32') : null,
      ];
    },
    ins,
  );
  return reduce('binaryCrossEntropy', el, reduction);
}

/** torch.nn.functional.mse_loss(a, b, reduction) (a and b broadcast). */
export function mseLoss(a: Tensor, b: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  return tidy(() => mseLossImpl(a, b, opts));
}

function mseLossImpl(a: Tensor, b: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  broadcastShapes('mseLoss', a.shape, b.shape);
  return reduce('mseLoss', square(sub(a, b)), opts.reduction ?? 'mean');
}

export interface FocalLossOptions {
  /** Focusing exponent (default 2). */
  gamma?: number;
  /** Label smoothing and log offset (default 1e-5; 0 disables the clamp). */
  smooth?: number;
  /** Class weights: a list (normalised to sum 1) or a number for class `balanceIndex`
   * (the others get 1 - alpha); default none (all 1). */
  alpha?: number | readonly number[] | null;
  balanceIndex?: number;
  /** 'mean' = FocalLoss's size_average=True (default); 'none' returns the per-row losses. */
  reduction?: Reduction;
}

/** FocalLoss()(input, target) with FocalLoss's defaults; see the header for the input layout. */
export function focalLoss(input: Tensor, target: Tensor, opts: FocalLossOptions = {}): Tensor {
  return tidy(() => focalLossImpl(input, target, opts));
}

function focalLossImpl(input: Tensor, target: Tensor, opts: FocalLossOptions = {}): Tensor {
  const gamma = opts.gamma ?? 2;
  const smooth = opts.smooth ?? 1e-5;
  if (smooth < 0 || smooth > 1) throw new Error(`focalLoss: smooth value should be in [0, 1], got ${smooth}`);
  if (input.rank < 2) throw new Error(`focalLoss: expected input [M, C] or [N, C, ...], got ${fmt(input.shape)}`);
  if (input.dtype !== 'f32') throw new Error(`focalLoss: expected an f32 input, got ${input.dtype}`);
  const C = input.shape[1];
  let logit = input;
  if (input.rank > 2) logit = reshape(contiguous(permute(reshape(input, [input.shape[0], C, -1]), [0, 2, 1])), [-1, C]);
  const M = logit.shape[0];
  const t = target.rank > 1 && target.shape[1] === 1 ? squeeze(target, 1) : target;
  if (t.size !== M) throw new Error(`focalLoss: target ${fmt(target.shape)} has ${t.size} entries for ${M} rows of input ${fmt(input.shape)}`);
  const cls = reshape(t.dtype === 'i32' ? t : cast(t, 'i32'), [M, 1]);
  const hot = cast(eq(cls, reshape(arange(0, C), [1, C])), 'f32');
  const key = smooth ? clamp(hot, smooth / (C - 1), 1 - smooth) : hot;
  const pt = add(sum(mul(key, logit), 1), smooth);
  let alphaT: Tensor | number = -1;
  if (opts.alpha !== undefined && opts.alpha !== null) {
    let a: number[];
    if (typeof opts.alpha === 'number') {
      a = new Array<number>(C).fill(1 - opts.alpha);
      a[opts.balanceIndex ?? 0] = opts.alpha;
    } else {
      if (opts.alpha.length !== C) throw new Error(`focalLoss: alpha has ${opts.alpha.length} entries for ${C} classes`);
      const s = opts.alpha.reduce((x, y) => x + y, 0);
      a = opts.alpha.map((v) => v / s);
    }
    alphaT = mul(sum(mul(hot, reshape(tensor(a), [1, C])), 1), -1);
  }
  const loss = mul(mul(alphaT, pow(sub(1, pt), gamma)), log(pt));
  return reduce('focalLoss', loss, opts.reduction ?? 'mean');
}
