// Backbones from weights in memory (models/backbones.ts, what a browser app uses): a .pth or
// .safetensors file's bytes give the same state dict as the path-based readers, a TF.js model's
// files by name the same model as its folder, and resnet18 built from safetensors bytes computes
// what the same weights give in memory; wrong inputs are refused by name.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../engine/index.ts';
import { backboneFromBytes, randomBackbone, randomResnetWeights, readResnetWeights, readTfjsModel } from '../../models/backbones.ts';
import { loadStateDict, loadTfjsLayersModel } from '../../models/io/files.ts';
import { serializeSafetensors } from '../../models/io/safetensors.ts';
import type { CpuTensor } from '../../models/io/types.ts';
import { errorOf, fixture } from './io/util.ts';

const t = suite('backbones from bytes');

function sameTensors(a: Map<string, CpuTensor>, b: Map<string, CpuTensor>, what: string): void {
  assert.equal([...a.keys()], [...b.keys()], `${what}: names`);
  for (const [k, v] of a) {
    const w = b.get(k)!;
    assert.is(v.dtype, w.dtype, `${what}: ${k} dtype`);
    assert.equal(v.shape, w.shape, `${what}: ${k} shape`);
    assert.equal(Array.from(v.data as ArrayLike<number>), Array.from(w.data as ArrayLike<number>), `${what}: ${k}`);
  }
}

t('a .pth or .safetensors file in memory gives the state dict the file readers give', () => {
  const path = fixture('tiny_resnet18.pth');
  const fromPath = loadStateDict(path, { int64: 'int32' });
  sameTensors(readResnetWeights(readFileSync(path), 'tiny_resnet18.pth'), fromPath, '.pth');
  sameTensors(readResnetWeights(serializeSafetensors(fromPath)), fromPath, '.safetensors');
  assert.match(
    errorOf(() => readResnetWeights(new Uint8Array([1, 2, 3]), 'junk.bin')),
    /safetensors: junk\.bin: truncated/,
  );
});

t("a TF.js model's files by name give the model its folder gives; a missing shard is reported", () => {
  const dir = fixture('tfjs_tiny');
  const files = new Map(readdirSync(dir).map((n) => [n, new Uint8Array(readFileSync(join(dir, n)))]));
  const fromFolder = loadTfjsLayersModel(dir);
  const fromFiles = readTfjsModel(files, 'tfjs_tiny/model.json');
  sameTensors(fromFiles.weights, fromFolder.weights, 'tfjs');
  assert.equal(
    fromFiles.layers.map((l) => l.name),
    fromFolder.layers.map((l) => l.name),
  );
  assert.equal(fromFiles.missing, fromFolder.missing);
  files.delete('group3-shard1of1');
  assert.ok(readTfjsModel(files).missing.some((m) => /group3-shard1of1 not found/.test(m.reason)));
  assert.match(
    errorOf(() => readTfjsModel(new Map())),
    /no model\.json among the files given/,
  );
});

t('backboneFromBytes refuses unknown names and the wrong kind of weights', () => {
  assert.match(
    errorOf(() => backboneFromBytes('vgg16', new Uint8Array(8))),
    /unknown backbone 'vgg16'/,
  );
  assert.match(
    errorOf(() => backboneFromBytes('mobilenet_v1', new Uint8Array(8))),
    /mobilenet_v1: needs its TF\.js files/,
  );
  assert.match(
    errorOf(() => backboneFromBytes('resnet18', new Map())),
    /resnet18: needs the bytes of one \.pth or \.safetensors file/,
  );
});

t('resnet18 from safetensors bytes computes what the same weights give in memory', async () => {
  await E.initDevice();
  const fromBytes = backboneFromBytes('resnet18', serializeSafetensors(randomResnetWeights('resnet18', 5)), { label: 'r18.safetensors' });
  const direct = randomBackbone('resnet18', 5);
  const x = E.randn([1, 3, 32, 32]);
  const [a, b] = [fromBytes, direct].map((n) => n.forward(x, ['layer1']).get('layer1')!);
  assert.equal([...(await a.data())], [...(await b.data())]);
  for (const v of [x, a, b]) v.dispose();
  fromBytes.dispose();
  direct.dispose();
});

t.run();
