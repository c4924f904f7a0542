// torch.nn.functional.conv2d (NCHW, weight [Cout, Cin/groups, kh, kw]): stride, dilation,
// symmetric / asymmetric / 'same' / 'valid' padding, groups (depthwise included), optional bias.
// Forward is an implicit GEMM over a zero-padded, vec4-aligned copy of the input (wgsl/conv.ts
// explains why: loads dominate on lavapipe); layers with fewer than 4 output channels per group
// (depthwise) use a direct kernel, which reads an input whose rows are whole vec4s as it is,
// bounds-checked (the copy was a large part of its time). Backward: the input gradient is the
// same convolution of the (zero-inserted, for strides > 1) output gradient with flipped,
// transposed weights; the weight gradient is a reduction over output pixels split into row
// ranges; the bias gradient is a sum. Which kernel and tile each runs with is decided by the
// rule tables below (FORWARD_TILE_RULES, WGRAD_TILE_RULES); planConv2d reports the decisions.
import { pair, type Pair } from './args.ts';
import { Tensor } from '../core/tensor.ts';
import { record } from '../autograd/tape.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d, type Activation } from '../wgsl/common.ts';
import { subgroupSize as deviceSubgroupSize } from '../runtime/device.ts';
import {
  padKernel,
  prepKernel,
  gemmKernel,
  directKernel,
  wgradKernel,
  wgradDirectKernel,
  gemmRowVecs,
  wgradRowVecs,
  directRows,
  directRowVecs,
  ConvPadParams,
  ConvPrepParams,
  ConvGemmParams,
  ConvDirectParams,
  ConvDirectUnpaddedParams,
  ConvWgradParams,
  ConvWgradDirectParams,
} from '../wgsl/conv.ts';
import { fmt, numel } from '../core/shape.ts';
import { contiguous, reshape, unsqueeze, squeeze, transpose } from './views.ts';
import { sum } from './reduce.ts';
import { cast, activationGrad } from './unary.ts';
import { matmul, matmulRaw } from './matmul.ts';
import { zeros } from './creation.ts';

/** number, [h, w], [top, bottom, left, right], or torch's 'same' / 'valid'. */
export type Conv2dPadding = Pair | readonly [number, number, number, number] | 'same' | 'valid';

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Conv2dPadding;
  dilation?: Pair;
  groups?: number;
  /**
   * relu / relu6 applied to the biased output in the same kernel (not a torch argument): the same
   * values and gradients as relu(conv2d(...)), one pass fewer each way (MobileNet's conv + ReLU6).
   */
  activation?: Activation | null;
}

/** Tile shapes of the kernels (exposed for benchmarks and tuning). */
export interface ConvTuning {
  /** gemm forward: output channels x output columns per invocation. */
  tm: number;
  tn: number;
  wg: number;
  /** direct kernel: rows x columns per invocation. */
  directTr: number;
  directTn: number;
  /** weight gradient: output channels x input channels per invocation (0: chosen by kernel size). */
  wgTm: number;
  wgTc: number;
  /** weight gradient: output columns per step / 4. */
  wgPv: number;
  /** Target invocations for the split weight-gradient reduction (more splits, more partials). */
  wgTarget: number;
  /** Force a split count (tests); 0 = automatic. */
  wgSplits: number;
  /** Share weight loads across subgroups when the device has them. */
  subgroups: boolean;
  /**
   * Take the matmul kernel for 1x1 stride-1 unpadded ungrouped convolutions where the device has
   * subgroups (its subgroup matmul is faster than the gemm kernel there); without subgroups the
   * gemm kernel is the faster one.
   */
  matmul1x1: boolean;
  /**
   * Direct kernel (depthwise): read an input whose rows are whole vec4s as it is, bounds-checked,
   * instead of a zero-padded copy (false: always copy, as the gemm kernel does).
   */
  directUnpadded: boolean;
}

const DEFAULT_TUNING: ConvTuning = {
  tm: 32,
  tn: 4,
  wg: 64,
  directTr: 4,
  directTn: 8,
  wgTm: 0,
  wgTc: 0,
  wgPv: 1,
  wgTarget: 4096,
  wgSplits: 0,
  subgroups: true,
  matmul1x1: true,
  directUnpadded: true,
};
let tuning: ConvTuning = { ...DEFAULT_TUNING };

/** Overrides kernel tile shapes (null restores the defaults); returns the previous settings. */
export function setConvTuning(t: Partial<ConvTuning> | null): ConvTuning {
  const prev = tuning;
  tuning = t === null ? { ...DEFAULT_TUNING } : { ...tuning, ...t };
  if (tuning.tm % 4 !== 0 || tuning.tn % 4 !== 0 || tuning.directTn % 4 !== 0) throw new Error('setConvTuning: tm, tn and directTn must be multiples of 4');
  return prev;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);
const round4 = (a: number) => Math.ceil(a / 4) * 4;

/** Geometry of a forward convolution (after option parsing). */
interface Geom {
  N: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  KH: number;
  KW: number;
  G: number;
  Cin_g: number;
  Cout_g: number;
  sy: number;
  sx: number;
  dy: number;
  dx: number;
  pt: number;
  pb: number;
  pl: number;
  pr: number;
  OH: number;
  OW: number;
}

