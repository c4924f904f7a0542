// Reductions over any set of dims with keepdim: sum, mean, amax/amin (max/min), argmax/argmin,
// var/std (unbiased flag), L2 norm, logsumexp, and sumTo (the broadcasting gradient helper).
// The kernels (wgsl/reduce.ts) reduce the middle dim of a contiguous [outer, R, inner] view, in
// one of two variants, 'serial' or 'subgroup' (rows only; devices with subgroups); either
// splits a long R over few outputs into chunks and reduces again (multi-pass).
// setReduceVariant / WGT_REDUCE_VARIANT pick one by name; the default is in reduceVariantFor.
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { reduceKernel, reduceColumnsVec4Kernel, reduceRowsVec4Kernel, reduceSgKernel, ReduceParams, type ReduceOp } from '../wgsl/reduce.ts';
import { subgroupSize, deviceInfo } from '../runtime/device.ts';
import { namedVariant } from '../runtime/variants.ts';
import { normDims, numel, fmt, sameShape, contiguousStrides } from '../core/shape.ts';
import { DTYPES } from '../core/dtype.ts';
import { reshape, permute, contiguous, expand } from './views.ts';
import { mul, div, sub, eq, add } from './binary.ts';
import { square, sqrt, log, exp, cast } from './unary.ts';
import { runElementwise } from './launch.ts';

export type ReduceVariant = 'serial' | 'subgroup';
const variant = namedVariant<ReduceVariant>('reduce', ['serial', 'subgroup'], 'WGT_REDUCE_VARIANT');

/** Forces a reduction variant by name (null: the default); returns the previous override. */
export function setReduceVariant(v: ReduceVariant | null): ReduceVariant | null {
  return variant.set(v);
}

/**
 * The variant a reduction of rows (inner = 1) or columns takes: 'subgroup' needs rows and the
 * subgroups feature; by default GPUs take it for rows of at least DEFAULT_SG_ROW elements. A
 * forced 'subgroup' falls back to 'serial' where it cannot run.
 */
export function reduceVariantFor(inner: number, R: number): ReduceVariant {
  const want = variant.forced();
  const can = inner === 1 && subgroupSize() > 0;
  if (want) return want === 'subgroup' && can ? 'subgroup' : 'serial';
  return can && !deviceInfo().cpu && R >= DEFAULT_SG_ROW ? 'subgroup' : 'serial';
}
// On lavapipe the serial rows (vec4) beat the subgroup kernel at every measured shape (8-lane
// workgroups cost more to launch than they save; numbers in docs/PERF.md), so CPU adapters
// default to serial. On a GPU the serial kernel's
// lanes walk different rows (a stride of R between neighbouring lanes' addresses, uncoalesced),
// the case subgroup rows exist for; not yet measured on one (bench reduce prints both).
const DEFAULT_SG_ROW = 64;

/** Reduces the middle dim of contiguous x viewed as [outer, R, inner]; returns [outer, inner]. */
function reduceMiddle(op: ReduceOp, x: Tensor, outer: number, R: number, inner: number, scale: number): Tensor {
  const isArg = op === 'argmax' || op === 'argmin';
  const outs = outer * inner;
  if (reduceVariantFor(inner, R) === 'subgroup') return reduceRows(op, x, outer, R, scale);
  let C = 1;
  if (!isArg && R > 512 && outs < 4096) C = Math.min(Math.ceil(R / 128), Math.max(1, Math.floor(16384 / outs)));
  const rows4 = !isArg && inner === 1 && R % 4 === 0 && x.offset % 4 === 0;
  const chunk = rows4 ? Math.ceil(R / C / 4) * 4 : Math.ceil(R / C);
  C = Math.ceil(R / chunk);
  const dtype = isArg ? 'i32' : x.dtype;
  const out = Tensor.empty([outer, C, inner], dtype);
  const w = DTYPES[x.dtype].wgsl;
  const params = ReduceParams.pack({ outer, R, inner, chunk, chunks: C, scale: C === 1 ? scale : 1, xOffset: x.offset });
  // vec4 loads along a row (rows4) or across 4 neighbouring outputs (columns), else scalar
  const cols4 = !isArg && inner % 4 === 0 && x.offset % 4 === 0;
  const kernel = rows4 ? reduceRowsVec4Kernel(op, w) : cols4 ? reduceColumnsVec4Kernel(op, w) : reduceKernel(op, w);
  const lanes = rows4 ? outer * C : (outer * C * inner) / (cols4 ? 4 : 1);
  dispatch(kernel, [x.storage.buffer, out.storage.buffer], params, grid1d(lanes), undefined, { bytes: 4 * (outer * R * inner + out.size) });
  if (C === 1) return out;
  const next = reduceMiddle(op, out, outer, C, inner, scale);
  out.dispose();
  return next;
}

