// Unary elementwise ops. Each entry: the forward WGSL expression over `a` (and scalars s0, s1),
// and a fused backward expression over g = `a`, input x = `b`, output y = `c`, so every
// backward is one kernel. Float-only ops convert integer inputs to f32 first (as torch does).
// NaN follows torch: WGSL's max/min/clamp may drop a NaN operand (lavapipe does), so the ops
// built on them test for NaN explicitly (`NAN(v)`: wgsl/common.ts isNan, false for integers).
import { Tensor } from '../core/tensor.ts';
import { DTYPES, type DType } from '../core/dtype.ts';
import { record } from '../autograd/tape.ts';
import { runElementwise } from './launch.ts';
import { isNan, type Activation } from '../wgsl/common.ts';

interface UnaryDef {
  expr: string;
  /** Backward over g (a), x (b), y (c), scalars s0.. ; omitted: not differentiable. */
  grad?: string;
  /** Which of x / y the backward reads. */
  uses?: ('x' | 'y')[];
  float?: boolean;
  helpers?: string;
}

// erf in f32 to 1-2 ulp (WGSL has no builtin; the short Abramowitz-Stegun forms err by 1e-7 to
// 1e-5 before any rounding). Coefficients fitted for this file by least squares on Chebyshev nodes
// against mpmath and checked in f32 arithmetic without FMA (as lavapipe runs it): |x| < 1,
// x * P(x^2), relative error <= 1.5e-7; 1 <= |x| < 4, 1 - exp(Q(|x|)) with Q ~ log(erfc), absolute
// error <= 6e-8 (exp's own error is scaled down by erfc <= 0.16); past 4, erfc < 1.6e-8 rounds
// away. A NaN returns itself, +-inf gives +-1, as torch.erf.
const ERF = `fn erff(x: f32) -> f32 {
  let ax = abs(x);
  if (ax < 1.0) {
    let t = x * x;
    return x * (((((-5.6682096e-04 * t + 4.9274787e-03) * t - 2.6720952e-02) * t + 1.1280581e-01) * t - 3.761239e-01) * t + 1.1283791);
  }
  let u = min(ax, 4.0);
  var q = -6.582858e-08 * u + 3.0952046e-06;
  q = q * u - 6.0068796e-05;
  q = q * u + 6.7333755e-04;
  q = q * u - 5.021045e-03;
  q = q * u + 2.6999498e-02;
  q = q * u - 1.1090742e-01;
  q = q * u - 6.3108885e-01;
  q = q * u - 1.1306045;
  q = q * u + 4.005005e-04;
  let r = 1.0 - exp(q);
  return select(select(r, -r, x < 0.0), x, ${isNan('x')});
}`;

// GELU's derivatives as torch writes them (GeluBackward): exact, cdf + x * pdf; tanh, through
// tanh(sqrt(2 / pi) * (x + 0.044715 x^3)), tanh by the overflow-free exp(-2|u|) form as in `tanh`.
const GELU = `${ERF}
fn gelu_grad(x: f32) -> f32 {
  return 0.5 * (1.0 + erff(x * 0.7071067811865476)) + x * 0.3989422804014327 * exp(-0.5 * x * x);
}`;
const GELU_TANH = `fn gelu_tanh_inner(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  let e = exp(-2.0 * abs(u));
  return sign(u) * (1.0 - e) / (1.0 + e);
}
fn gelu_tanh_grad(x: f32) -> f32 {
  let t = gelu_tanh_inner(x);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * x * x);
}`;

