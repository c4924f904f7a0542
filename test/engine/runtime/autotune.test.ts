// The matmul autotuner's per-adapter cache: tuning picks a variant per shape class, a second call
// loads the cached table (every variant's product is checked in matmul-variants.test.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as E from '../../../engine/index.ts';
import { setTunedVariants } from '../../../engine/ops/matmul.ts';
import { MATMUL_VARIANTS } from '../../../engine/wgsl/matmul.ts';

const t = suite('autotune');
t.before(async () => {
  await E.initDevice();
});

t('tunes per shape class and caches per adapter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glass-tune-'));
  const prev = process.env.WGT_CACHE_DIR;
  process.env.WGT_CACHE_DIR = dir;
  try {
    const r = await E.autotune({
      force: true,
      reps: 1,
      variants: ['wg16x8', 't8x2.wg16x8', 'sg.t32x4.wg16', 'sg.t16x4.wg8'],
      shapes: [
        { M: 64, N: 64, K: 64 },
        { M: 128, N: 32, K: 16, bT: true },
      ],
    });
    assert.not.ok(r.fromCache);
    assert.is(Object.keys(r.choices).length, 2);
    for (const v of Object.values(r.choices)) assert.ok(v in MATMUL_VARIANTS);
    // every variant was timed for every class, and the choice is the fastest of them
    for (const [cls, times] of Object.entries(r.timings!)) {
      assert.equal(Object.keys(times).sort(), ['sg.t16x4.wg8', 'sg.t32x4.wg16', 't8x2.wg16x8', 'wg16x8']);
      assert.ok(
        Object.values(times).every((ms) => ms > 0 && Number.isFinite(ms)),
        JSON.stringify(times),
      );
      assert.is(times[r.choices[cls]], Math.min(...Object.values(times)), cls);
    }
    assert.ok(existsSync(r.file));
    const again = await E.autotune();
    assert.ok(again.fromCache);
    assert.equal(again.choices, r.choices);
  } finally {
    setTunedVariants({});
    if (prev === undefined) delete process.env.WGT_CACHE_DIR;
    else process.env.WGT_CACHE_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
