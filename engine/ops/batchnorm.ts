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
import { dispatch, Params } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { fmt, numel } from '../core/shape.ts';
import { contiguous, transpose, reshape } from './views.ts';
import { matmul, matmulRaw } from './matmul.ts';
import { sum } from './reduce.ts';
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
  /**
   * Rows [M, C, ...] that join the batch statistics (and the running update) but get no output
   * and no gradient: the result is batchNorm(cat([statsWith, x]))[M:], and x's gradient is that
   * function's exact gradient, without the normalise and backward passes over statsWith's rows.
   * GLASS's gradient ascent normalises true and synthetic features together but differentiates
   * only the synthetic half. Training only (eval mode uses running statistics: ignored).
   */
  statsWith?: Tensor | BnPartials | null;
  /**
   * A Linear(C, 1) applied to the (activated) output in the same op: the result is
   * linear(batchNorm(x, ...), head.weight [1, C], head.bias [1]), [N, 1], with the same values
   * and gradients. Its backward feeds BatchNorm's gradient kernels the outer product dy w
   * directly instead of writing it as an [N, C] tensor and reading it back (GLASS's discriminator
   * head; [N, C] inputs only).
   */
  head?: { weight: Tensor; bias?: Tensor | null } | null;
}

/**
 * The per-channel partial statistics of rows that join several batchNorm calls as `statsWith`
 * (GLASS's true features, the same through all 20 ascent steps): computed once by
 * batchNormPartials, then each call only reduces its own rows. The caller disposes it.
 */
export interface BnPartials {
  readonly kind: 'batchNormPartials';
  /** [C, ...spatial] of the rows, as batchNorm checks them against its input */
  readonly shape: readonly number[];
  /** values per channel in the statistics */
  readonly rows: number;
  readonly part: Tensor;
  readonly K: number;
  readonly chunk: number;
  dispose(): void;
}

/** (mean, M2) of each channel's chunks of t [M, C, ...] (see BnPartials), in the layout t allows. */
export function batchNormPartials(t: Tensor): BnPartials {
  t.assertLive('batchNormPartials');
  if (t.rank < 2 || t.dtype !== 'f32') throw new Error(`batchNormPartials: expected an f32 input of shape [M, C, ...], got ${t.dtype} ${fmt(t.shape)}`);
  const tc = noGrad(() => contiguous(t));
  const C = t.shape[1];
  const S = numel(t.shape.slice(2));
  const rows = t.shape[0] * S;
  if (rows === 0) throw new Error(`batchNormPartials: no rows in ${fmt(t.shape)}`);
  const p = statsPartials(tc, C, S, rows, layoutFor(C, S, [tc], []));
  if (tc !== t) tc.dispose();
  return { kind: 'batchNormPartials', shape: t.shape.slice(1), rows, ...p, dispose: () => p.part.dispose() };
}

