// Pooling kernels (used by ops/pool.ts): one invocation per output for the forward passes and
// one per input element for the backward passes, which gather from the outputs whose windows
// hold that element (deterministic, no atomics). Planes are contiguous [NC, H, W].
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage, isNan } from './common.ts';
import { paramStruct } from './params.ts';

/** Window pooling (max and average, forward and backward); fields that meet negative window
 * starts are i32. */
export const PoolParams = paramStruct('PoolParams', {
  /** Invocations: outputs (forward) or input elements (backward). */
  total: 'u32',
  H: 'i32',
  W: 'i32',
  OH: 'u32',
  OW: 'u32',
  kernelH: 'i32',
  kernelW: 'i32',
  strideH: 'i32',
  strideW: 'i32',
  padTop: 'i32',
  padLeft: 'i32',
  dilationH: 'i32',
  dilationW: 'i32',
  /** Element offset of the forward's input or the backward's incoming gradient. */
  offset: 'u32',
  /** Average pooling's divisor: 0 in-bounds elements, 1 include padding, 2 divisorOverride. */
  avgMode: 'u32',
  divisorOverride: 'f32',
  /** Only the include-padding divisor reads the end padding (the padded input's extent). */
  padBottom: 'i32',
  padRight: 'i32',
});

const P = PoolParams.at;
const HEAD = `  let H = ${P.H}; let W = ${P.W}; let OH = ${P.OH}; let OW = ${P.OW};
  let KH = ${P.kernelH}; let KW = ${P.kernelW}; let SY = ${P.strideH}; let SX = ${P.strideW}; let PY = ${P.padTop}; let PX = ${P.padLeft};
  let DY = ${P.dilationH}; let DX = ${P.dilationW};`;

/**
 * Max pooling: values and the flat in-plane index (ih * W + iw) of the first maximum; a NaN wins,
 * the last one in the window as in torch's kernels (`val > maxval || isnan(val)`). NaN is tested
 * on the bits: `v != v` is false for a NaN on lavapipe.
 */
export function maxPoolKernel(): Kernel {
  return {
    name: 'maxPool2d',
    key: 'pool.max',
    code: () => `${PoolParams.decl}
${storage(1, 'X', 'f32')}
${storage(2, 'Out', 'f32', true)}
${storage(3, 'Idx', 'i32', true)}
${main1d()}
  if (gi >= ${P.total}) { return; }
${HEAD}
  let ow = gi % OW;
  let r = gi / OW;
  let oh = r % OH;
  let plane = r / OH;
  let base = ${P.offset} + plane * u32(H * W);
  var h0 = i32(oh) * SY - PY;
  var w0 = i32(ow) * SX - PX;
  // first in-bounds tap (torch starts its argmax there)
  while (h0 < 0) { h0 += DY; }
  while (w0 < 0) { w0 += DX; }
  let hEnd = min(i32(oh) * SY - PY + (KH - 1) * DY + 1, H);
  let wEnd = min(i32(ow) * SX - PX + (KW - 1) * DX + 1, W);
  var ninfBits = 0xff800000u; // a var: WGSL constant folding rejects an infinite literal
  var best = bitcast<f32>(ninfBits);
  var bi = h0 * W + w0;
  for (var ih = h0; ih < hEnd; ih += DY) {
    for (var iw = w0; iw < wEnd; iw += DX) {
      let v = X[base + u32(ih * W + iw)];
      if (v > best || ${isNan('v')}) { best = v; bi = ih * W + iw; }
    }
  }
  Out[gi] = best;
  Idx[gi] = bi;
}`,
  };
}

