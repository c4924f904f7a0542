// Binary elementwise ops with NumPy/PyTorch broadcasting: arithmetic, maximum/minimum, pow,
// comparisons (bool masks) and where. Each table entry holds the WGSL expression and the
// backward rule together; a number operand becomes a kernel parameter (no upload, no flush).
import { Tensor } from '../core/tensor.ts';
import { promote, type DType } from '../core/dtype.ts';
import { broadcastShapes } from '../core/shape.ts';
import { record } from '../autograd/tape.ts';
import { runElementwise } from './launch.ts';
import { sumTo } from './reduce.ts';
import { neg, unaryOp, cast } from './unary.ts';
import { full } from './creation.ts';
import { isNan } from '../wgsl/common.ts';

export type Operand = Tensor | number;

type Grad = (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => Tensor;

/** WGSL expression over operands `x` and `y`, already of the compute type `t` (WGSL name). */
type Expr = (x: string, y: string, t: string) => string;

interface BinaryDef {
  expr: Expr;
  /** Gradients w.r.t. a and b (a, b, out are the saved operands and output). */
  da?: Grad;
  db?: Grad;
  /** Which of a, b, out the rules need saved. */
  save?: ('a' | 'b' | 'out')[];
  /** Float-only ops promote integer inputs to f32 (torch's true division). */
  float?: boolean;
}

const DEFS: Record<string, BinaryDef> = {
  add: { expr: (x, y) => `${x} + ${y}`, da: (g) => g, db: (g) => g },
  sub: { expr: (x, y) => `${x} - ${y}`, da: (g) => g, db: (g) => neg(g) },
  mul: { expr: (x, y) => `${x} * ${y}`, da: (g, _a, b) => mul(g, b), db: (g, a) => mul(g, a), save: ['a', 'b'] },
  div: {
    expr: (x, y) => `${x} / ${y}`,
    float: true,
    da: (g, _a, b) => div(g, b),
    db: (g, _a, b, out) => neg(div(mul(g, out), b)),
    save: ['b', 'out'],
  },
  pow: {
    expr: (x, y) => `powf(${x}, ${y})`,
    float: true,
    // d/da a^b = b a^(b-1); d/db a^b = a^b ln a (0 where a == 0, as torch)
    da: (g, a, b) => mul(g, mul(b, pow(a, sub(b, 1)))),
    db: (g, a, _b, out) => mul(g, mul(out, unaryOp('logOrZero', a))),
    save: ['a', 'b', 'out'],
  },
  // NaN propagates from either operand, as in torch (WGSL's max/min may drop it: lavapipe does)
  maximum: {
    expr: (x, y, t) => nanFirst(x, y, t, `max(${x}, ${y})`),
    // ties split the gradient evenly, as torch does; both operands get g where either is NaN
    da: (g, a, b) => mul(g, tieMask(a, b)),
    db: (g, a, b) => mul(g, tieMask(b, a)),
    save: ['a', 'b'],
  },
  minimum: {
    expr: (x, y, t) => nanFirst(x, y, t, `min(${x}, ${y})`),
    da: (g, a, b) => mul(g, tieMask(b, a)),
    db: (g, a, b) => mul(g, tieMask(a, b)),
    save: ['a', 'b'],
  },
  // weight of `x` in max(x, y): 1 where x > y or either is NaN (torch masks by x < y, false
  // there), 0.5 on ties, 0 elsewhere
  _tie: { expr: (x, y) => `select(select(0.0, 0.5, ${x} == ${y}), 1.0, ${x} > ${y} || ${isNan(x)} || ${isNan(y)})` },
};

/** `val`, or x where x is NaN, else y where y is NaN (f32 only). */
function nanFirst(x: string, y: string, t: string, val: string): string {
  return t === 'f32' ? `select(select(${val}, ${y}, ${isNan(y)}), ${x}, ${isNan(x)})` : val;
}

const CMP: Record<string, string> = { eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=' };

/**
 * A float comparison with IEEE NaN semantics (torch's): only `ne` is true for a NaN operand.
 * Spelled out because lavapipe gives `!=` false for a NaN and folds `x <= x`, `x >= x` to true.
 */
function floatCompare(op: string, x: string, y: string): string {
  const nan = `${isNan(x)} || ${isNan(y)}`;
  return op === 'ne' ? `${x} != ${y} || ${nan}` : `${x} ${CMP[op]} ${y} && !(${nan})`;
}

// WGSL's pow is undefined for x < 0; torch returns real results for integral exponents.
const POW_HELPER = `fn powf(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (x == 0.0) { var infBits = 0x7f800000u; return select(0.0, bitcast<f32>(infBits), y < 0.0); }
  if (x > 0.0) { return exp2(y * log2(x)); }
  if (floor(y) != y) { var nanBits = 0x7fc00000u; return bitcast<f32>(nanBits); }
  let m = exp2(y * log2(-x));
  return select(m, -m, fract(y * 0.5) != 0.0);
}`;

function wgslType(d: DType): string {
  return d === 'f32' ? 'f32' : d === 'i32' ? 'i32' : 'u32';
}

function toTensorDtype(x: Operand): DType | null {
  return typeof x === 'number' ? null : x.dtype;
}

function computeType(name: string, a: Operand, b: Operand): DType {
  const def = DEFS[name];
  const da = toTensorDtype(a);
  const db = toTensorDtype(b);
  let t: DType;
  if (da && db) t = promote(da, db);
  else {
    const td = (da ?? db)!;
    const num = (typeof a === 'number' ? a : b) as number;
    t = td === 'bool' ? (Number.isInteger(num) ? 'i32' : 'f32') : td !== 'f32' && !Number.isInteger(num) ? 'f32' : td;
  }
  if (def?.float) t = 'f32';
  return t;
}

function asType(t: Tensor, d: DType): Tensor {
  return t.dtype === d || (d === 'u32' && t.dtype === 'bool') ? t : cast(t, d);
}

/** Runs a binary expression with broadcasting; a number operand becomes scalar parameter s0. */
function launch(name: string, expr: Expr, a: Operand, b: Operand, ct: DType, outDtype: DType, helpers?: string): Tensor {
  const w = wgslType(ct);
  const conv = (v: string, from: DType) => (wgslType(from) === w ? v : `${w}(${v})`);
  const scalar = (v: string) => (w === 'f32' ? v : `${w}(${v})`);
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${name}: at least one operand must be a tensor`);
  if (typeof b === 'number') {
    const ta = a as Tensor;
    return runElementwise({ name, expr: expr(conv('a', ta.dtype), scalar('s0'), w), helpers }, [ta], ta.shape, outDtype, [b]);
  }
  if (typeof a === 'number') {
    return runElementwise({ name, expr: expr(scalar('s0'), conv('a', b.dtype), w), helpers }, [b], b.shape, outDtype, [a]);
  }
  const shape = broadcastShapes(name, a.shape, b.shape);
  return runElementwise({ name, expr: expr(conv('a', a.dtype), conv('b', b.dtype), w), helpers }, [a, b], shape, outDtype);
}

export function binaryOp(name: keyof typeof DEFS, a: Operand, b: Operand): Tensor {
  const def = DEFS[name];
  const ct = computeType(name, a, b);
  // Mixed integer/float tensors: integer operands are converted inside the kernel.
  let out = launch(name, def.expr, a, b, ct, ct, name === 'pow' ? POW_HELPER : undefined);
  const ta = typeof a === 'number' ? null : a;
  const tb = typeof b === 'number' ? null : b;
  if (ct !== 'f32' || !def.da) return out;
  const inputs = [ta, tb].filter((t): t is Tensor => t !== null);
  const save = def.save ?? [];
  // Constant scalar operands are materialised only if a rule needs them (rare: pow/div by scalar).
  const saveList: Tensor[] = [];
  const idx = { a: -1, b: -1, out: -1 };
  for (const s of save) {
    const t = s === 'a' ? ta : s === 'b' ? tb : out;
    if (t) {
      idx[s] = saveList.length;
      saveList.push(t);
    }
  }
  const scalarA = typeof a === 'number' ? a : null;
  const scalarB = typeof b === 'number' ? b : null;
  return record(
    out,
    name,
    inputs,
    (g, needs, saved) => {
      // operands a rule did not declare in `save` are never read by it
      const get = (k: 'a' | 'b' | 'out', scalar: number | null) =>
        idx[k] >= 0 ? saved[idx[k]] : scalar !== null && save.includes(k) ? asTensorLike(scalar) : (null as unknown as Tensor);
      const A = get('a', scalarA);
      const B = get('b', scalarB);
      const O = idx.out >= 0 ? saved[idx.out] : (null as unknown as Tensor);
      const res: (Tensor | null)[] = [];
      let i = 0;
      if (ta) res.push(needs[i++] ? sumTo(asType(def.da!(g, A, B, O), 'f32'), ta.shape) : null);
      if (tb) res.push(needs[i++] ? sumTo(asType(def.db!(g, A, B, O), 'f32'), tb.shape) : null);
      return res;
    },
    saveList,
  );
}

// Scalar operands used by backward rules become 0-d constants (filled on the GPU, no upload).
function asTensorLike(v: number | null): Tensor {
  if (v === null) throw new Error('internal: missing saved operand');
  return full([], v);
}

function tieMask(a: Tensor, b: Tensor): Tensor {
  return launch('tie', DEFS._tie.expr, a, b, 'f32', 'f32');
}

export const add = (a: Operand, b: Operand) => binaryOp('add', a, b);
export const sub = (a: Operand, b: Operand) => binaryOp('sub', a, b);
export const mul = (a: Operand, b: Operand) => binaryOp('mul', a, b);
export const div = (a: Operand, b: Operand) => binaryOp('div', a, b);
export const pow = (a: Operand, b: Operand) => binaryOp('pow', a, b);
export const maximum = (a: Operand, b: Operand) => binaryOp('maximum', a, b);
export const minimum = (a: Operand, b: Operand) => binaryOp('minimum', a, b);

function compare(op: keyof typeof CMP, a: Operand, b: Operand): Tensor {
  const ct = typeof a !== 'number' && typeof b !== 'number' ? promote(a.dtype, b.dtype) : computeType('cmp', a, b);
  return launch(op, (x, y, t) => `select(0u, 1u, ${t === 'f32' ? floatCompare(op, x, y) : `${x} ${CMP[op]} ${y}`})`, a, b, ct === 'bool' ? 'u32' : ct, 'bool');
}
export const eq = (a: Operand, b: Operand) => compare('eq', a, b);
export const ne = (a: Operand, b: Operand) => compare('ne', a, b);
export const lt = (a: Operand, b: Operand) => compare('lt', a, b);
export const le = (a: Operand, b: Operand) => compare('le', a, b);
export const gt = (a: Operand, b: Operand) => compare('gt', a, b);
export const ge = (a: Operand, b: Operand) => compare('ge', a, b);

/** torch.where(cond, a, b): a where cond is non-zero, else b; gradients flow by the mask. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const ta = typeof a === 'number' ? full([], a) : a;
  const tb = typeof b === 'number' ? full([], b) : b;
  const ct = promote(ta.dtype, tb.dtype);
  const w = wgslType(ct);
  const shape = broadcastShapes('where', cond.shape, ta.shape, tb.shape);
  const cw = cond.dtype === 'f32' ? 'b != 0.0' : cond.dtype === 'i32' ? 'b != 0' : 'b != 0u';
  // kernel variables: a = ta, b = cond, c = tb
  const out = runElementwise({ name: 'where', expr: `select(${w}(c), ${w}(a), ${cw})` }, [ta, cond, tb], shape, ct);
  if (ct !== 'f32') return out;
  return record(
    out,
    'where',
    [ta, tb],
    (g, needs, [c]) => [needs[0] ? sumTo(where(c, g, 0), ta.shape) : null, needs[1] ? sumTo(where(c, 0, g), tb.shape) : null],
    [cond],
  );
}
