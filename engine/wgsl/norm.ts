// Kernels for ops/norm.ts (layer_norm and group_norm). Both normalise rows of x viewed as
// [rows, m] (layer norm: the leading dims by the normalised size; group norm: [N * G, C / G * S])
// and apply a per-channel affine, channel c = (row % G) * cg + j / S for element j of a row (layer
// norm: G = 1, cg = m, S = 1). Statistics are taken per (row, chunk) so that few long rows (group
// norm on images) still spread over many invocations without workgroup barriers (slow on
// lavapipe); chunk partials of the forward hold (mean, M2) and merge by Chan's formula, which
// keeps the two-pass accuracy. The elementwise passes give each invocation a run of RUN elements
// and step (row, channel, spatial) indices along it: one index division per run, not per element.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage, C4 } from './common.ts';
import { paramStruct } from './params.ts';

/** Elements per invocation of the elementwise passes (apply, input gradient). */
export const RUN = 16;

/** Per (row, chunk) mean and M2, or (one chunk per row) the row's mean and 1 / sqrt(var + eps). */
export const NormStatsParams = paramStruct('NormStatsParams', {
  rows: 'u32',
  /** Row length in elements. */
  m: 'u32',
  /** Elements per chunk (a multiple of 4 on the vec4 path). */
  chunk: 'u32',
  chunks: 'u32',
  xOffset: 'u32',
  eps: 'f32',
});

/** Merges a row's chunk partials: (mean, M2) into (mean, rstd), or sums pairs. */
export const NormMergeParams = paramStruct('NormMergeParams', { rows: 'u32', m: 'u32', chunk: 'u32', chunks: 'u32', eps: 'f32' });

/** Index geometry shared by the elementwise passes: the channel of element j of row r. */
const GEOMETRY = {
  /** Elements in all. */
  n: 'u32',
  m: 'u32',
  /** Spatial size per channel (1 for layer norm). */
  s: 'u32',
  /** Channels per group (the normalised size for layer norm). */
  cg: 'u32',
  groups: 'u32',
  rows: 'u32',
} as const;

export const NormApplyParams = paramStruct('NormApplyParams', { ...GEOMETRY, xOffset: 'u32', wOffset: 'u32', bOffset: 'u32' });

/** Per (row, chunk) sums of g * w and g * w * xhat, the two reductions of the input gradient. */
export const NormGradStatsParams = paramStruct('NormGradStatsParams', {
  rows: 'u32',
  m: 'u32',
  chunk: 'u32',
  chunks: 'u32',
  s: 'u32',
  cg: 'u32',
  groups: 'u32',
  xOffset: 'u32',
  gOffset: 'u32',
  wOffset: 'u32',
});

export const NormGradInputParams = paramStruct('NormGradInputParams', { ...GEOMETRY, xOffset: 'u32', gOffset: 'u32', wOffset: 'u32', invM: 'f32' });

/** Per (channel, chunk) sums of g * xhat and g over the (sample, spatial) positions of x as [nn, c, s]. */
export const NormGradAffineParams = paramStruct('NormGradAffineParams', {
  /** Samples (layer norm: rows). */
  nn: 'u32',
  c: 'u32',
  s: 'u32',
  cg: 'u32',
  groups: 'u32',
  /** (sample, spatial) positions per chunk. */
  chunk: 'u32',
  chunks: 'u32',
  xOffset: 'u32',
  gOffset: 'u32',
});

/**
 * How the affine-gradient kernel walks x as [nn, c, s]. 'scalar': one element per step. 'c4' (s = 1,
 * cg % 4 == 0): vec4 over four neighbouring channels of one group, so neighbouring invocations
 * read neighbouring memory. 's4' (s % 4 == 0): vec4 over four spatial positions of one channel.
 */
export type AffineLayout = 'scalar' | 'c4' | 's4';

const ty = (vec: boolean) => (vec ? 'vec4<f32>' : 'f32');
const fold = (vec: boolean, v: string) => (vec ? `dot(${v}, vec4<f32>(1.0))` : v);

