// The nearest-neighbour baseline's memory bank (bench/knn-baseline.ts) is kept in chunks that each
// fit one storage binding (issue 17, item 5: a 300-image bank was one 230 MiB tensor and died in
// cat on lavapipe's 128 MiB). With the binding limit lowered, the chunked bank must give the
// distances of the single-tensor bank, and the whole baseline the same scores.
import { suite } from 'uvu';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import * as E from '../../engine/index.ts';
import { FeatureBank, bankChunkRows, knnBaseline } from '../../bench/knn-baseline.ts';
import { createBackbone } from '../../models/registry.ts';
import { makeTmpData, type TmpData } from '../data/tmpdata.ts';

const t = suite('knn baseline memory bank');
let data: TmpData;
t.before(async () => {
  await E.initDevice();
  data = makeTmpData();
});
t.after(() => data.cleanup());

const D = 32,
  P = 16;
// batches of uneven sizes, so that batches straddle chunk boundaries
const SIZES = [24, 17, 30, 8, 20, 1, 31, 27, 24, 32];

/** The distances as the baseline computed them before chunking: one bank tensor, one product. */
function unchunked(batches: E.Tensor[], x: E.Tensor): E.Tensor {
  return E.tidy(() => {
    const memory = E.cat(batches, 0);
    const d2 = E.add(E.sub(E.sum(E.square(x), 1, true), E.mul(E.matmul(x, memory.T), 2)), E.unsqueeze(E.sum(E.square(memory), 1), 0));
    return E.sqrt(E.clamp(E.min(d2, 1), 0, 3e38));
  });
}

t('with the binding limit lowered, the chunked bank gives the single-tensor distances where cat would fail', async () => {
  E.manualSeed(7);
  const batches = E.tidy(() => SIZES.map((n) => E.keep(E.randn([n, D]))));
  const queries = E.tidy(() => [0, 1, 2].map(() => E.keep(E.randn([P, D]))));
  const rows = SIZES.reduce((a, b) => a + b, 0);
  const want = await Promise.all(queries.map(async (q) => E.tidy(() => unchunked(batches, q)).data()));

  const limit = 4096; // 32 rows of 32 floats: 214 rows make 7 chunks
  const prev = E.setBindingLimit(limit);
  try {
    // what the baseline did before: one tensor for the whole bank
    assert.throws(() => E.tidy(() => E.cat(batches, 0)), /^cat: joining 10 tensors along dim 0 .* into f32 \[214, 32\] needs 27392 bytes/);
    const per = bankChunkRows(D, P);
    assert.is(per, 32);
    const bank = new FeatureBank(per);
    for (const b of batches) bank.add(E.clone(b));
    bank.finish();
    assert.equal(
      bank.chunks.map((c) => c.feats.shape[0]),
      [32, 32, 32, 32, 32, 32, 22],
    );
    assert.is(bank.rows, rows);
    for (const [i, q] of queries.entries()) {
      const nn = bank.nearest(q);
      const got = await nn.data();
      nn.dispose();
      // the same bits here; the tolerance keeps the test independent of kernel choices
      for (let j = 0; j < P; j++) assert.ok(Math.abs(got[j] - want[i][j]) <= 1e-5 * Math.max(1, want[i][j]), `query ${i} row ${j}: ${got[j]} vs ${want[i][j]}`);
    }
    bank.dispose();
  } finally {
    E.setBindingLimit(prev);
  }
  [...batches, ...queries].forEach((x) => x.dispose());
});

t('bankChunkRows: a chunk and one image distances each fit; never above the binding limit', () => {
  const limit = E.maxBindingBytes();
  assert.is(bankChunkRows(256, 784, 128 * 2 ** 20), Math.floor((128 * 2 ** 20) / (4 * 784)));
  assert.is(bankChunkRows(256, 100, 128 * 2 ** 20), Math.floor((128 * 2 ** 20) / (4 * 256)));
  assert.is(bankChunkRows(64, 64, limit * 4), Math.floor(limit / (4 * 64)));
  assert.is(bankChunkRows(1 << 20, 16, 1024), 1);
});

