// Reductions over any set of dims with keepdim: sum, mean, amax/amin (max/min), argmax/argmin,
// var/std (unbiased flag), L2 norm, logsumexp, and sumTo (the broadcasting gradient helper).
// The kernel reduces the middle dim of a [outer, R, inner] view with one invocation per output
// and a serial loop (no workgroup barriers: they are slow on CPU Vulkan drivers); when there
// are few outputs and R is long it splits R into chunks and reduces again (multi-pass).
import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { dispatch, Params } from '../runtime.ts';
import { PARAMS_DECL, main1d, pu, pf, storage, grid1d } from '../wgsl/common.ts';
import { normDims, numel, fmt, sameShape, contiguousStrides } from '../shape.ts';
import { DTYPES } from '../dtype.ts';
import { reshape, permute, contiguous, expand } from './views.ts';
import { mul, div, sub, eq, add } from './binary.ts';
import { square, sqrt, log, exp, cast } from './unary.ts';

type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

const INIT: Record<ReduceOp, string> = {
  sum: '0.0',
  max: '-3.402823e38',
  min: '3.402823e38',
  argmax: '-3.402823e38',
  argmin: '3.402823e38',
};

function reduceKernel(op: ReduceOp, inType: string) {
  const isArg = op === 'argmax' || op === 'argmin';
  const outType = isArg ? 'i32' : inType;
  const step = {
    sum: 'acc = acc + v;',
    max: 'acc = max(acc, v);',
    min: 'acc = min(acc, v);',
    argmax: 'if (v > acc) { acc = v; best = i32(r); }',
    argmin: 'if (v < acc) { acc = v; best = i32(r); }',
  }[op];
  const init = inType === 'f32' ? INIT[op] : op === 'sum' ? '0' : op === 'max' || op === 'argmax' ? `${inType}(${inType === 'i32' ? '-2147483647 - 1' : '0u'})` : `${inType}(${inType === 'i32' ? '2147483647' : '4294967295u'})`;
  return {
    name: `reduce.${op}`,
    key: `reduce:${op}:${inType}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'x', inType)}
${storage(2, 'out', outType, true)}
${main1d()}
  let outer = ${pu(0)}; let R = ${pu(1)}; let inner = ${pu(2)}; let chunk = ${pu(3)}; let C = ${pu(4)};
  if (gi >= outer * C * inner) { return; }
  let o = gi / (C * inner);
  let rem = gi % (C * inner);
  let c = rem / inner;
  let i = rem % inner;
  let base = ${pu(6)} + o * R * inner + i;
  var acc: ${inType} = ${init};
  var best: i32 = 0;
  let r0 = c * chunk;
  let r1 = min(R, r0 + chunk);
  for (var r = r0; r < r1; r++) {
    let v = x[base + r * inner];
    ${step}
  }
  ${isArg ? 'out[gi] = best;' : inType === 'f32' ? `out[gi] = acc * ${pf(5)};` : 'out[gi] = acc;'}
}`,
  };
}

/** Reduces the middle dim of contiguous x viewed as [outer, R, inner]; returns [outer, inner]. */
function reduceMiddle(op: ReduceOp, x: Tensor, outer: number, R: number, inner: number, scale: number): Tensor {
  const isArg = op === 'argmax' || op === 'argmin';
  const outs = outer * inner;
  let C = 1;
  if (!isArg && R > 512 && outs < 4096) C = Math.min(Math.ceil(R / 128), Math.max(1, Math.floor(16384 / outs)));
  const chunk = Math.ceil(R / C);
  C = Math.ceil(R / chunk);
  const dtype = isArg ? 'i32' : x.dtype;
  const out = Tensor.empty([outer, C, inner], dtype);
  const w = DTYPES[x.dtype].wgsl;
  const params = new Params().u32(outer, R, inner, chunk, C).f32(C === 1 ? scale : 1).u32(x.offset).build();
  dispatch(reduceKernel(op, w), [x.storage.buffer, out.storage.buffer], params, grid1d(outer * C * inner));
  if (C === 1) return out;
  const next = reduceMiddle(op, out, outer, C, inner, scale);
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
    return keepdim ? reshape(r, x.shape.map(() => 1)) : r;
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
  const m = reduceRaw('max', x, dims); // constant shift: no gradient needed through it
  const s = sum(exp(sub(x, m)), dims, true);
  const r = add(log(s), m);
  m.dispose();
  return keepdim ? r : reshape(r, x.shape.filter((_, i) => !dims.includes(i)));
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
