// torch.nn.functional.interpolate for NCHW tensors: modes 'nearest', 'nearest-exact', 'bilinear'
// and 'bicubic' (align_corners false/true), `size` or `scaleFactor` with torch's
// recompute_scale_factor rules. Forward reads the input through its strides (no copy for permuted
// views); backward is a gather over the output pixels that read each input pixel
// (wgsl/interpolate.ts), so no atomics.
import { pair, type Pair } from './args.ts';
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import {
  interpolateForward,
  interpolateCubicForward,
  interpolateAxisBackward,
  AXIS,
  CHUNK,
  InterpolateParams,
  InterpolateAxisParams,
} from '../wgsl/interpolate.ts';
import { fmt } from '../core/shape.ts';
import { contiguous } from './views.ts';

export type InterpolateMode = 'nearest' | 'nearest-exact' | 'bilinear' | 'bicubic';

const MODES: readonly string[] = ['nearest', 'nearest-exact', 'bilinear', 'bicubic'];

export interface InterpolateOptions {
  /** Output (H, W); a number applies to both. Exclusive with scaleFactor. */
  size?: number | readonly [number, number];
  /** Multiplier(s) for (H, W); output size is floor(in * factor). Exclusive with size. */
  scaleFactor?: number | readonly [number, number];
  mode?: InterpolateMode;
  /** Only for 'bilinear' and 'bicubic' (torch's default None means false). */
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
  const scale = factor !== null && factor > 0 ? f(1 / factor) : f(inSize / outSize);
  if (mode === 'nearest') {
    if (outSize === inSize) return { inSize, outSize, mode: AXIS.identity, scale: 1 };
    if (outSize === 2 * inSize) return { inSize, outSize, mode: AXIS.half, scale: 0.5 };
    return { inSize, outSize, mode: AXIS.nearest, scale };
  }
  if (mode === 'nearest-exact') {
    // floor((o + 0.5) * scale) is o at scale 1 and o >> 1 at scale 0.5 (torch has no shortcut:
    // a scale factor of 1.05 that keeps the size still shifts indices on long axes)
    if (scale === 1) return { inSize, outSize, mode: AXIS.identity, scale: 1 };
    if (scale === 0.5) return { inSize, outSize, mode: AXIS.half, scale: 0.5 };
    return { inSize, outSize, mode: AXIS.nearestExact, scale };
  }
  const aligned = alignCorners ? (outSize > 1 ? f((inSize - 1) / (outSize - 1)) : 0) : scale;
  // torch's bicubic forward has no same-size copy (a size-keeping scale factor still resamples)
  if (mode === 'bicubic') return { inSize, outSize, mode: alignCorners ? AXIS.cubicAligned : AXIS.cubic, scale: aligned };
  if (outSize === inSize) return { inSize, outSize, mode: AXIS.identity, scale: 1 };
  return { inSize, outSize, mode: alignCorners ? AXIS.linearAligned : AXIS.linear, scale: aligned };
}

/** torch.nn.functional.interpolate(x, size | scale_factor, mode, align_corners) for NCHW x. */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  const mode = opts.mode ?? 'nearest';
  if (!MODES.includes(mode)) throw new Error(`interpolate: mode '${mode}' is not supported (${MODES.join(', ')})`);
  if (x.rank !== 4) throw new Error(`interpolate: expected a 4-D NCHW input, got ${fmt(x.shape)}`);
  if (x.dtype !== 'f32') throw new Error(`interpolate: expected an f32 input, got ${x.dtype}`);
  const interpolating = mode === 'bilinear' || mode === 'bicubic';
  if (!interpolating && opts.alignCorners != null)
    throw new Error(`interpolate: alignCorners can only be set with the interpolating modes bilinear and bicubic, not '${mode}'`);
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
  const ac = interpolating && !!opts.alignCorners;
  const ay = axisOf(H, outHW[0], factors[0], mode, ac);
  const ax = axisOf(W, outHW[1], factors[1], mode, ac);
  const out = Tensor.empty([N, C, outHW[0], outHW[1]], 'f32');
  // the backward's tap functions: nearest's are the linear kernels' one-tap modes
  const taps: Taps = mode === 'bicubic' ? 'cubic' : mode === 'nearest-exact' ? 'exact' : 'linear';
  if (out.size > 0) {
    const chunksPerRow = Math.ceil(outHW[1] / CHUNK);
    const invocations = N * C * outHW[0] * chunksPerRow;
    const [strideN, strideC, strideH, strideW] = x.strides;
    const p = InterpolateParams.pack({
      invocations,
      channels: C,
      inH: ay.inSize,
      outH: ay.outSize,
      modeH: ay.mode,
      scaleH: ay.scale,
      inW: ax.inSize,
      outW: ax.outSize,
      modeW: ax.mode,
      scaleW: ax.scale,
      xOffset: x.offset,
      strideN,
      strideC,
      strideH,
      strideW,
      chunksPerRow,
    });
    const kernel =
      mode === 'bicubic' ? interpolateCubicForward() : interpolateForward(mode === 'bilinear' ? 'linear' : mode === 'nearest' ? 'nearest' : 'exact');
    dispatch(kernel, [x.storage.buffer, out.storage.buffer], p, grid1d(invocations));
  }
  return record(out, 'interpolate', [x], (g) => [interpolateGrad(g, x.shape, ay, ax, taps)]);
}

type Taps = 'linear' | 'exact' | 'cubic';

// [outer, O, inner] -> [outer, I, inner] along one resampled axis.
function axisGrad(g: Tensor, outer: number, a: Axis, inner: number, taps: Taps): Tensor {
  const out = Tensor.empty([outer, a.inSize, inner], 'f32');
  if (out.size > 0) {
    const one = inner === 1;
    const chunksPerRow = Math.ceil((one ? a.inSize : inner) / CHUNK);
    const invocations = outer * (one ? 1 : a.inSize) * chunksPerRow;
    const p = InterpolateAxisParams.pack({
      invocations,
      inSize: a.inSize,
      outSize: a.outSize,
      mode: a.mode,
      scale: a.scale,
      inner,
      chunksPerRow,
      gOffset: g.offset,
    });
    dispatch(interpolateAxisBackward(one, taps), [g.storage.buffer, out.storage.buffer], p, grid1d(invocations));
  }
  return out;
}

function interpolateGrad(g: Tensor, shape: readonly number[], ay: Axis, ax: Axis, taps: Taps): Tensor {
  const [N, C, H, W] = shape;
  const gc = contiguous(g);
  const t = axisGrad(gc, N * C * ay.outSize, ax, 1, taps); // [N*C*Ho, W]
  if (gc !== g) gc.dispose();
  const r = axisGrad(t, N * C, ay, W, taps); // [N*C, H, W]
  t.dispose();
  const out = r.view_(shape, [C * H * W, H * W, W, 1], 0);
  r.dispose();
  return out;
}
