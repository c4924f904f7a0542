// Resource bombs (issue 17, item 4): tiny weight files built at test time that would make a naive
// reader allocate gigabytes, recurse until the stack overflows or spin for minutes. Each must be
// refused quickly, without the allocation, by an error naming the file and the limit; limits must
// be raisable by option and by environment variable.
import { suite } from 'uvu';
import { withEnv } from '../../helpers/env.ts';
import * as assert from 'uvu/assert';
import { unpickle, type UnpickleOptions } from '../../../models/io/pickle.ts';
import { parseSafetensors, serializeSafetensors } from '../../../models/io/safetensors.ts';
import { loadTfjsLayersModel } from '../../../models/io/files.ts';
import { flattenTensors, readTorch } from '../../../models/io/torch.ts';
import type { CpuTensor } from '../../../models/io/types.ts';
import { ZipArchive } from '../../../models/io/zip.ts';
import { buildZipArchive, errorOf, fixture, pk, torchZip, zeroDeflateStream } from './util.ts';

const test = suite('models/io/bombs');
const ENV = 'GLASS_MAX_WEIGHTS_BYTES';
const none: UnpickleOptions = { findGlobal: () => undefined, label: 'test' };

/** One float32 storage element seen through a view of `size` with all strides 0. */
function expandedPth(size: number[]): Uint8Array {
  const pkl = pk.dict([
    [
      'w',
      pk.tensor(
        'FloatStorage',
        '0',
        1,
        0,
        size,
        size.map(() => 0),
      ),
    ],
  ]);
  return torchZip(pkl, [{ name: '0', data: new Uint8Array(new Float32Array([1.5]).buffer) }]);
}

