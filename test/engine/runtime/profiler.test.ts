// engine/runtime/profiler.ts: dispatches are attributed to their kernels in both timing modes, the first
// dispatch of a pipeline created during the span is counted apart (lazy drivers compile there),
// the report's counters match what ran, results are unchanged and batching comes back afterwards.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { dispatch, maxBatch, type Kernel } from '../../../engine/runtime/dispatch.ts';
import { paramStruct } from '../../../engine/wgsl/params.ts';

const ScaleParams = paramStruct('ScaleParams', { n: 'u32', scale: 'f32' });
import { deviceInfo, hasFeature } from '../../../engine/runtime/device.ts';

const t = suite('profiler');
t.before(async () => {
  await E.initDevice();
});

let serial = 0;
/**
 * A kernel no earlier dispatch used, writing out[i] = i * scale. Its code carries a number unique
 * to this call where the compiler cannot fold it away (a comment would not reach the driver), so
 * Mesa's on-disk cache cannot hold it either and lavapipe really compiles at the first dispatch.
 */
function freshKernel(name: string): Kernel {
  const unique = (1 << 20) + ((process.pid * 64 + serial++) % (1 << 30));
  return {
    name,
    key: `test.profiler:${name}:${unique}`,
    code: () => `${ScaleParams.decl}
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = ${ScaleParams.at.n};
  if (gid.x < n) { out[gid.x] = f32(gid.x) * ${ScaleParams.at.scale} + select(0.0, 1.0, n == ${unique}u); }
}`,
  };
}

function run(k: Kernel, out: E.Tensor, scale: number, work?: { flops?: number; bytes?: number }): void {
  dispatch(k, [out.storage.buffer], ScaleParams.pack({ n: out.size, scale }), [Math.ceil(out.size / 64)], undefined, work);
}

