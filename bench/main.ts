// `npm run bench -- <suite> [--json FILE] [--profile] [--quick] [--full] [--autotune]`
// Suites: matmul, conv, elementwise, reduce, ga, backbone, glass, all. Every case runs our engine
// and, where one exists, the tfjs-backend-webgpu peer on the SAME Dawn device in the same process;
// PyTorch CPU (Debian's python3-torch) is the native reference for matmul/conv when installed.
// Prints a table (ratio = peer time / our time: above 1 we are faster) and writes JSON.
import * as E from '../engine/index.ts';
import { device, deviceInfo, subgroupSize } from '../engine/runtime/device.ts';
import {
  measure,
  makeRecord,
  emitResults,
  hostMeta,
  matmulFlops,
  parseBenchArgs,
  BENCH_USAGE,
  type BenchArgs,
  type BenchRecord,
  type Measurement,
} from './harness.ts';
import { Glass, DEFAULT_CONFIG } from '../glass/glass.ts';
import { gasUpdate } from '../glass/gas.ts';
import { createBackbone } from '../models/registry.ts';
import { SHARED_MOBILENET } from '../glass/cli.ts';
import { existsSync } from 'node:fs';
import { applyEngineEnv } from '../glass/engine-env.ts';

applyEngineEnv();

const argv = process.argv.slice(2);
const SUITE_NAMES = ['matmul', 'conv', 'elementwise', 'reduce', 'ga', 'backbone', 'glass'];
let args: BenchArgs;
try {
  args = parseBenchArgs(argv, SUITE_NAMES);
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
if (args.help) {
  console.log(BENCH_USAGE);
  process.exit(0);
}
const { suite, quick, full, profile } = args;
const timing = quick ? { warmup: 1, runs: 3, minTimeMs: 0 } : { warmup: 1, runs: 5, minTimeMs: 500, maxRuns: 30 };
const records: BenchRecord[] = [];
let label = { adapter: '', driver: '' };

type Peer = typeof import('./peers/tfjs.ts');
let peer: Peer | null = null;
async function tfjs(): Promise<Peer | null> {
  if (peer) return peer;
  try {
    peer = await import('./peers/tfjs.ts');
    await peer.initTfjsPeer({ device: device() });
    return peer;
  } catch (err) {
    console.log(`tfjs peer unavailable: ${(err as Error).message}`);
    return null;
  }
}

/** Times `step` (records dispatches) `iters` times per sync; with --profile prints one call's profile under `label`. */
async function ours(label: string, step: () => void, iters = 1): Promise<Measurement> {
  const call = async () => {
    E.tidy(() => {
      for (let i = 0; i < iters; i++) step();
    });
    await E.sync();
  };
  const m = await measure(call, { ...timing, itersPerCall: iters });
  if (profile) {
    const p = new E.Profiler();
    await p.begin();
    E.tidy(step);
    console.log(`profile of ${label}:\n${E.formatProfile(await p.end(), 10)}`);
  }
  return m;
}

function itersFor(flops: number): number {
  return Math.max(1, Math.min(16, Math.round(2e9 / flops)));
}

async function suiteMatmul(): Promise<void> {
  const t = await tfjs();
  const shapes: [string, number, number, number][] = [
    ...[256, 512, 1024, ...(quick ? [] : [2048]), ...(full ? [4096] : [])].map((n) => [`square ${n}`, n, n, n] as [string, number, number, number]),
    ['GAS fwd (fast) 6272x384 @ 384x256', 6272, 256, 384],
    ['GAS bwd (fast) 6272x256 @ 256x384', 6272, 384, 256],
    ...(full ? [['GLASS paper 10368x1536 @ 1536x1024', 10368, 1024, 1536] as [string, number, number, number]] : []),
  ];
  for (const [name, m, n, k] of shapes) {
    const a = E.keep(E.randn([m, k]));
    const b = E.keep(E.randn([k, n]));
    const f = matmulFlops(m, n, k);
    const o = await ours(`matmul ${name}`, () => void E.matmul(a, b), itersFor(f));
    const p = t ? await t.tfjsMatmul(m, n, k, timing) : null;
    records.push(makeRecord({ suite: 'matmul', case: name, shape: `${m}x${k}x${n}`, ours: o, flops: f, peer: p, ...label }));
    if (name === 'square 1024') {
      // the machine's practical ceiling: PyTorch's sgemm on the CPU
      for (const r of (await torchRef({ op: 'matmul', m, n, k })) ?? [])
        records.push(makeRecord({ suite: 'matmul', case: `${name} vs CPU`, shape: `${m}x${k}x${n}`, ours: o, flops: f, peer: r, ...label }));
    }
    a.dispose();
    b.dispose();
  }
}

async function suiteConv(): Promise<void> {
  const t = await tfjs();
  const specs = [
    { name: '3x3 64->64 @56 (tfjs baseline)', n: 1, cin: 64, h: 56, w: 56, cout: 64, kh: 3, kw: 3, stride: 1, pad: 1 },
    { name: 'WRN50 3x3 128->128 @72', n: 1, cin: 128, h: 72, w: 72, cout: 128, kh: 3, kw: 3, stride: 1, pad: 1 },
    { name: 'WRN50 1x1 512->256 @36', n: 1, cin: 512, h: 36, w: 36, cout: 256, kh: 1, kw: 1, stride: 1, pad: 0 },
    { name: 'WRN50 3x3 256->256 @18', n: 1, cin: 256, h: 18, w: 18, cout: 256, kh: 3, kw: 3, stride: 1, pad: 1 },
  ];
  for (const s of specs) {
    const ho = (s.h + 2 * s.pad - s.kh) / s.stride + 1;
    const wo = (s.w + 2 * s.pad - s.kw) / s.stride + 1;
    const f = 2 * s.n * s.cout * ho * wo * s.cin * s.kh * s.kw;
    const x = E.keep(E.randn([s.n, s.cin, s.h, s.w]));
    const w = E.keep(E.randn([s.cout, s.cin, s.kh, s.kw]));
    const gy = E.keep(E.randn([s.n, s.cout, ho, wo]));
    const shape = `${s.n}x${s.cin}x${s.h}x${s.w} k${s.kh} -> ${s.cout}`;
    const fwd = await ours(`conv ${s.name} fwd`, () => void E.conv2d(x, w, null, { stride: s.stride, padding: s.pad }), itersFor(f));
    records.push(
      makeRecord({ suite: 'conv', case: `${s.name} fwd`, shape, ours: fwd, flops: f, peer: t ? await t.tfjsConv2d(s, 'fwd', timing) : null, ...label }),
    );
    const xg = E.keep(E.detach(x).requiresGrad_());
    const wg = E.keep(E.detach(w).requiresGrad_());
    const bwd = (which: 0 | 1) => () => {
      const y = E.conv2d(xg, wg, null, { stride: s.stride, padding: s.pad });
      E.grad(y, [which === 0 ? xg : wg], { gradOutputs: [gy] });
    };
    const bi = await ours(`conv ${s.name} bwd input (+fwd)`, bwd(0), itersFor(2 * f));
    records.push(
      makeRecord({
        suite: 'conv',
        case: `${s.name} bwd input (+fwd)`,
        shape,
        ours: bi,
        flops: 2 * f,
        peer: t ? await withFwd(t, s, 'bwd_input') : null,
        ...label,
      }),
    );
    const bw = await ours(`conv ${s.name} bwd weight (+fwd)`, bwd(1), itersFor(2 * f));
    records.push(
      makeRecord({
        suite: 'conv',
        case: `${s.name} bwd weight (+fwd)`,
        shape,
        ours: bw,
        flops: 2 * f,
        peer: t ? await withFwd(t, s, 'bwd_filter') : null,
        ...label,
      }),
    );
    for (const z of [x, w, gy, xg, wg]) z.dispose();
  }
}

// Our backward cases include the forward (the graph must be recorded); add tfjs's forward time
// to its gradient kernel so the two sides do the same work.
async function withFwd(t: Peer, s: Parameters<Peer['tfjsConv2d']>[0], pass: 'bwd_input' | 'bwd_filter') {
  const a = await t.tfjsConv2d(s, 'fwd', timing);
  const b = await t.tfjsConv2d(s, pass, timing);
  return { name: b.name, ms_median: a.ms_median + b.ms_median };
}

async function suiteElementwise(): Promise<void> {
  const t = await tfjs();
  for (const n of [1 << 20, 1 << 22]) {
    const a = E.keep(E.randn([n]));
    const b = E.keep(E.randn([n]));
    for (const op of ['add', 'relu'] as const) {
      const bytes = (op === 'add' ? 3 : 2) * n * 4;
      const o = await ours(`elementwise ${op} ${n}`, () => void (op === 'add' ? E.add(a, b) : E.relu(a)), 8);
      const peer = t ? await t.tfjsElementwise(n, op, timing) : null;
      records.push(makeRecord({ suite: 'elementwise', case: op, shape: `${n}`, ours: o, bytes, peer, ...label }));
      if (n === 1 << 22) {
        // the same op with one element per load (the named 'scalar' variant), against the same peer
        E.setElementwiseVariant('scalar');
        const s = await ours(`elementwise ${op} ${n}, scalar kernel`, () => void (op === 'add' ? E.add(a, b) : E.relu(a)), 8);
        E.setElementwiseVariant(null);
        records.push(makeRecord({ suite: 'elementwise', case: `${op}, scalar kernel`, shape: `${n}`, ours: s, bytes, peer, ...label }));
      }
    }
    const bias = E.keep(E.randn([1024]));
    const o = await ours(`elementwise add row-broadcast ${n}`, () => void E.add(E.reshape(a, [-1, 1024]), bias), 8);
    records.push(
      makeRecord({ suite: 'elementwise', case: 'add row-broadcast', shape: `${n / 1024}x1024 + 1024`, ours: o, bytes: 2 * n * 4, peer: null, ...label }),
    );
    for (const z of [a, b, bias]) z.dispose();
  }
}

async function suiteReduce(): Promise<void> {
  const t = await tfjs();
  const x = E.keep(E.randn([4096, 1024]));
  for (const axis of [0, 1]) {
    const bytes = (x.size + x.size / x.shape[axis]) * 4;
    const peer = t ? await t.tfjsReduceSum([4096, 1024], axis, timing) : null;
    // rows (axis 1) in both kernel variants where the device has subgroups, the default marked
    const variants = axis === 1 && subgroupSize() > 0 ? (['serial', 'subgroup'] as const) : [null];
    for (const v of variants) {
      const dflt = E.reduceVariantFor(axis === 1 ? 1 : 1024, x.shape[axis]);
      E.setReduceVariant(v);
      const o = await ours(`reduce sum axis ${axis}${v ? `, ${v} kernel` : ''}`, () => void E.sum(x, axis), 4);
      E.setReduceVariant(null);
      const name = v ? `sum axis ${axis}, ${v} kernel${v === dflt ? ' (default)' : ''}` : `sum axis ${axis}`;
      records.push(makeRecord({ suite: 'reduce', case: name, shape: '4096x1024', ours: o, bytes, peer, ...label }));
    }
  }
  const big = E.keep(E.randn([1 << 22]));
  const o = await ours('reduce sum all', () => void E.sum(big), 4);
  records.push(makeRecord({ suite: 'reduce', case: 'sum all (multi-pass)', shape: `${1 << 22}`, ours: o, bytes: big.size * 4, peer: null, ...label }));
  x.dispose();
  big.dispose();
}

/** The fused GAS update against the same maths composed from separate ops. */
async function suiteGa(): Promise<void> {
  for (const [N, D] of [
    [6272, 384],
    [10368, 1536],
  ] as const) {
    const x = E.keep(E.randn([N, D]));
    const g = E.keep(E.randn([N, D]));
    const c = E.keep(E.randn([N, D]));
    const r = E.keep(E.full([1], 1.5));
    const bytes = 4 * N * D * 4;
    const fused = await ours(`ga fused ${N}x${D}`, () => void gasUpdate(x, { grad: g, anchor: c, radius: r, loFactor: 1, hiFactor: 2 }), 4);
    const composed = await ours(
      `ga composed ${N}x${D}`,
      () => {
        const step = E.add(x, E.mul(E.div(g, E.add(E.norm(g, 1, true), 1e-10)), 0.001));
        const h = E.sub(step, c);
        const n = E.norm(h, 1, true);
        const a = E.clamp(n, 1.5, 3.0);
        void E.add(c, E.mul(E.div(a, E.add(n, 1e-10)), h));
      },
      4,
    );
    records.push(
      makeRecord({
        suite: 'ga',
        case: 'fused ascent+truncation',
        shape: `${N}x${D}`,
        ours: fused,
        bytes,
        peer: { name: 'composed ops', ms_median: composed.medianMs },
        ...label,
      }),
    );
    for (const z of [x, g, c, r]) z.dispose();
  }
}

function mobilenet() {
  return existsSync(SHARED_MOBILENET) ? createBackbone('mobilenet_v1', { weights: SHARED_MOBILENET }) : createBackbone('mobilenet_v1', { random: true });
}

/** PyTorch CPU (1 and 2 threads) on the same cases, or null with the reason printed once. */
async function torchRef(c: import('./peers/cases.ts').PeerCase): Promise<{ name: string; ms_median: number }[] | null> {
  const { torchCpu } = await import('./peers/torch.ts');
  const r = await torchCpu([c], { threads: [1, 2], ...timing });
  if (!r.ok) {
    console.log(`  PyTorch CPU reference skipped: ${r.reason}`);
    return null;
  }
  return r.timings.map((t) => ({ name: t.name, ms_median: t.ms_median }));
}

async function suiteBackbone(): Promise<void> {
  const cases: [string, () => ReturnType<typeof createBackbone>, string[], number][] = [
    ['mobilenet_v1 to conv_pw_11', mobilenet, ['conv_pw_5', 'conv_pw_11'], 288],
    ['wide_resnet50_2 to layer3 (random weights)', () => createBackbone('wideresnet50', { random: true }), ['layer2', 'layer3'], quick ? 160 : 288],
  ];
  for (const [name, make, taps, size] of cases) {
    const bb = make();
    const x = E.keep(E.randn([8, 3, size, size]));
    const m = await ours(`backbone ${name} @${size}`, () => void bb.forward(x, taps), 1);
    const ref = name.startsWith('wide') ? await torchRef({ op: 'backbone', arch: 'wide_resnet50_2', until: 'layer3', batch: 8, size }) : null;
    for (const p of ref ?? [null])
      records.push(makeRecord({ suite: 'backbone', case: `${name} @${size}, batch 8`, shape: `8x3x${size}x${size}`, ours: m, peer: p, ...label }));
    console.log(
      `  ${name}: ${((8 * 1000) / m.medianMs).toFixed(2)} images/s` +
        (ref ? `; ${ref.map((p) => `${p.name} ${((8 * 1000) / p.ms_median).toFixed(2)} images/s`).join(', ')}` : ''),
    );
    x.dispose();
    bb.dispose();
  }
}

/** PyTorch CPU (2 threads) running the same iteration (bench/peers/glass_torch.py), or null. */
async function torchGlass(spec: object): Promise<{ name: string; ms_median: number } | null> {
  const { torchUnavailable, TORCH_PYTHON } = await import('./peers/torch.ts');
  const why = await torchUnavailable();
  if (why) {
    console.log(`  PyTorch CPU reference skipped: ${why}`);
    return null;
  }
  const { spawnSync } = await import('node:child_process');
  const threads = '2';
  const r = spawnSync(TORCH_PYTHON, [new URL('./peers/glass_torch.py', import.meta.url).pathname], {
    input: JSON.stringify(spec),
    env: { ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, MKL_NUM_THREADS: threads },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status !== 0) {
    console.log(`  PyTorch CPU reference failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
    return null;
  }
  const out = JSON.parse(r.stdout) as { ms: number[] };
  const sorted = [...out.ms].sort((a, b) => a - b);
  return { name: `torch-cpu-${threads}t`, ms_median: sorted[sorted.length >> 1] };
}

/** One GLASS training iteration from backbone taps (as the PyTorch reference times it), and inference. */
async function suiteGlass(): Promise<void> {
  // MobileNetV1 taps conv_pw_5 (stride 8, 256 ch) and conv_pw_11 (stride 16, 512 ch)
  const presets: [string, number, number, number][] = [
    ['fast', 224, 384, 256],
    ...(full ? [['paper', 288, 1536, 1024] as [string, number, number, number]] : []),
  ];
  for (const [name, size, D, H] of presets) {
    const glass = new Glass(null, {
      ...DEFAULT_CONFIG,
      layers: ['conv_pw_5', 'conv_pw_11'],
      pretrainEmbedDimension: D,
      targetEmbedDimension: D,
      dscHidden: H,
      svd: 1,
    });
    const taps = [E.keep(E.abs(E.randn([8, 256, size / 8, size / 8]))), E.keep(E.abs(E.randn([8, 512, size / 16, size / 16])))];
    const tapsAug = taps.map((t) => E.keep(E.add(t, E.abs(E.mul(E.randn(t.shape), 0.1)))));
    const emb = E.keep(glass.embedTaps(taps));
    glass.setCenterFromBatches([{ emb, batch: 8 }]);
    const mask = new Float32Array(emb.shape[0]).map((_, i) => (i % 7 === 0 ? 1 : 0));
    const stepOf = (g: Glass) => () => void g.trainIteration(g.embedTaps(taps), g.embedTaps(tapsAug), mask);
    const timeIterations = (g: Glass) =>
      measure(
        async () => {
          E.tidy(stepOf(g));
          await E.sync();
        },
        { warmup: 1, runs: quick ? 1 : 3, minTimeMs: 0 },
      );
    const step = stepOf(glass);
    const it = await timeIterations(glass);
    const peer = await torchGlass({ batch: 8, taps: taps.map((t) => t.shape.slice(1)), P: D, D, H, step: 20, svd: 1, runs: quick ? 1 : 2 });
    records.push(
      makeRecord({ suite: 'glass', case: `${name}: training iteration from taps (batch 8)`, shape: `${size}px D${D} H${H}`, ours: it, peer, ...label }),
    );
    // the same iteration with the ascent written as the reference writes it (on the features):
    // the kernels' own speed against PyTorch, without the hidden-space saving
    const asWritten = new Glass(null, { ...glass.cfg, ascentSpace: 'features' });
    asWritten.setCenterFromBatches([{ emb, batch: 8 }]);
    const itF = await timeIterations(asWritten);
    asWritten.dispose();
    records.push(
      makeRecord({ suite: 'glass', case: `${name}: same, ascent on the features (as written)`, shape: `${size}px D${D} H${H}`, ours: itF, peer, ...label }),
    );
    const inf = await ours(`glass ${name} inference heads`, () => void glass.patchScores(glass.embedTaps(taps), 8), 1);
    records.push(makeRecord({ suite: 'glass', case: `${name}: inference heads (batch 8)`, shape: `${size}px D${D} H${H}`, ours: inf, peer: null, ...label }));
    console.log(
      `  ${name}: ${(it.medianMs / 1000).toFixed(2)} s per training iteration (${(itF.medianMs / 1000).toFixed(2)} s with the ascent on the features)` +
        (peer ? ` (PyTorch CPU 2 threads: ${(peer.ms_median / 1000).toFixed(2)} s)` : '') +
        `, heads ${((8 * 1000) / inf.medianMs).toFixed(1)} images/s`,
    );
    if (profile) {
      const p = new E.Profiler();
      await p.begin();
      E.tidy(step);
      console.log(`profile of glass ${name} training iteration:\n${E.formatProfile(await p.end(), 15, { shapes: true })}`);
    }
    for (const t of [emb, ...taps, ...tapsAug]) t.dispose();
    glass.dispose();
  }
}

const SUITES: Record<string, () => Promise<void>> = {
  matmul: suiteMatmul,
  conv: suiteConv,
  elementwise: suiteElementwise,
  reduce: suiteReduce,
  ga: suiteGa,
  backbone: suiteBackbone,
  glass: suiteGlass,
};

if (Object.keys(SUITES).join() !== SUITE_NAMES.join()) throw new Error('bench: SUITE_NAMES is out of date');
await E.initDevice();
if (args.autotune || process.env.GLASS_AUTOTUNE === '1') {
  const r = await E.autotune({ force: args.autotune });
  console.log(`matmul autotune (${r.fromCache ? 'cached' : 'measured'}, ${r.file}): ${JSON.stringify(r.choices)}`);
}
const info = deviceInfo();
label = { adapter: info.description, driver: `${info.vendor} ${info.architecture}`.trim() };
for (const [name, run] of Object.entries(SUITES)) {
  if (suite !== 'all' && suite !== name) continue;
  console.log(`-- ${name}`);
  await run();
}
if (peer !== null) await (peer as Peer).disposeTfjsPeer();
emitResults(records, argv, { ...hostMeta(), ...label, note: `quick=${quick} full=${full}` });
E.releaseDevice();
