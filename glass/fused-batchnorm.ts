// The discriminator's BatchNorm as GLASS's gradient ascent runs it: training-mode batch norm over
// [N, C] whose statistics also take in context rows that get no output and no gradient, with the
// LeakyReLU and the Linear(C, 1) head after it fused into the same op.
//
// Each ascent step scores cat([true, gaus]) but differentiates only the gaus half, and with one
// hidden block the true rows only feed BatchNorm's statistics. So the true rows are the context:
// their per-channel partial statistics are computed once for all the steps (batchNormPartials),
// and each step reduces, normalises, scores and differentiates only its own rows. The results are
// those of batchNorm(cat([context, x]))[M:] (values, gradients, running-stat update), the same
// bits as the engine's batchNorm where the layouts agree. The head's backward hands the gradient
// kernels the head's input gradient as the outer product dy w instead of an [N, C] tensor (one
// write and two reads fewer per step). Kernels: glass/kernels/context-batchnorm.ts.
import * as E from '../engine/index.ts';
import {
  ctxStatsPartialKernel,
  ctxStatsFinalKernel,
  ctxNormalizeKernel,
  ctxGradPartialKernel,
  ctxGradFinalKernel,
  ctxGradInputKernel,
  ctxPartialInvocations,
  ctxElementwiseInvocations,
  CtxStatsParams,
  CtxCombineParams,
  CtxNormalizeParams,
  CtxGradPartialParams,
  CtxGradCombineParams,
  CtxGradInputParams,
  type CtxLayout,
} from './kernels/context-batchnorm.ts';

const { dispatch, grid1d } = E.kernels;

/**
 * The per-channel partial statistics of context rows [M, C], computed once for several calls
 * (the true features through all the ascent steps). The caller disposes it.
 */
export interface BnPartials {
  readonly kind: 'batchNormPartials';
  /** channels */
  readonly channels: number;
  /** rows in the statistics */
  readonly rows: number;
  readonly part: E.Tensor;
  readonly K: number;
  readonly chunk: number;
  dispose(): void;
}

/** A Linear(C, 1) applied to the (activated) output: weight [1, C], bias [1] or none. */
export interface BnHead {
  weight: E.Tensor;
  bias?: E.Tensor | null;
}