function geometry(xs: readonly number[], ws: readonly number[], bias: Tensor | null, o: Conv2dOptions): Geom {
  const op = 'conv2d';
  const desc = `input ${fmt(xs)}, weight ${fmt(ws)}`;
  if (xs.length !== 4) throw new Error(`conv2d: expected a 4-D NCHW input (or 3-D CHW), got ${fmt(xs)}`);
  if (ws.length !== 4) throw new Error(`conv2d: expected a 4-D weight [Cout, Cin/groups, kh, kw], got ${fmt(ws)}`);
  const [N, Cin, H, W] = xs;
  const [Cout, Cin_g, KH, KW] = ws;
  const G = o.groups ?? 1;
  if (!Number.isInteger(G) || G < 1) throw new Error(`conv2d: groups must be a positive integer, got ${G}`);
  if (Cin % G !== 0) throw new Error(`conv2d: input channels ${Cin} are not divisible by groups=${G} (${desc})`);
  if (Cout % G !== 0) throw new Error(`conv2d: output channels ${Cout} are not divisible by groups=${G} (${desc})`);
  if (Cin_g * G !== Cin)
    throw new Error(`conv2d: weight ${fmt(ws)} expects ${Cin_g * G} input channels (${Cin_g} per group x groups=${G}), but input ${fmt(xs)} has ${Cin}`);
  if (Cout === 0 || KH === 0 || KW === 0) throw new Error(`conv2d: empty weight ${fmt(ws)}`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== Cout)) throw new Error(`conv2d: bias ${fmt(bias.shape)} does not match ${Cout} output channels (${desc})`);
  const [sy, sx] = pair(op, 'stride', o.stride, 1, 1);
  const [dy, dx] = pair(op, 'dilation', o.dilation, 1, 1);
  let pt: number, pb: number, pl: number, pr: number;
  const p = o.padding ?? 0;
  if (p === 'valid') [pt, pb, pl, pr] = [0, 0, 0, 0];
  else if (p === 'same') {
    if (sy !== 1 || sx !== 1) throw new Error(`conv2d: padding='same' is not supported for strided convolutions (stride [${sy}, ${sx}])`);
    const th = dy * (KH - 1);
    const tw = dx * (KW - 1);
    [pt, pb, pl, pr] = [th >> 1, th - (th >> 1), tw >> 1, tw - (tw >> 1)];
  } else if (typeof p === 'number' || p.length === 2) {
    const [ph, pw] = pair(op, 'padding', p as Pair, 0, 0);
    [pt, pb, pl, pr] = [ph, ph, pw, pw];
  } else if (p.length === 4) {
    if (p.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`conv2d: padding must hold non-negative integers, got ${JSON.stringify(p)}`);
    [pt, pb, pl, pr] = p;
  } else throw new Error(`conv2d: padding must be a number, [h, w], [top, bottom, left, right], 'same' or 'valid', got ${JSON.stringify(p)}`);
  const OH = Math.floor((H + pt + pb - dy * (KH - 1) - 1) / sy) + 1;
  const OW = Math.floor((W + pl + pr - dx * (KW - 1) - 1) / sx) + 1;
  if (OH <= 0 || OW <= 0)
    throw new Error(
      `conv2d: output size ${OH}x${OW} is empty for ${desc} (padding [${pt}, ${pb}, ${pl}, ${pr}], stride [${sy}, ${sx}], dilation [${dy}, ${dx}]): the kernel is larger than the padded input`,
    );
  return { N, Cin, H, W, Cout, KH, KW, G, Cin_g, Cout_g: Cout / G, sy, sx, dy, dx, pt, pb, pl, pr, OH, OW };
}

// ---------------------------------------------------------------------------------------------
// Raw kernels (no autograd).

/** A convolution as the kernels see it: input zero-inserted by si, padded by (padT, padL) >= anything. */
interface Problem {
  N: number;
  Cin: number;
  H: number;
  W: number;
  siy: number;
  six: number;
  Cout: number;
  G: number;
  Cin_g: number;
  Cout_g: number;
  KH: number;
  KW: number;
  sy: number;
  sx: number;
  dy: number;
  dx: number;
  padT: number;
  padL: number;
  OH: number;
  OW: number;
}

interface Padded {
  t: Tensor;
  /** vec4 offset of element 0 and padded sizes. */
  off4: number;
  Hp: number;
  Wp: number;
  temp: boolean;
}

