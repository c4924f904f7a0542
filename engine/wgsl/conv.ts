// Convolution kernel generators (used by ops/conv.ts). Measured on lavapipe, a per-invocation
// storage load costs as much as 25-75 FMAs and a vec4 load about as much as a scalar one, while
// same-address loads across invocations are not cheaper; a subgroup broadcast, though, is a
// register shuffle. So every kernel reads vec4s from aligned, zero-padded copies (no bounds
// checks in inner loops), holds a large register tile, and loads the operand that all lanes of a
// workgroup share (weights in the forward pass, dY in the weight gradient) once per subgroup:
// - pad:    copies x into [N, C, Hp, Wp] (Wp % 4 == 0) with zero borders and optional zero
//           insertion (transposed convolution for strided input gradients).
// - prep:   lays weights out as the kernels read them (padded, optionally flipped/transposed).
// - gemm:   implicit-GEMM forward: TM output channels x TN consecutive output columns per
//           invocation; each input row segment is loaded once and reused by all kw taps.
// - direct: one output channel per invocation, TR x TN pixels (depthwise and Cout/groups < 4);
//           also reads an unpadded input (W % 4 == 0) with per-row and per-vec4 bounds masks
//           computed once per invocation: one vec4 more per row, but no copy (faster than
//           pad + padded read with the copy counted, on MobileNet's depthwise layers).
// - wgrad / wgradDirect: weight gradients as reductions over output pixels, optionally split
//           over row ranges (partial sums reduced afterwards).
// Fully unrolled tiles compile slowly in LLVM the first time (seconds for the large ones on
// lavapipe; Mesa's shader cache keeps them), so ops/conv.ts sizes tiles to the problem.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage, C4, storeRows, activate, type Activation } from './common.ts';
import { paramStruct } from './params.ts';

/** Element u of a row segment held in vec4 registers v0, v1, ... */
const el = (prefix: string, u: number) => `${prefix}${u >> 2}.${C4[u & 3]}`;

// ---------------------------------------------------------------------------------------------
// pad: out[n, c, yp, xp] = x[n, c, (yp - padT) / sy, (xp - padL) / sx] where that is an input
// element (and the offsets divide by the insertion strides), else 0. Written 4 columns at a time.
// `unit` (sy = sx = 1, every forward convolution): one invocation per padded row (total is then
// N*C*Hp), so the index divisions are paid once per row and the per-element insertion divisions
// disappear, which matters on lavapipe, where integer division is emulated per lane.
export const ConvPadParams = paramStruct('ConvPadParams', {
  /** Invocations: N*C*Hp rows (unit), else N*C*Hp*Wp/4 vec4s. */
  invocations: 'u32',
  channels: 'u32',
  /** Rows (Hp) and vec4s per row (Wp / 4) of the padded copy. */
  outH: 'u32',
  outW4: 'u32',
  inH: 'i32',
  inW: 'i32',
  /** Zero rows above and zero columns left of the input (negative: leading input rows/columns are cut). */
  padTop: 'i32',
  padLeft: 'i32',
  /** Zero insertion: input row y lands on padded row padTop + y * insertY (likewise columns). */
  insertY: 'i32',
  insertX: 'i32',
  xOffset: 'u32',
  /** x's strides (n, c, h, w) in elements. */
  xStrides: ['u32', 4],
});

