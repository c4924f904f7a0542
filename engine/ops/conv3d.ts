// torch.nn.functional.conv3d (NCDHW, weight [Cout, Cin/groups, kd, kh, kw]): stride, dilation,
// symmetric / 'same' / 'valid' padding, groups, optional bias. Direct kernels (wgsl/conv3d.ts):
// the 3-D layers this serves are small next to the 2-D backbones, so no implicit GEMM or tiles.
// Backward: the input gradient gathers per input element, the weight gradient reduces per
// weight element over splits of the output rows (summed here), the bias gradient is a sum.
import { triple, type Triple } from './args.ts';
import { Tensor } from '../core/tensor.ts';
import { record, noGrad } from '../autograd/tape.ts';
import { tidy } from '../core/memory.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { conv3dKernel, conv3dInputGradKernel, conv3dWeightGradKernel, Conv3dParams, Conv3dInputGradParams, Conv3dWeightGradParams } from '../wgsl/conv3d.ts';
import { fmt, numel } from '../core/shape.ts';
import { contiguous, unsqueeze, squeeze } from './views.ts';
import { sum } from './reduce.ts';
import { cast } from './unary.ts';
import { zeros } from './creation.ts';

/** number, [d, h, w], or torch's 'same' / 'valid'. */
export type Conv3dPadding = Triple | 'same' | 'valid';

export interface Conv3dOptions {
  stride?: Triple;
  padding?: Conv3dPadding;
  dilation?: Triple;
  groups?: number;
}

type T3 = [number, number, number];

interface Geom3 {
  N: number;
  Cin: number;
  Cout: number;
  G: number;
  Cin_g: number;
  Cout_g: number;
  size: T3;
  out: T3;
  kernel: T3;
  stride: T3;
  dilation: T3;
  /** Front / top / left padding. */
  pad: T3;
}

/** Weight gradient: aim for about this many invocations by splitting the output rows. */
const WGRAD_TARGET = 4096;

function geometry(xs: readonly number[], ws: readonly number[], bias: Tensor | null, o: Conv3dOptions): Geom3 {
  const op = 'conv3d';
  const desc = `input ${fmt(xs)}, weight ${fmt(ws)}`;
  if (xs.length !== 5) throw new Error(`conv3d: expected a 5-D NCDHW input (or 4-D CDHW), got ${fmt(xs)}`);
  if (ws.length !== 5) throw new Error(`conv3d: expected a 5-D weight [Cout, Cin/groups, kd, kh, kw], got ${fmt(ws)}`);
  const [N, Cin, D, H, W] = xs;
  const [Cout, Cin_g, KD, KH, KW] = ws;
  const G = o.groups ?? 1;
  if (!Number.isInteger(G) || G < 1) throw new Error(`conv3d: groups must be a positive integer, got ${G}`);
  if (Cin % G !== 0) throw new Error(`conv3d: input channels ${Cin} are not divisible by groups=${G} (${desc})`);
  if (Cout % G !== 0) throw new Error(`conv3d: output channels ${Cout} are not divisible by groups=${G} (${desc})`);
  if (Cin_g * G !== Cin)
    throw new Error(`conv3d: weight ${fmt(ws)} expects ${Cin_g * G} input channels (${Cin_g} per group x groups=${G}), but input ${fmt(xs)} has ${Cin}`);
  if (Cout === 0 || Cin_g === 0 || KD === 0 || KH === 0 || KW === 0) throw new Error(`conv3d: empty weight ${fmt(ws)}`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== Cout)) throw new Error(`conv3d: bias ${fmt(bias.shape)} does not match ${Cout} output channels (${desc})`);
  const kernel: T3 = [KD, KH, KW];
  const stride = triple(op, 'stride', o.stride, 1, 1);
  const dilation = triple(op, 'dilation', o.dilation, 1, 1);
  const p = o.padding ?? 0;
  let pad: T3;
  let padEnd: T3;
  if (p === 'valid') pad = padEnd = [0, 0, 0];
  else if (p === 'same') {
    if (stride.some((s) => s !== 1)) throw new Error(`conv3d: padding='same' is not supported for strided convolutions (stride [${stride.join(', ')}])`);
    // torch puts the odd element of the total padding at the end
    const total = kernel.map((k, i) => dilation[i] * (k - 1));
    pad = total.map((t) => t >> 1) as T3;
    padEnd = total.map((t) => t - (t >> 1)) as T3;
  } else {
    if (typeof p !== 'number' && !Array.isArray(p)) throw new Error(`conv3d: padding must be a number, [d, h, w], 'same' or 'valid', got ${JSON.stringify(p)}`);
    pad = padEnd = triple(op, 'padding', p, 0, 0);
  }
  const size: T3 = [D, H, W];
  const out = size.map((L, i) => Math.floor((L + pad[i] + padEnd[i] - dilation[i] * (kernel[i] - 1) - 1) / stride[i]) + 1) as T3;
  if (out.some((v) => v <= 0))
    throw new Error(
      `conv3d: output size ${out.join('x')} is empty for ${desc} (padding [${pad.join(', ')}] / [${padEnd.join(', ')}], stride [${stride.join(', ')}], dilation [${dilation.join(', ')}]): the kernel is larger than the padded input`,
    );
  return { N, Cin, Cout, G, Cin_g, Cout_g: Cout / G, size, out, kernel, stride, dilation, pad };
}

