// Shared helpers for the models/io tests: fixture paths, temp folders, comparison of loaded
// CpuTensors with the JSON that test/fixtures/gen/models.py wrote from PyTorch, and builders for
// hostile zip/pickle files made at test time (so no multi-gigabyte bomb is ever committed).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as assert from 'uvu/assert';
import type { CpuTensor } from '../../../models/io/types.ts';
import { crc32 } from '../../../models/io/zip.ts';

export const FIX = resolve(new URL('../../fixtures/models', import.meta.url).pathname);

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
      assert.ok(Object.is(got as number, e.dtype === 'float32' ? Math.fround(want) : want), `${what}[${i}]: got ${String(got)}, want ${want}`);
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
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) {
        x[(c * h + i) * w + j] = Math.sin(0.37 * i - 0.23 * j + 1.1 * c) + 0.1 * c;
      }
  return x;
}

/** The MobileNet fixture's 64x64 RGB test image, HWC uint8 (MOBILENET_IMAGE_FORMULA in models.py). */
export function mobilenetTestImage(): Uint8Array {
  const img = new Uint8Array(64 * 64 * 3);
  for (let y = 0; y < 64; y++)
    for (let x = 0; x < 64; x++) {
      const o = (y * 64 + x) * 3;
      img[o] = 4 * x + (y % 4);
      img[o + 1] = 4 * y + (x % 4);
      img[o + 2] = Math.min(255, ((x - 24) ** 2 + (y - 40) ** 2) >> 3);
    }
  return img;
}

export interface ZipMember {
  name: string;
  data: Uint8Array;
  /** Deflate (method 8) instead of storing. */
  deflate?: boolean;
  /** Already-deflated bytes to store as a method-8 member (for streams too big to build with zlib). */
  raw?: Uint8Array;
  /** The uncompressed size the directory claims (defaults to the truth). */
  declaredSize?: number;
}

/** A zip archive built at test time; sizes may lie, so hostile archives stay tiny. */
export function buildZipArchive(members: ZipMember[]): Uint8Array {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let off = 0;
  for (const m of members) {
    const nm = Buffer.from(m.name);
    const body = m.raw ? Buffer.from(m.raw) : m.deflate ? deflateRawSync(m.data) : Buffer.from(m.data);
    const method = m.raw || m.deflate ? 8 : 0;
    const size = m.declaredSize ?? m.data.length;
    const crc = crc32(m.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(size, 22);
    lh.writeUInt16LE(nm.length, 26);
    chunks.push(lh, nm, body);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(size, 24);
    ch.writeUInt16LE(nm.length, 28);
    ch.writeUInt32LE(off, 42);
    central.push(ch, nm);
    off += 30 + nm.length + body.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(members.length, 8);
  eocd.writeUInt16LE(members.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(off, 16);
  return new Uint8Array(Buffer.concat([...chunks, cd, eocd]));
}

/**
 * A raw deflate stream that inflates to `mib` MiB of zeros, built from one sync-flushed 1 MiB
 * segment repeated (its back-references only ever point at zeros, so the copies stay valid):
 * about 1 KB per MiB, without ever holding the inflated bytes.
 */
export function zeroDeflateStream(mib: number): Uint8Array {
  const seg = deflateRawSync(Buffer.alloc(1 << 20), { level: 9, finishFlush: zlibConstants.Z_SYNC_FLUSH });
  const out = Buffer.alloc(seg.length * mib + 2);
  for (let i = 0; i < mib; i++) seg.copy(out, i * seg.length);
  out[seg.length * mib] = 0x03; // final, empty, fixed-Huffman block
  return new Uint8Array(out);
}

/** Protocol-2 pickle pieces for hand-assembling torch state dicts. */
export const pk = {
  proto: [0x80, 2],
  str(s: string): number[] {
    const b = Buffer.from(s, 'utf8');
    return [0x58, b.length & 255, (b.length >> 8) & 255, (b.length >> 16) & 255, b.length >>> 24, ...b];
  },
  int(n: number): number[] {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    return [0x4a, ...b];
  },
  global(module: string, name: string): number[] {
    return [0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1')];
  },
  tuple(items: number[][]): number[] {
    return [0x28, ...items.flat(), 0x74];
  },
  /** _rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict()). */
  tensor(storageType: string, key: string, numel: number, offset: number, size: number[], stride: number[]): number[] {
    const storage = [...pk.tuple([pk.str('storage'), pk.global('torch', storageType), pk.str(key), pk.str('cpu'), pk.int(numel)]), 0x51];
    return [
      ...pk.global('torch._utils', '_rebuild_tensor_v2'),
      ...pk.tuple([
        storage,
        pk.int(offset),
        pk.tuple(size.map(pk.int)),
        pk.tuple(stride.map(pk.int)),
        [0x89],
        [...pk.global('collections', 'OrderedDict'), 0x29, 0x52],
      ]),
      0x52,
    ];
  },
  /** {name: value, ...} from already-pickled values, then STOP. */
  dict(entries: [string, number[]][]): Uint8Array {
    return new Uint8Array([...pk.proto, 0x7d, ...entries.flatMap(([k, v]) => [...pk.str(k), ...v, 0x73]), 0x2e]);
  },
};

/** A torch.save-style zip (archive/data.pkl + archive/data/<key>) around a hand-built pickle. */
export function torchZip(pickle: Uint8Array, storages: ZipMember[] = []): Uint8Array {
  return buildZipArchive([
    { name: 'archive/data.pkl', data: pickle },
    { name: 'archive/byteorder', data: Buffer.from('little') },
    ...storages.map((s) => ({ ...s, name: `archive/data/${s.name}` })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
}
