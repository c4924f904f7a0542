// Direct 3-D convolution kernels (used by ops/conv3d.ts), NCDHW, all operands dense with an
// element offset. Forward: one invocation per output element. Input gradient: one invocation per
// input element gathering from the outputs whose windows hold it (the transposed convolution,
// deterministic, no atomics). Weight gradient: one invocation per weight element and split of
// the N * OD output rows; the host sums the splits.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage } from './common.ts';
import { paramStruct, type ParamRefs } from './params.ts';

// Geometry every kernel of the family reads; arrays are [depth, height, width].
const GEOMETRY = {
  /** Invocations of the launch (the guard). */
  total: 'u32',
  batch: 'u32',
  inChannels: 'u32',
  outChannels: 'u32',
  inPerGroup: 'u32',
  outPerGroup: 'u32',
  inSize: ['i32', 3],
  outSize: ['i32', 3],
  kernel: ['i32', 3],
  stride: ['i32', 3],
  /** Front / top / left padding (the back ones only shape the output size). */
  padding: ['i32', 3],
  dilation: ['i32', 3],
} as const;

export const Conv3dParams = paramStruct('Conv3dParams', { ...GEOMETRY, xOffset: 'u32', wOffset: 'u32', bOffset: 'u32' });
export const Conv3dInputGradParams = paramStruct('Conv3dInputGradParams', { ...GEOMETRY, gOffset: 'u32', wOffset: 'u32' });
export const Conv3dWeightGradParams = paramStruct('Conv3dWeightGradParams', {
  ...GEOMETRY,
  xOffset: 'u32',
  gOffset: 'u32',
  /** Output rows (n, od) each split sums over; split s covers [s * rowsPerSplit, (s + 1) * rowsPerSplit). */
  rowsPerSplit: 'u32',
});

type Refs = ParamRefs<typeof GEOMETRY>;

/** WGSL lets naming the geometry (every struct above has these fields under the same names). */
function head(P: Refs): string {
  const [D, H, W] = P.inSize;
  const [OD, OH, OW] = P.outSize;
  const [KD, KH, KW] = P.kernel;
  const [SD, SH, SW] = P.stride;
  const [PD, PH, PW] = P.padding;
  const [DD, DH, DW] = P.dilation;
  return `  let Cin = ${P.inChannels}; let Cout = ${P.outChannels}; let Cig = ${P.inPerGroup}; let Cog = ${P.outPerGroup};
  let D = ${D}; let H = ${H}; let W = ${W}; let OD = ${OD}; let OH = ${OH}; let OW = ${OW};
  let KD = ${KD}; let KH = ${KH}; let KW = ${KW}; let SD = ${SD}; let SH = ${SH}; let SW = ${SW};
  let PD = ${PD}; let PH = ${PH}; let PW = ${PW}; let DD = ${DD}; let DH = ${DH}; let DW = ${DW};
  let KK = u32(KD * KH * KW);`;
}

/** y[n, co, od, oh, ow] = b[co] + sum over the group's input channels and the kernel window. */
export function conv3dKernel(bias: boolean): Kernel {
  const P = Conv3dParams;
  return {
    name: 'conv3d',
    key: `conv3d:fwd:${bias}`,
    code: () => `${P.decl}
${storage(1, 'X', 'f32')}
${storage(2, 'Wt', 'f32')}
${storage(3, 'Out', 'f32', true)}
${bias ? storage(4, 'B', 'f32') : ''}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
${head(P.at)}
  let ow = i32(gi % u32(OW));
  var r = gi / u32(OW);
  let oh = i32(r % u32(OH));
  r = r / u32(OH);
  let od = i32(r % u32(OD));
  r = r / u32(OD);
  let co = r % Cout;
  let n = r / Cout;
  let ci0 = (co / Cog) * Cig;
  let d0 = od * SD - PD; let h0 = oh * SH - PH; let w0 = ow * SW - PW;
  var acc = 0.0;
  for (var c = 0u; c < Cig; c++) {
    let xb = ${P.at.xOffset} + (n * Cin + ci0 + c) * u32(D * H * W);
    let wb = ${P.at.wOffset} + (co * Cig + c) * KK;
    for (var kd = 0; kd < KD; kd++) {
      let id = d0 + kd * DD;
      if (id < 0 || id >= D) { continue; }
      for (var kh = 0; kh < KH; kh++) {
        let ih = h0 + kh * DH;
        if (ih < 0 || ih >= H) { continue; }
        for (var kw = 0; kw < KW; kw++) {
          let iw = w0 + kw * DW;
          if (iw < 0 || iw >= W) { continue; }
          acc += X[xb + u32((id * H + ih) * W + iw)] * Wt[wb + u32((kd * KH + kh) * KW + kw)];
        }
      }
    }
  }
  Out[gi] = acc${bias ? ` + B[${P.at.bOffset} + co]` : ''};
}`,
  };
}

