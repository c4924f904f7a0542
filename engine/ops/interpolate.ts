// torch.nn.functional.interpolate for NCHW tensors: modes 'nearest' and 'bilinear'
// (align_corners false/true), `size` or `scaleFactor` with torch's recompute_scale_factor rules.
// Forward reads the input through its strides (no copy for permuted views); backward is a gather
// over the output pixels that read each input pixel (wgsl/interpolate.ts), so no atomics.
import { pair, type Pair } from './args.ts';
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { dispatch, Params } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { interpolateForward, interpolateAxisBackward, AXIS, CHUNK } from '../wgsl/interpolate.ts';
import { fmt } from '../core/shape.ts';
import { contiguous } from './views.ts';

export type InterpolateMode = 'nearest' | 'bilinear';

export interface InterpolateOptions {
  /** Output (H, W); a number applies to both. Exclusive with scaleFactor. */
  size?: number | readonly [number, number];
  /** Multiplier(s) for (H, W); output size is floor(in * factor). Exclusive with size. */
  scaleFactor?: number | readonly [number, number];
  mode?: InterpolateMode;
  /** Only for 'bilinear' (torch's default None means false). */
  alignCorners?: boolean | null;
  /** torch's recompute_scale_factor: when true the kernel uses in/out instead of 1/scaleFactor. */
  recomputeScaleFactor?: boolean | null;
}

interface Axis {
  inSize: number;
  outSize: number;
  mode: number;
  scale: number;
}

// torch's area_pixel_compute_scale / compute_scales_value, rounded to f32 like its float kernels.
function axisOf(inSize: number, outSize: number, factor: number | null, mode: InterpolateMode, alignCorners: boolean): Axis {
  const f = Math.fround;
  if (mode === 'nearest') {
    if (outSize === inSize) return { inSize, outSize, mode: AXIS.identity, scale: 1 };
    if (outSize === 2 * inSize) return { inSize, outSize, mode: AXIS.half, scale: 0.5 };
    const scale = factor !== null && factor > 0 ? f(1 / factor) : f(inSize / outSize);
    return { inSize, outSize, mode: AXIS.nearest, scale };
  }
  if (outSize === inSize) return { inSize, outSize, mode: AXIS.identity, scale: 1 };
  if (alignCorners) return { inSize, outSize, mode: AXIS.linearAligned, scale: outSize > 1 ? f((inSize - 1) / (outSize - 1)) : 0 };
  const scale = factor !== null && factor > 0 ? f(1 / factor) : f(inSize / outSize);
  return { inSize, outSize, mode: AXIS.linear, scale };
}

/** torch.nn.functional.interpolate(x, size | scale_factor, mode, align_corners) for NCHW x. */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  const mode = opts.mode ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'bilinear') throw new Error(`interpolate: mode '${mode}' is not supported (nearest, bilinear)`);
  if (x.rank !== 4) throw new Error(`interpolate: expected a 4-D NCHW input, got ${fmt(x.shape)}`);
  if (x.dtype !== 'f32') throw new Error(`interpolate: expected an f32 input, got ${x.dtype}`);
  if (mode === 'nearest' && opts.alignCorners != null)
    throw new Error('interpolate: alignCorners can only be set with the interpolating mode bilinear');
  const hasSize = opts.size !== undefined && opts.size !== null;
  const hasScale = opts.scaleFactor !== undefined && opts.scaleFactor !== null;
  if (hasSize === hasScale) throw new Error('interpolate: exactly one of size or scaleFactor must be given');
  const [N, C, H, W] = x.shape;
  let outHW: [number, number];
  let factors: [number | null, number | null] = [null, null];
  if (hasSize) {
    outHW = pair('interpolate', 'size', opts.size, 0, -Infinity, false);
  } else {
    const sf = pair('interpolate', 'scaleFactor', opts.scaleFactor, 0, -Infinity, false);
    if (sf.some((s) => !(s > 0) || !Number.isFinite(s))) throw new Error(`interpolate: scaleFactor must be positive, got [${sf.join(', ')}]`);
    outHW = [Math.floor(H * sf[0]), Math.floor(W * sf[1])];
    if (!opts.recomputeScaleFactor) factors = sf;
  }
  if (outHW.some((d) => !Number.isInteger(d) || d <= 0))
    throw new Error(`interpolate: output size [${outHW.join(', ')}] must be positive integers (input ${fmt(x.shape)})`);
  if (H === 0 || W === 0) throw new Error(`interpolate: input ${fmt(x.shape)} has an empty spatial dim`);
  const ac = mode === 'bilinear' && !!opts.alignCorners;
  const ay = axisOf(H, outHW[0], factors[0], mode, ac);
  const ax = axisOf(W, outHW[1], factors[1], mode, ac);
  const out = Tensor.empty([N, C, outHW[0], outHW[1]], 'f32');
  if (out.size > 0) {
    const nch = Math.ceil(outHW[1] / CHUNK);
    const total = N * C * outHW[0] * nch;
    const p = axisParams(new Params().u32(total, C), ay, ax)
      .u32(x.offset, ...x.strides, nch)
      .build();
    dispatch(interpolateForward(), [x.storage.buffer, out.storage.buffer], p, grid1d(total));
  }
  return record(out, 'interpolate', [x], (g) => [interpolateGrad(g, x.shape, ay, ax)]);
}

function axisParams(p: Params, ...axes: Axis[]): Params {
  for (const a of axes) p.u32(a.inSize, a.outSize, a.mode).f32(a.scale);
  return p;
}

// [outer, O, inner] -> [outer, I, inner] along one resampled axis.
function axisGrad(g: Tensor, outer: number, a: Axis, inner: number): Tensor {
  const out = Tensor.empty([outer, a.inSize, inner], 'f32');
  if (out.size > 0) {
    const one = inner === 1;
    const nch = Math.ceil((one ? a.inSize : inner) / CHUNK);
    const total = outer * (one ? 1 : a.inSize) * nch;
    const p = new Params().u32(total, a.inSize, a.outSize, a.mode).f32(a.scale).u32(inner, nch, g.offset).build();
    dispatch(interpolateAxisBackward(one), [g.storage.buffer, out.storage.buffer], p, grid1d(total));
  }
  return out;
}

function interpolateGrad(g: Tensor, shape: readonly number[], ay: Axis, ax: Axis): Tensor {
  const [N, C, H, W] = shape;
  const gc = contiguous(g);
  const t = axisGrad(gc, N * C * ay.outSize, ax, 1); // [N*C*Ho, W]
  if (gc !== g) gc.dispose();
  const r = axisGrad(t, N * C, ay, W); // [N*C, H, W]
  t.dispose();
  const out = r.view_(shape, [C * H * W, H * W, W, 1], 0);
  r.dispose();
  return out;
}
