// WGSL kernels of the discriminator's BatchNorm with context rows (glass/fused-batchnorm.ts) over
// [N, C]: the engine's batch-norm kernels (the same arithmetic, so the same bits) with three
// additions the ascent steps need. The combine merges a second partials buffer (the context rows,
// which join the statistics without being normalised); the input gradient divides by every row of
// the statistics; and the upstream gradient may be an outer product u [N] x w [C] (the input
// gradient of the Linear(C, 1) head), read as such instead of as an [N, C] tensor.
//
// Per-channel reductions run as (channel, chunk) partials followed by a per-channel combine (no
// workgroup barriers: slow on CPU drivers); forward partials hold (mean, M2) of their chunk and
// the combine merges them with Chan's formula (the two-pass accuracy of torch's variance).
import * as E from '../../engine/index.ts';

const { paramStruct, storage, main1d } = E.kernels;
type Kernel = E.kernels.Kernel;

/**
 * How a kernel walks x [N, C]. 'scalar': one f32 per step. 'c4' (C % 4 == 0, aligned offsets): a
 * vec4 of four neighbouring channels, so the lanes of a workgroup read consecutive memory (CPU
 * drivers pay per load, not per byte).
 */
export type CtxLayout = 'scalar' | 'c4';

const vt = (l: CtxLayout) => (l === 'scalar' ? 'f32' : 'vec4<f32>');

/** Rows of [N, C] each c4 invocation of the elementwise kernels walks (see elementLoop). */
export const CTX_BN_ROWS = 8;

/** Rows [r0, r1) of the invocation's channel(s): element e of row n (c4: in vec4 units). */
function chunkLoop(l: CtxLayout, body: string): string {
  return `for (var n = r0; n < r1; n++) { let e = n * ${l === 'c4' ? 'C4 + c4' : 'C + c'}; ${body} }`;
}

/** The (channel, chunk) an invocation of a partial kernel owns; c4 puts channels fastest. */
function partialHeader(l: CtxLayout): string {
  if (l === 'c4')
    return `let C4 = C / 4u;
  if (gi >= C4 * K) { return; }
  let c4 = gi % C4; let k = gi / C4;`;
  return `if (gi >= C * K) { return; }
  let c = gi / K; let k = gi % K;`;
}

/** Writes the two partials (a, b) of the invocation's channel(s): part[(c * K + k) * 2 + {0, 1}]. */
function partialStore(l: CtxLayout, a: string, b: string): string {
  if (l === 'c4')
    return `for (var j = 0u; j < 4u; j++) {
    let o = ((c4 * 4u + j) * K + k) * 2u;
    part[o] = ${a}[j];
    part[o + 1u] = ${b}[j];
  }`;
  return `part[gi * 2u] = ${a};
  part[gi * 2u + 1u] = ${b};`;
}

/** Invocations of the partial kernels for K chunks per channel (c4: one per four channels). */
export function ctxPartialInvocations(l: CtxLayout, C: number, K: number): number {
  return (l === 'c4' ? C / 4 : C) * K;
}

/**
 * Invocations of the elementwise kernels (normalise, input gradient) for `total` layout elements:
 * c4 runs CTX_BN_ROWS rows of one vec4 of channels per invocation, scalar one element each.
 */
export function ctxElementwiseInvocations(l: CtxLayout, total: number, C: number): number {
  return l === 'c4' ? (C / 4) * Math.ceil(total / (C / 4) / CTX_BN_ROWS) : total;
}

/**
 * Body of an elementwise kernel: `pre` (per-channel loads, given `c` or `c4`) once, then `body` per
 * element `e` of row `n` (c4) or element `e` (scalar). c4 gives each invocation one vec4 of
 * channels and CTX_BN_ROWS rows, so the per-channel values are loaded once per eight vec4s.
 */
function elementLoop(l: CtxLayout, total: string, pre: string, body: string): string {
  if (l === 'c4')
    return `let C4 = C / 4u; let N = ${total} / C4;
  if (gi >= C4 * ((N + ${CTX_BN_ROWS - 1}u) / ${CTX_BN_ROWS}u)) { return; }
  let c4 = gi % C4; let n0 = (gi / C4) * ${CTX_BN_ROWS}u; let n1 = min(N, n0 + ${CTX_BN_ROWS}u);
  ${pre}
  for (var n = n0; n < n1; n++) {
    let e = n * C4 + c4;
    ${body}
  }`;
  return `if (gi >= ${total}) { return; }
  let c = gi % C;
  ${pre}
  let e = gi;
  ${body}`;
}

