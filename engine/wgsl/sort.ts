// Kernels for ops/sort.ts: a bitonic sort of (value, index) pairs over segments padded to a
// power of two P, one segment per line of x viewed as [outer, n, inner]. The order is total
// (ties broken by the original index, NaN after +inf ascending / first descending, padding
// always last), so the result equals torch.sort(stable=True). Steps with a partner distance
// j >= L are one dispatch each; runs of steps with j < L happen in registers, L elements per
// invocation (L = 64), so a sort of P = 8192 takes 36 dispatches instead of 91.
import type { Kernel } from '../runtime/dispatch.ts';
import { PARAMS_DECL, main1d, pu, storage } from './common.ts';

// Sort params: 0 invocations, 1 P, 2 n, 3 desc, 4 k (or kStart), 5 j (or kEnd)
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

// params: 0 R*P, 1 P, 2 n, 3 inner, 4 x offset
export function sortInit(T: string): Kernel {
  return {
    name: 'sort.init',
    key: `sort.init:${T}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'x', T)}
${storage(2, 'keys', T, true)}
${storage(3, 'idx', 'i32', true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let P = ${pu(1)}; let n = ${pu(2)}; let inner = ${pu(3)};
  let r = gi / P; let t = gi % P;
  var v = ${T}(0);
  if (t < n) { v = x[${pu(4)} + (r / inner) * n * inner + t * inner + r % inner]; }
  keys[gi] = v;
  idx[gi] = i32(t);
}`,
  };
}

export function sortGlobalStep(T: string): Kernel {
  return {
    name: 'sort.step',
    key: `sort.step:${T}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'keys', T, true)}
${storage(2, 'idx', 'i32', true)}
${before(T)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let P = ${pu(1)}; let n = i32(${pu(2)}); let desc = ${pu(3)} == 1u; let k = ${pu(4)}; let j = ${pu(5)};
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

/** All steps with partner distance < L for stages k in [kStart, kEnd], L elements per invocation (params: ..., kStart, kEnd, L). */
export function sortLocalSteps(L: number, T: string): Kernel {
  return {
    name: 'sort.local',
    key: `sort.local:${L}:${T}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'keys', T, true)}
${storage(2, 'idx', 'i32', true)}
${before(T)}
${main1d(LOCAL_WG)}
  if (gi >= ${pu(0)}) { return; }
  let P = ${pu(1)}; let n = i32(${pu(2)}); let desc = ${pu(3)} == 1u;
  // Ln == L, read from the params so LLVM keeps the loops rolled (a 32-way unroll of the
  // compare-exchange took 2.3 s to compile on lavapipe)
  let Ln = ${pu(6)};
  let base = gi * ${L}u;
  let pos0 = base % P;
  var v: array<${T}, ${L}>;
  var ix: array<i32, ${L}>;
  for (var t = 0u; t < Ln; t++) { v[t] = keys[base + t]; ix[t] = idx[base + t]; }
  for (var k = ${pu(4)}; k <= ${pu(5)}; k = k * 2u) {
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
// params: 0 outer*kOut*inner, 1 P, 2 kOut, 3 inner
export function sortFinish(T: string): Kernel {
  return {
    name: 'sort.finish',
    key: `sort.finish:${T}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'keys', T)}
${storage(2, 'idx', 'i32')}
${storage(3, 'vals', T, true)}
${storage(4, 'inds', 'i32', true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let P = ${pu(1)}; let kOut = ${pu(2)}; let inner = ${pu(3)};
  let i = gi % inner; let t = (gi / inner) % kOut; let o = gi / (inner * kOut);
  let src = (o * inner + i) * P + t;
  vals[gi] = keys[src];
  inds[gi] = idx[src];
}`,
  };
}

// Backward of sort/topk: out[o, idx[o,t,i], i] = g[o,t,i]. Indices of a line are distinct, so
// plain stores never collide. params: 0 outer*kOut*inner, 1 kOut, 2 n, 3 inner, 4 g offset, 5 idx offset
export function unsortScatter(): Kernel {
  return {
    name: 'sort.unsort',
    key: 'sort.unsort',
    code: () => `${PARAMS_DECL}
${storage(1, 'g', 'f32')}
${storage(2, 'idx', 'i32')}
${storage(3, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let kOut = ${pu(1)}; let n = ${pu(2)}; let inner = ${pu(3)};
  let i = gi % inner; let o = gi / (inner * kOut);
  out[o * n * inner + u32(idx[${pu(5)} + gi]) * inner + i] = g[${pu(4)} + gi];
}`,
  };
}

// torch.quantile's linear interpolation over sorted lines [outer, n, inner] (ascending, NaN
// last): rank = q * (n - 1) in f32, lerp of the two neighbours with torch's lerp formula; a
// line whose last value is NaN gives NaN. params: 0 nq*R, 1 R, 2 n, 3 inner, 4 s offset,
// 5 out offset (rows), 6.. q values
export const QUANTILE_MAX_Q = 48;
// the uniform's name, for the dynamically indexed q values
const PRM = PARAMS_DECL.match(/var<uniform>\s+(\w+)/)![1];
const qParam = (i: string) => `bitcast<f32>(${PRM}[(6u + ${i}) / 4u][(6u + ${i}) % 4u])`;
const QFN = `
fn qrank(q: f32, n: u32) -> vec3<f32> {
  let rank = q * f32(n - 1u);
  let lo = trunc(rank);
  return vec3<f32>(lo, ceil(rank), rank - lo);
}`;
export function quantileForward(): Kernel {
  return {
    name: 'quantile',
    key: 'quantile:fwd',
    code: () => `${PARAMS_DECL}
${storage(1, 's', 'f32')}
${storage(2, 'out', 'f32', true)}
${QFN}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let R = ${pu(1)}; let n = ${pu(2)}; let inner = ${pu(3)};
  let qi = gi / R; let r = gi % R;
  let base = ${pu(4)} + (r / inner) * n * inner + r % inner;
  let qv = ${qParam('qi')};
  let rk = qrank(qv, n);
  let a = s[base + u32(rk.x) * inner];
  let b = s[base + u32(rk.y) * inner];
  let w = rk.z;
  var v = select(b - (b - a) * (1.0 - w), a + w * (b - a), w < 0.5);
  let last = s[base + (n - 1u) * inner];
  if ((bitcast<u32>(last) & 0x7fffffffu) > 0x7f800000u) { v = last; }
  out[(${pu(5)}) * R + gi] = v;
}`,
  };
}

// Gradient w.r.t. the sorted values: d/da = 1 - w, d/db = w (torch's lerp backward).
// params: 0 outer*n*inner, 1 R, 2 n, 3 inner, 4 nq, 5 g offset, 6.. q values
export function quantileBackward(): Kernel {
  return {
    name: 'quantile.backward',
    key: 'quantile:bwd',
    code: () => `${PARAMS_DECL}
${storage(1, 'g', 'f32')}
${storage(2, 'out', 'f32', true)}
${QFN}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let R = ${pu(1)}; let n = ${pu(2)}; let inner = ${pu(3)}; let nq = ${pu(4)};
  let i = gi % inner; let t = f32((gi / inner) % n); let o = gi / (inner * n);
  let r = o * inner + i;
  var acc = 0.0;
  for (var qi = 0u; qi < nq; qi++) {
    let rk = qrank(${qParam('qi')}, n);
    let gv = g[${pu(5)} + qi * R + r];
    if (t == rk.x) { acc += gv * (1.0 - rk.z); }
    if (t == rk.y) { acc += gv * rk.z; }
  }
  out[gi] = acc;
}`,
  };
}
