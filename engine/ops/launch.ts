// Launches elementwise kernels for ops: picks the contiguous or strided variant, packs the
// parameters and allocates the output (or writes into a given view of another tensor).
import { Tensor } from '../core/tensor.ts';
import { DTYPES, type DType } from '../core/dtype.ts';
import { dispatch, dispatchHooked } from '../runtime/dispatch.ts';
import { elementwiseKernel, UNROLL, type ElementwiseSpec, type ElementwiseValues, type OperandMode } from '../wgsl/elementwise.ts';
import { grid1d } from '../wgsl/common.ts';
import { numel, contiguousStrides, sameShape, fmt } from '../core/shape.ts';
import { namedVariant } from '../runtime/variants.ts';

/**
 * Elementwise kernel variants by name: 'vec4' (the default) reads and writes aligned contiguous
 * operands as vec4s and strided ones in runs of 16 or 4 innermost elements; 'scalar' uses one
 * element per load everywhere (the same values; for comparing the two). WGT_ELEMENTWISE_VARIANT
 * sets it from the environment.
 */
export type ElementwiseVariant = 'vec4' | 'scalar';
const variant = namedVariant<ElementwiseVariant>('elementwise', ['vec4', 'scalar'], 'WGT_ELEMENTWISE_VARIANT');

/** Forces an elementwise variant by name (null: the default); returns the previous override. */
export function setElementwiseVariant(v: ElementwiseVariant | null): ElementwiseVariant | null {
  return variant.set(v);
}

function elementwiseVariant(): ElementwiseVariant {
  return variant.forced() ?? 'vec4';
}

export interface EwOp {
  name: string;
  expr: string;
  helpers?: string;
}

/** Strides of `t` broadcast to `shape` (0 on broadcast dims). */
export function broadcastStrides(t: { shape: readonly number[]; strides: readonly number[] }, shape: readonly number[]): number[] {
  const r = shape.length;
  const out = new Array<number>(r).fill(0);
  const tr = t.shape.length;
  for (let i = 0; i < tr; i++) {
    const j = r - tr + i;
    if (t.shape[i] === shape[j]) out[j] = t.shape[i] === 1 ? 0 : t.strides[i];
    else if (t.shape[i] !== 1) throw new Error(`internal: cannot broadcast ${fmt(t.shape)} to ${fmt(shape)}`);
  }
  return out;
}

/** Drops size-1 dims and merges dims that are contiguous in every operand (fewer index ops). */
function simplify(shape: readonly number[], strideSets: number[][]): { shape: number[]; strides: number[][] } {
  const keep = shape.map((d) => d !== 1);
  let sh = shape.filter((_, i) => keep[i]);
  let st = strideSets.map((s) => s.filter((_, i) => keep[i]));
  for (let i = sh.length - 2; i >= 0; i--) {
    if (st.every((s) => s[i] === s[i + 1] * sh[i + 1])) {
      // the merged dim steps like the inner one
      sh[i] *= sh[i + 1];
      sh.splice(i + 1, 1);
      for (const s of st) s.splice(i, 1);
    }
  }
  if (sh.length === 0) {
    sh = [1];
    st = st.map(() => [0]);
  }
  return { shape: sh, strides: st };
}

const MAX_RANK = 6;

/**
 * How an operand of the strided variant (runs of 4 or 16 innermost elements) is read, four at a
 * time: 'v' as one vec4 when every run starts on a multiple of 4 elements (offset and outer
 * strides multiples of 4, innermost stride 1), 'b' once when broadcast along the innermost dim,
 * else 's' (four scalars).
 */
function operandMode(strides: readonly number[], offset: number): OperandMode {
  const r = strides.length;
  if (strides[r - 1] === 0) return 'b';
  if (strides[r - 1] === 1 && offset % 4 === 0 && strides.slice(0, r - 1).every((s) => s % 4 === 0)) return 'v';
  return 's';
}

/**
 * Runs `op` over `inputs` broadcast to `shape`, writing a new tensor of `outDtype`, or into
 * `into` (any view with that shape). Scalars are f32 words available as s0, s1, ...
 */
export function runElementwise(op: EwOp, inputs: Tensor[], shape: readonly number[], outDtype: DType, scalars: number[] = [], into?: Tensor): Tensor {
  for (const t of inputs) t.assertLive(op.name);
  const out = into ?? Tensor.empty(shape, outDtype);
  if (into && !sameShape(into.shape, shape)) throw new Error(`${op.name}: destination ${fmt(into.shape)} does not match ${fmt(shape)}`);
  const n = numel(shape);
  if (n === 0) return out;
  const inStrides = inputs.map((t) => broadcastStrides(t, shape));
  const cs = contiguousStrides(shape);
  const isC = (s: readonly number[]) => s.every((x, i) => shape[i] === 1 || x === cs[i]);
  const contiguous = isC(out.strides) && inStrides.every(isC);
  let spec: ElementwiseSpec = {
    name: op.name,
    expr: op.expr,
    helpers: op.helpers,
    inTypes: inputs.map((t) => DTYPES[t.dtype].wgsl),
    outType: DTYPES[out.dtype].wgsl,
    scalars: scalars.length,
  };
  let values: ElementwiseValues;
  let rank = 0;
  let run = 1;
  let modes: string | undefined;
  // vec4 loads and stores where every operand starts on a multiple of 4 elements
  const scalarOnly = elementwiseVariant() === 'scalar';
  const vec = !scalarOnly && contiguous && n % 4 === 0 && out.offset % 4 === 0 && inputs.every((t) => t.offset % 4 === 0);
  if (contiguous) {
    const q = vec ? 4 : 1; // sizes and offsets in units of the bound element
    values = { n: n / q, outOffset: out.offset / q, inOffsets: inputs.map((t) => t.offset / q), scalars };
  } else {
    const simp = simplify(shape, [[...out.strides], ...inStrides]);
    rank = simp.shape.length;
    // runs of 16 innermost elements where the rows allow (the index decomposition, integer
    // divisions per dim, is paid once per run), else 4, else 1
    const inner = simp.shape[rank - 1];
    run = scalarOnly ? 1 : inner % 16 === 0 ? 16 : inner % 4 === 0 ? 4 : 1;
    if (run > 1) {
      const offs = [...inputs.map((t) => t.offset), out.offset];
      const strides = [...simp.strides.slice(1), simp.strides[0]];
      modes = strides.map((st, i) => operandMode(st, offs[i])).join('');
    }
    if (rank > MAX_RANK) throw new Error(`${op.name}: tensors of rank ${rank} after merging dims are not supported (max ${MAX_RANK})`);
    values = {
      n,
      outOffset: out.offset,
      inOffsets: inputs.map((t) => t.offset),
      scalars,
      shape: simp.shape,
      outStrides: simp.strides[0],
      inStrides: simp.strides.slice(1).flat(),
    };
  }
  const bufs = [...inputs.map((t) => t.storage.buffer), out.storage.buffer];
  const perInvocation = contiguous ? UNROLL * (vec ? 4 : 1) : run;
  // profiler label: the shape and the path (strided: the simplified rank and run length); bytes
  // as the operands' logical sizes (a broadcast operand counts at the output's size)
  const detail = dispatchHooked() ? `${fmt(shape)}${contiguous ? '' : ` strided r${rank}x${run}`}` : undefined;
  const kernel = elementwiseKernel(spec, rank, contiguous, run, modes, vec);
  dispatch(kernel, bufs, kernel.params.pack(values), grid1d(Math.ceil(n / perInvocation)), detail, { bytes: 4 * n * bufs.length });
  return out;
}
