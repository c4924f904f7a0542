// Pooling with PyTorch's semantics: max_pool2d (dilation, ceil_mode, first-max argmax routing
// the gradient, return_indices), avg_pool2d (ceil_mode, count_include_pad, divisor_override), and
// adaptive_avg_pool1d/2d with torch's bins [floor(i*L/O), ceil((i+1)*L/O)) (uneven and
// overlapping bins included). Beyond torch's symmetric padding, max and average pooling take
// F.pad's 4-tuple [left, right, top, bottom]: the result of F.pad (zeros for average pooling,
// -inf for max) then pooling, except that the padding never counts when countIncludePad is false
// and ceil mode keeps only windows that start inside the input or the left/top padding (torch's
// pooling_output_shape_pad_lr). Kernels in wgsl/pool.ts; backward passes gather per input element.
import { pair, type Pair } from './args.ts';
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import {
  maxPoolKernel,
  maxPoolBackwardKernel,
  avgPoolKernel,
  avgPoolBackwardKernel,
  adaptiveAvgKernel,
  adaptiveAvgBackwardKernel,
  adaptiveRowKernel,
  adaptiveRowBackwardKernel,
  PoolParams,
  AdaptivePoolParams,
  AdaptiveRowParams,
  AdaptiveRowBackwardParams,
} from '../wgsl/pool.ts';
import { fmt } from '../core/shape.ts';
import { contiguous, reshape } from './views.ts';
import { cast } from './unary.ts';

/** torch's padding=(h, w) (or one number for both), or F.pad's [left, right, top, bottom]. */
export type PoolPadding = Pair | readonly [number, number, number, number];

export interface MaxPool2dOptions {
  kernelSize: Pair;
  /** Defaults to kernelSize (torch's stride=None). */
  stride?: Pair | null;
  padding?: PoolPadding;
  dilation?: Pair;
  ceilMode?: boolean;
  /** When true, maxPool2d returns [values, indices] (torch's return_indices). */
  returnIndices?: boolean;
}

export interface AvgPool2dOptions {
  kernelSize: Pair;
  stride?: Pair | null;
  padding?: PoolPadding;
  ceilMode?: boolean;
  /** Default true, as in torch. */
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

/**
 * torch's pooling_output_shape_pad_lr: ceil mode drops a last window that starts in the end
 * padding (with symmetric padding this is pooling_output_shape).
 */
function outSize(L: number, k: number, padBegin: number, padEnd: number, stride: number, dil: number, ceil: boolean): number {
  let o = Math.floor((L + padBegin + padEnd - dil * (k - 1) - 1 + (ceil ? stride - 1 : 0)) / stride) + 1;
  if (ceil && (o - 1) * stride >= L + padBegin) o--;
  return o;
}

interface Win {
  NC: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  kh: number;
  kw: number;
  sy: number;
  sx: number;
  dy: number;
  dx: number;
  top: number;
  bottom: number;
  left: number;
  right: number;
  outShape: number[];
}

/** [top, bottom, left, right] from torch's (h, w) padding or F.pad's [left, right, top, bottom]. */
function pads(op: string, p: PoolPadding | undefined): [number, number, number, number] {
  if (typeof p === 'object' && p !== null && p.length === 4) {
    if (p.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0))
      throw new Error(`${op}: padding must be integers >= 0, got ${JSON.stringify(p)}`);
    return [p[2], p[3], p[0], p[1]];
  }
  if (typeof p === 'object' && p !== null && p.length !== 2)
    throw new Error(`${op}: padding must be a number, a pair (h, w) or F.pad's [left, right, top, bottom], got ${JSON.stringify(p)}`);
  const [py, px] = pair(op, 'padding', p as Pair | undefined, [0, 0], 0);
  return [py, py, px, px];
}

function window(op: string, x: Tensor, k: Pair, s: Pair | undefined | null, p: PoolPadding | undefined, d: Pair | undefined, ceil: boolean): Win {
  if (x.rank !== 3 && x.rank !== 4) throw new Error(`${op}: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got ${fmt(x.shape)}`);
  const [kh, kw] = pair(op, 'kernelSize', k, [0, 0], 1);
  const [sy, sx] = pair(op, 'stride', s, [kh, kw], 1);
  const [top, bottom, left, right] = pads(op, p);
  const [dy, dx] = pair(op, 'dilation', d, [1, 1], 1);
  // torch's limit, per side: it keeps every window holding at least one input element
  const symmetric = top === bottom && left === right;
  if (Math.max(top, bottom) > kh / 2 || Math.max(left, right) > kw / 2)
    throw new Error(
      `${op}: padding ${symmetric ? `[${top}, ${left}]` : `[left ${left}, right ${right}, top ${top}, bottom ${bottom}]`} must be at most half of the kernel size [${kh}, ${kw}] (input ${fmt(x.shape)})`,
    );
  const H = x.shape[x.rank - 2];
  const W = x.shape[x.rank - 1];
  const OH = outSize(H, kh, top, bottom, sy, dy, ceil);
  const OW = outSize(W, kw, left, right, sx, dx, ceil);
  if (OH < 1 || OW < 1)
    throw new Error(
      `${op}: output size ${OH}x${OW} is too small for input ${fmt(x.shape)} (kernel [${kh}, ${kw}], stride [${sy}, ${sx}], padding ${symmetric ? `[${top}, ${left}]` : `[${left}, ${right}, ${top}, ${bottom}]`}, dilation [${dy}, ${dx}])`,
    );
  const NC = x.shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { NC, H, W, OH, OW, kh, kw, sy, sx, dy, dx, top, bottom, left, right, outShape: [...x.shape.slice(0, -2), OH, OW] };
}

