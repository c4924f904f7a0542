// The autograd API itself (the per-op rules are checked against torch and by finite differences in
// ops.test.ts): seed gradients, .grad accumulation over backward calls, detach and noGrad cutting
// the graph, grad() with respect to intermediates, Symbol.dispose, the pool's pooled bytes, and
// one pipeline serving many shapes. Expected values are the closed-form derivatives of the inputs.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { liveTensors } from '../../helpers/memory.ts';

const t = suite('autograd API and runtime');
t.before(async () => {
  await E.initDevice();
});

const xs = [0.5, -1.25, 2];
const close = (a: ArrayLike<number>, e: number[], what: string) =>
  e.forEach((v, i) => assert.ok(Math.abs(a[i] - v) <= 1e-5 + 1e-5 * Math.abs(v), `${what}[${i}]: ${a[i]} != ${v}`));

t('backward(seed) scales by the seed; .grad accumulates until zeroed', async () => {
  const x = E.keep(E.tensor(xs, { requiresGrad: true }));
  const seed = [1, -2, 3];
  E.tidy(() => E.mul(E.square(x), 3).backward(E.tensor(seed))); // d/dx 3x^2 = 6x
  close(
    await x.grad!.data(),
    xs.map((v, i) => 6 * v * seed[i]),
    'seeded',
  );
  E.tidy(() => E.sum(E.mul(E.square(x), 3)).backward());
  close(
    await x.grad!.data(),
    xs.map((v, i) => 6 * v * seed[i] + 6 * v),
    'accumulated',
  );
  const opt = new E.optim.SGD([x], { lr: 0.1 });
  opt.zeroGrad();
  assert.is(x.grad, null);
  assert.throws(() => E.tidy(() => E.mul(x, 2).backward()), /scalar|seed|gradient/i);
  x.dispose();
});

t('detach and noGrad cut the graph; grad() reaches intermediates', async () => {
  const x = E.keep(E.tensor(xs, { requiresGrad: true }));
  await E.tidyAsync(async () => {
    // d/dx sum(stop(x) * x) = stop(x) = x, not 2x
    const [g1] = E.grad([E.sum(E.mul(x.detach(), x))], [x]);
    close(await g1!.data(), xs, 'detach');
    const n = E.noGrad(() => E.mul(x, x));
    assert.not.ok(n.requiresGrad);
    // y = x^2 (intermediate), z = sum(sin-free chain y * 4): dz/dy = 4, dz/dx = 8x
    const y = E.square(x);
    const z = E.sum(E.mul(y, 4));
    const [gy, gx] = E.grad([z], [y, x]);
    close(await gy!.data(), [4, 4, 4], 'dz/dy');
    close(
      await gx!.data(),
      xs.map((v) => 8 * v),
      'dz/dx',
    );
  });
  assert.is(x.grad, null, 'grad() must not write .grad');
  x.dispose();
});

t('Symbol.dispose releases a tensor; freed buffers are pooled, not leaked', async () => {
  await E.sync();
  const before = E.memoryStats();
  const tensorsBefore = liveTensors();
  {
    const a = E.zeros([1024, 64]); // 256 KiB
    assert.is(liveTensors(), tensorsBefore + 1);
    a[Symbol.dispose]();
  }
  await E.sync();
  const after = E.memoryStats();
  assert.is(liveTensors(), tensorsBefore);
  // bytes may only fall: the GC safety net can free storage that earlier tests leaked
  assert.ok(after.liveBytes <= before.liveBytes, `live bytes ${after.liveBytes} > ${before.liveBytes}`);
  assert.ok(after.pooledBytes >= before.pooledBytes, `pooled ${after.pooledBytes} < ${before.pooledBytes}`);
  // the same size again is served from the pool
  const hits = E.memoryStats().poolHits;
  E.zeros([1024, 64]).dispose();
  assert.ok(E.memoryStats().poolHits > hits, 'second allocation of the same size should hit the pool');
});

t('one pipeline serves every shape of a kernel; dispatches are batched into few submits', async () => {
  await E.sync();
  const s0 = E.runtimeStats();
  E.tidy(() => E.add(E.ones([5]), 1));
  await E.sync();
  const s1 = E.runtimeStats();
  E.tidy(() => {
    // sizes not divisible by 4, like the first: the vec4 variant is a pipeline of its own
    for (const n of [7, 33, 1001, 4097]) E.add(E.ones([n]), 1);
  });
  await E.sync();
  const s2 = E.runtimeStats();
  assert.is(s2.pipelineMisses, s1.pipelineMisses, 'new shapes must not compile new pipelines');
  assert.ok(s2.dispatches - s1.dispatches >= 8);
  assert.ok(s2.submits - s1.submits <= 2, `${s2.submits - s1.submits} submits for one batch of dispatches`);
  assert.ok(s1.dispatches > s0.dispatches);
});

t.run();
