// Deterministic memory release: scopes, dispose, saved tensors of graphs, and a 1000-step
// training-like loop whose live tensor count and bytes must stay flat.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { liveTensors, collectGarbage } from '../../helpers/memory.ts';

const t = suite('memory');
t.before(async () => {
  await E.initDevice();
});

t('tidy frees everything but the result; keep() survives', () => {
  const before = liveTensors();
  let kept!: E.Tensor;
  const r = E.tidy(() => {
    const a = E.ones([4, 4]);
    const b = E.mul(a, 3);
    kept = E.keep(E.add(b, 1));
    return { out: E.sum(b), list: [E.exp(a)] };
  });
  assert.is(liveTensors(), before + 3);
  r.out.dispose();
  r.list[0].dispose();
  kept.dispose();
  assert.is(liveTensors(), before);
});

t('a graph dropped without backward or scope: the GC safety net disposes its saved tensors and counts them', async () => {
  const x = E.keep(E.tensor([1, 2, 3], { requiresGrad: true }));
  const raw0 = E.memoryStats();
  const net0 = liveTensors();
  // in a function, so nothing on this frame keeps the node reachable
  (() => {
    const y = E.exp(x); // saves its output for backward: one shared handle
    y.dispose();
  })();
  assert.is(E.memoryStats().liveTensors, raw0.liveTensors + 1, 'the saved handle lives while the node may be reached');
  for (let i = 0; i < 20 && E.memoryStats().collectedTensors === raw0.collectedTensors; i++) await collectGarbage();
  const s = E.memoryStats();
  // at least: handles that earlier test files dropped may be collected in the same collection
  assert.ok(s.collectedTensors - raw0.collectedTensors >= 1, 'the saved tensor was released by the collector');
  assert.ok(s.liveTensors <= raw0.liveTensors, 'and is no longer live');
  assert.is(liveTensors(), net0 + 1, 'the helper counts it as still live, so leak checks do not depend on GC timing');
  x.dispose();
});

t('disposing an intermediate does not break a pending backward', async () => {
  const x = E.keep(E.tensor([1, 2, 3], { requiresGrad: true }));
  const y = E.mul(x, x);
  const z = E.sum(E.exp(y));
  y.dispose();
  z.backward();
  const g = await x.grad!.data();
  // dz/dx = exp(x^2) * 2x
  [1, 2, 3].forEach((v, i) => assert.ok(Math.abs(g[i] - Math.exp(v * v) * 2 * v) < 1e-3 * Math.exp(v * v) * 2 * v));
  z.dispose();
  x.dispose();
});

t('backward twice without retainGraph is a clear error; retainGraph allows it', () => {
  const x = E.keep(E.tensor([1, 2], { requiresGrad: true }));
  const y = E.sum(E.mul(x, x));
  y.backward(null, { retainGraph: true });
  y.backward();
  assert.throws(() => y.backward(), /already freed/);
  y.dispose();
  x.dispose();
});

t('graph saved tensors are released by the scope when nothing returned reaches them', () => {
  const w = E.keep(
    E.tensor(
      [
        [0.5, -0.5],
        [0.25, 1],
      ],
      { requiresGrad: true },
    ),
  );
  const base = E.memoryStats();
  const baseTensors = liveTensors();
  E.tidy(() => {
    const h = E.matmul(E.ones([3, 2]), w);
    E.sum(E.sigmoid(h)); // forward only, never backward: saved tensors must not leak
  });
  const after = E.memoryStats();
  assert.is(liveTensors(), baseTensors);
  assert.is(after.liveStorages, base.liveStorages);
  w.dispose();
});

t('1000 training-like steps keep live tensors and bytes flat', async () => {
  E.manualSeed(0);
  const W1 = E.keep(E.mul(E.randn([16, 32]), 0.1).requiresGrad_());
  const W2 = E.keep(E.mul(E.randn([32, 1]), 0.1).requiresGrad_());
  const X = E.keep(E.randn([64, 16]));
  const Y = E.keep(E.gt(E.sum(X, 1, true), 0).to('f32'));
  const step = () =>
    E.tidy(() => {
      const h = E.leakyRelu(E.matmul(X, W1), 0.2);
      const p = E.sigmoid(E.matmul(h, W2));
      const loss = E.mean(E.square(E.sub(p, Y)));
      loss.backward();
      E.noGrad(() => {
        for (const W of [W1, W2]) {
          E.assign(W, E.sub(W, E.mul(W.grad!, 0.5)));
          W.grad!.dispose();
          W.grad = null;
        }
      });
      return loss;
    });
  const first = step();
  const l0 = await first.item();
  first.dispose();
  const s0 = E.memoryStats();
  const tensors0 = liveTensors();
  let last = 0;
  for (let i = 0; i < 1000; i++) {
    const l = step();
    if (i % 250 === 249) last = await l.item();
    l.dispose();
    if (i % 100 === 0) {
      // tensors exactly flat; bytes may only fall (the GC safety net can free handles other
      // tests leaked), and no buffer is allocated after the first step
      const s = E.memoryStats();
      assert.is(liveTensors(), tensors0, `live tensors at step ${i}`);
      assert.ok(s.liveBytes <= s0.liveBytes, `live bytes at step ${i}: ${s.liveBytes} > ${s0.liveBytes}`);
      assert.is(s.poolMisses, s0.poolMisses, `new GPU buffers allocated by step ${i}`);
    }
  }
  await E.sync();
  const s1 = E.memoryStats();
  assert.is(liveTensors(), tensors0);
  assert.ok(s1.liveBytes <= s0.liveBytes);
  assert.is(s1.poolMisses, s0.poolMisses);
  assert.ok(last < l0, `loss went down (${l0} -> ${last})`);
  for (const t of [W1, W2, X, Y]) t.dispose();
});

t('grad() w.r.t. an intermediate leaves the graph above it usable (GLASS GAS pattern)', async () => {
  const w = E.keep(E.tensor([2, 3], { requiresGrad: true }));
  const feats = E.mul(w, 1.5); // like projected features
  const gaus = E.add(feats, 0.1); // non-leaf, like gaussian features
  const loss1 = E.sum(E.square(gaus));
  const [g] = E.grad(loss1, [gaus]);
  assert.equal(
    [...(await g!.data())].map((v) => Math.round(v * 1e4) / 1e4),
    [6.2, 9.2],
  );
  assert.is(w.grad, null, 'grad() does not touch .grad');
  const loss2 = E.sum(E.mul(gaus, 2));
  loss2.backward(); // flows through gaus -> feats -> w
  assert.equal([...(await w.grad!.data())], [3, 3]);
  w.dispose();
});

t.run();
