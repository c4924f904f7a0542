// Register-tiled matmul generator: C[b] = A[b] @ B[b] (+ bias), any operand strides.
// Each invocation owns a 4x8 tile of C (8 vec4 accumulators) and walks K four at a time,
// loading 4x4 blocks of A and B as vec4s along whichever axis is contiguous (so A^T and
// B^T cost nothing) or element by element with bounds checks when no axis is vec4-aligned.
// No workgroup memory or barriers: on CPU Vulkan (lavapipe) barriers cost more than they save,
// and llvmpipe vectorises across invocations; on real GPUs the L1 cache serves the reuse.
import type { Kernel } from '../runtime.ts';
import { PARAMS_DECL, pu } from './common.ts';

/** How an operand is read: vec4 along its row axis, along its column axis, or scalar. */
export type Layout = 'row' | 'col' | 'scalar';

export interface MatmulVariant {
  /** Workgroup size (x covers N in steps of 8, y covers M in steps of 4). */
  wgx: number;
  wgy: number;
}

export const DEFAULT_VARIANT: MatmulVariant = { wgx: 16, wgy: 8 };

/** Named variants (selectable with setMatmulVariant('wg16x8') or GLASS_MATMUL_VARIANT). */
export const MATMUL_VARIANTS: Record<string, MatmulVariant> = {
  wg8x8: { wgx: 8, wgy: 8 },
  wg16x8: { wgx: 16, wgy: 8 },
  wg8x16: { wgx: 8, wgy: 16 },
  wg16x16: { wgx: 16, wgy: 16 },
  wg4x16: { wgx: 4, wgy: 16 },
  wg32x4: { wgx: 32, wgy: 4 },
  wg64x1: { wgx: 64, wgy: 1 },
};

export function variantByName(name: string): MatmulVariant {
  const v = MATMUL_VARIANTS[name];
  if (!v) throw new Error(`matmul: unknown variant '${name}' (${Object.keys(MATMUL_VARIANTS).join(', ')})`);
  return v;
}

export interface MatmulConfig {
  /** A is [M, K]: 'row' = K contiguous, 'col' = M contiguous. */
  a: Layout;
  /** B is [K, N]: 'row' = N contiguous, 'col' = K contiguous. */
  b: Layout;
  /** C's N is a multiple of 4: vec4 stores. */
  cVec: boolean;
  bias: boolean;
  batchRank: number;
  variant: MatmulVariant;
}