test('stride-0 view: a sub-kilobyte .pth expanding one float to 1 GiB is refused before allocating', () => {
  const buf = expandedPth([16384, 16384]);
  assert.ok(buf.length < 1024, `${buf.length} bytes`);
  const msg = withEnv(ENV, undefined, () => errorOf(() => readTorch(buf, { label: 'stride0.pth' })));
  assert.match(msg, /^torch: stride0\.pth: w: materialising float32\[16384,16384\] \(1073741824 bytes, an expanded view of 1 storage element\)/);
  assert.match(msg, /over the limit of 1000000000 bytes for one weights file/);
  assert.match(msg, /GLASS_MAX_WEIGHTS_BYTES/);
  // Far past anything allocatable: still the same clear error, not a RangeError from the allocator.
  assert.match(
    errorOf(() => readTorch(expandedPth([1 << 20, 1 << 20]), { label: 'huge.pth' })),
    /^torch: huge\.pth: w: materialising float32\[1048576,1048576\] \(4398046511104 bytes/,
  );
});

test('stride-0 view within the limit still loads, and the limit is raisable by option and env', () => {
  const buf = expandedPth([10, 100]); // 4000 bytes materialised
  const t = (readTorch(buf) as Map<string, CpuTensor>).get('w')!;
  assert.equal(t.shape, [10, 100]);
  assert.ok((t.data as Float32Array).every((v) => v === 1.5));
  assert.match(
    errorOf(() => readTorch(buf, { label: 'x.pth', maxBytes: 3999 })),
    /over the limit of 3999 bytes/,
  );
  assert.is((readTorch(buf, { maxBytes: 4000 }) as Map<string, CpuTensor>).get('w')!.data.length, 1000);
  assert.match(
    withEnv(ENV, '3KB', () => errorOf(() => readTorch(buf, { label: 'x.pth' }))),
    /over the limit of 3000 bytes/,
  );
  assert.is(
    withEnv(ENV, '4KiB', () => (readTorch(buf) as Map<string, CpuTensor>).get('w')!.data.length),
    1000,
  );
  assert.match(
    withEnv(ENV, 'lots', () => errorOf(() => readTorch(buf))),
    /GLASS_MAX_WEIGHTS_BYTES=lots is not a byte count/,
  );
});

test('many tensors viewing one storage count against the total, not each on its own', () => {
  // 8 tensors, each the whole 64 KiB storage: 512 KiB materialised from a 64 KiB file.
  const pkl = pk.dict(Array.from({ length: 8 }, (_, i): [string, number[]] => [`t${i}`, pk.tensor('FloatStorage', '0', 16384, 0, [16384], [1])]));
  const buf = torchZip(pkl, [{ name: '0', data: new Uint8Array(65536) }]);
  assert.is((readTorch(buf, { maxBytes: 8 * 65536 }) as Map<string, unknown>).size, 8);
  const msg = errorOf(() => readTorch(buf, { label: 'shared.pth', maxBytes: 300_000 }));
  assert.match(
    msg,
    /^torch: shared\.pth: t4: materialising float32\[16384\] \(65536 bytes\), and 262144 bytes are already used: over the limit of 300000 bytes/,
  );
});

test('deflate bomb: a 2 MB .pth whose storage inflates to 1.8 GiB is refused without inflating', () => {
  const mib = 1800;
  const buf = torchZip(pk.dict([['w', pk.tensor('FloatStorage', '0', 4, 0, [4], [1])]]), [
    { name: '0', data: new Uint8Array(0), raw: zeroDeflateStream(mib), declaredSize: mib << 20 },
  ]);
  assert.ok(buf.length < 2_000_000, `${buf.length} bytes`);
  const t0 = Date.now();
  const msg = withEnv(ENV, undefined, () => errorOf(() => readTorch(buf, { label: 'bomb.pth' })));
  assert.match(msg, /^zip: bomb\.pth: archive\/data\/0 inflates to 1887436800 bytes: over the limit of 1000000000 bytes for one weights file/);
  assert.match(msg, /GLASS_MAX_WEIGHTS_BYTES/);
  assert.ok(Date.now() - t0 < 1000, 'refused from the directory, not after inflating');
});

test('a member inflating past the size its directory declares stops at the declared size', () => {
  // Declares 1000 bytes, really 64 MiB of zeros: inflation must stop at 1000.
  const zip = buildZipArchive([{ name: 'liar', data: new Uint8Array(1000), raw: zeroDeflateStream(64) }]);
  const msg = errorOf(() => new ZipArchive(zip, 'liar.zip').read('liar'));
  assert.match(msg, /^zip: liar\.zip: liar inflates to more than the 1000 bytes its directory entry declares/);
});

test('inflated members share one budget per archive', () => {
  const zip = buildZipArchive([
    { name: 'a', data: new Uint8Array(600_000), deflate: true },
    { name: 'b', data: new Uint8Array(600_000), deflate: true },
    { name: 'c', data: new Uint8Array(600_000) }, // stored: a view of the file, costs nothing
  ]);
  const z = new ZipArchive(zip, 'two.zip', { maxBytes: 1_000_000 });
  assert.is(z.read('a').length, 600_000);
  assert.is(z.read('c').length, 600_000);
  assert.match(
    errorOf(() => z.read('b')),
    /^zip: two\.zip: b inflates to 600000 bytes, and 600000 bytes are already used: over the limit of 1000000 bytes/,
  );
});

/** [[[...]]] nested `depth` deep, pickled the way CPython does it (inner lists appended last). */
function deepList(depth: number): Uint8Array {
  const out = new Uint8Array(2 + depth + (depth - 1) + 1);
  out.set([0x80, 2]);
  out.fill(0x5d, 2, 2 + depth); // EMPTY_LIST x depth
  out.fill(0x61, 2 + depth, 2 + 2 * depth - 1); // APPEND x (depth - 1)
  out[out.length - 1] = 0x2e;
  return out;
}

test('deeply nested pickle: refused by the unpickler with the file named, not a stack overflow', () => {
  assert.match(
    errorOf(() => unpickle(deepList(100_000), { ...none, label: 'deep.pkl' })),
    /^pickle: deep\.pkl: nesting deeper than 1000 levels/,
  );
  assert.ok(Array.isArray(unpickle(deepList(1000), none)), '1000 levels are fine');
  assert.match(
    errorOf(() => unpickle(deepList(50), { ...none, maxDepth: 49 })),
    /nesting deeper than 49 levels/,
  );
  // The same inside a .pth: the error names the archive member.
  const pkl = deepList(100_000);
  assert.match(
    errorOf(() => readTorch(torchZip(pkl), { label: 'deep.pth' })),
    /^pickle: deep\.pth:archive\/data\.pkl: nesting deeper than 1000 levels/,
  );
});

test('deep nesting built top-down through the memo is caught while materialising', () => {
  // Each level: GET parent, new list, PUT it, APPEND it to the parent, POP the parent. Children are
  // empty when attached, so only a walk over the finished tree sees the depth.
  const depth = 50_000;
  const bytes: number[] = [0x80, 2, 0x7d, ...pk.str('w'), 0x5d, 0x72, 0, 0, 0, 0];
  const u32 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255, n >>> 24];
  for (let i = 1; i < depth; i++) bytes.push(0x6a, ...u32(i - 1), 0x5d, 0x72, ...u32(i), 0x61, 0x30);
  bytes.push(0x73, 0x2e);
  const msg = errorOf(() => readTorch(torchZip(new Uint8Array(bytes)), { label: 'memo-deep.pth' }));
  assert.match(msg, /^torch: memo-deep\.pth: w\.0[.0]*: nested deeper than 1000 levels/);
});

test('a list containing itself, and shared sub-lists doubling per level, are refused by flattenTensors', () => {
  // {'x': L} with L = [L]: ] q0 h0 a
  const cyc = new Uint8Array([0x80, 2, 0x7d, ...pk.str('x'), 0x5d, 0x71, 0, 0x68, 0, 0x61, 0x73, 0x2e]);
  const tree = readTorch(torchZip(cyc), { label: 'cycle.pth' });
  assert.match(
    errorOf(() => flattenTensors(tree, '.', 'cycle.pth')),
    /^torch: cycle\.pth: x\.0: a dict or list containing itself \(a reference cycle\)/,
  );
  // x = (); 22 times x = (x, x): 46 bytes, 4 million paths.
  const laughs = new Uint8Array([0x80, 2, 0x7d, ...pk.str('x'), 0x29, ...Array(22).fill([0x32, 0x86]).flat(), 0x73, 0x2e]);
  const t0 = Date.now();
  const msg = errorOf(() => flattenTensors(readTorch(torchZip(laughs), { label: 'laughs.pth' }), '.', 'laughs.pth'));
  assert.match(msg, /^torch: laughs\.pth: more than 1000000 dicts, lists and tensors/);
  assert.ok(Date.now() - t0 < 1500, `${Date.now() - t0} ms`);
});

