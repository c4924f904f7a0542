// The gradient-ascent update of GLASS's GAS branch as one fused kernel per row:
//   x' = x + stepSize * grad / (||grad|| + 1e-10)                    (ascent; optional)
//   y  = p + clamp(||x' - p||, lo, hi) / (||x' - p|| + 1e-10) * (x' - p)   (truncation; optional)
// where p is the centre (hypersphere) or the true features (manifold), lo/hi are radii (a GPU
// scalar tensor times constant factors, so r_t never has to be read back), and an optional row
// mask leaves unmasked rows unchanged (the LAS projection of fake features in place).
// Autograd follows the reference exactly: the ascent is an in-place no_grad update in torch, so it
// passes gradients through unchanged; the truncation is differentiated (norm, clamp with
// inclusive bounds, division, product), towards x and, in manifold mode, towards p.
// gasHiddenStep is the same ascent step taken in the discriminator's hidden space
// (Glass.hiddenAscent), also one kernel per row.
import * as E from '../engine/index.ts';
import { dispatch, Params } from '../engine/runtime/dispatch.ts';
import { PARAMS_DECL, pu, pf } from '../engine/wgsl/common.ts';

export interface GasUpdate {
  /** Gradient to ascend along (rows L2-normalised), or null for a projection only. */
  grad?: E.Tensor | null;
  stepSize?: number;
  /** Projection anchor [N, D] (centre or true features), or null for no truncation. */
  anchor?: E.Tensor | null;
  /** Radius scalar tensor [1] (r_t) or null for 1; bounds are loFactor*r and hiFactor*r. */
  radius?: E.Tensor | null;
  loFactor?: number;
  hiFactor?: number;
  /** Optional [N] mask (any dtype): rows with 0 pass through untouched. */
  rowMask?: E.Tensor | null;
  /** Also return the features after the ascent, before truncation (detached; for r_g). */
  keepPre?: boolean;
  /**
   * Also return each row's truncation factor s ([N, 1], detached): y = anchor + s * (x' - anchor)
   * (1 for rows the mask leaves alone). Needs an anchor. The hidden-space ascent moves h with it.
   */
  keepScale?: boolean;
}

const WG = 64;

// Rows are walked one element (f32) or, when D and every offset are multiples of 4, one vec4 at a
// time (`vec`: D and the offsets in the params are then in vec4 units): CPU drivers pay per load.
const elem = (vec: boolean) => (vec ? 'vec4<f32>' : 'f32');
const sq = (vec: boolean, a: string, b: string) => (vec ? `dot(${a}, ${b})` : `${a} * ${b}`);

// entry point of the per-row kernels: invocation n owns row n (elements row .. row + D)
const rowMain = () => `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let N = ${pu(0)}; let D = ${pu(1)};
  let n = gid.x;
  if (n >= N) { return; }
  let row = n * D;`;

// flags: 1 ascent, 2 project, 4 row mask, 8 write the truncation factors
function forwardKernel(flags: number, vec: boolean) {
  const T = elem(vec);
  return {
    name: 'glass.gasUpdate',
    key: `glass.gasUpdate:${flags}:${vec}`,
    code: () => `${PARAMS_DECL}
@group(0) @binding(1) var<storage, read> X: array<${T}>;
${flags & 1 ? `@group(0) @binding(2) var<storage, read> G: array<${T}>;` : ''}
${flags & 2 ? `@group(0) @binding(3) var<storage, read> Pa: array<${T}>;\n@group(0) @binding(4) var<storage, read> R: array<f32>;` : ''}
${flags & 4 ? '@group(0) @binding(5) var<storage, read> Mk: array<u32>;' : ''}
@group(0) @binding(6) var<storage, read_write> Y: array<${T}>;
@group(0) @binding(7) var<storage, read_write> Xs: array<${T}>;
${flags & 8 ? '@group(0) @binding(8) var<storage, read_write> Sc: array<f32>;' : ''}
${rowMain()}
  let oX = ${pu(2)}; let oG = ${pu(3)}; let oP = ${pu(4)};
  var live = true;
  ${flags & 4 ? `live = Mk[${pu(5)} + n] != 0u;` : ''}
  var inv = 0.0;
  ${flags & 1 ? `if (live) { var gg = 0.0; for (var d = 0u; d < D; d++) { let g = G[oG + row + d]; gg += ${sq(vec, 'g', 'g')}; } inv = ${pf(6)} / (sqrt(gg) + 1e-10); }` : ''}
  if (!live ${flags & 2 ? '' : '|| true'}) {
    for (var d = 0u; d < D; d++) {
      let x = X[oX + row + d]${flags & 1 ? ` + inv * G[oG + row + d]` : ''};
      Y[row + d] = x;
      Xs[row + d] = x;
    }
    ${flags & 8 ? 'Sc[n] = 1.0;' : ''}
    return;
  }
  ${flags & 2 ? projection(flags, vec) : ''}
}`,
  };
}