export function padKernel(unit = false): Kernel {
  const P = ConvPadParams;
  const [sN, sC, sH, sW] = P.at.xStrides;
  // the padded row this invocation writes (unit) or the row of its vec4 (general)
  const row = unit ? 'let yp = gi % Hp;\n  let nc = gi / Hp;' : 'let xq = gi % Wp4;\n  let r = gi / Wp4;\n  let yp = r % Hp;\n  let nc = r / Hp;';
  const body = unit
    ? `let yi = i32(yp) - ${P.at.padTop};
  let o = gi * Wp4;
  if (yi < 0 || yi >= H) {
    for (var q = 0u; q < Wp4; q++) { Out[o + q] = vec4<f32>(0.0); }
    return;
  }
  let rowBase = ${P.at.xOffset} + n * ${sN} + c * ${sC} + u32(yi) * ${sH};
  for (var q = 0u; q < Wp4; q++) {
    var v = vec4<f32>(0.0);
    ${C4.map((comp, k) => `{ let xi = i32(q * 4u + ${k}u) - ${P.at.padLeft}; let ok = xi >= 0 && xi < W; v.${comp} = select(0.0, X[select(0u, rowBase + u32(max(xi, 0)) * ${sW}, ok)], ok); }`).join('\n    ')}
    Out[o + q] = v;
  }`
    : `let sy = ${P.at.insertY}; let sx = ${P.at.insertX};
  let ys = i32(yp) - ${P.at.padTop};
  let yi = ys / sy;
  let rowOk = ys >= 0 && ys - yi * sy == 0 && yi < H;
  let rowBase = ${P.at.xOffset} + n * ${sN} + c * ${sC} + u32(max(yi, 0)) * ${sH};
  var v = vec4<f32>(0.0);
  for (var k = 0u; k < 4u; k++) {
    let xs = i32(xq * 4u + k) - ${P.at.padLeft};
    let xi = xs / sx;
    let ok = rowOk && xs >= 0 && xs - xi * sx == 0 && xi < W;
    v[k] = select(0.0, X[select(0u, rowBase + u32(max(xi, 0)) * ${sW}, ok)], ok);
  }
  Out[gi] = v;`;
  return {
    name: 'conv2d.pad',
    key: `conv2d.pad:${unit ? 'unit' : 'any'}`,
    code: () => `${P.decl}
${storage(1, 'X', 'f32')}
${storage(2, 'Out', 'vec4<f32>', true)}
${main1d()}
  if (gi >= ${P.at.invocations}) { return; }
  let C = ${P.at.channels}; let Hp = ${P.at.outH}; let Wp4 = ${P.at.outW4};
  let H = ${P.at.inH}; let W = ${P.at.inW};
  ${row}
  let n = nc / C;
  let c = nc - n * C;
  ${body}
}`,
  };
}

// ---------------------------------------------------------------------------------------------
// prep: out[i0..i5] (dims D0..D5, contiguous) = W[base + sum(ik * Sk)] when i1 * D5 + i5 < extent,
// else 0 (zero padding of a tiled channel dim). Signed strides express flips.
export const ConvPrepParams = paramStruct('ConvPrepParams', {
  /** Output dims D0..D5 (the output is contiguous). */
  dims: ['u32', 6],
  /** Weight strides per output dim, in elements; negative where the weight is read flipped. */
  strides: ['i32', 6],
  /** Weight element read at output index 0. */
  base: 'u32',
  /** Extent of the tiled channel dim (i1 * D5 + i5) that exists; the rest is zero padding. */
  extent: 'u32',
  /** Output elements. */
  total: 'u32',
});

export function prepKernel(): Kernel {
  const P = ConvPrepParams;
  const D = P.at.dims;
  const S = P.at.strides;
  return {
    name: 'conv2d.prep',
    key: 'conv2d.prep',
    code: () => `${P.decl}
${storage(1, 'Wsrc', 'f32')}
${storage(2, 'Out', 'f32', true)}
${main1d()}
  // one invocation per run of the innermost dimension: the index divisions (emulated per lane on
  // lavapipe) are paid once per run, not per element
  let D5 = ${D[5]};
  if (gi >= ${P.at.total} / D5) { return; }
  var r = gi;
  let i4 = r % ${D[4]}; r = r / ${D[4]};
  let i3 = r % ${D[3]}; r = r / ${D[3]};
  let i2 = r % ${D[2]}; r = r / ${D[2]};
  let i1 = r % ${D[1]}; let i0 = r / ${D[1]};
  let row = i32(${P.at.base}) + i32(i0) * ${S[0]} + i32(i1) * ${S[1]} + i32(i2) * ${S[2]} + i32(i3) * ${S[3]} + i32(i4) * ${S[4]};
  let s5 = ${S[5]};
  let live = min(D5, ${P.at.extent} - min(i1 * D5, ${P.at.extent}));
  for (var i5 = 0u; i5 < D5; i5++) {
    let ok = i5 < live;
    Out[gi * D5 + i5] = select(0.0, Wsrc[select(0u, u32(row + i32(i5) * s5), ok)], ok);
  }
}`,
  };
}

// ---------------------------------------------------------------------------------------------
// gemm forward.
export interface GemmConfig {
  /** Output channels per invocation (multiple of 4) and output columns per invocation (multiple of 4). */
  tm: number;
  tn: number;
  kw: number;
  sx: number;
  dx: number;
  wg: number;
  /** OW % 4 == 0: vec4 stores. */
  outVec: boolean;
  /** Activation applied to the biased output as it is stored. */
  act?: Activation | null;
  /**
   * Subgroup size to share weight loads across (0: every invocation loads all its weights).
   * Lane l loads weight vec4 l of the step and subgroupBroadcast hands them out: on lavapipe a
   * broadcast is a register shuffle while every load is a per-lane memory access.
   */
  sg: number;
}