/** x [N, C, H, W] as a [N, C, Hp, Wp] buffer with rows padded/inserted as the kernel reads them. */
function padded(x: Tensor, P: { padT: number; padL: number; siy: number; six: number }, needH: number, needW: number): Padded {
  const [N, C, H, W] = x.shape;
  const Wp = round4(needW);
  const aligned = x.isContiguous() && x.offset % 4 === 0 && W % 4 === 0;
  if (aligned && P.padT === 0 && P.padL === 0 && P.siy === 1 && P.six === 1 && needH <= H && Wp <= W) {
    return { t: x, off4: x.offset / 4, Hp: H, Wp: W, temp: false };
  }
  const Hp = needH;
  const out = Tensor.empty([N, C, Hp, Wp], 'f32');
  const unit = P.siy === 1 && P.six === 1; // no zero insertion: one invocation per padded row
  const total = N * C * Hp * (unit ? 1 : Wp / 4);
  const prm = ConvPadParams.pack({
    invocations: total,
    channels: C,
    outH: Hp,
    outW4: Wp / 4,
    inH: H,
    inW: W,
    padTop: P.padT,
    padLeft: P.padL,
    insertY: P.siy,
    insertX: P.six,
    xOffset: x.offset,
    xStrides: x.strides,
  });
  dispatch(padKernel(unit), [x.storage.buffer, out.storage.buffer], prm, grid1d(total));
  return { t: out, off4: 0, Hp, Wp, temp: true };
}

/** Weights re-laid out: out[i0..i5] (dims D) = w[base + sum(i*S)] when i1*D5 + i5 < extent, else 0. */
function prep(w: Tensor, D: number[], S: number[], base: number, extent: number): Tensor {
  const out = Tensor.empty(D, 'f32');
  const total = numel(D);
  const prm = ConvPrepParams.pack({ dims: D, strides: S, base, extent, total });
  dispatch(prepKernel(), [w.storage.buffer, out.storage.buffer], prm, grid1d(total / D[5]));
  return out;
}

/**
 * The weight a problem reads: the forward weight [Cout, Cin_g, KH, KW], or (flip) the weight of
 * the forward convolution this problem is the input gradient of, read transposed and flipped:
 * that tensor is [G*Cin_g, Cout_g, KH, KW] in this problem's terms.
 */
interface WeightSrc {
  t: Tensor;
  flip: boolean;
}

/** [G, Cout_g/tm, KH, Cin_g, KW, tm] for the gemm kernel (channels past Cout_g are zero). */
function prepGemm(P: Problem, w: WeightSrc, tm: number): Tensor {
  const [s0, s1, s2, s3] = w.t.strides;
  const D = [P.G, ceilDiv(P.Cout_g, tm), P.KH, P.Cin_g, P.KW, tm];
  if (!w.flip) return prep(w.t, D, [P.Cout_g * s0, tm * s0, s2, s1, s3, s0], w.t.offset, P.Cout_g);
  // element [g*Cin_g + ci][co][KH-1-ky][KW-1-kx] of the forward weight
  const base = w.t.offset + (P.KH - 1) * s2 + (P.KW - 1) * s3;
  return prep(w.t, D, [P.Cin_g * s0, tm * s1, -s2, s0, -s3, s1], base, P.Cout_g);
}

/** [G, Cout_g, Cin_g, KH, KWP] (KWP = KW rounded up to 4) for the direct kernel. */
function prepDirect(P: Problem, w: WeightSrc): Tensor {
  const [s0, s1, s2, s3] = w.t.strides;
  const D = [P.G, 1, P.Cout_g, P.Cin_g, P.KH, round4(P.KW)];
  if (!w.flip) return prep(w.t, D, [P.Cout_g * s0, 0, s0, s1, s2, s3], w.t.offset, P.KW);
  const base = w.t.offset + (P.KH - 1) * s2 + (P.KW - 1) * s3;
  return prep(w.t, D, [P.Cin_g * s0, 0, s1, s0, -s2, -s3], base, P.KW);
}

/** Subgroup size the kernels may share loads across (0 when subgroups are unavailable or vary). */
function subgroupSize(): number {
  return tuning.subgroups ? deviceSubgroupSize() : 0;
}

function checkGrid(op: string, wg: [number, number, number]): void {
  if (wg.some((d) => d > 65535)) throw new Error(`${op}: launch grid [${wg.join(', ')}] exceeds 65535 workgroups per dimension (batch or channels too large)`);
}

// ---------------------------------------------------------------------------------------------
// Tiling rules. Each table is read top to bottom and the first rule whose `when` holds decides;
// `why` gives its reason (measured on lavapipe, where tiles were tuned). planConv2d reports the
// outcome for a shape and test/engine/ops/conv-tiles.test.ts pins it for representative ones.

/** A row of a rule table: where it applies, what it picks there, and why. */
interface Rule<S, R> {
  when: (s: S) => boolean;
  pick: (s: S, t: ConvTuning) => R;
  why: string;
}

function firstRule<S, R>(table: readonly Rule<S, R>[], s: S, t: ConvTuning): R {
  const rule = table.find((r) => r.when(s));
  if (!rule) throw new Error('conv2d: no tiling rule matched (the last rule of a table must match every shape)');
  return rule.pick(s, t);
}

/** Output channels per group below which a tile of (vec4s of) output channels is mostly padding. */
const MIN_CHANNEL_TILE = 4;

/** What the forward rules look at (of a forward problem, or of an input gradient's). */
interface ForwardShape {
  coutPerGroup: number;
  /** Output pixels per plane. */
  pixels: number;
  strideY: number;
  dilationY: number;
}

type ForwardTile = { kernel: 'gemm'; tm: number; tn: number } | { kernel: 'direct'; tr: number; tn: number };

