// Kernels for ops/sort.ts: a bitonic sort of (value, index) pairs over segments padded to a
// power of two P, one segment per line of x viewed as [outer, n, inner]. The order is total
// (ties broken by the original index, NaN after +inf ascending / first descending, padding
// always last), so the result equals torch.sort(stable=True). Steps with a partner distance
// j >= L are one dispatch each; runs of steps with j < L happen in registers, L elements per
// invocation (L = 64), so a sort of P = 8192 takes 36 dispatches instead of 91.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage } from './common.ts';
import { paramStruct, type ParamStruct } from './params.ts';

/** `padded`: the line length n rounded up to a power of two (the bitonic segment). */
export const SortInitParams = paramStruct('SortInitParams', {
  /** lines * padded */
  total: 'u32',
  padded: 'u32',
  n: 'u32',
  inner: 'u32',
  xOffset: 'u32',
});

/** One compare-exchange step of stage k with partner distance j (k, j powers of two). */
export const SortStepParams = paramStruct('SortStepParams', {
  /** lines * padded / 2: one invocation per pair */
  total: 'u32',
  padded: 'u32',
  n: 'u32',
  /** 1: descending */
  descending: 'u32',
  k: 'u32',
  j: 'u32',
});

/** The steps with partner distance < L of stages kStart, 2 kStart, .., kEnd. */
export const SortLocalParams = paramStruct('SortLocalParams', {
  /** lines * padded / L: one invocation per L elements */
  total: 'u32',
  padded: 'u32',
  n: 'u32',
  /** 1: descending */
  descending: 'u32',
  kStart: 'u32',
  kEnd: 'u32',
  /** equals the kernel's L (see sortLocalSteps) */
  L: 'u32',
});

/** The first kOut entries of each sorted line, written as [outer, kOut, inner]. */
export const SortFinishParams = paramStruct('SortFinishParams', { total: 'u32', padded: 'u32', kOut: 'u32', inner: 'u32' });

/** Gradient of kOut sorted entries per line (g and idx [outer, kOut, inner]) back to lines of n. */
export const UnsortParams = paramStruct('UnsortParams', { total: 'u32', kOut: 'u32', n: 'u32', inner: 'u32', gOffset: 'u32', idxOffset: 'u32' });

const before = (T: string) => `
fn isNan(v: ${T}) -> bool { ${T === 'f32' ? 'return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;' : 'return false;'} }
// true when (va, ia) comes strictly before (vb, ib) in the final order
fn before(va: ${T}, ia: i32, vb: ${T}, ib: i32, n: i32, desc: bool) -> bool {
  let pa = ia >= n; let pb = ib >= n;
  if (pa || pb) { return select(pb, ia < ib, pa && pb); }
  let na = isNan(va); let nb = isNan(vb);
  if (na || nb) { return select(select(nb, na, desc), ia < ib, na && nb); }
  if (va != vb) { return select((va < vb), (va > vb), desc); }
  return ia < ib;
}`;

export function sortInit(T: string): Kernel {
  const S = SortInitParams;
  return {
    name: 'sort.init',
    key: `sort.init:${T}`,
    code: () => `${S.decl}
${storage(1, 'x', T)}
${storage(2, 'keys', T, true)}
${storage(3, 'idx', 'i32', true)}
${main1d()}
  if (gi >= ${S.at.total}) { return; }
  let P = ${S.at.padded}; let n = ${S.at.n}; let inner = ${S.at.inner};
  let r = gi / P; let t = gi % P;
  var v = ${T}(0);
  if (t < n) { v = x[${S.at.xOffset} + (r / inner) * n * inner + t * inner + r % inner]; }
  keys[gi] = v;
  idx[gi] = i32(t);
}`,
  };
}

export function sortGlobalStep(T: string): Kernel {
  const S = SortStepParams;
  return {
    name: 'sort.step',
    key: `sort.step:${T}`,
    code: () => `${S.decl}
${storage(1, 'keys', T, true)}
${storage(2, 'idx', 'i32', true)}
${before(T)}
${main1d()}
  if (gi >= ${S.at.total}) { return; }
  let P = ${S.at.padded}; let n = i32(${S.at.n}); let desc = ${S.at.descending} == 1u; let k = ${S.at.k}; let j = ${S.at.j};
  let half = P / 2u;
  let r = gi / half; let q = gi % half;
  let lo = (q / j) * 2u * j + q % j;
  let a = r * P + lo; let b = a + j;
  let va = keys[a]; let ia = idx[a]; let vb = keys[b]; let ib = idx[b];
  let asc = (lo & k) == 0u;
  let swap = select(before(va, ia, vb, ib, n, desc), before(vb, ib, va, ia, n, desc), asc);
  if (swap) { keys[a] = vb; idx[a] = ib; keys[b] = va; idx[b] = ia; }
}`,
  };
}