/** One partials buffer: (mean, M2) per (channel, chunk) of the rows of t. */
function statsPartials(t: Tensor, C: number, S: number, rows: number, layout: BnLayout): { part: Tensor; K: number; chunk: number } {
  const v = layout === 'scalar' ? 1 : 4;
  const { K, chunk } = chunking(C, rows, layout);
  const part = Tensor.empty([C * K * 2], 'f32');
  const pp = new Params().u32(C, S, rows, K, chunk, t.offset / v).build();
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
  if ((runningMean === null) !== (runningVar === null))
    throw new Error('batchNorm: give both runningMean and runningVar, or neither');
  if (!training && !runningMean) throw new Error('batchNorm: running statistics are required in eval mode (training: false)');
  const slope = opts.negativeSlope ?? null;
  if (slope !== null && !(slope >= 0 && Number.isFinite(slope)))
    throw new Error(`batchNorm: negativeSlope must be a finite number >= 0 (the fused LeakyReLU reads signs from its output), got ${slope}`);
  const act = slope !== null;
  const nbt = opts.numBatchesTracked ?? null;
  if (training && runningMean && momentum === null && (!nbt || nbt.dtype !== 'i32' || nbt.size !== 1))
    throw new Error('batchNorm: momentum null (cumulative average) needs numBatchesTracked, an i32 tensor with one element');

  const given = training ? (opts.statsWith ?? null) : null;
  const cached = given && !(given instanceof Tensor) ? given : null;
  const extra = given instanceof Tensor ? given : null;
  if (extra) {
    extra.assertLive('batchNorm statsWith');
    if (extra.dtype !== 'f32' || extra.rank !== x.rank || extra.shape.some((d, i) => i > 0 && d !== x.shape[i]))
      throw new Error(`batchNorm: statsWith must be f32 [M, ${x.shape.slice(1).join(', ')}] like the input ${fmt(x.shape)}, got ${extra.dtype} ${fmt(extra.shape)}`);
  }
  if (cached) {
    cached.part.assertLive('batchNorm statsWith (partials)');
    if (cached.shape.length !== x.rank - 1 || cached.shape.some((d, i) => d !== x.shape[i + 1]))
      throw new Error(`batchNorm: statsWith partials of rows [M, ${cached.shape.join(', ')}] do not match the input ${fmt(x.shape)}`);
  }
  // rows of statsWith in the statistics
  const R2 = extra ? numel(extra.shape) / C : cached ? cached.rows : 0;
  const head = opts.head ?? null;
  if (head) {
    head.weight.assertLive('batchNorm head weight');
    if (x.rank !== 2) throw new Error(`batchNorm: a head needs an [N, C] input, got ${fmt(x.shape)}`);
    if (head.weight.dtype !== 'f32' || head.weight.rank !== 2 || head.weight.shape[0] !== 1 || head.weight.shape[1] !== C)
      throw new Error(`batchNorm: head weight must be f32 [1, ${C}] for input ${fmt(x.shape)}, got ${head.weight.dtype} ${fmt(head.weight.shape)}`);
    if (head.bias && (head.bias.rank !== 1 || head.bias.shape[0] !== 1)) throw new Error(`batchNorm: head bias must be [1], got ${fmt(head.bias.shape)}`);
  }
  if (training && R + R2 <= 1)
    throw new Error(`batchNorm: expected more than 1 value per channel when training, got input ${fmt(x.shape)}${extra ? ` and statsWith ${fmt(extra.shape)}` : ''}`);
  const xc = noGrad(() => contiguous(x));
  const ec = extra ? noGrad(() => contiguous(extra)) : null;
  const stats = Tensor.empty([2, C], 'f32'); // row 0: mean, row 1: 1 / sqrt(var + eps)
  const layout = layoutFor(C, S, ec ? [xc, ec] : [xc], [weight, bias]);
  const v = layout === 'scalar' ? 1 : 4; // offsets and sizes below are in units of the layout's element
  if (training) {
    const partials = (t: Tensor, rows: number) => statsPartials(t, C, S, rows, layout);
    // one partials buffer per non-empty set of rows (an empty x with statsWith is allowed);
    // given partials are the caller's (not disposed here)
    const theirs = cached ? { part: cached.part, K: cached.K, chunk: cached.chunk } : null;
    const a = R > 0 ? partials(xc, R) : (theirs ?? partials(ec!, R2));
    const b = R > 0 && R2 > 0 ? (theirs ?? partials(ec!, R2)) : null;
    const update = runningMean !== null;
    const cumulative = update && momentum === null;
    const bufs: (GPUBuffer | null)[] = [a.part.buffer, stats.buffer, null, null, null];
    const p = new Params().u32(C, a.K, a.chunk, R > 0 ? R : R2).f32(eps, momentum ?? 0);
    p.u32(runningMean?.offset ?? 0, runningMean?.strides[0] ?? 0, runningVar?.offset ?? 0, runningVar?.strides[0] ?? 0, nbt?.offset ?? 0);
    if (update) {
      bufs[2] = runningMean!.buffer;
      bufs[3] = runningVar!.buffer;
      if (cumulative) bufs[4] = nbt!.buffer;
    }
    if (b) {
      bufs.push(b.part.buffer);
      p.u32(b.K, b.chunk, R2);
    }
    dispatch(bnStatsFinalKernel(update, cumulative, b !== null), bufs, p.build(), grid1d(C));
    if (a.part !== theirs?.part) a.part.dispose();
    if (b && b.part !== theirs?.part) b.part.dispose();
  } else {
    const p = new Params().u32(C).f32(eps).u32(runningMean!.offset, runningMean!.strides[0], runningVar!.offset, runningVar!.strides[0]);
    dispatch(bnStatsRunningKernel(), [runningMean!.buffer, runningVar!.buffer, stats.buffer], p.build(), grid1d(C));
  }

  const out = Tensor.empty(x.shape, 'f32');
  const nbufs = [xc.buffer, stats.buffer];
  if (weight) nbufs.push(weight.buffer);
  if (bias) nbufs.push(bias.buffer);
  nbufs.push(out.buffer);
  const av = layout === 'c4' ? 4 : 1; // c4 reads weight and bias as vec4 too
  const np = new Params()
    .u32(out.size / v, C, S, xc.offset / v, (weight?.offset ?? 0) / av, weight?.strides[0] ?? 0, (bias?.offset ?? 0) / av, bias?.strides[0] ?? 0)
    .f32(slope ?? 0)
    .build();
  if (out.size) dispatch(bnNormalizeKernel(weight !== null, bias !== null, layout, act), nbufs, np, grid1d(bnElementwiseInvocations(layout, out.size / v, C)), undefined, { bytes: 8 * out.size });

  const inputs = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  let res: Tensor;
  if (head) res = recordHead(out, inputs, head, xc, stats, weight, training, bias !== null, act ? slope! : null, R + R2);
  else {
    // saved: x, stats, then the weight and the activated output where they exist
    const save = [xc, stats, ...(weight ? [weight] : []), ...(act ? [out] : [])];
    res = record(
      out,
      act ? 'batchNorm+leakyRelu' : 'batchNorm',
      inputs,
      (g, needs, saved) =>
        batchNormBackward(g, needs, saved[0], saved[1], weight ? saved[2] : null, training, bias !== null, act ? { z: saved[saved.length - 1], slope: slope! } : null, R + R2),
      save,
    );
  }
  stats.dispose();
  if (xc !== x) xc.dispose();
  if (ec && ec !== extra) ec.dispose();
  return res;
}