/** Forward kernel and tile: gemm tm output channels x tn columns, direct tr rows x tn columns. */
const FORWARD_TILE_RULES: readonly Rule<ForwardShape, ForwardTile>[] = [
  {
    when: (s) => s.coutPerGroup >= MIN_CHANNEL_TILE,
    pick: (s, t) => ({ kernel: 'gemm', tm: tileFor(s.coutPerGroup, t.tm), tn: t.tn }),
    why: 'implicit GEMM: the tm output channels of a tile share every input load, so tm covers the channels up to tuning.tm',
  },
  {
    when: (s) => s.pixels < 64,
    pick: () => ({ kernel: 'direct', tr: 1, tn: 4 }),
    why: 'planes under 64 pixels (7x7): a larger tile is mostly padding, and test-sized problems compile fast',
  },
  {
    when: (s) => s.strideY % s.dilationY !== 0,
    pick: (_, t) => ({ kernel: 'direct', tr: 1, tn: t.directTn }),
    why: 'the output rows of a tile share input rows only when the dilation divides the stride',
  },
  {
    when: (s) => s.strideY > 1,
    pick: (_, t) => ({ kernel: 'direct', tr: Math.min(2, t.directTr), tn: t.directTn }),
    why: 'strided: every tile row adds stride input rows (4 rows of a 3x3 stride-2 conv read 9), so at most 2',
  },
  {
    when: (s) => s.pixels < 256,
    pick: (_, t) => ({ kernel: 'direct', tr: Math.min(2, t.directTr), tn: t.directTn }),
    why: 'planes under 256 pixels (14x14): 2-row tiles measured faster than 4-row ones',
  },
  {
    when: () => true,
    pick: (_, t) => ({ kernel: 'direct', tr: t.directTr, tn: t.directTn }),
    why: 'stride 1 on 18x18 and larger planes: the tallest tile reuses the most input rows',
  },
];

/** What the weight-gradient rules look at. */
interface WgradShape {
  kernelH: number;
  kernelW: number;
}

/** Weight-gradient tile: tm output channels x tc input channels x the taps (one kernel row with rowPerLane). */
interface WgradTile {
  tm: number;
  tc: number;
  rowPerLane: boolean;
}

/**
 * Weight-gradient tiles where there are MIN_CHANNEL_TILE output channels per group or more
 * (fewer: wgradDirect, one channel pair per invocation). tuning.wgTm / wgTc override tm / tc.
 */
const WGRAD_TILE_RULES: readonly Rule<WgradShape, WgradTile>[] = [
  {
    when: (s) => s.kernelH * s.kernelW === 1,
    pick: () => ({ tm: 16, tc: 4, rowPerLane: false }),
    why: '1x1: a single tap per channel pair leaves room for 4 input channels, which reuse each dY load',
  },
  {
    when: (s) => s.kernelH * s.kernelW > 9,
    pick: (s) => ({ tm: Math.max(4, 2 ** Math.floor(Math.log2(48 / s.kernelW))), tc: 1, rowPerLane: true }),
    why: 'larger than 3x3: one kernel row per invocation, tm x KW near 48 accumulators (all rows would spill and take LLVM long to compile)',
  },
  {
    when: () => true,
    pick: () => ({ tm: 16, tc: 1, rowPerLane: false }),
    why: 'up to 3x3: 16 channels x KH x KW taps, up to 144 accumulators, was the fastest',
  },
];

/** Fewest output rows one split of the weight-gradient reduction takes (more splits, more partial sums to add). */
const MIN_SPLIT_ROWS = 4;

/** Kernel and tiles of a forward convolution (also of an input gradient, which is one). */
export type ConvForwardPlan =
  | { kernel: 'gemm'; tm: number; tn: number; wg: number; sg: number }
  | {
      kernel: 'direct';
      tr: number;
      tn: number;
      wg: number;
      /** null: the kernel reads a zero-padded copy of the input; else the input itself (DirectConfig.lead). */
      lead: number | null;
    };

/** Kernel and tiles of a weight gradient, and the row-range splits of its reduction. */
export interface ConvWeightGradPlan {
  kernel: 'wgrad' | 'wgradDirect';
  tm: number;
  tc: number;
  pv: number;
  rowPerLane: boolean;
  wg: number;
  sg: number;
  /** Row ranges the reduction over the N * OH output rows is split into (partial sums added after), and their length. */
  splits: number;
  rowsPerSplit: number;
}

/** What conv2d runs for a shape: the matmul kernel (1x1), or the convolution kernels with their tiles. */
export type ConvPlan = { kernel: 'matmul' } | { kernel: 'conv'; forward: ConvForwardPlan; inputGrad: ConvForwardPlan; weightGrad: ConvWeightGradPlan };

