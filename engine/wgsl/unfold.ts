// Kernels for ops/unfold.ts: im2col (torch's unfold, [N, C*kh*kw, L]) and col2im (fold) as
// gathers, one invocation per output element; fold sums the at most kh*kw columns that cover
// a pixel, so neither direction needs atomics.
import type { Kernel } from '../runtime/dispatch.ts';
import { PARAMS_DECL, main1d, pu, storage } from './common.ts';

// Shared geometry words: 1 C, 2 H, 3 W, 4 kh, 5 kw, 6 dh, 7 dw, 8 ph, 9 pw, 10 sh, 11 sw, 12 Lh, 13 Lw
const GEOM = `
  let C = ${pu(1)}; let H = i32(${pu(2)}); let W = i32(${pu(3)});
  let kh = ${pu(4)}; let kw = ${pu(5)};
  let dh = i32(${pu(6)}); let dw = i32(${pu(7)}); let ph = i32(${pu(8)}); let pw = i32(${pu(9)});
  let sh = i32(${pu(10)}); let sw = i32(${pu(11)}); let Lh = i32(${pu(12)}); let Lw = i32(${pu(13)});`;

/** Columns per invocation (index arithmetic once per chunk of a row: u32 division is slow on
 * CPU drivers). */
export const CHUNK = 32;

// params: 0 rows*chunks (rows = N*C*kh*kw*Lh), geometry, 14 x offset, 15..18 x strides
// (n, c, h, w), 19 chunks per row
export function unfoldKernel(): Kernel {
  return {
    name: 'unfold',
    key: 'unfold:fwd',
    code: () => `${PARAMS_DECL}
${storage(1, 'x', 'f32')}
${storage(2, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  ${GEOM}
  let nch = ${pu(19)};
  let row = gi / nch;
  let lx0 = i32((gi % nch) * ${CHUNK}u);
  let kk = kh * kw;
  let ly = i32(row % u32(Lh));
  let ck = (row / u32(Lh)) % (C * kk);
  let n = row / (u32(Lh) * C * kk);
  let c = ck / kk;
  let ki = i32((ck / kw) % kh);
  let kj = i32(ck % kw);
  let y = ly * sh - ph + ki * dh;
  let rowIn = y >= 0 && y < H;
  let rbase = ${pu(14)} + n * ${pu(15)} + c * ${pu(16)} + u32(max(y, 0)) * ${pu(17)};
  let sx = ${pu(18)};
  let obase = row * u32(Lw);
  for (var lx = lx0; lx < min(Lw, lx0 + ${CHUNK}); lx++) {
    let xx = lx * sw - pw + kj * dw;
    var v = 0.0;
    if (rowIn && xx >= 0 && xx < W) { v = x[rbase + u32(xx) * sx]; }
    out[obase + u32(lx)] = v;
  }
}`,
  };
}

// params: 0 rows*chunks (rows = N*C*H), geometry, 14 col offset, 15..17 col strides
// (n, ck, l), 18 unused, 19 chunks per row
export function foldKernel(): Kernel {
  return {
    name: 'fold',
    key: 'unfold:fold',
    code: () => `${PARAMS_DECL}
${storage(1, 'col', 'f32')}
${storage(2, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  ${GEOM}
  let nch = ${pu(19)};
  let row = gi / nch;
  let x0 = i32((gi % nch) * ${CHUNK}u);
  let y = i32(row % u32(H));
  let c = (row / u32(H)) % C;
  let n = row / (u32(H) * C);
  let base = ${pu(14)} + n * ${pu(15)};
  let sck = ${pu(16)}; let sl = ${pu(17)};
  let cnt = min(W, x0 + ${CHUNK}) - x0;
  var acc: array<f32, ${CHUNK}>;
  for (var ki = 0u; ki < kh; ki++) {
    let ty = y + ph - i32(ki) * dh;
    if (ty < 0) { continue; }
    var ly = ty;
    if (sh != 1) { if (ty % sh != 0) { continue; } ly = ty / sh; }
    if (ly >= Lh) { continue; }
    for (var kj = 0u; kj < kw; kj++) {
      let cb = base + ((c * kh + ki) * kw + kj) * sck + u32(ly * Lw) * sl;
      let off = pw - i32(kj) * dw;
      for (var t = 0; t < cnt; t++) {
        let tx = x0 + t + off;
        if (tx < 0) { continue; }
        var lx = tx;
        if (sw != 1) { if (tx % sw != 0) { continue; } lx = tx / sw; }
        if (lx >= Lw) { continue; }
        acc[t] += col[cb + u32(lx) * sl];
      }
    }
  }
  let ob = row * u32(W) + u32(x0);
  for (var t = 0; t < cnt; t++) { out[ob + u32(t)] = acc[t]; }
}`,
  };
}
