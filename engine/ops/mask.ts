// Boolean masking on the GPU through a prefix-sum compaction (wgsl/scan.ts): per-block counts,
// one small scan of the block counts, then per-block ranks (pos) and the list of selected rows
// (sel), then a row gather or scatter. No barriers and no atomics; four dispatches for any
// mask size.
//
// Two indexing forms, as in torch:
// - maskedSelect*(x, mask): torch.masked_select, x and mask broadcast together, 1-D result.
// - maskedIndex*(x, mask): x[mask] where mask's shape equals the leading dims of x, result
//   [count, ...x.shape[mask.rank:]] (e.g. feats[mask] with feats [M, D] and mask [M]).
// The result size must be known on the host: the *Async forms read back one number (the
// count); the *Count forms take it from the caller (rows past the real count come out as 0,
// selected rows past `count` are dropped). maskedAssign (x[mask] = values) needs no count
// from the host at all. Everything is differentiable w.r.t. x and values.
import { Tensor } from '../core/tensor.ts';
import { record, isGradEnabled, noGrad } from '../autograd/tape.ts';
import { tidy } from '../core/memory.ts';
import { dispatch, readback } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import {
  maskBlockCounts,
  scanBlocks,
  maskPositions,
  gatherRows,
  scatterRows,
  ROW_CHUNK,
  MaskCountParams,
  ScanParams,
  MaskPositionsParams,
  GatherRowsParams,
  ScatterRowsParams,
} from '../wgsl/scan.ts';
import { DTYPES } from '../core/dtype.ts';
import { broadcastShapes, fmt, numel } from '../core/shape.ts';
import { contiguous, expand, reshape, squeeze } from './views.ts';
import { where } from './binary.ts';
import { cast } from './unary.ts';

interface MaskScan {
  mask: Tensor; // dense bool
  m: number;
  B: number;
  nb: number;
  /** u32 [nb + 1]: exclusive block offsets, then the total count. */
  offs: Tensor;
}

function scanMask(mask: Tensor): MaskScan {
  const mc = contiguous(mask);
  const m = mc.size;
  // blocks of ~sqrt(m): the serial work per invocation and the serial scan stay balanced
  const B = Math.max(32, Math.ceil(Math.sqrt(m)));
  const nb = Math.max(1, Math.ceil(m / B));
  const offs = Tensor.empty([nb + 1], 'u32');
  const counts = MaskCountParams.pack({ blocks: nb, maskLen: m, blockLen: B, maskOffset: mc.offset });
  dispatch(maskBlockCounts(), [mc.storage.buffer, offs.storage.buffer], counts, grid1d(nb));
  dispatch(scanBlocks('u32'), [offs.storage.buffer], ScanParams.pack({ lines: 1, count: nb, stride: nb + 1, writeTotal: 1 }), [1]);
  return { mask: mc, m, B, nb, offs };
}

function disposeScan(s: MaskScan): void {
  s.mask.dispose();
  s.offs.dispose();
}

/** pos (i32 [m]: rank or -1) and sel (i32 [cap]: selected element indices). */
function positions(s: MaskScan, cap: number): { pos: Tensor; sel: Tensor } {
  const pos = Tensor.empty([s.m], 'i32');
  const sel = Tensor.empty([Math.max(cap, 1)], 'i32');
  if (s.m > 0) {
    const p = MaskPositionsParams.pack({ blocks: s.nb, maskLen: s.m, blockLen: s.B, maskOffset: s.mask.offset, cap });
    dispatch(maskPositions(), [s.mask.storage.buffer, s.offs.storage.buffer, pos.storage.buffer, sel.storage.buffer], p, grid1d(s.nb));
  }
  return { pos, sel };
}

/** Rows sel[p] of src viewed as [m, inner] for p < rows (0 past the selected total). */
function gatherSelected(src: Tensor, sel: Tensor, offs: Tensor, nb: number, rows: number, rest: readonly number[]): Tensor {
  const inner = numel(rest);
  const out = Tensor.empty([rows, ...rest], src.dtype);
  if (out.size > 0) {
    const nch = Math.ceil(inner / ROW_CHUNK);
    const p = GatherRowsParams.pack({ total: rows * nch, inner, blocks: nb, srcOffset: src.offset, chunksPerRow: nch });
    dispatch(gatherRows(DTYPES[src.dtype].wgsl), [src.storage.buffer, sel.storage.buffer, offs.storage.buffer, out.storage.buffer], p, grid1d(rows * nch));
  }
  return out;
}