/** dX[plane, ih, iw] = sum of g over the outputs whose argmax is (ih, iw). */
export function maxPoolBackwardKernel(): Kernel {
  return {
    name: 'maxPool2d.backward',
    key: 'pool.max.bwd',
    code: () => `${PoolParams.decl}
${storage(1, 'G', 'f32')}
${storage(2, 'Idx', 'i32')}
${storage(3, 'GradX', 'f32', true)}
${main1d()}
  if (gi >= ${P.total}) { return; }
${HEAD}
  let iw = i32(gi % u32(W));
  let r = gi / u32(W);
  let ih = i32(r % u32(H));
  let plane = r / u32(H);
  let obase = ${P.offset} + plane * OH * OW;
  let me = ih * W + iw;
  var acc = 0.0;
  for (var ky = 0; ky < KH; ky++) {
    let t = ih + PY - ky * DY;
    let oh = t / SY;
    if (t < 0 || oh * SY != t || oh >= i32(OH)) { continue; }
    for (var kx = 0; kx < KW; kx++) {
      let u = iw + PX - kx * DX;
      let ow = u / SX;
      if (u < 0 || ow * SX != u || ow >= i32(OW)) { continue; }
      let o = obase + u32(oh) * OW + u32(ow);
      if (Idx[o] == me) { acc += G[o]; }
    }
  }
  GradX[gi] = acc;
}`,
  };
}

// Average-pool divisor of output (oh, ow), torch's rule: the window clipped to the padded input
// counts when count_include_pad, else the window clipped to the input.
const AVG_DIV = `fn avgDiv(oh: i32, ow: i32, H: i32, W: i32, KH: i32, KW: i32, SY: i32, SX: i32, PY: i32, PX: i32) -> vec4<i32> {
  let hs = oh * SY - PY; let ws = ow * SX - PX;
  return vec4<i32>(max(hs, 0), min(hs + KH, H), max(ws, 0), min(ws + KW, W));
}
fn avgDivisor(oh: i32, ow: i32, H: i32, W: i32, KH: i32, KW: i32, SY: i32, SX: i32, PY: i32, PX: i32, mode: u32, ov: f32, PB: i32, PR: i32) -> f32 {
  var hs = oh * SY - PY; var ws = ow * SX - PX;
  var he = min(hs + KH, H + PB); var we = min(ws + KW, W + PR);
  let poolSize = (he - hs) * (we - ws);
  hs = max(hs, 0); ws = max(ws, 0); he = min(he, H); we = min(we, W);
  if (mode == 2u) { return ov; }
  if (mode == 1u) { return f32(poolSize); }
  return f32((he - hs) * (we - ws));
}`;

export function avgPoolKernel(): Kernel {
  return {
    name: 'avgPool2d',
    key: 'pool.avg',
    code: () => `${PoolParams.decl}
${storage(1, 'X', 'f32')}
${storage(2, 'Out', 'f32', true)}
${AVG_DIV}
${main1d()}
  if (gi >= ${P.total}) { return; }
${HEAD}
  let ow = gi % OW;
  let r = gi / OW;
  let oh = r % OH;
  let plane = r / OH;
  let base = ${P.offset} + plane * u32(H * W);
  let b = avgDiv(i32(oh), i32(ow), H, W, KH, KW, SY, SX, PY, PX);
  var acc = 0.0;
  for (var ih = b.x; ih < b.y; ih++) {
    for (var iw = b.z; iw < b.w; iw++) { acc += X[base + u32(ih * W + iw)]; }
  }
  let empty = b.x >= b.y || b.z >= b.w;
  Out[gi] = select(acc / avgDivisor(i32(oh), i32(ow), H, W, KH, KW, SY, SX, PY, PX, ${P.avgMode}, ${P.divisorOverride}, ${P.padBottom}, ${P.padRight}), 0.0, empty);
}`,
  };
}

