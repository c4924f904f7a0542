// Ordering and scans: sort (stable, like torch.sort(stable=True)), argsort, topk, quantile
// (torch's default linear interpolation) and cumsum. Sorting is a bitonic network over
// power-of-two padded lines (wgsl/sort.ts): ~log2(P)^2/2 dispatches in one submit, no
// barriers. Gradients of sorted values and topk scatter back through the indices with plain
// stores (the indices of a line are distinct); quantile's flow to its two neighbours; cumsum's
// is the reversed cumsum. cumsum uses the blocked scan of wgsl/scan.ts.
import { Tensor } from '../core/tensor.ts';
import { record, noGrad } from '../autograd/tape.ts';
import { tidy } from '../core/memory.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import {
  sortInit,
  sortGlobalStep,
  sortLocalSteps,
  sortFinish,
  unsortScatter,
  LOCAL_WG,
  SortInitParams,
  SortStepParams,
  SortLocalParams,
  SortFinishParams,
  UnsortParams,
  quantileForward,
  quantileBackward,
  quantileParams,
  quantileBackwardParams,
  QUANTILE_MAX_Q,
} from '../wgsl/sort.ts';
import { cumsumBlockSums, scanBlocks, cumsumApply, CumsumParams, ScanParams } from '../wgsl/scan.ts';
import { DTYPES } from '../core/dtype.ts';
import { normDim, numel, fmt } from '../core/shape.ts';
import { contiguous, reshape } from './views.ts';
import { zeros } from './creation.ts';
import { add } from './binary.ts';
import { cast } from './unary.ts';

function lines(shape: readonly number[], d: number) {
  return { outer: numel(shape.slice(0, d)), n: shape[d], inner: numel(shape.slice(d + 1)) };
}

/** Sorts lines of x along d; returns the first kOut entries of each (values, i32 indices). */
function sortRaw(x: Tensor, d: number, desc: boolean, kOut: number): [Tensor, Tensor] {
  const xc = noGrad(() => contiguous(x));
  const { outer, n, inner } = lines(x.shape, d);
  const outShape = x.shape.map((s, i) => (i === d ? kOut : s));
  const T = DTYPES[x.dtype].wgsl;
  const vals = Tensor.empty(outShape, x.dtype);
  const inds = Tensor.empty(outShape, 'i32');
  const R = outer * inner;
  if (vals.size > 0) {
    let P = 2;
    while (P < n) P *= 2;
    const keys = Tensor.empty([R * P], x.dtype);
    const idx = Tensor.empty([R * P], 'i32');
    const kb = keys.storage.buffer;
    const ib = idx.storage.buffer;
    const descending = desc ? 1 : 0;
    dispatch(sortInit(T), [xc.storage.buffer, kb, ib], SortInitParams.pack({ total: R * P, padded: P, n, inner, xOffset: xc.offset }), grid1d(R * P));
    const L = Math.min(64, P);
    const local = (kStart: number, kEnd: number) => {
      const p = SortLocalParams.pack({ total: (R * P) / L, padded: P, n, descending, kStart, kEnd, L });
      dispatch(sortLocalSteps(L, T), [kb, ib], p, grid1d((R * P) / L, LOCAL_WG));
    };
    local(2, L);
    for (let k = 2 * L; k <= P; k *= 2) {
      for (let j = k / 2; j >= L; j /= 2) {
        dispatch(sortGlobalStep(T), [kb, ib], SortStepParams.pack({ total: (R * P) / 2, padded: P, n, descending, k, j }), grid1d((R * P) / 2));
      }
      local(k, k);
    }
    const p = SortFinishParams.pack({ total: vals.size, padded: P, kOut, inner });
    dispatch(sortFinish(T), [kb, ib, vals.storage.buffer, inds.storage.buffer], p, grid1d(vals.size));
    keys.dispose();
    idx.dispose();
  }
  xc.dispose();
  return [vals, inds];
}

