// Plain CPU tensors as the weight readers hand them over: a dtype tag, a shape and one typed array
// in row-major (C) order. The engine uploads these to the GPU later; nothing here touches WebGPU.
// float16/bfloat16 stay as raw 16-bit patterns (Uint16Array) until someone asks for float32,
// so a reader never loses bits it cannot represent; int64 stays BigInt64Array for the same reason.
import { halfToFloat } from '../../engine/core/dtype.ts';

// one home for the decoder (the engine reads f16 state dicts too); re-exported for the readers
export { halfToFloat };

export type DType = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export type TensorData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface CpuTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Record<DType, number> = {
  float64: 8,
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isCpuTensor(v: unknown): v is CpuTensor {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Partial<CpuTensor>;
  return typeof t.dtype === 'string' && t.dtype in DTYPE_SIZE && Array.isArray(t.shape) && ArrayBuffer.isView(t.data);
}

/** A typed array of `n` elements of `dtype`, copied out of `bytes` (little-endian, any alignment). */
export function typedFromBytes(dtype: DType, bytes: Uint8Array, n: number): TensorData {
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength < n * size) {
    throw new Error(`typedFromBytes: ${dtype} x ${n} needs ${n * size} bytes, got ${bytes.byteLength}`);
  }
  // Copy into a fresh buffer: sources (zip members, shards) are rarely aligned for the view.
  const buf = new ArrayBuffer(n * size);
  new Uint8Array(buf).set(bytes.subarray(0, n * size));
  return viewOf(dtype, buf, 0, n);
}

/** A typed-array view of dtype over `buf` (must be aligned). */
export function viewOf(dtype: DType, buf: ArrayBufferLike, byteOffset: number, n: number): TensorData {
  switch (dtype) {
    case 'float64':
      return new Float64Array(buf, byteOffset, n);
    case 'float32':
      return new Float32Array(buf, byteOffset, n);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf, byteOffset, n);
    case 'int64':
      return new BigInt64Array(buf, byteOffset, n);
    case 'int32':
      return new Int32Array(buf, byteOffset, n);
    case 'int16':
      return new Int16Array(buf, byteOffset, n);
    case 'int8':
      return new Int8Array(buf, byteOffset, n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf, byteOffset, n);
  }
}

/** A zero-filled typed array of `n` elements of `dtype`. */
export function allocTyped(dtype: DType, n: number): TensorData {
  return viewOf(dtype, new ArrayBuffer(n * DTYPE_SIZE[dtype]), 0, n);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bit pattern -> number (it is the top half of a float32). */
export function bfloat16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** number -> IEEE half bit pattern, round to nearest even (for writers that must emit float16). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/**
 * The tensor as float32: float16/bfloat16 decoded, integers and bools converted (int64 must fit in
 * 2^53 or the conversion would silently round, so it throws naming `what`).
 */
export function toFloat32(t: CpuTensor, what = 'tensor'): CpuTensor {
  if (t.dtype === 'float32') return t;
  const n = t.data.length;
  const out = new Float32Array(n);
  const d = t.data;
  if (t.dtype === 'float16') for (let i = 0; i < n; i++) out[i] = halfToFloat((d as Uint16Array)[i]);
  else if (t.dtype === 'bfloat16') for (let i = 0; i < n; i++) out[i] = bfloat16ToFloat((d as Uint16Array)[i]);
  else if (t.dtype === 'int64') {
    const b = d as BigInt64Array;
    for (let i = 0; i < n; i++) {
      if (b[i] > 9007199254740991n || b[i] < -9007199254740991n) {
        throw new Error(`toFloat32: ${what} holds int64 ${b[i]} at index ${i}, beyond 2^53`);
      }
      out[i] = Number(b[i]);
    }
  } else for (let i = 0; i < n; i++) out[i] = Number((d as Float64Array)[i]);
  return { dtype: 'float32', shape: t.shape.slice(), data: out };
}

/** int64 -> int32, refusing values outside the int32 range instead of wrapping them. */
export function int64ToInt32(t: CpuTensor, what = 'tensor'): CpuTensor {
  if (t.dtype !== 'int64') throw new Error(`int64ToInt32: ${what} is ${t.dtype}, not int64`);
  const b = t.data as BigInt64Array;
  const out = new Int32Array(b.length);
  for (let i = 0; i < b.length; i++) {
    if (b[i] > 2147483647n || b[i] < -2147483648n) {
      throw new Error(`int64ToInt32: ${what} holds ${b[i]} at index ${i}, outside the int32 range`);
    }
    out[i] = Number(b[i]);
  }
  return { dtype: 'int32', shape: t.shape.slice(), data: out };
}
