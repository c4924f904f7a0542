// torch.matmul semantics (1-D promotion, broadcast batch dims) on the register-tiled kernel in
// wgsl/matmul.ts; transposed operands are read in place through their strides. linear() fuses
// the bias into the kernel's store. Backward: dA = g @ B^T, dB = A^T @ g, reduced over
// broadcast batch dims; neither is computed unless needed. Matrix-vector products (N = 1) take
// the gemv kernel (one lane per row) unless a variant is forced.
import { Tensor } from '../core/tensor.ts';
import { record, noGrad } from '../autograd/tape.ts';
import { dispatch, maxBindingBytes, bindingLimitMessage, publicOp } from '../runtime/dispatch.ts';
import {
  matmulKernel,
  matmulSgKernel,
  gemvKernel,
  MatmulParams,
  GEMV_WG,
  DEFAULT_VARIANT,
  defaultSgVariant,
  variantByName,
  type Layout,
  type MatmulVariant,
} from '../wgsl/matmul.ts';
import type { Activation } from '../wgsl/common.ts';
import { subgroupSize, deviceInfo } from '../runtime/device.ts';
import { env } from '../runtime/platform.ts';
import { broadcastShapes, fmt, numel } from '../core/shape.ts';
import { reshape, transpose, unsqueeze, squeeze, contiguous } from './views.ts';
import { sumTo, sum } from './reduce.ts';
import { broadcastStrides } from './launch.ts';
import { cast, unaryOp } from './unary.ts';
import { mul, add } from './binary.ts';

let variantOverride: MatmulVariant | null = null;
/** Forces one workgroup shape for all matmuls (benchmarks); null restores tuned/default choice. */
export function setMatmulVariant(v: MatmulVariant | string | null): void {
  variantOverride = typeof v === 'string' ? variantByName(v) : v;
}

/** The forced variant: setMatmulVariant's, else WGT_MATMUL_VARIANT's (an unknown name is an error), else null. */
function forcedVariant(): MatmulVariant | null {
  if (variantOverride) return variantOverride;
  const name = env('WGT_MATMUL_VARIANT');
  if (!name) return null;
  try {
    return variantByName(name);
  } catch (err) {
    throw new Error(`WGT_MATMUL_VARIANT: ${(err as Error).message}`);
  }
}

/** Per shape class choices made by the autotuner (engine/runtime/autotune.ts). */
const tuned = new Map<string, MatmulVariant>();
export function setTunedVariants(choices: Record<string, string>): void {
  tuned.clear();
  for (const [cls, name] of Object.entries(choices)) tuned.set(cls, variantByName(name));
}

/** Shape class: log2 buckets of the rows and of the work, and the operand layouts. */
export function matmulShapeClass(M: number, N: number, K: number, la: string, lb: string): string {
  const b = (x: number) => Math.min(Math.max(Math.round(Math.log2(Math.max(x, 1)) / 2), 0), 12);
  return `m${b(M)}n${b(N)}k${b(K)}:${la}${lb}`;
}

function layoutA(M: number, K: number, sM: number, sK: number, aligned: boolean): Layout {
  if (!aligned || K % 4 !== 0) return 'scalar';
  if (sK === 1 && sM % 4 === 0) return 'row';
  if (sM === 1 && M % 4 === 0 && sK % 4 === 0) return 'col';
  return 'scalar';
}

let copyPolicy: boolean | null = null;
/**
 * Whether operands are first copied to the layouts the kernels read fastest on CPU drivers (a
 * large row-major B, a large column-major A; see matmulRaw). Default: on CPU adapters, where it
 * was measured; null restores the default (WGT_LAYOUT_COPIES=1 or 0 overrides it from the
 * environment). Results are the same bits either way.
 */
export function setLayoutCopies(on: boolean | null): void {
  copyPolicy = on;
}
function layoutCopies(): boolean {
  const v = env('WGT_LAYOUT_COPIES');
  return copyPolicy ?? (v === '1' ? true : v === '0' ? false : deviceInfo().cpu);
}

/** What the tiled kernels apply as they store: a bias per row ([M]) and an activation. */
export interface Epilogue {
  biasRows?: boolean;
  act?: Activation | null;
}

