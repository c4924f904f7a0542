// TF.js layers models: the tiny fixture (split shard, missing shard, uint8 and float16
// quantization) and the shared MobileNetV1, whose conv_pw_13/kernel shard is missing.
import { copyFileSync, mkdirSync, readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadTfjsLayersModel } from '../../../models/io/files.ts';
import { getTfjsLayer } from '../../../models/io/tfjs.ts';
import { sharedPath } from '../../helpers/shared.ts';
import { assertClose, errorOf, fixture, readJson, tempDir } from './util.ts';

const test = suite('models/io/tfjs');
const want = readJson('tfjs_tiny_expected.json');

test('tiny model: weights across split shards, dequantized, missing group reported', () => {
  const m = loadTfjsLayersModel(fixture('tfjs_tiny'));
  assert.equal(
    m.layers.map((l) => l.className),
    ['InputLayer', 'Conv2D', 'BatchNormalization', 'GlobalAveragePooling2D', 'Dense'],
  );
  assert.equal(m.inputShape, [null, 8, 8, 2]);
  assert.is(m.kerasVersion, '2.1.4');
  const k = m.weights.get('c1/kernel')!;
  assert.equal(k.shape, [3, 3, 2, 4]);
  assertClose(k.data as Float32Array, want['c1/kernel'], 'c1/kernel', 1e-6);
  assertClose(m.weights.get('c1/bias')!.data as Float32Array, want['c1/bias'], 'c1/bias', 1e-6);
  assertClose(m.weights.get('fc/kernel')!.data as Float32Array, want['fc/kernel'], 'fc/kernel (uint8)', 1e-6);
  assert.equal(Array.from(m.weights.get('fc/bias')!.data as Float32Array), want['fc/bias'], 'fc/bias (float16)');
  assert.equal(
    m.missing.map((x) => x.name),
    want.missing,
  );
  assert.match(m.missing[0].reason, /shard file group2-shard1of1 not found/);
  assert.equal(m.missing[0].shape, [4]);
  assert.is(m.weights.size, 4);
});

test('tiny model: layer configs and wiring for an architecture check', () => {
  const m = loadTfjsLayersModel(join(fixture('tfjs_tiny'), 'model.json'));
  const c1 = getTfjsLayer(m, 'c1');
  assert.equal(c1.config.strides, [2, 2]);
  assert.is(c1.config.padding, 'same');
  assert.is(c1.config.use_bias, true);
  assert.equal(c1.weightNames, ['c1/kernel', 'c1/bias']);
  assert.equal(c1.inbound, ['input_1']);
  const bn = getTfjsLayer(m, 'bn');
  assert.is(bn.config.epsilon, 0.001);
  assert.equal(bn.inbound, ['c1']);
  assert.equal(bn.weightNames, ['bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance']);
  assert.match(
    errorOf(() => getTfjsLayer(m, 'conv9')),
    /no layer conv9 \(have 5: input_1, c1, bn/,
  );
});

test('a short shard reports only the weights it cannot hold', () => {
  const { dir, done } = tempDir('tfjs');
  try {
    const d = join(dir, 'm');
    mkdirSync(d);
    for (const f of readdirSync(fixture('tfjs_tiny'))) copyFileSync(join(fixture('tfjs_tiny'), f), join(d, f));
    truncateSync(join(d, 'group3-shard1of1'), 13);
    const m = loadTfjsLayersModel(d);
    assert.ok(m.weights.has('fc/kernel'), '12-byte uint8 kernel still fits');
    assert.equal(
      m.missing.map((x) => x.name),
      [...want.missing, 'fc/bias'],
    );
    assert.match(m.missing[4].reason, /shard data too short: needs bytes 12\.\.18 of group3-shard1of1 \(13 bytes\)/);
  } finally {
    done();
  }
});

test('missing model.json is an error', () => {
  assert.match(
    errorOf(() => loadTfjsLayersModel(fixture('no_such_model'))),
    /tfjs: .*no_such_model\/model\.json not found/,
  );
});

const mobilenet = sharedPath('weights/mobilenet_v1_1.0_224');
if (mobilenet) {
  test('shared MobileNetV1: all weights but conv_pw_13/kernel, with shapes and layer configs', () => {
    const m = loadTfjsLayersModel(mobilenet);
    assert.equal(
      m.missing.map((x) => x.name),
      ['conv_pw_13/kernel'],
    );
    assert.match(m.missing[0].reason, /group37-shard1of1 not found/);
    assert.is(m.weights.size, m.manifest.length - 1);
    assert.equal(m.weights.get('conv1/kernel')!.shape, [3, 3, 3, 32]);
    assert.equal(m.weights.get('conv_dw_1/depthwise_kernel')!.shape, [3, 3, 32, 1]);
    assert.equal(m.weights.get('conv_pw_12/kernel')!.shape, [1, 1, 512, 1024]);
    assert.equal(m.weights.get('conv_pw_13_bn/moving_variance')!.shape, [1024]);
    assert.equal(m.weights.get('conv_preds/kernel')!.shape, [1, 1, 1024, 1000]);
    assert.equal(m.inputShape, [null, 224, 224, 3]);
    assert.is(m.layers.filter((l) => l.className === 'DepthwiseConv2D').length, 13);
    const conv1 = getTfjsLayer(m, 'conv1');
    assert.equal([conv1.config.strides, conv1.config.padding, conv1.config.use_bias], [[2, 2], 'same', false]);
    assert.is(getTfjsLayer(m, 'conv1_bn').config.epsilon, 0.001);
    assert.is(getTfjsLayer(m, 'conv1_relu').config.activation, 'relu6');
    const strided = m.layers.filter((l) => l.className === 'DepthwiseConv2D' && (l.config.strides as number[])[0] === 2).map((l) => l.name);
    assert.equal(strided, ['conv_dw_2', 'conv_dw_4', 'conv_dw_6', 'conv_dw_12']);
    assert.equal(getTfjsLayer(m, 'conv_pw_5').inbound, ['conv_dw_5_relu']);
    assert.equal(getTfjsLayer(m, 'conv_dw_3').weightNames, ['conv_dw_3/depthwise_kernel']);
  });

  test('shared MobileNetV1: values agree with NumPy reading the same shards', () => {
    const fx = readJson('mobilenet_v1_features.json');
    const m = loadTfjsLayersModel(mobilenet);
    for (const [name, c] of Object.entries<any>(fx.weight_checks)) {
      const t = m.weights.get(name)!;
      assert.equal(t.shape, c.shape, name);
      assert.equal(Array.from(t.data.subarray(0, 3) as Float32Array), c.first, name);
      let s = 0;
      for (const v of t.data as Float32Array) s += v;
      assertClose([s], [c.sum], `${name} sum`, 1e-9, 1e-9);
    }
  });
}

test.run();
