// 3-D pooling kernels (used by ops/pool3d.ts): one invocation per output for the forward passes
// and one per input element for the backward passes, which gather from the outputs whose
// windows hold that element (deterministic, no atomics). Volumes are contiguous [NC, D, H, W].
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage, isNan } from './common.ts';
import { paramStruct, type ParamRefs } from './params.ts';

// Window geometry; arrays are [depth, height, width].
const WINDOW = {
  /** Invocations of the launch (the guard). */
  total: 'u32',
  inSize: ['i32', 3],
  outSize: ['i32', 3],
  kernel: ['i32', 3],
  stride: ['i32', 3],
  padding: ['i32', 3],
  dilation: ['i32', 3],
  /** Element offset of the tensor read: x forward, the output gradient backward. */
  offset: 'u32',
} as const;

export const MaxPool3dParams = paramStruct('MaxPool3dParams', WINDOW);
export const AvgPool3dParams = paramStruct('AvgPool3dParams', {
  ...WINDOW,
  /** 0: divide by the taps inside the input, 1: by those inside the padded input, 2: by divisorOverride. */
  divisorMode: 'u32',
  divisorOverride: 'f32',
});

function head(P: ParamRefs<typeof WINDOW>): string {
  const [D, H, W] = P.inSize;
  const [OD, OH, OW] = P.outSize;
  const [KD, KH, KW] = P.kernel;
  const [SD, SH, SW] = P.stride;
  const [PD, PH, PW] = P.padding;
  const [DD, DH, DW] = P.dilation;
  return `  let D = ${D}; let H = ${H}; let W = ${W}; let OD = ${OD}; let OH = ${OH}; let OW = ${OW};
  let KD = ${KD}; let KH = ${KH}; let KW = ${KW}; let SD = ${SD}; let SH = ${SH}; let SW = ${SW};
  let PD = ${PD}; let PH = ${PH}; let PW = ${PW}; let DD = ${DD}; let DH = ${DH}; let DW = ${DW};`;
}

// gi as (vol, od, oh, ow) of the output.
const OUT_POS = `  let ow = i32(gi % u32(OW));
  var r = gi / u32(OW);
  let oh = i32(r % u32(OH));
  r = r / u32(OH);
  let od = i32(r % u32(OD));
  let vol = r / u32(OD);`;

// gi as (vol, id, ih, iw) of the input.
const IN_POS = `  let iw = i32(gi % u32(W));
  var r = gi / u32(W);
  let ih = i32(r % u32(H));
  r = r / u32(H);
  let id = i32(r % u32(D));
  let vol = r / u32(D);`;

/**
 * Max pooling: values and the flat in-volume index ((id * H + ih) * W + iw) of the first maximum;
 * a NaN wins, the last one in the window, as in torch's kernels (`val > maxval || isnan(val)`).
 */
export function maxPool3dKernel(): Kernel {
  const P = MaxPool3dParams;
  return {
    name: 'maxPool3d',
    key: 'pool3d.max',
    code: () => `${P.decl}
${storage(1, 'X', 'f32')}
${storage(2, 'Out', 'f32', true)}
${storage(3, 'Idx', 'i32', true)}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
${head(P.at)}
${OUT_POS}
  let base = ${P.at.offset} + vol * u32(D * H * W);
  var d0 = od * SD - PD; var h0 = oh * SH - PH; var w0 = ow * SW - PW;
  let dEnd = min(d0 + (KD - 1) * DD + 1, D);
  let hEnd = min(h0 + (KH - 1) * DH + 1, H);
  let wEnd = min(w0 + (KW - 1) * DW + 1, W);
  // first in-bounds tap (torch starts its argmax there)
  while (d0 < 0) { d0 += DD; }
  while (h0 < 0) { h0 += DH; }
  while (w0 < 0) { w0 += DW; }
  var ninfBits = 0xff800000u; // a var: WGSL constant folding rejects an infinite literal
  var best = bitcast<f32>(ninfBits);
  var bi = (d0 * H + h0) * W + w0;
  for (var id = d0; id < dEnd; id += DD) {
    for (var ih = h0; ih < hEnd; ih += DH) {
      for (var iw = w0; iw < wEnd; iw += DW) {
        let i = (id * H + ih) * W + iw;
        let v = X[base + u32(i)];
        if (v > best || ${isNan('v')}) { best = v; bi = i; }
      }
    }
  }
  Out[gi] = best;
  Idx[gi] = bi;
}`,
  };
}