function winParams(w: Win, total: number, offset: number, avgMode = 0, divisorOverride = 0): Uint32Array {
  return PoolParams.pack({
    total,
    H: w.H,
    W: w.W,
    OH: w.OH,
    OW: w.OW,
    kernelH: w.kh,
    kernelW: w.kw,
    strideH: w.sy,
    strideW: w.sx,
    padTop: w.top,
    padLeft: w.left,
    dilationH: w.dy,
    dilationW: w.dx,
    offset,
    avgMode,
    divisorOverride,
    padBottom: w.bottom,
    padRight: w.right,
  });
}

function dense(x: Tensor): Tensor {
  const f = x.dtype === 'f32' ? x : cast(x, 'f32');
  return f.isContiguous() ? f : contiguous(f);
}

function maxPoolRaw(x: Tensor, o: MaxPool2dOptions): { out: Tensor; idx: Tensor; w: Win } {
  const w = window('maxPool2d', x, o.kernelSize, o.stride, o.padding, o.dilation, o.ceilMode ?? false);
  const xc = dense(x);
  const out = Tensor.empty(w.outShape, 'f32');
  const idx = Tensor.empty(w.outShape, 'i32');
  const total = out.size;
  if (total > 0) dispatch(maxPoolKernel(), [xc.storage.buffer, out.storage.buffer, idx.storage.buffer], winParams(w, total, xc.offset), grid1d(total));
  if (xc !== x) xc.dispose();
  return { out, idx, w };
}

function recordMax(x: Tensor, out: Tensor, idx: Tensor, w: Win): Tensor {
  return record(
    out,
    'maxPool2d',
    [x],
    (g, _needs, [ix]) => {
      const gc = dense(g);
      const dx = Tensor.empty(x.shape, 'f32');
      const total = dx.size;
      if (total > 0)
        dispatch(maxPoolBackwardKernel(), [gc.storage.buffer, ix.storage.buffer, dx.storage.buffer], winParams(w, total, gc.offset), grid1d(total));
      return [dx];
    },
    [idx],
  );
}

/**
 * torch.nn.functional.max_pool2d on [N, C, H, W] or [C, H, W]. The gradient goes to the first
 * maximum of each window, or to its last NaN (torch's kernels: a NaN is the maximum and every
 * NaN replaces the one before). With returnIndices: [values, i32 indices], each the flat index
 * h * W + w into its input plane (never into the padding), as torch's return_indices=True.
 */
export function maxPool2d(x: Tensor, opts: MaxPool2dOptions & { returnIndices: true }): [Tensor, Tensor];
export function maxPool2d(x: Tensor, opts: MaxPool2dOptions & { returnIndices?: false }): Tensor;
export function maxPool2d(x: Tensor, opts: MaxPool2dOptions): Tensor | [Tensor, Tensor];
export function maxPool2d(x: Tensor, opts: MaxPool2dOptions): Tensor | [Tensor, Tensor] {
  const { out, idx, w } = maxPoolRaw(x, opts);
  const r = recordMax(x, out, idx, w);
  if (opts.returnIndices) return [r, idx];
  idx.dispose();
  return r;
}

/** max_pool2d with return_indices=True: maxPool2d(x, { ...opts, returnIndices: true }). */
export function maxPool2dWithIndices(x: Tensor, opts: MaxPool2dOptions): [Tensor, Tensor] {
  return maxPool2d(x, { ...opts, returnIndices: true });
}

/**
 * torch.nn.functional.avg_pool2d on [N, C, H, W] or [C, H, W]. countIncludePad: false divides by
 * the window's input elements only, with any padding (4-tuples and ceil mode included).
 */
