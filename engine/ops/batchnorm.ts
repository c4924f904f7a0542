// torch.nn.functional.batch_norm for [N, C], [N, C, L], [N, C, H, W] (any [N, C, ...]).
// Training: batch statistics (biased variance to normalise), running stats updated in place with
// the unbiased variance (not recorded by autograd); eval: running statistics. Forward is three
// dispatches (chunked per-channel partials, per-channel combine + running update, normalise);
// backward is the closed form in three (partials of sum(g), sum(g*(x-mean)); combine = dbias and
// dweight; dx), each skipped when its gradient is not needed. `negativeSlope` fuses a LeakyReLU
// into the normalise kernel and its gradient into the backward's reads of g (nn.Sequential does
// this for BatchNorm + LeakyReLU pairs). Kernels: wgsl/batchnorm.ts.
import { Tensor } from '../core/tensor.ts';
import { record, noGrad } from '../autograd/tape.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { fmt, numel } from '../core/shape.ts';
import { contiguous } from './views.ts';
import {
  bnStatsPartialKernel,
  bnStatsFinalKernel,
  bnStatsRunningKernel,
  bnCountKernel,
  bnNormalizeKernel,
  bnGradPartialKernel,
  bnGradFinalKernel,
  bnGradInputKernel,
  bnElementwiseInvocations,
  bnPartialInvocations,
  BnStatsParams,
  BnCombineParams,
  BnRunningParams,
  BnCountParams,
  BnNormalizeParams,
  BnGradPartialParams,
  BnGradCombineParams,
  BnGradInputParams,
  type BnLayout,
} from '../wgsl/batchnorm.ts';

export interface BatchNormOptions {
  /** Batch statistics (and running-stat update) when true; running statistics when false. */
  training: boolean;
  /**
   * Weight of the batch statistics in the running update (default 0.1). null: cumulative
   * average, factor 1 / numBatchesTracked read on the device (torch's BatchNorm momentum=None;
   * the caller increments the counter first, as torch's module does).
   */
  momentum?: number | null;
  eps?: number;
  /** i32 counter with one element; required when momentum is null and running stats are given. */
  numBatchesTracked?: Tensor | null;
  /**
   * LeakyReLU(negativeSlope) applied to the output in the same kernels (0: ReLU): the same
   * values and gradients as leakyRelu(batchNorm(...)), one pass fewer each way. >= 0.
   */
  negativeSlope?: number | null;
}

/** One partials buffer: (mean, M2) per (channel, chunk) of the rows of t. */
function statsPartials(t: Tensor, C: number, S: number, rows: number, layout: BnLayout): { part: Tensor; K: number; chunk: number } {
  const v = layout === 'scalar' ? 1 : 4;
  const { K, chunk } = chunking(C, rows, layout);
  const part = Tensor.empty([C * K * 2], 'f32');
  const pp = BnStatsParams.pack({ channels: C, spatial: S, rows, chunks: K, chunk, xOffset: t.offset / v });
  // two passes over the rows (the chunk's mean, then M2 around it)
  dispatch(bnStatsPartialKernel(layout), [t.buffer, part.buffer], pp, grid1d(bnPartialInvocations(layout, C, K)), undefined, { bytes: 8 * rows * C });
  return { part, K, chunk };
}

/**
 * Chunks per channel for the partial reductions: enough invocations to fill the device (c4 runs
 * one invocation per four channels; s4 needs chunks of whole vec4s).
 */
function chunking(C: number, R: number, layout: BnLayout): { K: number; chunk: number } {
  let K = 1;
  if (R > 256) K = Math.max(1, Math.min(Math.ceil(R / 128), Math.floor(8192 / bnPartialInvocations(layout, C, 1))));
  let chunk = Math.ceil(R / K);
  if (layout === 's4') chunk = Math.ceil(chunk / 4) * 4;
  return { K: Math.ceil(R / chunk), chunk };
}

/**
 * The widest layout the shapes and offsets allow (wgsl/batchnorm.ts BnLayout): vec4 bindings need
 * every vec4-read tensor to start on a multiple of 4 elements, and c4 reads weight/bias as vec4.
 */
function layoutFor(C: number, S: number, data: Tensor[], affine: (Tensor | null)[]): BnLayout {
  if (!data.every((t) => t.offset % 4 === 0)) return 'scalar';
  if (S === 1 && C % 4 === 0 && affine.every((t) => !t || (t.offset % 4 === 0 && t.strides[0] === 1))) return 'c4';
  if (S % 4 === 0) return 's4';
  return 'scalar';
}

function checkVec(name: string, t: Tensor | null, C: number, x: Tensor): void {
  if (!t) return;
  t.assertLive(`batchNorm ${name}`);
  if (t.dtype !== 'f32' || t.rank !== 1 || t.shape[0] !== C)
    throw new Error(`batchNorm: ${name} must be f32 of shape [${C}] for input ${fmt(x.shape)}, got ${t.dtype} ${fmt(t.shape)}`);
}

