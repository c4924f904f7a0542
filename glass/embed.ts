// GLASS patch embedding without materialising the unfolded taps (at the paper preset the
// unfolded layer3 tap alone would be 380 MB). Per output row n = (b, y, x) of tap 0's grid and
// output dim d, the reference computes, in order:
//   unfold(3x3, pad 1) of every tap -> bilinear resize of taps >= 1 to tap 0's grid (on the
//   unfolded planes, align_corners=False) -> adaptive_avg_pool1d of each tap's C*9 vector to P
//   -> stack -> adaptive_avg_pool1d of the T*P vector to D.
// The main kernel evaluates exactly that composition. A tap on another grid is first resized
// along x (one small pass per tap: rows [B, C, 3 column shifts, h_t, w0], a third of the unfolded
// size at tap t's height), so each unfolded, resized value is two loads blended along y instead
// of four corners: the bilinear weights are those of the reference, applied x first, then y, in
// the reference's order of operations. The embedding is never differentiated (the backbone is
// frozen), so there is no backward.
//
// Cost on CPU drivers: index arithmetic, not loads. A workgroup row shares one output dim d (2-D
// launch), so the pooling bins are the same on every lane; runtime divisions use udivf (f32
// reciprocal); the (channel, ky, kx) of the unfolded index step along without dividing.
import * as E from '../engine/index.ts';
import { dispatch, Params } from '../engine/runtime.ts';
import { PARAMS_DECL, main1d, pu, pf, grid1d, storage, UDIVF } from '../engine/wgsl/common.ts';

const MAX_TAPS = 4;
const WG = 256;
/** Output dims per invocation. */
const DB = 16;

const inv = (b: number) => Math.fround(1 / b);

/**
 * Tap resized along x, as the main kernel reads it: hx[((b*C + c)*3 + kx)*h + r)*w0 + x] =
 * (1 - lx) * tap[b, c, r, x0 + kx - 1] + lx * tap[b, c, r, x1 + kx - 1] (zero outside the tap),
 * x0, x1, lx the bilinear source columns and weight of tap-0 column x. One invocation per row r.
 * Params: rows (B*C*3*h), h, w, w0, offset, scaleX (f32).
 */
function resizeXKernel() {
  return {
    name: 'glass.patchEmbed.resizeX',
    key: 'glass.patchEmbed.resizeX',
    code: () => `${PARAMS_DECL}
${storage(1, 'tap', 'f32')}
${storage(2, 'hx', 'f32', true)}
${main1d()}
  let rows = ${pu(0)}; let h = ${pu(1)}; let w = ${pu(2)}; let w0 = ${pu(3)};
  if (gi >= rows) { return; }
  let r = gi % h; let kx = i32((gi / h) % 3u) - 1; let bc = gi / (3u * h);
  let src = ${pu(4)} + (bc * h + r) * w;
  for (var x = 0u; x < w0; x++) {
    let sx = max((f32(x) + 0.5) * ${pf(5)} - 0.5, 0.0);
    let x0 = u32(sx); let x1 = min(x0 + 1u, w - 1u);
    let lx = sx - f32(x0);
    let a = i32(x0) + kx; let b = i32(x1) + kx;
    let v0 = select(0.0, tap[src + u32(a)], a >= 0 && a < i32(w));
    let v1 = select(0.0, tap[src + u32(b)], b >= 0 && b < i32(w));
    hx[gi * w0 + x] = (1.0 - lx) * v0 + lx * v1;
  }
}`,
  };
}

// main kernel params: 0 N, 1 D, 2 P, 3 h0, 4 w0, 5 1/P, 6 1/D, 7 1/(h0*w0), 8 1/w0 (f32), then
// per tap t (base 9 + 5t): C, h, w, offset (elements; 0 for resized rows), scaleY (f32)
const tapBase = (t: number) => 9 + 5 * t;

/**
 * Sum of the unfolded values j in [s, e) of tap t at tap-0 cell (y, x) of image bi; (c, ky, kx) =
 * (j / 9, j % 9 / 3, j % 3) step along with j. A direct tap (on tap 0's grid) reads the zero-padded
 * 3x3 neighbourhood; a resized tap blends two x-resized rows along y.
 */
