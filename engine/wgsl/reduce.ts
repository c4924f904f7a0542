// Kernels for ops/reduce.ts: sum, max, min, argmax and argmin over the middle dim of a
// contiguous [outer, R, inner] view, as `chunks` pieces of `chunk` elements each (one output per
// piece; ops/reduce.ts reduces the pieces again). Variants:
// - serial: one invocation per output and a serial loop (no workgroup barriers: they are slow on
//   CPU Vulkan drivers); lanes take neighbouring outputs, so a reduction over a strided dim
//   (inner > 1) reads neighbouring addresses across lanes. Scalar, or vec4 over 4 neighbouring
//   outputs (columns) or along a row (rows).
// - subgroup (devices with the `subgroups` feature; rows only, inner = 1): one workgroup per
//   output, as wide as the device's minimum subgroup, so the workgroup lies inside one subgroup
//   and subgroupAdd/Max/Min combine it without barriers or workgroup memory; lanes read
//   neighbouring elements of the row (coalesced on a GPU, where a serial row loop per lane
//   strides across rows).
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage, isNan } from './common.ts';
import { paramStruct } from './params.ts';

export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

/**
 * x viewed as [outer, R, inner] from element xOffset, reduced over R in `chunks` pieces of
 * `chunk` elements (the output is [outer, chunks, inner]); f32 results are multiplied by `scale`
 * (mean's 1 / R on the last pass, else 1).
 */
export const ReduceParams = paramStruct('ReduceParams', {
  outer: 'u32',
  R: 'u32',
  inner: 'u32',
  chunk: 'u32',
  chunks: 'u32',
  scale: 'f32',
  xOffset: 'u32',
});
const P = ReduceParams.at;

/**
 * NaN follows torch: max/min of a run holding a NaN is NaN, argmax/argmin give the first NaN's
 * index. WGSL's max/min may return the other operand for a NaN (lavapipe does) and `v != v` is
 * false here, so f32 max/min also keep `nb`, the largest |v| bit pattern seen (an and and an
 * integer max per element: a small cost on lavapipe), and return it (a NaN) when it
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

/** The serial variant, scalar: one output per invocation, any inner. */
export function reduceKernel(op: ReduceOp, inType: string): Kernel {
  const isArg = op === 'argmax' || op === 'argmin';
  const outType = isArg ? 'i32' : inType;
  const value = result(op, inType, 'acc', 'nb', inType);
  return {
    name: `reduce.${op}`,
    key: `reduce:${op}:${inType}`,
    code: () => `${ReduceParams.decl}
${storage(1, 'x', inType)}
${storage(2, 'out', outType, true)}
${main1d()}
  let outer = ${P.outer}; let R = ${P.R}; let inner = ${P.inner}; let chunk = ${P.chunk}; let C = ${P.chunks};
  if (gi >= outer * C * inner) { return; }
  let o = gi / (C * inner);
  let rem = gi % (C * inner);
  let c = rem / inner;
  let i = rem % inner;
  let base = ${P.xOffset} + o * R * inner + i;
  ${accDecl(op, inType, 1)}
  let r0 = c * chunk;
  let r1 = min(R, r0 + chunk);
  for (var r = r0; r < r1; r++) {
    let v = x[base + r * inner];
    ${step(op, inType, 1)}
  }
  ${isArg ? 'out[gi] = best;' : inType === 'f32' ? `out[gi] = ${value} * ${P.scale};` : 'out[gi] = acc;'}
}`,
  };
}

/**
 * The serial variant over 4 neighbouring outputs per lane (inner % 4 == 0, aligned): vec4 loads,
 * each component accumulated in the same order as the scalar kernel, so the same bits. Why: on
 * lavapipe a per-lane load costs about the same for a vec4 as for a float. Not for argmax/argmin.
 */
