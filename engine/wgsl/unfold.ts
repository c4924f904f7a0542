// Kernels for ops/unfold.ts: im2col (torch's unfold, [N, C*kh*kw, L]) and col2im (fold) as
// gathers, one invocation per output element; fold sums the at most kh*kw columns that cover
// a pixel, so neither direction needs atomics.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage } from './common.ts';
import { paramStruct, type ParamRefs } from './params.ts';

/** The geometry both directions share (torch's names: kernel_size, dilation, padding, stride). */
const GEOMETRY_FIELDS = {
  /** Invocations: rows * chunksPerRow. */
  invocations: 'u32',
  channels: 'u32',
  /** The image: unfold's input, fold's output. */
  imageH: 'u32',
  imageW: 'u32',
  kernelH: 'u32',
  kernelW: 'u32',
  dilationH: 'u32',
  dilationW: 'u32',
  padH: 'u32',
  padW: 'u32',
  strideH: 'u32',
  strideW: 'u32',
  /** Block positions per column and per row (L = blocksH * blocksW). */
  blocksH: 'u32',
  blocksW: 'u32',
} as const;

/** unfold: rows = N * C * kh * kw * blocksH, each of blocksW columns. */
export const UnfoldParams = paramStruct('UnfoldParams', {
  ...GEOMETRY_FIELDS,
  xOffset: 'u32',
  /** x's strides (n, c, h, w) in elements. */
  xStrides: ['u32', 4],
  chunksPerRow: 'u32',
});

/** fold: rows = N * C * imageH, each of imageW columns. */
export const FoldParams = paramStruct('FoldParams', {
  ...GEOMETRY_FIELDS,
  colOffset: 'u32',
  /** The columns' strides (n, c*kh*kw, L) in elements. */
  colStrides: ['u32', 3],
  chunksPerRow: 'u32',
});

/** WGSL lets binding the geometry to the names both kernels use. */
function geometry(g: ParamRefs<typeof GEOMETRY_FIELDS>): string {
  return `
  let C = ${g.channels}; let H = i32(${g.imageH}); let W = i32(${g.imageW});
  let kh = ${g.kernelH}; let kw = ${g.kernelW};
  let dh = i32(${g.dilationH}); let dw = i32(${g.dilationW}); let ph = i32(${g.padH}); let pw = i32(${g.padW});
  let sh = i32(${g.strideH}); let sw = i32(${g.strideW}); let Lh = i32(${g.blocksH}); let Lw = i32(${g.blocksW});`;
}

/** Columns per invocation (index arithmetic once per chunk of a row: u32 division is slow on
 * CPU drivers). */
export const CHUNK = 32;

export function unfoldKernel(): Kernel {
  const P = UnfoldParams;
  const [sN, sC, sH, sW] = P.at.xStrides;
  return {
    name: 'unfold',
    key: 'unfold:fwd',
    code: () => `${P.decl}
${storage(1, 'x', 'f32')}
${storage(2, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${P.at.invocations}) { return; }
  ${geometry(P.at)}
  let nch = ${P.at.chunksPerRow};
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
  let rbase = ${P.at.xOffset} + n * ${sN} + c * ${sC} + u32(max(y, 0)) * ${sH};
  let sx = ${sW};
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

export function foldKernel(): Kernel {
  const P = FoldParams;
  const [sN, sCk, sL] = P.at.colStrides;
  return {
    name: 'fold',
    key: 'unfold:fold',
    code: () => `${P.decl}
${storage(1, 'col', 'f32')}
${storage(2, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${P.at.invocations}) { return; }
  ${geometry(P.at)}
  let nch = ${P.at.chunksPerRow};
  let row = gi / nch;
  let x0 = i32((gi % nch) * ${CHUNK}u);
  let y = i32(row % u32(H));
  let c = (row / u32(H)) % C;
  let n = row / (u32(H) * C);
  let base = ${P.at.colOffset} + n * ${sN};
  let sck = ${sCk}; let sl = ${sL};
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
