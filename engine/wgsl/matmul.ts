// Register-tiled matmul generator: C[b] = A[b] @ B[b] (+ bias), any operand strides.
// Each invocation owns a 4x8 tile of C (8 vec4 accumulators) and walks K four at a time,
// loading 4x4 blocks of A and B as vec4s along whichever axis is contiguous (so A^T and
// B^T cost nothing) or element by element with bounds checks when no axis is vec4-aligned.
// No workgroup memory or barriers: on CPU Vulkan (lavapipe) barriers cost more than they save,
// and llvmpipe vectorises across invocations; on real GPUs the L1 cache serves the reuse.
import type { Kernel } from '../runtime/dispatch.ts';
import { C4, storeRows, activate, type Activation } from './common.ts';
import { paramStruct } from './params.ts';

/** How an operand is read: vec4 along its row axis, along its column axis, or scalar. */
export type Layout = 'row' | 'col' | 'scalar';

/**
 * Parameters of every matmul kernel (tiled, subgroup, gemv): C [batch, M, N] = A [M, K] @ B [K, N].
 * Offsets and strides in elements; a stride of a size-1 dim is 0. The batch dims are merged where
 * they can be and padded to 3 (size 1, strides 0). biasOffset: the bias's offset (0 without one).
 */
export const MatmulParams = paramStruct('MatmulParams', {
  M: 'u32',
  N: 'u32',
  K: 'u32',
  aOffset: 'u32',
  bOffset: 'u32',
  aStrideM: 'u32',
  aStrideK: 'u32',
  bStrideK: 'u32',
  bStrideN: 'u32',
  batchShape: ['u32', 3],
  aBatchStrides: ['u32', 3],
  bBatchStrides: ['u32', 3],
  biasOffset: 'u32',
});
const P = MatmulParams.at;

export interface MatmulVariant {
  /** Workgroup size (x covers N, y covers M). */
  wgx: number;
  wgy: number;
  /** Rows of C per invocation (a multiple of 4) and vec4 columns per invocation. */
  tm?: number;
  tnv?: number;
  /**
   * Subgroup kernel (matmulSgKernel): a 1-D workgroup of wgx lanes along N sharing tm rows of A
   * through subgroupBroadcast. Used only where the device has subgroups and both operands have
   * a vec4 layout; elsewhere the plain kernel with the same tile runs instead.
   */
  sg?: boolean;
}

export const DEFAULT_VARIANT: MatmulVariant = { wgx: 16, wgy: 8, tm: 4, tnv: 2 };

/** Named variants (selectable with setMatmulVariant('wg16x8') or WGT_MATMUL_VARIANT). */
export const MATMUL_VARIANTS: Record<string, MatmulVariant> = {
  wg8x8: { wgx: 8, wgy: 8 },
  wg16x8: { wgx: 16, wgy: 8 },
  wg8x16: { wgx: 8, wgy: 16 },
  wg16x16: { wgx: 16, wgy: 16 },
  wg4x16: { wgx: 4, wgy: 16 },
  wg32x4: { wgx: 32, wgy: 4 },
  wg64x1: { wgx: 64, wgy: 1 },
  't8x2.wg16x8': { wgx: 16, wgy: 8, tm: 8, tnv: 2 },
  't4x4.wg16x8': { wgx: 16, wgy: 8, tm: 4, tnv: 4 },
  't8x4.wg8x8': { wgx: 8, wgy: 8, tm: 8, tnv: 4 },
  't4x1.wg16x16': { wgx: 16, wgy: 16, tm: 4, tnv: 1 },
  'sg.t64x4.wg16': { wgx: 16, wgy: 1, tm: 64, tnv: 1, sg: true },
  'sg.t32x4.wg16': { wgx: 16, wgy: 1, tm: 32, tnv: 1, sg: true },
  'sg.t32x4.wg64': { wgx: 64, wgy: 1, tm: 32, tnv: 1, sg: true },
  'sg.t16x4.wg8': { wgx: 8, wgy: 1, tm: 16, tnv: 1, sg: true },
  'sg.t32x8.wg32': { wgx: 32, wgy: 1, tm: 32, tnv: 2, sg: true },
  'sg.t8x8.wg64': { wgx: 64, wgy: 1, tm: 8, tnv: 2, sg: true },
};

