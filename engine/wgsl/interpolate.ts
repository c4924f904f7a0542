// Kernels for ops/interpolate.ts: 2-D resampling of NCHW tensors (nearest, bilinear) and its
// backward as a gather over output pixels (no atomics). Each axis is described by
// (inSize, outSize, mode, scale); `taps()` gives the one or two source indices and weights of an
// output index exactly as PyTorch's CPU kernels compute them, and the backward loops over a
// conservative range of output indices per input index and re-derives the same taps.
import type { Kernel } from '../runtime/dispatch.ts';
import { PARAMS_DECL, main1d, pu, pf, storage } from './common.ts';

/** Axis modes: identity copy, nearest with out == 2 * in, nearest, linear, linear align_corners. */
export const AXIS = { identity: 0, half: 1, nearest: 2, linear: 3, linearAligned: 4 } as const;

// Axis parameters live at words [base, base + 4): in, out, mode, scale (f32).
const AXIS_FNS = `
struct Taps { i0: u32, i1: u32, l0: f32, l1: f32 }
fn taps(o: u32, inSize: u32, mode: u32, scale: f32) -> Taps {
  if (mode == 0u) { return Taps(o, o, 1.0, 0.0); }
  if (mode == 1u) { return Taps(o >> 1u, o >> 1u, 1.0, 0.0); }
  if (mode == 2u) {
    let s = min(u32(floor(f32(o) * scale)), inSize - 1u);
    return Taps(s, s, 1.0, 0.0);
  }
  var src: f32;
  if (mode == 3u) { src = max(scale * (f32(o) + 0.5) - 0.5, 0.0); } else { src = scale * f32(o); }
  let i0 = min(u32(src), inSize - 1u);
  let i1 = select(i0, i0 + 1u, i0 < inSize - 1u);
  let l1 = clamp(src - f32(i0), 0.0, 1.0);
  return Taps(i0, i1, 1.0 - l1, l1);
}
fn weightOf(t: Taps, i: u32) -> f32 {
  return select(0.0, t.l0, t.i0 == i) + select(0.0, t.l1, t.i1 == i);
}
// Output indices [lo, hi] that may read input index i (checked exactly by weightOf).
fn outRange(i: u32, inSize: u32, outSize: u32, mode: u32, scale: f32) -> vec2<u32> {
  if (mode == 0u) { return vec2<u32>(i, i); }
  if (mode == 1u) { return vec2<u32>(2u * i, min(2u * i + 1u, outSize - 1u)); }
  if (scale <= 0.0) { return vec2<u32>(0u, outSize - 1u); }
  var lo: f32; var hi: f32;
  if (mode == 2u) {
    lo = f32(i) / scale; hi = f32(i + 1u) / scale;
    if (i == inSize - 1u) { hi = f32(outSize); }
  } else if (mode == 3u) {
    lo = (f32(i) - 0.5) / scale - 0.5; hi = (f32(i) + 1.5) / scale - 0.5;
  } else {
    lo = (f32(i) - 1.0) / scale; hi = (f32(i) + 1.0) / scale;
  }
  let top = f32(outSize - 1u);
  return vec2<u32>(u32(clamp(floor(lo) - 1.0, 0.0, top)), u32(clamp(ceil(hi) + 1.0, 0.0, top)));
}`;

/** Output columns per invocation: index arithmetic (u32 division is slow on CPU drivers) is
 * paid once per chunk of a row. */
export const CHUNK = 32;

// params: 0 rows*chunks, 1 C, 2..5 H axis (in, out, mode, scale), 6..9 W axis, 10 offset,
// 11..14 x strides n c h w, 15 chunks per row
export function interpolateForward(): Kernel {
  return {
    name: 'interpolate.forward',
    key: 'interpolate:fwd',
    code: () => `${PARAMS_DECL}
${storage(1, 'x', 'f32')}
${storage(2, 'out', 'f32', true)}
${AXIS_FNS}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let Ho = ${pu(3)}; let W = ${pu(6)}; let Wo = ${pu(7)}; let mx = ${pu(8)}; let scx = ${pf(9)};
  let nch = ${pu(15)};
  let row = gi / nch;
  let ox0 = (gi % nch) * ${CHUNK}u;
  let oy = row % Ho;
  let nc = row / Ho;
  let C = ${pu(1)};
  let base = ${pu(10)} + (nc / C) * ${pu(11)} + (nc % C) * ${pu(12)};
  let sh = ${pu(13)}; let sw = ${pu(14)};
  let ty = taps(oy, ${pu(2)}, ${pu(4)}, ${pf(5)});
  let r0 = base + ty.i0 * sh;
  let r1 = base + ty.i1 * sh;
  for (var ox = ox0; ox < min(Wo, ox0 + ${CHUNK}u); ox++) {
    let tx = taps(ox, W, mx, scx);
    let top = tx.l0 * x[r0 + tx.i0 * sw] + tx.l1 * x[r0 + tx.i1 * sw];
    let bot = tx.l0 * x[r1 + tx.i0 * sw] + tx.l1 * x[r1 + tx.i1 * sw];
    out[row * Wo + ox] = ty.l0 * top + ty.l1 * bot;
  }
}`,
  };
}

// Backward along one axis of g viewed as [outer, O, inner] -> [outer, I, inner]: each input
// index sums the weighted gradients of the output indices that read it. The 2-D backward is
// this along W (inner = 1: a chunk of input indices per invocation) and then along H (inner =
// W: a chunk of the inner run per invocation). Separable, so each pass reads only the
// ~2 / scale outputs per input index. params: 0 invocations, 1 I, 2 O, 3 mode, 4 scale,
// 5 inner, 6 chunks per row, 7 g offset
export function interpolateAxisBackward(innerOne: boolean): Kernel {
  const head = `${PARAMS_DECL}
${storage(1, 'g', 'f32')}
${storage(2, 'out', 'f32', true)}
${AXIS_FNS}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let I = ${pu(1)}; let O = ${pu(2)}; let mode = ${pu(3)}; let scale = ${pf(4)};
  let inner = ${pu(5)}; let nch = ${pu(6)}; let goff = ${pu(7)};`;
  const body = innerOne
    ? `
  let outer = gi / nch;
  let i0 = (gi % nch) * ${CHUNK}u;
  for (var i = i0; i < min(I, i0 + ${CHUNK}u); i++) {
    let r = outRange(i, I, O, mode, scale);
    var acc = 0.0;
    for (var o = r.x; o <= r.y; o++) { acc += weightOf(taps(o, I, mode, scale), i) * g[goff + outer * O + o]; }
    out[outer * I + i] = acc;
  }
}`
    : `
  let row = gi / nch;
  let j0 = (gi % nch) * ${CHUNK}u;
  let cnt = min(inner, j0 + ${CHUNK}u) - j0;
  let i = row % I;
  let outer = row / I;
  let r = outRange(i, I, O, mode, scale);
  var acc: array<f32, ${CHUNK}>;
  for (var o = r.x; o <= r.y; o++) {
    let w = weightOf(taps(o, I, mode, scale), i);
    if (w == 0.0) { continue; }
    let gb = goff + (outer * O + o) * inner + j0;
    for (var j = 0u; j < cnt; j++) { acc[j] += w * g[gb + j]; }
  }
  let ob = row * inner + j0;
  for (var j = 0u; j < cnt; j++) { out[ob + j] = acc[j]; }
}`;
  return { name: 'interpolate.backward', key: `interpolate:bwd-axis:${innerOne}`, code: () => head + body };
}