/** Forward statistics. `vec`: x bound as vec4 (m, chunk and the offset multiples of 4). `direct`: one chunk per row. */
export function normStatsKernel(vec: boolean, direct: boolean): Kernel {
  const P = NormStatsParams;
  const W = vec ? 4 : 1;
  const T = ty(vec);
  return {
    name: 'norm.stats',
    key: `norm:stats:${vec}:${direct}`,
    code: () => `${P.decl}
${storage(1, 'x', T)}
${storage(2, 'out', 'f32', true)}
${main1d()}
  let K = ${P.at.chunks};
  if (gi >= ${P.at.rows} * K) { return; }
  let r = gi / K; let k = gi % K;
  let j0 = k * ${P.at.chunk}; let j1 = min(${P.at.m}, j0 + ${P.at.chunk});
  let cnt = f32(j1 - j0);
  let base = (${P.at.xOffset} + r * ${P.at.m}) / ${W}u;
  let a = base + j0 / ${W}u; let b = base + j1 / ${W}u;
  // the chunk's mean first, then M2 around it: two-pass accuracy, the second read from cache. The
  // sum is of x - x0 (x0 the chunk's first value): exact differences, so an offset much larger than
  // the spread (values near 100 varying by 0.01) does not swamp the mean with rounding.
  let x0 = x[a]${vec ? '.x' : ''};
  var acc = ${T}(0.0);
  for (var i = a; i < b; i++) { acc += x[i] - x0; }
  let mu = x0 + ${fold(vec, 'acc')} / cnt;
  var q = ${T}(0.0);
  for (var i = a; i < b; i++) { let d = x[i] - mu; q += d * d; }
  let m2 = ${fold(vec, 'q')};
  ${direct ? `out[2u * r] = mu;\n  out[2u * r + 1u] = 1.0 / sqrt(m2 / cnt + ${P.at.eps});` : `out[2u * gi] = mu;\n  out[2u * gi + 1u] = m2;`}
}`,
  };
}

/** Merges K chunk partials per row: 'stats' (mean, M2) -> (mean, rstd) by Chan's formula; 'sum' adds pairs. */
export function normMergeKernel(mode: 'stats' | 'sum'): Kernel {
  const P = NormMergeParams;
  const body =
    mode === 'stats'
      ? `var n = 0.0; var mu = 0.0; var m2 = 0.0;
  for (var k = 0u; k < K; k++) {
    let cnt = f32(min(${P.at.chunk}, ${P.at.m} - k * ${P.at.chunk}));
    let o = 2u * (gi * K + k);
    let tot = n + cnt; let d = part[o] - mu;
    mu += d * (cnt / tot);
    m2 += part[o + 1u] + d * d * (n * cnt / tot);
    n = tot;
  }
  out[2u * gi] = mu;
  out[2u * gi + 1u] = 1.0 / sqrt(m2 / n + ${P.at.eps});`
      : `var sa = 0.0; var sb = 0.0;
  for (var k = 0u; k < K; k++) { let o = 2u * (gi * K + k); sa += part[o]; sb += part[o + 1u]; }
  out[2u * gi] = sa;
  out[2u * gi + 1u] = sb;`;
  return {
    name: `norm.merge.${mode}`,
    key: `norm:merge:${mode}`,
    code: () => `${P.decl}
${storage(1, 'part', 'f32')}
${storage(2, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${P.at.rows}) { return; }
  let K = ${P.at.chunks};
  ${body}
}`,
  };
}

/**
 * How the elementwise passes and the gradient's row sums walk x. 'c4' (s = 1, cg % 4 == 0, x, g, w, b
 * offsets multiples of 4): a vec4 is four neighbouring channels of one row, w and b are read as
 * vec4s too; layer norm over a multiple of 4 takes it. 's4' (s % 4 == 0): a vec4 is four positions
 * of one channel, one w load per vec4. 'e4' (element count and x, g offsets multiples of 4): vec4
 * loads, channel and row stepped per element. 'e1': scalars. CPU drivers (lavapipe) pay per load
 * instruction and per branch, not per byte, so c4 moves ~3 loads per 4 elements where e4 takes 9.
 */
export type NormLayout = 'c4' | 's4' | 'e4' | 'e1';

interface PassSpec {
  /** Element geometry and offsets of the parameter struct. */
  at: Record<keyof typeof GEOMETRY | 'xOffset', string> & { gOffset?: string };
  /** Declarations of the per-row values (`var`) and their loads for row r. */
  rowDecl: string;
  rowLoad: string;
  /** Per-channel values: declarations, and their loads from channel index `c` (a vec4 index for c4). */
  chanDecl: string;
  chanLoad: (c: string) => string;
  /** The output from x (and g): f32 or vec4 operands alike (w, b are f32 or vec4). */
  value: (x: string, g: string) => string;
}

/**
 * An elementwise pass over x viewed as [rows, m]: each invocation takes a run of RUN elements and
 * steps its (row, group, channel, position) indices along it, one index division per run. Past the
 * last element r stays on the last row, so every load is in bounds.
 */