/**
 * The default where the device has subgroups and both operands have vec4 layouts: 32 rows x 4
 * columns per lane, 16 lanes along N, from 64 rows up; 16 x 4 on 8 lanes below. On lavapipe
 * 32 x 4 beat the 64 x 4 tile formerly used for M >= 512 at every measured shape (square
 * products up to 2048^3, tall ones such as 10368x1536x1024); a 64 x 16 tile on one
 * 8-lane subgroup came close but took far longer to compile (LLVM) per pipeline.
 * Measurements: docs/PERF.md.
 */
export function defaultSgVariant(M: number): MatmulVariant {
  return MATMUL_VARIANTS[M >= 64 ? 'sg.t32x4.wg16' : 'sg.t16x4.wg8'];
}

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
  /** The bias is per row of C (indexed by m; [M]) instead of per column ([N]). */
  biasRows?: boolean;
  /** Activation applied to the (biased) result as it is stored. */
  act?: Activation | null;
  batchRank: number;
  variant: MatmulVariant;
}

/**
 * Bias add (per column, or per row with `biasRows`), activation and bounds-checked stores of a
 * tm x (4*tnv) accumulator tile (acc{r}_{q}), by rows.
 */
function storeTile(tm: number, tnv: number, cVec: boolean, bias: boolean, live: string, biasRows = false, act: Activation | null = null): string[] {
  const S: string[] = [];
  if (bias && !biasRows)
    for (let q = 0; q < tnv; q++)
      S.push(
        `  var bias${q} = vec4<f32>(0.0);`,
        ...[0, 1, 2, 3].map((i) => `  if (n0 + ${4 * q + i}u < N) { bias${q}.${C4[i]} = Bias[offBias + n0 + ${4 * q + i}u]; }`),
      );
  const body = [`    let row = cBase + (m0 + r) * N + n0;`];
  if (bias && biasRows) body.push(`    let biasR = vec4<f32>(Bias[offBias + m0 + r]);`);
  for (let q = 0; q < tnv; q++) {
    body.push(`    { let v = ${activate(`tile[r * ${tnv}u + ${q}u]${bias ? (biasRows ? ' + biasR' : ` + bias${q}`) : ''}`, act, 'vec4<f32>')};`);
    if (cVec) body.push(`      if (n0 + ${4 * q}u < N) { C[(row + ${4 * q}u) / 4u] = v; }`);
    else for (let i = 0; i < 4; i++) body.push(`      if (n0 + ${4 * q + i}u < N) { C[row + ${4 * q + i}u] = v.${C4[i]}; }`);
    body.push('    }');
  }
  const accs = Array.from({ length: tm * tnv }, (_, i) => `acc${Math.floor(i / tnv)}_${i % tnv}`);
  return [...S, ...storeRows({ live, type: 'vec4<f32>', accs, rows: `min(${tm}u, M - min(m0, M))`, r: 'r', body })];
}

/** Bindings every matmul kernel declares: A, B (element types given), C and the optional bias. */
function operandBindings(aT: string, bT: string, cT: string, bias: boolean): string {
  return `@group(0) @binding(1) var<storage, read> A: array<${aT}>;
@group(0) @binding(2) var<storage, read> B: array<${bT}>;
@group(0) @binding(3) var<storage, read_write> C: array<${cT}>;
${bias ? '@group(0) @binding(4) var<storage, read> Bias: array<f32>;' : ''}`;
}