/** Workgroup size of the register-block kernel (few invocations: keep several workgroups). */
export const LOCAL_WG = 32;

/** All steps with partner distance < L for stages k in [kStart, kEnd], L elements per invocation. */
export function sortLocalSteps(L: number, T: string): Kernel {
  const S = SortLocalParams;
  return {
    name: 'sort.local',
    key: `sort.local:${L}:${T}`,
    code: () => `${S.decl}
${storage(1, 'keys', T, true)}
${storage(2, 'idx', 'i32', true)}
${before(T)}
${main1d(LOCAL_WG)}
  if (gi >= ${S.at.total}) { return; }
  let P = ${S.at.padded}; let n = i32(${S.at.n}); let desc = ${S.at.descending} == 1u;
  // Ln == L, read from the params so LLVM keeps the loops rolled (unrolled, the compare-exchange
  // takes lavapipe seconds to compile)
  let Ln = ${S.at.L};
  let base = gi * ${L}u;
  let pos0 = base % P;
  var v: array<${T}, ${L}>;
  var ix: array<i32, ${L}>;
  for (var t = 0u; t < Ln; t++) { v[t] = keys[base + t]; ix[t] = idx[base + t]; }
  for (var k = ${S.at.kStart}; k <= ${S.at.kEnd}; k = k * 2u) {
    for (var j = min(k / 2u, ${L / 2}u); j > 0u; j = j / 2u) {
      for (var t = 0u; t < Ln; t++) {
        let u = t ^ j;
        if (u <= t) { continue; }
        let asc = ((pos0 + t) & k) == 0u;
        let va = v[t]; let ia = ix[t]; let vb = v[u]; let ib = ix[u];
        let swap = select(before(va, ia, vb, ib, n, desc), before(vb, ib, va, ia, n, desc), asc);
        if (swap) { v[t] = vb; ix[t] = ib; v[u] = va; ix[u] = ia; }
      }
    }
  }
  for (var t = 0u; t < Ln; t++) { keys[base + t] = v[t]; idx[base + t] = ix[t]; }
}`,
  };
}

// First kOut sorted entries of each line back to [outer, kOut, inner].
export function sortFinish(T: string): Kernel {
  const S = SortFinishParams;
  return {
    name: 'sort.finish',
    key: `sort.finish:${T}`,
    code: () => `${S.decl}
${storage(1, 'keys', T)}
${storage(2, 'idx', 'i32')}
${storage(3, 'vals', T, true)}
${storage(4, 'inds', 'i32', true)}
${main1d()}
  if (gi >= ${S.at.total}) { return; }
  let P = ${S.at.padded}; let kOut = ${S.at.kOut}; let inner = ${S.at.inner};
  let i = gi % inner; let t = (gi / inner) % kOut; let o = gi / (inner * kOut);
  let src = (o * inner + i) * P + t;
  vals[gi] = keys[src];
  inds[gi] = idx[src];
}`,
  };
}

// Backward of sort/topk: out[o, idx[o,t,i], i] = g[o,t,i]. Indices of a line are distinct, so
// plain stores never collide.
export function unsortScatter(): Kernel {
  const S = UnsortParams;
  return {
    name: 'sort.unsort',
    key: 'sort.unsort',
    code: () => `${S.decl}
${storage(1, 'g', 'f32')}
${storage(2, 'idx', 'i32')}
${storage(3, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${S.at.total}) { return; }
  let kOut = ${S.at.kOut}; let n = ${S.at.n}; let inner = ${S.at.inner};
  let i = gi % inner; let o = gi / (inner * kOut);
  out[o * n * inner + u32(idx[${S.at.idxOffset} + gi]) * inner + i] = g[${S.at.gOffset} + gi];
}`,
  };
}

// torch.quantile's linear interpolation over sorted lines [outer, n, inner] (ascending, NaN
// last): rank = q * (n - 1) in f32, lerp of the two neighbours with torch's lerp formula; a
// line whose last value is NaN gives NaN. The q values travel in the parameters, up to
// QUANTILE_MAX_Q per dispatch, as fields q_0 .. q_{count-1}: parameters cannot be indexed at run
// time, so the structs (and kernels) are built per count and pick their q by constant index.
export const QUANTILE_MAX_Q = 48;

