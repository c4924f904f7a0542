// Loads the JSON fixtures written by test/fixtures/gen/{metrics,glass_ref}.py and decodes their
// tensors ({dtype, shape, b64} little-endian) into typed arrays.
import { readFileSync } from 'node:fs';

const root = new URL('../fixtures/', import.meta.url);

export function loadFixture<T = any>(rel: string): T {
  return JSON.parse(readFileSync(new URL(rel, root), 'utf8')) as T;
}

export interface Encoded {
  dtype: 'f32' | 'f64' | 'u8';
  shape: number[];
  b64: string;
}

function bytes(e: Encoded): Buffer {
  return Buffer.from(e.b64, 'base64');
}

function check(e: Encoded, dtype: Encoded['dtype'], size: number): void {
  if (e.dtype !== dtype) throw new Error(`fixture tensor is ${e.dtype}, expected ${dtype}`);
  const n = e.shape.reduce((a, b) => a * b, 1);
  if (n * size !== bytes(e).length) throw new Error(`fixture tensor shape [${e.shape}] does not match ${bytes(e).length} bytes`);
}

export function f32(e: Encoded): Float32Array {
  check(e, 'f32', 4);
  const b = bytes(e);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

export function f64(e: Encoded): Float64Array {
  check(e, 'f64', 8);
  const b = bytes(e);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

export function u8(e: Encoded): Uint8Array {
  check(e, 'u8', 1);
  return new Uint8Array(bytes(e));
}

/** Largest |a - b| / (atol + rtol |b|); <= 1 means within tolerance. Length mismatch throws. */
export function worstRatio(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): { ratio: number; index: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs expected ${b.length}`);
  let ratio = 0,
    index = -1;
  for (let i = 0; i < a.length; i++) {
    const r = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    if (!(r <= ratio)) {
      ratio = r;
      index = i;
    }
  }
  return { ratio, index };
}

/** Distance in float32 units in the last place between two float32 values. */
export function ulps32(a: number, b: number): number {
  const buf = new DataView(new ArrayBuffer(8));
  const key = (v: number) => {
    buf.setFloat32(0, v, true);
    const i = buf.getInt32(0, true);
    return i < 0 ? -2147483648 - i : i;
  };
  return Math.abs(key(a) - key(b));
}