/**
 * torch.nn.functional.batch_norm(x, running_mean, running_var, weight, bias, training,
 * momentum, eps). Running statistics are updated in place in training mode.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  opts: BatchNormOptions = { training: false },
): Tensor {
  const training = opts.training;
  const momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
  const eps = opts.eps ?? 1e-5;
  x.assertLive('batchNorm');
  if (x.rank < 2) throw new Error(`batchNorm: expected input of shape [N, C, ...], got ${fmt(x.shape)}`);
  if (x.dtype !== 'f32') throw new Error(`batchNorm: expected an f32 input, got ${x.dtype}`);
  const N = x.shape[0];
  const C = x.shape[1];
  const S = numel(x.shape.slice(2));
  const R = N * S;
  checkVec('runningMean', runningMean, C, x);
  checkVec('runningVar', runningVar, C, x);
  checkVec('weight', weight, C, x);
  checkVec('bias', bias, C, x);
  if ((runningMean === null) !== (runningVar === null)) throw new Error('batchNorm: give both runningMean and runningVar, or neither');
  if (!training && !runningMean) throw new Error('batchNorm: running statistics are required in eval mode (training: false)');
  const slope = opts.negativeSlope ?? null;
  if (slope !== null && !(slope >= 0 && Number.isFinite(slope)))
    throw new Error(`batchNorm: negativeSlope must be a finite number >= 0 (the fused LeakyReLU reads signs from its output), got ${slope}`);
  const act = slope !== null;
  const nbt = opts.numBatchesTracked ?? null;
  if (training && runningMean && momentum === null && (!nbt || nbt.dtype !== 'i32' || nbt.size !== 1))
    throw new Error('batchNorm: momentum null (cumulative average) needs numBatchesTracked, an i32 tensor with one element');
  if (training && R <= 1) throw new Error(`batchNorm: expected more than 1 value per channel when training, got input ${fmt(x.shape)}`);
  const xc = noGrad(() => contiguous(x));
  const stats = Tensor.empty([2, C], 'f32'); // row 0: mean, row 1: 1 / sqrt(var + eps)
  const layout = layoutFor(C, S, [xc], [weight, bias]);
  const v = layout === 'scalar' ? 1 : 4; // offsets and sizes below are in units of the layout's element
  if (training) {
    const a = statsPartials(xc, C, S, R, layout);
    const update = runningMean !== null;
    const cumulative = update && momentum === null;
    const bufs: (GPUBuffer | null)[] = [a.part.buffer, stats.buffer, null, null, null];
    if (update) {
      bufs[2] = runningMean!.buffer;
      bufs[3] = runningVar!.buffer;
      if (cumulative) bufs[4] = nbt!.buffer;
    }
    const p = BnCombineParams.pack({
      channels: C,
      chunks: a.K,
      chunk: a.chunk,
      rows: R,
      eps,
      momentum: momentum ?? 0,
      meanOffset: runningMean?.offset ?? 0,
      meanStride: runningMean?.strides[0] ?? 0,
      varOffset: runningVar?.offset ?? 0,
      varStride: runningVar?.strides[0] ?? 0,
      countOffset: nbt?.offset ?? 0,
    });
    dispatch(bnStatsFinalKernel(update, cumulative), bufs, p, grid1d(C));
    a.part.dispose();
  } else {
    const p = BnRunningParams.pack({
      channels: C,
      eps,
      meanOffset: runningMean!.offset,
      meanStride: runningMean!.strides[0],
      varOffset: runningVar!.offset,
      varStride: runningVar!.strides[0],
    });
    dispatch(bnStatsRunningKernel(), [runningMean!.buffer, runningVar!.buffer, stats.buffer], p, grid1d(C));
  }

  const out = Tensor.empty(x.shape, 'f32');
  const nbufs = [xc.buffer, stats.buffer];
  if (weight) nbufs.push(weight.buffer);
  if (bias) nbufs.push(bias.buffer);
  nbufs.push(out.buffer);
  const av = layout === 'c4' ? 4 : 1; // c4 reads weight and bias as vec4 too
  const np = BnNormalizeParams.pack({
    total: out.size / v,
    channels: C,
    spatial: S,
    xOffset: xc.offset / v,
    weightOffset: (weight?.offset ?? 0) / av,
    weightStride: weight?.strides[0] ?? 0,
    biasOffset: (bias?.offset ?? 0) / av,
    biasStride: bias?.strides[0] ?? 0,
    slope: slope ?? 0,
  });
  if (out.size)
    dispatch(bnNormalizeKernel(weight !== null, bias !== null, layout, act), nbufs, np, grid1d(bnElementwiseInvocations(layout, out.size / v, C)), undefined, {
      bytes: 8 * out.size,
    });

  const inputs = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  // saved: x, stats, then the weight and the activated output where they exist
  const save = [xc, stats, ...(weight ? [weight] : []), ...(act ? [out] : [])];
  const res = record(
    out,
    act ? 'batchNorm+leakyRelu' : 'batchNorm',
    inputs,
    (g, needs, saved) =>
      batchNormBackward(
        g,
        needs,
        saved[0],
        saved[1],
        weight ? saved[2] : null,
        training,
        bias !== null,
        act ? { z: saved[saved.length - 1], slope: slope! } : null,
      ),
    save,
  );
  stats.dispose();
  if (xc !== x) xc.dispose();
  return res;
}

/**
 * Gradients for [x, weight?, bias?] (the recorded inputs) of the normalisation; `act`: the fused
 * LeakyReLU's output z and slope, whose gradient the kernels apply to g as they read it.
 */