const modes: ('timestamp-query' | 'cpu-sync')[] = ['timestamp-query', 'cpu-sync'];
for (const mode of modes) {
  t(`${mode}: kernels, first dispatches, counters, results`, async () => {
    if (mode === 'timestamp-query' && !hasFeature('timestamp-query')) {
      console.log('  skip: this adapter has no timestamp-query');
      return;
    }
    const a = freshKernel('test.alpha'),
      b = freshKernel('test.beta');
    const x = E.keep(E.zeros([1000])),
      y = E.keep(E.zeros([1000]));
    await E.sync();
    const batch = maxBatch;
    const p = new E.Profiler({ mode });
    await p.begin();
    // declared work gives a rate over the dispatches after the first (whose huge figure must
    // not count); b declares bytes only
    run(a, x, 2, { flops: 1e15 }); // creates a's pipeline
    run(a, x, 3, { flops: 3e6 });
    run(a, x, 4, { flops: 1e6, bytes: 8000 });
    run(b, y, 5, { bytes: 4000 }); // creates b's pipeline
    const r = await p.end();
    assert.is(maxBatch, batch, 'batch size restored');
    assert.is(r.mode, mode);
    assert.is(r.dispatches, 4);
    assert.is(r.pipelinesCreated, 2);
    assert.ok(r.pipelineCreateMs >= 0);
    const ka = r.kernels.find((k) => k.name === 'test.alpha')!,
      kb = r.kernels.find((k) => k.name === 'test.beta')!;
    assert.equal([ka.calls, ka.firstCalls, kb.calls, kb.firstCalls], [3, 1, 1, 1]);
    for (const k of [ka, kb]) assert.ok(k.firstMs >= 0 && k.firstMs <= k.ms, `${k.name}: first ${k.firstMs} of ${k.ms} ms`);
    // lavapipe compiles at the first dispatch (tens of ms of LLVM even for this kernel)
    if (/llvmpipe/i.test(deviceInfo().description))
      assert.ok(ka.firstMs > 5 * E.steadyMsPerCall(ka), `first ${ka.firstMs} ms vs ${E.steadyMsPerCall(ka)} ms per later call`);
    assert.is(E.steadyMsPerCall(ka), (ka.ms - ka.firstMs) / 2);
    assert.is(E.steadyMsPerCall(kb), kb.ms, 'a kernel with only a first dispatch reports that one');
    const text = E.formatProfile(r);
    assert.match(text, /2 pipelines created \(\d+ ms CPU\); their first dispatches took \d+ ms/);
    assert.equal([ka.flops, ka.bytes, kb.flops, kb.bytes], [4e6, 8000, 0, 0]);
    const ra = E.kernelRate(ka);
    assert.ok(ra && ra.unit === 'GFLOP/s' && Math.abs(ra.value - 4e6 / (ka.ms - ka.firstMs) / 1e6) < 1e-9 * ra.value, JSON.stringify(ra));
    assert.is(E.kernelRate(kb), null, 'no rate without dispatches after the first');
    assert.is(E.kernelRate({ ...kb, calls: 2, ms: kb.ms + 2, bytes: 4e6 })!.unit, 'GB/s');
    assert.match(text, /^test\.alpha\s+3\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+ GFLOP\/s$/m);
    assert.match(text, /^test\.beta\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);
    // the profiled dispatches ran: the last write to x used scale 4
    const xs = await x.data(),
      ys = await y.data();
    assert.equal([xs[0], xs[10], xs[999], ys[7]], [0, 40, 3996, 35]);
    // once created, a pipeline's next profiled dispatch is not a first one
    const p2 = new E.Profiler({ mode });
    await p2.begin();
    run(b, y, 1);
    const r2 = await p2.end();
    assert.is(r2.pipelinesCreated, 0);
    assert.equal(
      r2.kernels.map((k) => [k.name, k.calls, k.firstCalls]),
      [['test.beta', 1, 0]],
    );
    assert.not.match(E.formatProfile(r2), /pipelines created/);
    x.dispose();
    y.dispose();
  });
}
for (const mode of modes) {
  t(`${mode}: by kernel and shape (matmul and conv2d label their dispatches)`, async () => {
    if (mode === 'timestamp-query' && !hasFeature('timestamp-query')) return;
    const a = E.keep(E.randn([24, 16])),
      b = E.keep(E.randn([16, 8])),
      c = E.keep(E.randn([40, 16]));
    const x = E.keep(E.randn([1, 3, 8, 8])),
      w = E.keep(E.randn([4, 3, 3, 3]));
    E.tidy(() => void [E.matmul(a, b), E.matmul(c, b), E.conv2d(x, w, null, { padding: 1 })]);
    await E.sync();
    const p = new E.Profiler({ mode });
    await p.begin();
    E.tidy(() => {
      E.matmul(a, b);
      E.matmul(a, b);
      E.matmul(c, b);
      E.matmul(E.transpose(b, 0, 1), E.transpose(a, 0, 1)); // [8, 16] @ [16, 24], both column-major
      E.conv2d(x, w, null, { padding: 1 });
    });
    const r = await p.end();
    const mm = r.kernels.find((k) => k.name === 'matmul')!;
    const calls = Object.fromEntries(r.byShape.map((k) => [k.name, k.calls]));
    assert.is(calls['matmul 24x16x8 row/col'] ?? calls['matmul 24x16x8 row/row'], 2, JSON.stringify(calls));
    assert.is(calls['matmul 40x16x8 row/col'] ?? calls['matmul 40x16x8 row/row'], 1, JSON.stringify(calls));
    assert.ok(
      Object.keys(calls).some((k) => /^matmul 8x16x24 col\//.test(k)),
      JSON.stringify(calls),
    );
    assert.ok(
      Object.keys(calls).some((k) => /^conv2d\.\w+ 1x3x8x8->4 k3x3 s1x1$/.test(k)),
      JSON.stringify(calls),
    );
    // the shape rows add up to the kernel's row
    const parts = r.byShape.filter((k) => k.name.startsWith('matmul '));
    assert.is(
      parts.reduce((s, k) => s + k.calls, 0),
      mm.calls,
    );
    assert.ok(Math.abs(parts.reduce((s, k) => s + k.ms, 0) - mm.ms) < 1e-6 * Math.max(1, mm.ms));
    assert.match(E.formatProfile(r, 15, { shapes: true }), /^kernel and shape\s+calls/m);
    assert.not.match(E.formatProfile(r), /kernel and shape/);
    for (const t of [a, b, c, x, w]) t.dispose();
  });
}
t('asking for timestamps where the adapter has none is an error', () => {
  if (hasFeature('timestamp-query')) return;
  assert.throws(() => new E.Profiler({ mode: 'timestamp-query' }), /timestamp-query feature/);
});

t.run();
