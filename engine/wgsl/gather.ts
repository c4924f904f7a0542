// Kernels for ops/index-ops.ts: torch.gather along a compile-time dim over strided operands,
// and its backward as a gather: each input element sums the upstream gradient over the index
// entries of its line that point at it (no scatter, no float atomics). Rank <= 6.
import type { Kernel } from '../runtime/dispatch.ts';
import { PARAMS_DECL, main1d, pu, storage } from './common.ts';

// params: 0 total, 1 x offset, 2 idx offset, 3 x size along dim, then rank words each of
// out shape, x strides, idx strides
export function gatherKernel(rank: number, dim: number, type: string): Kernel {
  return {
    name: 'gather',
    key: `gather:${rank}:${dim}:${type}`,
    code: () => {
      const shape = (d: number) => pu(4 + d);
      const xs = (d: number) => pu(4 + rank + d);
      const is = (d: number) => pu(4 + 2 * rank + d);
      const lines: string[] = [];
      for (let d = rank - 1; d >= 0; d--) {
        lines.push(`  { let id = rem % ${shape(d)}; rem = rem / ${shape(d)}; io += id * ${is(d)};${d === dim ? '' : ` xo += id * ${xs(d)};`} }`);
      }
      const fill = type === 'f32' ? 'bitcast<f32>(nanBits)' : `${type}(0)`;
      return `${PARAMS_DECL}
${storage(1, 'x', type)}
${storage(2, 'idx', 'i32')}
${storage(3, 'out', type, true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  var rem = gi;
  var xo = ${pu(1)};
  var io = ${pu(2)};
${lines.join('\n')}
  let k = idx[io];
  var nanBits = 0x7fc00000u;
  var v = ${fill};
  if (k >= 0 && u32(k) < ${pu(3)}) { v = x[xo + u32(k) * ${xs(dim)}]; }
  out[gi] = v;
}`;
    },
  };
}

// params: 0 total (x numel), 1 idx offset, 2 g offset, then rank words each of x shape,
// idx shape, idx strides, g strides. Output is dense with x's shape.
export function gatherBackwardKernel(rank: number, dim: number): Kernel {
  return {
    name: 'gather.backward',
    key: `gather.bwd:${rank}:${dim}`,
    code: () => {
      const xsh = (d: number) => pu(3 + d);
      const ish = (d: number) => pu(3 + rank + d);
      const ist = (d: number) => pu(3 + 2 * rank + d);
      const gst = (d: number) => pu(3 + 3 * rank + d);
      const lines: string[] = [];
      for (let d = rank - 1; d >= 0; d--) {
        if (d === dim) lines.push(`  { c = rem % ${xsh(d)}; rem = rem / ${xsh(d)}; }`);
        else lines.push(`  { let id = rem % ${xsh(d)}; rem = rem / ${xsh(d)}; inside = inside && id < ${ish(d)}; io += id * ${ist(d)}; go += id * ${gst(d)}; }`);
      }
      return `${PARAMS_DECL}
${storage(1, 'idx', 'i32')}
${storage(2, 'g', 'f32')}
${storage(3, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  var rem = gi;
  var io = ${pu(1)};
  var go = ${pu(2)};
  var c = 0u;
  var inside = true;
${lines.join('\n')}
  var acc = 0.0;
  if (inside) {
    let K = ${ish(dim)}; let si = ${ist(dim)}; let sg = ${gst(dim)};
    for (var k = 0u; k < K; k++) {
      if (idx[io + k * si] == i32(c)) { acc += g[go + k * sg]; }
    }
  }
  out[gi] = acc;
}`;
    },
  };
}