// truncated projection around the anchor (only in variants with the anchor bindings)
const projection = (flags: number, vec: boolean) => `
  var hh = 0.0;
  for (var d = 0u; d < D; d++) {
    let x = X[oX + row + d]${flags & 1 ? ` + inv * G[oG + row + d]` : ''};
    Xs[row + d] = x;
    let h = x - Pa[oP + row + d];
    hh += ${sq(vec, 'h', 'h')};
  }
  let nrm = sqrt(hh);
  let r = R[${pu(9)}];
  let a = clamp(nrm, ${pf(7)} * r, ${pf(8)} * r);
  let s = a / (nrm + 1e-10);
  ${flags & 8 ? 'Sc[n] = s;' : ''}
  for (var d = 0u; d < D; d++) {
    let p = Pa[oP + row + d];
    Y[row + d] = p + s * (Xs[row + d] - p);
  }`;

// VJP of the truncation per row: g_h = s g + (h.g) (a'(n)(n+eps) - a) / ((n+eps)^2 n) h
function backwardKernel(masked: boolean, vec: boolean) {
  const T = elem(vec);
  return {
    name: 'glass.gasUpdate.grad',
    key: `glass.gasUpdate.grad:${masked}:${vec}`,
    code: () => `${PARAMS_DECL}
@group(0) @binding(1) var<storage, read> Gy: array<${T}>;
@group(0) @binding(2) var<storage, read> Xs: array<${T}>;
@group(0) @binding(3) var<storage, read> Pa: array<${T}>;
@group(0) @binding(4) var<storage, read> R: array<f32>;
${masked ? '@group(0) @binding(5) var<storage, read> Mk: array<u32>;' : ''}
@group(0) @binding(6) var<storage, read_write> Gx: array<${T}>;
@group(0) @binding(7) var<storage, read_write> Gp: array<${T}>;
${rowMain()}
  let oG = ${pu(2)}; let oP = ${pu(4)};
  ${masked ? `if (Mk[${pu(5)} + n] == 0u) { for (var d = 0u; d < D; d++) { Gx[row + d] = Gy[oG + row + d]; Gp[row + d] = ${T}(0.0); } return; }` : ''}
  var hh = 0.0; var hg = 0.0;
  for (var d = 0u; d < D; d++) {
    let h = Xs[row + d] - Pa[oP + row + d];
    hh += ${sq(vec, 'h', 'h')};
    hg += ${sq(vec, 'h', `Gy[oG + row + d]`)};
  }
  let nrm = sqrt(hh);
  let r = R[${pu(9)}];
  let lo = ${pf(7)} * r; let hi = ${pf(8)} * r;
  let a = clamp(nrm, lo, hi);
  let da = select(0.0, 1.0, nrm >= lo && nrm <= hi);
  let ne = nrm + 1e-10;
  let s = a / ne;
  let coef = hg * (da * ne - a) / (ne * ne * max(nrm, 1e-30));
  for (var d = 0u; d < D; d++) {
    let gh = s * Gy[oG + row + d] + coef * (Xs[row + d] - Pa[oP + row + d]);
    Gx[row + d] = gh;
    Gp[row + d] = Gy[oG + row + d] - gh;
  }
}`,
  };
}

