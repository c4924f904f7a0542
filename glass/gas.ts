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
// (glass/ascent.ts hiddenAscent), also one kernel per row.
import * as E from '../engine/index.ts';

const { dispatch, paramStruct, storage, isNan } = E.kernels;
type Kernel = E.kernels.Kernel;

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

/**
 * The fused update and its backward: N rows of D elements (`dim`, in units of the bound element);
 * element offsets of the features, the gradient and the anchor (same units) and of the row mask;
 * the ascent's step size, the truncation's bound factors and the radius tensor's offset.
 */
export const GasUpdateParams = paramStruct('GasUpdateParams', {
  rows: 'u32',
  dim: 'u32',
  xOffset: 'u32',
  gOffset: 'u32',
  anchorOffset: 'u32',
  maskOffset: 'u32',
  stepSize: 'f32',
  loFactor: 'f32',
  hiFactor: 'f32',
  radiusOffset: 'u32',
});

/** The hidden-space step: N rows of H (`dim`, in bound elements); offsets of h, dh, q, acc; the step size. */
export const GasHiddenParams = paramStruct('GasHiddenParams', {
  rows: 'u32',
  dim: 'u32',
  hOffset: 'u32',
  dhOffset: 'u32',
  qOffset: 'u32',
  accOffset: 'u32',
  stepSize: 'f32',
});

// Rows are walked one element (f32) or, when D and every offset are multiples of 4, one vec4 at a
// time (`vec`: D and the offsets in the params are then in vec4 units): CPU drivers pay per load.
const elem = (vec: boolean) => (vec ? 'vec4<f32>' : 'f32');
const sq = (vec: boolean, a: string, b: string) => (vec ? `dot(${a}, ${b})` : `${a} * ${b}`);

// entry point of the per-row kernels: invocation n owns row n (elements row .. row + D)
const rowMain = (P: typeof GasUpdateParams | typeof GasHiddenParams) => `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let N = ${P.at.rows}; let D = ${P.at.dim};
  let n = gid.x;
  if (n >= N) { return; }
  let row = n * D;`;