/** Gradient of values taken along d at `inds` (distinct per line) back to x's shape. */
function unsort(g: Tensor, inds: Tensor, xShape: readonly number[], d: number): Tensor {
  const { n, inner } = lines(xShape, d);
  const kOut = inds.shape[d];
  const out = kOut < n ? zeros(xShape) : Tensor.empty(xShape, 'f32');
  const total = inds.size;
  if (total > 0) {
    const gc = contiguous(g);
    const p = UnsortParams.pack({ total, kOut, n, inner, gOffset: gc.offset, idxOffset: inds.offset });
    dispatch(unsortScatter(), [gc.storage.buffer, inds.storage.buffer, out.storage.buffer], p, grid1d(total));
    if (gc !== g) gc.dispose();
  }
  return out;
}

function recordSorted(vals: Tensor, inds: Tensor, x: Tensor, d: number, op: string): [Tensor, Tensor] {
  const v = record(vals, op, [x], (g, _n, [ix]) => [unsort(g, ix, x.shape, d)], [inds]);
  return [v, inds];
}

/**
 * torch.sort(x, dim, descending, stable=True): [values, indices (i32)]. Equal values keep their
 * order; NaN sorts after +inf (first when descending).
 */
export function sort(x: Tensor, dim = -1, descending = false): [Tensor, Tensor] {
  x.assertLive('sort');
  if (x.rank === 0) return tidy(() => sort(reshape(x, [1]), 0, descending).map((t) => reshape(t, [])) as [Tensor, Tensor]);
  const d = normDim('sort', dim, x.rank);
  const [vals, inds] = sortRaw(x, d, descending, x.shape[d]);
  return recordSorted(vals, inds, x, d, 'sort');
}

/** torch.argsort(x, dim, descending) (stable). */
export function argsort(x: Tensor, dim = -1, descending = false): Tensor {
  const [v, i] = noGrad(() => sort(x, dim, descending));
  v.dispose();
  return i;
}

/** torch.topk(x, k, dim, largest, sorted=True): the k largest (or smallest) along dim. */
export function topk(x: Tensor, k: number, dim = -1, largest = true): [Tensor, Tensor] {
  x.assertLive('topk');
  if (x.rank === 0) return tidy(() => topk(reshape(x, [1]), k, 0, largest).map((t) => reshape(t, [])) as [Tensor, Tensor]);
  const d = normDim('topk', dim, x.rank);
  if (!Number.isInteger(k) || k < 0 || k > x.shape[d]) throw new Error(`topk: k = ${k} out of range for dim ${d} of size ${x.shape[d]} (${fmt(x.shape)})`);
  const [vals, inds] = sortRaw(x, d, largest, k);
  return recordSorted(vals, inds, x, d, 'topk');
}

/**
 * torch.quantile(x, q, dim, keepdim) with linear interpolation. `q` is a number (result without
 * a q dim) or a list (q becomes the leading dim). dim omitted: over all elements. A line
 * containing NaN gives NaN.
 */
export function quantile(x: Tensor, q: number | readonly number[], dim?: number | null, keepdim = false): Tensor {
  return tidy(() => quantileImpl(x, q, dim, keepdim));
}

