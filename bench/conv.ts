// Convolution benchmark: GFLOP/s of conv2d forward, input gradient and weight gradient on
// WideResNet50 layer shapes at a 288x288 input (plus ResNet's 3x3 64->64 at 56x56), next to
// tfjs-backend-webgpu's conv2d / Conv2DBackpropInput / Conv2DBackpropFilter on the same Dawn
// device in the same process. Ours is timed with several ops recorded per queue wait (one submit
// and wait costs ~2 ms on lavapipe); the gradients are conv2dInputGrad / conv2dWeightGrad alone.
// Usage: npx tsx bench/conv.ts [--json FILE] [--quick] [--no-peer] [--case SUBSTR]
// On lavapipe, WGT_ENABLE_TOGGLES=disable_robustness (both sides share the device) shows the
// cost of Dawn's bounds clamping on every load.
import * as E from '../engine/index.ts';
import { device } from '../engine/runtime/device.ts';
import {
  adapterLabel,
  conv2dFlops,
  convShape,
  emitResults,
  hostMeta,
  makeRecord,
  measure,
  type BenchRecord,
  type Conv2dSpec,
  type Measurement,
} from './harness.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const noPeer = argv.includes('--no-peer');
const caseFilter = argv.includes('--case') ? argv[argv.indexOf('--case') + 1] : null;
const timing = quick ? { warmup: 1, runs: 3, minTimeMs: 0 } : { warmup: 1, runs: 5, minTimeMs: 600, maxRuns: 20 };
const peerTiming = quick ? { warmup: 1, runs: 2, minTimeMs: 0 } : { warmup: 1, runs: 3, minTimeMs: 0 };

const SHAPES: (Conv2dSpec & { name: string })[] = [
  { name: 'wrn50 layer2 3x3 128 @72', n: 1, cin: 128, h: 72, w: 72, cout: 128, kh: 3, kw: 3, stride: 1, pad: 1 },
  { name: 'wrn50 layer3 1x1 512->256 @36', n: 1, cin: 512, h: 36, w: 36, cout: 256, kh: 1, kw: 1, stride: 1, pad: 0 },
  { name: 'wrn50 layer4 3x3 256 @18', n: 1, cin: 256, h: 18, w: 18, cout: 256, kh: 3, kw: 3, stride: 1, pad: 1 },
  { name: 'resnet 3x3 64 @56', n: 1, cin: 64, h: 56, w: 56, cout: 64, kh: 3, kw: 3, stride: 1, pad: 1 },
];

type Pass = 'fwd' | 'bwd_input' | 'bwd_filter';
const PASSES: Pass[] = ['fwd', 'bwd_input', 'bwd_filter'];

/** Times `step` with enough ops per queue wait that one call lasts ~250 ms. */
async function ours(step: () => void): Promise<Measurement> {
  const call = (n: number) => async () => {
    E.tidy(() => {
      for (let i = 0; i < n; i++) step();
    });
    await E.sync();
  };
  await call(1)(); // compile pipelines, fill the buffer pool
  const t0 = performance.now();
  await call(1)();
  const one = performance.now() - t0;
  const iters = Math.max(1, Math.min(32, Math.round(250 / Math.max(one, 1e-3))));
  return measure(call(iters), { ...timing, warmup: 0, itersPerCall: iters });
}

await E.initDevice();
const info = (device() as unknown as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
const label = adapterLabel(info);
type Peer = typeof import('./peers/tfjs.ts');
let peer: Peer | null = null;
if (!noPeer) {
  try {
    peer = await import('./peers/tfjs.ts');
    await peer.initTfjsPeer({ device: device() });
  } catch (err) {
    console.log(`tfjs peer unavailable: ${(err as Error).message}`);
    peer = null;
  }
}

const records: BenchRecord[] = [];
for (const s of SHAPES) {
  if (caseFilter && !s.name.includes(caseFilter)) continue;
  const opts: E.Conv2dOptions = { stride: s.stride, padding: s.pad };
  const x = E.keep(E.randn([s.n, s.cin, s.h, s.w]));
  const w = E.keep(E.mul(E.randn([s.cout, s.cin, s.kh, s.kw]), 0.05));
  const gy = E.keep(E.noGrad(() => E.conv2d(x, w, null, opts)));
  const flops = conv2dFlops(s);
  for (const pass of PASSES) {
    const step =
      pass === 'fwd'
        ? () => void E.noGrad(() => E.conv2d(x, w, null, opts))
        : pass === 'bwd_input'
          ? () => void E.conv2dInputGrad(x.shape, w, gy, opts)
          : () => void E.conv2dWeightGrad(x, w.shape, gy, opts);
    const m = await ours(step);
    const p = peer ? await peer.tfjsConv2d(s, pass, peerTiming) : null;
    const r = makeRecord({ suite: 'conv', case: `${s.name} ${pass}`, shape: convShape(s), ours: m, flops, peer: p, ...label });
    records.push(r);
    console.error(`  ${r.case}: ${r.gflops?.toFixed(2)} GFLOP/s${p ? `, tfjs ${r.peer?.gflops?.toFixed(2)} (x${r.ratio?.toFixed(1)})` : ''}`);
  }
  for (const t of [x, w, gy]) t.dispose();
}
if (peer) await peer.disposeTfjsPeer();
emitResults(records, argv, { ...hostMeta(), ...label, note: 'conv2d forward, input and weight gradients alone; ratio = tfjs time / ours' });
E.releaseDevice();
