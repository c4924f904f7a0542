// Kernels for ops/attention.ts: the softmax of scaled dot-product attention with its scale, mask
// (boolean or additive, read through broadcast strides) and causal mask applied as the scores are
// read, one invocation per query row, so the masked scores are never materialised. A row whose
// every entry is -inf after masking gives zeros (torch's _safe_softmax), not NaN.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage, isNan } from './common.ts';
import { paramStruct, type ParamStruct } from './params.ts';

export type MaskKind = 'none' | 'bool' | 'float';

/** Most batch dims of the mask's broadcast after merging (the parameter slot's 64 words hold 28). */
export const MAX_MASK_BATCH_RANK = 24;

type SoftmaxFields = {
  rows: 'u32';
  l: 'u32';
  s: 'u32';
  scale: 'f32';
  maskOffset: 'u32';
  maskStrideL: 'u32';
  maskStrideS: 'u32';
  /** Batch dims of the scores (merged where the mask allows), outermost first. */
  batchSize: readonly ['u32', number];
  /** The mask's stride along each of them (0 where broadcast). */
  batchStride: readonly ['u32', number];
};

const softmaxParams = new Map<number, ParamStruct<SoftmaxFields>>();

/** Parameters of attnSoftmaxKernel for `batchRank` merged batch dims (1..MAX_MASK_BATCH_RANK). */
export function attnSoftmaxParams(batchRank: number): ParamStruct<SoftmaxFields> {
  let P = softmaxParams.get(batchRank);
  if (!P) {
    P = paramStruct(`AttnSoftmaxParams${batchRank}`, {
      rows: 'u32',
      l: 'u32',
      s: 'u32',
      scale: 'f32',
      maskOffset: 'u32',
      maskStrideL: 'u32',
      maskStrideS: 'u32',
      batchSize: ['u32', batchRank],
      batchStride: ['u32', batchRank],
    } as SoftmaxFields);
    softmaxParams.set(batchRank, P);
  }
  return P;
}

// -inf through a `var` (declared in the kernel): WGSL rejects an infinite constant expression
const NEG_INF = 'ninf';

/**
 * p = softmax(scores * scale + mask) over the last dim of contiguous scores [rows, s], rows =
 * batch * l; `causal` masks key j > query i (torch's top-left aligned tril).
 */
export function attnSoftmaxKernel(mask: MaskKind, causal: boolean, batchRank: number): Kernel {
  const P = attnSoftmaxParams(batchRank);
  // the masked, scaled score of key j, read again in each pass rather than stored and reloaded:
  // lavapipe pays more for the extra stores than for recomputing
  const scaled = 'sc[base + j] * scale';
  const maskIndex = 'mo + j * ms';
  const masked = mask === 'float' ? `${scaled} + mask[${maskIndex}]` : mask === 'bool' ? `select(${NEG_INF}, ${scaled}, mask[${maskIndex}] != 0u)` : scaled;
  const value = causal ? `select(${masked}, ${NEG_INF}, j > l)` : masked;
  const batch: string[] = [];
  for (let d = batchRank - 1; d >= 0; d--) batch.push(`{ let sz = ${P.at.batchSize[d]}; mo += (b % sz) * ${P.at.batchStride[d]}; b = b / sz; }`);
  return {
    name: 'sdpa.softmax',
    key: `sdpa:softmax:${mask}:${causal}:${batchRank}`,
    code: () => `${P.decl}
${storage(1, 'sc', 'f32')}
${mask === 'none' ? '' : storage(2, 'mask', mask === 'bool' ? 'u32' : 'f32')}
${storage(3, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${P.at.rows}) { return; }
  let S = ${P.at.s}; let scale = ${P.at.scale};
  var ninfBits = 0xff800000u; let ninf = bitcast<f32>(ninfBits);
  let l = gi % ${P.at.l}; var b = gi / ${P.at.l};
  var mo = ${P.at.maskOffset} + l * ${P.at.maskStrideL}; let ms = ${P.at.maskStrideS};
  ${batch.join('\n  ')}
  let base = gi * S;
  var mx = ${NEG_INF};
  var nan = false;
  for (var j = 0u; j < S; j++) {
    let v = ${value};
    // max() may drop a NaN operand (lavapipe does): remember it apart
    nan = nan || ${isNan('v')};
    mx = max(mx, v);
  }
  if (!nan && bitcast<u32>(mx) == 0xff800000u) {
    for (var j = 0u; j < S; j++) { out[base + j] = 0.0; }
    return;
  }
  var tot = 0.0;
  for (var j = 0u; j < S; j++) { tot += exp(${value} - mx); }
  let inv = 1.0 / tot;
  for (var j = 0u; j < S; j++) { out[base + j] = exp(${value} - mx) * inv; }
}`,
  };
}

export const AttnSoftmaxBackwardParams = paramStruct('AttnSoftmaxBackwardParams', {
  rows: 'u32',
  s: 'u32',
  gOffset: 'u32',
  /** Multiplies the gradient (the scale for the scores; 1 for an additive mask). */
  factor: 'f32',
});

/** d(scores) = factor * p * (g - sum(g * p)) per row of contiguous p [rows, s]; zero rows stay zero. */
export function attnSoftmaxBackwardKernel(): Kernel {
  const P = AttnSoftmaxBackwardParams;
  return {
    name: 'sdpa.softmax.backward',
    key: 'sdpa:softmax:bwd',
    code: () => `${P.decl}
${storage(1, 'g', 'f32')}
${storage(2, 'p', 'f32')}
${storage(3, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${P.at.rows}) { return; }
  let S = ${P.at.s};
  let base = gi * S; let gb = ${P.at.gOffset} + base;
  var d = 0.0;
  for (var j = 0u; j < S; j++) { d += g[gb + j] * p[base + j]; }
  let f = ${P.at.factor};
  for (var j = 0u; j < S; j++) { out[base + j] = f * p[base + j] * (g[gb + j] - d); }
}`,
  };
}