export function avgPool2d(x: Tensor, opts: AvgPool2dOptions): Tensor {
  const w = window('avgPool2d', x, opts.kernelSize, opts.stride, opts.padding, 1, opts.ceilMode ?? false);
  const ov = opts.divisorOverride ?? null;
  if (ov !== null && (!Number.isFinite(ov) || ov === 0)) throw new Error(`avgPool2d: divisorOverride must be a non-zero number, got ${ov}`);
  const mode = ov !== null ? 2 : (opts.countIncludePad ?? true) ? 1 : 0;
  const xc = dense(x);
  const out = Tensor.empty(w.outShape, 'f32');
  const total = out.size;
  if (total > 0) dispatch(avgPoolKernel(), [xc.storage.buffer, out.storage.buffer], winParams(w, total, xc.offset, mode, ov ?? 0), grid1d(total));
  if (xc !== x) xc.dispose();
  return record(out, 'avgPool2d', [x], (g) => {
    const gc = dense(g);
    const dx = Tensor.empty(x.shape, 'f32');
    const n = dx.size;
    if (n > 0) dispatch(avgPoolBackwardKernel(), [gc.storage.buffer, dx.storage.buffer], winParams(w, n, gc.offset, mode, ov ?? 0), grid1d(n));
    return [dx];
  });
}

function adaptiveSize(op: string, v: number, L: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${op}: output size must be a positive integer, got ${v}`);
  if (v * (L + 1) >= 2 ** 32) throw new Error(`${op}: output size ${v} x input size ${L} is too large for 32-bit bin arithmetic`);
  return v;
}

/** torch.nn.functional.adaptive_avg_pool2d on [N, C, H, W] or [C, H, W]; null keeps a size. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly [number | null, number | null]): Tensor {
  if (x.rank !== 3 && x.rank !== 4) throw new Error(`adaptiveAvgPool2d: expected a 3-D or 4-D input, got ${fmt(x.shape)}`);
  const H = x.shape[x.rank - 2];
  const W = x.shape[x.rank - 1];
  if (H === 0 || W === 0) throw new Error(`adaptiveAvgPool2d: input ${fmt(x.shape)} has an empty spatial dim`);
  const [oh0, ow0] = typeof outputSize === 'number' ? [outputSize, outputSize] : outputSize;
  const OH = adaptiveSize('adaptiveAvgPool2d', oh0 ?? H, H);
  const OW = adaptiveSize('adaptiveAvgPool2d', ow0 ?? W, W);
  const xc = dense(x);
  const out = Tensor.empty([...x.shape.slice(0, -2), OH, OW], 'f32');
  // one row per bin in H (adaptive_avg_pool1d): the vec4 row kernels
  const rows = OH === H && W % 4 === 0 ? out.size / OW : 0;
  const prm = (total: number, offset: number) => AdaptivePoolParams.pack({ total, H, W, OH, OW, offset });
  if (rows > 0) {
    const n = rows * Math.ceil(OW / 4);
    if (xc.offset % 4 === 0)
      dispatch(
        adaptiveRowKernel(OW % 4 === 0),
        [xc.storage.buffer, out.storage.buffer],
        AdaptiveRowParams.pack({ invocations: n, W, OW, xOffset4: xc.offset / 4 }),
        grid1d(n),
      );
    else dispatch(adaptiveAvgKernel(), [xc.storage.buffer, out.storage.buffer], prm(out.size, xc.offset), grid1d(out.size));
  } else if (out.size > 0) dispatch(adaptiveAvgKernel(), [xc.storage.buffer, out.storage.buffer], prm(out.size, xc.offset), grid1d(out.size));
  if (xc !== x) xc.dispose();
  return record(out, 'adaptiveAvgPool2d', [x], (g) => {
    const gc = dense(g);
    const dx = Tensor.empty(x.shape, 'f32');
    if (rows > 0) {
      const n = dx.size / 4;
      dispatch(
        adaptiveRowBackwardKernel(),
        [gc.storage.buffer, dx.storage.buffer],
        AdaptiveRowBackwardParams.pack({ invocations: n, W, OW, gOffset: gc.offset }),
        grid1d(n),
      );
    } else if (dx.size > 0) dispatch(adaptiveAvgBackwardKernel(), [gc.storage.buffer, dx.storage.buffer], prm(dx.size, gc.offset), grid1d(dx.size));
    return [dx];
  });
}

/** torch.nn.functional.adaptive_avg_pool1d on [N, C, L] or [C, L]. */
export function adaptiveAvgPool1d(x: Tensor, outputSize: number): Tensor {
  if (x.rank !== 2 && x.rank !== 3) throw new Error(`adaptiveAvgPool1d: expected a 2-D [C, L] or 3-D [N, C, L] input, got ${fmt(x.shape)}`);
  const x4 = reshape(x, [...x.shape.slice(0, -1), 1, x.shape[x.rank - 1]]);
  const y = adaptiveAvgPool2d(x4, [1, outputSize]);
  return reshape(y, [...x.shape.slice(0, -1), outputSize]);
}