/** `xAligned`: x is contiguous from a vec4 boundary (the direct kernel may then read it as it is). */
function forwardPlan(P: Problem, xAligned: boolean, sg: number): ConvForwardPlan {
  const T = tuning;
  const tile = firstRule(FORWARD_TILE_RULES, { coutPerGroup: P.Cout_g, pixels: P.OH * P.OW, strideY: P.sy, dilationY: P.dy }, T);
  if (tile.kernel === 'gemm') return { ...tile, wg: pickWg(P.OH * ceilDiv(P.OW, tile.tn), T.wg, sg), sg };
  // the input read as it is where its rows are whole vec4s (out-of-range reads load zeros),
  // which saves the padded copy, a pass that costs a good part of the convolution itself
  const unpadded = T.directUnpadded && P.siy === 1 && P.six === 1 && P.W % 4 === 0 && xAligned;
  const lead = unpadded ? ((-P.padL % 4) + 4) % 4 : null;
  return { ...tile, wg: pickWg(ceilDiv(P.OH, tile.tr) * ceilDiv(P.OW, tile.tn), T.wg, 0), lead };
}

function weightGradPlan(g: Geom, sg: number): ConvWeightGradPlan {
  const T = tuning;
  const rows = g.N * g.OH;
  if (g.Cout_g < MIN_CHANNEL_TILE) {
    const pairs = g.G * g.Cout_g * g.Cin_g;
    return { kernel: 'wgradDirect', tm: 1, tc: 1, pv: 1, rowPerLane: false, wg: pickWg(pairs, T.wg, 0), sg: 0, ...splitRows(rows, pairs) };
  }
  const rule = firstRule(WGRAD_TILE_RULES, { kernelH: g.KH, kernelW: g.KW }, T);
  const tcWant = T.wgTc > 0 ? T.wgTc : rule.tc;
  const tc = g.Cin_g < tcWant ? 1 : tcWant;
  const tm = tileFor(g.Cout_g, T.wgTm > 0 ? T.wgTm : rule.tm);
  const laneCount = ceilDiv(g.Cin_g, tc) * (rule.rowPerLane ? g.KH : 1);
  const lanes = laneCount * ceilDiv(g.Cout_g, tm) * g.G;
  return { kernel: 'wgrad', tm, tc, pv: T.wgPv, rowPerLane: rule.rowPerLane, wg: pickWg(laneCount, T.wg, sg), sg, ...splitRows(rows, lanes) };
}

/**
 * Row ranges of the weight-gradient reduction over `rows` output rows: enough that
 * splits x lanes reaches tuning.wgTarget invocations, MIN_SPLIT_ROWS rows or more each
 * (tuning.wgSplits forces the count).
 */
function splitRows(rows: number, lanes: number): { splits: number; rowsPerSplit: number } {
  const T = tuning;
  let S = T.wgSplits > 0 ? T.wgSplits : Math.max(1, Math.min(Math.floor(T.wgTarget / lanes), Math.ceil(rows / MIN_SPLIT_ROWS)));
  S = Math.min(S, rows);
  const rowsPerSplit = ceilDiv(rows, S);
  return { splits: ceilDiv(rows, rowsPerSplit), rowsPerSplit };
}

/** 1x1, stride 1, unpadded, ungrouped: conv2d is then a matmul [Cout, Cin] @ [N, Cin, H*W] (see ConvTuning.matmul1x1). */
function takesMatmul(g: Geom, deviceSg: number): boolean {
  return tuning.matmul1x1 && deviceSg > 0 && g.KH === 1 && g.KW === 1 && g.sy === 1 && g.sx === 1 && g.pt + g.pb + g.pl + g.pr === 0 && g.G === 1;
}

/**
 * The kernels and tiles conv2d picks for an input of `inputShape` and a weight of `weightShape`
 * under the current tuning (setConvTuning), with input and output gradient contiguous.
 * `device.subgroupSize` stands in for the device's (0: no subgroups), for other devices' plans.
 */
export function planConv2d(
  inputShape: readonly number[],
  weightShape: readonly number[],
  opts: Conv2dOptions = {},
  device: { subgroupSize?: number } = {},
): ConvPlan {
  const g = geometry(inputShape.length === 3 ? [1, ...inputShape] : inputShape, weightShape, null, opts);
  const deviceSg = device.subgroupSize ?? deviceSubgroupSize();
  if (takesMatmul(g, deviceSg)) return { kernel: 'matmul' };
  const sg = tuning.subgroups ? deviceSg : 0;
  return {
    kernel: 'conv',
    forward: forwardPlan(forwardProblem(g), true, sg),
    inputGrad: forwardPlan(inputGradProblem(g), true, sg),
    weightGrad: weightGradPlan(g, sg),
  };
}

// ---------------------------------------------------------------------------------------------