/** `oa`, `ob`: element offsets of A and B for batch index `z` (the merged batch dims). */
function batchOffsets(batchRank: number, z: string): string {
  const out = [`  var rem = ${z};`, `  var oa = ${P.aOffset};`, `  var ob = ${P.bOffset};`];
  for (let d = batchRank - 1; d >= 0; d--)
    out.push(`  { let sz = ${P.batchShape[d]}; let id = rem % sz; rem = rem / sz; oa += id * ${P.aBatchStrides[d]}; ob += id * ${P.bBatchStrides[d]}; }`);
  return out.join('\n');
}

function accumulators(tm: number, tnv: number): string[] {
  const out: string[] = [];
  for (let r = 0; r < tm; r++) for (let q = 0; q < tnv; q++) out.push(`  var acc${r}_${q} = vec4<f32>(0.0);`);
  return out;
}

// Parameters: MatmulParams. The k loop is fully unrolled (registers, no private arrays; only the final store goes through
// one, see storeRows): per 4-k step each
// invocation loads tm/4 or tm vec4s of A and 4*tnv vec4s of B and issues 4*tm*tnv vec4 FMAs.
export function matmulKernel(cfg: MatmulConfig): Kernel {
  const { a, b, cVec, bias, batchRank, variant } = cfg;
  const epi = `${cfg.biasRows ? ':brow' : ''}${cfg.act ? `:${cfg.act}` : ''}`;
  const tm = variant.tm ?? 4;
  const tnv = variant.tnv ?? 2;
  const tn = 4 * tnv;
  const key = `matmul:${a}:${b}:${cVec}:${bias}:${batchRank}:${variant.wgx}x${variant.wgy}:t${tm}x${tnv}${epi}`;
  return {
    name: 'matmul',
    key,
    code: () => {
      const L: string[] = [];
      // ---- loads of one 4-k step ----
      if (a === 'row') for (let r = 0; r < tm; r++) L.push(`    let a${r} = A[(offA + min(m0 + ${r}u, M - 1u) * sAm + k0) / 4u];`);
      else if (a === 'col')
        for (let blk = 0; blk < tm / 4; blk++)
          for (let kk = 0; kk < 4; kk++) L.push(`    let c${blk}_${kk} = A[(offA + (k0 + ${kk}u) * sAk + min(m0 + ${4 * blk}u, M - 4u)) / 4u];`);
      else
        for (let r = 0; r < tm; r++)
          for (let kk = 0; kk < 4; kk++)
            L.push(
              `    let a${r}_${kk} = select(0.0, A[select(0u, offA + (m0 + ${r}u) * sAm + (k0 + ${kk}u) * sAk, m0 + ${r}u < M && k0 + ${kk}u < K)], m0 + ${r}u < M && k0 + ${kk}u < K);`,
            );
      if (b === 'row')
        for (let kk = 0; kk < 4; kk++)
          for (let q = 0; q < tnv; q++) L.push(`    let b${kk}_${q} = B[(offB + (k0 + ${kk}u) * sBk + min(n0 + ${4 * q}u, N - 4u)) / 4u];`);
      else if (b === 'col') for (let j = 0; j < tn; j++) L.push(`    let d${j} = B[(offB + min(n0 + ${j}u, N - 1u) * sBn + k0) / 4u];`);
      else
        for (let kk = 0; kk < 4; kk++)
          for (let j = 0; j < tn; j++)
            L.push(
              `    let e${kk}_${j} = select(0.0, B[select(0u, offB + (k0 + ${kk}u) * sBk + (n0 + ${j}u) * sBn, n0 + ${j}u < N && k0 + ${kk}u < K)], n0 + ${j}u < N && k0 + ${kk}u < K);`,
            );
      const aS = (r: number, kk: number) => (a === 'row' ? `a${r}.${C4[kk]}` : a === 'col' ? `c${r >> 2}_${kk}.${C4[r & 3]}` : `a${r}_${kk}`);
      const bV = (kk: number, q: number) =>
        b === 'row'
          ? `b${kk}_${q}`
          : b === 'col'
            ? `vec4<f32>(${[0, 1, 2, 3].map((i) => `d${4 * q + i}.${C4[kk]}`).join(', ')})`
            : `vec4<f32>(${[0, 1, 2, 3].map((i) => `e${kk}_${4 * q + i}`).join(', ')})`;
      if (b !== 'row') for (let kk = 0; kk < 4; kk++) for (let q = 0; q < tnv; q++) L.push(`    let b${kk}_${q} = ${bV(kk, q)};`);
      for (let kk = 0; kk < 4; kk++)
        for (let r = 0; r < tm; r++) for (let q = 0; q < tnv; q++) L.push(`    acc${r}_${q} = fma(vec4<f32>(${aS(r, kk)}), b${kk}_${q}, acc${r}_${q});`);
      const S = storeTile(tm, tnv, cVec, bias, 'true', cfg.biasRows, cfg.act);
      const accs = accumulators(tm, tnv);
      return `${MatmulParams.decl}
${operandBindings(a === 'scalar' ? 'f32' : 'vec4<f32>', b === 'scalar' ? 'f32' : 'vec4<f32>', cVec ? 'vec4<f32>' : 'f32', bias)}

@compute @workgroup_size(${variant.wgx}, ${variant.wgy})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = ${P.M}; let N = ${P.N}; let K = ${P.K};
  let sAm = ${P.aStrideM}; let sAk = ${P.aStrideK}; let sBk = ${P.bStrideK}; let sBn = ${P.bStrideN};
  let n0 = gid.x * ${tn}u;
  let m0 = gid.y * ${tm}u;
  if (n0 >= N || m0 >= M) { return; }
${batchOffsets(batchRank, 'gid.z')}
  let offA = oa; let offB = ob;
  let offBias = ${P.biasOffset};
  let cBase = gid.z * M * N;
${accs.join('\n')}
  for (var k0 = 0u; k0 < K; k0 += 4u) {
${L.join('\n')}
  }
${S.join('\n')}
}`;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Subgroup variant: every lane of a workgroup shares the same tm rows of A, so each A vec4 is
// loaded by one lane and handed to the others with subgroupBroadcast (a register shuffle on
// lavapipe, where each per-lane storage load costs tens of FMAs). Per 4-k step a lane loads tn
// vec4s of B and tm/sg vec4s of A and issues tm*tn vec4 FMAs, against 12 loads per 32 FMAs in
// the plain kernel. Requires vec4 layouts for A ('row' or 'col') and B ('row' or 'col').
export interface MatmulSgConfig {
  a: 'row' | 'col';
  b: 'row' | 'col';
  cVec: boolean;
  bias: boolean;
  biasRows?: boolean;
  act?: Activation | null;
  batchRank: number;
  tm: number;
  tn: number;
  wg: number;
  sg: number;
  /**
   * One batch dim whose A is shared (batch stride 0), laid along N: lanes cover batch * N columns
   * (N a multiple of tn, so a lane's columns lie in one item) and the grid has no z. Why: a conv
   * 1x1's batched W @ X[b] has N = H*W, often ragged against the 4*wg columns of a workgroup
   * (14x14 = 196 of 256: a quarter of the lanes idle); over 8 images the waste is one partial
   * workgroup. Same arithmetic per output, same bits.
   */
  foldBatch?: boolean;
}

export function matmulSgKernel(cfg: MatmulSgConfig): Kernel {
  const { a, b, cVec, bias, batchRank, tm, tn, wg, sg } = cfg;
  const epi = `${cfg.biasRows ? ':brow' : ''}${cfg.act ? `:${cfg.act}` : ''}`;
  const key = `matmul.sg:${a}:${b}:${cVec}:${bias}:${batchRank}:t${tm}x${tn}:wg${wg}:sg${sg}${epi}${cfg.foldBatch ? ':fold' : ''}`;
  return {
    name: 'matmul',
    key,
    code: () => {
      const tnv = tn / 4;
      const rounds = Math.ceil(tm / sg);
      const L: string[] = [];
      // A: tm vec4s per 4-k step ('row': one per row over 4 k; 'col': one per (4-row block, k))
      for (let r = 0; r < rounds; r++) {
        if (a === 'row') L.push(`    let al${r} = A[(offA + min(m0 + min(${r * sg}u + lane, ${tm - 1}u), M - 1u) * sAm + k0) / 4u];`);
        else L.push(`    let al${r} = A[(offA + (k0 + aK${r}) * sAk + min(m0 + aM${r}, M - 4u)) / 4u];`);
      }
      if (b === 'row')
        for (let kk = 0; kk < 4; kk++) for (let q = 0; q < tnv; q++) L.push(`    let b${kk}_${q} = B[(offB + (k0 + ${kk}u) * sBk + nB${q}) / 4u];`);
      else for (let j = 0; j < tn; j++) L.push(`    let d${j} = B[(offB + nB${j} * sBn + k0) / 4u];`);
      if (b === 'col')
        for (let kk = 0; kk < 4; kk++)
          for (let q = 0; q < tnv; q++) L.push(`    let b${kk}_${q} = vec4<f32>(${[0, 1, 2, 3].map((i) => `d${4 * q + i}.${C4[kk]}`).join(', ')});`);
      const bc = (i: number) => `subgroupBroadcast(al${Math.floor(i / sg)}, ${i % sg}u)`;
      if (a === 'row') {
        for (let r = 0; r < tm; r++) {
          L.push(`    let a${r} = ${bc(r)};`);
          for (let kk = 0; kk < 4; kk++) for (let q = 0; q < tnv; q++) L.push(`    acc${r}_${q} = fma(vec4<f32>(a${r}.${C4[kk]}), b${kk}_${q}, acc${r}_${q});`);
        }
      } else {
        for (let blk = 0; blk < tm / 4; blk++)
          for (let kk = 0; kk < 4; kk++) {
            L.push(`    let c${blk}_${kk} = ${bc(blk * 4 + kk)};`);
            for (let rr = 0; rr < 4; rr++)
              for (let q = 0; q < tnv; q++)
                L.push(`    acc${blk * 4 + rr}_${q} = fma(vec4<f32>(c${blk}_${kk}.${C4[rr]}), b${kk}_${q}, acc${blk * 4 + rr}_${q});`);
          }
      }
      // per-lane constant parts of the addresses
      const pre: string[] = [];
      if (a === 'col')
        for (let r = 0; r < rounds; r++) {
          pre.push(`  let ai${r} = min(${r * sg}u + lane, ${tm - 1}u);`);
          pre.push(`  let aK${r} = ai${r} % 4u; let aM${r} = (ai${r} / 4u) * 4u;`);
        }
      if (b === 'row') for (let q = 0; q < tnv; q++) pre.push(`  let nB${q} = min(n0 + ${4 * q}u, N - 4u);`);
      else for (let j = 0; j < tn; j++) pre.push(`  let nB${j} = min(n0 + ${j}u, N - 1u);`);
      const S = storeTile(tm, tnv, cVec, bias, 'live', cfg.biasRows, cfg.act);
      const accs = accumulators(tm, tnv);
      return `enable subgroups;
${MatmulParams.decl}
${operandBindings('vec4<f32>', 'vec4<f32>', cVec ? 'vec4<f32>' : 'f32', bias)}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let M = ${P.M}; let N = ${P.N}; let K = ${P.K};
  let sAm = ${P.aStrideM}; let sAk = ${P.aStrideK}; let sBk = ${P.bStrideK}; let sBn = ${P.bStrideN};
  let lane = sid % ${sg}u;
${
  cfg.foldBatch
    ? `  let ng = (wid.x * ${wg}u + lid) * ${tn}u;
  let live = ng < N * ${P.batchShape[0]};
  let z = min(ng / N, ${P.batchShape[0]} - 1u);
  let n0 = ng - z * N;`
    : `  let z = wid.z;
  let n0 = (wid.x * ${wg}u + lid) * ${tn}u;
  let live = n0 < N;`
}
  let m0 = wid.y * ${tm}u;
${batchOffsets(batchRank, 'z')}
  let offA = oa; let offB = ob;
  let offBias = ${P.biasOffset};
  let cBase = z * M * N;
${pre.join('\n')}
${accs.join('\n')}
  for (var k0 = 0u; k0 < K; k0 += 4u) {
${L.join('\n')}
  }
${S.join('\n')}
}`;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Matrix-vector product (N = 1): one lane per output row, a running dot product over K. The tiled
// kernels spread N over 4*tnv columns per lane and would leave all but one idle; this is the
// memory-bound loop such products are (a one-output linear layer over many rows, such as
// 12544x256 @ 256x1).
// `vec`: A rows contiguous in K and B contiguous, both vec4-aligned, K % 4 == 0: vec4 loads.
// Parameters: MatmulParams (N unused).

/** Rows per workgroup of gemvKernel. */
export const GEMV_WG = 64;

/**
 * `colVec` (A column-major: rows contiguous, M, the offset and the column stride multiples of
 * 4): a lane takes 4 neighbouring rows, reading them as one vec4 per k (each row's running sum
 * in the scalar loop's order, so the same bits), 4x fewer loads for a transposed A (the weight
 * gradient of a one-output linear layer, h^T @ g with h [rows, M]). Launch M / 4 lanes.
 */
export function gemvKernel(cfg: { vec: boolean; bias: boolean; batchRank: number; colVec?: boolean }): Kernel {
  const { vec, bias, batchRank } = cfg;
  if (cfg.colVec) return gemvColKernel(bias, batchRank);
  const T = vec ? 'vec4<f32>' : 'f32';
  const loop = vec
    ? `let ra = (oa + m * sAm) / 4u; let rb = ob / 4u;
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < K / 4u; k++) { acc = fma(A[ra + k], B[rb + k], acc); }
  var s = dot(acc, vec4<f32>(1.0));`
    : `let ra = oa + m * sAm;
  var s = 0.0;
  for (var k = 0u; k < K; k++) { s = fma(A[ra + k * sAk], B[ob + k * sBk], s); }`;
  return {
    name: 'matmul.gemv',
    key: `matmul.gemv:${vec}:${bias}:${batchRank}`,
    code: () => `${MatmulParams.decl}
${operandBindings(T, T, 'f32', bias)}

@compute @workgroup_size(${GEMV_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = ${P.M}; let K = ${P.K};
  let sAm = ${P.aStrideM}; let sAk = ${P.aStrideK}; let sBk = ${P.bStrideK};
  let m = gid.x;
  if (m >= M) { return; }
${batchOffsets(batchRank, 'gid.z')}
  ${loop}
  ${bias ? `s += Bias[${P.biasOffset}];` : ''}
  C[gid.z * M + m] = s;
}`,
  };
}

function gemvColKernel(bias: boolean, batchRank: number): Kernel {
  return {
    name: 'matmul.gemv',
    key: `matmul.gemv:col4:${bias}:${batchRank}`,
    code: () => `${MatmulParams.decl}
${operandBindings('vec4<f32>', 'f32', 'f32', bias)}

@compute @workgroup_size(${GEMV_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = ${P.M}; let K = ${P.K};
  let sAk = ${P.aStrideK}; let sBk = ${P.bStrideK};
  let m4 = gid.x;
  if (m4 * 4u >= M) { return; }
${batchOffsets(batchRank, 'gid.z')}
  let ra = oa / 4u + m4; let sA4 = sAk / 4u;
  var s = vec4<f32>(0.0);
  for (var k = 0u; k < K; k++) { s = fma(A[ra + k * sA4], vec4<f32>(B[ob + k * sBk]), s); }
  ${bias ? `s += vec4<f32>(Bias[${P.biasOffset}]);` : ''}
  let o = gid.z * M + m4 * 4u;
  C[o] = s.x; C[o + 1u] = s.y; C[o + 2u] = s.z; C[o + 3u] = s.w;
}`,
  };
}
