// Generator for elementwise kernels: out = f(in0, in1, ...) over an iteration shape, with every
// operand addressed through its own strides and offset. Broadcasting (stride 0), transposed and
// sliced views, and writes into a view of a larger tensor all use the same kernel; when every
// operand is contiguous over the iteration shape a cheaper direct-index variant is generated.
// Both read and write vec4s where sizes, offsets and strides keep every vec4 aligned.
import type { Kernel } from '../runtime/dispatch.ts';
import { PARAMS_DECL, main1d, pu, pf, storage, WG, C4 } from './common.ts';

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

/**
 * How a strided-variant operand (or the output, last) is read four innermost elements at a time:
 * 'v' one vec4 (innermost stride 1, every vec4 aligned), 'b' one scalar broadcast (stride 0),
 * 's' four scalars at the operand's innermost stride.
 */
export type OperandMode = 'v' | 'b' | 's';

/**
 * `run`: elements per invocation along the innermost dim in the strided variant (1, 4 or 16).
 * `modes` (run 4 or 16; one per input, then the output; default all 's'): see OperandMode.
 * `vec` (contiguous only): operands and output bound as vec4 arrays; n and offsets in vec4 units.
 * CPU drivers (lavapipe) pay per load instruction rather than per byte, so a vec4 load moves
 * four elements for the price of one; GPUs get wider transactions.
 */
export function elementwiseKernel(spec: ElementwiseSpec, rank: number, contiguous: boolean, run = 1, modes?: string, vec = false): Kernel {
  const k = spec.inTypes.length;
  const md = run % 4 === 0 ? (modes ?? 's'.repeat(k + 1)) : '';
  if (md && md.length !== k + 1) throw new Error(`internal: elementwise ${spec.name}: ${k + 1} operand modes expected, got '${md}'`);
  const variant = contiguous ? (vec ? 'c4' : 'c') : `${rank}r${run}${md}`;
  const key = `ew:${spec.name}:${spec.inTypes.join(',')}>${spec.outType}:${variant}:${spec.scalars}:${spec.expr}`;
  return {
    name: `ew.${spec.name}`,
    key,
    code: () => {
      const wide = (i: number) => (contiguous ? vec : md[i] === 'v');
      const lines: string[] = [PARAMS_DECL];
      spec.inTypes.forEach((t, i) => lines.push(storage(i + 1, `in${i}`, wide(i) ? `vec4<${t}>` : t)));
      lines.push(storage(k + 1, 'out', wide(k) ? `vec4<${spec.outType}>` : spec.outType, true));
      if (spec.helpers) lines.push(spec.helpers);
      const base = 2 + k + spec.scalars;
      const scalars = () => {
        for (let s = 0; s < spec.scalars; s++) lines.push(`  let s${s} = ${pf(2 + k + s)};`);
      };
      // the expression once per vec4 component, over operands loaded as v0, v1, ... (or read by `load`)
      const perComponent = (load: (i: number, q: number) => string, store: (q: number, val: string) => string) => {
        for (let q = 0; q < 4; q++) {
          const ins = Array.from({ length: k }, (_, i) => `let ${VARS[i]} = ${load(i, q)};`).join(' ');
          lines.push(`    { ${ins} ${store(q, spec.expr)} }`);
        }
      };
      if (contiguous) {
        // UNROLL elements (or vec4s) per invocation, lanes of a workgroup on consecutive ones:
        // fewer invocations to schedule and index (CPU drivers pay per invocation), loads stay dense.
        lines.push(`@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nw: vec3<u32>) {
  let first = (wid.y * nw.x + wid.x) * ${WG * UNROLL}u + lid;
  let n = ${pu(0)};`);
        scalars();
        // The trip count is bounded by n, so LLVM keeps one loop body instead of unrolling four
        // masked copies: same speed, a third of the compile time on lavapipe (~70 vs ~230 ms).
        lines.push(`  let end = min(n, first + ${WG * UNROLL}u);
  for (var gi = first; gi < end; gi += ${WG}u) {`);
        if (vec) {
          for (let i = 0; i < k; i++) lines.push(`    let v${i} = in${i}[${pu(2 + i)} + gi];`);
          lines.push(`    var r: vec4<${spec.outType}>;`);
          perComponent((i, q) => `v${i}.${C4[q]}`, (q, val) => `r.${C4[q]} = ${val};`);
          lines.push(`    out[${pu(1)} + gi] = r;`, '  }');
        } else {
          for (let i = 0; i < k; i++) lines.push(`    let ${VARS[i]} = in${i}[${pu(2 + i)} + gi];`);
          lines.push(`    out[${pu(1)} + gi] = ${spec.expr};`, '  }');
        }
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
        const inner = (i: number) => pu(base + rank * (2 + i) + last);
        if (run % 4 === 0) {
          // run / 4 groups of four: one vec4 (or four scalars) per operand and group; a broadcast
          // operand is read once for the whole run
          for (let i = 0; i < k; i++) if (md[i] === 'b') lines.push(`  let v${i} = in${i}[o${i}];`);
          // rows hold whole runs, so min() never cuts the run short; bounding the loop by n keeps
          // LLVM from unrolling the groups (lavapipe compiles it ~4x faster, at the same speed)
          lines.push(`  let e1 = min(${pu(0)}, e0 + ${run}u);`, `  for (var eg = e0; eg < e1; eg += 4u) {`, `    let g = (eg - e0) / 4u;`);
          for (let i = 0; i < k; i++) if (md[i] === 'v') lines.push(`    let v${i} = in${i}[o${i} / 4u + g];`);
          const load = (i: number, q: number) => (md[i] === 'v' ? `v${i}.${C4[q]}` : md[i] === 'b' ? `v${i}` : `in${i}[o${i} + (g * 4u + ${q}u) * ${inner(i)}]`);
          if (md[k] === 'v') {
            lines.push(`    var r: vec4<${spec.outType}>;`);
            perComponent(load, (q, val) => `r.${C4[q]} = ${val};`);
            lines.push('    out[oo / 4u + g] = r;');
          } else {
            perComponent(load, (q, val) => `out[oo + (g * 4u + ${q}u) * ${pu(base + rank + last)}] = ${val};`);
          }
          lines.push('  }');
        } else {
          lines.push(`  for (var j = 0u; j < ${run}u; j++) {`);
          for (let i = 0; i < k; i++) lines.push(`    let ${VARS[i]} = in${i}[o${i} + j * ${inner(i)}];`);
          lines.push(`    out[oo + j * ${pu(base + rank + last)}] = ${spec.expr};`, '  }');
        }
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