function sumKernel(t: number, resized: boolean): string {
  const b = tapBase(t);
  const setup = resized
    ? `let sy = max((f32(y) + 0.5) * ${pf(b + 4)} - 0.5, 0.0);
  let y0 = u32(sy); let y1 = min(y0 + 1u, h - 1u); let ly = sy - f32(y0);`
    : '';
  const value = resized
    ? `let base = ((bi * C + c) * 3u + kx) * h;
    let ra = i32(y0 + ky) - 1; let rb = i32(y1 + ky) - 1;
    let va = select(0.0, tap${t}[(base + u32(ra)) * w0 + x], ra >= 0 && ra < i32(h));
    let vb = select(0.0, tap${t}[(base + u32(rb)) * w0 + x], rb >= 0 && rb < i32(h));
    acc += (1.0 - ly) * va + ly * vb;`
    : `let yy = i32(y + ky) - 1; let xx = i32(x + kx) - 1;
    let ok = yy >= 0 && xx >= 0 && yy < i32(h) && xx < i32(w);
    acc += select(0.0, tap${t}[${pu(b + 3)} + ((bi * C + c) * h + u32(yy)) * w + u32(xx)], ok);`;
  return `fn sum${t}(bi: u32, s: u32, e: u32, y: u32, x: u32) -> f32 {
  let C = ${pu(b)}; let h = ${pu(b + 1)}; let w = ${pu(b + 2)}; let w0 = ${pu(4)};
  ${setup}
  var c = s / 9u; let k = s % 9u; var ky = k / 3u; var kx = k % 3u;
  var acc = 0.0;
  for (var j = s; j < e; j++) {
    ${value}
    kx++;
    let wx = kx == 3u; kx = select(kx, 0u, wx); ky = select(ky, ky + 1u, wx);
    let wy = ky == 3u; ky = select(ky, 0u, wy); c = select(c, c + 1u, wy);
  }
  return acc;
}`;
}

/** `resized[t]`: tap t is read through its resizeX rows (its grid differs from tap 0's). */
function kernel(resized: boolean[]) {
  const T = resized.length;
  const branch = [...Array(T).keys()]
    .map(
      (t) => `if (t == ${t}u) {
      let L = ${pu(tapBase(t))} * 9u; let q = i - ${t}u * P;
      let s = udivf(q * L, P, invP); let e = udivf((q + 1u) * L + P - 1u, P, invP);
      v = sum${t}(bi, s, e, y, x) / f32(e - s);
    }`,
    )
    .join(' else ');
  return {
    name: 'glass.patchEmbed',
    key: `glass.patchEmbed:${resized.map((r) => (r ? 'r' : 'd')).join('')}`,
    code: () => `${PARAMS_DECL}
${[...Array(T).keys()].map((t) => storage(t + 1, `tap${t}`, 'f32')).join('\n')}
${storage(T + 1, 'out', 'f32', true)}
${UDIVF}
${resized.map((r, t) => sumKernel(t, r)).join('\n')}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let N = ${pu(0)}; let D = ${pu(1)}; let P = ${pu(2)}; let invP = ${pf(5)};
  // lanes take neighbouring patches (x fastest), so their tap reads are neighbours in memory;
  // each lane computes DB consecutive output dims (lavapipe pays ~50 cycles per invocation)
  let n = wid.x * ${WG}u + lid;
  if (n >= N) { return; }
  let L0 = ${pu(3)} * ${pu(4)};
  let bi = udivf(n, L0, ${pf(7)}); let yx = n - bi * L0;
  let y = udivf(yx, ${pu(4)}, ${pf(8)}); let x = yx - y * ${pu(4)};
  let TP = ${T}u * P;
  let d0 = wid.y * ${DB}u; let d1 = min(D, d0 + ${DB}u);
  for (var d = d0; d < d1; d++) {
    let s = udivf(d * TP, D, ${pf(6)}); let e = udivf((d + 1u) * TP + D - 1u, D, ${pf(6)});
    var acc = 0.0;
    for (var i = s; i < e; i++) {
      let t = udivf(i, P, invP);
      var v = 0.0;
      ${branch}
      acc += v;
    }
    out[n * D + d] = acc / f32(e - s);
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
  const cs = taps.map((t, i) => {
    if (t.rank !== 4 || t.shape[0] !== B) throw new Error(`patchEmbed: tap ${i} has shape [${t.shape}], expected [${B}, C, h, w]`);
    return E.contiguous(t);
  });
  const N = B * h0 * w0;
  const out = E.Tensor.empty([N, targetDim]);
  const p = new Params().u32(N, targetDim, pretrainDim, h0, w0).f32(inv(pretrainDim), inv(targetDim), inv(h0 * w0), inv(w0));
  const resized = cs.map((t, i) => i > 0 && (t.shape[2] !== h0 || t.shape[3] !== w0));
  const reads = cs.map((t, i) => {
    const [, C, h, w] = t.shape;
    if (!resized[i]) {
      p.u32(C, h, w, t.offset).f32(h / h0);
      return t;
    }
    const rows = B * C * 3 * h;
    const hx = E.Tensor.empty([B, C, 3, h, w0]);
    dispatch(resizeXKernel(), [t.storage.buffer, hx.storage.buffer], new Params().u32(rows, h, w, w0, t.offset).f32(w / w0).build(), grid1d(rows), `${B}x${C}x${h}x${w}->${w0}`);
    p.u32(C, h, w, 0).f32(h / h0);
    return hx;
  });
  const detail = `${N}x${targetDim} from ${cs.map((t) => t.shape.slice(1).join('x')).join(' + ')}`;
  if (N > 0 && targetDim > 0) dispatch(kernel(resized), [...reads.map((t) => t.storage.buffer), out.storage.buffer], p.build(), [Math.ceil(N / WG), Math.ceil(targetDim / DB), 1], detail);
  reads.forEach((r, i) => r !== cs[i] && r.dispose());
  cs.forEach((c, i) => c !== taps[i] && c.dispose());
  return out;
}