export function avgPoolBackwardKernel(): Kernel {
  return {
    name: 'avgPool2d.backward',
    key: 'pool.avg.bwd',
    code: () => `${PoolParams.decl}
${storage(1, 'G', 'f32')}
${storage(2, 'GradX', 'f32', true)}
${AVG_DIV}
${main1d()}
  if (gi >= ${P.total}) { return; }
${HEAD}
  let iw = i32(gi % u32(W));
  let r = gi / u32(W);
  let ih = i32(r % u32(H));
  let plane = r / u32(H);
  let obase = ${P.offset} + plane * OH * OW;
  var acc = 0.0;
  for (var ky = 0; ky < KH; ky++) {
    let t = ih + PY - ky;
    let oh = t / SY;
    if (t < 0 || oh * SY != t || oh >= i32(OH)) { continue; }
    for (var kx = 0; kx < KW; kx++) {
      let u = iw + PX - kx;
      let ow = u / SX;
      if (u < 0 || ow * SX != u || ow >= i32(OW)) { continue; }
      acc += G[obase + u32(oh) * OW + u32(ow)] / avgDivisor(oh, ow, H, W, KH, KW, SY, SX, PY, PX, ${P.avgMode}, ${P.divisorOverride}, ${P.padBottom}, ${P.padRight});
    }
  }
  GradX[gi] = acc;
}`,
  };
}

// Adaptive average pooling, PyTorch's bins: [floor(i*L/O), ceil((i+1)*L/O)).
/** Adaptive average pooling (forward and backward); offset is the input's or the gradient's. */
export const AdaptivePoolParams = paramStruct('AdaptivePoolParams', { total: 'u32', H: 'u32', W: 'u32', OH: 'u32', OW: 'u32', offset: 'u32' });
const A = AdaptivePoolParams.at;
const BINS = `fn binStart(i: u32, L: u32, O: u32) -> u32 { return (i * L) / O; }
fn binEnd(i: u32, L: u32, O: u32) -> u32 { return ((i + 1u) * L + O - 1u) / O; }`;

export function adaptiveAvgKernel(): Kernel {
  return {
    name: 'adaptiveAvgPool2d',
    key: 'pool.adaptive',
    code: () => `${AdaptivePoolParams.decl}
${storage(1, 'X', 'f32')}
${storage(2, 'Out', 'f32', true)}
${BINS}
${main1d()}
  if (gi >= ${A.total}) { return; }
  let H = ${A.H}; let W = ${A.W}; let OH = ${A.OH}; let OW = ${A.OW};
  let ow = gi % OW;
  let r = gi / OW;
  let oh = r % OH;
  let plane = r / OH;
  let base = ${A.offset} + plane * H * W;
  let h0 = binStart(oh, H, OH); let h1 = binEnd(oh, H, OH);
  let w0 = binStart(ow, W, OW); let w1 = binEnd(ow, W, OW);
  var acc = 0.0;
  for (var ih = h0; ih < h1; ih++) {
    for (var iw = w0; iw < w1; iw++) { acc += X[base + ih * W + iw]; }
  }
  Out[gi] = acc / f32((h1 - h0) * (w1 - w0));
}`,
  };
}

export function adaptiveAvgBackwardKernel(): Kernel {
  return {
    name: 'adaptiveAvgPool2d.backward',
    key: 'pool.adaptive.bwd',
    code: () => `${AdaptivePoolParams.decl}
${storage(1, 'G', 'f32')}
${storage(2, 'GradX', 'f32', true)}
${BINS}
${main1d()}
  if (gi >= ${A.total}) { return; }
  let H = ${A.H}; let W = ${A.W}; let OH = ${A.OH}; let OW = ${A.OW};
  let iw = gi % W;
  let r = gi / W;
  let ih = r % H;
  let plane = r / H;
  let obase = ${A.offset} + plane * OH * OW;
  var acc = 0.0;
  // bins holding ih start at floor(ih*OH/H); later ones may overlap while their start <= ih
  for (var oh = (ih * OH) / H; oh < OH; oh++) {
    let h0 = binStart(oh, H, OH);
    if (h0 > ih) { break; }
    let h1 = binEnd(oh, H, OH);
    if (h1 <= ih) { continue; }
    for (var ow = (iw * OW) / W; ow < OW; ow++) {
      let w0 = binStart(ow, W, OW);
      if (w0 > iw) { break; }
      let w1 = binEnd(ow, W, OW);
      if (w1 <= iw) { continue; }
      acc += G[obase + oh * OW + ow] / f32((h1 - h0) * (w1 - w0));
    }
  }
  GradX[gi] = acc;
}`,
  };
}

