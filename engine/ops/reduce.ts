// Reductions over any set of dims with keepdim: sum, mean, amax/amin (max/min), argmax/argmin,
// var/std (unbiased flag), L2 norm, logsumexp, and sumTo (the broadcasting gradient helper).
// Two kernel variants reduce the middle dim of a [outer, R, inner] view:
// - 'serial': one invocation per output and a serial loop (no workgroup barriers: they are slow
//   on CPU Vulkan drivers); lanes take neighbouring outputs, so a reduction over a strided dim
//   (inner > 1) reads neighbouring addresses across lanes.
// - 'subgroup' (devices with the `subgroups` feature; rows only, inner = 1): one workgroup per
//   output row, as wide as the device's minimum subgroup, so the workgroup lies inside one
//   subgroup and subgroupAdd/Max/Min combine it without barriers or workgroup memory; lanes read
//   neighbouring elements of the row (coalesced on a GPU, where a serial row loop per lane
//   strides across rows).
// Either splits a long R over few outputs into chunks and reduces again (multi-pass).
// setReduceVariant / WGT_REDUCE_VARIANT pick one by name; the default is in reduceVariantFor.
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { dispatch, Params } from '../runtime/dispatch.ts';
import { PARAMS_DECL, main1d, pu, pf, storage, grid1d, isNan } from '../wgsl/common.ts';
import { subgroupSize, deviceInfo } from '../runtime/device.ts';
import { namedVariant } from '../runtime/variants.ts';
import { normDims, numel, fmt, sameShape, contiguousStrides } from '../core/shape.ts';
import { DTYPES } from '../core/dtype.ts';
import { reshape, permute, contiguous, expand } from './views.ts';
import { mul, div, sub, eq, add } from './binary.ts';
import { square, sqrt, log, exp, cast } from './unary.ts';
import { runElementwise } from './launch.ts';

type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

/**
 * NaN follows torch: max/min of a run holding a NaN is NaN, argmax/argmin give the first NaN's
 * index. WGSL's max/min may return the other operand for a NaN (lavapipe does) and `v != v` is
 * false here, so f32 max/min also keep `nb`, the largest |v| bit pattern seen (an and and an
 * integer max per element: f32 max/min 5-7% slower on lavapipe), and return it (a NaN) when it
 * is above infinity's; argmax/argmin test the bits. The accumulators start at +-inf, so a run of
 * -inf has max -inf (not -FLT_MAX).
 */
function tracksNan(op: ReduceOp, inType: string): boolean {
  return inType === 'f32' && (op === 'max' || op === 'min');
}

/** The accumulators' declarations for `width` (1 or 4) lanes of WGSL type inType. */
function accDecl(op: ReduceOp, inType: string, width: 1 | 4): string {
  const T = width === 4 ? `vec4<${inType}>` : inType;
  const lines = [];
  // infinities through a var: WGSL constant evaluation rejects an infinite value
  if (inType === 'f32' && op !== 'sum') lines.push('var infBits_ = 0x7f800000u; let inf_ = bitcast<f32>(infBits_);');
  lines.push(`var acc = ${T}(${identity(op, inType)});`);
  if (tracksNan(op, inType)) lines.push(`var nb = ${width === 4 ? 'vec4<u32>(0u)' : '0u'};`);
  if (op === 'argmax' || op === 'argmin') lines.push('var best: i32 = 0;');
  return lines.join('\n  ');
}

/** One element v (element r of the row) into the accumulators. */
function step(op: ReduceOp, inType: string, width: 1 | 4): string {
  if (op === 'sum') return 'acc = acc + v;';
  if (op === 'max' || op === 'min') {
    const U = width === 4 ? 'vec4<u32>' : 'u32';
    if (!tracksNan(op, inType)) return `acc = ${op}(acc, v);`;
    // a compare and select: NaN is tracked apart, and lavapipe's max() adds a NaN test of its own
    return `acc = select(acc, v, v ${op === 'max' ? '>' : '<'} acc); nb = max(nb, bitcast<${U}>(v) & ${U}(0x7fffffffu));`;
  }
  // argmax/argmin keep the first index of the extremum; a NaN is the extremum
  const cmp = `v ${op === 'argmax' ? '>' : '<'} acc`;
  const cond = inType === 'f32' ? `${cmp} || (${isNan('v')} && !${isNan('acc')})` : cmp;
  return `if (${cond}) { acc = v; best = i32(r); }`;
}

/** The reduced value from accumulator `a` and NaN bits `n` (WGSL type T: scalar or vec4). */
function result(op: ReduceOp, inType: string, a: string, n: string, T: string): string {
  if (!tracksNan(op, inType)) return a;
  const U = T.replace('f32', 'u32');
  return `select(${a}, bitcast<${T}>(${n}), ${n} > ${U}(0x7f800000u))`;
}

