// Matmul variants by name and the autotuner's per-adapter cache: every variant computes the same
// product, tuning picks a variant per shape class, a second call loads the cached table.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../engine/index.ts';
import { setMatmulVariant, setTunedVariants } from '../../engine/ops/matmul.ts';
import { MATMUL_VARIANTS } from '../../engine/wgsl/matmul.ts';
import { assertClose } from '../helpers/oracle.ts';

const t = suite('autotune');
t.before(async () => {
  await E.initDevice();
});

t('every named variant gives the same product', async () => {
  const a = E.randn([37, 24]);
  const b = E.randn([20, 24]);
  setMatmulVariant(null);
  const ref = await E.matmul(a, b.T).data();
  for (const name of Object.keys(MATMUL_VARIANTS)) {
    setMatmulVariant(name);
    assertClose(await E.matmul(a, b.T).data(), ref, 1e-5, 1e-5, name);
  }
  setMatmulVariant(null);
  assert.throws(() => setMatmulVariant('wg3x3'), /unknown variant 'wg3x3'/);
  a.dispose();
  b.dispose();
});

t('tunes per shape class and caches per adapter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glass-tune-'));
  const prev = process.env.GLASS_CACHE_DIR;
  process.env.GLASS_CACHE_DIR = dir;
  try {
    const r = await E.autotune({ force: true, reps: 1, shapes: [{ M: 64, N: 64, K: 64 }, { M: 128, N: 32, K: 16, bT: true }] });
    assert.not.ok(r.fromCache);
    assert.is(Object.keys(r.choices).length, 2);
    for (const v of Object.values(r.choices)) assert.ok(v in MATMUL_VARIANTS);
    assert.ok(existsSync(r.file));
    const again = await E.autotune();
    assert.ok(again.fromCache);
    assert.equal(again.choices, r.choices);
  } finally {
    setTunedVariants({});
    if (prev === undefined) delete process.env.GLASS_CACHE_DIR;
    else process.env.GLASS_CACHE_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
