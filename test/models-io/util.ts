// Shared helpers for the models-io tests: fixture paths, temp folders, and comparison of loaded
// CpuTensors with the JSON that test/fixtures/gen/models.py wrote from PyTorch.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as assert from 'uvu/assert';
import type { CpuTensor } from '../../models/io/types.ts';

export const FIX = resolve(new URL('../fixtures/models', import.meta.url).pathname);

export function fixture(name: string): string {
  return join(FIX, name);
}

export function readJson<T = any>(name: string): T {
  return JSON.parse(readFileSync(fixture(name), 'utf8')) as T;
}

export function tempDir(tag: string): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `glass-io-${tag}-`));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Expected {
  dtype: string;
  shape: number[];
  values: (number | string | boolean)[];
  bits?: number[];
}

function num(v: number | string | boolean): number {
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  if (v === 'nan') return NaN;
  return Number(v);
}

/** Exact comparison (values written by PyTorch are exactly representable in the dtype). */
export function assertTensorEquals(t: CpuTensor | undefined, e: Expected, what: string): void {
  assert.ok(t, `${what}: missing`);
  assert.is(t!.dtype, e.dtype, `${what}: dtype`);
  assert.equal(t!.shape, e.shape, `${what}: shape`);
  assert.is(t!.data.length, e.values.length, `${what}: element count`);
  if (e.bits) {
    assert.equal(Array.from(t!.data as Uint16Array), e.bits, `${what}: 16-bit patterns`);
    return;
  }
  for (let i = 0; i < e.values.length; i++) {
    const got = t!.data[i];
    if (e.dtype === 'int64') assert.is(got, BigInt(e.values[i] as string), `${what}[${i}]`);
    else if (e.dtype === 'bool') assert.is(got, e.values[i] ? 1 : 0, `${what}[${i}]`);
    else {
      const want = num(e.values[i]);
      // Object.is keeps -0 apart from 0 and NaN equal to itself.
      assert.ok(Object.is(got as number, e.dtype === 'float32' ? Math.fround(want) : want),
        `${what}[${i}]: got ${String(got)}, want ${want}`);
    }
  }
}

/** |a-b| <= atol + rtol*|b| elementwise. */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, rtol = 1e-6, atol = 1e-7): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const ok = Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]);
    if (!ok) assert.unreachable(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

/** Runs `fn` and returns its error message; fails the test when nothing is thrown. */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  assert.unreachable('expected an error');
  return '';
}

export async function errorOfAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return (err as Error).message;
  }
  assert.unreachable('expected an error');
  return '';
}

/**
 * The tiny ResNet fixtures' input (see INPUT_FORMULA in test/fixtures/gen/models.py), NCHW
 * [1, 3, h, w]: x[0,c,h,w] = float32(sin(0.37*h - 0.23*w + 1.1*c) + 0.1*c).
 */
export function tinyResnetInput(h = 40, w = 40): Float32Array {
  const x = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
    x[(c * h + i) * w + j] = Math.sin(0.37 * i - 0.23 * j + 1.1 * c) + 0.1 * c;
  }
  return x;
}

/** The MobileNet fixture's 64x64 RGB test image, HWC uint8 (MOBILENET_IMAGE_FORMULA in models.py). */
export function mobilenetTestImage(): Uint8Array {
  const img = new Uint8Array(64 * 64 * 3);
  for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) {
    const o = (y * 64 + x) * 3;
    img[o] = 4 * x + (y % 4);
    img[o + 1] = 4 * y + (x % 4);
    img[o + 2] = Math.min(255, ((x - 24) ** 2 + (y - 40) ** 2) >> 3);
  }
  return img;
}
