// torch.softmax / torch.log_softmax along one dim, max-shifted for stability, with fused
// backward kernels (wgsl/softmax.ts). logsumexp lives in reduce.ts.
import { Tensor } from '../core/tensor.ts';
import { record, noGrad } from '../autograd/tape.ts';
import { tidy } from '../core/memory.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { softmaxForward, softmaxBackward, SoftmaxParams, SoftmaxBackwardParams } from '../wgsl/softmax.ts';
import { normDim, numel } from '../core/shape.ts';
import { contiguous, reshape } from './views.ts';

function lineParams(shape: readonly number[], d: number): [number, number, number] {
  const n = shape[d];
  const inner = numel(shape.slice(d + 1));
  return [numel(shape.slice(0, d)) * inner, n, inner];
}

function run(op: string, x: Tensor, dim: number, log: boolean): Tensor {
  x.assertLive(op);
  if (x.dtype !== 'f32') throw new Error(`${op}: expected an f32 input, got ${x.dtype}`);
  if (x.rank === 0) return tidy(() => reshape(run(op, reshape(x, [1]), 0, log), []));
  const d = normDim(op, dim, x.rank);
  const [nLines, n, inner] = lineParams(x.shape, d);
  const xc = noGrad(() => contiguous(x));
  const out = Tensor.empty(x.shape, 'f32');
  if (out.size > 0) {
    dispatch(softmaxForward(log), [xc.storage.buffer, out.storage.buffer], SoftmaxParams.pack({ lines: nLines, n, inner, xOffset: xc.offset }), grid1d(nLines));
  }
  xc.dispose();
  return record(
    out,
    op,
    [x],
    (g, _n, [y]) => {
      const gc = contiguous(g);
      const gx = Tensor.empty(x.shape, 'f32');
      if (gx.size > 0) {
        const p = SoftmaxBackwardParams.pack({ lines: nLines, n, inner, gOffset: gc.offset, yOffset: y.offset });
        dispatch(softmaxBackward(log), [gc.storage.buffer, y.storage.buffer, gx.storage.buffer], p, grid1d(nLines));
      }
      if (gc !== g) gc.dispose();
      return [gx];
    },
    [out],
  );
}

/** torch.softmax(x, dim). */
export function softmax(x: Tensor, dim: number): Tensor {
  return run('softmax', x, dim, false);
}

/** torch.log_softmax(x, dim). */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return run('logSoftmax', x, dim, true);
}
