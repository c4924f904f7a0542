// WGSL kernels of batch normalisation over x viewed as [N, C, S] (S = spatial size, 1 for [N, C]).
// Per-channel reductions run as (channel, chunk) partials followed by a per-channel combine, so a
// long reduction (N*S large, few channels) still spreads over many invocations without workgroup
// barriers (slow on lavapipe). Forward partials hold (mean, M2) of their chunk and the combine
// merges them with Chan's formula, which keeps the two-pass accuracy of torch's variance.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage } from './common.ts';
import { paramStruct } from './params.ts';

/**
 * How a kernel walks x. 'scalar': one f32 per step, any shape. 'c4' ([N, C] with C % 4 == 0): vec4
 * over four neighbouring channels, so the lanes of a workgroup read consecutive memory. 's4'
 * (spatial size S % 4 == 0): vec4 over four spatial positions of one channel. CPU drivers
 * (lavapipe) pay per load and per invocation, not per byte, so the vec4 layouts move several
 * times more data per second; on GPUs they are wider, coalesced loads.
 */
export type BnLayout = 'scalar' | 'c4' | 's4';

const vt = (l: BnLayout) => (l === 'scalar' ? 'f32' : 'vec4<f32>');

// Element (n, c, s) of a dense [N, C, S] tensor lives at (n * C + c) * S + s. A chunk covers the
// flattened index r = n * S + s in [r0, r1); the loops step (n, s) without a division per element
// (s4 steps four positions at a time: S and the chunk are multiples of 4, so a vec4 never spans two
// samples). c4 has S = 1 and reads the vec4 of channels c4 of sample n at n * C / 4 + c4.
function chunkLoop(l: BnLayout, body: string): string {
  if (l === 'c4') return `for (var n = r0; n < r1; n++) { let e = n * C4 + c4; ${body} }`;
  if (l === 's4')
    return `{
    let S4 = S / 4u; var n = r0 / S; var s = (r0 % S) / 4u;
    for (var r = r0; r < r1; r += 4u) {
      let e = (n * C + c) * S4 + s;
      ${body}
      s++; if (s == S4) { s = 0u; n++; }
    }
  }`;
  return `{
    var n = r0 / S; var s = r0 % S;
    for (var r = r0; r < r1; r++) {
      let e = (n * C + c) * S + s;
      ${body}
      s++; if (s == S) { s = 0u; n++; }
    }
  }`;
}

/** The (channel, chunk) an invocation of a partial kernel owns; c4 puts channels fastest. */
function partialHeader(l: BnLayout): string {
  if (l === 'c4')
    return `let C4 = C / 4u;
  if (gi >= C4 * K) { return; }
  let c4 = gi % C4; let k = gi / C4;`;
  return `if (gi >= C * K) { return; }
  let c = gi / K; let k = gi % K;`;
}

/** Writes the two partials (a, b) of the invocation's channel(s): part[(c * K + k) * 2 + {0, 1}]. */
function partialStore(l: BnLayout, a: string, b: string): string {
  if (l === 'c4')
    return `for (var j = 0u; j < 4u; j++) {
    let o = ((c4 * 4u + j) * K + k) * 2u;
    part[o] = ${a}[j];
    part[o + 1u] = ${b}[j];
  }`;
  return `part[gi * 2u] = ${a};
  part[gi * 2u + 1u] = ${b};`;
}

/** Sum of a partial accumulator to one channel's scalar (s4 folds its four lanes). */
const fold = (l: BnLayout, v: string) => (l === 's4' ? `dot(${v}, vec4<f32>(1.0))` : v);

/**
 * The per-channel partial reductions (statistics, gradient sums) over x viewed as [N, C, S]: `rows`
 * = N * S values per channel in `chunks` chunks of `chunk` rows; offsets in units of the layout's
 * element.
 */
export const BnStatsParams = paramStruct('BnStatsParams', { channels: 'u32', spatial: 'u32', rows: 'u32', chunks: 'u32', chunk: 'u32', xOffset: 'u32' });