/** vec4 loads per input row segment of one invocation (columns ow0*sx ...). */
export function gemmRowVecs(tn: number, kw: number, sx: number, dx: number): number {
  return Math.ceil(((tn - 1) * sx + (kw - 1) * dx + 1) / 4);
}

// Weights: [G, Cout_g / tm, KH, Cin_g, KW, tm] (one contiguous block of KW*tm/4 vec4s per step).
export const ConvGemmParams = paramStruct('ConvGemmParams', {
  cinPerGroup: 'u32',
  /** vec4s per plane of the (padded) input. */
  planeVec4s: 'u32',
  cout: 'u32',
  outH: 'u32',
  outW: 'u32',
  coutPerGroup: 'u32',
  /** Tiles of tm output channels per group. */
  coutTiles: 'u32',
  /** Tiles of tn columns per output row. */
  tilesW: 'u32',
  groups: 'u32',
  kernelH: 'u32',
  /** vec4s between the input rows of consecutive output rows (stride y * row vec4s). */
  strideRowVec4s: 'u32',
  /** vec4s between the input rows of consecutive kernel rows (dilation y * row vec4s). */
  dilationRowVec4s: 'u32',
  /** Channels of the whole input. */
  cin: 'u32',
  xOffset4: 'u32',
  biasOffset: 'u32',
  /** 0 or 1. The Bias binding is always present, so one pipeline serves both; without a bias any buffer is bound and not read. */
  hasBias: 'u32',
});