/**
 * The head of batchNorm's `head` option: scores = linear(out, w, b) as linear() computes them,
 * recorded as one node over [x, weight?, bias?, w, b?] whose backward gives linear's own
 * gradients for w and b and BatchNorm's for the rest, with dy w (linear's input gradient, an
 * outer product) formed inside BatchNorm's gradient kernels.
 */
function recordHead(out: Tensor, bnInputs: Tensor[], head: { weight: Tensor; bias?: Tensor | null }, xc: Tensor, stats: Tensor, weight: Tensor | null, training: boolean, hasBias: boolean, slope: number | null, rStats: number): Tensor {
  const hw = head.weight;
  const hb = head.bias ?? null;
  const scores = noGrad(() => matmulRaw(out, transpose(hw), hb ? (hb.isContiguous() ? hb : contiguous(hb)) : null));
  const nBn = bnInputs.length;
  const C = out.shape[1];
  return record(
    scores,
    slope !== null ? 'batchNorm+leakyRelu+linear' : 'batchNorm+linear',
    [...bnInputs, hw, ...(hb ? [hb] : [])],
    (dy, needs, saved) => {
      const [X, st, z, W] = saved;
      const w = saved[4] ?? null;
      const grads: (Tensor | null)[] = [];
      if (needs.slice(0, nBn).some(Boolean)) {
        const dyc = contiguous(dy);
        const Wc = contiguous(W);
        const u = dyc.view_([dyc.size], [1], dyc.offset);
        const wRow = Wc.view_([C], [1], Wc.offset);
        grads.push(...batchNormBackward({ u, w: wRow }, needs.slice(0, nBn), X, st, w, training, hasBias, slope !== null ? { z, slope } : null, rStats));
        u.dispose();
        wRow.dispose();
        if (dyc !== dy) dyc.dispose();
        if (Wc !== W) Wc.dispose();
      } else grads.push(...needs.slice(0, nBn).map(() => null));
      // linear's own weight and bias gradients (ops/matmul.ts linear)
      grads.push(needs[nBn] ? matmul(transpose(reshape(dy, [-1, 1])), reshape(z, [-1, C])) : null);
      if (hb) grads.push(needs[nBn + 1] ? sum(dy, [0]) : null);
      return grads;
    },
    [xc, stats, out, hw, ...(weight ? [weight] : [])],
  );
}

/**
 * Gradients for [x, weight?, bias?] (the recorded inputs) of the normalisation; `act`: the fused
 * LeakyReLU's output z and slope, whose gradient the kernels apply to g as they read it.
 * `rStats`: rows in the batch statistics (x's own plus statsWith's, whose g is zero).
 */