/** Partial (mean, M2) per (channel, chunk). */
export function bnStatsPartialKernel(l: BnLayout = 'scalar'): Kernel {
  const P = BnStatsParams;
  const T = vt(l);
  // mean of the chunk first, then M2 around it: the two-pass accuracy at the cost of reading twice
  const m = l === 's4' ? `let m = vec4<f32>(${fold(l, 'acc')} / f32(r1 - r0));` : 'let m = acc / f32(r1 - r0);';
  return {
    name: 'batchnorm.stats',
    key: `bn:stats:${l}`,
    code: () => `${P.decl}
${storage(1, 'x', T)}
${storage(2, 'part', 'f32', true)}
${main1d()}
  let C = ${P.at.channels}; let S = ${P.at.spatial}; let R = ${P.at.rows}; let K = ${P.at.chunks}; let chunk = ${P.at.chunk}; let xo = ${P.at.xOffset};
  ${partialHeader(l)}
  let r0 = k * chunk; let r1 = min(R, r0 + chunk);
  var acc = ${T}(0.0);
  ${chunkLoop(l, 'acc += x[xo + e];')}
  ${m}
  var m2 = ${T}(0.0);
  ${chunkLoop(l, 'let d = x[xo + e] - m; m2 += d * d;')}
  ${partialStore(l, l === 's4' ? 'm.x' : 'm', fold(l, 'm2'))}
}`,
  };
}

/**
 * The per-channel combine: `chunks` partials of `chunk` rows (`rows` in all) per channel; `eps`;
 * the running update's `momentum` and the running statistics' (and the counter's) offsets and
 * strides in elements.
 */
export const BnCombineParams = paramStruct('BnCombineParams', {
  channels: 'u32',
  chunks: 'u32',
  chunk: 'u32',
  rows: 'u32',
  eps: 'f32',
  momentum: 'f32',
  meanOffset: 'u32',
  meanStride: 'u32',
  varOffset: 'u32',
  varStride: 'u32',
  countOffset: 'u32',
});

/**
 * Combines the partials of each channel: stats[c] = mean, stats[C + c] = 1 / sqrt(var + eps)
 * (biased var) and, with `update`, the in-place running-stat update with the unbiased var.
 * `cumulative`: the factor is 1 / numBatchesTracked read from an i32 buffer (momentum = None).
 */
export function bnStatsFinalKernel(update: boolean, cumulative: boolean): Kernel {
  const P = BnCombineParams;
  const bindings = [storage(1, 'part', 'f32'), storage(2, 'stats', 'f32', true)];
  if (update) bindings.push(storage(3, 'rm', 'f32', true), storage(4, 'rv', 'f32', true));
  if (update && cumulative) bindings.push(storage(5, 'nbt', 'i32'));
  const factor = cumulative ? `1.0 / f32(max(nbt[${P.at.countOffset}], 1))` : P.at.momentum;
  return {
    name: 'batchnorm.combine',
    key: `bn:final:${update}:${cumulative}`,
    code: () => `${P.decl}
${bindings.join('\n')}
${main1d()}
  let C = ${P.at.channels}; let K = ${P.at.chunks}; let chunk = ${P.at.chunk}; let R = ${P.at.rows};
  if (gi >= C) { return; }
  var cnt = 0.0; var mean = 0.0; var m2 = 0.0;
  // Chan's merge of the (mean, M2) partials into (cnt, mean, m2)
  for (var k = 0u; k < K; k++) {
    let nb = f32(min(R, (k + 1u) * chunk) - k * chunk);
    let mb = part[(gi * K + k) * 2u];
    let tot = cnt + nb;
    let d = mb - mean;
    mean = mean + d * (nb / tot);
    m2 = m2 + part[(gi * K + k) * 2u + 1u] + d * d * (cnt * nb / tot);
    cnt = tot;
  }
  stats[gi] = mean;
  stats[C + gi] = 1.0 / sqrt(m2 / f32(R) + ${P.at.eps});
  ${
    update
      ? `let f = ${factor};
  let im = ${P.at.meanOffset} + gi * ${P.at.meanStride};
  let iv = ${P.at.varOffset} + gi * ${P.at.varStride};
  rm[im] = f * mean + (1.0 - f) * rm[im];
  rv[iv] = f * (m2 / f32(R - 1u)) + (1.0 - f) * rv[iv];`
      : ''
  }
}`,
  };
}

/** Eval mode: `channels`, `eps`, the running statistics' offsets and strides in elements. */
export const BnRunningParams = paramStruct('BnRunningParams', {
  channels: 'u32',
  eps: 'f32',
  meanOffset: 'u32',
  meanStride: 'u32',
  varOffset: 'u32',
  varStride: 'u32',
});

