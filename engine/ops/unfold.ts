// torch.nn.functional.unfold (im2col, output [N, C*kh*kw, L]) and fold (col2im, summing
// overlaps), each the other's backward. 3-D (unbatched) inputs are accepted like torch's.
// Both kernels read their input through its strides (wgsl/unfold.ts).
import { pair, type Pair } from './args.ts';
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { tidy } from '../core/memory.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { unfoldKernel, foldKernel, CHUNK, UnfoldParams, FoldParams } from '../wgsl/unfold.ts';
import { fmt } from '../core/shape.ts';
import { reshape } from './views.ts';

export interface UnfoldOptions {
  kernelSize: Pair;
  dilation?: Pair;
  padding?: Pair;
  stride?: Pair;
}

export interface FoldOptions extends UnfoldOptions {
  outputSize: Pair;
}

interface Geom {
  kh: number;
  kw: number;
  dh: number;
  dw: number;
  ph: number;
  pw: number;
  sh: number;
  sw: number;
  H: number;
  W: number;
  Lh: number;
  Lw: number;
}

function geometry(op: string, H: number, W: number, o: UnfoldOptions): Geom {
  const [kh, kw] = pair(op, 'kernelSize', o.kernelSize, 1, 1);
  const [dh, dw] = pair(op, 'dilation', o.dilation, 1, 1);
  const [ph, pw] = pair(op, 'padding', o.padding, 0, 0);
  const [sh, sw] = pair(op, 'stride', o.stride, 1, 1);
  const Lh = Math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const Lw = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  if (Lh <= 0 || Lw <= 0) throw new Error(`${op}: kernel ${kh}x${kw} (dilation ${dh}x${dw}, padding ${ph}x${pw}) does not fit the spatial size ${H}x${W}`);
  return { kh, kw, dh, dw, ph, pw, sh, sw, H, W, Lh, Lw };
}

/** The geometry fields both kernels' parameters share. */
function geomParams(invocations: number, channels: number, g: Geom) {
  return {
    invocations,
    channels,
    imageH: g.H,
    imageW: g.W,
    kernelH: g.kh,
    kernelW: g.kw,
    dilationH: g.dh,
    dilationW: g.dw,
    padH: g.ph,
    padW: g.pw,
    strideH: g.sh,
    strideW: g.sw,
    blocksH: g.Lh,
    blocksW: g.Lw,
  };
}

function unfoldRaw(x: Tensor, g: Geom): Tensor {
  const [N, C] = x.shape;
  const out = Tensor.empty([N, C * g.kh * g.kw, g.Lh * g.Lw], 'f32');
  if (out.size > 0) {
    const nch = Math.ceil(g.Lw / CHUNK);
    const total = N * C * g.kh * g.kw * g.Lh * nch;
    const p = UnfoldParams.pack({ ...geomParams(total, C, g), xOffset: x.offset, xStrides: x.strides, chunksPerRow: nch });
    dispatch(unfoldKernel(), [x.storage.buffer, out.storage.buffer], p, grid1d(total));
  }
  return out;
}

function foldRaw(col: Tensor, C: number, g: Geom): Tensor {
  const N = col.shape[0];
  const out = Tensor.empty([N, C, g.H, g.W], 'f32');
  if (out.size > 0) {
    const nch = Math.ceil(g.W / CHUNK);
    const total = N * C * g.H * nch;
    const p = FoldParams.pack({ ...geomParams(total, C, g), colOffset: col.offset, colStrides: col.strides, chunksPerRow: nch });
    dispatch(foldKernel(), [col.storage.buffer, out.storage.buffer], p, grid1d(total));
  }
  return out;
}

/** torch.nn.functional.unfold: sliding local blocks of x [N, C, H, W] as [N, C*kh*kw, L]. */
export function unfold(x: Tensor, opts: UnfoldOptions): Tensor {
  if (x.rank === 3) {
    return tidy(() => {
      const r = unfold(reshape(x, [1, ...x.shape]), opts);
      return reshape(r, r.shape.slice(1));
    });
  }
  if (x.rank !== 4) throw new Error(`unfold: expected a 3-D or 4-D input, got ${fmt(x.shape)}`);
  if (x.dtype !== 'f32') throw new Error(`unfold: expected an f32 input, got ${x.dtype}`);
  const C = x.shape[1];
  const g = geometry('unfold', x.shape[2], x.shape[3], opts);
  const out = unfoldRaw(x, g);
  return record(out, 'unfold', [x], (gr) => [foldRaw(gr, C, g)]);
}

/** torch.nn.functional.fold: sums the columns x [N, C*kh*kw, L] back into [N, C, outH, outW]. */
export function fold(x: Tensor, opts: FoldOptions): Tensor {
  if (x.rank === 2) {
    return tidy(() => {
      const r = fold(reshape(x, [1, ...x.shape]), opts);
      return reshape(r, r.shape.slice(1));
    });
  }
  if (x.rank !== 3) throw new Error(`fold: expected a 2-D or 3-D input, got ${fmt(x.shape)}`);
  if (x.dtype !== 'f32') throw new Error(`fold: expected an f32 input, got ${x.dtype}`);
  const [H, W] = pair('fold', 'outputSize', opts.outputSize, 0, 1);
  const g = geometry('fold', H, W, opts);
  const kk = g.kh * g.kw;
  if (x.shape[1] % kk !== 0) throw new Error(`fold: dim 1 of ${fmt(x.shape)} must be divisible by the kernel size ${g.kh}x${g.kw} = ${kk}`);
  if (x.shape[2] !== g.Lh * g.Lw)
    throw new Error(`fold: input ${fmt(x.shape)} has ${x.shape[2]} blocks, expected ${g.Lh}x${g.Lw} = ${g.Lh * g.Lw} for output ${H}x${W}`);
  const C = x.shape[1] / kk;
  const out = foldRaw(x, C, g);
  return record(out, 'fold', [x], (gr) => [unfoldRaw(gr, g)]);
}