const quantileFields = (count: number) =>
  ({
    /** count * lines */
    total: 'u32',
    /** outer * inner */
    lines: 'u32',
    n: 'u32',
    inner: 'u32',
    sOffset: 'u32',
    /** the row of out ([nq, lines]) that takes this dispatch's first q */
    outRow: 'u32',
    q: ['f32', count],
  }) as const;

const quantileBackwardFields = (count: number) =>
  ({
    /** outer * n * inner */
    total: 'u32',
    lines: 'u32',
    n: 'u32',
    inner: 'u32',
    /** the gradient's offset at this dispatch's first q row */
    gOffset: 'u32',
    q: ['f32', count],
  }) as const;

export type QuantileParams = ParamStruct<ReturnType<typeof quantileFields>>;
export type QuantileBackwardParams = ParamStruct<ReturnType<typeof quantileBackwardFields>>;

const forwardByCount = new Map<number, QuantileParams>();
const backwardByCount = new Map<number, QuantileBackwardParams>();

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > QUANTILE_MAX_Q) throw new Error(`quantile: ${count} q values per dispatch (1 to ${QUANTILE_MAX_Q})`);
}

/** quantile's parameters for a dispatch of `count` q values. */
export function quantileParams(count: number): QuantileParams {
  checkCount(count);
  let p = forwardByCount.get(count);
  if (!p) forwardByCount.set(count, (p = paramStruct('QuantileParams', quantileFields(count))));
  return p;
}

/** quantile's backward parameters for a dispatch of `count` q values. */
export function quantileBackwardParams(count: number): QuantileBackwardParams {
  checkCount(count);
  let p = backwardByCount.get(count);
  if (!p) backwardByCount.set(count, (p = paramStruct('QuantileBackwardParams', quantileBackwardFields(count))));
  return p;
}

const QFN = `
fn qrank(q: f32, n: u32) -> vec3<f32> {
  let rank = q * f32(n - 1u);
  let lo = trunc(rank);
  return vec3<f32>(lo, ceil(rank), rank - lo);
}`;

export function quantileForward(count: number): Kernel {
  const P = quantileParams(count);
  // q[qi] as flat selects (qi varies across invocations; nested selects would nest 47 deep)
  const pick = P.at.q
    .slice(1)
    .map((q, k) => `\n  qv = select(qv, ${q}, qi == ${k + 1}u);`)
    .join('');
  return {
    name: 'quantile',
    key: `quantile:fwd:${count}`,
    code: () => `${P.decl}
${storage(1, 's', 'f32')}
${storage(2, 'out', 'f32', true)}
${QFN}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
  let R = ${P.at.lines}; let n = ${P.at.n}; let inner = ${P.at.inner};
  let qi = gi / R; let r = gi % R;
  let base = ${P.at.sOffset} + (r / inner) * n * inner + r % inner;
  var qv = ${P.at.q[0]};${pick}
  let rk = qrank(qv, n);
  let a = s[base + u32(rk.x) * inner];
  let b = s[base + u32(rk.y) * inner];
  let w = rk.z;
  var v = select(b - (b - a) * (1.0 - w), a + w * (b - a), w < 0.5);
  let last = s[base + (n - 1u) * inner];
  if ((bitcast<u32>(last) & 0x7fffffffu) > 0x7f800000u) { v = last; }
  out[(${P.at.outRow}) * R + gi] = v;
}`,
  };
}

// Gradient w.r.t. the sorted values: d/da = 1 - w, d/db = w (torch's lerp backward).
export function quantileBackward(count: number): Kernel {
  const P = quantileBackwardParams(count);
  return {
    name: 'quantile.backward',
    key: `quantile:bwd:${count}`,
    code: () => `${P.decl}
${storage(1, 'g', 'f32')}
${storage(2, 'out', 'f32', true)}
${QFN}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
  let R = ${P.at.lines}; let n = ${P.at.n}; let inner = ${P.at.inner}; let nq = ${count}u;
  let i = gi % inner; let t = f32((gi / inner) % n); let o = gi / (inner * n);
  let r = o * inner + i;
  // the loop indexes the q values: a private copy can be indexed at run time, the parameters not
  var qs = array<f32, ${count}>(${P.at.q.join(', ')});
  var acc = 0.0;
  for (var qi = 0u; qi < nq; qi++) {
    let rk = qrank(qs[qi], n);
    let gv = g[${P.at.gOffset} + qi * R + r];
    if (t == rk.x) { acc += gv * (1.0 - rk.z); }
    if (t == rk.y) { acc += gv * rk.z; }
  }
  out[gi] = acc;
}`,
  };
}
