// Shape and view ops. reshape/view of contiguous data, permute, transpose, expand, slice,
// squeeze/unsqueeze are free (new strides over shared storage); contiguous() and clone() copy
// through the strided elementwise kernel (a transposed matrix by 4x4 blocks); assign() writes a
// tensor into a view of another.
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { runElementwise } from './launch.ts';
import { dispatch, dispatchHooked } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { transposeCopyKernel, TransposeParams } from '../wgsl/transpose.ts';
import { inferShape, normDim, fmt, contiguousStrides, broadcastShapes, sameShape } from '../core/shape.ts';
import { sumTo } from './reduce.ts';
import { zeros } from './creation.ts';

const COPY = { name: 'copy', expr: 'a' };

/** Dense copy (torch's contiguous when needed, clone always). */
export function clone(x: Tensor): Tensor {
  const out = transposeCopy(x) ?? runElementwise(COPY, [x], x.shape, x.dtype);
  return record(out, 'clone', [x], (g) => [g]);
}

/**
 * The copy of a view whose last two dims are swapped over dense data ([..., R, C] with strides
 * [..., 1, R] and dense leading dims), R, C and the offset multiples of 4, by 4x4 blocks
 * (wgsl/transpose.ts); null for any other layout.
 */
function transposeCopy(x: Tensor): Tensor | null {
  const r = x.rank;
  if (r < 2 || x.size === 0) return null;
  const R = x.shape[r - 2],
    C = x.shape[r - 1];
  if (R % 4 !== 0 || C % 4 !== 0 || x.offset % 4 !== 0 || x.strides[r - 2] !== 1 || x.strides[r - 1] !== R) return null;
  let stride = R * C;
  for (let d = r - 3; d >= 0; d--) {
    if (x.shape[d] !== 1 && x.strides[d] !== stride) return null;
    stride *= x.shape[d];
  }
  const out = Tensor.empty(x.shape, x.dtype);
  const blocks = x.size / 16;
  const detail = dispatchHooked() ? fmt(x.shape) : undefined;
  dispatch(
    transposeCopyKernel(),
    [x.storage.buffer, out.storage.buffer],
    TransposeParams.pack({ blocks, R4: R / 4, C4: C / 4, srcOffset4: x.offset / 4, outOffset4: 0 }),
    grid1d(blocks),
    detail,
    { bytes: 8 * x.size },
  );
  return out;
}

export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous()) return alias(x);
  return clone(x);
}

/** A new handle on the same data that carries the gradient through unchanged. */
function alias(x: Tensor): Tensor {
  return record(x.view_(x.shape, x.strides, x.offset), 'alias', [x], (g) => [g]);
}

/** A tensor that shares data with x but is cut from the graph (torch's detach). */
export function detach(x: Tensor): Tensor {
  return x.view_(x.shape, x.strides, x.offset);
}

/** Copies `src` (broadcast) into the view `dst` in place. Not recorded by autograd. */
export function assign(dst: Tensor, src: Tensor): Tensor {
  broadcastShapes('assign', dst.shape, src.shape);
  if (dst.storage === src.storage) src = clone(detach(src));
  runElementwise(COPY, [src], dst.shape, dst.dtype, [], dst);
  return dst;
}

// A view's strides for a new shape exist when each group of merged/split dims is contiguous.
function viewStrides(x: Tensor, shape: number[]): number[] | null {
  if (x.isContiguous()) return contiguousStrides(shape);
  const oldShape = x.shape.filter((d) => d !== 1);
  const oldStrides = x.strides.filter((_, i) => x.shape[i] !== 1);
  const newStrides = new Array<number>(shape.length).fill(0);
  let oi = 0;
  let ni = 0;
  while (ni < shape.length || oi < oldShape.length) {
    if (ni < shape.length && shape[ni] === 1) {
      newStrides[ni] = 1;
      ni++;
      continue;
    }
    if (oi >= oldShape.length || ni >= shape.length) return null;
    // take one chunk: old dims [oi, oe) and new dims [ni, ne) with equal products
    let op = oldShape[oi];
    let np = shape[ni];
    let oe = oi + 1;
    let ne = ni + 1;
    while (op !== np) {
      if (op < np) op *= oldShape[oe++];
      else np *= shape[ne++];
    }
    for (let k = oi; k < oe - 1; k++) if (oldStrides[k] !== oldStrides[k + 1] * oldShape[k + 1]) return null;
    let st = oldStrides[oe - 1];
    for (let k = ne - 1; k >= ni; k--) {
      newStrides[k] = st;
      st *= shape[k];
    }
    oi = oe;
    ni = ne;
  }
  return newStrides;
}

