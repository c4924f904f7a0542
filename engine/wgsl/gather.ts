// Kernels for ops/index-ops.ts: torch.gather along a compile-time dim over strided operands,
// and its backward as a gather: each input element sums the upstream gradient over the index
// entries of its line that point at it (no scatter, no float atomics). Rank <= 6.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage } from './common.ts';
import { paramStruct, type ParamStruct } from './params.ts';

// Per-dim shapes and strides have one field per dim, so both structs are built per rank.
const gatherFields = (rank: number) =>
  ({
    total: 'u32',
    xOffset: 'u32',
    idxOffset: 'u32',
    /** x's size along dim: indices outside [0, xDimSize) read NaN (0 for integers). */
    xDimSize: 'u32',
    outShape: ['u32', rank],
    xStrides: ['u32', rank],
    idxStrides: ['u32', rank],
  }) as const;

const gatherBackwardFields = (rank: number) =>
  ({
    /** x's numel: the output is dense with x's shape. */
    total: 'u32',
    idxOffset: 'u32',
    gOffset: 'u32',
    xShape: ['u32', rank],
    idxShape: ['u32', rank],
    idxStrides: ['u32', rank],
    gStrides: ['u32', rank],
  }) as const;

export type GatherParams = ParamStruct<ReturnType<typeof gatherFields>>;
export type GatherBackwardParams = ParamStruct<ReturnType<typeof gatherBackwardFields>>;

const forwardByRank = new Map<number, GatherParams>();
const backwardByRank = new Map<number, GatherBackwardParams>();

/** gather's parameters for operands of rank `rank`. */
export function gatherParams(rank: number): GatherParams {
  let p = forwardByRank.get(rank);
  if (!p) forwardByRank.set(rank, (p = paramStruct('GatherParams', gatherFields(rank))));
  return p;
}

/** gather's backward parameters for operands of rank `rank`. */
export function gatherBackwardParams(rank: number): GatherBackwardParams {
  let p = backwardByRank.get(rank);
  if (!p) backwardByRank.set(rank, (p = paramStruct('GatherBackwardParams', gatherBackwardFields(rank))));
  return p;
}

export function gatherKernel(rank: number, dim: number, type: string): Kernel {
  return {
    name: 'gather',
    key: `gather:${rank}:${dim}:${type}`,
    code: () => {
      const P = gatherParams(rank);
      const lines: string[] = [];
      for (let d = rank - 1; d >= 0; d--) {
        const shape = P.at.outShape[d];
        lines.push(
          `  { let id = rem % ${shape}; rem = rem / ${shape}; io += id * ${P.at.idxStrides[d]};${d === dim ? '' : ` xo += id * ${P.at.xStrides[d]};`} }`,
        );
      }
      const fill = type === 'f32' ? 'bitcast<f32>(nanBits)' : `${type}(0)`;
      return `${P.decl}
${storage(1, 'x', type)}
${storage(2, 'idx', 'i32')}
${storage(3, 'out', type, true)}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
  var rem = gi;
  var xo = ${P.at.xOffset};
  var io = ${P.at.idxOffset};
${lines.join('\n')}
  let k = idx[io];
  var nanBits = 0x7fc00000u;
  var v = ${fill};
  if (k >= 0 && u32(k) < ${P.at.xDimSize}) { v = x[xo + u32(k) * ${P.at.xStrides[dim]}]; }
  out[gi] = v;
}`;
    },
  };
}

export function gatherBackwardKernel(rank: number, dim: number): Kernel {
  return {
    name: 'gather.backward',
    key: `gather.bwd:${rank}:${dim}`,
    code: () => {
      const P = gatherBackwardParams(rank);
      const lines: string[] = [];
      for (let d = rank - 1; d >= 0; d--) {
        const xsh = P.at.xShape[d];
        if (d === dim) lines.push(`  { c = rem % ${xsh}; rem = rem / ${xsh}; }`);
        else
          lines.push(
            `  { let id = rem % ${xsh}; rem = rem / ${xsh}; inside = inside && id < ${P.at.idxShape[d]}; io += id * ${P.at.idxStrides[d]}; go += id * ${P.at.gStrides[d]}; }`,
          );
      }
      return `${P.decl}
${storage(1, 'idx', 'i32')}
${storage(2, 'g', 'f32')}
${storage(3, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
  var rem = gi;
  var io = ${P.at.idxOffset};
  var go = ${P.at.gOffset};
  var c = 0u;
  var inside = true;
${lines.join('\n')}
  var acc = 0.0;
  if (inside) {
    let K = ${P.at.idxShape[dim]}; let si = ${P.at.idxStrides[dim]}; let sg = ${P.at.gStrides[dim]};
    for (var k = 0u; k < K; k++) {
      if (idx[io + k * si] == i32(c)) { acc += g[go + k * sg]; }
    }
  }
  out[gi] = acc;
}`;
    },
  };
}
