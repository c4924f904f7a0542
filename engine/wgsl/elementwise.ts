// Generator for elementwise kernels: out = f(in0, in1, ...) over an iteration shape, with every
// operand addressed through its own strides and offset. Broadcasting (stride 0), transposed and
// sliced views, and writes into a view of a larger tensor all use the same kernel; when every
// operand is contiguous over the iteration shape a cheaper direct-index variant is generated.
import type { Kernel } from '../runtime.ts';
import { PARAMS_DECL, main1d, pu, pf, storage, WG } from './common.ts';

/** Elements per invocation in the contiguous variant (launch with contiguousGrid). */
export const UNROLL = 4;

export interface ElementwiseSpec {
  /** Op name for errors and profiles. */
  name: string;
  /** WGSL expression over `a`, `b`, `c`, ... (loaded inputs) and `s0`, `s1`, ... (f32 scalars). */
  expr: string;
  /** WGSL storage type of each input and of the output. */
  inTypes: string[];
  outType: string;
  scalars: number;
  /** Extra WGSL functions the expression calls. */
  helpers?: string;
}

const VARS = 'abcdefgh';

/** `run`: elements per invocation along the innermost dim in the strided variant (1 or 4). */
export function elementwiseKernel(spec: ElementwiseSpec, rank: number, contiguous: boolean, run = 1): Kernel {
  const k = spec.inTypes.length;
  const key = `ew:${spec.name}:${spec.inTypes.join(',')}>${spec.outType}:${contiguous ? 'c' : `${rank}r${run}`}:${spec.scalars}:${spec.expr}`;
  return {
    name: `ew.${spec.name}`,
    key,
    code: () => {
      const lines: string[] = [PARAMS_DECL];
      spec.inTypes.forEach((t, i) => lines.push(storage(i + 1, `in${i}`, t)));
      lines.push(storage(k + 1, 'out', spec.outType, true));
      if (spec.helpers) lines.push(spec.helpers);
      const base = 2 + k + spec.scalars;
      const scalars = () => {
        for (let s = 0; s < spec.scalars; s++) lines.push(`  let s${s} = ${pf(2 + k + s)};`);
      };
      if (contiguous) {
        // UNROLL elements per invocation, lanes of a workgroup on consecutive elements: fewer
        // invocations to schedule and index (CPU drivers pay per invocation), loads stay dense.
        lines.push(`@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nw: vec3<u32>) {
  let first = (wid.y * nw.x + wid.x) * ${WG * UNROLL}u + lid;
  let n = ${pu(0)};`);
        scalars();
        lines.push(`  for (var j = 0u; j < ${UNROLL}u; j++) {
    let gi = first + j * ${WG}u;
    if (gi >= n) { return; }`);
        for (let i = 0; i < k; i++) lines.push(`    let ${VARS[i]} = in${i}[${pu(2 + i)} + gi];`);
        lines.push(`    out[${pu(1)} + gi] = ${spec.expr};`, '  }');
      } else {
        // Each invocation takes `run` consecutive elements of the innermost dim: the div/mod index
        // decomposition (slow integer division on CPU drivers) is paid once per run.
        lines.push(main1d());
        lines.push(`  let e0 = gi * ${run}u;`, `  if (e0 >= ${pu(0)}) { return; }`);
        scalars();
        lines.push(`  var rem = e0;`, `  var oo = ${pu(1)};`);
        for (let i = 0; i < k; i++) lines.push(`  var o${i} = ${pu(2 + i)};`);
        for (let d = rank - 1; d >= 0; d--) {
          lines.push(`  { let sz = ${pu(base + d)}; let id = rem % sz; rem = rem / sz;`);
          lines.push(`    oo += id * ${pu(base + rank + d)};`);
          for (let i = 0; i < k; i++) lines.push(`    o${i} += id * ${pu(base + rank * (2 + i) + d)};`);
          lines.push('  }');
        }
        const last = rank - 1;
        lines.push(`  for (var j = 0u; j < ${run}u; j++) {`);
        for (let i = 0; i < k; i++) lines.push(`    let ${VARS[i]} = in${i}[o${i} + j * ${pu(base + rank * (2 + i) + last)}];`);
        lines.push(`    out[oo + j * ${pu(base + rank + last)}] = ${spec.expr};`, '  }');
      }
      lines.push('}');
      return lines.join('\n');
    },
  };
}

/** Parameter words for elementwiseKernel, in the order the generated code reads them. */
export function elementwiseParams(
  n: number,
  out: { offset: number; strides: readonly number[] },
  ins: { offset: number; strides: readonly number[] }[],
  scalars: number[],
  shape: readonly number[],
  contiguous: boolean,
): Uint32Array {
  const w: number[] = [n, out.offset, ...ins.map((t) => t.offset)];
  const f = new Float32Array(scalars);
  w.push(...new Uint32Array(f.buffer));
  if (!contiguous) {
    w.push(...shape, ...out.strides);
    for (const t of ins) w.push(...t.strides);
  }
  if (w.length > 64) throw new Error(`elementwise: too many parameters (${w.length} words) for rank ${shape.length}`);
  return Uint32Array.from(w);
}
