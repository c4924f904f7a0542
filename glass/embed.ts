// GLASS patch embedding in one fused kernel (no unfold materialised: at the paper preset the
// unfolded layer3 tap alone would be 380 MB). Per output row n = (b, y, x) of tap 0's grid and
// output dim d, the reference computes, in order:
//   unfold(3x3, pad 1) of every tap -> bilinear resize of taps >= 1 to tap 0's grid (on the
//   unfolded planes, align_corners=False) -> adaptive_avg_pool1d of each tap's C*9 vector to P
//   -> stack -> adaptive_avg_pool1d of the T*P vector to D.
// The kernel evaluates exactly that composition, reading the taps directly. The embedding is
// never differentiated (the backbone is frozen), so there is no backward.
import * as E from '../engine/index.ts';
import { dispatch, Params } from '../engine/runtime.ts';
import { PARAMS_DECL, main1d, pu, pf, grid1d } from '../engine/wgsl/common.ts';

const MAX_TAPS = 4;

function kernel(T: number) {
  // param layout: 0 N, 1 D, 2 P, 3 h0, 4 w0, then per tap t (base 5 + 6t):
  // C, h, w, offset, scaleY (f32), scaleX (f32)
  const tapBase = (t: number) => 5 + 6 * t;
  const fetch = (t: number) => {
    const b = tapBase(t);
    // zero-padded read of tap t (the unfold's padding is relative to the tap's own grid)
    const tapv = `fn tapv${t}(bi: u32, c: u32, yy: i32, xx: i32) -> f32 {
  let h = i32(${pu(b + 1)}); let w = i32(${pu(b + 2)});
  if (yy < 0 || xx < 0 || yy >= h || xx >= w) { return 0.0; }
  return tap${t}[${pu(b + 3)} + ((bi * ${pu(b)} + c) * u32(h) + u32(yy)) * u32(w) + u32(xx)];
}`;
    if (t === 0)
      return `${tapv}
fn unf${t}(bi: u32, j: u32, y: u32, x: u32) -> f32 {
  let c = j / 9u; let k = j % 9u;
  return tapv${t}(bi, c, i32(y) + i32(k / 3u) - 1, i32(x) + i32(k % 3u) - 1);
}`;
    return `${tapv}
// bilinear (align_corners=False) sample of unfolded plane j of tap ${t} at tap-0 cell (y, x); the
// corners and weights depend on the cell only, so pooled${t} computes them once (bl${t}) for its bin
struct Bl${t} { y0: i32, x0: i32, y1: i32, x1: i32, ly: f32, lx: f32 }
fn bl${t}(y: u32, x: u32) -> Bl${t} {
  let h = ${pu(b + 1)}; let w = ${pu(b + 2)};
  let sy = max((f32(y) + 0.5) * ${pf(b + 4)} - 0.5, 0.0);
  let sx = max((f32(x) + 0.5) * ${pf(b + 5)} - 0.5, 0.0);
  let y0 = u32(sy); let x0 = u32(sx);
  let y1 = min(y0 + 1u, h - 1u); let x1 = min(x0 + 1u, w - 1u);
  return Bl${t}(i32(y0), i32(x0), i32(y1), i32(x1), sy - f32(y0), sx - f32(x0));
}
fn unf${t}(bi: u32, j: u32, q: Bl${t}) -> f32 {
  let c = j / 9u; let k = j % 9u;
  let dy = i32(k / 3u) - 1; let dx = i32(k % 3u) - 1;
  let v00 = tapv${t}(bi, c, q.y0 + dy, q.x0 + dx);
  let v01 = tapv${t}(bi, c, q.y0 + dy, q.x1 + dx);
  let v10 = tapv${t}(bi, c, q.y1 + dy, q.x0 + dx);
  let v11 = tapv${t}(bi, c, q.y1 + dy, q.x1 + dx);
  return (1.0 - q.ly) * ((1.0 - q.lx) * v00 + q.lx * v01) + q.ly * ((1.0 - q.lx) * v10 + q.lx * v11);
}`;
  };
  // pooled value p of tap t: mean of the unfolded C*9 vector over torch's adaptive bin p
  const pooled = (t: number) => `fn pooled${t}(bi: u32, q: u32, y: u32, x: u32) -> f32 {
  let L = ${pu(tapBase(t))} * 9u; let P = ${pu(2)};
  let s = (q * L) / P; let e = ((q + 1u) * L + P - 1u) / P;
  var acc = 0.0;
  ${t === 0 ? '' : `let cell = bl${t}(y, x);`}
  for (var j = s; j < e; j++) { acc += unf${t}(bi, j, ${t === 0 ? 'y, x' : 'cell'}); }
  return acc / f32(e - s);
}`;
  const branch = [...Array(T).keys()].map((t) => `if (t == ${t}u) { v = pooled${t}(bi, i - ${t}u * P, y, x); }`).join(' else ');
  return {
    name: 'glass.patchEmbed',
    key: `glass.patchEmbed:${T}`,
    code: () => `${PARAMS_DECL}
${[...Array(T).keys()].map((t) => `@group(0) @binding(${t + 1}) var<storage, read> tap${t}: array<f32>;`).join('\n')}
@group(0) @binding(${T + 1}) var<storage, read_write> out: array<f32>;
${[...Array(T).keys()].map(fetch).join('\n')}
${[...Array(T).keys()].map(pooled).join('\n')}
${main1d()}
  let N = ${pu(0)}; let D = ${pu(1)}; let P = ${pu(2)};
  if (gi >= N * D) { return; }
  // lanes take neighbouring patches (x fastest), so their tap reads are neighbours in memory
  let n = gi % N; let d = gi / N;
  let L0 = ${pu(3)} * ${pu(4)};
  let bi = n / L0; let yx = n % L0;
  let y = yx / ${pu(4)}; let x = yx % ${pu(4)};
  let TP = ${T}u * P;
  let s = (d * TP) / D; let e = ((d + 1u) * TP + D - 1u) / D;
  var acc = 0.0;
  for (var i = s; i < e; i++) {
    let t = i / P;
    var v = 0.0;
    ${branch}
    acc += v;
  }
  out[n * D + d] = acc / f32(e - s);
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
  const cs = taps.map((t, i) => {
    if (t.rank !== 4 || t.shape[0] !== B) throw new Error(`patchEmbed: tap ${i} has shape [${t.shape}], expected [${B}, C, h, w]`);
    return E.contiguous(t);
  });
  const N = B * h0 * w0;
  const out = E.Tensor.empty([N, targetDim]);
  const p = new Params().u32(N, targetDim, pretrainDim, h0, w0);
  for (const t of cs) p.u32(t.shape[1], t.shape[2], t.shape[3], t.offset).f32(t.shape[2] / h0, t.shape[3] / w0);
  dispatch(kernel(taps.length), [...cs.map((t) => t.storage.buffer), out.storage.buffer], p.build(), grid1d(N * targetDim));
  cs.forEach((c, i) => c !== taps[i] && c.dispose());
  return out;
}