/** Eval mode: stats from the running estimates. */
export function bnStatsRunningKernel(): Kernel {
  const P = BnRunningParams;
  return {
    name: 'batchnorm.running',
    key: 'bn:running',
    code: () => `${P.decl}
${storage(1, 'rm', 'f32')}
${storage(2, 'rv', 'f32')}
${storage(3, 'stats', 'f32', true)}
${main1d()}
  let C = ${P.at.channels};
  if (gi >= C) { return; }
  stats[gi] = rm[${P.at.meanOffset} + gi * ${P.at.meanStride}];
  stats[C + gi] = 1.0 / sqrt(rv[${P.at.varOffset} + gi * ${P.at.varStride}] + ${P.at.eps});
}`,
  };
}

/** The counter's element offset. */
export const BnCountParams = paramStruct('BnCountParams', { offset: 'u32' });

/** Increments an i32 counter in place (num_batches_tracked). */
export function bnCountKernel(): Kernel {
  const P = BnCountParams;
  return {
    name: 'batchnorm.count',
    key: 'bn:count',
    code: () => `${P.decl}
${storage(1, 'nbt', 'i32', true)}
${main1d()}
  if (gi >= 1u) { return; }
  nbt[${P.at.offset}] = nbt[${P.at.offset}] + 1;
}`,
  };
}

/** Rows of [N, C] each c4 invocation of the elementwise kernels walks (see elementLoop). */
export const BN_ROWS = 8;

/** Invocations of the partial kernels for K chunks per channel (c4: one per four channels). */
export function bnPartialInvocations(l: BnLayout, C: number, K: number): number {
  return (l === 'c4' ? C / 4 : C) * K;
}

/**
 * Invocations of the elementwise kernels (normalise, input gradient) for `total` layout elements:
 * c4 runs BN_ROWS rows of one vec4 of channels per invocation, the others one element each.
 */
export function bnElementwiseInvocations(l: BnLayout, total: number, C: number): number {
  return l === 'c4' ? (C / 4) * Math.ceil(total / (C / 4) / BN_ROWS) : total;
}

/**
 * Body of an elementwise kernel over x: `pre` (per-channel loads, given `c` or `c4`) once, then
 * `body` per element `e` (in layout units). c4 gives each invocation one vec4 of channels and
 * BN_ROWS rows, so the per-channel statistics and affine values are loaded once per eight vec4s
 * (lanes stay on consecutive memory); scalar and s4 take one element, whose channel `c` costs a
 * division. Expects `total` (layout elements), `C` and `S` among the params.
 */
function elementLoop(l: BnLayout, total: string, S: string, pre: string, body: string): string {
  if (l === 'c4')
    return `let C4 = C / 4u; let N = ${total} / C4;
  if (gi >= C4 * ((N + ${BN_ROWS - 1}u) / ${BN_ROWS}u)) { return; }
  let c4 = gi % C4; let n0 = (gi / C4) * ${BN_ROWS}u; let n1 = min(N, n0 + ${BN_ROWS}u);
  ${pre}
  for (var n = n0; n < n1; n++) {
    let e = n * C4 + c4;
    ${body}
  }`;
  const c = l === 's4' ? `let c = (gi / (${S} / 4u)) % C;` : `let c = (gi / ${S}) % C;`;
  return `if (gi >= ${total}) { return; }
  ${c}
  ${pre}
  let e = gi;
  ${body}`;
}

/**
 * The channel's value of a per-channel vector: a vec4 of channels c4 (c4: offset in vec4 units,
 * stride 1) or one scalar. `second`: row 1 of a [2, C] buffer (invstd of stats, sum(g * xhat) of red).
 */
function perChannel(l: BnLayout, arr: string, opts: { second?: boolean; off?: string; stride?: string } = {}): string {
  const terms = [opts.off, opts.second ? (l === 'c4' ? 'C4' : 'C') : undefined];
  terms.push(l === 'c4' ? 'c4' : opts.stride ? `c * ${opts.stride}` : 'c');
  return `${arr}[${terms.filter(Boolean).join(' + ')}]`;
}

/**
 * LeakyReLU fused into the kernels (slope >= 0; ReLU is slope 0), with the expressions of the
 * unfused ops (ops/unary.ts leakyRelu), so results are the same bits. The backward reads the sign
 * from the activated output z: z > 0 exactly where the normalised value is.
 */
const leaky = (l: BnLayout, t: string, slope: string) => `select(${t} * ${slope}, ${t}, ${t} > ${vt(l)}(0.0))`;
const leakyGrad = (l: BnLayout, g: string, z: string, slope: string) => `select(${g} * ${slope}, ${g}, ${z} > ${vt(l)}(0.0))`;

/**
 * Normalise: `total` elements (in layout elements) of [N, C, S]; the input's offset (in layout
 * elements); the weight's and bias's offsets (c4: in vec4 units, stride 1) and strides; the fused
 * LeakyReLU's slope.
 */