test('a huge LONG4 integer decodes in linear time', () => {
  const n = 200_000;
  const b = new Uint8Array(2 + 5 + n + 1);
  b.set([0x80, 2, 0x8b]);
  new DataView(b.buffer).setInt32(3, n, true);
  b.fill(0x11, 7, 7 + n);
  b[7 + n] = 0x2e;
  const t0 = Date.now();
  const v = unpickle(b, none) as bigint;
  assert.ok(Date.now() - t0 < 1000, `${Date.now() - t0} ms`);
  assert.is(v, BigInt('0x' + '11'.repeat(n)));
  // Sign and small values are unchanged: -2 as LONG1, 2^63 as LONG1 (a bigint beyond 2^53).
  assert.is(unpickle(new Uint8Array([0x80, 2, 0x8a, 1, 0xfe, 0x2e]), none), -2);
  assert.is(unpickle(new Uint8Array([0x80, 2, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0x2e]), none), 2n ** 63n);
  assert.is(unpickle(new Uint8Array([0x80, 2, 0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x2e]), none), -(2n ** 63n));
});

test('a huge APPENDS is not a stack overflow', () => {
  const n = 300_000;
  const b = new Uint8Array([0x80, 2, 0x5d, 0x28, ...Array(n).fill(0x4e), 0x65, 0x2e]);
  assert.is((unpickle(b, none) as unknown[]).length, n);
});

test('torch: storage sizes that are not counts are refused by name', () => {
  const pkl = pk.dict([['w', pk.tensor('FloatStorage', '0', -5, 0, [1], [1])]]);
  assert.match(
    errorOf(() => readTorch(torchZip(pkl, [{ name: '0', data: new Uint8Array(4) }]), { label: 'neg.pth' })),
    /torch: neg\.pth.*storage 0 has -5 elements/,
  );
  const neg = pk.dict([['w', pk.tensor('FloatStorage', '0', 1, 0, [-2, 0], [1, 1])]]);
  assert.match(
    errorOf(() => readTorch(torchZip(neg, [{ name: '0', data: new Uint8Array(4) }]), { label: 'negsize.pth' })),
    /torch: negsize\.pth: w: negative size or stride/,
  );
});

test('safetensors: overlapping tensors are refused before any tensor is copied', () => {
  // 256 tensors all claiming the same 256 KiB: 64 MiB of copies before the overlap check ran.
  const data = new Uint8Array(256 << 10);
  const header: Record<string, unknown> = {};
  for (let i = 0; i < 256; i++) header[`t${i}`] = { dtype: 'U8', shape: [data.length], data_offsets: [0, data.length] };
  const j = Buffer.from(JSON.stringify(header));
  const buf = Buffer.alloc(8 + j.length + data.length);
  buf.writeBigUInt64LE(BigInt(j.length));
  j.copy(buf, 8);
  const before = process.memoryUsage().arrayBuffers;
  assert.match(
    errorOf(() => parseSafetensors(buf, 'overlap.safetensors')),
    /tensor t\d+ overlaps/,
  );
  const grew = process.memoryUsage().arrayBuffers - before;
  assert.ok(grew < 16 << 20, `${grew} bytes of array buffers allocated`);
});

test('safetensors: the tensor bytes count against the same limit', () => {
  const file = serializeSafetensors({ w: { dtype: 'float32', shape: [1000], data: new Float32Array(1000) } });
  assert.is(parseSafetensors(file, 'ok', { maxBytes: 4000 }).tensors.get('w')!.data.length, 1000);
  assert.match(
    errorOf(() => parseSafetensors(file, 'big.safetensors', { maxBytes: 3999 })),
    /^safetensors: big\.safetensors: 4000 bytes of tensor data: over the limit of 3999 bytes for one weights file/,
  );
  assert.match(
    withEnv(ENV, '3999', () => errorOf(() => parseSafetensors(file, 'big.safetensors'))),
    /over the limit of 3999 bytes/,
  );
});

test('tfjs: decoded weights count against the limit too', () => {
  assert.is(loadTfjsLayersModel(fixture('tfjs_tiny')).weights.size, 4);
  assert.match(
    errorOf(() => loadTfjsLayersModel(fixture('tfjs_tiny'), { maxBytes: 100 })),
    /^tfjs: \S+model\.json: weight \S+: \d+ values(, and \d+ bytes are already used)?: over the limit of 100 bytes/,
  );
});

test.run();