/**
 * Raw batched matmul of a [..., M, K] and b [..., K, N] (both rank >= 2), optional bias [N]
 * (or [M] with `epi.biasRows`) and activation. Not recorded by autograd.
 */
export function matmulRaw(a: Tensor, b: Tensor, bias: Tensor | null, epi: Epilogue = {}): Tensor {
  const M = a.shape[a.rank - 2];
  const K = a.shape[a.rank - 1];
  const N = b.shape[b.rank - 1];
  if (b.shape[b.rank - 2] !== K) throw new Error(`matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)} cannot be multiplied (${K} != ${b.shape[b.rank - 2]})`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== (epi.biasRows ? M : N)))
    throw new Error(`matmul: bias ${fmt(bias.shape)} does not match the ${epi.biasRows ? `${M} rows` : `${N} columns`} of the product`);
  const batchShape = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const forced = forcedVariant();
  // the outer-product and matrix-vector paths have no epilogue: the same ops, unfused
  if ((epi.biasRows || epi.act) && !forced && ((K === 1 && M * N > 0) || N === 1))
    return noGrad(() => {
      let y = matmulRaw(a, b, epi.biasRows ? null : bias);
      if (bias && epi.biasRows) y = add(y, reshape(bias, [M, 1]));
      return epi.act ? unaryOp(epi.act, y) : y;
    });
  if (K === 1 && !forced && M * N > 0) return outerProduct(a, b, bias);
  const outShape = [...batchShape, M, N];
  // named here, where the operands are known (the allocation knows only the product's shape)
  if (numel(outShape) * 4 > maxBindingBytes())
    throw new Error(
      bindingLimitMessage(
        publicOp() ?? 'matmul',
        `f32 ${fmt(a.shape)} @ f32 ${fmt(b.shape)} = f32 ${fmt(outShape)}`,
        numel(outShape) * 4,
        outShape,
        outShape.length - 2,
      ),
    );
  if (numel(outShape) === 0) return Tensor.empty(outShape, 'f32');
  if (K === 0) throw new Error('matmul: K = 0 is not supported');
  const aBatch = broadcastStrides(reshape0(a), batchShape);
  const bBatch = broadcastStrides(reshape0(b), batchShape);
  // merge batch dims and drop size-1 ones
  const bs: number[] = [];
  const as: number[] = [];
  const bbs: number[] = [];
  batchShape.forEach((d, i) => {
    if (d === 1) return;
    const j = bs.length - 1;
    if (j >= 0 && as[j] === aBatch[i] * d && bbs[j] === bBatch[i] * d) {
      bs[j] *= d;
      as[j] = aBatch[i];
      bbs[j] = bBatch[i];
    } else {
      bs.push(d);
      as.push(aBatch[i]);
      bbs.push(bBatch[i]);
    }
  });
  if (bs.length > 3) throw new Error(`matmul: more than 3 non-mergeable batch dims in ${fmt(batchShape)}`);
  const batch = numel(batchShape);
  if (batch > 65535) throw new Error(`matmul: batch of ${batch} exceeds 65535`);
  const sAm = M === 1 ? 0 : a.strides[a.rank - 2];
  const sAk = K === 1 ? 0 : a.strides[a.rank - 1];
  const sBk = K === 1 ? 0 : b.strides[b.rank - 2];
  const sBn = N === 1 ? 0 : b.strides[b.rank - 1];
  const al = a.offset % 4 === 0 && as.every((s) => s % 4 === 0);
  const bl = b.offset % 4 === 0 && bbs.every((s) => s % 4 === 0);
  const la = layoutA(M, K, sAm, sAk, al);
  // B [K, N] is A-like with roles swapped: 'row' = N contiguous
  const lbT = layoutA(N, K, sBn, sBk, bl); // 'row' here means K contiguous = B 'col'
  const lb: Layout = lbT === 'row' ? 'col' : lbT === 'col' && N % 4 === 0 ? 'row' : 'scalar';
  // CPU drivers (lavapipe) read B along K ('col') and A along K ('row') fastest; a transposed
  // copy (K*N or M*K strided moves) pays where the product reuses it enough. Measured with the
  // copies included (same bits; numbers in docs/PERF.md):
  // - B row -> col where at least K rows reuse B (K >= 512): square and tall products gained;
  //   weight-gradient shapes (K = all the rows) did not.
  // - A col -> row for long reductions (K >= 1024, M and N >= 256: weight gradients) gained;
  //   N = 64 or K = 512 lost.
  const copyB = lb === 'row' && la !== 'scalar' && b.rank === 2 && K >= 512 && M >= Math.max(256, K);
  const copyA = la === 'col' && lb !== 'scalar' && a.rank === 2 && K >= 1024 && M >= 256 && N >= 256;
  if ((copyA || copyB) && !forced && layoutCopies()) {
    const at = copyA ? contiguous(a) : a; // [M, K], K contiguous
    const bt = copyB ? contiguous(transpose(b)) : null; // [N, K]
    const y = matmulRaw(at, bt ? transpose(bt) : b, bias, epi);
    if (at !== a) at.dispose();
    bt?.dispose();
    return y;
  }
  const out = Tensor.empty(outShape, 'f32');
  const bufs = [a.storage.buffer, b.storage.buffer, out.storage.buffer];
  if (bias) bufs.push(bias.storage.buffer);
  const pad = (v: number[], fill: number) => [0, 1, 2].map((i) => v[i] ?? fill);
  const params = MatmulParams.pack({
    M,
    N,
    K,
    aOffset: a.offset,
    bOffset: b.offset,
    aStrideM: sAm,
    aStrideK: sAk,
    bStrideK: sBk,
    bStrideN: sBn,
    batchShape: pad(bs, 1),
    aBatchStrides: pad(as, 0),
    bBatchStrides: pad(bbs, 0),
    biasOffset: bias?.offset ?? 0,
  });
  // profiler label: [batch x] M x K x N and how A and B are laid out
  const detail = `${batch > 1 ? `${batch}x ` : ''}${M}x${K}x${N} ${la}/${lb}`;
  if (N === 1 && !forced && M <= 65535 * GEMV_WG) {
    // matrix-vector product: one lane per row (the tiled kernels would idle all but one column)
    const vec = la === 'row' && lb === 'col';
    const colVec = la === 'col' && sAm === 1 && M % 4 === 0 && sAk % 4 === 0;
    dispatch(
      gemvKernel({ vec, bias: bias !== null, batchRank: bs.length, colVec }),
      bufs,
      params,
      [Math.ceil(M / (colVec ? 4 : 1) / GEMV_WG), 1, batch],
      detail,
      { flops: 2 * batch * M * K },
    );
    return out;
  }
  const sg = la !== 'scalar' && lb !== 'scalar' ? subgroupSize() : 0;
  let variant = forced ?? (tuned.size ? tuned.get(matmulShapeClass(M, N, K, la, lb)) : undefined) ?? (sg ? defaultSgVariant(M) : DEFAULT_VARIANT);
  // a subgroup variant (named or tuned) where this call cannot use subgroups: the plain default tile
  if (variant.sg && !sg) variant = { ...DEFAULT_VARIANT, tnv: variant.tnv };
  const cfg = { a: la, b: lb, cVec: N % 4 === 0, bias: bias !== null, biasRows: epi.biasRows, act: epi.act, batchRank: bs.length, variant };
  // one shared-A batch dim (conv 1x1: W @ X[b]) laid along N when N is ragged against a workgroup
  const tn = 4 * (variant.tnv ?? (variant.sg ? 1 : 2));
  const foldBatch = !!variant.sg && bs.length === 1 && as[0] === 0 && lb === 'row' && N % tn === 0 && N % (tn * variant.wgx) !== 0;
  const cols = foldBatch ? batch * N : N;
  const wg: [number, number, number] = [
    Math.ceil(Math.ceil(cols / tn) / variant.wgx),
    Math.ceil(Math.ceil(M / (variant.tm ?? 4)) / variant.wgy),
    foldBatch ? 1 : batch,
  ];
  // A workgroup narrower than the device's subgroup fills only part of one (8 lanes of
  // lavapipe's 16 with 512-bit vectors, 16 of an NVIDIA warp): lanes past the workgroup do not
  // exist, so loads are shared across at most wgx lanes.
  const kernel = variant.sg
    ? matmulSgKernel({
        ...cfg,
        a: la as 'row' | 'col',
        b: lb as 'row' | 'col',
        tm: variant.tm ?? 32,
        tn,
        wg: variant.wgx,
        sg: Math.min(sg, variant.wgx),
        foldBatch,
      })
    : matmulKernel(cfg);
  dispatch(kernel, bufs, params, wg, foldBatch ? `${detail} folded` : detail, { flops: 2 * batch * M * N * K });
  return out;
}