function elementPass(layout: NormLayout, spec: PassSpec): string {
  const { at } = spec;
  const withG = at.gOffset !== undefined;
  const nextRow = `r = min(r + 1u, lastRow); gr += 1u; if (gr == G) { gr = 0u; }\n      ${spec.rowLoad}`;
  const head = `  let e0 = gi * ${RUN}u;
  if (e0 >= ${at.n}) { return; }
  let e1 = min(${at.n}, e0 + ${RUN}u);
  let m = ${at.m}; let S = ${at.s}; let cg = ${at.cg}; let G = ${at.groups}; let lastRow = ${at.rows} - 1u;
  var r = e0 / m; let j = e0 - r * m; var gr = r % G;
  ${spec.rowDecl} ${spec.rowLoad}
  ${spec.chanDecl}`;
  const vecLoads = `let xv = x[(${at.xOffset} + e) / 4u];${withG ? ` let gv = g[(${at.gOffset} + e) / 4u];` : ''}`;
  if (layout === 'c4')
    return `${head}
  let cg4 = cg / 4u; var j4 = j / 4u;
  for (var e = e0; e < e1; e += 4u) {
    ${vecLoads}
    ${spec.chanLoad('gr * cg4 + j4')}
    out[e / 4u] = ${spec.value('xv', 'gv')};
    j4 += 1u;
    if (j4 == cg4) { j4 = 0u; ${nextRow} }
  }`;
  // s4, e4, e1: (cc, h) channel and position; a new channel reloads w, b
  const step = (by: string) => `h += ${by};
      if (h == S) {
        h = 0u; cc += 1u;
        if (cc == cg) { cc = 0u; ${nextRow} }
        ${spec.chanLoad('gr * cg + cc')}
      }`;
  const chanHead = `${head}
  var cc = j / S; var h = j - cc * S;
  ${spec.chanLoad('gr * cg + cc')}`;
  if (layout === 's4')
    return `${chanHead}
  for (var e = e0; e < e1; e += 4u) {
    ${vecLoads}
    out[e / 4u] = ${spec.value('xv', 'gv')};
    ${step('4u')}
  }`;
  if (layout === 'e1')
    return `${chanHead}
  for (var e = e0; e < e1; e++) {
    let xv = x[${at.xOffset} + e];${withG ? ` let gv = g[${at.gOffset} + e];` : ''}
    out[e] = ${spec.value('xv', 'gv')};
    ${step('1u')}
  }`;
  const comps = C4.map((c) => `    o.${c} = ${spec.value(`xv.${c}`, `gv.${c}`)};\n    { ${step('1u')} }`).join('\n');
  return `${chanHead}
  for (var e = e0; e < e1; e += 4u) {
    ${vecLoads}
    var o: vec4<f32>;
${comps}
    out[e / 4u] = o;
  }`;
}

const isVec = (l: NormLayout) => l !== 'e1';

/** y = (x - mean) * rstd * w + b, w and b each optional. */
export function normApplyKernel(layout: NormLayout, hasW: boolean, hasB: boolean): Kernel {
  const P = NormApplyParams;
  const T = ty(isVec(layout));
  const W = layout === 'c4' ? 'vec4<f32>' : 'f32';
  const c4 = layout === 'c4';
  const off = (o: string) => (c4 ? `${o} / 4u` : o);
  const spec: PassSpec = {
    at: P.at,
    rowDecl: 'var mu = 0.0; var rs = 0.0;',
    rowLoad: 'mu = stats[2u * r]; rs = stats[2u * r + 1u];',
    chanDecl: `${hasW ? `var wv: ${W};` : ''} ${hasB ? `var bv: ${W};` : ''}`,
    chanLoad: (c) => `${hasW ? `wv = w[${off(P.at.wOffset)} + ${c}];` : ''} ${hasB ? `bv = b[${off(P.at.bOffset)} + ${c}];` : ''}`,
    value: (xv) => `(${xv} - mu) * rs${hasW ? ' * wv' : ''}${hasB ? ' + bv' : ''}`,
  };
  return {
    name: 'norm.apply',
    key: `norm:apply:${layout}:${hasW}:${hasB}`,
    code: () => `${P.decl}
${storage(1, 'x', T)}
${storage(2, 'stats', 'f32')}
${hasW ? storage(3, 'w', W) : ''}
${hasB ? storage(4, 'b', W) : ''}
${storage(5, 'out', T, true)}
${main1d()}
${elementPass(layout, spec)}
}`,
  };
}

