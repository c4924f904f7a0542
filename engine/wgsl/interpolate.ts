// Kernels for ops/interpolate.ts: 2-D resampling of NCHW tensors (nearest, nearest-exact,
// bilinear, bicubic) and its backward as a gather over output pixels (no atomics). Each axis is
// described by (inSize, outSize, mode, scale); `taps()` gives the one or two source indices and
// weights of an output index exactly as PyTorch's CPU kernels compute them (`taps4()` the four of
// bicubic, torch's formulas in f32 where torch rounds a double), and the backward loops over a
// conservative range of output indices per input index and re-derives the same taps.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage } from './common.ts';
import { paramStruct } from './params.ts';

/**
 * Axis modes: identity copy, nearest with out == 2 * in, nearest, linear, linear align_corners
 * (one or two taps: interpolateForward); nearest-exact (interpolateForward('exact'), with
 * identity and half); cubic, cubic align_corners (four taps: interpolateCubicForward).
 */
export const AXIS = { identity: 0, half: 1, nearest: 2, linear: 3, linearAligned: 4, nearestExact: 5, cubic: 6, cubicAligned: 7 } as const;

/** Forward: one invocation per `chunksPerRow` chunk of an output row; x is read through its strides. */
export const InterpolateParams = paramStruct('InterpolateParams', {
  invocations: 'u32',
  channels: 'u32',
  inH: 'u32',
  outH: 'u32',
  modeH: 'u32',
  scaleH: 'f32',
  inW: 'u32',
  outW: 'u32',
  modeW: 'u32',
  scaleW: 'f32',
  xOffset: 'u32',
  strideN: 'u32',
  strideC: 'u32',
  strideH: 'u32',
  strideW: 'u32',
  chunksPerRow: 'u32',
});

/** Backward along one axis of g viewed as [outer, outSize, inner] -> [outer, inSize, inner]. */
export const InterpolateAxisParams = paramStruct('InterpolateAxisParams', {
  invocations: 'u32',
  inSize: 'u32',
  outSize: 'u32',
  mode: 'u32',
  scale: 'f32',
  inner: 'u32',
  chunksPerRow: 'u32',
  gOffset: 'u32',
});

// One and two-tap axes. A kernel holds nearest's source index or nearest-exact's (torch's
// nearest_neighbor_exact_compute_source_index), never both: one more branch per tap made the
// bilinear kernels measurably slower on lavapipe.
function axisFns(exact: boolean): string {
  const nearest = exact ? AXIS.nearestExact : AXIS.nearest;
  const src = exact ? '(f32(o) + 0.5) * scale' : 'f32(o) * scale';
  const lo = exact ? 'f32(i) / scale - 0.5' : 'f32(i) / scale';
  const hi = exact ? 'f32(i + 1u) / scale - 0.5' : 'f32(i + 1u) / scale';
  return `
struct Taps { i0: u32, i1: u32, l0: f32, l1: f32 }
fn taps(o: u32, inSize: u32, mode: u32, scale: f32) -> Taps {
  if (mode == 0u) { return Taps(o, o, 1.0, 0.0); }
  if (mode == 1u) { return Taps(o >> 1u, o >> 1u, 1.0, 0.0); }
  if (mode == ${nearest}u) {
    let s = min(u32(floor(${src})), inSize - 1u);
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
  if (mode == ${nearest}u) {
    lo = ${lo}; hi = ${hi};
    if (i == inSize - 1u) { hi = f32(outSize); }
  } else if (mode == 3u) {
    lo = (f32(i) - 0.5) / scale - 0.5; hi = (f32(i) + 1.5) / scale - 0.5;
  } else {
    lo = (f32(i) - 1.0) / scale; hi = (f32(i) + 1.0) / scale;
  }
  let top = f32(outSize - 1u);
  return vec2<u32>(u32(clamp(floor(lo) - 1.0, 0.0, top)), u32(clamp(ceil(hi) + 1.0, 0.0, top)));
}`;
}