/** The four running values of a vec4 accumulator `v` joined pairwise (sum, max, min). */
function foldVec4(op: ReduceOp, v: string): string {
  if (op === 'sum') return `(${v}.x + ${v}.y) + (${v}.z + ${v}.w)`;
  if (op === 'max' || op === 'min') return `${op}(${op}(${v}.x, ${v}.y), ${op}(${v}.z, ${v}.w))`;
  throw new Error(`reduce: no vec4 fold for ${op}`);
}

const foldNan = (n: string) => `max(max(${n}.x, ${n}.y), max(${n}.z, ${n}.w))`;

/** The accumulator's start for an input of WGSL type inType (integers: their extremes). */
function identity(op: ReduceOp, inType: string): string {
  if (op === 'sum') return inType === 'f32' ? '0.0' : '0';
  const low = op === 'max' || op === 'argmax';
  if (inType === 'f32') return low ? '-inf_' : 'inf_';
  return `${inType}(${inType === 'i32' ? (low ? '-2147483647 - 1' : '2147483647') : low ? '0u' : '4294967295u'})`;
}

function reduceKernel(op: ReduceOp, inType: string) {
  const isArg = op === 'argmax' || op === 'argmin';
  const outType = isArg ? 'i32' : inType;
  const value = result(op, inType, 'acc', 'nb', inType);
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
  ${accDecl(op, inType, 1)}
  let r0 = c * chunk;
  let r1 = min(R, r0 + chunk);
  for (var r = r0; r < r1; r++) {
    let v = x[base + r * inner];
    ${step(op, inType, 1)}
  }
  ${isArg ? 'out[gi] = best;' : inType === 'f32' ? `out[gi] = ${value} * ${pf(5)};` : 'out[gi] = acc;'}
}`,
  };
}

/**
 * The serial variant over 4 neighbouring outputs per lane (inner % 4 == 0, aligned): vec4 loads,
 * each component accumulated in the same order as the scalar kernel, so the same bits. Why: on
 * lavapipe a per-lane load costs about the same for a vec4 as for a float. Not for argmax/argmin.
 */
function reduceColumnsVec4Kernel(op: ReduceOp, inType: string) {
  const T = `vec4<${inType}>`;
  const value = result(op, inType, 'acc', 'nb', T);
  return {
    name: `reduce.${op}`,
    key: `reduce:${op}:${inType}:v4`,
    code: () => `${PARAMS_DECL}
${storage(1, 'x', T)}
${storage(2, 'out', T, true)}
${main1d()}
  let outer = ${pu(0)}; let R = ${pu(1)}; let inner4 = ${pu(2)} / 4u; let chunk = ${pu(3)}; let C = ${pu(4)};
  if (gi >= outer * C * inner4) { return; }
  let o = gi / (C * inner4);
  let rem = gi % (C * inner4);
  let c = rem / inner4;
  let i = rem % inner4;
  let base = ${pu(6)} / 4u + o * R * inner4 + i;
  ${accDecl(op, inType, 4)}
  let r0 = c * chunk;
  let r1 = min(R, r0 + chunk);
  for (var r = r0; r < r1; r++) {
    let v = x[base + r * inner4];
    ${step(op, inType, 4)}
  }
  ${inType === 'f32' ? `out[gi] = ${value} * ${pf(5)};` : 'out[gi] = acc;'}
}`,
  };
}

/**
 * The serial variant over a row read as vec4s (inner = 1, R and the chunk multiples of 4,
 * aligned): a lane keeps 4 running values (elements 4j + k) and combines them at the end, so
 * sums round differently from the scalar loop (not worse: four shorter chains). Not for
 * argmax/argmin. Params as reduceKernel's.
 */
function reduceRowsVec4Kernel(op: ReduceOp, inType: string) {
  const T = `vec4<${inType}>`;
  const value = result(op, inType, 't', foldNan('nb'), inType);
  return {
    name: `reduce.${op}`,
    key: `reduce:${op}:${inType}:r4`,
    code: () => `${PARAMS_DECL}