/** Applies the fused GAS update; see the file header. Returns a new [N, D] tensor. */
export function gasUpdate(x: E.Tensor, opts: GasUpdate): E.Tensor {
  return gasUpdatePre(x, opts).y;
}

/** gasUpdate that can also hand back the post-ascent, pre-truncation rows (`keepPre`). */
export function gasUpdatePre(x: E.Tensor, opts: GasUpdate): { y: E.Tensor; pre: E.Tensor | null; scale: E.Tensor | null } {
  if (x.rank !== 2) throw new Error(`gasUpdate: expected [N, D] features, got [${x.shape}]`);
  const [N, D] = x.shape;
  const xc = E.contiguous(x);
  const grad = opts.grad ? E.contiguous(opts.grad) : null;
  const anchor = opts.anchor ? E.contiguous(opts.anchor) : null;
  const radius = opts.radius ?? null;
  const mask = opts.rowMask ? (opts.rowMask.dtype === 'f32' ? E.cast(opts.rowMask, 'u32') : E.contiguous(opts.rowMask)) : null;
  for (const [name, t] of [['grad', grad], ['anchor', anchor]] as const)
    if (t && (t.shape[0] !== N || t.shape[1] !== D)) throw new Error(`gasUpdate: ${name} [${t.shape}] does not match features [${N}, ${D}]`);
  if (mask && mask.size !== N) throw new Error(`gasUpdate: row mask has ${mask.size} entries for ${N} rows`);
  if (opts.keepScale && !anchor) throw new Error('gasUpdate: keepScale needs an anchor (the factor is the truncation\'s)');
  const flags = (grad ? 1 : 0) | (anchor ? 2 : 0) | (mask ? 4 : 0) | (opts.keepScale ? 8 : 0);
  const vec = D % 4 === 0 && [xc, grad, anchor].every((t) => !t || t.offset % 4 === 0);
  const q = vec ? 4 : 1; // D and row offsets in units of the bound element
  const Y = E.Tensor.empty([N, D]);
  const Xs = E.Tensor.empty([N, D]);
  const one = radius ?? E.ones([1]);
  const scale = opts.keepScale ? E.Tensor.empty([N, 1]) : null;
  const params = new Params()
    .u32(N, D / q, xc.offset / q, (grad?.offset ?? 0) / q, (anchor?.offset ?? 0) / q, mask?.offset ?? 0)
    .f32(opts.stepSize ?? 0.001, opts.loFactor ?? 1, opts.hiFactor ?? 2)
    .u32(one.offset)
    .build();
  dispatch(
    forwardKernel(flags, vec),
    [xc.storage.buffer, grad?.storage.buffer ?? null, anchor?.storage.buffer ?? null, anchor ? one.storage.buffer : null, mask?.storage.buffer ?? null, Y.storage.buffer, Xs.storage.buffer, scale?.storage.buffer ?? null],
    params,
    [Math.ceil(N / WG)],
    undefined,
    { bytes: 4 * N * D * (3 + (grad ? 1 : 0) + (anchor ? 1 : 0)) },
  );
  const pre = opts.keepPre ? E.detach(Xs) : null;
  if (!anchor) {
    Xs.dispose();
    // ascent only: an in-place no_grad update in the reference, so the gradient passes through
    return { y: E.record(Y, 'gasUpdate', [x], (g) => [g]), pre, scale: null };
  }
  const inputs = [x, opts.anchor!];
  const res = E.record(
    Y,
    'gasUpdate',
    inputs,
    (g, needs, [xsS, pS, rS, mS]) => {
      const gc = E.contiguous(g);
      const bq = vec && gc.offset % 4 === 0 ? 4 : 1; // xsS and pS are the aligned Xs and anchor
      const Gx = E.Tensor.empty([N, D]);
      const Gp = E.Tensor.empty([N, D]);
      const bp = new Params()
        .u32(N, D / bq, gc.offset / bq, 0, pS.offset / bq, mS ? mS.offset : 0)
        .f32(0, opts.loFactor ?? 1, opts.hiFactor ?? 2)
        .u32(rS.offset)
        .build();
      dispatch(backwardKernel(!!mask, bq === 4), [gc.storage.buffer, xsS.storage.buffer, pS.storage.buffer, rS.storage.buffer, mS?.storage.buffer ?? null, Gx.storage.buffer, Gp.storage.buffer], bp, [Math.ceil(N / WG)]);
      return [needs[0] ? Gx : null, needs[1] ? Gp : null];
    },
    [Xs, anchor, one, ...(mask ? [mask] : [])],
  );
  Xs.dispose();
  if (!radius) one.dispose();
  return { y: res, pre, scale };
}

