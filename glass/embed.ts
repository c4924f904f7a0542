// GLASS patch embedding without materialising the unfolded taps (at the paper preset the
// unfolded layer3 tap alone would be 380 MB). Per output row n = (b, y, x) of tap 0's grid and
// output dim d, the reference computes, in order:
//   unfold(3x3, pad 1) of every tap -> bilinear resize of taps >= 1 to tap 0's grid (on the
//   unfolded planes, align_corners=False) -> adaptive_avg_pool1d of each tap's C*9 vector to P
//   -> stack -> adaptive_avg_pool1d of the T*P vector to D.
// The main kernel evaluates exactly that composition. Every tap is first laid out as rows
// (one small pass per tap: [B, C, 3 column shifts, h_t, w0 rounded up to 4], a third of the
// unfolded size at tap t's height): a tap on tap 0's grid is shifted along x, a tap on another
// grid resized along x, so each unfolded, resized value is two loads blended along y instead of
// four corners: the bilinear weights are those of the reference, applied x first, then y, in the
// reference's order of operations. The embedding is never differentiated (the backbone is
// frozen), so there is no backward.
//
// Cost on CPU drivers (lavapipe gathers every lane's value with a checked scalar load, and pays
// a runtime u32 division per lane): a lane takes 4 neighbouring patches along x, whose unfolded
// values are neighbours in the rows, so one aligned vec4 load serves four patches and the index
// arithmetic is paid once per four (the same bits as one patch per lane). A workgroup row shares
// one output dim range (2-D launch), so the pooling bins are the same on every lane; runtime
// divisions use udivf (f32 reciprocal); the (channel, ky, kx) of the unfolded index step along
// without dividing.
import * as E from '../engine/index.ts';

const { dispatch, paramStruct, main1d, grid1d, storage, UDIVF } = E.kernels;
type Kernel = E.kernels.Kernel;

const MAX_TAPS = 4;
/** Lanes per workgroup; a lane takes a quad of 4 neighbouring patches along x. */
const WG = 64;
/** Output dims per invocation. */
const DB = 16;

const inv = (b: number) => Math.fround(1 / b);

/**
 * The rows pass of one tap [B, C, h, w]: `rows` = B*C*3*h rows of `rowQuads` vec4s (w0 rounded up
 * to 4, over 4); `w0` tap 0's width; the tap's element offset; `resized` (0/1) and the source
 * column scale w / w0 of a resized tap.
 */
export const EmbedRowsParams = paramStruct('EmbedRowsParams', {
  rows: 'u32',
  h: 'u32',
  w: 'u32',
  w0: 'u32',
  rowQuads: 'u32',
  tapOffset: 'u32',
  resized: 'u32',
  scaleX: 'f32',
});

/**
 * A tap's rows as the main kernel reads them, one per column shift kx: hx[(((b*C + c)*3 + kx)*h
 * + r)*w0p + x] = the unfolded value at tap-0 column x (zero at x >= w0: rows are padded to a
 * multiple of 4 so the main kernel reads aligned vec4s). A direct tap (on tap 0's grid) gives
 * tap[b, c, r, x + kx - 1]; a resized one (1 - lx) * tap[b, c, r, x0 + kx - 1] + lx * tap[b, c,
 * r, x1 + kx - 1] with x0, x1, lx the bilinear source columns and weight; zero outside the tap.
 * One invocation per row r.
 */
function rowsKernel(): Kernel {
  const P = EmbedRowsParams;
  const value = (p: number) => `{
      let x = x4 + ${p}u;
      var v = 0.0;
      if (resized) {
        let sx = max((f32(x) + 0.5) * ${P.at.scaleX} - 0.5, 0.0);
        let x0 = u32(sx); let x1 = min(x0 + 1u, w - 1u);
        let lx = sx - f32(x0);
        let a = i32(x0) + kx; let b = i32(x1) + kx;
        let v0 = select(0.0, tap[src + u32(a)], a >= 0 && a < i32(w));
        let v1 = select(0.0, tap[src + u32(b)], b >= 0 && b < i32(w));
        v = (1.0 - lx) * v0 + lx * v1;
      } else {
        let a = i32(x) + kx;
        v = select(0.0, tap[src + u32(a)], a >= 0 && a < i32(w));
      }
      o.${'xyzw'[p]} = select(0.0, v, x < w0);
    }`;
  return {
    name: 'glass.patchEmbed.rows',
    key: 'glass.patchEmbed.rows',
    code: () => `${P.decl}
${storage(1, 'tap', 'f32')}
${storage(2, 'hx', 'vec4<f32>', true)}
${main1d()}
  let rows = ${P.at.rows}; let h = ${P.at.h}; let w = ${P.at.w}; let w0 = ${P.at.w0}; let W4 = ${P.at.rowQuads};
  if (gi >= rows) { return; }
  let r = gi % h; let kx = i32((gi / h) % 3u) - 1; let bc = gi / (3u * h);
  let src = ${P.at.tapOffset} + (bc * h + r) * w;
  let resized = ${P.at.resized} != 0u;
  for (var q = 0u; q < W4; q++) {
    let x4 = q * 4u;
    var o = vec4<f32>(0.0);
    ${[0, 1, 2, 3].map(value).join('\n    ')}
    hx[gi * W4 + q] = o;
  }
}`,
  };
}