/** dX[vol, id, ih, iw] = sum of g over the outputs whose argmax is (id, ih, iw). */
export function maxPool3dBackwardKernel(): Kernel {
  const P = MaxPool3dParams;
  return {
    name: 'maxPool3d.backward',
    key: 'pool3d.max.bwd',
    code: () => `${P.decl}
${storage(1, 'G', 'f32')}
${storage(2, 'Idx', 'i32')}
${storage(3, 'GradX', 'f32', true)}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
${head(P.at)}
${IN_POS}
  let obase = vol * u32(OD * OH * OW);
  let me = (id * H + ih) * W + iw;
  var acc = 0.0;
  for (var kd = 0; kd < KD; kd++) {
    let t = id + PD - kd * DD;
    if (t < 0) { break; }
    let od = t / SD;
    if (od * SD != t || od >= OD) { continue; }
    for (var kh = 0; kh < KH; kh++) {
      let u = ih + PH - kh * DH;
      if (u < 0) { break; }
      let oh = u / SH;
      if (oh * SH != u || oh >= OH) { continue; }
      for (var kw = 0; kw < KW; kw++) {
        let v = iw + PW - kw * DW;
        if (v < 0) { break; }
        let ow = v / SW;
        if (ow * SW != v || ow >= OW) { continue; }
        let o = obase + u32((od * OH + oh) * OW + ow);
        if (Idx[o] == me) { acc += G[${P.at.offset} + o]; }
      }
    }
  }
  GradX[gi] = acc;
}`,
  };
}

// torch's avg_pool3d window of output o along one dim: [start, end) clipped to the padded input
// (x, y: its size is the count_include_pad divisor) and to the input (z, w: the taps summed).
const AVG_RANGE = `fn avgRange(o: i32, S: i32, P: i32, K: i32, L: i32) -> vec4<i32> {
  let s = o * S - P;
  let e = min(s + K, L + P);
  return vec4<i32>(s, e, max(s, 0), min(e, L));
}
fn avgDivisor(a: vec4<i32>, b: vec4<i32>, c: vec4<i32>, mode: u32, ov: f32) -> f32 {
  if (mode == 2u) { return ov; }
  if (mode == 1u) { return f32((a.y - a.x) * (b.y - b.x) * (c.y - c.x)); }
  return f32((a.w - a.z) * (b.w - b.z) * (c.w - c.z));
}`;

export function avgPool3dKernel(): Kernel {
  const P = AvgPool3dParams;
  return {
    name: 'avgPool3d',
    key: 'pool3d.avg',
    code: () => `${P.decl}
${storage(1, 'X', 'f32')}
${storage(2, 'Out', 'f32', true)}
${AVG_RANGE}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
${head(P.at)}
${OUT_POS}
  let base = ${P.at.offset} + vol * u32(D * H * W);
  let a = avgRange(od, SD, PD, KD, D);
  let b = avgRange(oh, SH, PH, KH, H);
  let c = avgRange(ow, SW, PW, KW, W);
  var acc = 0.0;
  for (var id = a.z; id < a.w; id++) {
    for (var ih = b.z; ih < b.w; ih++) {
      for (var iw = c.z; iw < c.w; iw++) { acc += X[base + u32((id * H + ih) * W + iw)]; }
    }
  }
  // a window wholly in the padding gives 0, as torch (which skips it)
  let empty = a.z >= a.w || b.z >= b.w || c.z >= c.w;
  Out[gi] = select(acc / avgDivisor(a, b, c, ${P.at.divisorMode}, ${P.at.divisorOverride}), 0.0, empty);
}`,
  };
}

export function avgPool3dBackwardKernel(): Kernel {
  const P = AvgPool3dParams;
  return {
    name: 'avgPool3d.backward',
    key: 'pool3d.avg.bwd',
    code: () => `${P.decl}
${storage(1, 'G', 'f32')}
${storage(2, 'GradX', 'f32', true)}
${AVG_RANGE}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
${head(P.at)}
${IN_POS}
  let obase = ${P.at.offset} + vol * u32(OD * OH * OW);
  var acc = 0.0;
  for (var kd = 0; kd < KD; kd++) {
    let t = id + PD - kd;
    if (t < 0) { break; }
    let od = t / SD;
    if (od * SD != t || od >= OD) { continue; }
    let a = avgRange(od, SD, PD, KD, D);
    for (var kh = 0; kh < KH; kh++) {
      let u = ih + PH - kh;
      if (u < 0) { break; }
      let oh = u / SH;
      if (oh * SH != u || oh >= OH) { continue; }
      let b = avgRange(oh, SH, PH, KH, H);
      for (var kw = 0; kw < KW; kw++) {
        let v = iw + PW - kw;
        if (v < 0) { break; }
        let ow = v / SW;
        if (ow * SW != v || ow >= OW) { continue; }
        let c = avgRange(ow, SW, PW, KW, W);
        acc += G[obase + u32((od * OH + oh) * OW + ow)] / avgDivisor(a, b, c, ${P.at.divisorMode}, ${P.at.divisorOverride});
      }
    }
  }
  GradX[gi] = acc;
}`,
  };
}