/** The fields every kernel of the family reads. */
function geomParams(g: Geom3, total: number) {
  return {
    total,
    batch: g.N,
    inChannels: g.Cin,
    outChannels: g.Cout,
    inPerGroup: g.Cin_g,
    outPerGroup: g.Cout_g,
    inSize: g.size,
    outSize: g.out,
    kernel: g.kernel,
    stride: g.stride,
    padding: g.pad,
    dilation: g.dilation,
  };
}

/** x dense (a free view when it already is), cut from the graph: the op records x itself. */
function dense(x: Tensor): Tensor {
  return noGrad(() => contiguous(x));
}

function forward(x: Tensor, w: Tensor, bias: Tensor | null, g: Geom3): Tensor {
  const out = Tensor.empty([g.N, g.Cout, ...g.out], 'f32');
  if (out.size === 0) return out;
  const xc = dense(x);
  const wc = dense(w);
  const bc = bias ? dense(bias) : null;
  const prm = Conv3dParams.pack({ ...geomParams(g, out.size), xOffset: xc.offset, wOffset: wc.offset, bOffset: bc?.offset ?? 0 });
  const bufs = [xc.storage.buffer, wc.storage.buffer, out.storage.buffer, ...(bc ? [bc.storage.buffer] : [])];
  dispatch(conv3dKernel(bc !== null), bufs, prm, grid1d(out.size));
  for (const t of [xc, wc, bc]) t?.dispose();
  return out;
}

function inputGrad(gy: Tensor, w: Tensor, g: Geom3): Tensor {
  const dx = Tensor.empty([g.N, g.Cin, ...g.size], 'f32');
  if (dx.size === 0) return dx;
  const gc = dense(gy);
  const wc = dense(w);
  const prm = Conv3dInputGradParams.pack({ ...geomParams(g, dx.size), gOffset: gc.offset, wOffset: wc.offset });
  dispatch(conv3dInputGradKernel(), [gc.storage.buffer, wc.storage.buffer, dx.storage.buffer], prm, grid1d(dx.size));
  gc.dispose();
  wc.dispose();
  return dx;
}

function weightGrad(gy: Tensor, x: Tensor, g: Geom3): Tensor {
  const wshape = [g.Cout, g.Cin_g, ...g.kernel];
  const wsize = numel(wshape);
  const rows = g.N * g.out[0];
  if (rows === 0) return zeros(wshape);
  // split the reduction over output rows until the launch has enough invocations
  let S = Math.max(1, Math.min(rows, Math.floor(WGRAD_TARGET / wsize)));
  const per = Math.ceil(rows / S);
  S = Math.ceil(rows / per);
  const part = Tensor.empty(S > 1 ? [S, ...wshape] : wshape, 'f32');
  const xc = dense(x);
  const gc = dense(gy);
  const prm = Conv3dWeightGradParams.pack({ ...geomParams(g, part.size), xOffset: xc.offset, gOffset: gc.offset, rowsPerSplit: per });
  dispatch(conv3dWeightGradKernel(), [xc.storage.buffer, gc.storage.buffer, part.storage.buffer], prm, grid1d(part.size));
  xc.dispose();
  gc.dispose();
  if (S === 1) return part;
  const r = sum(part, 0);
  part.dispose();
  return r;
}

/**
 * torch.nn.functional.conv3d. x [N, Cin, D, H, W] (or unbatched [Cin, D, H, W]), weight
 * [Cout, Cin/groups, kd, kh, kw], bias [Cout] or null. padding: number, [d, h, w], 'same'
 * (stride 1; an odd total padding puts the extra element at the back, as torch) or 'valid'.
 */
export function conv3d(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: Conv3dOptions = {}): Tensor {
  x.assertLive('conv3d');
  weight.assertLive('conv3d');
  bias?.assertLive('conv3d');
  if (x.rank === 4) return tidy(() => squeeze(conv3d(unsqueeze(x, 0), weight, bias, opts), 0));
  if (x.dtype !== 'f32') x = cast(x, 'f32');
  if (weight.dtype !== 'f32') weight = cast(weight, 'f32');
  if (bias && bias.dtype !== 'f32') bias = cast(bias, 'f32');
  const g = geometry(x.shape, weight.shape, bias, opts);
  const out = forward(x, weight, bias, g);
  return record(
    out,
    'conv3d',
    bias ? [x, weight, bias] : [x, weight],
    (gy, needs, [xs, ws]) => [needs[0] ? inputGrad(gy, ws, g) : null, needs[1] ? weightGrad(gy, xs, g) : null, needs[2] ? sum(gy, [0, 2, 3, 4]) : null],
    [x, weight],
  );
}