// Param word layout (u32): 0 M, 1 N, 2 K, 3 offA, 4 offB, 5 sAm, 6 sAk, 7 sBk, 8 sBn,
// 9..11 batch shape, 12..14 A batch strides, 15..17 B batch strides, 18 offBias
export function matmulKernel(cfg: MatmulConfig): Kernel {
  const { a, b, cVec, bias, batchRank, variant } = cfg;
  const key = `matmul:${a}:${b}:${cVec}:${bias}:${batchRank}:${variant.wgx}x${variant.wgy}`;
  return {
    name: 'matmul',
    key,
    code: () => {
      const aT = a === 'scalar' ? 'f32' : 'vec4<f32>';
      const bT = b === 'scalar' ? 'f32' : 'vec4<f32>';
      // Every layout is turned into the same canonical blocks: aR[r] = A[m0+r, k0..k0+3] and
      // bR[kk] = B[k0+kk, n0..n0+3], bS[kk] = B[k0+kk, n0+4..n0+7]; accumulation is then a
      // broadcast-scalar times vec4 FMA per (row, k), 32 vec4 FMAs per 4-k step.
      const loadA = {
        row: `var aR: array<vec4<f32>, 4>;
    for (var r = 0u; r < 4u; r++) { aR[r] = A[(offA + min(m0 + r, M - 1u) * sAm + k0) / 4u]; }`,
        col: `let mm = min(m0, M - 4u);
    let aC = mat4x4<f32>(A[(offA + k0 * sAk + mm) / 4u], A[(offA + (k0 + 1u) * sAk + mm) / 4u],
                         A[(offA + (k0 + 2u) * sAk + mm) / 4u], A[(offA + (k0 + 3u) * sAk + mm) / 4u]);
    let aT = transpose(aC);
    var aR: array<vec4<f32>, 4>;
    for (var r = 0u; r < 4u; r++) { aR[r] = aT[r]; }`,
        scalar: `var aR: array<vec4<f32>, 4>;
    for (var r = 0u; r < 4u; r++) {
      let m = m0 + r;
      for (var c = 0u; c < 4u; c++) {
        let k = k0 + c;
        let ok = m < M && k < K;
        aR[r][c] = select(0.0, A[select(0u, offA + m * sAm + k * sAk, ok)], ok);
      }
    }`,
      }[a];
      const loadB = {
        row: `var bR: array<vec4<f32>, 4>; var bS: array<vec4<f32>, 4>;
    let nn = min(n0, N - 4u);
    let nn2 = min(n0 + 4u, N - 4u);
    for (var kk = 0u; kk < 4u; kk++) {
      bR[kk] = B[(offB + (k0 + kk) * sBk + nn) / 4u];
      bS[kk] = B[(offB + (k0 + kk) * sBk + nn2) / 4u];
    }`,
        col: `let c0 = transpose(mat4x4<f32>(B[(offB + min(n0, N - 1u) * sBn + k0) / 4u], B[(offB + min(n0 + 1u, N - 1u) * sBn + k0) / 4u],
                     B[(offB + min(n0 + 2u, N - 1u) * sBn + k0) / 4u], B[(offB + min(n0 + 3u, N - 1u) * sBn + k0) / 4u]));
    let c1 = transpose(mat4x4<f32>(B[(offB + min(n0 + 4u, N - 1u) * sBn + k0) / 4u], B[(offB + min(n0 + 5u, N - 1u) * sBn + k0) / 4u],
                     B[(offB + min(n0 + 6u, N - 1u) * sBn + k0) / 4u], B[(offB + min(n0 + 7u, N - 1u) * sBn + k0) / 4u]));
    var bR: array<vec4<f32>, 4>; var bS: array<vec4<f32>, 4>;
    for (var kk = 0u; kk < 4u; kk++) { bR[kk] = c0[kk]; bS[kk] = c1[kk]; }`,
        scalar: `var bR: array<vec4<f32>, 4>; var bS: array<vec4<f32>, 4>;
    for (var kk = 0u; kk < 4u; kk++) {
      let k = k0 + kk;
      for (var c = 0u; c < 8u; c++) {
        let n = n0 + c;
        let ok = n < N && k < K;
        let v = select(0.0, B[select(0u, offB + k * sBk + n * sBn, ok)], ok);
        if (c < 4u) { bR[kk][c] = v; } else { bS[kk][c - 4u] = v; }
      }
    }`,
      }[b];
      const batchCode: string[] = [];
      for (let d = batchRank - 1; d >= 0; d--) {
        batchCode.push(`  { let sz = ${pu(9 + d)}; let id = rem % sz; rem = rem / sz; oa += id * ${pu(12 + d)}; ob += id * ${pu(15 + d)}; }`);
      }
      const store = cVec
        ? `  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r;
    if (m >= M) { break; }
    let rowBase = (cBase + m * N + n0) / 4u;
    if (n0 < N) { C[rowBase] = acc0[r]${bias ? ' + bias0' : ''}; }
    if (n0 + 4u < N) { C[rowBase + 1u] = acc1[r]${bias ? ' + bias1' : ''}; }
  }`
        : `  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r;
    if (m >= M) { break; }
    for (var c = 0u; c < 8u; c++) {
      let n = n0 + c;
      if (n >= N) { break; }
      var v: f32;
      if (c < 4u) { v = acc0[r][c]; } else { v = acc1[r][c - 4u]; }
      ${bias ? 'v = v + Bias[offBias + n];' : ''}
      C[cBase + m * N + n] = v;
    }
  }`;
      const biasLoad =
        bias && cVec
          ? `  var bias0 = vec4<f32>(0.0); var bias1 = vec4<f32>(0.0);
  if (n0 < N) { for (var c = 0u; c < 4u; c++) { bias0[c] = Bias[offBias + n0 + c]; } }
  if (n0 + 4u < N) { for (var c = 0u; c < 4u; c++) { bias1[c] = Bias[offBias + n0 + 4u + c]; } }`
          : '';
      return `${PARAMS_DECL}
@group(0) @binding(1) var<storage, read> A: array<${aT}>;
@group(0) @binding(2) var<storage, read> B: array<${bT}>;
@group(0) @binding(3) var<storage, read_write> C: array<${cVec ? 'vec4<f32>' : 'f32'}>;
${bias ? '@group(0) @binding(4) var<storage, read> Bias: array<f32>;' : ''}
var<private> M: u32; var<private> N: u32; var<private> K: u32;
var<private> offA: u32; var<private> offB: u32;
var<private> sAm: u32; var<private> sAk: u32; var<private> sBk: u32; var<private> sBn: u32;

@compute @workgroup_size(${variant.wgx}, ${variant.wgy})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  M = ${pu(0)}; N = ${pu(1)}; K = ${pu(2)};
  sAm = ${pu(5)}; sAk = ${pu(6)}; sBk = ${pu(7)}; sBn = ${pu(8)};
  let n0 = gid.x * 8u;
  let m0 = gid.y * 4u;
  if (n0 >= N || m0 >= M) { return; }
  var rem = gid.z;
  var oa = ${pu(3)};
  var ob = ${pu(4)};
${batchCode.join('\n')}
  offA = oa; offB = ob;
  let offBias = ${pu(18)};
  let cBase = gid.z * M * N;
  var acc0: array<vec4<f32>, 4>;
  var acc1: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < K; k0 += 4u) {
    ${loadA}
    ${loadB}
    for (var kk = 0u; kk < 4u; kk++) {
      for (var r = 0u; r < 4u; r++) {
        let av = vec4<f32>(aR[r][kk]);
        acc0[r] = fma(av, bR[kk], acc0[r]);
        acc1[r] = fma(av, bS[kk], acc1[r]);
      }
    }
  }
${biasLoad}
${store}
}`;
    },
  };
}
