// PyTorch checkpoints: every tensor of the torch.save fixtures (zip and legacy) against the values
// PyTorch wrote, shared-storage views, dtype options, GLASS's nested checkpoint, torchvision-keyed
// tiny ResNets, and the refusals (os.system pickle, whole nn.Module, complex dtype, corruption).
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadStateDict, loadTorch } from '../../../models/io/files.ts';
import { flattenTensors, readTorch } from '../../../models/io/torch.ts';
import { ZipArchive } from '../../../models/io/zip.ts';
import { assertClose, assertTensorEquals, errorOf, fixture, mobilenetTestImage, readJson, tinyResnetInput, type Expected } from './util.ts';

const test = suite('models/io/torch');
const expected = readJson<Record<string, Record<string, Expected>>>('torch_expected.json');

for (const file of ['basic.pth', 'basic_legacy.pth']) {
  test(`${file}: every tensor matches PyTorch`, () => {
    const sd = loadStateDict(fixture(file));
    assert.equal([...sd.keys()], Object.keys(expected.basic));
    for (const [k, e] of Object.entries(expected.basic)) assertTensorEquals(sd.get(k), e, `${file}:${k}`);
  });
}

test('views of one storage are materialised as independent contiguous tensors', () => {
  const sd = loadStateDict(fixture('basic.pth'));
  const base = sd.get('base')!.data as Float32Array;
  const t = sd.get('t')!;
  assert.equal(t.shape, [6, 4]);
  // t = base.view(4, 6).t(): t[i][j] = base[j*6 + i]
  for (let i = 0; i < 6; i++) for (let j = 0; j < 4; j++) assert.is(t.data[i * 4 + j], base[j * 6 + i]);
  assert.ok(t.data.buffer !== base.buffer, 'a copy, not a view that aliases base');
  (t.data as Float32Array)[0] = 999;
  assert.is(base[0], -3, 'writing the view leaves base alone');
});

test('halfToFloat decodes float16 and bfloat16 to float32', () => {
  const sd = loadStateDict(fixture('basic.pth'), { halfToFloat: true });
  for (const k of ['f16', 'bf16']) {
    const t = sd.get(k)!;
    assert.is(t.dtype, 'float32', k);
    const want = expected.basic[k].values.map((v) => (v === 'inf' ? Infinity : Number(v)));
    assert.equal(Array.from(t.data as Float32Array), want.map(Math.fround), k);
  }
  assert.ok(Object.is(sd.get('f16')!.data[4], -0), 'negative zero survives');
  assert.is(sd.get('f32')!.dtype, 'float32');
});

test('int64 conversion: int32/float32 where it fits, an error naming the tensor where not', () => {
  const g = loadStateDict(fixture('glass_ckpt.pth'), { int64: 'int32' });
  const nbt = g.get('discriminator.body.block1.1.num_batches_tracked')!;
  assert.is(nbt.dtype, 'int32');
  assert.ok(nbt.data instanceof Int32Array);
  assert.equal(Array.from(nbt.data as Int32Array), [42]);
  const f = loadStateDict(fixture('glass_ckpt.pth'), { int64: 'float32' });
  assert.is(f.get('discriminator.body.block1.1.num_batches_tracked')!.data[0], 42);
  const msg = errorOf(() => loadStateDict(fixture('basic.pth'), { int64: 'int32' }));
  assert.match(msg, /int64ToInt32: .*basic\.pth: i64 holds 1099511627776 at index 2, outside the int32 range/);
  const msg2 = errorOf(() => loadStateDict(fixture('basic.pth'), { int64: 'float32' }));
  assert.match(msg2, /basic\.pth: i64 holds int64 -4611686018427387904 at index 3, beyond 2\^53/);
});

test('GLASS checkpoint: nested {discriminator, pre_projection} dicts', () => {
  const tree = loadTorch(fixture('glass_ckpt.pth')) as Map<string, Map<string, unknown>>;
  assert.ok(tree instanceof Map);
  assert.equal([...tree.keys()], ['discriminator', 'pre_projection']);
  assert.equal([...tree.get('pre_projection')!.keys()], ['layers.0fc.weight', 'layers.0fc.bias']);
  const flat = flattenTensors(tree);
  assert.equal([...flat.keys()], Object.keys(expected.glass_ckpt));
  for (const [k, e] of Object.entries(expected.glass_ckpt)) assertTensorEquals(flat.get(k), e, k);
  const disc = loadStateDict(fixture('glass_ckpt.pth'), { prefix: 'discriminator' });
  assert.equal(
    [...disc.keys()],
    Object.keys(expected.glass_ckpt)
      .filter((k) => k.startsWith('discriminator.'))
      .map((k) => k.slice(14)),
  );
  assert.equal(disc.get('tail.0.weight')!.shape, [1, 8]);
  assert.match(
    errorOf(() => loadStateDict(fixture('glass_ckpt.pth'), { prefix: 'generator' })),
    /no entry "generator" for prefix generator \(have: discriminator, pre_projection\)/,
  );
});