${storage(1, 'x', T)}
${storage(2, 'out', inType, true)}
${main1d()}
  let outer = ${pu(0)}; let R4 = ${pu(1)} / 4u; let chunk4 = ${pu(3)} / 4u; let C = ${pu(4)};
  if (gi >= outer * C) { return; }
  let o = gi / C;
  let c = gi - o * C;
  let base = ${pu(6)} / 4u + o * R4;
  ${accDecl(op, inType, 4)}
  let r0 = c * chunk4;
  let r1 = min(R4, r0 + chunk4);
  for (var r = r0; r < r1; r++) {
    let v = x[base + r];
    ${step(op, inType, 4)}
  }
  let t = ${foldVec4(op, 'acc')};
  ${inType === 'f32' ? `out[gi] = ${value} * ${pf(5)};` : `out[gi] = ${value};`}
}`,
  };
}

/**
 * The subgroup variant: workgroup w reduces chunk w % C of row w / C with `sg` lanes (the
 * device's minimum subgroup size, so the workgroup is one subgroup or part of one). Lane l reads
 * elements l, l + sg, ... of the chunk; argmax/argmin take the lowest index among the lanes
 * holding the extremum (or, where any lane holds a NaN, a NaN), which is the first occurrence
 * (each lane's own is its first). Params as reduceKernel's (inner = 1).
 */
function reduceSgKernel(op: ReduceOp, inType: string, sg: number, vec: boolean) {
  const isArg = op === 'argmax' || op === 'argmin';
  const fold = vec ? foldVec4(op, 'a') : 'a';
  // subgroupMax/Min of a NaN is implementation-defined: NaN lanes are found by their bits
  const argCombine = (sgOp: string) =>
    inType === 'f32'
      ? `let isn = ${isNan('acc')}; let anyN = subgroupMax(select(0u, 1u, isn)) == 1u;
  let m = ${sgOp}(acc); let t = subgroupMin(select(2147483647, best, select(acc == m, isn, anyN)));`
      : `let m = ${sgOp}(acc); let t = subgroupMin(select(2147483647, best, acc == m));`;
  const combine = {
    sum: 'let t = subgroupAdd(fold(acc));',
    max: `let t = ${result(op, inType, 'subgroupMax(fold(acc))', `subgroupMax(${vec ? foldNan('nb') : 'nb'})`, inType)};`,
    min: `let t = ${result(op, inType, 'subgroupMin(fold(acc))', `subgroupMax(${vec ? foldNan('nb') : 'nb'})`, inType)};`,
    argmax: argCombine('subgroupMax'),
    argmin: argCombine('subgroupMin'),
  }[op];
  return {
    name: `reduce.${op}.sg`,
    key: `reduce.sg:${op}:${inType}:${sg}${vec ? ':v4' : ''}`,
    code: () => `enable subgroups;
${PARAMS_DECL}
${storage(1, 'x', vec ? `vec4<${inType}>` : inType)}
${storage(2, 'out', isArg ? 'i32' : inType, true)}
fn fold(a: ${vec ? `vec4<${inType}>` : inType}) -> ${inType} { return ${fold}; }
@compute @workgroup_size(${sg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let outer = ${pu(0)}; let R = ${pu(1)}; let chunk = ${pu(3)}; let C = ${pu(4)};
  let w = wid.y * nw.x + wid.x;
  if (w >= outer * C) { return; }
  let o = w / C;
  // in vec4s where vec (R, the chunk and the offset multiples of 4)
  let q = ${vec ? '4u' : '1u'};
  let base = ${pu(6)} / q + o * (R / q);
  let r0 = (w - o * C) * (chunk / q);
  let r1 = min(R / q, r0 + chunk / q);
  ${accDecl(op, inType, vec ? 4 : 1)}
  for (var r = r0 + lid; r < r1; r += ${sg}u) {
    let v = x[base + r];
    ${step(op, inType, vec ? 4 : 1)}
  }
  ${combine}
  if (lid == 0u) { ${isArg || inType !== 'f32' ? 'out[w] = t;' : `out[w] = t * ${pf(5)};`} }
}`,
  };
}

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
// workgroups cost more to launch than they save): 6272x256 0.76 vs 1.36 ms, 4096x1024 1.59 vs
// 1.94, 65536x64 2.1 vs 7.6; so CPU adapters default to serial. On a GPU the serial kernel's
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
  const params = new Params().u32(outer, R, inner, chunk, C).f32(C === 1 ? scale : 1).u32(x.offset).build();
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
  const params = new Params().u32(outer, R, 1, chunk, C).f32(C === 1 ? scale : 1).u32(x.offset).build();
  dispatch(reduceSgKernel(op, DTYPES[x.dtype].wgsl, sg, vec), [x.storage.buffer, out.storage.buffer], params, grid1d(outer * C, 1), `${outer}x${R}${C > 1 ? ` in ${C} chunks` : ''}`, { bytes: 4 * (outer * R + outer * C) });
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
  const raw = reduceRaw('max', x, dims); // constant shift: no gradient needed through it
  // an infinite max shifts by 0 instead (torch's rule): x - inf would make inf - inf = NaN
  const m = x.dtype !== 'f32' ? raw : runElementwise({ name: 'lse.shift', expr: 'select(a, 0.0, (bitcast<u32>(a) & 0x7fffffffu) == 0x7f800000u)' }, [raw], raw.shape, 'f32');
  if (m !== raw) raw.dispose();
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
