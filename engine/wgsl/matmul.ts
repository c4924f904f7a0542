// Register-tiled matmul generator: C[b] = A[b] @ B[b] (+ bias), any operand strides.
// Each invocation owns a 4x8 tile of C held in two mat4x4 accumulators and walks K four at a
// time, loading 4x4 blocks of A and B as vec4s along whichever axis is contiguous (so A^T and
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

export const DEFAULT_VARIANT: MatmulVariant = { wgx: 8, wgy: 8 };

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
      const loadA = {
        // rows m (clamped), 4 consecutive k
        row: `let r0 = A[(offA + min(m0, M - 1u) * sAm + k0) / 4u];
  let r1 = A[(offA + min(m0 + 1u, M - 1u) * sAm + k0) / 4u];
  let r2 = A[(offA + min(m0 + 2u, M - 1u) * sAm + k0) / 4u];
  let r3 = A[(offA + min(m0 + 3u, M - 1u) * sAm + k0) / 4u];
  return transpose(mat4x4<f32>(r0, r1, r2, r3));`,
        // columns k hold 4 consecutive m (M % 4 == 0, m0 clamped to the last full block)
        col: `let mm = min(m0, M - 4u);
  return mat4x4<f32>(A[(offA + k0 * sAk + mm) / 4u], A[(offA + (k0 + 1u) * sAk + mm) / 4u],
                     A[(offA + (k0 + 2u) * sAk + mm) / 4u], A[(offA + (k0 + 3u) * sAk + mm) / 4u]);`,
        scalar: `var t: mat4x4<f32>;
  for (var c = 0u; c < 4u; c++) {
    let k = k0 + c;
    for (var r = 0u; r < 4u; r++) {
      let m = m0 + r;
      let ok = m < M && k < K;
      t[c][r] = select(0.0, A[select(0u, offA + m * sAm + k * sAk, ok)], ok);
    }
  }
  return t;`,
      }[a];
      const loadB = {
        // rows k, 4 consecutive n (N % 4 == 0)
        row: `let nn = min(n0, N - 4u);
  let r0 = B[(offB + k0 * sBk + nn) / 4u];
  let r1 = B[(offB + (k0 + 1u) * sBk + nn) / 4u];
  let r2 = B[(offB + (k0 + 2u) * sBk + nn) / 4u];
  let r3 = B[(offB + (k0 + 3u) * sBk + nn) / 4u];
  return transpose(mat4x4<f32>(r0, r1, r2, r3));`,
        // columns n (clamped) hold 4 consecutive k
        col: `return mat4x4<f32>(B[(offB + min(n0, N - 1u) * sBn + k0) / 4u], B[(offB + min(n0 + 1u, N - 1u) * sBn + k0) / 4u],
                     B[(offB + min(n0 + 2u, N - 1u) * sBn + k0) / 4u], B[(offB + min(n0 + 3u, N - 1u) * sBn + k0) / 4u]);`,
        scalar: `var t: mat4x4<f32>;
  for (var c = 0u; c < 4u; c++) {
    let n = n0 + c;
    for (var r = 0u; r < 4u; r++) {
      let k = k0 + r;
      let ok = n < N && k < K;
      t[c][r] = select(0.0, B[select(0u, offB + k * sBk + n * sBn, ok)], ok);
    }
  }
  return t;`,
      }[b];
      const batchCode: string[] = [];
      for (let d = batchRank - 1; d >= 0; d--) {
        batchCode.push(`  { let sz = ${pu(9 + d)}; let id = rem % sz; rem = rem / sz; oa += id * ${pu(12 + d)}; ob += id * ${pu(15 + d)}; }`);
      }
      const store = cVec
        ? `  let ct0 = transpose(acc0);
  let ct1 = transpose(acc1);
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r;
    if (m >= M) { break; }
    let rowBase = (cBase + m * N + n0) / 4u;
    if (n0 < N) { C[rowBase] = ct0[r]${bias ? ' + bias0' : ''}; }
    if (n0 + 4u < N) { C[rowBase + 1u] = ct1[r]${bias ? ' + bias1' : ''}; }
  }`
        : `  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r;
    if (m >= M) { break; }
    for (var c = 0u; c < 8u; c++) {
      let n = n0 + c;
      if (n >= N) { break; }
      var v: f32;
      if (c < 4u) { v = acc0[c][r]; } else { v = acc1[c - 4u][r]; }
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

fn loadA(m0: u32, k0: u32) -> mat4x4<f32> {
  ${loadA}
}
fn loadB(k0: u32, n0: u32) -> mat4x4<f32> {
  ${loadB}
}

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
  var acc0 = mat4x4<f32>();
  var acc1 = mat4x4<f32>();
  for (var k0 = 0u; k0 < K; k0 += 4u) {
    let a = loadA(m0, k0);
    acc0 += a * loadB(k0, n0);
    acc1 += a * loadB(k0, n0 + 4u);
  }
${biasLoad}
${store}
}`;
    },
  };
}