const DEFS: Record<string, UnaryDef> = {
  neg: { expr: '-a', grad: '-a' },
  exp: { expr: 'exp(a)', grad: 'a * c', uses: ['y'], float: true },
  log: { expr: 'log(a)', grad: 'a / b', uses: ['x'], float: true },
  sqrt: { expr: 'sqrt(a)', grad: 'a * 0.5 / c', uses: ['y'], float: true },
  rsqrt: { expr: 'inverseSqrt(a)', grad: '-0.5 * a * c * c * c', uses: ['y'], float: true },
  abs: { expr: 'abs(a)', grad: 'a * sign(b)', uses: ['x'] },
  sign: { expr: 'sign(a)' },
  square: { expr: 'a * a', grad: '2.0 * a * b', uses: ['x'] },
  reciprocal: { expr: '1.0 / a', grad: '-a * c * c', uses: ['y'], float: true },
  // torch's threshold_backward / hardtanh_backward zero the gradient where x <= 0 (or >= 6), so
  // a NaN input passes g through
  relu: { expr: 'select(max(a, A(0)), a, NAN(a))', grad: 'select(0.0, a, b > 0.0 || NAN(b))', uses: ['x'] },
  relu6: { expr: 'select(clamp(a, A(0), A(6)), a, NAN(a))', grad: 'select(0.0, a, (b > 0.0 && b < 6.0) || NAN(b))', uses: ['x'] },
  leakyRelu: { expr: 'select(a * s0, a, a > 0.0)', grad: 'select(a * s0, a, b > 0.0)', uses: ['x'], float: true },
  sigmoid: { expr: '1.0 / (1.0 + exp(-a))', grad: 'a * c * (1.0 - c)', uses: ['y'], float: true },
  tanh: {
    expr: 'tanhf(a)',
    grad: 'a * (1.0 - c * c)',
    uses: ['y'],
    float: true,
    helpers: 'fn tanhf(x: f32) -> f32 { let e = exp(-2.0 * abs(x)); return sign(x) * (1.0 - e) / (1.0 + e); }',
  },
  // torch's clamp_backward keeps g where min <= x <= max: 0 at NaN
  clamp: { expr: 'W(select(min(max(f32(a), s0), s1), f32(a), NAN(f32(a))))', grad: 'select(0.0, a, b >= s0 && b <= s1)', uses: ['x'] },
  floor: { expr: 'floor(a)', float: true },
  ceil: { expr: 'ceil(a)', float: true },
  round: { expr: 'round(a)', float: true },
  logOrZero: { expr: 'select(log(a), 0.0, a == 0.0)', float: true },
  logicalNot: { expr: 'select(0u, 1u, a == A(0))' },
  erf: { expr: 'erff(a)', grad: 'a * 1.1283791670955126 * exp(-b * b)', uses: ['x'], float: true, helpers: ERF },
  gelu: { expr: '0.5 * a * (1.0 + erff(a * 0.7071067811865476))', grad: 'a * gelu_grad(b)', uses: ['x'], float: true, helpers: GELU },
  geluTanh: { expr: '0.5 * a * (1.0 + gelu_tanh_inner(a))', grad: 'a * gelu_tanh_grad(b)', uses: ['x'], float: true, helpers: GELU_TANH },
};

function wgsl(d: DType): string {
  return DTYPES[d].wgsl;
}

/** Expands `NAN(v)` (balanced parentheses) to the NaN test of f32 `v`, or `false` for integers. */
function expandNan(expr: string, float: boolean): string {
  let out = '';
  let i = 0;
  for (let at = expr.indexOf('NAN(', i); at >= 0; at = expr.indexOf('NAN(', i)) {
    let depth = 1;
    let j = at + 4;
    for (; depth > 0; j++) depth += expr[j] === '(' ? 1 : expr[j] === ')' ? -1 : 0;
    out += expr.slice(i, at) + (float ? isNan(expr.slice(at + 4, j - 1)) : 'false');
    i = j;
  }
  return out + expr.slice(i);
}

