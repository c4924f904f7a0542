// Checkpoints: the reference's own .pth layout ({discriminator, pre_projection}, written by
// torch.save in test/fixtures/gen/models.py) loads into our heads with exact values, and our
// safetensors checkpoints round-trip weights, BatchNorm statistics, the centre and the
// optimiser state.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../engine/index.ts';
import { Glass, DEFAULT_CONFIG } from '../../glass/glass.ts';
import { saveCheckpoint, loadCheckpoint, readCheckpointSpec } from '../../glass/checkpoint.ts';
import { checkpointBytes, checkpointSpecFromBytes, loadCheckpointBytes } from '../../glass/checkpoint-bytes.ts';
import { loadStateDict } from '../../models/io/files.ts';

const t = suite('glass checkpoints');
t.before(async () => {
  await E.initDevice();
});
const cfg = { ...DEFAULT_CONFIG, layers: ['a', 'b'], pretrainEmbedDimension: 16, targetEmbedDimension: 16, dscHidden: 8 };
const fixture = new URL('../fixtures/models/glass_ckpt.pth', import.meta.url).pathname;

t('a reference .pth checkpoint loads exactly', async () => {
  const g = new Glass(null, cfg);
  loadCheckpoint(g, fixture);
  for (const [prefix, mod] of [
    ['discriminator', g.discriminator],
    ['pre_projection', g.projection!],
  ] as const) {
    const ref = loadStateDict(fixture, { prefix, int64: 'int32' });
    const ours = mod.stateDict();
    assert.equal(Object.keys(ours).sort(), [...ref.keys()].sort(), prefix);
    for (const [k, v] of ref) assert.equal([...(await ours[k].data())], Array.from(v.data as ArrayLike<number>), `${prefix}.${k}`);
  }
  g.dispose();
});

t('safetensors round trip with optimiser state, atomically written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glass-ckpt-'));
  try {
    E.manualSeed(3);
    const a = new Glass(null, cfg);
    a.setCenterFromBatches([{ emb: E.randn([8, 16]), batch: 2 }]);
    const mask = Float32Array.from({ length: 8 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    E.tidy(() => void a.trainIteration(E.randn([8, 16]), E.randn([8, 16]), mask));
    const file = join(dir, 'ck.safetensors');
    await saveCheckpoint(a, file, { epoch: 4 }, true);
    assert.equal(readdirSync(dir), ['ck.safetensors'], 'no temp file left');
    const b = new Glass(null, cfg);
    const r = loadCheckpoint(b, file);
    assert.equal(r.meta, { epoch: 4 });
    assert.ok(r.hasOptimizers);
    const sa = a.discriminator.stateDict();
    const sb = b.discriminator.stateDict();
    for (const k of Object.keys(sa)) assert.equal([...(await sb[k].data())], [...(await sa[k].data())], k);
    assert.equal([...(await b.center!.data())], [...(await a.center!.data())]);
    const oa = a.dscOpt.stateDict();
    const ob = b.dscOpt.stateDict();
    assert.equal(Object.keys(ob.state), Object.keys(oa.state));
    const e0 = oa.state[0].exp_avg as E.Tensor;
    assert.equal([...(await (ob.state[0].exp_avg as E.Tensor).data())], [...(await e0.data())]);
    assert.is(ob.state[0].step, oa.state[0].step);
    assert.throws(() => loadCheckpoint(b, fixture.replace('glass_ckpt.pth', 'tiny.safetensors')), /not a glass-ts checkpoint/);
    a.dispose();
    b.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('checkpoints in memory (a browser app) are the bytes of the files the CLI writes, and load alike', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glass-ckpt-'));
  try {
    E.manualSeed(4);
    const a = new Glass(null, cfg);
    a.setCenterFromBatches([{ emb: E.randn([8, 16]), batch: 2 }]);
    E.tidy(() => void a.trainIteration(E.randn([8, 16]), E.randn([8, 16]), new Float32Array(8).fill(1)));
    const meta = { epoch: 2, model: { backbone: 'resnet18', layers: ['a', 'b'] } };
    const file = join(dir, 'ck.safetensors');
    await saveCheckpoint(a, file, meta, true);
    const bytes = await checkpointBytes(a, meta, true);
    assert.equal(bytes, new Uint8Array(readFileSync(file)));
    assert.equal(checkpointSpecFromBytes(bytes), readCheckpointSpec(file) as unknown);
    const b = new Glass(null, cfg);
    assert.equal(loadCheckpointBytes(b, bytes, 'ck'), { meta, hasOptimizers: true });
    const [sa, sb] = [a.discriminator.stateDict(), b.discriminator.stateDict()];
    for (const k of Object.keys(sa)) assert.equal([...(await sb[k].data())], [...(await sa[k].data())], k);
    // the reference's .pth, by its bytes rather than its extension
    const c = new Glass(null, cfg);
    assert.equal(loadCheckpointBytes(c, new Uint8Array(readFileSync(fixture)), 'glass_ckpt.pth').meta, { source: 'reference .pth' });
    assert.is(checkpointSpecFromBytes(new Uint8Array(readFileSync(fixture))), null);
    for (const g of [a, b, c]) g.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