/**
 * Per (row, chunk) sums of g * w and g * w * xhat (direct: one chunk per row, written per row).
 * Layouts as NormLayout; without w, c4 and s4 are e4 (no channel to follow).
 */
export function normGradStatsKernel(layout: NormLayout, direct: boolean, hasW: boolean): Kernel {
  const P = NormGradStatsParams;
  const vec = isVec(layout);
  const W = vec ? 4 : 1;
  const T = ty(vec);
  const c4 = hasW && layout === 'c4';
  const s4 = hasW && layout === 's4';
  // past a row's end cc is clamped into the row, so the load stays in bounds
  const loadW = `wv = w[${P.at.wOffset} + gr * cg + min(cc, cg - 1u)];`;
  let setup = '';
  let loop: string;
  if (c4) {
    // four channels per vec4 and rows of whole groups (s = 1): the vec4 of w follows the chunk
    setup = `let wb = ${P.at.wOffset} / 4u + (r % ${P.at.groups}) * (cg / 4u);`;
    loop = `for (var i = a; i < b; i++) {
    let gw = g[gb + i] * w[wb + i]; let xh = (x[xb + i] - mu) * rs;
    sa += gw; sb += gw * xh;
  }`;
  } else if (s4) {
    setup = `let gr = r % ${P.at.groups}; var cc = j0 / S; var h = j0 - cc * S; var wv = 0.0; ${loadW}`;
    loop = `for (var i = a; i < b; i++) {
    let gw = g[gb + i] * wv; let xh = (x[xb + i] - mu) * rs;
    sa += gw; sb += gw * xh;
    h += 4u; if (h == S) { h = 0u; cc += 1u; ${loadW} }
  }`;
  } else {
    if (hasW) setup = `let gr = r % ${P.at.groups}; var cc = j0 / S; var h = j0 - cc * S; var wv = 0.0; ${loadW}`;
    const stepW = hasW ? `h += 1u; if (h == S) { h = 0u; cc += 1u; ${loadW} }` : '';
    const accum = (xv: string, gv: string) => `{ let gw = ${gv}${hasW ? ' * wv' : ''}; sa += gw; sb += gw * ((${xv} - mu) * rs); ${stepW} }`;
    loop = vec
      ? `for (var i = a; i < b; i++) {
    let x4 = x[xb + i]; let g4 = g[gb + i];
    ${C4.map((c) => accum(`x4.${c}`, `g4.${c}`)).join('\n    ')}
  }`
      : `for (var i = a; i < b; i++) ${accum('x[xb + i]', 'g[gb + i]')}`;
  }
  // c4 and s4 accumulate vec4s (summed at the end); e4 and e1 scalars
  const acc = c4 || s4 ? 'vec4<f32>' : 'f32';
  const total = (v: string) => (c4 || s4 ? fold(true, v) : v);
  return {
    name: 'norm.gradStats',
    key: `norm:gstats:${hasW ? layout : vec ? 'e4' : 'e1'}:${direct}:${hasW}`,
    code: () => `${P.decl}
${storage(1, 'x', T)}
${storage(2, 'g', T)}
${storage(3, 'stats', 'f32')}
${hasW ? storage(4, 'w', c4 ? 'vec4<f32>' : 'f32') : ''}
${storage(5, 'out', 'f32', true)}
${main1d()}
  let K = ${P.at.chunks};
  if (gi >= ${P.at.rows} * K) { return; }
  let r = gi / K; let k = gi % K;
  let m = ${P.at.m}; let S = ${P.at.s}; let cg = ${P.at.cg};
  let j0 = k * ${P.at.chunk}; let j1 = min(m, j0 + ${P.at.chunk});
  let mu = stats[2u * r]; let rs = stats[2u * r + 1u];
  let xb = (${P.at.xOffset} + r * m) / ${W}u; let gb = (${P.at.gOffset} + r * m) / ${W}u;
  let a = j0 / ${W}u; let b = j1 / ${W}u;
  ${setup}
  var sa = ${acc}(0.0); var sb = ${acc}(0.0);
  ${loop}
  let ta = ${total('sa')}; let tb = ${total('sb')};
  ${direct ? 'out[2u * r] = ta;\n  out[2u * r + 1u] = tb;' : 'out[2u * gi] = ta;\n  out[2u * gi + 1u] = tb;'}
}`,
  };
}