export function unaryOp(name: keyof typeof DEFS, x: Tensor, scalars: number[] = []): Tensor {
  const def = DEFS[name];
  let input = x;
  if (def.float && x.dtype !== 'f32') input = cast(x, 'f32');
  const w = wgsl(input.dtype);
  // `A(v)` spells a literal of the input's type, `W(` a conversion to it
  const expr = expandNan(def.expr.replace(/A\((\d+)\)/g, (_, v) => `${w}(${v})`).replace(/W\(/g, `${w}(`), input.dtype === 'f32');
  const helpers = def.helpers;
  const outDtype: DType = name === 'logicalNot' ? 'bool' : input.dtype;
  const out = runElementwise({ name, expr, helpers }, [input], input.shape, outDtype, scalars);
  if (!def.grad || input.dtype !== 'f32') return out;
  const uses = def.uses ?? [];
  const save: Tensor[] = [];
  if (uses.includes('x')) save.push(input);
  if (uses.includes('y')) save.push(out);
  return record(
    out,
    name,
    [input],
    (g, _needs, saved) => {
      const xs = uses.includes('x') ? saved[0] : g;
      const ys = uses.includes('y') ? saved[uses.includes('x') ? 1 : 0] : g;
      return [runElementwise({ name: `${name}.grad`, expr: expandNan(def.grad!, true), helpers }, [g, xs, ys], g.shape, 'f32', scalars)];
    },
    save,
  );
}

/**
 * Gradient through a relu / relu6 fused into another op's store, from that op's output y: the
 * elementwise op's own gradient rule, which reads its input only through y's tests (x > 0, and
 * x < 6 for relu6, NaN), and the activation keeps those: y > 0 exactly where x > 0, y < 6 where
 * x < 6, y is NaN where x is.
 */
export function activationGrad(act: Activation, g: Tensor, y: Tensor): Tensor {
  return runElementwise({ name: `${act}.grad`, expr: expandNan(DEFS[act].grad!, true) }, [g, y, y], g.shape, 'f32');
}

/** Converts dtype (torch's .to(dtype)); floats to ints truncate toward zero. Not differentiable across kinds. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const from = wgsl(x.dtype);
  const to = wgsl(dtype);
  // NaN is true, as in torch (a NaN compares unequal to 0, but `!=` is false for it on lavapipe)
  const nz = from === 'f32' ? `a != 0.0 || ${isNan('a')}` : `a != ${from}(0)`;
  const expr = dtype === 'bool' ? `select(0u, 1u, ${nz})` : from === to ? 'a' : `${to}(a)`;
  return runElementwise({ name: `cast.${dtype}`, expr }, [x], x.shape, dtype);
}

export const neg = (x: Tensor) => unaryOp('neg', x);
export const exp = (x: Tensor) => unaryOp('exp', x);
export const log = (x: Tensor) => unaryOp('log', x);
export const sqrt = (x: Tensor) => unaryOp('sqrt', x);
export const rsqrt = (x: Tensor) => unaryOp('rsqrt', x);
export const abs = (x: Tensor) => unaryOp('abs', x);
export const sign = (x: Tensor) => unaryOp('sign', x);
export const square = (x: Tensor) => unaryOp('square', x);
export const reciprocal = (x: Tensor) => unaryOp('reciprocal', x);
export const relu = (x: Tensor) => unaryOp('relu', x);
export const relu6 = (x: Tensor) => unaryOp('relu6', x);
export const leakyRelu = (x: Tensor, slope = 0.01) => unaryOp('leakyRelu', x, [slope]);
export const sigmoid = (x: Tensor) => unaryOp('sigmoid', x);
export const tanh = (x: Tensor) => unaryOp('tanh', x);
export const floor = (x: Tensor) => unaryOp('floor', x);
export const ceil = (x: Tensor) => unaryOp('ceil', x);
export const round = (x: Tensor) => unaryOp('round', x);
export const logicalNot = (x: Tensor) => unaryOp('logicalNot', x);
/** torch.erf. */
export const erf = (x: Tensor) => unaryOp('erf', x);
/** F.gelu(x, approximate): 'none' is x * Phi(x) through erf, 'tanh' torch's tanh approximation. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`gelu: approximate must be 'none' or 'tanh', got '${approximate}'`);
  return unaryOp(approximate === 'tanh' ? 'geluTanh' : 'gelu', x);
}
/** torch.clamp(x, min, max); either bound may be omitted (null). */
export const clamp = (x: Tensor, min: number | null = null, max: number | null = null) => unaryOp('clamp', x, [min ?? -Infinity, max ?? Infinity]);
