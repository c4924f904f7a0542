// torch.nn.functional.scaled_dot_product_attention (math path, no dropout): softmax(q k^T * scale
// + mask) v. The two products are matmuls (their autograd gives dq, dk, dv); the softmax takes the
// scale, the mask and the causal mask as it reads the scores (wgsl/attention.ts), which saves the
// three or four passes over [.., L, S] that composing mul, add/where and softmax would cost.
// Fully masked rows give zeros and zero gradients (torch >= 2.5, _safe_softmax).
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { tidy } from '../core/memory.ts';
import { dispatch, dispatchHooked } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import {
  attnSoftmaxKernel,
  attnSoftmaxParams,
  attnSoftmaxBackwardKernel,
  AttnSoftmaxBackwardParams,
  MAX_MASK_BATCH_RANK,
  type MaskKind,
} from '../wgsl/attention.ts';
import { broadcastShapes, fmt, numel } from '../core/shape.ts';
import { contiguous, transpose } from './views.ts';
import { matmul } from './matmul.ts';
import { sumTo } from './reduce.ts';
import { broadcastStrides } from './launch.ts';

export interface SdpaOptions {
  /**
   * Boolean (true: the query may attend to the key) or f32 (added to the scaled scores), with a
   * shape that broadcasts to [..., L, S]. An f32 mask that requires grad gets a gradient.
   */
  attnMask?: Tensor | null;
  /** Query i attends to keys j <= i (top-left aligned); not with attnMask. */
  isCausal?: boolean;
  /** Multiplies q k^T; default 1 / sqrt(E). */
  scale?: number | null;
  /** Only 0: dropout is not implemented. */
  dropoutP?: number;
}

/** The mask's batch dims as (size, stride) pairs, size-1 dims dropped and mergeable ones merged. */
function maskBatch(sizes: readonly number[], strides: readonly number[]): { size: number[]; stride: number[] } {
  const size: number[] = [];
  const stride: number[] = [];
  sizes.forEach((d, i) => {
    if (d === 1) return;
    const last = size.length - 1;
    // an outer dim steps over the whole inner one: one dim of size d * inner
    if (last >= 0 && stride[last] === strides[i] * d) {
      size[last] *= d;
      stride[last] = strides[i];
    } else {
      size.push(d);
      stride.push(strides[i]);
    }
  });
  if (size.length === 0) return { size: [1], stride: [0] };
  return { size, stride };
}

/** softmax(scores * scale + mask) with the causal mask, over the last dim of scores [..., L, S]. */
function maskedSoftmax(scores: Tensor, mask: Tensor | null, causal: boolean, scale: number): Tensor {
  const shape = scores.shape;
  const r = shape.length;
  const L = shape[r - 2];
  const S = shape[r - 1];
  const rows = numel(shape.slice(0, r - 1));
  const sc = contiguous(scores);
  const p = Tensor.empty(shape, 'f32');
  const kind: MaskKind = !mask ? 'none' : mask.dtype === 'bool' ? 'bool' : 'float';
  if (p.size > 0) {
    const m = mask;
    const ms = m ? broadcastStrides(m, shape) : new Array<number>(r).fill(0);
    const batch = maskBatch(shape.slice(0, r - 2), ms.slice(0, r - 2));
    const R = batch.size.length;
    if (R > MAX_MASK_BATCH_RANK)
      throw new Error(
        `scaledDotProductAttention: attnMask ${fmt(m!.shape)} leaves ${R} separate batch dims against ${fmt(shape)} (at most ${MAX_MASK_BATCH_RANK})`,
      );
    const params = attnSoftmaxParams(R).pack({
      rows,
      l: L,
      s: S,
      scale,
      maskOffset: m?.offset ?? 0,
      maskStrideL: ms[r - 2],
      maskStrideS: ms[r - 1],
      batchSize: batch.size,
      batchStride: batch.stride,
    });
    const detail = dispatchHooked() ? `${fmt(shape)} ${kind}${causal ? ' causal' : ''}` : undefined;
    dispatch(attnSoftmaxKernel(kind, causal, R), [sc.storage.buffer, m?.storage.buffer ?? null, p.storage.buffer], params, grid1d(rows), detail, {
      bytes: 8 * p.size,
    });
  }
  const inputs = mask && kind === 'float' && mask.requiresGrad ? [scores, mask] : [scores];
  return record(
    p,
    'scaledDotProductAttention.softmax',
    inputs,
    (g, needs, [ps]) => {
      const gc = contiguous(g);
      const grad = (factor: number) => {
        const out = Tensor.empty(shape, 'f32');
        if (out.size > 0) {
          const bp = AttnSoftmaxBackwardParams.pack({ rows, s: S, gOffset: gc.offset, factor });
          dispatch(attnSoftmaxBackwardKernel(), [gc.storage.buffer, ps.storage.buffer, out.storage.buffer], bp, grid1d(rows));
        }
        return out;
      };
      const gs = needs[0] ? grad(scale) : null;
      return inputs.length === 1 ? [gs] : [gs, needs[1] ? sumTo(grad(1), mask!.shape) : null];
    },
    [p],
  );
}