function quantileImpl(x: Tensor, q: number | readonly number[], dim?: number | null, keepdim = false): Tensor {
  x.assertLive('quantile');
  if (x.dtype !== 'f32') throw new Error(`quantile: expected an f32 input, got ${x.dtype}`);
  const qs = typeof q === 'number' ? [q] : [...q];
  if (qs.some((v) => !(v >= 0 && v <= 1))) throw new Error(`quantile: q values must be in the range [0, 1], got [${qs.join(', ')}]`);
  const all = dim === undefined || dim === null;
  const src = all ? reshape(x, [-1]) : x.rank === 0 ? reshape(x, [1]) : x;
  const d = all ? 0 : normDim('quantile', dim!, x.rank);
  const { outer, n, inner } = lines(src.shape, d);
  if (n === 0 || src.size === 0) throw new Error(`quantile: input ${fmt(x.shape)} must be non-empty`);
  const [sorted, sortedIdx] = sort(src, d);
  sortedIdx.dispose();
  const R = outer * inner;
  const rest = src.shape.filter((_, i) => i !== d);
  const out = Tensor.empty([qs.length, ...rest], 'f32');
  const chunks: number[][] = [];
  for (let i = 0; i < qs.length; i += QUANTILE_MAX_Q) chunks.push(qs.slice(i, i + QUANTILE_MAX_Q));
  chunks.forEach((c, ci) => {
    const p = quantileParams(c.length).pack({ total: c.length * R, lines: R, n, inner, sOffset: sorted.offset, outRow: ci * QUANTILE_MAX_Q, q: c });
    dispatch(quantileForward(c.length), [sorted.storage.buffer, out.storage.buffer], p, grid1d(c.length * R));
  });
  const res = record(out, 'quantile', [sorted], (g) => {
    const gc = contiguous(g);
    let acc: Tensor | null = null;
    chunks.forEach((c, ci) => {
      const part = Tensor.empty(src.shape, 'f32');
      const p = quantileBackwardParams(c.length).pack({ total: part.size, lines: R, n, inner, gOffset: gc.offset + ci * QUANTILE_MAX_Q * R, q: c });
      dispatch(quantileBackward(c.length), [gc.storage.buffer, part.storage.buffer], p, grid1d(part.size));
      acc = acc ? add(acc, part) : part;
    });
    return [acc ?? zeros(src.shape)];
  });
  sorted.dispose();
  let shape: number[] = typeof q === 'number' ? [...rest] : [qs.length, ...rest];
  if (keepdim) {
    const kept = all ? x.shape.map(() => 1) : x.shape.map((s, i) => (i === d ? 1 : s));
    shape = typeof q === 'number' ? kept : [qs.length, ...kept];
  }
  return reshape(res, shape);
}

/** Inclusive scan along d without autograd (reverse: from the end of each line). */
function cumsumRaw(x: Tensor, d: number, reverse: boolean): Tensor {
  const src = x.dtype === 'bool' || x.dtype === 'u32' ? cast(x, 'i32') : x;
  const xc = contiguous(src);
  const { outer, n, inner } = lines(x.shape, d);
  const T = DTYPES[src.dtype].wgsl;
  const out = Tensor.empty(x.shape, src.dtype);
  if (out.size > 0) {
    const nLines = outer * inner;
    const B = n <= 64 ? n : Math.max(32, Math.ceil(Math.sqrt(n)));
    const nb = Math.ceil(n / B);
    const sums = Tensor.empty([nLines * nb], src.dtype);
    const p = CumsumParams.pack({ total: nLines * nb, n, inner, reverse: reverse ? 1 : 0, blockLen: B, blocks: nb, xOffset: xc.offset });
    dispatch(cumsumBlockSums(T), [xc.storage.buffer, sums.storage.buffer], p, grid1d(nLines * nb));
    dispatch(scanBlocks(T), [sums.storage.buffer], ScanParams.pack({ lines: nLines, count: nb, stride: nb, writeTotal: 0 }), grid1d(nLines, 64));
    dispatch(cumsumApply(T), [xc.storage.buffer, sums.storage.buffer, out.storage.buffer], p, grid1d(nLines * nb));
    sums.dispose();
  }
  if (xc !== src) xc.dispose();
  if (src !== x) src.dispose();
  return out;
}

/** torch.cumsum(x, dim); integer and bool inputs give i32. */
export function cumsum(x: Tensor, dim: number): Tensor {
  x.assertLive('cumsum');
  if (x.rank === 0) return tidy(() => reshape(cumsum(reshape(x, [1]), 0), []));
  const d = normDim('cumsum', dim, x.rank);
  const out = noGrad(() => cumsumRaw(x, d, false));
  return record(out, 'cumsum', [x], (g) => [cumsumRaw(g, d, true)]);
}
