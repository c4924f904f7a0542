// Tensor creation: from host data (typed or nested arrays), filled constants, ranges, and seeded
// random numbers from a counter-based Philox4x32-10 generator on the GPU (reproducible for a seed,
// independent of batching, like torch's philox offset scheme). Kernels: wgsl/creation.ts.
import { Tensor } from '../core/tensor.ts';
import { DTYPES, type DType, type TypedArray } from '../core/dtype.ts';
import { dispatch, upload } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { fillKernel, FillParams, arangeKernel, ArangeParams, randomKernel, RandomParams } from '../wgsl/creation.ts';
import { numel, fmt, checkShape, type Shape } from '../core/shape.ts';

type Nested = number | boolean | Nested[];

function flatten(data: Nested, shape: number[], out: number[], depth = 0): void {
  if (Array.isArray(data)) {
    if (shape.length <= depth) shape.push(data.length);
    else if (shape[depth] !== data.length) throw new Error(`tensor: ragged nested array (dim ${depth}: ${data.length} vs ${shape[depth]})`);
    for (const x of data) flatten(x, shape, out, depth + 1);
  } else {
    if (depth !== shape.length) throw new Error('tensor: ragged nested array');
    out.push(typeof data === 'boolean' ? Number(data) : data);
  }
}

export interface TensorOptions {
  dtype?: DType;
  shape?: Shape;
  requiresGrad?: boolean;
}

/** Uploads host data. Nested arrays give their own shape; typed arrays default to 1-D. */
export function tensor(data: Nested | TypedArray | ArrayLike<number>, opts: TensorOptions = {}): Tensor {
  let values: ArrayLike<number>;
  let shape: number[];
  let dtype = opts.dtype;
  if (opts.shape) checkShape('tensor', opts.shape);
  if (ArrayBuffer.isView(data)) {
    values = data as TypedArray;
    shape = opts.shape ? [...opts.shape] : [values.length];
    dtype ??= data instanceof Int32Array ? 'i32' : data instanceof Uint32Array ? 'u32' : 'f32';
  } else if (typeof data === 'number' || typeof data === 'boolean' || Array.isArray(data)) {
    const flat: number[] = [];
    shape = [];
    flatten(data as Nested, shape, flat);
    values = flat;
    if (opts.shape) shape = [...opts.shape];
    dtype ??= typeof data === 'boolean' || (Array.isArray(data) && typeof (data as unknown[]).flat(Infinity)[0] === 'boolean') ? 'bool' : 'f32';
  } else {
    values = data as ArrayLike<number>;
    shape = opts.shape ? [...opts.shape] : [values.length];
    dtype ??= 'f32';
  }
  if (numel(shape) !== values.length) throw new Error(`tensor: ${values.length} values do not fill shape ${fmt(shape)}`);
  const t = Tensor.empty(shape, dtype);
  const Arr = DTYPES[dtype].array;
  const typed = values instanceof Arr ? values : Arr.from(values as ArrayLike<number>);
  if (typed.length) upload(t.storage.buffer, typed);
  if (opts.requiresGrad) t.requiresGrad_();
  return t;
}

/** Overwrites a contiguous tensor's contents from host data (e.g. a new data batch). */
export function write(t: Tensor, data: TypedArray): void {
  if (!t.isContiguous()) throw new Error(`write: destination ${fmt(t.shape)} is not contiguous`);
  if (data.length !== t.size) throw new Error(`write: ${data.length} values for ${fmt(t.shape)} (${t.size} elements)`);
  upload(t.storage.buffer, data, t.offset * 4);
}

export function full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  return fill('full', shape, value, dtype);
}

function fill(op: string, shape: Shape, value: number, dtype: DType): Tensor {
  checkShape(op, shape);
  const t = Tensor.empty(shape, dtype);
  const n = t.size;
  if (n) dispatch(fillKernel(DTYPES[dtype].wgsl), [t.storage.buffer], FillParams.pack({ n, value }), grid1d(n));
  return t;
}
export const zeros = (shape: Shape, dtype: DType = 'f32') => fill('zeros', shape, 0, dtype);
export const ones = (shape: Shape, dtype: DType = 'f32') => fill('ones', shape, 1, dtype);
export const zerosLike = (t: Tensor, dtype?: DType) => full(t.shape, 0, dtype ?? t.dtype);
export const onesLike = (t: Tensor, dtype?: DType) => full(t.shape, 1, dtype ?? t.dtype);
export const fullLike = (t: Tensor, v: number, dtype?: DType) => full(t.shape, v, dtype ?? t.dtype);

/** torch.arange(start, end, step); dtype i32 when all arguments are integers, else f32. */
export function arange(start: number, end?: number, step = 1, dtype?: DType): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (![start, end, step].every(Number.isFinite)) throw new Error(`arange: start, end and step must be finite numbers, got (${start}, ${end}, ${step})`);
  if (step === 0) throw new Error('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  dtype ??= [start, end, step].every(Number.isInteger) ? 'i32' : 'f32';
  const t = Tensor.empty([n], dtype);
  if (n) dispatch(arangeKernel(DTYPES[dtype].wgsl), [t.storage.buffer], ArangeParams.pack({ n, start, step }), grid1d(n));
  return t;
}

// ---- Philox4x32-10 -------------------------------------------------------------------------
let seedLo = 0x2545f491;
let seedHi = 0x9e3779b9;
let counter = 0; // in units of 4 values; advanced by every draw

/** Seeds the GPU generator (torch.manual_seed). */
export function manualSeed(seed: number): void {
  seedLo = seed >>> 0;
  seedHi = Math.floor(seed / 2 ** 32) >>> 0;
  counter = 0;
}

export function generatorState(): { seed: [number, number]; counter: number } {
  return { seed: [seedLo, seedHi], counter };
}
export function setGeneratorState(s: { seed: [number, number]; counter: number }): void {
  [seedLo, seedHi] = s.seed;
  counter = s.counter;
}

function draw(op: string, kind: 'uniform' | 'normal', shape: Shape, a: number, b: number): Tensor {
  checkShape(op, shape);
  const t = Tensor.empty(shape, 'f32');
  const n = t.size;
  const quads = Math.ceil(n / 4);
  if (n) {
    // counter: low word in c.x (+ invocation index), high word in c.y
    const lo = counter % 2 ** 32;
    const hi = Math.floor(counter / 2 ** 32);
    if (lo + quads >= 2 ** 32) counter = (hi + 1) * 2 ** 32; // never wrap inside one draw
    const c = counter;
    const params = RandomParams.pack({ n, counterLo: c % 2 ** 32, seedLo, seedHi, shift: a, scale: b, counterHi: Math.floor(c / 2 ** 32) });
    dispatch(randomKernel(kind), [t.storage.buffer], params, grid1d(quads));
  }
  counter += quads;
  return t;
}

/** Uniform [low, high) (torch.rand / uniform_). */
export const rand = (shape: Shape, low = 0, high = 1) => draw('rand', 'uniform', shape, low, high - low);
/** Normal(mean, std) (torch.randn / normal_). */
export const randn = (shape: Shape, mean = 0, std = 1) => draw('randn', 'normal', shape, mean, std);
