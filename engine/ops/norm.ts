// torch.nn.functional.layer_norm and group_norm: both normalise rows of x (biased variance, eps
// inside the square root) and apply an optional per-channel weight and bias. Forward: row
// statistics (chunked partials and a merge when rows are few and long), then one elementwise
// pass. Backward is the closed form: per-row sums of g*w and g*w*xhat, then dx in one pass; weight
// and bias gradients as per-channel partial sums. Kernels: wgsl/norm.ts.
import { Tensor } from '../core/tensor.ts';
import { record, noGrad } from '../autograd/tape.ts';
import { dispatch, dispatchHooked } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { fmt, numel, sameShape } from '../core/shape.ts';
import { contiguous, reshape } from './views.ts';
import { sum } from './reduce.ts';
import {
  RUN,
  normStatsKernel,
  normMergeKernel,
  normApplyKernel,
  normGradStatsKernel,
  normGradInputKernel,
  normGradAffineKernel,
  NormStatsParams,
  NormMergeParams,
  NormApplyParams,
  NormGradStatsParams,
  NormGradInputParams,
  NormGradAffineParams,
  type AffineLayout,
  type NormLayout,
} from '../wgsl/norm.ts';

/** x as [rows, m] rows to normalise; channel of element j of row r: (r % groups) * cg + j / s. */
interface Geometry {
  rows: number;
  m: number;
  s: number;
  cg: number;
  groups: number;
  /** x as [nn, c, s] for the per-channel sums (layer norm: [rows, m, 1]). */
  nn: number;
  c: number;
}

// Enough invocations to fill a CPU's lanes and a GPU's first wave without one invocation per few
// elements: rows shorter than this many invocations' worth are split into chunks.
const TARGET_INVOCATIONS = 4096;
const MIN_CHUNK = 256;

/** Chunks per row (1: direct) and elements per chunk, a multiple of 4 when `vec`. */
function rowChunking(rows: number, m: number, vec: boolean): { K: number; chunk: number } {
  let K = rows >= TARGET_INVOCATIONS / 4 ? 1 : Math.max(1, Math.min(Math.ceil(TARGET_INVOCATIONS / rows), Math.floor(m / MIN_CHUNK)));
  let chunk = Math.ceil(m / K);
  if (vec) chunk = Math.ceil(chunk / 4) * 4;
  K = Math.ceil(m / chunk);
  return { K, chunk };
}

const aligned = (...ts: (Tensor | null)[]) => ts.every((t) => !t || t.offset % 4 === 0);

/**
 * The walk of an elementwise pass or of the gradient's row sums over x (and g) with weights
 * (w, b): see NormLayout. `rowSums`: the row-sum kernels, whose vec4s must not span rows.
 */
function layoutFor(geo: Geometry, n: number, data: (Tensor | null)[], weights: (Tensor | null)[], rowSums = false): NormLayout {
  if (!aligned(...data) || (rowSums ? geo.m : n) % 4 !== 0) return 'e1';
  if (geo.s === 1 && geo.cg % 4 === 0 && aligned(...weights)) return 'c4';
  return geo.s % 4 === 0 ? 's4' : 'e4';
}

/** (mean, rstd) per row as a [rows, 2] tensor. */
function rowStats(x: Tensor, geo: Geometry, eps: number): Tensor {
  const { rows, m } = geo;
  const vec = m % 4 === 0 && aligned(x);
  const { K, chunk } = rowChunking(rows, m, vec);
  const stats = Tensor.empty([rows, 2], 'f32');
  const detail = dispatchHooked() ? `${rows}x${m}${K > 1 ? ` K${K}` : ''}` : undefined;
  const p = NormStatsParams.pack({ rows, m, chunk, chunks: K, xOffset: x.offset, eps });
  if (K === 1) {
    dispatch(normStatsKernel(vec, true), [x.storage.buffer, stats.storage.buffer], p, grid1d(rows), detail, { bytes: 8 * rows * m });
    return stats;
  }
  const part = Tensor.empty([rows * K, 2], 'f32');
  dispatch(normStatsKernel(vec, false), [x.storage.buffer, part.storage.buffer], p, grid1d(rows * K), detail, { bytes: 8 * rows * m });
  dispatch(normMergeKernel('stats'), [part.storage.buffer, stats.storage.buffer], NormMergeParams.pack({ rows, m, chunk, chunks: K, eps }), grid1d(rows));
  part.dispose();
  return stats;
}