/**
 * The main kernel's parameters for T taps: `quads` = B*h0*rowQuads lanes of 4 patches, the output
 * dim D (`outDim`) and per-tap pool size P (`tapDim`), tap 0's grid (h0, w0, `rowQuads` = w0 / 4
 * rounded up), the f32 reciprocals udivf divides by, and per tap its channels, height and row
 * scale h / h0. Built per tap count (cached), so the kernel and its packer agree.
 */
function embedParams(T: number) {
  return paramStruct('EmbedParams', {
    quads: 'u32',
    outDim: 'u32',
    tapDim: 'u32',
    h0: 'u32',
    rowQuads: 'u32',
    /** 1 / tapDim */
    invTapDim: 'f32',
    /** 1 / outDim */
    invOutDim: 'f32',
    /** 1 / (h0 * rowQuads) */
    invImageQuads: 'f32',
    /** 1 / rowQuads */
    invRowQuads: 'f32',
    w0: 'u32',
    tapChannels: ['u32', T],
    tapHeight: ['u32', T],
    tapScaleY: ['f32', T],
  });
}
type EmbedParams = ReturnType<typeof embedParams>;
const embedParamsByTaps = new Map<number, EmbedParams>();
function embedParamsFor(T: number): EmbedParams {
  let P = embedParamsByTaps.get(T);
  if (!P) embedParamsByTaps.set(T, (P = embedParams(T)));
  return P;
}

/**
 * Sums of the unfolded values j in [s, e) of tap t at the quad (y, qx) of image bi, one per lane
 * of the vec4; (c, ky, kx) = (j / 9, j % 9 / 3, j % 3) step along with j, the same for every lane
 * of the workgroup (s and e depend only on the output dim). A direct tap reads row y + ky - 1 (zero
 * outside); a resized tap blends two rows along y.
 */
function sumKernel(P: EmbedParams, t: number, resized: boolean): string {
  const setup = resized
    ? `let sy = max((f32(y) + 0.5) * ${P.at.tapScaleY[t]} - 0.5, 0.0);
  let y0 = u32(sy); let y1 = min(y0 + 1u, h - 1u); let ly = sy - f32(y0);`
    : '';
  const value = resized
    ? `let ra = i32(y0 + ky) - 1; let rb = i32(y1 + ky) - 1;
    let va = select(vec4<f32>(0.0), tap${t}[(base + u32(ra)) * W4 + qx], ra >= 0 && ra < i32(h));
    let vb = select(vec4<f32>(0.0), tap${t}[(base + u32(rb)) * W4 + qx], rb >= 0 && rb < i32(h));
    acc += (1.0 - ly) * va + ly * vb;`
    : `let r = i32(y + ky) - 1;
    acc += select(vec4<f32>(0.0), tap${t}[(base + u32(r)) * W4 + qx], r >= 0 && r < i32(h));`;
  return `fn sum${t}(bi: u32, s: u32, e: u32, y: u32, qx: u32) -> vec4<f32> {
  let C = ${P.at.tapChannels[t]}; let h = ${P.at.tapHeight[t]}; let W4 = ${P.at.rowQuads};
  ${setup}
  var c = s / 9u; let k = s % 9u; var ky = k / 3u; var kx = k % 3u;
  var acc = vec4<f32>(0.0);
  for (var j = s; j < e; j++) {
    let base = ((bi * C + c) * 3u + kx) * h;
    ${value}
    kx++;
    let wx = kx == 3u; kx = select(kx, 0u, wx); ky = select(ky, ky + 1u, wx);
    let wy = ky == 3u; ky = select(ky, 0u, wy); c = select(c, c + 1u, wy);
  }
  return acc;
}`;
}

