// Assembling and cutting tensors: cat, stack, split, chunk, repeat, flip, pad (constant,
// reflect, replicate, circular). cat copies each part into a view of the output with the
// strided copy kernel; flip copies through a negative-stride view (the elementwise kernel's u32
// index arithmetic wraps, so a negative stride is just another stride); the other ops are
// compositions of views, cat and flip, so their gradients come from those rules.
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { tidy } from '../core/memory.ts';
import { promote, DTYPES, type DType } from '../core/dtype.ts';
import { normDim, normDims, fmt, numel, type Shape } from '../core/shape.ts';
import { maxBindingBytes, bindingLimitMessage, publicOp } from '../runtime/dispatch.ts';
import { runElementwise } from './launch.ts';
import { reshape, expand, slice, unsqueeze } from './views.ts';
import { full } from './creation.ts';

/** The inputs of a join, runs of equal dtype and shape counted: 'f32 [784, 256] x300, f32 [16, 256]'. */
function describeParts(parts: readonly Tensor[]): string {
  const runs: [string, number][] = [];
  for (const t of parts) {
    const k = `${t.dtype} ${fmt(t.shape)}`;
    const last = runs[runs.length - 1];
    if (last && last[0] === k) last[1]++;
    else runs.push([k, 1]);
  }
  const shown = runs.slice(0, 6).map(([k, c]) => (c > 1 ? `${k} x${c}` : k));
  if (runs.length > 6) shown.push(`... (${parts.length} tensors)`);
  return shown.join(', ');
}

/**
 * The joined tensor must fit one storage binding: fail before any copy, naming the public op
 * (`op` if none is on the stack), the inputs, the result and the dim to chunk along (the
 * generic allocation error knows only the result).
 */
function checkJoin(op: string, parts: readonly Tensor[], shape: Shape, dtype: DType, d: number): void {
  const bytes = numel(shape) * DTYPES[dtype].bytes;
  if (bytes <= maxBindingBytes()) return;
  // the public op only now: walking the stack costs microseconds, too much for every cat
  const name = publicOp() ?? op;
  const what = `joining ${parts.length} tensors along dim ${d} (${describeParts(parts)}) into ${dtype} ${fmt(shape)}`;
  throw new Error(bindingLimitMessage(name, what, bytes, shape, d));
}

function copyOp(from: DType, to: DType) {
  const w = DTYPES[to].wgsl;
  return { name: 'copy', expr: DTYPES[from].wgsl === w ? 'a' : `${w}(a)` };
}

/** torch.cat(tensors, dim). 1-D empty tensors are skipped as in torch; dtypes are promoted. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!tensors.length) throw new Error('cat: expected a non-empty list of tensors');
  tensors.forEach((t, i) => t.assertLive(`cat (tensor ${i})`));
  const parts = tensors.filter((t) => !(t.rank === 1 && t.shape[0] === 0));
  if (!parts.length) return runElementwise(copyOp(tensors[0].dtype, tensors[0].dtype), [tensors[0]], tensors[0].shape, tensors[0].dtype);
  const ref = parts[0];
  if (ref.rank === 0) throw new Error('cat: zero-dimensional tensors cannot be concatenated');
  const d = normDim('cat', dim, ref.rank);
  parts.forEach((t, i) => {
    if (t.rank !== ref.rank || t.shape.some((s, j) => j !== d && s !== ref.shape[j]))
      throw new Error(`cat: sizes of tensors must match except in dim ${d}: ${parts.map((p) => fmt(p.shape)).join(', ')} (tensor ${i})`);
  });
  const dtype = parts.every((t) => t.dtype === ref.dtype) ? ref.dtype : parts.map((t) => t.dtype).reduce(promote);
  const shape = [...ref.shape];
  shape[d] = parts.reduce((a, t) => a + t.shape[d], 0);
  checkJoin('cat', parts, shape, dtype, d);
  const out = Tensor.empty(shape, dtype);
  const starts: number[] = [];
  let at = 0;
  for (const t of parts) {
    starts.push(at);
    if (t.size > 0) {
      const view = out.view_(t.shape, out.strides, at * out.strides[d]);
      runElementwise(copyOp(t.dtype, dtype), [t], t.shape, dtype, [], view);
      view.dispose();
    }
    at += t.shape[d];
  }
  return record(out, 'cat', parts, (g, needs) => parts.map((t, i) => (needs[i] ? slice(g, d, starts[i], starts[i] + t.shape[d]) : null)));
}

/** torch.stack(tensors, dim): joins equally shaped tensors along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!tensors.length) throw new Error('stack: expected a non-empty list of tensors');
  const ref = tensors[0];
  tensors.forEach((t, i) => {
    if (t.rank !== ref.rank || t.shape.some((s, j) => s !== ref.shape[j]))
      throw new Error(`stack: all tensors must have the same shape, got ${fmt(ref.shape)} and ${fmt(t.shape)} (tensor ${i})`);
  });
  const d = normDim('stack', dim, ref.rank + 1);
  const shape = [...ref.shape];
  shape.splice(d, 0, tensors.length);
  checkJoin('stack', tensors, shape, tensors.map((t) => t.dtype).reduce(promote), d);
  return tidy(() =>
    cat(
      tensors.map((t) => unsqueeze(t, d)),
      d,
    ),
  );
}

/**
 * torch.split(x, size | sizes, dim): views of equal `size` (the last may be smaller) or of the
 * given `sizes`, which must sum to x.size(dim).
 */
