// tfjs WebGPU peer plumbing on a tiny problem (not a benchmark): it runs on a device we hand it,
// syncs, reports sane timings, and cleans up after itself. Skips when Dawn finds no adapter.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { create } from 'webgpu';

const t = suite('bench/peers tfjs');

t('shares a given device, times tiny ops, and removes navigator.gpu on dispose', async () => {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const gpu = create([]);
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) {
    console.log('  skip: no WebGPU adapter (run npm run setup)');
    return;
  }
  const device = await adapter.requestDevice();
  const hadNavigator = 'navigator' in globalThis && (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== undefined;
  const tfjs = await import('../../bench/peers/tfjs.ts');
  try {
    const peer = await tfjs.initTfjsPeer({ gpu, adapter, device });
    assert.ok(peer.sharedDevice);
    assert.is(peer.device, device);
    const fast = { warmup: 1, runs: 2, minTimeMs: 0, itersPerSync: 2 };
    const mm = await tfjs.tfjsMatmul(8, 8, 8, fast);
    assert.is(mm.name, 'tfjs-webgpu');
    assert.is(mm.runs, 2);
    assert.is(mm.itersPerSync, 2);
    assert.ok(mm.ms_median > 0 && mm.ms_min <= mm.ms_median);
    assert.ok(Math.abs((mm.gflops as number) - (2 * 512) / (mm.ms_median * 1e6)) < 1e-12);
    const conv = { n: 1, cin: 2, h: 5, w: 5, cout: 3, kh: 3, kw: 3, stride: 1, pad: 1 };
    for (const pass of ['fwd', 'bwd_input', 'bwd_filter'] as const) {
      const r = await tfjs.tfjsConv2d(conv, pass, fast);
      assert.is(r.op, `conv2d_${pass}`);
    }
    const red = await tfjs.tfjsCase({ op: 'reduce_sum', shape: [4, 8], axis: 1 }, fast);
    assert.is(red.shape, '[4,8] axis 1');
    assert.ok((red.gbps as number) > 0);
  } finally {
    await tfjs.disposeTfjsPeer();
    device.destroy();
  }
  if (!hadNavigator) assert.is((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu, undefined);
});

t.run();
