// Backbones against PyTorch/NumPy fixtures (test/fixtures/gen/models.py): scaled-down
// torchvision ResNets loaded from torch.save files (layer1..layer3 within 1e-4 relative, BN folded
// and unfolded), torchvision's exact key sets and shapes for the real resnet18/resnet50/
// wide_resnet50_2, and MobileNetV1 from ../shared against an independent NumPy implementation.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../engine/index.ts';
import { ResNet, RESNET_CONFIGS, resnetKeys, type ResNetConfig } from '../../models/resnet.ts';
import { MobileNetV1 } from '../../models/mobilenet.ts';
import { createBackbone } from '../../models/registry.ts';
import { loadStateDict, loadTfjsLayersModel } from '../../models/io/files.ts';
import { fixture, readJson, tinyResnetInput, mobilenetTestImage } from './io/util.ts';
import { assertClose } from '../helpers/oracle.ts';
import { sharedPath } from '../helpers/shared.ts';

const t = suite('backbones');
t.before(async () => {
  await E.initDevice();
});

function configOf(c: Record<string, any>): ResNetConfig {
  return {
    block: c.block,
    layers: c.layers,
    planes: c.planes,
    stemWidth: c.stem_width,
    groups: c.groups,
    widthPerGroup: c.width_per_group,
    numClasses: c.num_classes,
    bnEps: c.bn_eps,
  };
}

for (const name of ['tiny_resnet18', 'tiny_resnet50', 'tiny_wide_resnet50_2']) {
  for (const foldBn of [true, false]) {
    t(`${name} (torch.save) layer1..layer3 match torchvision${foldBn ? ', BN folded' : ''}`, async () => {
      const fx = readJson(`${name}.json`);
      const weights = loadStateDict(fixture(fx.weights), { int64: 'int32' });
      const net = new ResNet(name, configOf(fx.config), weights, { foldBn });
      const x = E.tensor(tinyResnetInput(), { shape: fx.input.shape });
      const out = net.forward(x, ['layer1', 'layer2', 'layer3']);
      for (const tap of ['layer1', 'layer2', 'layer3']) {
        const got = out.get(tap)!;
        assert.equal([...got.shape], fx.outputs[tap].shape, `${tap} shape`);
        const exp = Float32Array.from(fx.outputs[tap].values as number[]);
        const scale = Math.max(...exp.map(Math.abs));
        assertClose(await got.data(), exp, 1e-4 * scale, 1e-4, `${name} ${tap}`);
      }
      out.forEach((v) => v.dispose());
      x.dispose();
      net.dispose();
    });
  }
}

t('forward stops after the last requested tap and names unknown taps', async () => {
  const fx = readJson('tiny_resnet50.json');
  const net = new ResNet('tiny', configOf(fx.config), loadStateDict(fixture(fx.weights), { int64: 'int32' }));
  const x = E.tensor(tinyResnetInput(), { shape: fx.input.shape });
  const before = E.runtimeStats().dispatches;
  net.forward(x, ['layer1']).forEach((v) => v.dispose());
  const one = E.runtimeStats().dispatches - before;
  const mid = E.runtimeStats().dispatches;
  net.forward(x, ['layer3']).forEach((v) => v.dispose());
  const three = E.runtimeStats().dispatches - mid;
  assert.ok(three > one, `layer3 needs more dispatches (${three}) than layer1 (${one})`);
  assert.throws(() => net.forward(x, ['layer9']), /unknown tap 'layer9' \(available: layer1, layer2, layer3, layer4\)/);
  x.dispose();
  net.dispose();
});

t('real-size key sets and shapes equal torchvision', () => {
  const fx = readJson('torchvision_keys.json');
  for (const arch of ['resnet18', 'resnet50', 'wide_resnet50_2']) {
    const ours = resnetKeys(RESNET_CONFIGS[arch]).map(([k, s]) => `${k}:${s.join('x')}`);
    const theirs = (fx[arch].keys as [string, number[], string][]).map(([k, s]) => `${k}:${s.join('x')}`);
    assert.equal(ours, theirs, arch);
  }
});

t('wrong or missing weights are clear errors', () => {
  const fx = readJson('tiny_resnet50.json');
  const w = loadStateDict(fixture(fx.weights), { int64: 'int32' });
  w.delete('layer2.0.conv1.weight');
  assert.throws(() => new ResNet('tiny', configOf(fx.config), w), /missing: layer2\.0\.conv1\.weight/);
  assert.throws(() => createBackbone('vgg16'), /unknown backbone 'vgg16'/);
  assert.throws(() => createBackbone('mobilenet_v1', { weights: '/nonexistent' }), /weights folder \/nonexistent not found/);
});

t('MobileNetV1 from ../shared matches the NumPy reference (conv_pw_5, conv_pw_11)', async () => {
  const dir = sharedPath('weights/mobilenet_v1_1.0_224');
  if (!dir) return;
  const fx = readJson('mobilenet_v1_features.json');
  const img = mobilenetTestImage(); // HWC uint8
  const H = fx.image.height;
  const W = fx.image.width;
  const chw = new Float32Array(3 * H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) chw[c * H * W + y * W + x] = img[(y * W + x) * 3 + c] / 127.5 - 1;
  for (const foldBn of [true, false]) {
    const net = new MobileNetV1(loadTfjsLayersModel(dir), { foldBn });
    const x = E.tensor(chw, { shape: [1, 3, H, W] });
    const out = net.forward(x, ['conv_pw_5', 'conv_pw_11']);
    for (const tap of ['conv_pw_5', 'conv_pw_11']) {
      const spec = fx.taps[tap];
      const [, h, w, C] = spec.shape;
      const got = (await out.get(tap)!.data()) as Float32Array;
      assert.equal([...out.get(tap)!.shape], [1, C, h, w]);
      const chans: number[] = spec.channels;
      const exp = Float32Array.from((spec.values as number[][][]).flat(2));
      const sel = new Float32Array(h * w * chans.length);
      for (let yy = 0; yy < h; yy++)
        for (let xx = 0; xx < w; xx++) chans.forEach((c, k) => (sel[(yy * w + xx) * chans.length + k] = got[c * h * w + yy * w + xx]));
      assertClose(sel, exp, 1e-4, 1e-4, `${tap} (fold ${foldBn})`);
      const means = Float32Array.from({ length: C }, (_, c) => got.subarray(c * h * w, (c + 1) * h * w).reduce((a, v) => a + v, 0) / (h * w));
      assertClose(means, Float32Array.from(spec.channel_mean), 1e-4, 1e-4, `${tap} channel means`);
    }
    assert.throws(() => net.forward(x, ['conv_pw_13']), /conv_pw_13\/kernel/);
    out.forEach((v) => v.dispose());
    x.dispose();
    net.dispose();
  }
});

t.run();