/** Runs a problem's forward convolution; returns [N, Cout, OH, OW]. */
function convForward(P: Problem, x: Tensor, w: WeightSrc, bias: Tensor | null, act: Activation | null = null): Tensor {
  const detail = problemDetail(P);
  const out = Tensor.empty([P.N, P.Cout, P.OH, P.OW], 'f32');
  if (out.size === 0) return out;
  const plan = forwardPlan(P, x.isContiguous() && x.offset % 4 === 0, subgroupSize());
  const outVec = P.OW % 4 === 0;
  const b = bias ? (bias.isContiguous() ? bias : contiguous(bias)) : null;
  const common = {
    cinPerGroup: P.Cin_g,
    cout: P.Cout,
    outH: P.OH,
    outW: P.OW,
    coutPerGroup: P.Cout_g,
    cin: P.Cin,
    biasOffset: b?.offset ?? 0,
    hasBias: b ? 1 : 0,
  };
  if (plan.kernel === 'gemm') {
    const { tm, tn, wg, sg } = plan;
    const tilesW = ceilDiv(P.OW, tn);
    const nv = gemmRowVecs(tn, P.KW, P.sx, P.dx);
    const needH = (P.OH - 1) * P.sy + (P.KH - 1) * P.dy + 1;
    const needW = (((tilesW - 1) * tn * P.sx) / 4 + nv) * 4;
    const xp = padded(x, P, needH, needW);
    const coTiles = ceilDiv(P.Cout_g, tm);
    const wt = prepGemm(P, w, tm);
    const ntiles = P.OH * tilesW;
    const grid: [number, number, number] = [ceilDiv(ntiles, wg), coTiles, P.N * P.G];
    checkGrid('conv2d', grid);
    const Wp4 = xp.Wp / 4;
    const prm = ConvGemmParams.pack({
      ...common,
      planeVec4s: xp.Hp * Wp4,
      coutTiles: coTiles,
      tilesW,
      groups: P.G,
      kernelH: P.KH,
      strideRowVec4s: P.sy * Wp4,
      dilationRowVec4s: P.dy * Wp4,
      xOffset4: xp.off4,
    });
    const bufs = [xp.t.storage.buffer, wt.storage.buffer, out.storage.buffer, (b ?? wt).storage.buffer];
    dispatch(gemmKernel({ tm, tn, kw: P.KW, sx: P.sx, dx: P.dx, wg, outVec, sg, act }), bufs, prm, grid, detail, { flops: problemFlops(P) });
    if (xp.temp) xp.t.dispose();
    wt.dispose();
  } else {
    const { tr, tn, wg, lead } = plan;
    const cfg = { tr, tn, kh: P.KH, kw: P.KW, sy: P.sy, sx: P.sx, dy: P.dy, dx: P.dx, lead };
    const tilesW = ceilDiv(P.OW, tn);
    const tilesH = ceilDiv(P.OH, tr);
    const needH = (tilesH - 1) * tr * P.sy + directRows(cfg);
    const needW = (((tilesW - 1) * tn * P.sx) / 4 + directRowVecs(cfg)) * 4;
    const xp: Padded = lead !== null ? { t: x, off4: x.offset / 4, Hp: P.H, Wp: P.W, temp: false } : padded(x, P, needH, needW);
    const wt = prepDirect(P, w);
    const ntiles = tilesH * tilesW;
    const grid: [number, number, number] = [ceilDiv(ntiles, wg), P.Cout, P.N];
    checkGrid('conv2d', grid);
    const Wp4 = xp.Wp / 4;
    const direct = { ...common, planeVec4s: xp.Hp * Wp4, rowVec4s: Wp4, tilesW, tilesH, xOffset4: xp.off4 };
    const prm =
      lead === null ? ConvDirectParams.pack(direct) : ConvDirectUnpaddedParams.pack({ ...direct, inH: P.H, padTop: P.padT, padLeftLead: P.padL + lead });
    const bufs = [xp.t.storage.buffer, wt.storage.buffer, out.storage.buffer, (b ?? wt).storage.buffer];
    dispatch(directKernel({ ...cfg, wg, outVec, act }), bufs, prm, grid, detail, { flops: problemFlops(P) });
    if (xp.temp) xp.t.dispose();
    wt.dispose();
  }
  if (b && b !== bias) b.dispose();
  return out;
}

/**
 * Multiply-adds x 2 of a problem as its kernel runs it (for the profiler's GFLOP/s): an input
 * gradient's zero-inserted problem counts the products with inserted zeros too.
 */
function problemFlops(P: Problem): number {
  return 2 * P.N * P.Cout * P.OH * P.OW * P.Cin_g * P.KH * P.KW;
}

/** Profiler label of a problem: input, output channels, kernel, stride (and dilation, groups, zero insertion). */
function problemDetail(P: Problem): string {
  const extra = [P.dy > 1 || P.dx > 1 ? ` d${P.dy}x${P.dx}` : '', P.G > 1 ? ` g${P.G}` : '', P.siy > 1 || P.six > 1 ? ` up${P.siy}x${P.six}` : ''].join('');
  return `${P.N}x${P.Cin}x${P.H}x${P.W}->${P.Cout} k${P.KH}x${P.KW} s${P.sy}x${P.sx}${extra}`;
}

/** Channel tile: the smallest of 4, 8, 16, ... that covers n, capped at `max`. */
function tileFor(n: number, max: number): number {
  let t = 4;
  while (t < n && t < max) t *= 2;
  return Math.min(t, Math.max(4, max));
}

/** Workgroup size when the largest would idle too many lanes (or the subgroup size, if larger). */
const SMALL_WG = 16;
/** Smallest workgroup size at all. */
const MIN_WG = 8;
/** Share of the launched lanes that may idle in the last workgroup before the small size is taken. */
const MAX_IDLE_SHARE = 0.25;