/** dx = rstd * (g w - sum(g w) / m - xhat * sum(g w xhat) / m), the row sums from normGradStatsKernel. */
export function normGradInputKernel(layout: NormLayout, hasW: boolean): Kernel {
  const P = NormGradInputParams;
  const T = ty(isVec(layout));
  const W = layout === 'c4' ? 'vec4<f32>' : 'f32';
  const off = layout === 'c4' ? `${P.at.wOffset} / 4u` : P.at.wOffset;
  const spec: PassSpec = {
    at: P.at,
    rowDecl: `let invM = ${P.at.invM}; var mu = 0.0; var rs = 0.0; var sa = 0.0; var sb = 0.0;`,
    rowLoad: 'mu = stats[2u * r]; rs = stats[2u * r + 1u]; sa = sums[2u * r] * invM; sb = sums[2u * r + 1u] * invM;',
    chanDecl: hasW ? `var wv: ${W};` : '',
    chanLoad: (c) => (hasW ? `wv = w[${off} + ${c}];` : ''),
    value: (xv, gv) => `rs * (${gv}${hasW ? ' * wv' : ''} - sa - (${xv} - mu) * rs * sb)`,
  };
  return {
    name: 'norm.gradInput',
    key: `norm:gin:${layout}:${hasW}`,
    code: () => `${P.decl}
${storage(1, 'x', T)}
${storage(2, 'g', T)}
${storage(3, 'stats', 'f32')}
${storage(4, 'sums', 'f32')}
${hasW ? storage(5, 'w', W) : ''}
${storage(6, 'out', T, true)}
${main1d()}
${elementPass(layout, spec)}
}`,
  };
}

/**
 * Partial sums of g * xhat (weight gradient) and g (bias gradient) per (channel, chunk) over the
 * (sample, spatial) positions r = n * s + sp in [r0, r1); written to dw[k * c + ch], db[k * c + ch].
 * Channels are fastest across invocations.
 */
export function normGradAffineKernel(layout: AffineLayout): Kernel {
  const P = NormGradAffineParams;
  const vec = layout !== 'scalar';
  const T = ty(vec);
  // statistics row of sample n for channel group gq
  const loadStats = `let row = min(n, ${P.at.nn} - 1u) * G + gq; mu = stats[2u * row]; rs = stats[2u * row + 1u];`;
  let header: string;
  let loop: string;
  let store: string;
  if (layout === 'c4') {
    header = `let C4 = C / 4u;
  if (gi >= C4 * K) { return; }
  let c4 = gi % C4; let k = gi / C4; let gq = (c4 * 4u) / ${P.at.cg};`;
    loop = `for (var n = r0; n < r1; n++) {
    ${loadStats}
    let e = n * C4 + c4;
    let gv = g[gOff + e];
    dw += gv * ((x[xOff + e] - mu) * rs); db += gv;
  }`;
    store = `for (var q = 0u; q < 4u; q++) { dwOut[k * C + c4 * 4u + q] = dw[q]; dbOut[k * C + c4 * 4u + q] = db[q]; }`;
  } else {
    const W = vec ? 4 : 1;
    header = `if (gi >= C * K) { return; }
  let c = gi % C; let k = gi / C; let gq = c / ${P.at.cg};`;
    loop = `{
    let S${W} = S / ${W}u;
    var n = r0 / S; var sp = (r0 % S) / ${W}u;
    ${loadStats}
    for (var r = r0; r < r1; r += ${W}u) {
      let e = (n * C + c) * S${W} + sp;
      let gv = g[gOff + e];
      dw += gv * ((x[xOff + e] - mu) * rs); db += gv;
      sp++;
      if (sp == S${W}) { sp = 0u; n++; ${loadStats} }
    }
  }`;
    store = `dwOut[k * C + c] = ${fold(vec, 'dw')};\n  dbOut[k * C + c] = ${fold(vec, 'db')};`;
  }
  const W = vec ? 4 : 1;
  return {
    name: 'norm.gradAffine',
    key: `norm:gaff:${layout}`,
    code: () => `${P.decl}
${storage(1, 'x', T)}
${storage(2, 'g', T)}
${storage(3, 'stats', 'f32')}
${storage(4, 'dwOut', 'f32', true)}
${storage(5, 'dbOut', 'f32', true)}
${main1d()}
  let C = ${P.at.c}; let S = ${P.at.s}; let G = ${P.at.groups}; let K = ${P.at.chunks};
  ${header}
  let r0 = k * ${P.at.chunk}; let r1 = min(${P.at.nn} * S, r0 + ${P.at.chunk});
  let xOff = ${P.at.xOffset} / ${W}u; let gOff = ${P.at.gOffset} / ${W}u;
  var mu = 0.0; var rs = 0.0;
  var dw = ${T}(0.0); var db = ${T}(0.0);
  ${loop}
  ${store}
}`,
  };
}