// K = 1 (a linear layer's input gradient through a 1-output layer: g [N, 1] @ W [1, H], such as
// 12544x1 @ 1x256): every output is one product, a broadcast multiply at memory speed, where the
// tiled kernels would read single floats through their scalar path (several times slower).
// The same rounding: one product, plus the bias if any.
function outerProduct(a: Tensor, b: Tensor, bias: Tensor | null): Tensor {
  return noGrad(() => {
    const p = mul(a, b);
    if (!bias) return p;
    const out = add(p, bias);
    p.dispose();
    return out;
  });
}

// Batch dims of x (everything before the last two) as a shape/strides pair.
function reshape0(x: Tensor): { shape: readonly number[]; strides: readonly number[] } {
  return { shape: x.shape.slice(0, -2), strides: x.strides.slice(0, -2) };
}

function matmul2(a: Tensor, b: Tensor): Tensor {
  const out = matmulRaw(a, b, null);
  return record(
    out,
    'matmul',
    [a, b],
    (g, needs, [A, B]) => [needs[0] ? sumTo(matmul2(g, transpose(B)), A.shape) : null, needs[1] ? sumTo(matmul2(transpose(A), g), B.shape) : null],
    [a, b],
  );
}

function asFloat(x: Tensor): Tensor {
  return x.dtype === 'f32' ? x : cast(x, 'f32');
}