export const BnNormalizeParams = paramStruct('BnNormalizeParams', {
  total: 'u32',
  channels: 'u32',
  spatial: 'u32',
  xOffset: 'u32',
  weightOffset: 'u32',
  weightStride: 'u32',
  biasOffset: 'u32',
  biasStride: 'u32',
  slope: 'f32',
});

/** y = (x - mean) * invstd * w + b, then LeakyReLU with `act`. c4: w and b are read as vec4. */
export function bnNormalizeKernel(hasW: boolean, hasB: boolean, l: BnLayout = 'scalar', act = false): Kernel {
  const P = BnNormalizeParams;
  const T = vt(l);
  const vec = l === 'c4' ? T : 'f32';
  const bindings = [storage(1, 'x', T), storage(2, 'stats', vec)];
  let next = 3;
  if (hasW) bindings.push(storage(next++, 'w', vec));
  if (hasB) bindings.push(storage(next++, 'b', vec));
  bindings.push(storage(next, 'y', T, true));
  const pre = [`let mean = ${perChannel(l, 'stats')};`, `let inv = ${perChannel(l, 'stats', { second: true })};`];
  if (hasW) pre.push(`let wv = ${perChannel(l, 'w', { off: P.at.weightOffset, stride: P.at.weightStride })};`);
  if (hasB) pre.push(`let bv = ${perChannel(l, 'b', { off: P.at.biasOffset, stride: P.at.biasStride })};`);
  const v = `(x[${P.at.xOffset} + e] - mean) * inv${hasW ? ' * wv' : ''}${hasB ? ' + bv' : ''}`;
  if (act) pre.push(`let slope = ${P.at.slope};`);
  const body = act ? `let t = ${v}; y[e] = ${leaky(l, 't', 'slope')};` : `y[e] = ${v};`;
  return {
    name: act ? 'batchnorm.normalize.leaky' : 'batchnorm.normalize',
    key: `bn:norm:${hasW}:${hasB}:${l}:${act}`,
    code: () => `${P.decl}
${bindings.join('\n')}
${main1d()}
  let C = ${P.at.channels};
  ${elementLoop(l, P.at.total, P.at.spatial, pre.join(' '), body)}
}`,
  };
}

/**
 * The backward's partial sums, as BnStatsParams plus the upstream gradient's offset and, with the
 * fused LeakyReLU, its output's offset and slope (offsets in layout elements).
 */
export const BnGradPartialParams = paramStruct('BnGradPartialParams', {
  channels: 'u32',
  spatial: 'u32',
  rows: 'u32',
  chunks: 'u32',
  chunk: 'u32',
  xOffset: 'u32',
  gOffset: 'u32',
  zOffset: 'u32',
  slope: 'f32',
});

/**
 * Backward partials per (channel, chunk): sum(g), sum(g * (x - mean)); with `act`, g is first
 * taken through the LeakyReLU's gradient (sign from z, the activated output).
 */
export function bnGradPartialKernel(l: BnLayout = 'scalar', act = false): Kernel {
  const P = BnGradPartialParams;
  const T = vt(l);
  const mean = l === 'c4' ? 'stats[c4]' : l === 's4' ? 'vec4<f32>(stats[c])' : 'stats[c]';
  const gv = act ? `let g0 = g[go + e]; let gv = ${leakyGrad(l, 'g0', 'z[zo + e]', 'slope')};` : 'let gv = g[go + e];';
  return {
    name: act ? 'batchnorm.grad.partial.leaky' : 'batchnorm.grad.partial',
    key: `bn:gpart:${l}:${act}`,
    code: () => `${P.decl}
${storage(1, 'x', T)}
${storage(2, 'g', T)}
${storage(3, 'stats', l === 'c4' ? T : 'f32')}
${storage(4, 'part', 'f32', true)}
${act ? storage(5, 'z', T) : ''}
${main1d()}
  let C = ${P.at.channels}; let S = ${P.at.spatial}; let R = ${P.at.rows}; let K = ${P.at.chunks}; let chunk = ${P.at.chunk};
  let xo = ${P.at.xOffset}; let go = ${P.at.gOffset};${act ? ` let zo = ${P.at.zOffset}; let slope = ${P.at.slope};` : ''}
  ${partialHeader(l)}
  let r0 = k * chunk; let r1 = min(R, r0 + chunk);
  let mean = ${mean};
  var sg = ${T}(0.0); var sgx = ${T}(0.0);
  ${chunkLoop(l, `${gv} sg += gv; sgx += gv * (x[xo + e] - mean);`)}
  ${partialStore(l, fold(l, 'sg'), fold(l, 'sgx'))}
}`,
  };
}