/** out[i] = rows[pos[i]] where pos[i] in [0, count), else base[i] (or 0 without base). */
function scatterSelected(rows: Tensor, pos: Tensor, count: number, shape: readonly number[], m: number, base: Tensor | null): Tensor {
  const inner = m === 0 ? 0 : numel(shape) / m;
  const out = Tensor.empty(shape, rows.dtype);
  if (out.size > 0) {
    const nch = Math.ceil(inner / ROW_CHUNK);
    const p = ScatterRowsParams.pack({ total: m * nch, inner, rows: count, rowsOffset: rows.offset, baseOffset: base?.offset ?? 0, chunksPerRow: nch });
    const bufs = base
      ? [rows.storage.buffer, pos.storage.buffer, base.storage.buffer, out.storage.buffer]
      : [rows.storage.buffer, pos.storage.buffer, out.storage.buffer];
    dispatch(scatterRows(DTYPES[rows.dtype].wgsl, base !== null), bufs, p, grid1d(m * nch));
  }
  return out;
}

function checkRowMask(op: string, x: Tensor, mask: Tensor): void {
  x.assertLive(op);
  mask.assertLive(op);
  if (mask.dtype !== 'bool') throw new Error(`${op}: mask must be a bool tensor, got ${mask.dtype}`);
  if (mask.rank > x.rank) throw new Error(`${op}: mask ${fmt(mask.shape)} has more dims than x ${fmt(x.shape)}`);
  for (let i = 0; i < mask.rank; i++)
    if (mask.shape[i] !== x.shape[i])
      throw new Error(
        `${op}: the shape of the mask ${fmt(mask.shape)} does not match the shape of x ${fmt(x.shape)} at dim ${i} (mask dims must equal the leading dims of x)`,
      );
}

function compact(x: Tensor, s: MaskScan, count: number, rank: number): Tensor {
  const rest = x.shape.slice(rank);
  const { pos, sel } = positions(s, count);
  const xc = contiguous(x);
  const out = gatherSelected(xc, sel, s.offs, s.nb, count, rest);
  sel.dispose();
  const res = record(
    out,
    'maskedIndex',
    [xc],
    (g, _n, [p]) => {
      const gc = contiguous(g);
      return [scatterSelected(gc, p, count, x.shape, s.m, null)];
    },
    [pos],
  );
  pos.dispose();
  xc.dispose();
  return res;
}

function checkCount(op: string, count: number): void {
  if (!Number.isInteger(count) || count < 0) throw new Error(`${op}: count must be a non-negative integer, got ${count}`);
}

/** x[mask] with the number of selected rows known to the caller (no readback). */
export function maskedIndexCount(x: Tensor, mask: Tensor, count: number): Tensor {
  checkRowMask('maskedIndexCount', x, mask);
  checkCount('maskedIndexCount', count);
  const s = scanMask(mask);
  const out = compact(x, s, count, mask.rank);
  disposeScan(s);
  return out;
}

/** x[mask]: selected rows [count, ...x.shape[mask.rank:]]; reads back only the count. */
export async function maskedIndexAsync(x: Tensor, mask: Tensor): Promise<Tensor> {
  checkRowMask('maskedIndexAsync', x, mask);
  const gradOn = isGradEnabled();
  const s = scanMask(mask);
  try {
    const count = await readCount(s);
    return gradOn ? compact(x, s, count, mask.rank) : noGrad(() => compact(x, s, count, mask.rank));
  } finally {
    disposeScan(s);
  }
}

async function readCount(s: MaskScan): Promise<number> {
  const ab = await readback(s.offs.storage.buffer, (s.offs.offset + s.nb) * 4, 4);
  return new Uint32Array(ab)[0];
}

