// Generator for elementwise kernels: out = f(in0, in1, ...) over an iteration shape, with every
// operand addressed through its own strides and offset. Broadcasting (stride 0), transposed and
// sliced views, and writes into a view of a larger tensor all use the same kernel; when every
// operand is contiguous over the iteration shape a cheaper direct-index variant is generated.
// Both read and write vec4s where sizes, offsets and strides keep every vec4 aligned.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage, WG, C4 } from './common.ts';
import { paramStruct, type ParamStruct, type ParamFields, type ParamValues } from './params.ts';

/** Elements (or vec4s) per invocation in the contiguous variant; the launch sizes its grid by it. */
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
 * Host values of ElementwiseParams. Counts and offsets in units of the bound element (vec4s in
 * the contiguous vec4 variant). The strided variant's `shape` is the iteration shape after
 * merging dims, `outStrides` the output's strides over it and `inStrides` the inputs' strides,
 * input i's at i * rank + d (0 on broadcast dims). Fields a kernel does not declare are omitted
 * (or given as empty lists). A stride may be negative (flip's reversed view): it is packed as
 * its two's complement, which the kernel's wrapping u32 index arithmetic takes as a step back.
 */
export interface ElementwiseValues {
  n: number;
  outOffset: number;
  inOffsets: readonly number[];
  /** The f32 scalars s0, s1, ... the expression reads. */
  scalars?: readonly number[];
  shape?: readonly number[];
  outStrides?: readonly number[];
  inStrides?: readonly number[];
}

/** WGSL expressions reading ElementwiseParams' fields (fields a kernel lacks: empty lists). */
export interface ElementwiseRefs {
  n: string;
  outOffset: string;
  inOffsets: readonly string[];
  scalars: readonly string[];
  shape: readonly string[];
  outStrides: readonly string[];
  inStrides: readonly string[];
}

/** An elementwise kernel's parameter struct, its field references and its packer, from one field list. */
export interface ElementwiseParams {
  readonly struct: ParamStruct<ParamFields>;
  readonly at: ElementwiseRefs;
  pack(v: ElementwiseValues): Uint32Array;
}

const paramCache = new Map<string, ElementwiseParams>();

/** Negative strides as their two's complement (see ElementwiseValues). */
function u32Words(list: readonly number[]): readonly number[] {
  return list.every((x) => x >= 0) ? list : list.map((x) => x >>> 0);
}

/**
 * The parameters of the kernels over `inputs` operands and `scalars` f32 scalars, contiguous or
 * strided at `rank` (see ElementwiseValues): the field list depends on all four, so it is built
 * per combination (once; cached).
 */
export function elementwiseParams(inputs: number, scalars: number, rank: number, contiguous: boolean): ElementwiseParams {
  const key = `${inputs}:${scalars}:${contiguous ? 'c' : rank}`;
  let p = paramCache.get(key);
  if (p) return p;
  const fields: Record<string, ParamFields[string]> = { n: 'u32', outOffset: 'u32' };
  if (inputs > 0) fields.inOffsets = ['u32', inputs];
  if (scalars > 0) fields.scalars = ['f32', scalars];
  if (!contiguous) {
    fields.shape = ['u32', rank];
    fields.outStrides = ['u32', rank];
    if (inputs > 0) fields.inStrides = ['u32', inputs * rank];
  }
  const struct = paramStruct('ElementwiseParams', fields);
  const refs = struct.at as Readonly<Record<string, string | readonly string[]>>;
  const list = (name: string) => (refs[name] ?? []) as readonly string[];
  p = {
    struct,
    at: {
      n: refs.n as string,
      outOffset: refs.outOffset as string,
      inOffsets: list('inOffsets'),
      scalars: list('scalars'),
      shape: list('shape'),
      outStrides: list('outStrides'),
      inStrides: list('inStrides'),
    },
    pack: (v) => {
      // the given fields (empty lists are no field); struct.pack checks them against the struct
      const values: Record<string, number | readonly number[]> = { n: v.n, outOffset: v.outOffset };
      if (v.inOffsets.length) values.inOffsets = v.inOffsets;
      if (v.scalars?.length) values.scalars = v.scalars;
      if (v.shape?.length) values.shape = v.shape;
      if (v.outStrides?.length) values.outStrides = u32Words(v.outStrides);
      if (v.inStrides?.length) values.inStrides = u32Words(v.inStrides);
      return struct.pack(values as ParamValues<ParamFields>);
    },
  };
  paramCache.set(key, p);
  return p;
}

/** An elementwise kernel with the parameters it declares (pack them with `params.pack`). */
export interface ElementwiseKernel extends Kernel {
  params: ElementwiseParams;
}

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
export function elementwiseKernel(spec: ElementwiseSpec, rank: number, contiguous: boolean, run = 1, modes?: string, vec = false): ElementwiseKernel {
  const k = spec.inTypes.length;
  const md = run % 4 === 0 ? (modes ?? 's'.repeat(k + 1)) : '';
  if (md && md.length !== k + 1) throw new Error(`internal: elementwise ${spec.name}: ${k + 1} operand modes expected, got '${md}'`);
  const variant = contiguous ? (vec ? 'c4' : 'c') : `${rank}r${run}${md}`;
  const key = `ew:${spec.name}:${spec.inTypes.join(',')}>${spec.outType}:${variant}:${spec.scalars}:${spec.expr}`;
  const params = elementwiseParams(k, spec.scalars, rank, contiguous);
  const P = params.at;
  return {
    name: `ew.${spec.name}`,
    key,
    params,
    code: () => {
      const wide = (i: number) => (contiguous ? vec : md[i] === 'v');
      const lines: string[] = [params.struct.decl];
      spec.inTypes.forEach((t, i) => lines.push(storage(i + 1, `in${i}`, wide(i) ? `vec4<${t}>` : t)));
      lines.push(storage(k + 1, 'out', wide(k) ? `vec4<${spec.outType}>` : spec.outType, true));
      if (spec.helpers) lines.push(spec.helpers);
      const scalars = () => {
        for (let s = 0; s < spec.scalars; s++) lines.push(`  let s${s} = ${P.scalars[s]};`);
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
  let n = ${P.n};`);
        scalars();
        // The trip count is bounded by n, so LLVM keeps one loop body instead of unrolling four
        // masked copies: the same speed for much less compile time on lavapipe.
        lines.push(`  let end = min(n, first + ${WG * UNROLL}u);
  for (var gi = first; gi < end; gi += ${WG}u) {`);
        if (vec) {
          for (let i = 0; i < k; i++) lines.push(`    let v${i} = in${i}[${P.inOffsets[i]} + gi];`);
          lines.push(`    var r: vec4<${spec.outType}>;`);
          perComponent(
            (i, q) => `v${i}.${C4[q]}`,
            (q, val) => `r.${C4[q]} = ${val};`,
          );
          lines.push(`    out[${P.outOffset} + gi] = r;`, '  }');
        } else {
          for (let i = 0; i < k; i++) lines.push(`    let ${VARS[i]} = in${i}[${P.inOffsets[i]} + gi];`);
          lines.push(`    out[${P.outOffset} + gi] = ${spec.expr};`, '  }');
        }
      } else {
        // Each invocation takes `run` consecutive elements of the innermost dim: the div/mod index
        // decomposition (slow integer division on CPU drivers) is paid once per run.
        lines.push(main1d());
        lines.push(`  let e0 = gi * ${run}u;`, `  if (e0 >= ${P.n}) { return; }`);
        scalars();
        lines.push(`  var rem = e0;`, `  var oo = ${P.outOffset};`);
        for (let i = 0; i < k; i++) lines.push(`  var o${i} = ${P.inOffsets[i]};`);
        for (let d = rank - 1; d >= 0; d--) {
          lines.push(`  { let sz = ${P.shape[d]}; let id = rem % sz; rem = rem / sz;`);
          lines.push(`    oo += id * ${P.outStrides[d]};`);
          for (let i = 0; i < k; i++) lines.push(`    o${i} += id * ${P.inStrides[i * rank + d]};`);
          lines.push('  }');
        }
        const last = rank - 1;
        const inner = (i: number) => P.inStrides[i * rank + last];
        if (run % 4 === 0) {
          // run / 4 groups of four: one vec4 (or four scalars) per operand and group; a broadcast
          // operand is read once for the whole run
          for (let i = 0; i < k; i++) if (md[i] === 'b') lines.push(`  let v${i} = in${i}[o${i}];`);
          // rows hold whole runs, so min() never cuts the run short; bounding the loop by n keeps
          // LLVM from unrolling the groups (lavapipe compiles it much faster, at the same speed)
          lines.push(`  let e1 = min(${P.n}, e0 + ${run}u);`, `  for (var eg = e0; eg < e1; eg += 4u) {`, `    let g = (eg - e0) / 4u;`);
          for (let i = 0; i < k; i++) if (md[i] === 'v') lines.push(`    let v${i} = in${i}[o${i} / 4u + g];`);
          const load = (i: number, q: number) =>
            md[i] === 'v' ? `v${i}.${C4[q]}` : md[i] === 'b' ? `v${i}` : `in${i}[o${i} + (g * 4u + ${q}u) * ${inner(i)}]`;
          if (md[k] === 'v') {
            lines.push(`    var r: vec4<${spec.outType}>;`);
            perComponent(load, (q, val) => `r.${C4[q]} = ${val};`);
            lines.push('    out[oo / 4u + g] = r;');
          } else {
            perComponent(load, (q, val) => `out[oo + (g * 4u + ${q}u) * ${P.outStrides[last]}] = ${val};`);
          }
          lines.push('  }');
        } else {
          lines.push(`  for (var j = 0u; j < ${run}u; j++) {`);
          for (let i = 0; i < k; i++) lines.push(`    let ${VARS[i]} = in${i}[o${i} + j * ${inner(i)}];`);
          lines.push(`    out[oo + j * ${P.outStrides[last]}] = ${spec.expr};`, '  }');
        }
      }
      lines.push('}');
      return lines.join('\n');
    },
  };
}
