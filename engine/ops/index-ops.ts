// Index ops: torch.gather(x, dim, index) and torch.index_select(x, dim, index) with i32 indices
// (torch uses int64). Both read their operands through strides; index_select is gather with the
// 1-D index broadcast (stride 0) over the other dims, so one kernel serves both. The backward
// is a gather over the index entries of each line (wgsl/gather.ts): no float atomics, cost
// numel(x) * index.size(dim). Out-of-range indices cannot be reported without a readback; they
// yield NaN (float) or 0 (integer) instead of reading out of bounds.
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { tidy } from '../core/memory.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { gatherKernel, gatherBackwardKernel, gatherParams, gatherBackwardParams } from '../wgsl/gather.ts';
import { DTYPES } from '../core/dtype.ts';
import { normDim, fmt } from '../core/shape.ts';
import { reshape, expand, contiguous } from './views.ts';

const MAX_RANK = 6;

function checkIndex(op: string, index: Tensor): void {
  if (index.dtype !== 'i32' && index.dtype !== 'u32') throw new Error(`${op}: index must be an i32 tensor, got ${index.dtype}`);
}

// Strides pass as their u32 two's complement: the kernels' u32 index arithmetic wraps, so a
// negative stride (a flipped view) addresses the right elements.
const wrap = (s: readonly number[]) => s.map((v) => v >>> 0);

/** Raw gather (no autograd): out[c] = x[c with c[dim] = index[c]], out shaped like index. */
function gatherRaw(x: Tensor, d: number, index: Tensor): Tensor {
  const rank = Math.max(x.rank, 1);
  const out = Tensor.empty(index.shape, x.dtype);
  if (out.size === 0) return out;
  const shape = index.rank ? index.shape : [1];
  const xs = x.rank ? x.strides : [1];
  const is = index.rank ? index.strides : [1];
  const xDim = x.rank ? x.shape[d] : 1;
  const p = gatherParams(rank).pack({
    total: out.size,
    xOffset: x.offset,
    idxOffset: index.offset,
    xDimSize: xDim,
    outShape: shape,
    xStrides: wrap(xs),
    idxStrides: wrap(is),
  });
  dispatch(gatherKernel(rank, d, DTYPES[x.dtype].wgsl), [x.storage.buffer, index.storage.buffer, out.storage.buffer], p, grid1d(out.size));
  return out;
}

function gatherGrad(g: Tensor, xShape: readonly number[], d: number, index: Tensor): Tensor {
  const rank = Math.max(xShape.length, 1);
  const out = Tensor.empty(xShape, 'f32');
  if (out.size === 0) return out;
  const gc = contiguous(g);
  const one = (s: readonly number[]) => (s.length ? s : [1]);
  const p = gatherBackwardParams(rank).pack({
    total: out.size,
    idxOffset: index.offset,
    gOffset: gc.offset,
    xShape: one(xShape),
    idxShape: one(index.shape),
    idxStrides: wrap(one(index.strides)),
    gStrides: wrap(one(gc.strides)),
  });
  dispatch(gatherBackwardKernel(rank, d), [index.storage.buffer, gc.storage.buffer, out.storage.buffer], p, grid1d(out.size));
  if (gc !== g) gc.dispose();
  return out;
}

/** torch.gather(x, dim, index): index has x's rank and index.size(d) <= x.size(d) for d != dim. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  checkIndex('gather', index);
  const d = normDim('gather', dim, x.rank);
  if (index.rank !== x.rank && !(x.rank <= 1 && index.rank <= 1))
    throw new Error(`gather: index ${fmt(index.shape)} must have the same number of dims as x ${fmt(x.shape)}`);
  if (x.rank > MAX_RANK) throw new Error(`gather: tensors of rank ${x.rank} are not supported (max ${MAX_RANK})`);
  for (let i = 0; i < index.rank; i++)
    if (i !== d && index.shape[i] > x.shape[i])
      throw new Error(`gather: index ${fmt(index.shape)} is larger than x ${fmt(x.shape)} in dim ${i} (only dim ${d} may differ)`);
  const out = gatherRaw(x, d, index);
  return record(out, 'gather', [x], (g, _n, [idx]) => [gatherGrad(g, x.shape, d, idx)], [index]);
}

/** torch.index_select(x, dim, index) for a 1-D (or 0-d) i32 index. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  checkIndex('indexSelect', index);
  if (index.rank > 1) throw new Error(`indexSelect: index must be 1-D, got ${fmt(index.shape)}`);
  if (x.rank === 0) return tidy(() => gather(x, 0, reshape(index, [])));
  const d = normDim('indexSelect', dim, x.rank);
  const L = index.size;
  const outShape = x.shape.map((s, i) => (i === d ? L : s));
  const lineShape = x.shape.map((_, i) => (i === d ? L : 1));
  return tidy(() => gather(x, d, expand(reshape(index, lineShape), outShape)));
}
