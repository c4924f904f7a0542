// Element types. Every dtype is 4 bytes today; the table leaves room for f16 storage.
// 'bool' is stored as u32 0/1 so masks can be written by plain stores and read by any kernel.
export type DType = 'f32' | 'i32' | 'u32' | 'bool';

export interface DTypeInfo {
  bytes: number;
  /** WGSL scalar type of the storage array. */
  wgsl: 'f32' | 'i32' | 'u32';
  array: Float32ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor;
}

export const DTYPES: Record<DType, DTypeInfo> = {
  f32: { bytes: 4, wgsl: 'f32', array: Float32Array },
  i32: { bytes: 4, wgsl: 'i32', array: Int32Array },
  u32: { bytes: 4, wgsl: 'u32', array: Uint32Array },
  bool: { bytes: 4, wgsl: 'u32', array: Uint32Array },
};

export type TypedArray = Float32Array | Int32Array | Uint32Array;

/** Result dtype of a binary arithmetic op (PyTorch-like promotion on our small set). */
export function promote(a: DType, b: DType): DType {
  if (a === b) return a === 'bool' ? 'i32' : a;
  if (a === 'f32' || b === 'f32') return 'f32';
  if (a === 'i32' || b === 'i32') return 'i32';
  return 'u32';
}

export function isFloat(d: DType): boolean {
  return d === 'f32';
}

/** IEEE half (binary16) bit pattern -> number; exact, handles subnormals, inf and NaN. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