// PyTorch's bicubic (upsample_bicubic2d): cubic convolution with A = -0.75 over taps idx - 1 ..
// idx + 2 of idx = floor(src), each clamped to the axis (the border replicates). The forward's
// index and fraction are guarded like torch's guard_index_and_lambda.
const CUBIC_FNS = `
struct Taps4 { i: vec4<u32>, w: vec4<f32> }
fn cubicWeights(t: f32) -> vec4<f32> {
  let A = -0.75;
  let x0 = t + 1.0;
  let x2 = 1.0 - t;
  let x3 = x2 + 1.0;
  return vec4<f32>(
    ((A * x0 - 5.0 * A) * x0 + 8.0 * A) * x0 - 4.0 * A,
    ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0,
    ((A + 2.0) * x2 - (A + 3.0)) * x2 * x2 + 1.0,
    ((A * x3 - 5.0 * A) * x3 + 8.0 * A) * x3 - 4.0 * A);
}
fn taps4(o: u32, inSize: u32, mode: u32, scale: f32) -> Taps4 {
  var src: f32;
  if (mode == 7u) { src = scale * f32(o); } else { src = scale * (f32(o) + 0.5) - 0.5; }
  let top = i32(inSize) - 1;
  let idx = min(i32(floor(src)), top);
  let t = clamp(src - f32(idx), 0.0, 1.0);
  let i = clamp(vec4<i32>(idx - 1, idx, idx + 1, idx + 2), vec4<i32>(0), vec4<i32>(top));
  return Taps4(vec4<u32>(i), cubicWeights(t));
}
fn weight4Of(t: Taps4, i: u32) -> f32 {
  return dot(select(vec4<f32>(0.0), t.w, t.i == vec4<u32>(i)), vec4<f32>(1.0));
}
// Output indices [lo, hi] that may read input index i: those with floor(src) in [i - 2, i + 1],
// and for the last index every later one (clamped taps); checked exactly by weight4Of.
fn outRange4(i: u32, inSize: u32, outSize: u32, mode: u32, scale: f32) -> vec2<u32> {
  if (scale <= 0.0) { return vec2<u32>(0u, outSize - 1u); }
  var lo: f32; var hi: f32;
  if (mode == 7u) {
    lo = (f32(i) - 2.0) / scale; hi = (f32(i) + 2.0) / scale;
  } else {
    lo = (f32(i) - 1.5) / scale - 0.5; hi = (f32(i) + 2.5) / scale - 0.5;
  }
  if (i == inSize - 1u) { hi = f32(outSize); }
  let top = f32(outSize - 1u);
  return vec2<u32>(u32(clamp(floor(lo) - 1.0, 0.0, top)), u32(clamp(ceil(hi) + 1.0, 0.0, top)));
}`;

/** Output columns per invocation: index arithmetic (u32 division is slow on CPU drivers) is
 * paid once per chunk of a row. */
export const CHUNK = 32;

const P = InterpolateParams.at;

// The row this invocation writes and where its input plane starts, shared by both forwards.
const FORWARD_HEAD = `  if (gi >= ${P.invocations}) { return; }
  let Ho = ${P.outH}; let W = ${P.inW}; let Wo = ${P.outW}; let mx = ${P.modeW}; let scx = ${P.scaleW};
  let nch = ${P.chunksPerRow};
  let row = gi / nch;
  let ox0 = (gi % nch) * ${CHUNK}u;
  let oy = row % Ho;
  let nc = row / Ho;
  let C = ${P.channels};
  let base = ${P.xOffset} + (nc / C) * ${P.strideN} + (nc % C) * ${P.strideC};
  let sh = ${P.strideH}; let sw = ${P.strideW};`;

/**
 * Bilinear ('linear': two taps per axis), nearest or nearest-exact (one tap: a copy, so an
 * infinity stays one instead of becoming 0 * inf = NaN in a weighted sum).
 */
export function interpolateForward(kind: 'linear' | 'nearest' | 'exact' = 'linear'): Kernel {
  const body =
    kind === 'linear'
      ? `  let r1 = base + ty.i1 * sh;
  for (var ox = ox0; ox < min(Wo, ox0 + ${CHUNK}u); ox++) {
    let tx = taps(ox, W, mx, scx);
    let top = tx.l0 * x[r0 + tx.i0 * sw] + tx.l1 * x[r0 + tx.i1 * sw];
    let bot = tx.l0 * x[r1 + tx.i0 * sw] + tx.l1 * x[r1 + tx.i1 * sw];
    out[row * Wo + ox] = ty.l0 * top + ty.l1 * bot;
  }`
      : `  for (var ox = ox0; ox < min(Wo, ox0 + ${CHUNK}u); ox++) { out[row * Wo + ox] = x[r0 + taps(ox, W, mx, scx).i0 * sw]; }`;
  return {
    name: 'interpolate.forward',
    key: `interpolate:fwd${kind === 'linear' ? '' : `:${kind}`}`,
    code: () => `${InterpolateParams.decl}
${storage(1, 'x', 'f32')}
${storage(2, 'out', 'f32', true)}
${axisFns(kind === 'exact')}
${main1d()}
${FORWARD_HEAD}
  let ty = taps(oy, ${P.inH}, ${P.modeH}, ${P.scaleH});
  let r0 = base + ty.i0 * sh;
${body}
}`,
  };
}