export function reduceColumnsVec4Kernel(op: ReduceOp, inType: string): Kernel {
  const T = `vec4<${inType}>`;
  const value = result(op, inType, 'acc', 'nb', T);
  return {
    name: `reduce.${op}`,
    key: `reduce:${op}:${inType}:v4`,
    code: () => `${ReduceParams.decl}
${storage(1, 'x', T)}
${storage(2, 'out', T, true)}
${main1d()}
  let outer = ${P.outer}; let R = ${P.R}; let inner4 = ${P.inner} / 4u; let chunk = ${P.chunk}; let C = ${P.chunks};
  if (gi >= outer * C * inner4) { return; }
  let o = gi / (C * inner4);
  let rem = gi % (C * inner4);
  let c = rem / inner4;
  let i = rem % inner4;
  let base = ${P.xOffset} / 4u + o * R * inner4 + i;
  ${accDecl(op, inType, 4)}
  let r0 = c * chunk;
  let r1 = min(R, r0 + chunk);
  for (var r = r0; r < r1; r++) {
    let v = x[base + r * inner4];
    ${step(op, inType, 4)}
  }
  ${inType === 'f32' ? `out[gi] = ${value} * ${P.scale};` : 'out[gi] = acc;'}
}`,
  };
}

/**
 * The serial variant over a row read as vec4s (inner = 1, R and the chunk multiples of 4,
 * aligned): a lane keeps 4 running values (elements 4j + k) and combines them at the end, so
 * sums round differently from the scalar loop (not worse: four shorter chains). Not for
 * argmax/argmin.
 */
export function reduceRowsVec4Kernel(op: ReduceOp, inType: string): Kernel {
  const T = `vec4<${inType}>`;
  const value = result(op, inType, 't', foldNan('nb'), inType);
  return {
    name: `reduce.${op}`,
    key: `reduce:${op}:${inType}:r4`,
    code: () => `${ReduceParams.decl}
${storage(1, 'x', T)}
${storage(2, 'out', inType, true)}
${main1d()}
  let outer = ${P.outer}; let R4 = ${P.R} / 4u; let chunk4 = ${P.chunk} / 4u; let C = ${P.chunks};
  if (gi >= outer * C) { return; }
  let o = gi / C;
  let c = gi - o * C;
  let base = ${P.xOffset} / 4u + o * R4;
  ${accDecl(op, inType, 4)}
  let r0 = c * chunk4;
  let r1 = min(R4, r0 + chunk4);
  for (var r = r0; r < r1; r++) {
    let v = x[base + r];
    ${step(op, inType, 4)}
  }
  let t = ${foldVec4(op, 'acc')};
  ${inType === 'f32' ? `out[gi] = ${value} * ${P.scale};` : `out[gi] = ${value};`}
}`,
  };
}

/**
 * The subgroup variant: workgroup w reduces chunk w % C of row w / C with `sg` lanes (the
 * device's minimum subgroup size, so the workgroup is one subgroup or part of one). Lane l reads
 * elements l, l + sg, ... of the chunk; argmax/argmin take the lowest index among the lanes
 * holding the extremum (or, where any lane holds a NaN, a NaN), which is the first occurrence
 * (each lane's own is its first). inner = 1.
 */
export function reduceSgKernel(op: ReduceOp, inType: string, sg: number, vec: boolean): Kernel {
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
${ReduceParams.decl}
${storage(1, 'x', vec ? `vec4<${inType}>` : inType)}
${storage(2, 'out', isArg ? 'i32' : inType, true)}
fn fold(a: ${vec ? `vec4<${inType}>` : inType}) -> ${inType} { return ${fold}; }
@compute @workgroup_size(${sg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let outer = ${P.outer}; let R = ${P.R}; let chunk = ${P.chunk}; let C = ${P.chunks};
  let w = wid.y * nw.x + wid.x;
  if (w >= outer * C) { return; }
  let o = w / C;
  // in vec4s where vec (R, the chunk and the offset multiples of 4)
  let q = ${vec ? '4u' : '1u'};
  let base = ${P.xOffset} / q + o * (R / q);
  let r0 = (w - o * C) * (chunk / q);
  let r1 = min(R / q, r0 + chunk / q);
  ${accDecl(op, inType, vec ? 4 : 1)}
  for (var r = r0 + lid; r < r1; r += ${sg}u) {
    let v = x[base + r];
    ${step(op, inType, vec ? 4 : 1)}
  }
  ${combine}
  if (lid == 0u) { ${isArg || inType !== 'f32' ? 'out[w] = t;' : `out[w] = t * ${P.scale};`} }
}`,
  };
}