/**
 * The channel's value of a per-channel vector: a vec4 of channels c4 (offset in vec4 units,
 * stride 1) or one scalar. `second`: row 1 of a [2, C] buffer (invstd of stats, sum(g * xhat) of red).
 */
function perChannel(l: CtxLayout, arr: string, opts: { second?: boolean; off?: string; stride?: string } = {}): string {
  const terms = [opts.off, opts.second ? (l === 'c4' ? 'C4' : 'C') : undefined];
  terms.push(l === 'c4' ? 'c4' : opts.stride ? `c * ${opts.stride}` : 'c');
  return `${arr}[${terms.filter(Boolean).join(' + ')}]`;
}

// The fused LeakyReLU (slope >= 0) and its gradient, with the expressions of the engine's
// leakyRelu, so fused and separate give the same bits; the backward reads the sign from the
// activated output z (z > 0 exactly where the normalised value is).
const leaky = (l: CtxLayout, t: string, slope: string) => `select(${t} * ${slope}, ${t}, ${t} > ${vt(l)}(0.0))`;
const leakyGrad = (l: CtxLayout, g: string, z: string, slope: string) => `select(${g} * ${slope}, ${g}, ${z} > ${vt(l)}(0.0))`;

/** Partial (mean, M2) of `rows` rows in `chunks` chunks of `chunk` rows; offset in layout elements. */
export const CtxStatsParams = paramStruct('CtxStatsParams', { channels: 'u32', rows: 'u32', chunks: 'u32', chunk: 'u32', xOffset: 'u32' });

/** Partial (mean, M2) per (channel, chunk): the chunk's mean first, then M2 around it. */
export function ctxStatsPartialKernel(l: CtxLayout): Kernel {
  const P = CtxStatsParams;
  const T = vt(l);
  return {
    name: 'glass.bnContext.stats',
    key: `glass.bnContext.stats:${l}`,
    code: () => `${P.decl}
${storage(1, 'x', T)}
${storage(2, 'part', 'f32', true)}
${main1d()}
  let C = ${P.at.channels}; let R = ${P.at.rows}; let K = ${P.at.chunks}; let chunk = ${P.at.chunk}; let xo = ${P.at.xOffset};
  ${partialHeader(l)}
  let r0 = k * chunk; let r1 = min(R, r0 + chunk);
  var acc = ${T}(0.0);
  ${chunkLoop(l, 'acc += x[xo + e];')}
  let m = acc / f32(r1 - r0);
  var m2 = ${T}(0.0);
  ${chunkLoop(l, 'let d = x[xo + e] - m; m2 += d * d;')}
  ${partialStore(l, 'm', 'm2')}
}`,
  };
}

/**
 * The combine: the first partials buffer's `chunks` x `chunk` rows (`rows` in all) and, with a
 * second buffer, its `chunks2`, `chunk2`, `rows2`; `eps`; the running update's `momentum` and the
 * running statistics' (and the counter's) offsets and strides in elements.
 */
export const CtxCombineParams = paramStruct('CtxCombineParams', {
  channels: 'u32',
  chunks: 'u32',
  chunk: 'u32',
  rows: 'u32',
  chunks2: 'u32',
  chunk2: 'u32',
  rows2: 'u32',
  eps: 'f32',
  momentum: 'f32',
  meanOffset: 'u32',
  meanStride: 'u32',
  varOffset: 'u32',
  varStride: 'u32',
  countOffset: 'u32',
});

/**
 * stats[c] = mean, stats[C + c] = 1 / sqrt(var + eps) (biased var) over the rows of one or (`two`)
 * two partials buffers; with `update`, the in-place running-stat update with the unbiased var
 * (`cumulative`: factor 1 / numBatchesTracked, torch's momentum None).
 */