/** Bicubic: 4 x 4 taps, summed along W first and then along H in torch's order. */
export function interpolateCubicForward(): Kernel {
  const rows = [0, 1, 2, 3].map((j) => `x[r${j} + c.x] * tx.w.x + x[r${j} + c.y] * tx.w.y + x[r${j} + c.z] * tx.w.z + x[r${j} + c.w] * tx.w.w`);
  return {
    name: 'interpolate.bicubic',
    key: 'interpolate:fwd-cubic',
    code: () => `${InterpolateParams.decl}
${storage(1, 'x', 'f32')}
${storage(2, 'out', 'f32', true)}
${CUBIC_FNS}
${main1d()}
${FORWARD_HEAD}
  let ty = taps4(oy, ${P.inH}, ${P.modeH}, ${P.scaleH});
  let r0 = base + ty.i.x * sh; let r1 = base + ty.i.y * sh; let r2 = base + ty.i.z * sh; let r3 = base + ty.i.w * sh;
  for (var ox = ox0; ox < min(Wo, ox0 + ${CHUNK}u); ox++) {
    let tx = taps4(ox, W, mx, scx);
    let c = tx.i * sw;
    var acc = (${rows[0]}) * ty.w.x;
    acc += (${rows[1]}) * ty.w.y;
    acc += (${rows[2]}) * ty.w.z;
    acc += (${rows[3]}) * ty.w.w;
    out[row * Wo + ox] = acc;
  }
}`,
  };
}

// Backward along one axis of g viewed as [outer, O, inner] -> [outer, I, inner]: each input
// index sums the weighted gradients of the output indices that read it. The 2-D backward is
// this along W (inner = 1: a chunk of input indices per invocation) and then along H (inner =
// W: a chunk of the inner run per invocation). Separable (bicubic too: its 4 x 4 weights are
// products of per-axis weights), so each pass reads only the ~taps / scale outputs per input.
export function interpolateAxisBackward(innerOne: boolean, taps: 'linear' | 'exact' | 'cubic' = 'linear'): Kernel {
  const cubic = taps === 'cubic';
  const A = InterpolateAxisParams.at;
  const weight = (o: string) => (cubic ? `weight4Of(taps4(${o}, I, mode, scale), i)` : `weightOf(taps(${o}, I, mode, scale), i)`);
  const range = cubic ? 'outRange4' : 'outRange';
  const head = `${InterpolateAxisParams.decl}
${storage(1, 'g', 'f32')}
${storage(2, 'out', 'f32', true)}
${cubic ? CUBIC_FNS : axisFns(taps === 'exact')}
${main1d()}
  if (gi >= ${A.invocations}) { return; }
  let I = ${A.inSize}; let O = ${A.outSize}; let mode = ${A.mode}; let scale = ${A.scale};
  let inner = ${A.inner}; let nch = ${A.chunksPerRow}; let goff = ${A.gOffset};`;
  const body = innerOne
    ? `
  let outer = gi / nch;
  let i0 = (gi % nch) * ${CHUNK}u;
  for (var i = i0; i < min(I, i0 + ${CHUNK}u); i++) {
    let r = ${range}(i, I, O, mode, scale);
    var acc = 0.0;
    for (var o = r.x; o <= r.y; o++) { acc += ${weight('o')} * g[goff + outer * O + o]; }
    out[outer * I + i] = acc;
  }
}`
    : `
  let row = gi / nch;
  let j0 = (gi % nch) * ${CHUNK}u;
  let cnt = min(inner, j0 + ${CHUNK}u) - j0;
  let i = row % I;
  let outer = row / I;
  let r = ${range}(i, I, O, mode, scale);
  var acc: array<f32, ${CHUNK}>;
  for (var o = r.x; o <= r.y; o++) {
    let w = ${weight('o')};
    if (w == 0.0) { continue; }
    let gb = goff + (outer * O + o) * inner + j0;
    for (var j = 0u; j < cnt; j++) { acc[j] += w * g[gb + j]; }
  }
  let ob = row * inner + j0;
  for (var j = 0u; j < cnt; j++) { out[ob + j] = acc[j]; }
}`;
  return { name: 'interpolate.backward', key: `interpolate:bwd-axis:${innerOne}${taps === 'linear' ? '' : `:${taps}`}`, code: () => head + body };
}