/**
 * torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p=0, is_causal,
 * scale): q [..., L, E], k [..., S, E], v [..., S, Ev] (batch dims broadcast) -> [..., L, Ev].
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: SdpaOptions = {}): Tensor {
  const op = 'scaledDotProductAttention';
  const mask = opts.attnMask ?? null;
  const causal = opts.isCausal ?? false;
  for (const [name, t] of [
    ['q', q],
    ['k', k],
    ['v', v],
  ] as const) {
    t.assertLive(op);
    if (t.dtype !== 'f32') throw new Error(`${op}: expected f32 ${name}, got ${t.dtype} ${fmt(t.shape)}`);
    if (t.rank < 2) throw new Error(`${op}: ${name} must have at least 2 dims ([..., L or S, E]), got ${fmt(t.shape)}`);
  }
  const shapes = `q ${fmt(q.shape)}, k ${fmt(k.shape)}, v ${fmt(v.shape)}`;
  const E = q.shape[q.rank - 1];
  if (k.shape[k.rank - 1] !== E) throw new Error(`${op}: q and k must have the same embedding size, got ${shapes}`);
  if (k.shape[k.rank - 2] !== v.shape[v.rank - 2]) throw new Error(`${op}: k and v must have the same sequence length S, got ${shapes}`);
  broadcastShapes(`${op} (batch dims of ${shapes})`, q.shape.slice(0, -2), k.shape.slice(0, -2), v.shape.slice(0, -2));
  if ((opts.dropoutP ?? 0) !== 0) throw new Error(`${op}: dropoutP must be 0 (dropout is not implemented), got ${opts.dropoutP}`);
  if (causal && mask) throw new Error(`${op}: attnMask must not be given with isCausal (torch's rule)`);
  const scale = opts.scale ?? 1 / Math.sqrt(E);
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be a finite number, got ${scale}`);
  if (mask) {
    mask.assertLive(op);
    if (mask.dtype !== 'bool' && mask.dtype !== 'f32') throw new Error(`${op}: attnMask must be bool or f32, got ${mask.dtype} ${fmt(mask.shape)}`);
    const scoreShape = [...broadcastShapes(op, q.shape.slice(0, -2), k.shape.slice(0, -2)), q.shape[q.rank - 2], k.shape[k.rank - 2]];
    const fits = mask.rank <= scoreShape.length && mask.shape.every((d, i) => d === 1 || d === scoreShape[scoreShape.length - mask.rank + i]);
    if (!fits) throw new Error(`${op}: attnMask ${fmt(mask.shape)} does not broadcast to the attention weights ${fmt(scoreShape)} (${shapes})`);
  }
  return tidy(() => {
    const scores = matmul(q, transpose(k, -2, -1));
    return matmul(maskedSoftmax(scores, mask, causal, scale), v);
  });
}