/** torch.matmul. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  a = asFloat(a);
  b = asFloat(b);
  if (a.rank === 0 || b.rank === 0) throw new Error(`matmul: both arguments need at least 1 dim, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const a2 = a.rank === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.rank === 1 ? unsqueeze(b, 1) : b;
  let out = matmul2(a2, b2);
  if (a.rank === 1) out = squeeze(out, -2);
  if (b.rank === 1) out = squeeze(out, -1);
  return out;
}

/** torch.nn.functional.linear: x @ weight^T + bias, the bias added in the kernel. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (weight.rank !== 2) throw new Error(`linear: weight must be 2-D, got ${fmt(weight.shape)}`);
  if (x.shape[x.rank - 1] !== weight.shape[1])
    throw new Error(`linear: input ${fmt(x.shape)} has ${x.shape[x.rank - 1]} features, weight ${fmt(weight.shape)} expects ${weight.shape[1]}`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== weight.shape[0]))
    throw new Error(`linear: bias ${fmt(bias.shape)} does not match weight ${fmt(weight.shape)}`);
  const x2 = x.rank === 1 ? unsqueeze(x, 0) : x;
  const wt = transpose(weight);
  let out: Tensor;
  if (!bias) out = matmul2(x2, wt);
  else {
    const raw = matmulRaw(x2, wt, bias.isContiguous() ? bias : contiguous(bias));
    out = record(
      raw,
      'linear',
      [x2, weight, bias],
      (g, needs, [X, W]) => {
        const lead = g.shape.slice(0, -1);
        const outF = W.shape[0];
        const inF = W.shape[1];
        return [
          needs[0] ? matmul2(g, W) : null,
          needs[1] ? matmul2(transpose(reshape(g, [-1, outF])), reshape(X, [-1, inF])) : null,
          needs[2] ? (lead.length ? sum(g, [...lead.keys()]) : g) : null,
        ];
      },
      [x2, weight],
    );
  }
  return x.rank === 1 ? squeeze(out, 0) : out;
}
