// safetensors: a file written by hand in Python from the spec, round trips of every dtype, and the
// atomic write (no temp file left behind, the old file intact when a write fails).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeAll, writeFileAtomic } from '../../../models/io/atomic.ts';
import { loadStateDict, readSafetensors, writeSafetensors } from '../../../models/io/files.ts';
import { parseSafetensors, serializeSafetensors } from '../../../models/io/safetensors.ts';
import { floatToHalf, halfToFloat, type CpuTensor } from '../../../models/io/types.ts';
import { assertTensorEquals, errorOf, fixture, readJson, tempDir } from './util.ts';

const test = suite('models/io/safetensors');

function sample(): Map<string, CpuTensor> {
  return new Map<string, CpuTensor>([
    ['w', { dtype: 'float32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, -0, 1e-30]) }],
    ['h', { dtype: 'float16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7c00]) }],
    ['bf', { dtype: 'bfloat16', shape: [1], data: new Uint16Array([0x3f80]) }],
    ['d', { dtype: 'float64', shape: [2], data: new Float64Array([Math.PI, -1e300]) }],
    ['steps', { dtype: 'int64', shape: [], data: new BigInt64Array([-(2n ** 62n)]) }],
    ['i', { dtype: 'int32', shape: [2, 1], data: new Int32Array([-2147483648, 7]) }],
    ['s', { dtype: 'int16', shape: [1], data: new Int16Array([-5]) }],
    ['c', { dtype: 'int8', shape: [2], data: new Int8Array([-128, 127]) }],
    ['u', { dtype: 'uint8', shape: [3], data: new Uint8Array([0, 128, 255]) }],
    ['m', { dtype: 'bool', shape: [2], data: new Uint8Array([1, 0]) }],
    ['empty', { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) }],
  ]);
}

function same(a: Map<string, CpuTensor>, b: Map<string, CpuTensor>): void {
  assert.equal([...b.keys()], [...a.keys()]);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    assert.is(u.dtype, t.dtype, k);
    assert.equal(u.shape, t.shape, k);
    assert.equal(Array.from(u.data as ArrayLike<number>), Array.from(t.data as ArrayLike<number>), k);
  }
}

test('reads a file written from the spec by Python', () => {
  const want = readJson('safetensors_expected.json');
  const { tensors, metadata } = readSafetensors(fixture('tiny.safetensors'));
  assert.equal(metadata, want.metadata);
  assert.equal([...tensors.keys()], Object.keys(want.tensors));
  const names: Record<string, string> = { F32: 'float32', F16: 'float16', I64: 'int64', BOOL: 'bool', U8: 'uint8' };
  for (const [k, e] of Object.entries<any>(want.tensors)) {
    const t = tensors.get(k)!;
    if (e.dtype === 'F16') {
      assert.is(t.dtype, 'float16');
      assert.equal(Array.from(t.data as Uint16Array, halfToFloat), e.values, k);
    } else assertTensorEquals(t, { ...e, dtype: names[e.dtype] }, k);
  }
});

test('round trip of every dtype, 0-d and empty tensors, with metadata', () => {
  const { dir, done } = tempDir('st');
  try {
    const p = join(dir, 'all.safetensors');
    writeSafetensors(p, sample(), { step: '12', note: 'ünïcode' });
    const bytes = readFileSync(p);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.is((8 + n) % 8, 0, 'data starts 8-byte aligned');
    assert.equal(bytes, Buffer.from(serializeSafetensors(sample(), { step: '12', note: 'ünïcode' })));
    const back = readSafetensors(p);
    assert.equal(back.metadata, { step: '12', note: 'ünïcode' });
    same(sample(), back.tensors);
    assert.equal(readdirSync(dir), ['all.safetensors'], 'no temp file left');
  } finally {
    done();
  }
});

test('torch checkpoint -> safetensors -> same tensors', () => {
  const sd = loadStateDict(fixture('basic.pth'));
  const back = parseSafetensors(serializeSafetensors(sd)).tensors;
  same(sd, back);
  const want = readJson('torch_expected.json').basic;
  assertTensorEquals(back.get('t'), want.t, 't');
  assertTensorEquals(back.get('i64'), want.i64, 'i64');
});

test('a failing write leaves the old file intact and no temp file', () => {
  const { dir, done } = tempDir('st-atomic');
  try {
    const p = join(dir, 'ckpt.safetensors');
    writeSafetensors(p, sample());
    const before = readFileSync(p);
    const bad = new Map(sample());
    bad.set('broken', { dtype: 'float32', shape: [4], data: new Float32Array(3) });
    assert.match(
      errorOf(() => writeSafetensors(p, bad)),
      /tensor broken: shape \[4\] has 4 elements, data has 3/,
    );
    assert.equal(readFileSync(p), before);
    assert.equal(readdirSync(dir), ['ckpt.safetensors']);
    // Failure half-way through the bytes (after the temp file has content): same guarantees.
    const msg = errorOf(() =>
      writeFileAtomic(p, (fd) => {
        writeAll(fd, new Uint8Array(1000).fill(7));
        throw new Error('disk full (simulated)');
      }),
    );
    assert.is(msg, 'disk full (simulated)');
    assert.equal(readFileSync(p), before);
    assert.equal(readdirSync(dir), ['ckpt.safetensors']);
    // And a successful rewrite replaces the content.
    writeSafetensors(p, new Map([['x', { dtype: 'float32', shape: [1], data: new Float32Array([5]) }]]));
    assert.equal([...readSafetensors(p).tensors.keys()], ['x']);
    assert.equal(readdirSync(dir), ['ckpt.safetensors']);
  } finally {
    done();
  }
});

test('malformed files are refused with the reason', () => {
  const good = serializeSafetensors(sample());
  const hdr = (obj: unknown, data = new Uint8Array(0)) => {
    const j = Buffer.from(JSON.stringify(obj));
    const b = Buffer.alloc(8 + j.length + data.length);
    b.writeBigUInt64LE(BigInt(j.length));
    j.copy(b, 8);
    b.set(data, 8 + j.length);
    return b;
  };
  assert.match(
    errorOf(() => parseSafetensors(good.subarray(0, 5), 'a')),
    /safetensors: a: truncated: 5 bytes/,
  );
  assert.match(
    errorOf(() => parseSafetensors(good.subarray(0, good.length - 3), 'b')),
    /safetensors: b: truncated: tensor \w+ ends at/,
  );
  assert.match(
    errorOf(() => parseSafetensors(good.subarray(0, 40), 'c')),
    /truncated: header needs \d+ bytes/,
  );
  const huge = Buffer.alloc(16);
  huge.writeBigUInt64LE(1n << 40n);
  assert.match(
    errorOf(() => parseSafetensors(huge, 'd')),
    /header length 1099511627776 is implausible/,
  );
  assert.match(
    errorOf(() => parseSafetensors(Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x}')]), 'e')),
    /header is not valid JSON/,
  );
  assert.match(
    errorOf(() => parseSafetensors(hdr({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), 'f')),
    /tensor a: unsupported dtype "F8_E4M3"/,
  );
  assert.match(
    errorOf(() => parseSafetensors(hdr({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)), 'g')),
    /tensor a: float32\[2\] needs 8 bytes, data_offsets span 4/,
  );
  assert.match(
    errorOf(() => parseSafetensors(hdr({ a: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } }, new Uint8Array(4)), 'h')),
    /hole before tensor a/,
  );
  assert.match(
    errorOf(() =>
      parseSafetensors(
        hdr(
          {
            a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
            b: { dtype: 'U8', shape: [2], data_offsets: [1, 3] },
          },
          new Uint8Array(3),
        ),
        'i',
      ),
    ),
    /tensor b overlaps/,
  );
  assert.match(
    errorOf(() => parseSafetensors(hdr({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(3)), 'j')),
    /2 trailing bytes/,
  );
  assert.match(
    errorOf(() => serializeSafetensors({ x: { dtype: 'complex64' as never, shape: [1], data: new Float32Array(2) } })),
    /tensor x: unsupported dtype complex64/,
  );
});

test('float16 encode/decode on known bit patterns (numpy float16 values)', () => {
  const pairs: [number, number][] = [
    [1, 0x3c00],
    [-2.5, 0xc100],
    [65504, 0x7bff],
    [5.960464477539063e-8, 0x0001],
    [0.1, 0x2e66],
    [-0, 0x8000],
    [Infinity, 0x7c00],
    [1e6, 0x7c00],
    [65520, 0x7c00],
    [2049, 0x6800],
    [2051, 0x6802],
    [6.103515625e-5, 0x0400],
  ];
  for (const [v, bits] of pairs) assert.is(floatToHalf(v), bits, `floatToHalf(${v})`);
  for (const [v, bits] of pairs.slice(0, 8)) {
    if (v !== 0.1 && v !== 1e6) assert.ok(Object.is(halfToFloat(bits), v), `halfToFloat(0x${bits.toString(16)})`);
  }
  assert.is(halfToFloat(0x2e66), 0.0999755859375);
  assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
});

test.run();