for (const name of ['tiny_resnet18', 'tiny_resnet50', 'tiny_wide_resnet50_2']) {
  test(`${name}.pth: torchvision key names, shapes and dtypes`, () => {
    const ref = readJson(`${name}.json`);
    const sd = loadStateDict(fixture(`${name}.pth`));
    assert.equal(
      [...sd].map(([k, t]) => [k, t.shape, t.dtype]),
      ref.keys,
    );
  });
}

test('the os.system pickle inside a .pth is refused, naming the global', () => {
  const msg = errorOf(() => loadTorch(fixture('evil.pth')));
  assert.match(msg, /^pickle: .*evil\.pth:evil\/data\.pkl: refusing global posix\.system: not on the allowlist, never executed/);
});

test('a pickled nn.Module is refused with a hint to save the state_dict', () => {
  const msg = errorOf(() => loadTorch(fixture('module.pth')));
  assert.match(msg, /refusing global torch\.nn\.modules\.linear\.Linear/);
  assert.match(msg, /save model\.state_dict\(\)/);
});

test('unsupported dtype (complex64) is named', () => {
  assert.match(
    errorOf(() => loadTorch(fixture('complex.pth'))),
    /torch: .*complex\.pth.*: unsupported dtype: torch\.ComplexFloatStorage \(complex64\)/,
  );
});

test('crafted archives: a view past its storage, a missing storage record', () => {
  assert.match(
    errorOf(() => loadTorch(fixture('badview.pth'))),
    /torch: .*badview\.pth: w: view \(offset 0, size \[10\], stride \[1\]\) exceeds its storage of 4 elements/,
  );
  assert.match(
    errorOf(() => loadTorch(fixture('nostorage.pth'))),
    /storage member nostorage\/data\/0 is missing/,
  );
});

test('tiny ResNet fixtures use the real torchvision key layout', () => {
  const real = readJson('torchvision_keys.json');
  const pairs: [string, string][] = [
    ['tiny_resnet18', 'resnet18'],
    ['tiny_resnet50', 'resnet50'],
    ['tiny_wide_resnet50_2', 'wide_resnet50_2'],
  ];
  for (const [tiny, arch] of pairs) {
    const realKeys = new Map<string, number[]>(real[arch].keys.map((k: [string, number[]]) => [k[0], k[1]]));
    for (const [k, shape] of readJson(`${tiny}.json`).keys as [string, number[]][]) {
      assert.ok(realKeys.has(k), `${tiny}: ${k} is not a ${arch} key`);
      assert.is(shape.length, realKeys.get(k)!.length, `${tiny}: rank of ${k}`);
    }
  }
  assert.is(real.wide_resnet50_2.keys.length, 320);
  assert.is(real.wide_resnet50_2.num_params, 68883240);
  assert.equal(real.wide_resnet50_2.keys.find((k: [string]) => k[0] === 'layer1.0.conv2.weight')[1], [128, 128, 3, 3]);
});

test('fixture inputs can be rebuilt in TypeScript from their documented formulas', () => {
  for (const name of ['tiny_resnet18', 'tiny_resnet50', 'tiny_wide_resnet50_2']) {
    const inp = readJson(`${name}.json`).input;
    assert.equal(inp.shape, [1, 3, 40, 40]);
    const x = tinyResnetInput(40, 40);
    assert.equal(Array.from(x.subarray(0, 5)), inp.first, name);
    let s = 0;
    for (const v of x) s += v;
    assertClose([s], [inp.sum], `${name} input sum`, 1e-12, 1e-9);
  }
  const img = readJson('mobilenet_v1_features.json').image;
  const px = mobilenetTestImage();
  assert.equal(Array.from(px.subarray(0, 9)), img.first_pixels);
  assert.is(
    px.reduce((a, b) => a + b, 0),
    img.sum,
  );
});

test('wrong magic, truncation and corruption', () => {
  assert.match(
    errorOf(() => readTorch(new TextEncoder().encode('{"not": "torch"}'), { label: 'x.json' })),
    /torch: x\.json: not a PyTorch checkpoint: wrong magic \(starts with 7b 22 6e 6f/,
  );
  const zip = readFileSync(fixture('basic.pth'));
  assert.match(
    errorOf(() => readTorch(zip.subarray(0, zip.length - 100), { label: 'cut.pth' })),
    /zip: cut\.pth: truncated/,
  );
  const legacy = readFileSync(fixture('basic_legacy.pth'));
  assert.match(
    errorOf(() => readTorch(legacy.subarray(0, legacy.length - 2), { label: 'cut_legacy.pth' })),
    /torch: cut_legacy\.pth: truncated: storage \S+ needs \d+ bytes at \d+, file has \d+/,
  );
  assert.match(
    errorOf(() => readTorch(legacy.subarray(0, 300), { label: 'cut_pickle.pth' })),
    /pickle: cut_pickle\.pth: truncated/,
  );
  // Flip one byte inside the first storage: the zip CRC catches it.
  const bad = Buffer.from(zip);
  const z = new ZipArchive(bad);
  const o = z.get('basic/data/0')!.localHeaderOffset;
  const start = o + 30 + bad.readUInt16LE(o + 26) + bad.readUInt16LE(o + 28);
  bad[start] ^= 1;
  assert.match(
    errorOf(() => readTorch(bad, { label: 'flip.pth' })),
    /zip: flip\.pth: bad CRC for basic\/data\/0/,
  );
});

test.run();