export function ctxStatsFinalKernel(update: boolean, cumulative: boolean, two: boolean): Kernel {
  const P = CtxCombineParams;
  const bindings = [storage(1, 'part', 'f32'), storage(2, 'stats', 'f32', true)];
  if (update) bindings.push(storage(3, 'rm', 'f32', true), storage(4, 'rv', 'f32', true));
  if (update && cumulative) bindings.push(storage(5, 'nbt', 'i32'));
  if (two) bindings.push(storage(6, 'part2', 'f32'));
  const factor = cumulative ? `1.0 / f32(max(nbt[${P.at.countOffset}], 1))` : P.at.momentum;
  // Chan's merge of one buffer's (mean, M2) partials into (cnt, mean, m2)
  const merge = (buf: string, K: string, chunk: string, R: string) => `for (var k = 0u; k < ${K}; k++) {
    let nb = f32(min(${R}, (k + 1u) * ${chunk}) - k * ${chunk});
    let mb = ${buf}[(gi * ${K} + k) * 2u];
    let tot = cnt + nb;
    let d = mb - mean;
    mean = mean + d * (nb / tot);
    m2 = m2 + ${buf}[(gi * ${K} + k) * 2u + 1u] + d * d * (cnt * nb / tot);
    cnt = tot;
  }`;
  return {
    name: 'glass.bnContext.combine',
    key: `glass.bnContext.combine:${update}:${cumulative}:${two}`,
    code: () => `${P.decl}
${bindings.join('\n')}
${main1d()}
  let C = ${P.at.channels}; let K = ${P.at.chunks}; let chunk = ${P.at.chunk}; let R1 = ${P.at.rows};
  if (gi >= C) { return; }
  var cnt = 0.0; var mean = 0.0; var m2 = 0.0;
  ${merge('part', 'K', 'chunk', 'R1')}
  ${two ? merge('part2', P.at.chunks2, P.at.chunk2, P.at.rows2) : ''}
  let R = ${two ? `R1 + ${P.at.rows2}` : 'R1'};
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

/**
 * Normalise `total` layout elements; offsets of x (layout elements), the weight and bias (c4: vec4
 * units, stride 1) and their strides; the fused LeakyReLU's slope.
 */
export const CtxNormalizeParams = paramStruct('CtxNormalizeParams', {
  total: 'u32',
  channels: 'u32',
  xOffset: 'u32',
  weightOffset: 'u32',
  weightStride: 'u32',
  biasOffset: 'u32',
  biasStride: 'u32',
  slope: 'f32',
});

/** y = (x - mean) * invstd * w + b, then LeakyReLU with `act`. */
export function ctxNormalizeKernel(hasW: boolean, hasB: boolean, l: CtxLayout, act: boolean): Kernel {
  const P = CtxNormalizeParams;
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
    name: act ? 'glass.bnContext.normalize.leaky' : 'glass.bnContext.normalize',
    key: `glass.bnContext.norm:${hasW}:${hasB}:${l}:${act}`,
    code: () => `${P.decl}
${bindings.join('\n')}
${main1d()}
  let C = ${P.at.channels};
  ${elementLoop(l, P.at.total, pre.join(' '), body)}
}`,
  };
}

/**
 * The backward's partial sums over x's `rows` rows in `chunks` chunks of `chunk`; offsets of x, g
 * and the activated output z (layout elements); the LeakyReLU's slope; with the head's outer
 * product, the offsets of u (elements) and w (c4: vec4 units).
 */
export const CtxGradPartialParams = paramStruct('CtxGradPartialParams', {
  channels: 'u32',
  rows: 'u32',
  chunks: 'u32',
  chunk: 'u32',
  xOffset: 'u32',
  gOffset: 'u32',
  zOffset: 'u32',
  slope: 'f32',
  uOffset: 'u32',
  headOffset: 'u32',
});

/**
 * Backward partials per (channel, chunk): sum(g), sum(g * (x - mean)); with `act`, g is first
 * taken through the LeakyReLU's gradient; with `outer`, g = u[n] * w[c].
 */
export function ctxGradPartialKernel(l: CtxLayout, act: boolean, outer: boolean): Kernel {
  const P = CtxGradPartialParams;
  const T = vt(l);
  const mean = l === 'c4' ? 'stats[c4]' : 'stats[c]';
  const g0 = outer ? 'gu[uo + n] * gwv' : 'g[go + e]';
  const gv = act ? `let g0 = ${g0}; let gv = ${leakyGrad(l, 'g0', 'z[zo + e]', 'slope')};` : `let gv = ${g0};`;
  return {
    name: act ? 'glass.bnContext.grad.partial.leaky' : 'glass.bnContext.grad.partial',
    key: `glass.bnContext.gpart:${l}:${act}:${outer}`,
    code: () => `${P.decl}
${storage(1, 'x', T)}
${outer ? storage(2, 'gu', 'f32') : storage(2, 'g', T)}
${storage(3, 'stats', l === 'c4' ? T : 'f32')}
${storage(4, 'part', 'f32', true)}
${act ? storage(5, 'z', T) : ''}
${outer ? storage(6, 'gw', l === 'c4' ? T : 'f32') : ''}
${main1d()}
  let C = ${P.at.channels}; let R = ${P.at.rows}; let K = ${P.at.chunks}; let chunk = ${P.at.chunk};
  let xo = ${P.at.xOffset}; let go = ${P.at.gOffset};${act ? ` let zo = ${P.at.zOffset}; let slope = ${P.at.slope};` : ''}
  ${partialHeader(l)}${
    outer
      ? `
  let uo = ${P.at.uOffset}; let gwv = ${l === 'c4' ? `gw[${P.at.headOffset} + c4]` : `gw[${P.at.headOffset} + c]`};`
      : ''
  }
  let r0 = k * chunk; let r1 = min(R, r0 + chunk);
  let mean = ${mean};
  var sg = ${T}(0.0); var sgx = ${T}(0.0);
  ${chunkLoop(l, `${gv} sg += gv; sgx += gv * (x[xo + e] - mean);`)}
  ${partialStore(l, 'sg', 'sgx')}
}`,
  };
}

/** The backward's combine: `chunks` partials per channel. */
export const CtxGradCombineParams = paramStruct('CtxGradCombineParams', { channels: 'u32', chunks: 'u32' });

/** red[c] = sum(g) (= dbias), red[C + c] = sum(g * xhat) (= dweight). */
export function ctxGradFinalKernel(): Kernel {
  const P = CtxGradCombineParams;
  return {
    name: 'glass.bnContext.grad.combine',
    key: 'glass.bnContext.gfinal',
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
 * The input gradient of `total` layout elements; `statsRows`: every row of the statistics (x's
 * and the context's); offsets of x, g, z (layout elements), the weight (c4: vec4 units) and its
 * stride; the LeakyReLU's slope; with the head's outer product, the offsets of u and w.
 */
export const CtxGradInputParams = paramStruct('CtxGradInputParams', {
  total: 'u32',
  channels: 'u32',
  statsRows: 'u32',
  xOffset: 'u32',
  gOffset: 'u32',
  weightOffset: 'u32',
  weightStride: 'u32',
  zOffset: 'u32',
  slope: 'f32',
  uOffset: 'u32',
  headOffset: 'u32',
});

/**
 * dx = w * invstd * (g - sum(g) / R - xhat * sum(g * xhat) / R), R counting every row of the
 * statistics (the context rows have g = 0 and add nothing to the sums). With `act`, g is first
 * taken through the LeakyReLU's gradient; with `outer`, g = u[n] * w[c].
 */
export function ctxGradInputKernel(hasW: boolean, l: CtxLayout, act: boolean, outer: boolean): Kernel {
  const P = CtxGradInputParams;
  const T = vt(l);
  const vec = l === 'c4' ? T : 'f32';
  const bindings = [outer ? storage(1, 'gu', 'f32') : storage(1, 'g', T), storage(2, 'stats', vec)];
  let next = 3;
  bindings.push(storage(next++, 'x', T), storage(next++, 'red', vec));
  if (hasW) bindings.push(storage(next++, 'w', vec));
  if (act) bindings.push(storage(next++, 'z', T));
  if (outer) bindings.push(storage(next++, 'gw', vec));
  bindings.push(storage(next, 'dx', T, true));
  const pre = [`let inv = ${perChannel(l, 'stats', { second: true })};`];
  // outer: g = gu[n] * gw[c] (a [N] column times a [C] row)
  if (outer) pre.push(`let gwv = ${perChannel(l, 'gw', { off: P.at.headOffset })};`, ...(l === 'c4' ? [] : ['let n = gi / C;']));
  if (hasW) pre.push(`let sc = inv * ${perChannel(l, 'w', { off: P.at.weightOffset, stride: P.at.weightStride })};`);
  const scale = hasW ? 'sc' : 'inv';
  pre.push(
    `let mean = ${perChannel(l, 'stats')};`,
    `let Rf = f32(${P.at.statsRows});`,
    `let mg = ${perChannel(l, 'red')} / Rf;`,
    `let mgx = ${perChannel(l, 'red', { second: true })} / Rf;`,
  );
  if (act) pre.push(`let slope = ${P.at.slope};`);
  const g0 = outer ? `gu[${P.at.uOffset} + n] * gwv` : `g[${P.at.gOffset} + e]`;
  const gv = act ? `let g0 = ${g0}; let gv = ${leakyGrad(l, 'g0', `z[${P.at.zOffset} + e]`, 'slope')};` : `let gv = ${g0};`;
  const body = `${gv}
    let xhat = (x[${P.at.xOffset} + e] - mean) * inv;
    dx[e] = ${scale} * (gv - mg - xhat * mgx);`;
  return {
    name: act ? 'glass.bnContext.grad.input.leaky' : 'glass.bnContext.grad.input',
    key: `glass.bnContext.gin:${hasW}:${l}:${act}:${outer}`,
    code: () => `${P.decl}
${bindings.join('\n')}
${main1d()}
  let C = ${P.at.channels};
  ${elementLoop(l, P.at.total, pre.join(' '), body)}
}`,
  };
}