export function split(x: Tensor, sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const d = normDim('split', dim, x.rank);
  const n = x.shape[d];
  let sizes: number[];
  if (typeof sizeOrSections === 'number') {
    const s = sizeOrSections;
    if (!Number.isInteger(s) || s < 0 || (s === 0 && n > 0)) throw new Error(`split: split size must be a positive integer, got ${s}`);
    sizes = n === 0 ? [0] : Array.from({ length: Math.ceil(n / s) }, (_, i) => Math.min(s, n - i * s));
  } else {
    sizes = [...sizeOrSections];
    if (sizes.some((s) => !Number.isInteger(s) || s < 0) || sizes.reduce((a, b) => a + b, 0) !== n)
      throw new Error(`split: sizes [${sizes.join(', ')}] must be non-negative and sum to ${n} (dim ${d} of ${fmt(x.shape)})`);
  }
  let at = 0;
  return sizes.map((s) => {
    const v = slice(x, d, at, at + s);
    at += s;
    return v;
  });
}

/** torch.chunk(x, chunks, dim): split into pieces of ceil(n / chunks) (possibly fewer pieces). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0) throw new Error(`chunk: number of chunks must be a positive integer, got ${chunks}`);
  const d = normDim('chunk', dim, x.rank);
  const n = x.shape[d];
  if (n === 0) return Array.from({ length: chunks }, () => slice(x, d, 0, 0));
  return split(x, Math.ceil(n / chunks), d);
}

/** torch.Tensor.repeat(reps): tiles x; reps may add leading dims. */
export function repeat(x: Tensor, reps: readonly number[]): Tensor {
  if (reps.length < x.rank) throw new Error(`repeat: ${reps.length} repeat counts for a tensor of rank ${x.rank} ${fmt(x.shape)} (need at least ${x.rank})`);
  if (reps.some((r) => !Number.isInteger(r) || r < 0)) throw new Error(`repeat: counts must be non-negative integers, got [${reps.join(', ')}]`);
  const lead = reps.length - x.rank;
  const shape = [...Array(lead).fill(1), ...x.shape];
  const inter = shape.flatMap((s) => [1, s]);
  const big = shape.flatMap((s, i) => [reps[i], s]);
  return tidy(() =>
    reshape(
      expand(reshape(x, inter), big),
      shape.map((s, i) => s * reps[i]),
    ),
  );
}

/** torch.flip(x, dims): a copy with the order of the given dims reversed. */
export function flip(x: Tensor, dims: number | readonly number[]): Tensor {
  x.assertLive('flip');
  const ds = normDims('flip', dims, x.rank);
  const strides = [...x.strides];
  let offset = x.offset;
  for (const d of ds) {
    if (x.shape[d] > 1) offset += (x.shape[d] - 1) * x.strides[d];
    strides[d] = -x.strides[d];
  }
  const view = x.view_(x.shape, strides, offset);
  const out = runElementwise({ name: 'flip', expr: 'a' }, [view], x.shape, x.dtype);
  view.dispose();
  return record(out, 'flip', [x], (g) => [flip(g, ds)]);
}

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

export interface PadOptions {
  mode?: PadMode;
  /** Fill value for 'constant' (default 0). */
  value?: number;
}

/**
 * torch.nn.functional.pad(x, pads, mode, value). `pads` lists (before, after) pairs starting
 * from the last dim, as in torch. Negative constant pads crop. reflect needs pads < size,
 * circular pads <= size.
 */