export function gemmKernel(c: GemmConfig): Kernel {
  const { tm, tn, kw, sx, dx, wg, outVec, sg, act } = c;
  const P = ConvGemmParams;
  const key = `conv2d.gemm:${tm}x${tn}:k${kw}s${sx}d${dx}:wg${wg}:${outVec}:sg${sg}:${act ?? ''}`;
  return {
    name: 'conv2d.gemm',
    key,
    code: () => {
      const Q = tm / 4;
      const NW = kw * Q;
      const nv = gemmRowVecs(tn, kw, sx, dx);
      const L: string[] = [];
      for (let q = 0; q < Q; q++) for (let j = 0; j < tn; j++) L.push(`  var a${q}_${j} = vec4<f32>(0.0);`);
      const body: string[] = [];
      for (let v = 0; v < nv; v++) body.push(`      let v${v} = X[xp + ${v}u];`);
      const rounds = sg ? Math.ceil(NW / sg) : 0;
      for (let r = 0; r < rounds; r++) body.push(`      let wl${r} = Wt[wi + min(${r * sg}u + lane, ${NW - 1}u)];`);
      const w = (kx: number, q: number) => {
        const i = kx * Q + q;
        return sg ? `subgroupBroadcast(wl${Math.floor(i / sg)}, ${i % sg}u)` : `Wt[wi + ${i}u]`;
      };
      for (let kx = 0; kx < kw; kx++) {
        for (let q = 0; q < Q; q++) body.push(`      let w${kx}_${q} = ${w(kx, q)};`);
        for (let q = 0; q < Q; q++)
          for (let j = 0; j < tn; j++) body.push(`      a${q}_${j} = fma(w${kx}_${q}, vec4<f32>(${el('v', j * sx + kx * dx)}), a${q}_${j});`);
      }
      // rows (output channels m; component m % 4 of the tile's vec4s) stored by a loop (storeRows)
      const rowStore = ['    let oc = g * Cout_g + co0 + m;', '    let ob = ((n * Cout + oc) * OH + oh) * OW + ow0;'];
      rowStore.push(`    let b = select(0.0, Bias[select(0u, ${P.at.biasOffset} + oc, hasBias)], hasBias);`);
      rowStore.push(`    let tq = (m / 4u) * ${tn}u; let cc = m % 4u;`);
      if (outVec)
        for (let jb = 0; jb < tn / 4; jb++) {
          const comps = [0, 1, 2, 3].map((k) => `tile[tq + ${jb * 4 + k}u][cc]`).join(', ');
          rowStore.push(`    if (ow0 + ${jb * 4}u < OW) { Y[ob / 4u + ${jb}u] = ${activate(`vec4<f32>(${comps}) + vec4<f32>(b)`, act, 'vec4<f32>')}; }`);
        }
      else for (let j = 0; j < tn; j++) rowStore.push(`    if (ow0 + ${j}u < OW) { Y[ob + ${j}u] = ${activate(`tile[tq + ${j}u][cc] + b`, act)}; }`);
      const accs = Array.from({ length: Q * tn }, (_, i) => `a${Math.floor(i / tn)}_${i % tn}`);
      const store = storeRows({ live: 'live', type: 'vec4<f32>', accs, rows: `min(${tm}u, Cout_g - min(co0, Cout_g))`, r: 'm', body: rowStore });
      return `${sg ? 'enable subgroups;\n' : ''}${P.decl}
${storage(1, 'X', 'vec4<f32>')}
${storage(2, 'Wt', 'vec4<f32>')}
${storage(3, 'Y', outVec ? 'vec4<f32>' : 'f32', true)}
${storage(4, 'Bias', 'f32')}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${sg ? ', @builtin(subgroup_invocation_id) sid: u32' : ''}) {
  let Cin_g = ${P.at.cinPerGroup}; let HWp4 = ${P.at.planeVec4s}; let Cout = ${P.at.cout}; let OH = ${P.at.outH}; let OW = ${P.at.outW};
  let hasBias = ${P.at.hasBias} != 0u;
  let Cout_g = ${P.at.coutPerGroup}; let tilesW = ${P.at.tilesW}; let G = ${P.at.groups}; let KH = ${P.at.kernelH};
  ${sg ? `let lane = sid % ${sg}u;` : ''}
  let ntiles = OH * tilesW;
  let tRaw = wid.x * ${wg}u + lid;
  let live = tRaw < ntiles;
  let t = min(tRaw, ntiles - 1u);
  let oh = t / tilesW;
  let ow0 = (t - oh * tilesW) * ${tn}u;
  let co0 = wid.y * ${tm}u;
  let n = wid.z / G;
  let g = wid.z - n * G;
  let xBase = ${P.at.xOffset4} + (n * ${P.at.cin} + g * Cin_g) * HWp4 + oh * ${P.at.strideRowVec4s} + ow0 * ${sx}u / 4u;
  var wi = (g * ${P.at.coutTiles} + wid.y) * KH * Cin_g * ${NW}u;
${L.join('\n')}
  for (var ky = 0u; ky < KH; ky++) {
    var xp = xBase + ky * ${P.at.dilationRowVec4s};
    for (var ci = 0u; ci < Cin_g; ci++) {
${body.join('\n')}
      xp += HWp4;
      wi += ${NW}u;
    }
  }
${store.join('\n')}
}`;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// direct forward: output channel oc = g*Cout_g + m reads input channels g*Cin_g + [0, Cin_g).
export interface DirectConfig {
  tr: number;
  tn: number;
  kh: number;
  kw: number;
  sy: number;
  sx: number;
  dy: number;
  dx: number;
  wg: number;
  outVec: boolean;
  /** Activation applied to the biased output as it is stored. */
  act?: Activation | null;
  /**
   * Read the input as it is (contiguous, W % 4 == 0) instead of a padded copy: out-of-range
   * rows and vec4s load as zeros. `lead` = (-padL) mod 4, the element of the first loaded vec4
   * where a tile's input window starts. null: the padded copy of pad().
   */
  lead?: number | null;
}

/** vec4s of one input row a direct-kernel invocation reads (window starting at element `lead`). */
export function directRowVecs(c: { tn: number; kw: number; sx: number; dx: number; lead?: number | null }): number {
  return Math.ceil(((c.lead ?? 0) + (c.tn - 1) * c.sx + (c.kw - 1) * c.dx + 1) / 4);
}

/** Input rows one invocation reads. */
export function directRows(c: { tr: number; kh: number; sy: number; dy: number }): number {
  return (c.tr - 1) * c.sy + (c.kh - 1) * c.dy + 1;
}

// Weights: [G, Cout_g, Cin_g, KH, KWP4*4].
const DIRECT_FIELDS = {
  cinPerGroup: 'u32',
  /** vec4s per plane and per row of the input read (the padded copy, or the input itself). */
  planeVec4s: 'u32',
  rowVec4s: 'u32',
  cout: 'u32',
  outH: 'u32',
  outW: 'u32',
  coutPerGroup: 'u32',
  /** Tiles of tn columns per output row and of tr rows per output plane. */
  tilesW: 'u32',
  tilesH: 'u32',
  /** Channels of the whole input. */
  cin: 'u32',
  xOffset4: 'u32',
  biasOffset: 'u32',
  /** 0 or 1 (see ConvGemmParams.hasBias). */
  hasBias: 'u32',
} as const;
export const ConvDirectParams = paramStruct('ConvDirectParams', DIRECT_FIELDS);

/** The direct kernel reading its input unpadded (DirectConfig.lead != null). */
export const ConvDirectUnpaddedParams = paramStruct('ConvDirectUnpaddedParams', {
  ...DIRECT_FIELDS,
  inH: 'u32',
  padTop: 'i32',
  /** padLeft + lead: the column of the first vec4 a tile loads is ow0 * sx - padLeftLead. */
  padLeftLead: 'i32',
});

export function directKernel(c: DirectConfig): Kernel {
  const { tr, tn, kh, kw, sy, sx, dy, dx, wg, outVec, act } = c;
  const lead = c.lead ?? null;
  const P = lead === null ? ConvDirectParams : ConvDirectUnpaddedParams;
  const U = ConvDirectUnpaddedParams.at;
  const key = `conv2d.direct:${tr}x${tn}:k${kh}x${kw}:s${sy}x${sx}:d${dy}x${dx}:wg${wg}:${outVec}:${act ?? ''}${lead === null ? '' : `:raw${lead}`}`;
  return {
    name: 'conv2d.direct',
    key,
    code: () => {
      const kwp4 = Math.ceil(kw / 4);
      const nv = directRowVecs(c);
      const nr = directRows(c);
      const e0 = lead ?? 0;
      const L: string[] = [];
      for (let r = 0; r < tr; r++) for (let j = 0; j < tn; j++) L.push(`  var a${r}_${j} = 0.0;`);
      // unpadded input: which window rows and vec4s exist, and their clamped offsets (the same
      // for every input channel); a missing one loads as zeros
      const bounds: string[] = [];
      if (lead !== null) {
        bounds.push(`  let H = i32(${U.inH});`, `  let iy0 = i32(oh0 * ${sy}u) - ${U.padTop};`, `  let q0 = (i32(ow0 * ${sx}u) - ${U.padLeftLead}) / 4;`);
        for (let row = 0; row < nr; row++)
          bounds.push(`  let rk${row} = iy0 + ${row} >= 0 && iy0 + ${row} < H; let ro${row} = u32(clamp(iy0 + ${row}, 0, H - 1)) * Wp4;`);
        for (let v = 0; v < nv; v++) bounds.push(`  let ck${v} = q0 + ${v} >= 0 && q0 + ${v} < i32(Wp4); let co${v} = u32(clamp(q0 + ${v}, 0, i32(Wp4) - 1));`);
      }
      const body: string[] = [];
      for (let ky = 0; ky < kh; ky++) for (let v = 0; v < kwp4; v++) body.push(`      let w${ky}_${v} = Wt[wi + ${ky * kwp4 + v}u];`);
      for (let row = 0; row < nr; row++) {
        for (let v = 0; v < nv; v++)
          body.push(
            lead === null
              ? `      let r${row}_${v} = X[xp + ${row}u * Wp4 + ${v}u];`
              : `      let r${row}_${v} = select(vec4<f32>(0.0), X[xp + ro${row} + co${v}], rk${row} && ck${v});`,
          );
        for (let t = 0; t < tr; t++)
          for (let ky = 0; ky < kh; ky++) {
            if (t * sy + ky * dy !== row) continue;
            for (let kx = 0; kx < kw; kx++) {
              const w = `w${ky}_${kx >> 2}.${C4[kx & 3]}`;
              for (let j = 0; j < tn; j++) body.push(`      a${t}_${j} = fma(${w}, ${el(`r${row}_`, e0 + j * sx + kx * dx)}, a${t}_${j});`);
            }
          }
      }
      // output rows stored by a loop (storeRows)
      const rowStore = ['    let ob = (nOc * OH + oh0 + t) * OW + ow0;', `    let tt = t * ${tn}u;`];
      if (outVec)
        for (let jb = 0; jb < tn / 4; jb++) {
          const comps = [0, 1, 2, 3].map((k) => `tile[tt + ${jb * 4 + k}u]`).join(', ');
          rowStore.push(`    if (ow0 + ${jb * 4}u < OW) { Y[ob / 4u + ${jb}u] = ${activate(`vec4<f32>(${comps}) + vec4<f32>(b)`, act, 'vec4<f32>')}; }`);
        }
      else for (let j = 0; j < tn; j++) rowStore.push(`    if (ow0 + ${j}u < OW) { Y[ob + ${j}u] = ${activate(`tile[tt + ${j}u] + b`, act)}; }`);
      const accs = Array.from({ length: tr * tn }, (_, i) => `a${Math.floor(i / tn)}_${i % tn}`);
      const store = storeRows({ live: 'live', type: 'f32', accs, rows: `min(${tr}u, OH - min(oh0, OH))`, r: 't', body: rowStore });
      return `${P.decl}
${storage(1, 'X', 'vec4<f32>')}
${storage(2, 'Wt', 'vec4<f32>')}
${storage(3, 'Y', outVec ? 'vec4<f32>' : 'f32', true)}
${storage(4, 'Bias', 'f32')}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let Cin_g = ${P.at.cinPerGroup}; let HWp4 = ${P.at.planeVec4s}; let Wp4 = ${P.at.rowVec4s}; let Cout = ${P.at.cout}; let OH = ${P.at.outH}; let OW = ${P.at.outW};
  let Cout_g = ${P.at.coutPerGroup}; let tilesW = ${P.at.tilesW};
  let ntiles = ${P.at.tilesH} * tilesW;
  let tRaw = wid.x * ${wg}u + lid;
  let live = tRaw < ntiles;
  let t = min(tRaw, ntiles - 1u);
  let th = t / tilesW;
  let oh0 = th * ${tr}u;
  let ow0 = (t - th * tilesW) * ${tn}u;
  let oc = wid.y;
  let n = wid.z;
  let g = oc / Cout_g;
  let nOc = n * Cout + oc;
  let xBase = ${P.at.xOffset4} + (n * ${P.at.cin} + g * Cin_g) * HWp4${lead === null ? ` + oh0 * ${sy}u * Wp4 + ow0 * ${sx}u / 4u` : ''};
  var wi = oc * Cin_g * ${kh * kwp4}u;
${bounds.join('\n')}
${L.join('\n')}
  var xp = xBase;
  for (var ci = 0u; ci < Cin_g; ci++) {
${body.join('\n')}
      xp += HWp4;
      wi += ${kh * kwp4}u;
  }
  let hasBias = ${P.at.hasBias} != 0u;
  let b = select(0.0, Bias[select(0u, ${P.at.biasOffset} + oc, hasBias)], hasBias);
${store.join('\n')}
}`;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// wgrad: dW[g, co, ci, ky, kx] = sum over rows r in a split range and columns of
// dY[n, g*Cout_g+co, oh, ow] * Xp[n, g*Cin_g+ci, oh*SY + ky*DY, ow*SX + kx*DX].
// Each invocation owns TM output channels x TC input channels x all KH x KW taps and walks the
// output row 4*PV columns at a time. All lanes of a workgroup read the same dY values (they
// differ in input channels), so with subgroups each lane loads one of them and broadcasts it.
export interface WgradConfig {
  tm: number;
  tc: number;
  /** vec4s of dY per channel per step (output columns per step = 4 * pv). */
  pv: number;
  kh: number;
  kw: number;
  sx: number;
  dx: number;
  wg: number;
  sg: number;
  /**
   * One kernel row per invocation (lanes enumerate ci blocks x KH): KH times fewer accumulators,
   * for large kernels whose all-rows tile would spill and take LLVM long to compile.
   */
  rowPerLane: boolean;
}

export function wgradRowVecs(pv: number, kw: number, sx: number, dx: number): number {
  return Math.ceil(((4 * pv - 1) * sx + (kw - 1) * dx + 1) / 4);
}

const WGRAD_FIELDS = {
  cinPerGroup: 'u32',
  coutPerGroup: 'u32',
  /** Channels of the whole input and output gradient. */
  cin: 'u32',
  cout: 'u32',
  outH: 'u32',
  /** vec4s per row of the (padded) output gradient. */
  outW4: 'u32',
  /** vec4s per plane of the (padded) input. */
  planeVec4s: 'u32',
  /** vec4s between the input rows of consecutive output rows and of consecutive kernel rows. */
  strideRowVec4s: 'u32',
  dilationRowVec4s: 'u32',
  /** Output rows (of all N * outH) each split reduces, and all of them. */
  rowsPerSplit: 'u32',
  rows: 'u32',
  xOffset4: 'u32',
  dyOffset4: 'u32',
} as const;

export const ConvWgradParams = paramStruct('ConvWgradParams', {
  ...WGRAD_FIELDS,
  groups: 'u32',
  /** Blocks of tc input channels per group. */
  cinBlocks: 'u32',
});

export function wgradKernel(c: WgradConfig): Kernel {
  const { tm, tc, pv, kw, sx, dx, wg, sg, rowPerLane } = c;
  const P = ConvWgradParams;
  const kh = rowPerLane ? 1 : c.kh;
  const KK = c.kh * kw;
  const key = `conv2d.wgrad:${tm}x${tc}x${pv}:k${c.kh}x${kw}:s${sx}:d${dx}:wg${wg}:sg${sg}:${rowPerLane ? 'row' : 'all'}`;
  return {
    name: 'conv2d.wgrad',
    key,
    code: () => {
      const nv = wgradRowVecs(pv, kw, sx, dx);
      const ND = tm * pv;
      const L: string[] = [];
      for (let m = 0; m < tm; m++)
        for (let cc = 0; cc < tc; cc++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) L.push(`  var a${m}_${cc}_${ky}_${kx} = 0.0;`);
      const pre: string[] = [];
      const body: string[] = [];
      const rounds = sg ? Math.ceil(ND / sg) : 0;
      if (sg) {
        for (let r = 0; r < rounds; r++) {
          pre.push(`  let sl${r} = min(${r * sg}u + lane, ${ND - 1}u);`);
          pre.push(`  let so${r} = min(co0 + sl${r} / ${pv}u, Cout_g - 1u) * OH * OWp4 + sl${r} % ${pv}u;`);
          body.push(`        let dl${r} = DY[dyp + so${r}];`);
        }
        for (let i = 0; i < ND; i++) body.push(`        let d${Math.floor(i / pv)}_${i % pv} = subgroupBroadcast(dl${Math.floor(i / sg)}, ${i % sg}u);`);
      } else {
        for (let m = 0; m < tm; m++) pre.push(`  let dm${m} = min(co0 + ${m}u, Cout_g - 1u) * OH * OWp4;`);
        for (let m = 0; m < tm; m++) for (let v = 0; v < pv; v++) body.push(`        let d${m}_${v} = DY[dyp + dm${m} + ${v}u];`);
      }
      for (let cc = 0; cc < tc; cc++) pre.push(`  let xc${cc} = min(ci0 + ${cc}u, Cin_g - 1u) * HWp4;`);
      for (let cc = 0; cc < tc; cc++)
        for (let ky = 0; ky < kh; ky++) {
          for (let v = 0; v < nv; v++) body.push(`        let x${cc}_${ky}_${v} = X[xp + xc${cc} + ${ky}u * DYW4 + ${v}u];`);
          for (let m = 0; m < tm; m++)
            for (let kx = 0; kx < kw; kx++) {
              const terms: string[] = [];
              for (let v = 0; v < pv; v++) {
                const win = [0, 1, 2, 3].map((pp) => el(`x${cc}_${ky}_`, (4 * v + pp) * sx + kx * dx));
                terms.push(`dot(d${m}_${v}, vec4<f32>(${win.join(', ')}))`);
              }
              body.push(`        a${m}_${cc}_${ky}_${kx} += ${terms.join(' + ')};`);
            }
        }
      // output-channel rows stored by a loop (storeRows); tile row m holds (cc, ky, kx) in order
      const per = tc * kh * kw;
      const accs: string[] = [];
      for (let m = 0; m < tm; m++)
        for (let cc = 0; cc < tc; cc++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) accs.push(`a${m}_${cc}_${ky}_${kx}`);
      const rowStore = [`    let tm0 = m * ${per}u;`];
      for (let cc = 0; cc < tc; cc++) {
        rowStore.push(`    if (ci0 + ${cc}u < Cin_g) {`);
        rowStore.push(`      let o = outBase + ((g * Cout_g + co0 + m) * Cin_g + ci0 + ${cc}u) * ${KK}u + ky0 * ${kw}u;`);
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) rowStore.push(`      dW[o + ${ky * kw + kx}u] = tile[tm0 + ${(cc * kh + ky) * kw + kx}u];`);
        rowStore.push('    }');
      }
      const store = storeRows({ live: 'live', type: 'f32', accs, rows: `min(${tm}u, Cout_g - min(co0, Cout_g))`, r: 'm', body: rowStore });
      return `${sg ? 'enable subgroups;\n' : ''}${P.decl}
${storage(1, 'X', 'vec4<f32>')}
${storage(2, 'DY', 'vec4<f32>')}
${storage(3, 'dW', 'f32', true)}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${sg ? ', @builtin(subgroup_invocation_id) sid: u32' : ''}) {
  let Cin_g = ${P.at.cinPerGroup}; let Cout_g = ${P.at.coutPerGroup}; let OH = ${P.at.outH}; let OWp4 = ${P.at.outW4}; let HWp4 = ${P.at.planeVec4s};
  let G = ${P.at.groups}; let DYW4 = ${P.at.dilationRowVec4s}; let nCb = ${P.at.cinBlocks};
  ${sg ? `let lane = sid % ${sg}u;` : ''}
  let laneRaw = wid.x * ${wg}u + lid;
  let live = laneRaw < nCb * ${rowPerLane ? c.kh : 1}u;
  let li = min(laneRaw, nCb * ${rowPerLane ? c.kh : 1}u - 1u);
  let ky0 = ${rowPerLane ? `li % ${c.kh}u` : '0u'};
  let ci0 = li / ${rowPerLane ? c.kh : 1}u * ${tc}u;
  let co0 = wid.y * ${tm}u;
  let s = wid.z / G;
  let g = wid.z - s * G;
  let r0 = s * ${P.at.rowsPerSplit};
  let r1 = min(${P.at.rows}, r0 + ${P.at.rowsPerSplit});
  let outBase = s * G * Cout_g * Cin_g * ${KK}u;
${pre.join('\n')}
${L.join('\n')}
  for (var r = r0; r < r1; r++) {
    let n = r / OH;
    let oh = r - n * OH;
    var xp = ${P.at.xOffset4} + (n * ${P.at.cin} + g * Cin_g) * HWp4 + oh * ${P.at.strideRowVec4s} + ky0 * DYW4;
    var dyp = ${P.at.dyOffset4} + ((n * ${P.at.cout} + g * Cout_g) * OH + oh) * OWp4;
    for (var q = 0u; q < OWp4; q += ${pv}u) {
${body.join('\n')}
      xp += ${sx * pv}u;
      dyp += ${pv}u;
    }
  }
${store.join('\n')}
}`;
    },
  };
}

// wgradDirect: one (co, ci) pair per invocation (all KH x KW taps), for Cout_g < 4.
export const ConvWgradDirectParams = paramStruct('ConvWgradDirectParams', {
  ...WGRAD_FIELDS,
  /** (output channel, input channel) pairs: G * Cout_g * Cin_g. */
  pairs: 'u32',
});

export function wgradDirectKernel(c: Omit<WgradConfig, 'tm' | 'tc' | 'pv' | 'sg' | 'rowPerLane'>): Kernel {
  const { kh, kw, sx, dx, wg } = c;
  const P = ConvWgradDirectParams;
  const key = `conv2d.wgradDirect:k${kh}x${kw}:s${sx}:d${dx}:wg${wg}`;
  return {
    name: 'conv2d.wgradDirect',
    key,
    code: () => {
      const nv = wgradRowVecs(1, kw, sx, dx);
      const L: string[] = [];
      for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) L.push(`  var a${ky}_${kx} = 0.0;`);
      const body: string[] = ['        let d = DY[dyp];'];
      for (let ky = 0; ky < kh; ky++) {
        for (let v = 0; v < nv; v++) body.push(`        let x${ky}_${v} = X[xp + ${ky}u * DYW4 + ${v}u];`);
        for (let kx = 0; kx < kw; kx++) {
          const terms = [0, 1, 2, 3].map((pp) => el(`x${ky}_`, pp * sx + kx * dx));
          body.push(`        a${ky}_${kx} += dot(d, vec4<f32>(${terms.join(', ')}));`);
        }
      }
      const store: string[] = [];
      for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) store.push(`    dW[o + ${ky * kw + kx}u] = a${ky}_${kx};`);
      return `${P.decl}
${storage(1, 'X', 'vec4<f32>')}
${storage(2, 'DY', 'vec4<f32>')}
${storage(3, 'dW', 'f32', true)}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let Cin_g = ${P.at.cinPerGroup}; let Cout_g = ${P.at.coutPerGroup}; let OH = ${P.at.outH}; let OWp4 = ${P.at.outW4}; let HWp4 = ${P.at.planeVec4s};
  let DYW4 = ${P.at.dilationRowVec4s}; let pairs = ${P.at.pairs};
  let pRaw = wid.x * ${wg}u + lid;
  let live = pRaw < pairs;
  let pr = min(pRaw, pairs - 1u);
  let ci = pr % Cin_g;
  let oc = pr / Cin_g;
  let g = oc / Cout_g;
  let s = wid.z;
  let r0 = s * ${P.at.rowsPerSplit};
  let r1 = min(${P.at.rows}, r0 + ${P.at.rowsPerSplit});
${L.join('\n')}
  for (var r = r0; r < r1; r++) {
    let n = r / OH;
    let oh = r - n * OH;
    var xp = ${P.at.xOffset4} + (n * ${P.at.cin} + g * Cin_g + ci) * HWp4 + oh * ${P.at.strideRowVec4s};
    var dyp = ${P.at.dyOffset4} + (n * ${P.at.cout} + oc) * OH * OWp4 + oh * OWp4;
    for (var q = 0u; q < OWp4; q++) {
${body.join('\n')}
      xp += ${sx}u;
      dyp += 1u;
    }
  }
  if (live) {
    let o = s * pairs * ${kh * kw}u + pr * ${kh * kw}u;
${store.join('\n')}
  }
}`;
    },
  };
}