/**
 * One GAS step in the discriminator's hidden space (Glass.hiddenAscent), fused per row:
 *   beta = stepSize / (sqrt(max(dh . q, 0)) + 1e-10),  h' = h + beta q,  acc' = acc + beta dh
 * with q = dh @ W W^T, so dh . q = ||dh @ W||^2 = ||g||^2 and beta q is the step's move of
 * h = gaus @ W^T + b. `acc` null starts the sum. Values only: the ascent is not differentiated.
 */
export function gasHiddenStep(h: E.Tensor, dh: E.Tensor, q: E.Tensor, acc: E.Tensor | null, stepSize = 0.001): { h: E.Tensor; acc: E.Tensor } {
  if (h.rank !== 2) throw new Error(`gasHiddenStep: expected [N, H] hidden features, got [${h.shape}]`);
  const [N, H] = h.shape;
  const ins = [h, dh, q, ...(acc ? [acc] : [])].map((t) => E.contiguous(t));
  ins.forEach((t, i) => {
    if (t.rank !== 2 || t.shape[0] !== N || t.shape[1] !== H) throw new Error(`gasHiddenStep: operand ${i} [${t.shape}] does not match h [${N}, ${H}]`);
  });
  const vec = H % 4 === 0 && ins.every((t) => t.offset % 4 === 0);
  const u = vec ? 4 : 1;
  const hOut = E.Tensor.empty([N, H]);
  const accOut = E.Tensor.empty([N, H]);
  const p = new Params().u32(N, H / u, ...[0, 1, 2, 3].map((i) => (ins[i]?.offset ?? 0) / u)).f32(stepSize).build();
  dispatch(hiddenStepKernel(acc !== null, vec), [...ins.map((t) => t.storage.buffer), ...(acc ? [] : [null]), hOut.storage.buffer, accOut.storage.buffer], p, [Math.ceil(N / WG)], `${N}x${H}`, { bytes: 4 * N * H * (ins.length + 2) });
  ins.forEach((t, i) => t !== [h, dh, q, acc][i] && t.dispose());
  return { h: hOut, acc: accOut };
}

function hiddenStepKernel(hasAcc: boolean, vec: boolean) {
  const T = elem(vec);
  return {
    name: 'glass.gasHiddenStep',
    key: `glass.gasHiddenStep:${hasAcc}:${vec}`,
    code: () => `${PARAMS_DECL}
@group(0) @binding(1) var<storage, read> Hh: array<${T}>;
@group(0) @binding(2) var<storage, read> Dh: array<${T}>;
@group(0) @binding(3) var<storage, read> Q: array<${T}>;
${hasAcc ? `@group(0) @binding(4) var<storage, read> Acc: array<${T}>;` : ''}
@group(0) @binding(5) var<storage, read_write> Ho: array<${T}>;
@group(0) @binding(6) var<storage, read_write> Ao: array<${T}>;
${rowMain()}
  let oH = ${pu(2)} + row; let oD = ${pu(3)} + row; let oQ = ${pu(4)} + row; let oA = ${pu(5)} + row;
  var gg = 0.0;
  for (var d = 0u; d < D; d++) { gg += ${sq(vec, 'Dh[oD + d]', 'Q[oQ + d]')}; }
  let beta = ${pf(6)} / (sqrt(max(gg, 0.0)) + 1e-10);
  for (var d = 0u; d < D; d++) {
    Ho[row + d] = Hh[oH + d] + beta * Q[oQ + d];
    Ao[row + d] = ${hasAcc ? 'Acc[oA + d] + ' : ''}beta * Dh[oD + d];
  }
}`,
  };
}