export function pad(x: Tensor, pads: readonly number[], opts: PadOptions = {}): Tensor {
  const mode = opts.mode ?? 'constant';
  if (pads.length % 2 !== 0) throw new Error(`pad: padding length must be even, got [${pads.join(', ')}]`);
  if (pads.length / 2 > x.rank) throw new Error(`pad: ${pads.length / 2} padded dims for a tensor of rank ${x.rank} ${fmt(x.shape)}`);
  if (pads.some((p) => !Number.isInteger(p))) throw new Error(`pad: pads must be integers, got [${pads.join(', ')}]`);
  const perDim: [number, number, number][] = []; // [dim, before, after]
  for (let i = 0; i < pads.length / 2; i++) perDim.push([x.rank - 1 - i, pads[2 * i], pads[2 * i + 1]]);
  if (mode === 'constant') return tidy(() => padConstant(x, perDim, opts.value ?? 0));
  if (opts.value !== undefined && opts.value !== 0) throw new Error(`pad: a fill value is only allowed with mode 'constant' (got mode '${mode}')`);
  if (mode !== 'reflect' && mode !== 'replicate' && mode !== 'circular') throw new Error(`pad: unknown mode '${mode}'`);
  for (const [, l, r] of perDim) if (l < 0 || r < 0) throw new Error(`pad: negative padding is only supported in mode 'constant', got [${pads.join(', ')}]`);
  return tidy(() => padBorder(x, perDim, mode));
}

function padBorder(x: Tensor, perDim: [number, number, number][], mode: 'reflect' | 'replicate' | 'circular'): Tensor {
  let cur = x;
  for (const [d, l, r] of perDim) {
    const n = cur.shape[d];
    if (l === 0 && r === 0) continue;
    if (mode === 'reflect' && (l >= n || r >= n))
      throw new Error(`pad: reflect padding (${l}, ${r}) must be smaller than the size ${n} of dim ${d} of ${fmt(x.shape)}`);
    if (mode === 'circular' && (l > n || r > n))
      throw new Error(`pad: circular padding (${l}, ${r}) must not exceed the size ${n} of dim ${d} of ${fmt(x.shape)}`);
    if (mode === 'replicate' && n === 0) throw new Error(`pad: cannot replicate-pad the empty dim ${d} of ${fmt(x.shape)}`);
    const parts: Tensor[] = [];
    const sized = (k: number) => cur.shape.map((s, i) => (i === d ? k : s));
    if (l > 0) {
      if (mode === 'reflect') parts.push(flip(slice(cur, d, 1, l + 1), d));
      else if (mode === 'replicate') parts.push(expand(slice(cur, d, 0, 1), sized(l)));
      else parts.push(slice(cur, d, n - l, n));
    }
    parts.push(cur);
    if (r > 0) {
      if (mode === 'reflect') parts.push(flip(slice(cur, d, n - 1 - r, n - 1), d));
      else if (mode === 'replicate') parts.push(expand(slice(cur, d, n - 1, n), sized(r)));
      else parts.push(slice(cur, d, 0, r));
    }
    cur = cat(parts, d);
  }
  return cur;
}

function padConstant(x: Tensor, perDim: [number, number, number][], value: number): Tensor {
  let src = x;
  for (const [d, l, r] of perDim) {
    if (x.shape[d] + l + r < 0) throw new Error(`pad: padding (${l}, ${r}) makes dim ${d} of ${fmt(x.shape)} negative`);
    if (l < 0 || r < 0) src = slice(src, d, Math.max(0, -l), src.shape[d] - Math.max(0, -r));
  }
  const shape = [...src.shape];
  for (const [d, l, r] of perDim) shape[d] += Math.max(0, l) + Math.max(0, r);
  const out = full(shape, value, x.dtype);
  // src sits at the positive 'before' pads of each dim
  const at = (strides: readonly number[]) => perDim.reduce((a, [d, l]) => a + Math.max(0, l) * strides[d], 0);
  if (src.size > 0) {
    const view = out.view_(src.shape, out.strides, at(out.strides));
    runElementwise(copyOp(src.dtype, src.dtype), [src], src.shape, src.dtype, [], view);
    view.dispose();
  }
  return record(out, 'pad', [src], (g) => [g.view_(src.shape, g.strides, g.offset + at(g.strides))]);
}