/** Workgroup size: `max`, unless that leaves over MAX_IDLE_SHARE of the lanes idle; then SMALL_WG (or the subgroup size). */
function pickWg(lanes: number, max: number, sg: number): number {
  const small = Math.max(SMALL_WG, sg);
  if (max <= small) return Math.max(max, sg, MIN_WG);
  const waste = (w: number) => ceilDiv(lanes, w) * w - lanes;
  return waste(max) <= lanes * MAX_IDLE_SHARE ? max : small;
}

function forwardProblem(g: Geom): Problem {
  return {
    N: g.N,
    Cin: g.Cin,
    H: g.H,
    W: g.W,
    siy: 1,
    six: 1,
    Cout: g.Cout,
    G: g.G,
    Cin_g: g.Cin_g,
    Cout_g: g.Cout_g,
    KH: g.KH,
    KW: g.KW,
    sy: g.sy,
    sx: g.sx,
    dy: g.dy,
    dx: g.dx,
    padT: g.pt,
    padL: g.pl,
    OH: g.OH,
    OW: g.OW,
  };
}

/** The input gradient as a problem: the stride-1 convolution of the zero-inserted gradient with flipped, transposed weights. */
function inputGradProblem(g: Geom): Problem {
  return {
    N: g.N,
    Cin: g.Cout,
    H: g.OH,
    W: g.OW,
    siy: g.sy,
    six: g.sx,
    Cout: g.Cin,
    G: g.G,
    Cin_g: g.Cout_g,
    Cout_g: g.Cin_g,
    KH: g.KH,
    KW: g.KW,
    sy: 1,
    sx: 1,
    dy: g.dy,
    dx: g.dx,
    padT: g.dy * (g.KH - 1) - g.pt,
    padL: g.dx * (g.KW - 1) - g.pl,
    OH: g.H,
    OW: g.W,
  };
}

/** dL/dx (see inputGradProblem). */
function inputGrad(gy: Tensor, w: Tensor, g: Geom): Tensor {
  return convForward(inputGradProblem(g), gy, { t: w, flip: true }, null);
}

/** dL/dw [Cout, Cin_g, KH, KW]: reductions over output pixels, split over row ranges. */
function weightGrad(gy: Tensor, x: Tensor, g: Geom): Tensor {
  if (g.N === 0) return zeros([g.Cout, g.Cin_g, g.KH, g.KW]);
  const plan = weightGradPlan(g, subgroupSize());
  const { tm, tc, pv, wg, sg, rowPerLane, splits: S, rowsPerSplit } = plan;
  const KK = g.KH * g.KW;
  const direct = plan.kernel === 'wgradDirect';
  const OWp = Math.ceil(g.OW / (4 * pv)) * 4 * pv;
  const OWp4 = OWp / 4;
  const nv = wgradRowVecs(pv, g.KW, g.sx, g.dx);
  const needH = (g.OH - 1) * g.sy + (g.KH - 1) * g.dy + 1;
  const needW = ((OWp4 - pv) * g.sx + nv) * 4;
  const xp = padded(x, { padT: g.pt, padL: g.pl, siy: 1, six: 1 }, needH, needW);
  const dyp = padded(gy, { padT: 0, padL: 0, siy: 1, six: 1 }, g.OH, OWp);
  const rows = g.N * g.OH;
  const nCb = ceilDiv(g.Cin_g, tc);
  const pairs = g.G * g.Cout_g * g.Cin_g;
  const laneCount = direct ? pairs : nCb * (rowPerLane ? g.KH : 1);
  const gridXY: [number, number] = [ceilDiv(laneCount, wg), direct ? 1 : ceilDiv(g.Cout_g, tm)];
  const kernel = direct
    ? wgradDirectKernel({ kh: g.KH, kw: g.KW, sx: g.sx, dx: g.dx, wg })
    : wgradKernel({ tm, tc, pv, kh: g.KH, kw: g.KW, sx: g.sx, dx: g.dx, wg, sg, rowPerLane });
  const total = g.Cout * g.Cin_g * KK;
  const part = Tensor.empty(S > 1 ? [S, g.Cout, g.Cin_g, g.KH, g.KW] : [g.Cout, g.Cin_g, g.KH, g.KW], 'f32');
  const Wp4 = xp.Wp / 4;
  const fields = {
    cinPerGroup: g.Cin_g,
    coutPerGroup: g.Cout_g,
    cin: g.Cin,
    cout: g.Cout,
    outH: g.OH,
    outW4: OWp4,
    planeVec4s: xp.Hp * Wp4,
    strideRowVec4s: g.sy * Wp4,
    dilationRowVec4s: g.dy * Wp4,
    rowsPerSplit,
    rows,
    xOffset4: xp.off4,
    dyOffset4: dyp.off4,
  };
  const prm = direct ? ConvWgradDirectParams.pack({ ...fields, pairs }) : ConvWgradParams.pack({ ...fields, groups: g.G, cinBlocks: nCb });
  const grid: [number, number, number] = [gridXY[0], gridXY[1], direct ? S : S * g.G];
  checkGrid('conv2d backward (weight)', grid);
  dispatch(kernel, [xp.t.storage.buffer, dyp.t.storage.buffer, part.storage.buffer], prm, grid, problemDetail(forwardProblem(g)), {
    flops: problemFlops(forwardProblem(g)),
  });
  if (xp.temp) xp.t.dispose();
  if (dyp.temp) dyp.t.dispose();
  if (S === 1 || total === 0) return part;
  const r = sum(part, 0);
  part.dispose();
  return r;
}