/** The subgroup variant of reduceMiddle for inner = 1: rows of R, [outer, 1] out. */
function reduceRows(op: ReduceOp, x: Tensor, outer: number, R: number, scale: number): Tensor {
  const isArg = op === 'argmax' || op === 'argmin';
  const sg = subgroupSize();
  // long rows over few outputs: chunks of at least 64 elements per lane, then a second pass
  let C = 1;
  if (!isArg && R > 64 * sg && outer < 4096) C = Math.min(Math.ceil(R / (64 * sg)), Math.max(1, Math.floor(4096 / outer)));
  const vec = !isArg && R % 4 === 0 && x.offset % 4 === 0;
  const chunk = vec ? Math.ceil(R / C / 4) * 4 : Math.ceil(R / C);
  C = Math.ceil(R / chunk);
  const out = Tensor.empty([outer, C], isArg ? 'i32' : x.dtype);
  const params = ReduceParams.pack({ outer, R, inner: 1, chunk, chunks: C, scale: C === 1 ? scale : 1, xOffset: x.offset });
  dispatch(
    reduceSgKernel(op, DTYPES[x.dtype].wgsl, sg, vec),
    [x.storage.buffer, out.storage.buffer],
    params,
    grid1d(outer * C, 1),
    `${outer}x${R}${C > 1 ? ` in ${C} chunks` : ''}`,
    { bytes: 4 * (outer * R + outer * C) },
  );
  if (C === 1) return out;
  const next = reduceMiddle(op, out, outer, C, 1, scale);
  out.dispose();
  return next;
}

/** Reduces `dims` of x without autograd; returns the keepdim-shaped result. */
function reduceRaw(op: ReduceOp, x: Tensor, dims: number[], scale = 1): Tensor {
  const keepShape = x.shape.map((d, i) => (dims.includes(i) ? 1 : d));
  if (x.size === 0) throw new Error(`${op}: cannot reduce an empty tensor ${fmt(x.shape)}`);
  const adjacent = dims.every((d, i) => i === 0 || d === dims[i - 1] + 1);
  let src = x;
  let outer: number, R: number, inner: number;
  if (adjacent && x.isContiguous()) {
    outer = numel(x.shape.slice(0, dims[0] ?? 0));
    R = numel(dims.map((d) => x.shape[d]));
    inner = numel(x.shape.slice((dims[dims.length - 1] ?? -1) + 1));
  } else {
    const rest = x.shape.map((_, i) => i).filter((i) => !dims.includes(i));
    src = contiguous(permute(x, [...rest, ...dims]));
    outer = numel(rest.map((i) => x.shape[i]));
    R = numel(dims.map((d) => x.shape[d]));
    inner = 1;
  }
  const r = reduceMiddle(op, src, outer, R, inner, scale);
  if (src !== x) src.dispose();
  const out = r.view_(keepShape, contiguousStrides(keepShape), 0);
  r.dispose();
  return out;
}

function finish(out: Tensor, x: Tensor, dims: number[], keepdim: boolean): Tensor {
  if (keepdim) return out;
  const shape = x.shape.filter((_, i) => !dims.includes(i));
  const v = out.view_(shape, contiguousStrides(shape), out.offset);
  out.dispose();
  return v;
}

export type Dims = number | readonly number[] | null | undefined;

/** Expands a keepdim-shaped gradient back over the reduced dims. */
function expandBack(g: Tensor, x: Tensor, dims: number[], keepdim: boolean): Tensor {
  const keepShape = x.shape.map((d, i) => (dims.includes(i) ? 1 : d));
  const gk = keepdim ? g : reshape(g, keepShape);
  return expand(gk, x.shape);
}

export function sum(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = normDims('sum', dim, x.rank);
  let src = x;
  if (x.dtype === 'bool') src = cast(x, 'i32');
  const out = finish(reduceRaw('sum', src, dims), x, dims, keepdim);
  if (src !== x) src.dispose();
  return record(out, 'sum', [x], (g) => [expandBack(g, x, dims, keepdim)]);
}