/** torch.reshape: a view when strides allow, else a copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape('reshape', x.shape, shape);
  if (sameShape(target, x.shape)) return alias(x);
  const st = viewStrides(x, target);
  const out = st ? x.view_(target, st, x.offset) : reshapeCopy(x, target);
  return record(out, 'reshape', [x], (g) => [reshape(g, x.shape)]);
}

function reshapeCopy(x: Tensor, target: number[]): Tensor {
  const c = runElementwise(COPY, [x], x.shape, x.dtype);
  const v = c.view_(target, contiguousStrides(target), 0);
  c.dispose();
  return v;
}

/** torch.view: like reshape but never copies (error when the strides do not allow a view). */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape('view', x.shape, shape);
  if (!viewStrides(x, target)) throw new Error(`view: size ${fmt(target)} is not compatible with the strides of ${fmt(x.shape)}; use reshape`);
  return reshape(x, target);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normDim('flatten', startDim, x.rank);
  const e = normDim('flatten', endDim, x.rank);
  const shape = [...x.shape.slice(0, s), x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.rank) throw new Error(`permute: ${dims.length} dims given for a tensor of rank ${x.rank} ${fmt(x.shape)}`);
  const d = dims.map((v) => normDim('permute', v, x.rank));
  if (new Set(d).size !== d.length) throw new Error(`permute: repeated dim in [${dims.join(', ')}]`);
  const out = x.view_(
    d.map((i) => x.shape[i]),
    d.map((i) => x.strides[i]),
    x.offset,
  );
  const inv = new Array<number>(d.length);
  d.forEach((v, i) => (inv[v] = i));
  return record(out, 'permute', [x], (g) => [permute(g, inv)]);
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  if (x.rank < 2 && dim0 === -2 && dim1 === -1) return alias(x);
  const a = normDim('transpose', dim0, x.rank);
  const b = normDim('transpose', dim1, x.rank);
  const p = [...Array(x.rank).keys()];
  [p[a], p[b]] = [p[b], p[a]];
  return permute(x, p);
}

/** torch.expand: broadcast size-1 dims (and new leading dims) without copying; -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < x.rank) throw new Error(`expand: target ${fmt(shape)} has fewer dims than ${fmt(x.shape)}`);
  shape.forEach((d, i) => {
    if (d !== -1 && !(Number.isInteger(d) && d >= 0))
      throw new Error(`expand: invalid size ${d} of dim ${i} in ${fmt(shape)}: sizes must be integers >= 0, or -1 to keep a dim`);
  });
  const lead = shape.length - x.rank;
  const target = shape.map((d, i) => (d === -1 ? (i < lead ? -1 : x.shape[i - lead]) : d));
  const strides = target.map((d, i) => {
    if (i < lead) {
      if (d < 0) throw new Error(`expand: -1 is not allowed for new leading dims (${fmt(shape)})`);
      return 0;
    }
    const s = x.shape[i - lead];
    if (s === d) return x.strides[i - lead];
    if (s === 1) return 0;
    throw new Error(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shape)} (dim ${i}: ${s} vs ${d})`);
  });
  const out = x.view_(target, strides, x.offset);
  return record(out, 'expand', [x], (g) => [sumTo(g, x.shape)]);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim('unsqueeze', dim, x.rank + 1);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

export function squeeze(x: Tensor, dim?: number | number[]): Tensor {
  const dims = dim === undefined ? null : (Array.isArray(dim) ? dim : [dim]).map((v) => normDim('squeeze', v, x.rank));
  const shape = x.shape.filter((s, i) => !(s === 1 && (dims === null || dims.includes(i))));
  return reshape(x, shape);
}

/**
 * x[..., start:end:step, ...] along `dim` (torch's slicing / narrow); negative bounds count
 * from the end, as in Python. A view.
 */
export function slice(x: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  const d = normDim('slice', dim, x.rank);
  const n = x.shape[d];
  if (step <= 0 || !Number.isInteger(step)) throw new Error(`slice: step must be a positive integer, got ${step}`);
  // bounds clamp to the dim as in Python, so +-Infinity is a fine "to the end"; a fraction is not
  const bound = (v: number) => Number.isInteger(v) || Math.abs(v) === Infinity;
  if (!bound(start) || (end !== undefined && !bound(end)))
    throw new Error(`slice: start and end must be integers, got ${start} and ${end} (dim ${d} of ${fmt(x.shape)})`);
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s = norm(start);
  const e = end === undefined ? n : norm(end);
  const len = Math.max(0, Math.ceil((e - s) / step));
  const shape = [...x.shape];
  shape[d] = len;
  const strides = [...x.strides];
  strides[d] = x.strides[d] * step;
  const out = x.view_(shape, strides, x.offset + (len > 0 ? s * x.strides[d] : 0));
  return record(out, 'slice', [x], (g) => {
    const gx = zeros(x.shape);
    assign(slice(gx, d, s, s + (len - 1) * step + 1, step), g);
    return [gx];
  });
}

/** torch.narrow(x, dim, start, length). */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  return slice(x, dim, start, start + length);
}

/** x[i] along dim 0 (or `dim`), dropping that dim. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = normDim('select', dim, x.rank);
  const n = x.shape[d];
  if (!Number.isInteger(index)) throw new Error(`select: index must be an integer, got ${index} (dim ${d} of ${fmt(x.shape)})`);
  if (index < -n || index >= n) throw new Error(`select: index ${index} out of range for dim ${d} of size ${n}`);
  const i = index < 0 ? index + n : index;
  return squeeze(slice(x, d, i, i + 1), d);
}