function asF32(x: Tensor): Tensor {
  return x.dtype === 'f32' ? x : cast(x, 'f32');
}

/**
 * torch.nn.functional.conv2d. x [N, Cin, H, W] (or unbatched [Cin, H, W]), weight
 * [Cout, Cin/groups, kh, kw], bias [Cout] or null. padding: number, [h, w],
 * [top, bottom, left, right] (TF-style asymmetric 'same'), 'same' or 'valid'.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  x.assertLive('conv2d');
  weight.assertLive('conv2d');
  if (x.rank === 3) {
    const xb = unsqueeze(x, 0);
    const y = conv2d(xb, weight, bias, opts);
    return squeeze(y, 0);
  }
  x = asF32(x);
  weight = asF32(weight);
  const g = geometry(x.shape, weight.shape, bias, opts);
  if (g.Cin_g === 0) throw new Error(`conv2d: weight ${fmt(weight.shape)} has no input channels`);
  const act = opts.activation ?? null;
  if (act !== null && act !== 'relu' && act !== 'relu6') throw new Error(`conv2d: activation must be 'relu', 'relu6' or null, got '${act}'`);
  if (takesMatmul(g, deviceSubgroupSize())) return conv1x1Matmul(x, weight, bias, g, act);
  const out = convForward(forwardProblem(g), x, { t: weight, flip: false }, bias, act);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(
    out,
    act ? `conv2d+${act}` : 'conv2d',
    inputs,
    (gy, needs, [xs, ws, ys]) => {
      const gz = act ? activationGrad(act, gy, ys) : gy;
      return [needs[0] ? inputGrad(gz, ws, g) : null, needs[1] ? weightGrad(gz, xs, g) : null, needs[2] ? sum(gz, [0, 2, 3]) : null];
    },
    act ? [x, weight, out] : [x, weight],
  );
}

// 1x1 stride-1 convolution as a batched matmul: [Cout, Cin] @ [N, Cin, H*W], the bias (per row)
// and the activation added by the kernel's store. Backward with the same products as
// matmul's rule: dx = W^T @ g, dW = sum over images of g @ x^T, db = sum of g.
function conv1x1Matmul(x: Tensor, weight: Tensor, bias: Tensor | null, g: Geom, act: Activation | null): Tensor {
  const w2 = reshape(weight, [g.Cout, g.Cin]);
  const x3 = reshape(x, [g.N, g.Cin, g.H * g.W]);
  const b = bias ? (bias.isContiguous() ? bias : contiguous(bias)) : null;
  const y = reshape(matmulRaw(w2, x3, b, { biasRows: true, act }), [g.N, g.Cout, g.H, g.W]);
  if (b && b !== bias) b.dispose();
  return record(
    y,
    act ? `conv2d+${act}` : 'conv2d',
    bias ? [x, weight, bias] : [x, weight],
    (gy, needs, [xs, ws, ys]) => {
      const gz = act ? activationGrad(act, gy, ys) : gy;
      const g3 = reshape(gz, [g.N, g.Cout, g.H * g.W]);
      return [
        needs[0] ? reshape(matmul(transpose(reshape(ws, [g.Cout, g.Cin])), g3), [g.N, g.Cin, g.H, g.W]) : null,
        needs[1] ? reshape(sum(matmul(g3, transpose(reshape(xs, [g.N, g.Cin, g.H * g.W]), 1, 2)), 0), ws.shape) : null,
        needs[2] ? sum(gz, [0, 2, 3]) : null,
      ];
    },
    act ? [x, weight, y] : [x, weight],
  );
}

/**
 * torch.nn.grad.conv2d_input: the gradient of conv2d with respect to its input, for an input of
 * `inputShape` (4-D). Not recorded by autograd (benchmarks and custom backward rules).
 */
export function conv2dInputGrad(inputShape: readonly number[], weight: Tensor, gradOutput: Tensor, opts: Conv2dOptions = {}): Tensor {
  const g = geometry(inputShape, weight.shape, null, opts);
  checkGradShape(g, gradOutput);
  return inputGrad(gradOutput, weight, g);
}

/**
 * torch.nn.grad.conv2d_weight: the gradient of conv2d with respect to a weight of `weightShape`.
 * Not recorded by autograd.
 */
export function conv2dWeightGrad(input: Tensor, weightShape: readonly number[], gradOutput: Tensor, opts: Conv2dOptions = {}): Tensor {
  const g = geometry(input.shape, weightShape, null, opts);
  checkGradShape(g, gradOutput);
  return weightGrad(gradOutput, input, g);
}

function checkGradShape(g: Geom, gy: Tensor): void {
  const want = [g.N, g.Cout, g.OH, g.OW];
  if (gy.rank !== 4 || gy.shape.some((d, i) => d !== want[i]))
    throw new Error(`conv2d backward: grad_output ${fmt(gy.shape)} does not match the output shape ${fmt(want)}`);
}