/** The backward's combine: `chunks` partials per channel. */
export const BnGradCombineParams = paramStruct('BnGradCombineParams', { channels: 'u32', chunks: 'u32' });

/** red[c] = sum(g) (= dbias), red[C + c] = sum(g * xhat) (= dweight). */
export function bnGradFinalKernel(): Kernel {
  const P = BnGradCombineParams;
  return {
    name: 'batchnorm.grad.combine',
    key: 'bn:gfinal',
    code: () => `${P.decl}
${storage(1, 'part', 'f32')}
${storage(2, 'stats', 'f32')}
${storage(3, 'red', 'f32', true)}
${main1d()}
  let C = ${P.at.channels}; let K = ${P.at.chunks};
  if (gi >= C) { return; }
  var sg = 0.0; var sgx = 0.0;
  for (var k = 0u; k < K; k++) {
    sg += part[(gi * K + k) * 2u];
    sgx += part[(gi * K + k) * 2u + 1u];
  }
  red[gi] = sg;
  red[C + gi] = sgx * stats[C + gi];
}`,
  };
}

/**
 * The input gradient: `total` elements (in layout elements) of [N, C, S]; `rows` = N * S values
 * per channel in the statistics; offsets of x, g and the activated output z in layout elements;
 * the weight's offset (c4: in vec4 units, stride 1) and stride; the fused LeakyReLU's slope.
 */
export const BnGradInputParams = paramStruct('BnGradInputParams', {
  total: 'u32',
  channels: 'u32',
  spatial: 'u32',
  rows: 'u32',
  xOffset: 'u32',
  gOffset: 'u32',
  weightOffset: 'u32',
  weightStride: 'u32',
  zOffset: 'u32',
  slope: 'f32',
});

/**
 * Input gradient. Training: dx = w * invstd * (g - sum(g) / R - xhat * sum(g * xhat) / R);
 * eval: dx = g * w * invstd (the statistics are constants). With `act`, g is first taken through
 * the LeakyReLU's gradient (sign from z, the activated output).
 */
export function bnGradInputKernel(training: boolean, hasW: boolean, l: BnLayout = 'scalar', act = false): Kernel {
  const P = BnGradInputParams;
  const T = vt(l);
  const vec = l === 'c4' ? T : 'f32';
  const bindings = [storage(1, 'g', T), storage(2, 'stats', vec)];
  let next = 3;
  if (training) bindings.push(storage(next++, 'x', T), storage(next++, 'red', vec));
  if (hasW) bindings.push(storage(next++, 'w', vec));
  if (act) bindings.push(storage(next++, 'z', T));
  bindings.push(storage(next, 'dx', T, true));
  const pre = [`let inv = ${perChannel(l, 'stats', { second: true })};`];
  if (hasW) pre.push(`let sc = inv * ${perChannel(l, 'w', { off: P.at.weightOffset, stride: P.at.weightStride })};`);
  const scale = hasW ? 'sc' : 'inv';
  if (training)
    pre.push(
      `let mean = ${perChannel(l, 'stats')};`,
      `let Rf = f32(${P.at.rows});`,
      `let mg = ${perChannel(l, 'red')} / Rf;`,
      `let mgx = ${perChannel(l, 'red', { second: true })} / Rf;`,
    );
  if (act) pre.push(`let slope = ${P.at.slope};`);
  const g0 = `g[${P.at.gOffset} + e]`;
  const gv = act ? `let g0 = ${g0}; let gv = ${leakyGrad(l, 'g0', `z[${P.at.zOffset} + e]`, 'slope')};` : `let gv = ${g0};`;
  const body = training
    ? `${gv}
    let xhat = (x[${P.at.xOffset} + e] - mean) * inv;
    dx[e] = ${scale} * (gv - mg - xhat * mgx);`
    : `${gv}
    dx[e] = gv * ${scale};`;
  return {
    name: act ? 'batchnorm.grad.input.leaky' : 'batchnorm.grad.input',
    key: `bn:gin:${training}:${hasW}:${l}:${act}`,
    code: () => `${P.decl}
${bindings.join('\n')}
${main1d()}
  let C = ${P.at.channels};
  ${elementLoop(l, P.at.total, P.at.spatial, pre.join(' '), body)}
}`,
  };
}