function batchNormBackward(
  g: Tensor | { u: Tensor; w: Tensor },
  needs: boolean[],
  x: Tensor,
  stats: Tensor,
  weight: Tensor | null,
  training: boolean,
  hasBias: boolean,
  act: { z: Tensor; slope: number } | null,
  rStats: number,
): (Tensor | null)[] {
  const C = x.shape[1];
  const S = numel(x.shape.slice(2));
  const R = x.shape[0] * S;
  const needX = needs[0];
  const needW = weight !== null && needs[1];
  const needB = hasBias && needs[weight ? 2 : 1];
  // g as a tensor, or (a head's input gradient) as the outer product u [N] x w [C] (S = 1)
  const outer = g instanceof Tensor ? null : g;
  const gc = g instanceof Tensor ? contiguous(g) : null;
  const z = act?.z ?? null;
  const layout = layoutFor(C, S, [x, ...(gc ? [gc] : []), ...(z ? [z] : [])], [weight, ...(outer ? [outer.w] : [])]);
  const v = layout === 'scalar' ? 1 : 4;
  const av = layout === 'c4' ? 4 : 1; // c4 reads per-channel vectors as vec4 too
  const gBuf = gc ? gc.buffer : outer!.u.buffer;
  const gOff = gc ? gc.offset / v : 0;
  const gArrays = outer ? 0 : 1; // [N, C] arrays the gradient costs to read
  let red: Tensor | null = null; // row 0: sum(g) = dbias, row 1: sum(g * xhat) = dweight
  if (needW || needB || (training && needX)) {
    const { K, chunk } = chunking(C, R, layout);
    const part = Tensor.empty([C * K * 2], 'f32');
    const pp = new Params().u32(C, S, R, K, chunk, x.offset / v, gOff, (z?.offset ?? 0) / v).f32(act?.slope ?? 0);
    if (outer) pp.u32(outer.u.offset, outer.w.offset / av);
    const bufs: (GPUBuffer | null)[] = [x.buffer, gBuf, stats.buffer, part.buffer, z?.buffer ?? null];
    if (outer) bufs.push(outer.w.buffer);
    dispatch(bnGradPartialKernel(layout, z !== null, outer !== null), bufs, pp.build(), grid1d(bnPartialInvocations(layout, C, K)), undefined, { bytes: 4 * R * C * (1 + gArrays + (z ? 1 : 0)) });
    red = Tensor.empty([2, C], 'f32');
    dispatch(bnGradFinalKernel(), [part.buffer, stats.buffer, red.buffer], new Params().u32(C, K).build(), grid1d(C));
    part.dispose();
  }
  let dx: Tensor | null = null;
  if (needX) {
    dx = Tensor.empty(x.shape, 'f32');
    const bufs = [gBuf, stats.buffer];
    if (training) bufs.push(x.buffer, red!.buffer);
    if (weight) bufs.push(weight.buffer);
    if (z) bufs.push(z.buffer);
    if (outer) bufs.push(outer.w.buffer);
    bufs.push(dx.buffer);
    const p = new Params()
      .u32(dx.size / v, C, S, rStats, x.offset / v, gOff, (weight?.offset ?? 0) / av, weight?.strides[0] ?? 0, (z?.offset ?? 0) / v)
      .f32(act?.slope ?? 0);
    if (outer) p.u32(outer.u.offset, outer.w.offset / av);
    if (dx.size) dispatch(bnGradInputKernel(training, weight !== null, layout, z !== null, outer !== null), bufs, p.build(), grid1d(bnElementwiseInvocations(layout, dx.size / v, C)), undefined, { bytes: 4 * dx.size * (1 + gArrays + (training ? 1 : 0) + (z ? 1 : 0)) });
  }
  const grads: (Tensor | null)[] = [dx];
  if (weight) grads.push(needW ? red!.view_([C], [1], C) : null);
  if (hasBias) grads.push(needB ? red!.view_([C], [1], 0) : null);
  return grads;
}

/** Adds one to an i32 counter in place on the device (BatchNorm's num_batches_tracked). */
export function incrementCounter(t: Tensor): void {
  if (t.dtype !== 'i32' || t.size !== 1) throw new Error(`incrementCounter: expected an i32 tensor with one element, got ${t.dtype} ${fmt(t.shape)}`);
  dispatch(bnCountKernel(), [t.buffer], new Params().u32(t.offset).build(), [1]);
}