t('the baseline scores the same with its bank in many small chunks', async () => {
  const backbone = createBackbone('mobilenet_v1', { random: true, seed: 0 });
  const o = { root: data.root, className: 'button', resize: 64, imagesize: 64, layers: ['conv_pw_5', 'conv_pw_11'], embed: 64 };
  const whole = await knnBaseline(backbone, o);
  // 64 patches x 64 dims per image: 4 KiB chunks hold a quarter of an image (24 chunks)
  const chunked = await knnBaseline(backbone, { ...o, chunkBytes: 4096 });
  assert.is(chunked.imageScores.length, 7);
  for (const [i, s] of whole.imageScores.entries())
    assert.ok(Math.abs(chunked.imageScores[i] - s) <= 1e-5 * Math.max(1, s), `image ${i}: ${chunked.imageScores[i]} vs ${s}`);
  assert.is(chunked.imageAuroc, whole.imageAuroc);
  assert.ok(Math.abs((chunked.pixelAuroc ?? NaN) - (whole.pixelAuroc ?? NaN)) < 1e-6, `${chunked.pixelAuroc} vs ${whole.pixelAuroc}`);
});

t('it reports the metrics of `glass test`: AUROC as computed independently, AP and PRO, and its timings', async () => {
  const backbone = createBackbone('mobilenet_v1', { random: true, seed: 0 });
  const r = await knnBaseline(backbone, { root: data.root, className: 'button', resize: 64, imagesize: 64, layers: ['conv_pw_5', 'conv_pw_11'], embed: 64 });
  assert.is(r.maskRule, 'binary');
  assert.is(r.image_auroc, r.imageAuroc);
  assert.ok(r.pixel_auroc !== null && Math.abs(r.pixel_auroc - (r.pixelAuroc ?? NaN)) < 1e-9, `${r.pixel_auroc} vs ${r.pixelAuroc}`);
  for (const k of ['image_ap', 'pixel_ap', 'pixel_pro'] as const) assert.ok(r[k] !== null && r[k]! >= 0 && r[k]! <= 1, `${k} = ${r[k]}`);
  assert.ok(r.seconds.bank > 0 && r.seconds.test > 0);
  // the reference mask rule changes the ground truth (bilinear masks, only exact 1.0 counts) and so AP
  const ref = await knnBaseline(backbone, {
    root: data.root,
    className: 'button',
    resize: 64,
    imagesize: 48,
    layers: ['conv_pw_5', 'conv_pw_11'],
    embed: 64,
    maskRule: 'reference',
  });
  assert.is(ref.maskRule, 'reference');
  assert.equal(ref.imageScores.length, r.imageScores.length);
});

t('the command line: --help prints the usage, an unknown option is a usage error without a stack trace', () => {
  const script = fileURLToPath(new URL('../../bench/knn-baseline.ts', import.meta.url));
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', timeout: 60_000 });
  const help = run('--help');
  assert.is(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: npx tsx bench\/knn-baseline.ts --data ROOT -d CLASS/);
  const bad = run('--nope');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /knn-baseline: Unknown option '--nope'/);
  assert.not.match(bad.stderr, /\n\s+at /, 'no stack trace');
  const rule = run('--data', '/x', '-d', 'y', '--mask_rule', 'fuzzy');
  assert.is(rule.status, 2);
  assert.match(rule.stderr, /--mask_rule must be one of binary, reference, got 'fuzzy'/);
  const geometry = run('--data', '/x', '-d', 'y', '--geometry', 'tile');
  assert.is(geometry.status, 2);
  assert.match(geometry.stderr, /--geometry must be one of crop, full, got 'tile'/);
  const size = run('--data', '/x', '-d', 'y', '--imagesize', '12.5');
  assert.is(size.status, 2);
  assert.match(size.stderr, /--imagesize must be a positive integer/);
});

t.run();