const geometryFields = (geo: Geometry, n: number) => ({ n, m: geo.m, s: geo.s, cg: geo.cg, groups: geo.groups, rows: geo.rows });

/** The normalisation shared by layerNorm and groupNorm (x f32, weight and bias already checked). */
function normalize(op: string, x: Tensor, geo: Geometry, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const xc = noGrad(() => contiguous(x));
  const wc = weight && noGrad(() => contiguous(weight));
  const bc = bias && noGrad(() => contiguous(bias));
  const out = Tensor.empty(x.shape, 'f32');
  const n = x.size;
  let stats: Tensor | null = null;
  if (n > 0) {
    stats = rowStats(xc, geo, eps);
    const layout = layoutFor(geo, n, [xc], [wc, bc]);
    const p = NormApplyParams.pack({ ...geometryFields(geo, n), xOffset: xc.offset, wOffset: wc?.offset ?? 0, bOffset: bc?.offset ?? 0 });
    const bufs = [xc.storage.buffer, stats.storage.buffer, wc?.storage.buffer ?? null, bc?.storage.buffer ?? null, out.storage.buffer];
    const detail = dispatchHooked() ? `${fmt(x.shape)} ${layout}` : undefined;
    dispatch(normApplyKernel(layout, !!wc, !!bc), bufs, p, grid1d(Math.ceil(n / RUN)), detail, { bytes: 8 * n });
  }
  bc?.dispose();
  if (!stats) {
    xc.dispose();
    wc?.dispose();
    return out;
  }
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const result = record(
    out,
    op,
    inputs,
    (g, needs, saved) => {
      const [xs, st] = saved;
      const ws = wc ? saved[2] : null;
      const gc = contiguous(g);
      const gx = needs[0] ? gradInput(xs, gc, st, ws, geo) : null;
      const aff = (weight && needs[1]) || (bias && needs[weight ? 2 : 1]) ? gradAffine(xs, gc, st, geo) : null;
      const grads: (Tensor | null)[] = [gx];
      if (weight) grads.push(aff && needs[1] ? reshape(aff.dw, weight.shape) : null);
      if (bias) grads.push(aff && needs[weight ? 2 : 1] ? reshape(aff.db, bias.shape) : null);
      return grads;
    },
    [xc, stats, ...(wc ? [wc] : [])],
  );
  xc.dispose();
  stats.dispose();
  wc?.dispose();
  return result;
}

function gradInput(x: Tensor, g: Tensor, stats: Tensor, w: Tensor | null, geo: Geometry): Tensor {
  const { rows, m } = geo;
  const n = x.size;
  const rowLayout = layoutFor(geo, n, [x, g], [w], true);
  const { K, chunk } = rowChunking(rows, m, rowLayout !== 'e1');
  const sums = Tensor.empty([rows, 2], 'f32');
  const sp = NormGradStatsParams.pack({
    rows,
    m,
    chunk,
    chunks: K,
    s: geo.s,
    cg: geo.cg,
    groups: geo.groups,
    xOffset: x.offset,
    gOffset: g.offset,
    wOffset: w?.offset ?? 0,
  });
  const wb = w?.storage.buffer ?? null;
  if (K === 1) {
    dispatch(normGradStatsKernel(rowLayout, true, !!w), [x.storage.buffer, g.storage.buffer, stats.storage.buffer, wb, sums.storage.buffer], sp, grid1d(rows));
  } else {
    const part = Tensor.empty([rows * K, 2], 'f32');
    dispatch(
      normGradStatsKernel(rowLayout, false, !!w),
      [x.storage.buffer, g.storage.buffer, stats.storage.buffer, wb, part.storage.buffer],
      sp,
      grid1d(rows * K),
    );
    dispatch(normMergeKernel('sum'), [part.storage.buffer, sums.storage.buffer], NormMergeParams.pack({ rows, m, chunk, chunks: K, eps: 0 }), grid1d(rows));
    part.dispose();
  }
  const gx = Tensor.empty(x.shape, 'f32');
  const layout = layoutFor(geo, n, [x, g], [w]);
  const p = NormGradInputParams.pack({ ...geometryFields(geo, n), xOffset: x.offset, gOffset: g.offset, wOffset: w?.offset ?? 0, invM: 1 / m });
  dispatch(
    normGradInputKernel(layout, !!w),
    [x.storage.buffer, g.storage.buffer, stats.storage.buffer, sums.storage.buffer, wb, gx.storage.buffer],
    p,
    grid1d(Math.ceil(n / RUN)),
  );
  sums.dispose();
  return gx;
}