export function mean(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  if (x.dtype !== 'f32') throw new Error(`mean: expected a float tensor, got ${x.dtype}`);
  const dims = normDims('mean', dim, x.rank);
  const R = numel(dims.map((d) => x.shape[d]));
  const out = finish(reduceRaw('sum', x, dims, 1 / R), x, dims, keepdim);
  return record(out, 'mean', [x], (g) => [div(expandBack(g, x, dims, keepdim), R)]);
}

function extremum(op: 'max' | 'min', x: Tensor, dim: Dims, keepdim: boolean): Tensor {
  const dims = normDims(op, dim, x.rank);
  const kept = reduceRaw(op, x, dims);
  const out = finish(kept.view_(kept.shape, kept.strides, kept.offset), x, dims, keepdim);
  // gradient goes to every position equal to the extremum, split evenly (torch's amax rule)
  const res = record(
    out,
    op,
    [x],
    (g, _n, [xs, k]) => {
      const mask = cast(eq(xs, k), 'f32');
      const count = sum(mask, dims, true);
      return [mul(mul(expandBack(g, x, dims, keepdim), mask), expand(div(1, count), x.shape))];
    },
    [x, kept],
  );
  kept.dispose();
  return res;
}

/** torch.amax over dims (values only; ties share the gradient). */
export const max = (x: Tensor, dim?: Dims, keepdim = false) => extremum('max', x, dim, keepdim);
export const min = (x: Tensor, dim?: Dims, keepdim = false) => extremum('min', x, dim, keepdim);

function argExt(op: 'argmax' | 'argmin', x: Tensor, dim: number | null | undefined, keepdim: boolean): Tensor {
  if (dim === null || dim === undefined) {
    const flat = reshape(x, [-1]);
    const r = argExt(op, flat, 0, false);
    flat.dispose();
    return keepdim
      ? reshape(
          r,
          x.shape.map(() => 1),
        )
      : r;
  }
  const dims = normDims(op, dim, x.rank);
  return finish(reduceRaw(op, x, dims), x, dims, keepdim);
}
/** Index (i32) of the first maximum along dim (flattened when dim is omitted). */
export const argmax = (x: Tensor, dim?: number | null, keepdim = false) => argExt('argmax', x, dim, keepdim);
export const argmin = (x: Tensor, dim?: number | null, keepdim = false) => argExt('argmin', x, dim, keepdim);

/** torch.var(x, dim, unbiased, keepdim). */
export function variance(x: Tensor, dim?: Dims, unbiased = true, keepdim = false): Tensor {
  const dims = normDims('var', dim, x.rank);
  const n = numel(dims.map((d) => x.shape[d]));
  const m = mean(x, dims, true);
  const d2 = square(sub(x, m));
  const s = sum(d2, dims, keepdim);
  return div(s, Math.max(unbiased ? n - 1 : n, 0));
}

export function std(x: Tensor, dim?: Dims, unbiased = true, keepdim = false): Tensor {
  return sqrt(variance(x, dim, unbiased, keepdim));
}

/** L2 norm over dims (torch.linalg.vector_norm with ord 2). */
export function norm(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return sqrt(sum(square(x), dim, keepdim));
}

/** log(sum(exp(x))) over dims, stabilised by the max. */
export function logsumexp(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  const dims = normDims('logsumexp', dim, x.rank);
  const raw = reduceRaw('max', x, dims); // constant shift: no gradient needed through it
  // an infinite max shifts by 0 instead (torch's rule): x - inf would make inf - inf = NaN
  const m =
    x.dtype !== 'f32'
      ? raw
      : runElementwise({ name: 'lse.shift', expr: 'select(a, 0.0, (bitcast<u32>(a) & 0x7fffffffu) == 0x7f800000u)' }, [raw], raw.shape, 'f32');
  if (m !== raw) raw.dispose();
  const s = sum(exp(sub(x, m)), dims, true);
  const r = add(log(s), m);
  m.dispose();
  return keepdim
    ? r
    : reshape(
        r,
        x.shape.filter((_, i) => !dims.includes(i)),
      );
}

/** Sums a broadcast gradient back to `shape` (reduces leading and size-1 dims). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  if (lead < 0) throw new Error(`sumTo: cannot reduce ${fmt(g.shape)} to ${fmt(shape)}`);
  const dims: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  const s = dims.length ? sum(g, dims, true) : g;
  return reshape(s, shape);
}