/** Number of true elements of a bool mask (one 4-byte readback). */
export async function countTrueAsync(mask: Tensor): Promise<number> {
  if (mask.dtype !== 'bool') throw new Error(`countTrueAsync: mask must be a bool tensor, got ${mask.dtype}`);
  const s = scanMask(mask);
  try {
    return await readCount(s);
  } finally {
    disposeScan(s);
  }
}

function flatPair(op: string, x: Tensor, mask: Tensor): [Tensor, Tensor] {
  if (mask.dtype !== 'bool') throw new Error(`${op}: mask must be a bool tensor, got ${mask.dtype}`);
  const shape = broadcastShapes(op, x.shape, mask.shape);
  return tidy(() => [reshape(expand(x, shape), [-1]), reshape(expand(mask, shape), [-1])] as [Tensor, Tensor]);
}

/** torch.masked_select(x, mask) (x and mask broadcast) with a caller-known count. */
export function maskedSelectCount(x: Tensor, mask: Tensor, count: number): Tensor {
  return tidy(() => maskedSelectCountImpl(x, mask, count));
}

function maskedSelectCountImpl(x: Tensor, mask: Tensor, count: number): Tensor {
  checkCount('maskedSelectCount', count);
  const [xf, mf] = flatPair('maskedSelectCount', x, mask);
  const out = maskedIndexCount(xf, mf, count);
  xf.dispose();
  mf.dispose();
  return out;
}

/** torch.masked_select(x, mask): 1-D tensor of the selected elements; reads back the count. */
export async function maskedSelectAsync(x: Tensor, mask: Tensor): Promise<Tensor> {
  const [xf, mf] = flatPair('maskedSelectAsync', x, mask);
  try {
    return await maskedIndexAsync(xf, mf);
  } finally {
    xf.dispose();
    mf.dispose();
  }
}

/**
 * x[mask] = values, functionally (x is not modified): `values` is a number, a tensor that
 * broadcasts to one selected row (x.shape[mask.rank:]), or [count, ...row] holding the new
 * rows in mask order (row-major). Differentiable w.r.t. x and values.
 */
export function maskedAssign(x: Tensor, mask: Tensor, values: Tensor | number): Tensor {
  return tidy(() => maskedAssignImpl(x, mask, values));
}

function maskedAssignImpl(x: Tensor, mask: Tensor, values: Tensor | number): Tensor {
  checkRowMask('maskedAssign', x, mask);
  const rest = x.shape.slice(mask.rank);
  const maskB = reshape(mask, [...mask.shape, ...rest.map(() => 1)]);
  const byWhere = (v: Tensor | number) => {
    const r = where(maskB, v, x);
    maskB.dispose();
    return r;
  };
  if (typeof values === 'number') return byWhere(values);
  values.assertLive('maskedAssign');
  let v = values.dtype === x.dtype ? values : cast(values, x.dtype);
  if (v.rank === rest.length + 1 && v.shape[0] === 1) v = squeeze(v, 0);
  if (v.rank <= rest.length) {
    broadcastShapes('maskedAssign', rest, v.shape);
    return byWhere(v);
  }
  if (v.rank !== rest.length + 1)
    throw new Error(`maskedAssign: values ${fmt(values.shape)} must broadcast to a row ${fmt(rest)} or be [count, ...${fmt(rest)}]`);
  const count = v.shape[0];
  const rowsShape = [count, ...rest];
  broadcastShapes('maskedAssign', rowsShape, v.shape);
  const vc = contiguous(expand(v, rowsShape));
  const xc = contiguous(x);
  const s = scanMask(mask);
  const { pos, sel } = positions(s, count);
  const out = scatterSelected(vc, pos, count, x.shape, s.m, xc);
  pos.dispose();
  const nb = s.nb;
  const res = record(
    out,
    'maskedAssign',
    [xc, vc],
    (g, needs, [mb, sl, of]) => [needs[0] ? where(mb, 0, g) : null, needs[1] ? gatherSelected(contiguous(g), sl, of, nb, count, rest) : null],
    [maskB, sel, s.offs],
  );
  for (const t of [sel, xc, vc, maskB]) t.dispose();
  disposeScan(s);
  return res;
}
