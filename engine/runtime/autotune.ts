// A small autotuner: times every named matmul variant on representative shapes of each class
// seen in a workload (or a default set), keeps the fastest per shape class, and caches the table
// per adapter in the host's cache (platform.ts; Node: $WGT_CACHE_DIR, default
// ~/.cache/wgt; a browser: localStorage) so later runs load it instantly.
// Opt-in (`await autotune()`, typically behind an application's own switch): tuning costs seconds,
// and defaults are reasonable everywhere.
import { deviceInfo } from './device.ts';
import { host } from './platform.ts';
import { sync } from './dispatch.ts';
import { tidy } from '../core/memory.ts';
import { randn } from '../ops/creation.ts';
import { matmul, setMatmulVariant, setTunedVariants, matmulShapeClass } from '../ops/matmul.ts';
import { MATMUL_VARIANTS } from '../wgsl/matmul.ts';

export interface TuneShape {
  M: number;
  N: number;
  K: number;
  /** Read B transposed (x @ W^T, as Linear does). */
  bT?: boolean;
}

/**
 * A default workload: Linear layers over a few thousand rows of a few hundred features (tall,
 * narrow products, the weight read transposed or not) and square sizes.
 */
export const DEFAULT_TUNE_SHAPES: TuneShape[] = [
  { M: 1024, N: 1024, K: 1024 },
  { M: 6272, N: 256, K: 384, bT: true },
  { M: 6272, N: 384, K: 256 },
  { M: 6272, N: 384, K: 384, bT: true },
  { M: 512, N: 512, K: 512 },
];

/**
 * Added on GPUs: Linear layers over ten thousand rows of 1024-1536 features and 4096^3 (on a CPU
 * adapter each would take minutes across every variant).
 */
export const GPU_TUNE_SHAPES: TuneShape[] = [
  { M: 4096, N: 4096, K: 4096 },
  { M: 10368, N: 1024, K: 1536, bT: true },
  { M: 10368, N: 1536, K: 1024 },
];

function cacheName(): string {
  const i = deviceInfo();
  const key = `${i.vendor}-${i.architecture}-${i.description}`.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120);
  return `matmul-tune-${key}.json`;
}

export interface TuneResult {
  /** Where the table is cached (Node: its file). */
  file: string;
  choices: Record<string, string>;
  /** ms per variant per class (only when measured now). */
  timings?: Record<string, Record<string, number>>;
  fromCache: boolean;
}

/**
 * Best ms per call of each variant on `run`. After a warm-up call (the compile), each sample
 * records enough calls to last ~20 ms before one wait, so submit-and-wait overhead does not rank
 * small shapes; the variants take turns sample by sample (in a rotating order), so a burst of
 * load on a shared machine hits all of them rather than a run of neighbours.
 */
async function timeVariants(names: string[], run: () => void, reps: number): Promise<Record<string, number>> {
  const iters: Record<string, number> = {};
  const best: Record<string, number> = {};
  for (const name of names) {
    setMatmulVariant(name);
    tidy(run);
    await sync();
    const t0 = performance.now();
    tidy(run);
    await sync();
    const one = performance.now() - t0;
    iters[name] = Math.min(16, Math.max(1, Math.ceil(20 / Math.max(one, 0.05))));
    best[name] = one;
  }
  for (let r = 0; r < reps; r++)
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length];
      setMatmulVariant(name);
      const t0 = performance.now();
      tidy(() => {
        for (let j = 0; j < iters[name]; j++) run();
      });
      await sync();
      best[name] = Math.min(best[name], (performance.now() - t0) / iters[name]);
    }
  setMatmulVariant(null);
  return best;
}

/** Loads the cached table for this adapter, or measures and writes it. */
export async function autotune(opts: { shapes?: TuneShape[]; force?: boolean; reps?: number; variants?: string[] } = {}): Promise<TuneResult> {
  const cache = host().cache;
  const name = cacheName();
  const file = cache.where(name);
  const cached = opts.force ? undefined : cache.get(name);
  if (cached !== undefined) {
    const choices = JSON.parse(cached).choices as Record<string, string>;
    setTunedVariants(choices);
    return { file, choices, fromCache: true };
  }
  const choices: Record<string, string> = {};
  const timings: Record<string, Record<string, number>> = {};
  for (const s of opts.shapes ?? (deviceInfo().cpu ? DEFAULT_TUNE_SHAPES : [...DEFAULT_TUNE_SHAPES, ...GPU_TUNE_SHAPES])) {
    const a = randn([s.M, s.K]);
    const b = s.bT ? randn([s.N, s.K]) : randn([s.K, s.N]);
    const cls = matmulShapeClass(s.M, s.N, s.K, s.K % 4 === 0 ? 'row' : 'scalar', s.bT ? 'col' : 'row');
    const names = opts.variants ?? Object.keys(MATMUL_VARIANTS);
    for (const name of names) if (!(name in MATMUL_VARIANTS)) throw new Error(`autotune: unknown variant '${name}'`);
    timings[cls] = await timeVariants(names, () => void matmul(a, s.bT ? b.T : b), opts.reps ?? 3);
    choices[cls] = Object.entries(timings[cls]).sort((x, y) => x[1] - y[1])[0][0];
    a.dispose();
    b.dispose();
  }
  cache.set(name, JSON.stringify({ adapter: deviceInfo().description, choices, timings }, null, 2));
  setTunedVariants(choices);
  return { file, choices, timings, fromCache: false };
}
