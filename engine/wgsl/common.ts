// WGSL helpers shared by the kernel generators: launch grids and entry points, storage bindings,
// and small functions several kernels need (udivf, isNan, fused activations). Parameters are
// declared per kernel with paramStruct (params.ts).

export const WG = 256;
const MAX_X = 32768;

/** Workgroup counts covering `n` invocations in 1-D (folded into 2-D past the X limit). */
export function grid1d(n: number, wg = WG): [number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= MAX_X) return [Math.max(groups, 1), 1];
  return [MAX_X, Math.ceil(groups / MAX_X)];
}

/** Entry point header for kernels launched with grid1d; defines `gi` (global linear index). */
export function main1d(wg = WG): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nw: vec3<u32>) {
  let gi = (wid.y * nw.x + wid.x) * ${wg}u + lid;`;
}

/** Storage binding declaration. */
export function storage(binding: number, name: string, type: string, write = false): string {
  return `@group(0) @binding(${binding}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<${type}>;`;
}

/** Vector component names, indexable by lane (`v.${C4[i]}`). */
export const C4 = ['x', 'y', 'z', 'w'];

/**
 * Stores a register tile by a loop over its rows: when `live`, the accumulators `accs` (row-major)
 * are copied to a private array `tile` of `type`, and `body` (4-space indented, reading
 * `tile[...]`) runs for `r` in [0, `rows`), a WGSL expression counting the in-bounds rows. Unrolled
 * guarded rows cost LLVM most of a large tile's compile time on lavapipe (a 64x4 matmul tile);
 * the loop saves it for one array copy per tile. The FMA body stays unrolled.
 */
export function storeRows(o: { live: string; type: string; accs: string[]; rows: string; r: string; body: string[] }): string[] {
  return [
    `  if (${o.live}) {`,
    `  var tile: array<${o.type}, ${o.accs.length}>;`,
    ...o.accs.map((a, i) => `  tile[${i}] = ${a};`),
    `  let rows = ${o.rows};`,
    `  for (var ${o.r} = 0u; ${o.r} < rows; ${o.r}++) {`,
    ...o.body,
    '  }',
    '  }',
  ];
}

/**
 * WGSL `fn udivf(a, b, inv) -> u32`: floor(a / b) from an f32 reciprocal `inv` = 1 / b (computed
 * on the host: `Math.fround(1 / b)`) and one correction step each way. Exact while a / b < 2^22
 * and a + 2b < 2^32. Why: a u32 division by a runtime value is emulated per lane on CPU drivers
 * (lavapipe: one scalar `div` per lane, ~15 cycles each), which made index arithmetic, not loads,
 * the cost of gather kernels; this is a handful of vector instructions.
 */
export const UDIVF = `fn udivf(a: u32, b: u32, inv: f32) -> u32 {
  var q = u32(f32(a) * inv);
  q = select(q, q - 1u, q * b > a);
  q = select(q, q + 1u, (q + 1u) * b <= a);
  return q;
}`;

/**
 * WGSL boolean (or vecN<bool>) expression: `v`, of WGSL type `type` (f32 or vecN<f32>), is NaN.
 * Tested on the bits because nothing else is reliable: `v != v` is false for a NaN on lavapipe,
 * WGSL lets implementations assume NaNs absent, and max/min/clamp with a NaN operand are
 * implementation-defined (lavapipe returns the other operand).
 */
export function isNan(v: string, type = 'f32'): string {
  const u = type.replace('f32', 'u32');
  return `((bitcast<${u}>(${v}) & ${u}(0x7fffffffu)) > ${u}(0x7f800000u))`;
}

/**
 * An activation fused into a kernel's store (conv2d's `activation`): the expressions of the
 * elementwise relu / relu6 (ops/unary.ts), so fused and separate give the same bits, NaN kept.
 */
export type Activation = 'relu' | 'relu6';

/** `v` (of WGSL type `type`, f32 or vec4<f32>) through `act` (none: unchanged). */
export function activate(v: string, act: Activation | null | undefined, type = 'f32'): string {
  if (act === 'relu') return `select(max(${v}, ${type}(0)), ${v}, ${isNan(v, type)})`;
  if (act === 'relu6') return `select(clamp(${v}, ${type}(0), ${type}(6)), ${v}, ${isNan(v, type)})`;
  return v;
}