/**
 * dX[n, ci, id, ih, iw] = sum over the group's output channels and the taps (kd, kh, kw) for
 * which od = (id + PD - kd * DD) / SD is a whole in-range output position (likewise h, w).
 */
export function conv3dInputGradKernel(): Kernel {
  const P = Conv3dInputGradParams;
  return {
    name: 'conv3d.backward.input',
    key: 'conv3d:dx',
    code: () => `${P.decl}
${storage(1, 'G', 'f32')}
${storage(2, 'Wt', 'f32')}
${storage(3, 'GradX', 'f32', true)}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
${head(P.at)}
  let iw = i32(gi % u32(W));
  var r = gi / u32(W);
  let ih = i32(r % u32(H));
  r = r / u32(H);
  let id = i32(r % u32(D));
  r = r / u32(D);
  let ci = r % Cin;
  let n = r / Cin;
  let g = ci / Cig;
  let c = ci % Cig;
  let plane = u32(OD * OH * OW);
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
        let o = u32((od * OH + oh) * OW + ow);
        let k = u32((kd * KH + kh) * KW + kw);
        for (var j = 0u; j < Cog; j++) {
          let co = g * Cog + j;
          acc += G[${P.at.gOffset} + (n * Cout + co) * plane + o] * Wt[${P.at.wOffset} + (co * Cig + c) * KK + k];
        }
      }
    }
  }
  GradX[gi] = acc;
}`,
  };
}

/**
 * Partial dW[s, co, c, kd, kh, kw]: sum over the output rows (n, od) of split s and all (oh, ow)
 * of dY[n, co, od, oh, ow] * x[n, group's c, od*SD - PD + kd*DD, ...] (taps in the padding skip).
 */
export function conv3dWeightGradKernel(): Kernel {
  const P = Conv3dWeightGradParams;
  return {
    name: 'conv3d.backward.weight',
    key: 'conv3d:dw',
    code: () => `${P.decl}
${storage(1, 'X', 'f32')}
${storage(2, 'G', 'f32')}
${storage(3, 'Part', 'f32', true)}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
${head(P.at)}
  let wsize = Cout * Cig * KK;
  let e = gi % wsize;
  let s = gi / wsize;
  let kw = i32(e % u32(KW));
  var r = e / u32(KW);
  let kh = i32(r % u32(KH));
  r = r / u32(KH);
  let kd = i32(r % u32(KD));
  r = r / u32(KD);
  let c = r % Cig;
  let co = r / Cig;
  let ci = (co / Cog) * Cig + c;
  let rows = ${P.at.batch} * u32(OD);
  let r0 = s * ${P.at.rowsPerSplit};
  let r1 = min(r0 + ${P.at.rowsPerSplit}, rows);
  var acc = 0.0;
  for (var row = r0; row < r1; row++) {
    let od = i32(row % u32(OD));
    let n = row / u32(OD);
    let id = od * SD - PD + kd * DD;
    if (id < 0 || id >= D) { continue; }
    let xb = ${P.at.xOffset} + (n * Cin + ci) * u32(D * H * W) + u32(id * H * W);
    let gb = ${P.at.gOffset} + ((n * Cout + co) * u32(OD) + u32(od)) * u32(OH * OW);
    for (var oh = 0; oh < OH; oh++) {
      let ih = oh * SH - PH + kh * DH;
      if (ih < 0 || ih >= H) { continue; }
      for (var ow = 0; ow < OW; ow++) {
        let iw = ow * SW - PW + kw * DW;
        if (iw < 0 || iw >= W) { continue; }
        acc += G[gb + u32(oh * OW + ow)] * X[xb + u32(ih * W + iw)];
      }
    }
  }
  Part[gi] = acc;
}`,
  };
}