export interface ContextBatchNormOptions {
  /** Rows [M, C] (or their partials) that join the statistics with no output and no gradient. */
  statsWith?: E.Tensor | BnPartials | null;
  /** Weight of the batch statistics in the running update (default 0.1); null: cumulative. */
  momentum?: number | null;
  eps?: number;
  /** i32 counter with one element; required when momentum is null and running stats are given. */
  numBatchesTracked?: E.Tensor | null;
  /** LeakyReLU(negativeSlope) after the normalisation (>= 0), or none. */
  negativeSlope?: number | null;
  /** linear(out, head.weight, head.bias) in the same op: the result is [N, 1]. */
  head?: BnHead | null;
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** The widest layout the shape and offsets allow: c4 reads x and the per-channel vectors as vec4. */
function layoutFor(C: number, data: E.Tensor[], perChannel: (E.Tensor | null)[]): CtxLayout {
  if (!data.every((t) => t.offset % 4 === 0)) return 'scalar';
  if (C % 4 === 0 && perChannel.every((t) => !t || (t.offset % 4 === 0 && t.strides[0] === 1))) return 'c4';
  return 'scalar';
}

/** Chunks per channel for the partial reductions: enough invocations to fill the device. */
function chunking(C: number, R: number, layout: CtxLayout): { K: number; chunk: number } {
  let K = 1;
  if (R > 256) K = Math.max(1, Math.min(Math.ceil(R / 128), Math.floor(8192 / ctxPartialInvocations(layout, C, 1))));
  const chunk = Math.ceil(R / K);
  return { K: Math.ceil(R / chunk), chunk };
}

/** (mean, M2) per (channel, chunk) of the R rows of the dense t [R, C]. */
function statsPartials(t: E.Tensor, C: number, R: number, layout: CtxLayout): { part: E.Tensor; K: number; chunk: number } {
  const v = layout === 'c4' ? 4 : 1;
  const { K, chunk } = chunking(C, R, layout);
  const part = E.Tensor.empty([C * K * 2], 'f32');
  const p = CtxStatsParams.pack({ channels: C, rows: R, chunks: K, chunk, xOffset: t.offset / v });
  dispatch(ctxStatsPartialKernel(layout), [t.buffer, part.buffer], p, grid1d(ctxPartialInvocations(layout, C, K)), undefined, { bytes: 8 * R * C });
  return { part, K, chunk };
}

/** The partial statistics of context rows t [M, C] (see BnPartials), in the layout t allows. */
export function batchNormPartials(t: E.Tensor): BnPartials {
  t.assertLive('batchNormPartials');
  if (t.rank !== 2 || t.dtype !== 'f32') throw new Error(`batchNormPartials: expected f32 rows [M, C], got ${t.dtype} ${fmt(t.shape)}`);
  const [M, C] = t.shape;
  if (M === 0) throw new Error(`batchNormPartials: no rows in ${fmt(t.shape)}`);
  const tc = E.noGrad(() => E.contiguous(t));
  const p = statsPartials(tc, C, M, layoutFor(C, [tc], []));
  if (tc !== t) tc.dispose();
  return { kind: 'batchNormPartials', channels: C, rows: M, ...p, dispose: () => p.part.dispose() };
}

function checkVec(name: string, t: E.Tensor | null, C: number, x: E.Tensor): void {
  if (!t) return;
  t.assertLive(`batchNormWithContext ${name}`);
  if (t.dtype !== 'f32' || t.rank !== 1 || t.shape[0] !== C)
    throw new Error(`batchNormWithContext: ${name} must be f32 of shape [${C}] for input ${fmt(x.shape)}, got ${t.dtype} ${fmt(t.shape)}`);
}

/**
 * F.batch_norm(cat([statsWith, x]), runningMean, runningVar, weight, bias, training=True,
 * momentum, eps)[M:] over [N, C], then LeakyReLU(negativeSlope) and the head where given: the
 * context rows join the statistics and the running update only. Running statistics are updated
 * in place.
 */
export function batchNormWithContext(
  x: E.Tensor,
  runningMean: E.Tensor | null,
  runningVar: E.Tensor | null,
  weight: E.Tensor | null,
  bias: E.Tensor | null,
  opts: ContextBatchNormOptions = {},
): E.Tensor {
  const momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
  const eps = opts.eps ?? 1e-5;
  x.assertLive('batchNormWithContext');
  if (x.rank !== 2 || x.dtype !== 'f32') throw new Error(`batchNormWithContext: expected an f32 input [N, C], got ${x.dtype} ${fmt(x.shape)}`);
  const [N, C] = x.shape;
  checkVec('runningMean', runningMean, C, x);
  checkVec('runningVar', runningVar, C, x);
  checkVec('weight', weight, C, x);
  checkVec('bias', bias, C, x);
  if ((runningMean === null) !== (runningVar === null)) throw new Error('batchNormWithContext: give both runningMean and runningVar, or neither');
  const slope = opts.negativeSlope ?? null;
  if (slope !== null && !(slope >= 0 && Number.isFinite(slope)))
    throw new Error(`batchNormWithContext: negativeSlope must be a finite number >= 0 (the fused LeakyReLU reads signs from its output), got ${slope}`);
  const nbt = opts.numBatchesTracked ?? null;
  if (runningMean && momentum === null && (!nbt || nbt.dtype !== 'i32' || nbt.size !== 1))
    throw new Error('batchNormWithContext: momentum null (cumulative average) needs numBatchesTracked, an i32 tensor with one element');
  const given = opts.statsWith ?? null;
  if (given instanceof E.Tensor) {
    given.assertLive('batchNormWithContext statsWith');
    if (given.dtype !== 'f32' || given.rank !== 2 || given.shape[1] !== C)
      throw new Error(`batchNormWithContext: statsWith must be f32 [M, ${C}] like the input ${fmt(x.shape)}, got ${given.dtype} ${fmt(given.shape)}`);
  } else if (given) {
    given.part.assertLive('batchNormWithContext statsWith (partials)');
    if (given.channels !== C) throw new Error(`batchNormWithContext: statsWith partials of rows [M, ${given.channels}] do not match the input ${fmt(x.shape)}`);
  }
  const head = opts.head ?? null;
  if (head) {
    head.weight.assertLive('batchNormWithContext head weight');
    if (head.weight.dtype !== 'f32' || head.weight.rank !== 2 || head.weight.shape[0] !== 1 || head.weight.shape[1] !== C)
      throw new Error(`batchNormWithContext: head weight must be f32 [1, ${C}] for input ${fmt(x.shape)}, got ${head.weight.dtype} ${fmt(head.weight.shape)}`);
    if (head.bias && (head.bias.rank !== 1 || head.bias.shape[0] !== 1))
      throw new Error(`batchNormWithContext: head bias must be [1], got ${fmt(head.bias.shape)}`);
  }
  const R2 = given instanceof E.Tensor ? given.shape[0] : given ? given.rows : 0;
  if (N + R2 <= 1)
    throw new Error(
      `batchNormWithContext: expected more than 1 value per channel, got input ${fmt(x.shape)}${given instanceof E.Tensor ? ` and statsWith ${fmt(given.shape)}` : ''}`,
    );

  const xc = E.noGrad(() => E.contiguous(x));
  // the context's partials: the caller's, or made here from its rows (and disposed here)
  const ctx = given instanceof E.Tensor ? (R2 > 0 ? batchNormPartials(given) : null) : given;
  const stats = E.Tensor.empty([2, C], 'f32'); // row 0: mean, row 1: 1 / sqrt(var + eps)
  const layout = layoutFor(C, [xc], [weight, bias]);
  const v = layout === 'c4' ? 4 : 1; // offsets and sizes below are in units of the layout's element
  // one partials buffer per non-empty set of rows (an empty x with a context is allowed)
  const own = N > 0 ? statsPartials(xc, C, N, layout) : null;
  const a = own ?? ctx!;
  const b = own ? ctx : null;
  const update = runningMean !== null;
  const cumulative = update && momentum === null;
  const bufs: (GPUBuffer | null)[] = [a.part.buffer, stats.buffer, null, null, null];
  if (update) {
    bufs[2] = runningMean!.buffer;
    bufs[3] = runningVar!.buffer;
    if (cumulative) bufs[4] = nbt!.buffer;
  }
  if (b) bufs.push(b.part.buffer);
  const p = CtxCombineParams.pack({
    channels: C,
    chunks: a.K,
    chunk: a.chunk,
    rows: own ? N : R2,
    chunks2: b?.K ?? 0,
    chunk2: b?.chunk ?? 0,
    rows2: b ? R2 : 0,
    eps,
    momentum: momentum ?? 0,
    meanOffset: runningMean?.offset ?? 0,
    meanStride: runningMean?.strides[0] ?? 0,
    varOffset: runningVar?.offset ?? 0,
    varStride: runningVar?.strides[0] ?? 0,
    countOffset: nbt?.offset ?? 0,
  });
  dispatch(ctxStatsFinalKernel(update, cumulative, b !== null), bufs, p, grid1d(C));
  own?.part.dispose();
  if (ctx && ctx !== given) ctx.dispose();

  const out = E.Tensor.empty([N, C], 'f32');
  const nbufs = [xc.buffer, stats.buffer];
  if (weight) nbufs.push(weight.buffer);
  if (bias) nbufs.push(bias.buffer);
  nbufs.push(out.buffer);
  const np = CtxNormalizeParams.pack({
    total: out.size / v,
    channels: C,
    xOffset: xc.offset / v,
    weightOffset: (weight?.offset ?? 0) / v,
    weightStride: weight?.strides[0] ?? 0,
    biasOffset: (bias?.offset ?? 0) / v,
    biasStride: bias?.strides[0] ?? 0,
    slope: slope ?? 0,
  });
  if (out.size)
    dispatch(
      ctxNormalizeKernel(weight !== null, bias !== null, layout, slope !== null),
      nbufs,
      np,
      grid1d(ctxElementwiseInvocations(layout, out.size / v, C)),
      undefined,
      { bytes: 8 * out.size },
    );

  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const bn: BnSaved = { weight, hasBias: bias !== null, slope, statsRows: N + R2 };
  let res: E.Tensor;
  if (head) res = recordHead(out, inputs, head, xc, stats, bn);
  else {
    // saved: x, stats, then the weight and the activated output where they exist
    const save = [xc, stats, ...(weight ? [weight] : []), ...(slope !== null ? [out] : [])];
    res = E.record(
      out,
      slope !== null ? 'batchNormWithContext+leakyRelu' : 'batchNormWithContext',
      inputs,
      (g, needs, saved) => backward(g, needs, saved[0], saved[1], weight ? saved[2] : null, slope !== null ? saved[saved.length - 1] : null, bn),
      save,
    );
  }
  stats.dispose();
  if (xc !== x) xc.dispose();
  return res;
}

/** What the backward needs of the forward besides the saved tensors. */
interface BnSaved {
  weight: E.Tensor | null;
  hasBias: boolean;
  slope: number | null;
  /** rows in the statistics: x's own plus the context's (whose g is zero) */
  statsRows: number;
}

/**
 * scores = linear(out, w, b) as linear() computes them, recorded as one node over [x, weight?,
 * bias?, w, b?] whose backward gives linear's own gradients for w and b and BatchNorm's for the
 * rest, with dy w (linear's input gradient, an outer product) formed inside the gradient kernels.
 */
function recordHead(out: E.Tensor, bnInputs: E.Tensor[], head: BnHead, xc: E.Tensor, stats: E.Tensor, bn: BnSaved): E.Tensor {
  const hw = head.weight;
  const hb = head.bias ?? null;
  const scores = E.noGrad(() => E.linear(out, hw, hb));
  const nBn = bnInputs.length;
  const C = out.shape[1];
  return E.record(
    scores,
    bn.slope !== null ? 'batchNormWithContext+leakyRelu+linear' : 'batchNormWithContext+linear',
    [...bnInputs, hw, ...(hb ? [hb] : [])],
    (dy, needs, saved) => {
      const [X, st, z, W] = saved;
      const w = saved[4] ?? null;
      const grads: (E.Tensor | null)[] = [];
      if (needs.slice(0, nBn).some(Boolean)) {
        const dyc = E.contiguous(dy);
        const Wc = E.contiguous(W);
        const u = dyc.view_([dyc.size], [1], dyc.offset);
        const wRow = Wc.view_([C], [1], Wc.offset);
        grads.push(...backward({ u, w: wRow }, needs.slice(0, nBn), X, st, w, bn.slope !== null ? z : null, bn));
        u.dispose();
        wRow.dispose();
        if (dyc !== dy) dyc.dispose();
        if (Wc !== W) Wc.dispose();
      } else grads.push(...needs.slice(0, nBn).map(() => null));
      // linear's own weight and bias gradients (the engine's linear)
      grads.push(needs[nBn] ? E.matmul(E.transpose(E.reshape(dy, [-1, 1])), E.reshape(z, [-1, C])) : null);
      if (hb) grads.push(needs[nBn + 1] ? E.sum(dy, [0]) : null);
      return grads;
    },
    [xc, stats, out, hw, ...(bn.weight ? [bn.weight] : [])],
  );
}

/**
 * Gradients for [x, weight?, bias?] of the normalisation, from g [N, C] or (the head's input
 * gradient) the outer product u [N] x w [C]; z: the fused LeakyReLU's output, whose gradient the
 * kernels apply to g as they read it.
 */
function backward(
  g: E.Tensor | { u: E.Tensor; w: E.Tensor },
  needs: boolean[],
  x: E.Tensor,
  stats: E.Tensor,
  weight: E.Tensor | null,
  z: E.Tensor | null,
  bn: BnSaved,
): (E.Tensor | null)[] {
  const [R, C] = x.shape;
  const needX = needs[0];
  const needW = weight !== null && needs[1];
  const needB = bn.hasBias && needs[weight ? 2 : 1];
  const outer = g instanceof E.Tensor ? null : g;
  const gc = g instanceof E.Tensor ? E.contiguous(g) : null;
  const layout = layoutFor(C, [x, ...(gc ? [gc] : []), ...(z ? [z] : [])], [weight, ...(outer ? [outer.w] : [])]);
  const v = layout === 'c4' ? 4 : 1;
  const gBuf = gc ? gc.buffer : outer!.u.buffer;
  const gOff = gc ? gc.offset / v : 0;
  const gArrays = outer ? 0 : 1; // [N, C] arrays the gradient costs to read
  const slope = bn.slope ?? 0;
  const uOffset = outer?.u.offset ?? 0;
  const headOffset = (outer?.w.offset ?? 0) / v;
  let red: E.Tensor | null = null; // row 0: sum(g) = dbias, row 1: sum(g * xhat) = dweight
  if (needW || needB || needX) {
    const { K, chunk } = chunking(C, R, layout);
    const part = E.Tensor.empty([C * K * 2], 'f32');
    const p = CtxGradPartialParams.pack({
      channels: C,
      rows: R,
      chunks: K,
      chunk,
      xOffset: x.offset / v,
      gOffset: gOff,
      zOffset: (z?.offset ?? 0) / v,
      slope,
      uOffset,
      headOffset,
    });
    const bufs: (GPUBuffer | null)[] = [x.buffer, gBuf, stats.buffer, part.buffer, z?.buffer ?? null];
    if (outer) bufs.push(outer.w.buffer);
    dispatch(ctxGradPartialKernel(layout, z !== null, outer !== null), bufs, p, grid1d(ctxPartialInvocations(layout, C, K)), undefined, {
      bytes: 4 * R * C * (1 + gArrays + (z ? 1 : 0)),
    });
    red = E.Tensor.empty([2, C], 'f32');
    dispatch(ctxGradFinalKernel(), [part.buffer, stats.buffer, red.buffer], CtxGradCombineParams.pack({ channels: C, chunks: K }), grid1d(C));
    part.dispose();
  }
  let dx: E.Tensor | null = null;
  if (needX) {
    dx = E.Tensor.empty([R, C], 'f32');
    const bufs = [gBuf, stats.buffer, x.buffer, red!.buffer];
    if (weight) bufs.push(weight.buffer);
    if (z) bufs.push(z.buffer);
    if (outer) bufs.push(outer.w.buffer);
    bufs.push(dx.buffer);
    const p = CtxGradInputParams.pack({
      total: dx.size / v,
      channels: C,
      statsRows: bn.statsRows,
      xOffset: x.offset / v,
      gOffset: gOff,
      weightOffset: (weight?.offset ?? 0) / v,
      weightStride: weight?.strides[0] ?? 0,
      zOffset: (z?.offset ?? 0) / v,
      slope,
      uOffset,
      headOffset,
    });
    if (dx.size)
      dispatch(
        ctxGradInputKernel(weight !== null, layout, z !== null, outer !== null),
        bufs,
        p,
        grid1d(ctxElementwiseInvocations(layout, dx.size / v, C)),
        undefined,
        { bytes: 4 * dx.size * (2 + gArrays + (z ? 1 : 0)) },
      );
  }
  if (gc && gc !== g) gc.dispose();
  const grads: (E.Tensor | null)[] = [dx];
  if (weight) grads.push(needW ? red!.view_([C], [1], C) : null);
  if (bn.hasBias) grads.push(needB ? red!.view_([C], [1], 0) : null);
  return grads;
}

/**
 * A BatchNorm1d module in training mode through batchNormWithContext: its counter, running
 * statistics, momentum, eps, weight and bias, as the module's forward uses them.
 */
export function batchNorm1dWithContext(
  bn: E.nn.BatchNorm1d,
  x: E.Tensor,
  opts: Pick<ContextBatchNormOptions, 'statsWith' | 'negativeSlope' | 'head'>,
): E.Tensor {
  if (!bn.training) throw new Error('batchNorm1dWithContext: the module must be in training mode (context rows join batch statistics)');
  if (x.rank !== 2 || x.shape[1] !== bn.numFeatures)
    throw new Error(`batchNorm1dWithContext: input ${fmt(x.shape)} does not match BatchNorm1d(${bn.numFeatures})`);
  const nbt = bn.numBatchesTracked;
  if (bn.trackRunningStats && nbt) E.incrementCounter(nbt);
  const track = bn.trackRunningStats;
  return batchNormWithContext(x, track ? bn.runningMean : null, track ? bn.runningVar : null, bn.weight, bn.bias, {
    ...opts,
    momentum: bn.momentum,
    eps: bn.eps,
    numBatchesTracked: nbt,
  });
}