// flags: 1 ascent, 2 project, 4 row mask, 8 write the truncation factors
function forwardKernel(flags: number, vec: boolean): Kernel {
  const P = GasUpdateParams;
  const T = elem(vec);
  return {
    name: 'glass.gasUpdate',
    key: `glass.gasUpdate:${flags}:${vec}`,
    code: () => `${P.decl}
${storage(1, 'X', T)}
${flags & 1 ? storage(2, 'G', T) : ''}
${flags & 2 ? `${storage(3, 'Pa', T)}\n${storage(4, 'R', 'f32')}` : ''}
${flags & 4 ? storage(5, 'Mk', 'u32') : ''}
${storage(6, 'Y', T, true)}
${storage(7, 'Xs', T, true)}
${flags & 8 ? storage(8, 'Sc', 'f32', true) : ''}
${rowMain(P)}
  let oX = ${P.at.xOffset}; let oG = ${P.at.gOffset}; let oP = ${P.at.anchorOffset};
  var live = true;
  ${flags & 4 ? `live = Mk[${P.at.maskOffset} + n] != 0u;` : ''}
  var inv = 0.0;
  ${flags & 1 ? `if (live) { var gg = 0.0; for (var d = 0u; d < D; d++) { let g = G[oG + row + d]; gg += ${sq(vec, 'g', 'g')}; } inv = ${P.at.stepSize} / (sqrt(gg) + 1e-10); }` : ''}
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
  let r = R[${GasUpdateParams.at.radiusOffset}];
  let a = clamp(nrm, ${GasUpdateParams.at.loFactor} * r, ${GasUpdateParams.at.hiFactor} * r);
  let s = a / (nrm + 1e-10);
  ${flags & 8 ? 'Sc[n] = s;' : ''}
  for (var d = 0u; d < D; d++) {
    let p = Pa[oP + row + d];
    Y[row + d] = p + s * (Xs[row + d] - p);
  }`;

// VJP of the truncation per row: g_h = s g + (h.g) (a'(n)(n+eps) - a) / ((n+eps)^2 n) h
function backwardKernel(masked: boolean, vec: boolean): Kernel {
  const P = GasUpdateParams;
  const T = elem(vec);
  return {
    name: 'glass.gasUpdate.grad',
    key: `glass.gasUpdate.grad:${masked}:${vec}`,
    code: () => `${P.decl}
${storage(1, 'Gy', T)}
${storage(2, 'Xs', T)}
${storage(3, 'Pa', T)}
${storage(4, 'R', 'f32')}
${masked ? storage(5, 'Mk', 'u32') : ''}
${storage(6, 'Gx', T, true)}
${storage(7, 'Gp', T, true)}
${rowMain(P)}
  let oG = ${P.at.gOffset}; let oP = ${P.at.anchorOffset};
  ${masked ? `if (Mk[${P.at.maskOffset} + n] == 0u) { for (var d = 0u; d < D; d++) { Gx[row + d] = Gy[oG + row + d]; Gp[row + d] = ${T}(0.0); } return; }` : ''}
  var hh = 0.0; var hg = 0.0;
  for (var d = 0u; d < D; d++) {
    let h = Xs[row + d] - Pa[oP + row + d];
    hh += ${sq(vec, 'h', 'h')};
    hg += ${sq(vec, 'h', `Gy[oG + row + d]`)};
  }
  let nrm = sqrt(hh);
  let r = R[${P.at.radiusOffset}];
  let lo = ${P.at.loFactor} * r; let hi = ${P.at.hiFactor} * r;
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
  for (const [name, t] of [
    ['grad', grad],
    ['anchor', anchor],
  ] as const)
    if (t && (t.shape[0] !== N || t.shape[1] !== D)) throw new Error(`gasUpdate: ${name} [${t.shape}] does not match features [${N}, ${D}]`);
  if (mask && mask.size !== N) throw new Error(`gasUpdate: row mask has ${mask.size} entries for ${N} rows`);
  if (opts.keepScale && !anchor) throw new Error("gasUpdate: keepScale needs an anchor (the factor is the truncation's)");
  const flags = (grad ? 1 : 0) | (anchor ? 2 : 0) | (mask ? 4 : 0) | (opts.keepScale ? 8 : 0);
  const vec = D % 4 === 0 && [xc, grad, anchor].every((t) => !t || t.offset % 4 === 0);
  const q = vec ? 4 : 1; // D and row offsets in units of the bound element
  const Y = E.Tensor.empty([N, D]);
  const Xs = E.Tensor.empty([N, D]);
  const one = radius ?? E.ones([1]);
  const scale = opts.keepScale ? E.Tensor.empty([N, 1]) : null;
  const params = GasUpdateParams.pack({
    rows: N,
    dim: D / q,
    xOffset: xc.offset / q,
    gOffset: (grad?.offset ?? 0) / q,
    anchorOffset: (anchor?.offset ?? 0) / q,
    maskOffset: mask?.offset ?? 0,
    stepSize: opts.stepSize ?? 0.001,
    loFactor: opts.loFactor ?? 1,
    hiFactor: opts.hiFactor ?? 2,
    radiusOffset: one.offset,
  });
  dispatch(
    forwardKernel(flags, vec),
    [
      xc.storage.buffer,
      grad?.storage.buffer ?? null,
      anchor?.storage.buffer ?? null,
      anchor ? one.storage.buffer : null,
      mask?.storage.buffer ?? null,
      Y.storage.buffer,
      Xs.storage.buffer,
      scale?.storage.buffer ?? null,
    ],
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
      // gOffset: the upstream gradient's
      const bp = GasUpdateParams.pack({
        rows: N,
        dim: D / bq,
        xOffset: 0,
        gOffset: gc.offset / bq,
        anchorOffset: pS.offset / bq,
        maskOffset: mS ? mS.offset : 0,
        stepSize: 0,
        loFactor: opts.loFactor ?? 1,
        hiFactor: opts.hiFactor ?? 2,
        radiusOffset: rS.offset,
      });
      dispatch(
        backwardKernel(!!mask, bq === 4),
        [gc.storage.buffer, xsS.storage.buffer, pS.storage.buffer, rS.storage.buffer, mS?.storage.buffer ?? null, Gx.storage.buffer, Gp.storage.buffer],
        bp,
        [Math.ceil(N / WG)],
      );
      return [needs[0] ? Gx : null, needs[1] ? Gp : null];
    },
    [Xs, anchor, one, ...(mask ? [mask] : [])],
  );
  Xs.dispose();
  if (!radius) one.dispose();
  return { y: res, pre, scale };
}

/**
 * One GAS step in the discriminator's hidden space (glass/ascent.ts hiddenAscent), fused per row:
 *   beta = stepSize / (sqrt(max(dh . q, 0)) + 1e-10),  h' = h + beta q,  acc' = acc + beta dh
 * with q = dh @ W W^T, so dh . q = ||dh @ W||^2 = ||g||^2 and beta q is the step's move of
 * h = gaus @ W^T + b. `acc` null starts the sum. A NaN dh . q makes the row's h' and acc' NaN (as
 * the feature-space step's norm would). Values only: the ascent is not differentiated.
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
  const [hOffset, dhOffset, qOffset, accOffset] = [0, 1, 2, 3].map((i) => (ins[i]?.offset ?? 0) / u);
  const p = GasHiddenParams.pack({ rows: N, dim: H / u, hOffset, dhOffset, qOffset, accOffset, stepSize });
  dispatch(
    hiddenStepKernel(acc !== null, vec),
    [...ins.map((t) => t.storage.buffer), ...(acc ? [] : [null]), hOut.storage.buffer, accOut.storage.buffer],
    p,
    [Math.ceil(N / WG)],
    `${N}x${H}`,
    { bytes: 4 * N * H * (ins.length + 2) },
  );
  ins.forEach((t, i) => t !== [h, dh, q, acc][i] && t.dispose());
  return { h: hOut, acc: accOut };
}

function hiddenStepKernel(hasAcc: boolean, vec: boolean): Kernel {
  const P = GasHiddenParams;
  const T = elem(vec);
  return {
    name: 'glass.gasHiddenStep',
    key: `glass.gasHiddenStep:${hasAcc}:${vec}`,
    code: () => `${P.decl}
${storage(1, 'Hh', T)}
${storage(2, 'Dh', T)}
${storage(3, 'Q', T)}
${hasAcc ? storage(4, 'Acc', T) : ''}
${storage(5, 'Ho', T, true)}
${storage(6, 'Ao', T, true)}
${rowMain(P)}
  let oH = ${P.at.hOffset} + row; let oD = ${P.at.dhOffset} + row; let oQ = ${P.at.qOffset} + row; let oA = ${P.at.accOffset} + row;
  var gg = 0.0;
  for (var d = 0u; d < D; d++) { gg += ${sq(vec, 'Dh[oD + d]', 'Q[oQ + d]')}; }
  // gg may round below zero (sqrt of a negative is NaN); a NaN gg (a NaN or an infinity in the
  // rows) stays NaN, so the row's step is NaN rather than a huge finite one (max(NaN, 0) is 0 on
  // some drivers)
  let gp = select(max(gg, 0.0), gg, ${isNan('gg')});
  let beta = ${P.at.stepSize} / (sqrt(gp) + 1e-10);
  for (var d = 0u; d < D; d++) {
    Ho[row + d] = Hh[oH + d] + beta * Q[oQ + d];
    Ao[row + d] = ${hasAcc ? 'Acc[oA + d] + ' : ''}beta * Dh[oD + d];
  }
}`,
  };
}