/** `resized[t]`: tap t's rows were resized to tap 0's grid (else it is on that grid). */
function kernel(resized: boolean[]): Kernel {
  const T = resized.length;
  const P = embedParamsFor(T);
  const branch = [...Array(T).keys()]
    .map(
      (t) => `if (t == ${t}u) {
      let L = ${P.at.tapChannels[t]} * 9u; let q = i - ${t}u * Pt;
      let s = udivf(q * L, Pt, invP); let e = udivf((q + 1u) * L + Pt - 1u, Pt, invP);
      v = sum${t}(bi, s, e, y, qx) / f32(e - s);
    }`,
    )
    .join(' else ');
  return {
    name: 'glass.patchEmbed',
    key: `glass.patchEmbed:${resized.map((r) => (r ? 'r' : 'd')).join('')}`,
    code: () => `${P.decl}
${[...Array(T).keys()].map((t) => storage(t + 1, `tap${t}`, 'vec4<f32>')).join('\n')}
${storage(T + 1, 'out', 'f32', true)}
${UDIVF}
${resized.map((r, t) => sumKernel(P, t, r)).join('\n')}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let NQ = ${P.at.quads}; let D = ${P.at.outDim}; let Pt = ${P.at.tapDim}; let invP = ${P.at.invTapDim};
  // a lane takes 4 neighbouring patches along x: one aligned vec4 load serves all four (the
  // unfolded values of neighbours along x are neighbours in the rows), and the index arithmetic,
  // the same on every lane of a workgroup row (one output dim range), is paid once per 4 patches
  let q = wid.x * ${WG}u + lid;
  if (q >= NQ) { return; }
  let W4 = ${P.at.rowQuads}; let L0 = ${P.at.h0} * W4;
  let bi = udivf(q, L0, ${P.at.invImageQuads}); let yq = q - bi * L0;
  let y = udivf(yq, W4, ${P.at.invRowQuads}); let qx = yq - y * W4;
  let w0 = ${P.at.w0};
  let n0 = (bi * ${P.at.h0} + y) * w0 + qx * 4u;
  let live = min(4u, w0 - qx * 4u);
  let TP = ${T}u * Pt;
  let d0 = wid.y * ${DB}u; let d1 = min(D, d0 + ${DB}u);
  for (var d = d0; d < d1; d++) {
    let s = udivf(d * TP, D, ${P.at.invOutDim}); let e = udivf((d + 1u) * TP + D - 1u, D, ${P.at.invOutDim});
    var acc = vec4<f32>(0.0);
    for (var i = s; i < e; i++) {
      let t = udivf(i, Pt, invP);
      var v = vec4<f32>(0.0);
      ${branch}
      acc += v;
    }
    let o = acc / f32(e - s);
    for (var p = 0u; p < live; p++) { out[(n0 + p) * D + d] = o[p]; }
  }
}`,
  };
}

/**
 * The reference's `_embed` after the backbone: taps [B, C_t, h_t, w_t] (tap 0 sets the patch
 * grid) -> [B*h0*w0, targetDim], rows in (b, y, x) order.
 */
export function patchEmbed(taps: E.Tensor[], pretrainDim: number, targetDim: number): E.Tensor {
  if (taps.length < 1 || taps.length > MAX_TAPS) throw new Error(`patchEmbed: 1..${MAX_TAPS} taps supported, got ${taps.length}`);
  const [B, , h0, w0] = taps[0].shape;
  taps.forEach((t, i) => {
    if (t.rank !== 4 || t.shape[0] !== B) throw new Error(`patchEmbed: tap ${i} has shape [${t.shape}], expected [${B}, C, h, w]`);
  });
  const N = B * h0 * w0;
  const out = E.Tensor.empty([N, targetDim]);
  if (N === 0 || targetDim === 0) return out;
  const W4 = Math.ceil(w0 / 4);
  const NQ = B * h0 * W4;
  const resized = taps.map((t, i) => i > 0 && (t.shape[2] !== h0 || t.shape[3] !== w0));
  const tapChannels: number[] = [],
    tapHeight: number[] = [],
    tapScaleY: number[] = [];
  const rows = taps.map((tap, i) => {
    const c = E.contiguous(tap);
    const [, C, h, w] = c.shape;
    const hx = E.Tensor.empty([B, C, 3, h, 4 * W4]);
    const n = B * C * 3 * h;
    const rp = EmbedRowsParams.pack({ rows: n, h, w, w0, rowQuads: W4, tapOffset: c.offset, resized: resized[i] ? 1 : 0, scaleX: w / w0 });
    if (n > 0) dispatch(rowsKernel(), [c.storage.buffer, hx.storage.buffer], rp, grid1d(n), `${B}x${C}x${h}x${w}->${w0}`);
    if (c !== tap) c.dispose();
    tapChannels.push(C);
    tapHeight.push(h);
    tapScaleY.push(h / h0);
    return hx;
  });
  const p = embedParamsFor(taps.length).pack({
    quads: NQ,
    outDim: targetDim,
    tapDim: pretrainDim,
    h0,
    rowQuads: W4,
    invTapDim: inv(pretrainDim),
    invOutDim: inv(targetDim),
    invImageQuads: inv(h0 * W4),
    invRowQuads: inv(W4),
    w0,
    tapChannels,
    tapHeight,
    tapScaleY,
  });
  const detail = `${N}x${targetDim} from ${taps.map((t) => t.shape.slice(1).join('x')).join(' + ')}`;
  dispatch(kernel(resized), [...rows.map((t) => t.storage.buffer), out.storage.buffer], p, [Math.ceil(NQ / WG), Math.ceil(targetDim / DB), 1], detail);
  rows.forEach((r) => r.dispose());
  return out;
}