function batchNormBackward(
  g: Tensor,
  needs: boolean[],
  x: Tensor,
  stats: Tensor,
  weight: Tensor | null,
  training: boolean,
  hasBias: boolean,
  act: { z: Tensor; slope: number } | null,
): (Tensor | null)[] {
  const C = x.shape[1];
  const S = numel(x.shape.slice(2));
  const R = x.shape[0] * S;
  const needX = needs[0];
  const needW = weight !== null && needs[1];
  const needB = hasBias && needs[weight ? 2 : 1];
  const gc = contiguous(g);
  const z = act?.z ?? null;
  const layout = layoutFor(C, S, [x, gc, ...(z ? [z] : [])], [weight]);
  const v = layout === 'scalar' ? 1 : 4;
  const av = layout === 'c4' ? 4 : 1; // c4 reads per-channel vectors as vec4 too
  let red: Tensor | null = null; // row 0: sum(g) = dbias, row 1: sum(g * xhat) = dweight
  if (needW || needB || (training && needX)) {
    const { K, chunk } = chunking(C, R, layout);
    const part = Tensor.empty([C * K * 2], 'f32');
    const pp = BnGradPartialParams.pack({
      channels: C,
      spatial: S,
      rows: R,
      chunks: K,
      chunk,
      xOffset: x.offset / v,
      gOffset: gc.offset / v,
      zOffset: (z?.offset ?? 0) / v,
      slope: act?.slope ?? 0,
    });
    const bufs: (GPUBuffer | null)[] = [x.buffer, gc.buffer, stats.buffer, part.buffer, z?.buffer ?? null];
    dispatch(bnGradPartialKernel(layout, z !== null), bufs, pp, grid1d(bnPartialInvocations(layout, C, K)), undefined, {
      bytes: 4 * R * C * (2 + (z ? 1 : 0)),
    });
    red = Tensor.empty([2, C], 'f32');
    dispatch(bnGradFinalKernel(), [part.buffer, stats.buffer, red.buffer], BnGradCombineParams.pack({ channels: C, chunks: K }), grid1d(C));
    part.dispose();
  }
  let dx: Tensor | null = null;
  if (needX) {
    dx = Tensor.empty(x.shape, 'f32');
    const bufs = [gc.buffer, stats.buffer];
    if (training) bufs.push(x.buffer, red!.buffer);
    if (weight) bufs.push(weight.buffer);
    if (z) bufs.push(z.buffer);
    bufs.push(dx.buffer);
    const p = BnGradInputParams.pack({
      total: dx.size / v,
      channels: C,
      spatial: S,
      rows: R,
      xOffset: x.offset / v,
      gOffset: gc.offset / v,
      weightOffset: (weight?.offset ?? 0) / av,
      weightStride: weight?.strides[0] ?? 0,
      zOffset: (z?.offset ?? 0) / v,
      slope: act?.slope ?? 0,
    });
    if (dx.size)
      dispatch(bnGradInputKernel(training, weight !== null, layout, z !== null), bufs, p, grid1d(bnElementwiseInvocations(layout, dx.size / v, C)), undefined, {
        bytes: 4 * dx.size * (2 + (training ? 1 : 0) + (z ? 1 : 0)),
      });
  }
  const grads: (Tensor | null)[] = [dx];
  if (weight) grads.push(needW ? red!.view_([C], [1], C) : null);
  if (hasBias) grads.push(needB ? red!.view_([C], [1], 0) : null);
  return grads;
}

/** Adds one to an i32 counter in place on the device (BatchNorm's num_batches_tracked). */
export function incrementCounter(t: Tensor): void {
  if (t.dtype !== 'i32' || t.size !== 1) throw new Error(`incrementCounter: expected an i32 tensor with one element, got ${t.dtype} ${fmt(t.shape)}`);
  dispatch(bnCountKernel(), [t.buffer], BnCountParams.pack({ offset: t.offset }), [1]);
}
