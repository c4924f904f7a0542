// engine/wgsl/common.ts helpers that change results if wrong: udivf (floor division from an f32
// reciprocal plus one correction each way) against exact integer division, over the domain its
// comment promises (quotients < 2^22, a + 2b < 2^32), including the values where the f32
// estimate rounds across an integer.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { dispatch, type Kernel } from '../../../engine/runtime/dispatch.ts';
import { UDIVF, grid1d, main1d, storage } from '../../../engine/wgsl/common.ts';
import { paramStruct } from '../../../engine/wgsl/params.ts';

const CountParams = paramStruct('CountParams', { n: 'u32' });

const t = suite('wgsl helpers');
t.before(async () => {
  await E.initDevice();
});

const udivKernel: Kernel = {
  name: 'test.udivf',
  key: 'test.udivf',
  code: () => `${CountParams.decl}
${storage(1, 'ab', 'u32')}
${storage(2, 'inv', 'f32')}
${storage(3, 'q', 'u32', true)}
${UDIVF}
${main1d()}
  if (gi >= ${CountParams.at.n}) { return; }
  q[gi] = udivf(ab[2u * gi], ab[2u * gi + 1u], inv[gi]);
}`,
};

t('udivf equals floor(a / b) on its domain', async () => {
  const pairs: [number, number][] = [];
  // exact multiples and their neighbours (where truncating the f32 estimate goes wrong)
  for (const b of [1, 2, 3, 7, 9, 28, 196, 384, 784, 1536, 4608, 9216, 65535, 1 << 20])
    for (const q of [0, 1, 2, 5, 383, 1000, 6271, 65536, (1 << 22) - 1])
      for (const d of [-1, 0, 1, b - 1]) {
        const a = q * b + d;
        if (a >= 0 && Math.floor(a / b) < 2 ** 22 && a + 2 * b < 2 ** 32) pairs.push([a, b]);
      }
  // pseudo-random pairs across the domain
  let s = 12345;
  const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 20000; i++) {
    const b = 1 + Math.floor(rnd() ** 3 * 100000);
    const a = Math.floor(rnd() * Math.min(2 ** 22 * b, 2 ** 32 - 2 * b - 1));
    pairs.push([a, b]);
  }
  await E.tidyAsync(async () => {
    const n = pairs.length;
    const ab = E.tensor(Uint32Array.from(pairs.flat()), { shape: [2 * n], dtype: 'u32' });
    const inv = E.tensor(
      Float32Array.from(pairs, ([, b]) => Math.fround(1 / b)),
      { shape: [n] },
    );
    const q = E.Tensor.empty([n], 'u32');
    dispatch(udivKernel, [ab.storage.buffer, inv.storage.buffer, q.storage.buffer], CountParams.pack({ n }), grid1d(n));
    const got = await q.data();
    let bad = 0;
    for (let i = 0; i < n && bad < 5; i++) {
      const [a, b] = pairs[i];
      if (got[i] !== Math.floor(a / b)) {
        bad++;
        assert.unreachable(`udivf(${a}, ${b}) = ${got[i]}, expected ${Math.floor(a / b)}`);
      }
    }
    assert.ok(n > 20000);
  });
});

t.run();