// Adaptive pooling along rows only (OH == H, e.g. adaptive_avg_pool1d): 4 consecutive outputs
// (or, backward, 4 consecutive inputs) per invocation, reading the row as aligned vec4s: far
// fewer loads than one invocation per output (loads dominate on lavapipe).
/** Row kernels: `invocations` = rows * ceil(n / 4); the forward's input offset is in vec4s. */
export const AdaptiveRowParams = paramStruct('AdaptiveRowParams', { invocations: 'u32', W: 'u32', OW: 'u32', xOffset4: 'u32' });
export const AdaptiveRowBackwardParams = paramStruct('AdaptiveRowBackwardParams', { invocations: 'u32', W: 'u32', OW: 'u32', gOffset: 'u32' });
export function adaptiveRowKernel(outVec: boolean): Kernel {
  return {
    name: 'adaptiveAvgPool.rows',
    key: `pool.adaptive.rows:${outVec}`,
    code: () => `${AdaptiveRowParams.decl}
${storage(1, 'X', 'vec4<f32>')}
${storage(2, 'Out', outVec ? 'vec4<f32>' : 'f32', true)}
${BINS}
${main1d()}
  if (gi >= ${AdaptiveRowParams.at.invocations}) { return; }
  let W = ${AdaptiveRowParams.at.W}; let OW = ${AdaptiveRowParams.at.OW};
  let OW4 = (OW + 3u) / 4u;
  let q = gi % OW4;
  let row = gi / OW4;
  let ow0 = q * 4u;
  var s = vec4<u32>(0u);
  var e = vec4<u32>(0u);
  for (var k = 0u; k < 4u; k++) {
    let o = min(ow0 + k, OW - 1u);
    s[k] = binStart(o, W, OW);
    e[k] = binEnd(o, W, OW);
  }
  let base = ${AdaptiveRowParams.at.xOffset4} + row * (W / 4u);
  var acc = vec4<f32>(0.0);
  for (var a = s.x / 4u; a * 4u < e.w; a++) {
    let v = X[base + a];
    for (var c = 0u; c < 4u; c++) {
      let i = vec4<u32>(a * 4u + c);
      acc += select(vec4<f32>(0.0), vec4<f32>(v[c]), (i >= s) & (i < e));
    }
  }
  let r = acc / vec4<f32>(e - s);
  ${outVec ? 'Out[row * OW4 + q] = r;' : `for (var k = 0u; k < 4u; k++) { if (ow0 + k < OW) { Out[row * OW + ow0 + k] = r[k]; } }`}
}`,
  };
}

export function adaptiveRowBackwardKernel(): Kernel {
  return {
    name: 'adaptiveAvgPool.rows.backward',
    key: 'pool.adaptive.rows.bwd',
    code: () => `${AdaptiveRowBackwardParams.decl}
${storage(1, 'G', 'f32')}
${storage(2, 'GradX', 'vec4<f32>', true)}
${BINS}
${main1d()}
  if (gi >= ${AdaptiveRowBackwardParams.at.invocations}) { return; }
  let W = ${AdaptiveRowBackwardParams.at.W}; let OW = ${AdaptiveRowBackwardParams.at.OW};
  let W4 = W / 4u;
  let q = gi % W4;
  let row = gi / W4;
  let i0 = q * 4u;
  let gBase = ${AdaptiveRowBackwardParams.at.gOffset} + row * OW;
  var acc = vec4<f32>(0.0);
  let idx = vec4<u32>(i0, i0 + 1u, i0 + 2u, i0 + 3u);
  for (var o = (i0 * OW) / W; o < OW; o++) {
    let s = binStart(o, W, OW);
    if (s >= i0 + 4u) { break; }
    let e = binEnd(o, W, OW);
    let gv = G[gBase + o] / f32(e - s);
    acc += select(vec4<f32>(0.0), vec4<f32>(gv), (idx >= vec4<u32>(s)) & (idx < vec4<u32>(e)));
  }
  GradX[gi] = acc;
}`,
  };
}