/** Weight and bias gradients ([c] each): sums of g * xhat and g over samples and positions. */
function gradAffine(x: Tensor, g: Tensor, stats: Tensor, geo: Geometry): { dw: Tensor; db: Tensor } {
  const { nn, c, s, cg } = geo;
  const layout: AffineLayout = !aligned(x, g) ? 'scalar' : s === 1 && cg % 4 === 0 ? 'c4' : s % 4 === 0 ? 's4' : 'scalar';
  const lanes = layout === 'c4' ? c / 4 : c;
  const total = nn * s;
  // split the (sample, position) sums when channels alone give too few invocations
  let K = Math.max(1, Math.min(Math.ceil(TARGET_INVOCATIONS / lanes), Math.floor(total / 64)));
  let chunk = Math.ceil(total / K);
  if (layout === 's4') chunk = Math.ceil(chunk / 4) * 4;
  K = Math.ceil(total / chunk);
  const dwPart = Tensor.empty([K, c], 'f32');
  const dbPart = Tensor.empty([K, c], 'f32');
  const p = NormGradAffineParams.pack({ nn, c, s, cg, groups: geo.groups, chunk, chunks: K, xOffset: x.offset, gOffset: g.offset });
  const bufs = [x.storage.buffer, g.storage.buffer, stats.storage.buffer, dwPart.storage.buffer, dbPart.storage.buffer];
  dispatch(normGradAffineKernel(layout), bufs, p, grid1d(lanes * K));
  if (K === 1) return { dw: reshape(dwPart, [c]), db: reshape(dbPart, [c]) };
  return { dw: sum(dwPart, 0), db: sum(dbPart, 0) };
}

function checkFloat(op: string, name: string, t: Tensor | null): void {
  if (!t) return;
  t.assertLive(op);
  if (t.dtype !== 'f32') throw new Error(`${op}: expected an f32 ${name}, got ${t.dtype} ${fmt(t.shape)}`);
}

/**
 * torch.nn.functional.layer_norm: normalises over the last normalizedShape.length dims (biased
 * variance); weight and bias, when given, have shape normalizedShape.
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  const op = 'layerNorm';
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  checkFloat(op, 'input', x);
  checkFloat(op, 'weight', weight);
  checkFloat(op, 'bias', bias);
  const k = ns.length;
  if (k === 0 || k > x.rank || !sameShape(x.shape.slice(x.rank - k), ns))
    throw new Error(`${op}: normalizedShape ${fmt(ns)} must be non-empty and match the last dims of input ${fmt(x.shape)}`);
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const)
    if (t && !sameShape(t.shape, ns)) throw new Error(`${op}: ${name} ${fmt(t.shape)} must have normalizedShape ${fmt(ns)}`);
  if (!(eps >= 0)) throw new Error(`${op}: eps must be >= 0, got ${eps}`);
  const m = numel(ns);
  const rows = numel(x.shape.slice(0, x.rank - k));
  return normalize(op, x, { rows, m, s: 1, cg: m, groups: 1, nn: rows, c: m }, weight, bias, eps);
}

/**
 * torch.nn.functional.group_norm on [N, C, *]: the C channels split into numGroups groups, each
 * (sample, group) normalised over its channels and positions; weight and bias have shape [C].
 */
export function groupNorm(x: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const op = 'groupNorm';
  checkFloat(op, 'input', x);
  checkFloat(op, 'weight', weight);
  checkFloat(op, 'bias', bias);
  if (x.rank < 2) throw new Error(`${op}: expected input [N, C, *], got ${fmt(x.shape)}`);
  const [N, C] = x.shape;
  if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0)
    throw new Error(`${op}: numGroups must be a positive divisor of the ${C} channels of input ${fmt(x.shape)}, got ${numGroups}`);
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const)
    if (t && !sameShape(t.shape, [C])) throw new Error(`${op}: ${name} ${fmt(t.shape)} must have shape [${C}] for input ${fmt(x.shape)}`);
  if (!(eps >= 0)) throw new Error(`${op}: eps must be >= 0, got ${eps}`);
  const S = numel(x.shape.slice(2));
  const cg = C / numGroups;
  return normalize(op, x, { rows: N * numGroups, m: cg * S, s: S, cg, groups: numGroups, nn: N, c: C }, weight, bias, eps);
}
