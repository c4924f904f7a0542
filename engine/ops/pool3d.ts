// 3-D pooling with PyTorch's semantics on [N, C, D, H, W] or [C, D, H, W]: max_pool3d (dilation,
// ceil_mode, indices into each D*H*W volume, first-max argmax routing the gradient) and avg_pool3d
// (ceil_mode, count_include_pad, divisor_override). Kernels in wgsl/pool3d.ts; backward passes
// gather per input element.
import { triple, type Triple } from './args.ts';
import { Tensor } from '../core/tensor.ts';
import { record, noGrad } from '../autograd/tape.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { maxPool3dKernel, maxPool3dBackwardKernel, avgPool3dKernel, avgPool3dBackwardKernel, MaxPool3dParams, AvgPool3dParams } from '../wgsl/pool3d.ts';
import { fmt } from '../core/shape.ts';
import { contiguous } from './views.ts';
import { cast } from './unary.ts';

export interface MaxPool3dOptions {
  kernelSize: Triple;
  /** Defaults to kernelSize (torch's stride=None). */
  stride?: Triple | null;
  padding?: Triple;
  dilation?: Triple;
  ceilMode?: boolean;
}

export interface AvgPool3dOptions {
  kernelSize: Triple;
  stride?: Triple | null;
  padding?: Triple;
  ceilMode?: boolean;
  /** Default true, as in torch. */
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

type T3 = [number, number, number];

/** torch's pooling_output_shape: ceil mode drops a last window that starts in the right padding. */
function outSize(L: number, k: number, pad: number, stride: number, dil: number, ceil: boolean): number {
  let o = Math.floor((L + 2 * pad - dil * (k - 1) - 1 + (ceil ? stride - 1 : 0)) / stride) + 1;
  if (ceil && (o - 1) * stride >= L + pad) o--;
  return o;
}

interface Win3 {
  size: T3;
  out: T3;
  kernel: T3;
  stride: T3;
  padding: T3;
  dilation: T3;
  outShape: number[];
}

function window(op: string, x: Tensor, k: Triple, s: Triple | undefined | null, p: Triple | undefined, d: Triple | undefined, ceil: boolean): Win3 {
  if (x.rank !== 4 && x.rank !== 5) throw new Error(`${op}: expected a 4-D [C, D, H, W] or 5-D [N, C, D, H, W] input, got ${fmt(x.shape)}`);
  const kernel = triple(op, 'kernelSize', k, [0, 0, 0], 1);
  const stride = triple(op, 'stride', s, kernel, 1);
  const padding = triple(op, 'padding', p, 0, 0);
  const dilation = triple(op, 'dilation', d, 1, 1);
  if (padding.some((v, i) => v > kernel[i] / 2))
    throw new Error(`${op}: padding [${padding.join(', ')}] must be at most half of the kernel size [${kernel.join(', ')}] (input ${fmt(x.shape)})`);
  const size = x.shape.slice(-3) as T3;
  const out = size.map((L, i) => outSize(L, kernel[i], padding[i], stride[i], dilation[i], ceil)) as T3;
  if (out.some((v) => v < 1))
    throw new Error(
      `${op}: output size ${out.join('x')} is too small for input ${fmt(x.shape)} (kernel [${kernel.join(', ')}], stride [${stride.join(', ')}], padding [${padding.join(', ')}], dilation [${dilation.join(', ')}])`,
    );
  return { size, out, kernel, stride, padding, dilation, outShape: [...x.shape.slice(0, -3), ...out] };
}

function winParams(w: Win3, total: number, offset: number) {
  return { total, inSize: w.size, outSize: w.out, kernel: w.kernel, stride: w.stride, padding: w.padding, dilation: w.dilation, offset };
}

/** f32 and dense (a free view when it already is), cut from the graph: the op records x itself. */
function dense(x: Tensor): Tensor {
  return noGrad(() => (x.dtype === 'f32' ? contiguous(x) : cast(x, 'f32')));
}

function maxPoolRaw(x: Tensor, o: MaxPool3dOptions): { out: Tensor; idx: Tensor; w: Win3 } {
  x.assertLive('maxPool3d');
  const w = window('maxPool3d', x, o.kernelSize, o.stride, o.padding, o.dilation, o.ceilMode ?? false);
  const out = Tensor.empty(w.outShape, 'f32');
  const idx = Tensor.empty(w.outShape, 'i32');
  if (out.size > 0) {
    const xc = dense(x);
    dispatch(
      maxPool3dKernel(),
      [xc.storage.buffer, out.storage.buffer, idx.storage.buffer],
      MaxPool3dParams.pack(winParams(w, out.size, xc.offset)),
      grid1d(out.size),
    );
    xc.dispose();
  }
  return { out, idx, w };
}

function recordMax(x: Tensor, out: Tensor, idx: Tensor, w: Win3): Tensor {
  return record(
    out,
    'maxPool3d',
    [x],
    (g, _needs, [ix]) => {
      const gc = dense(g);
      const dx = Tensor.empty(x.shape, 'f32');
      if (dx.size > 0)
        dispatch(
          maxPool3dBackwardKernel(),
          [gc.storage.buffer, ix.storage.buffer, dx.storage.buffer],
          MaxPool3dParams.pack(winParams(w, dx.size, gc.offset)),
          grid1d(dx.size),
        );
      gc.dispose();
      return [dx];
    },
    [idx],
  );
}

/**
 * torch.nn.functional.max_pool3d on [N, C, D, H, W] or [C, D, H, W]. The gradient goes to the
 * first maximum of each window, or to its last NaN (torch's kernels: a NaN is the maximum and
 * every NaN replaces the one before).
 */
export function maxPool3d(x: Tensor, opts: MaxPool3dOptions): Tensor {
  const { out, idx, w } = maxPoolRaw(x, opts);
  const r = recordMax(x, out, idx, w);
  idx.dispose();
  return r;
}

/**
 * max_pool3d with return_indices=True: [values, i32 indices into each D*H*W volume]
 * ((d * H + h) * W + w, as torch's).
 */
export function maxPool3dWithIndices(x: Tensor, opts: MaxPool3dOptions): [Tensor, Tensor] {
  const { out, idx, w } = maxPoolRaw(x, opts);
  return [recordMax(x, out, idx, w), idx];
}

/** torch.nn.functional.avg_pool3d on [N, C, D, H, W] or [C, D, H, W]. */
export function avgPool3d(x: Tensor, opts: AvgPool3dOptions): Tensor {
  x.assertLive('avgPool3d');
  const w = window('avgPool3d', x, opts.kernelSize, opts.stride, opts.padding, 1, opts.ceilMode ?? false);
  const ov = opts.divisorOverride ?? null;
  if (ov !== null && (!Number.isFinite(ov) || ov === 0)) throw new Error(`avgPool3d: divisorOverride must be a non-zero number, got ${ov}`);
  const divisorMode = ov !== null ? 2 : (opts.countIncludePad ?? true) ? 1 : 0;
  const prm = (total: number, offset: number) => AvgPool3dParams.pack({ ...winParams(w, total, offset), divisorMode, divisorOverride: ov ?? 0 });
  const out = Tensor.empty(w.outShape, 'f32');
  if (out.size > 0) {
    const xc = dense(x);
    dispatch(avgPool3dKernel(), [xc.storage.buffer, out.storage.buffer], prm(out.size, xc.offset), grid1d(out.size));
    xc.dispose();
  }
  return record(out, 'avgPool3d', [x], (g) => {
    const gc = dense(g);
    const dx = Tensor.empty(x.shape, 'f32');
    if (dx.size > 0) dispatch(avgPool3dBackwardKernel(), [gc.storage.buffer, dx.storage.buffer], prm(dx.size, gc.offset), grid1d(dx.size));
    gc.dispose();
    return [dx];
  });
}
