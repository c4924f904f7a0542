// Timing harness shared by our benchmarks and the peers (tfjs WebGPU, PyTorch CPU): robust
// statistics over repeated timed calls, the result record every suite emits, an aligned text table
// for the terminal and a JSON writer for `--json FILE` that bench/report.ts turns into charts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { cpus, hostname, loadavg } from 'node:os';

export interface MeasureOptions {
  /** Untimed calls first (pipeline compilation, buffer pools, caches). Default 1. */
  warmup?: number;
  /** Minimum number of timed calls. Default 5. */
  runs?: number;
  /** Keep timing until this much timed wall clock has accumulated (after `runs`). Default 0. */
  minTimeMs?: number;
  /** Hard cap on timed calls, so `minTimeMs` cannot run away on tiny ops. Default max(runs, 1000). */
  maxRuns?: number;
  /** Each call performs this many iterations (timed together, one sync): samples are divided by it. Default 1. */
  itersPerCall?: number;
  /** Clock in milliseconds; injectable so tests can feed known timings. Default performance.now. */
  now?: () => number;
}

export interface Measurement {
  medianMs: number;
  minMs: number;
  /** Number of timed calls (not inner iterations). */
  runs: number;
  /** Per-iteration milliseconds of every timed call, in call order. */
  samplesMs: number[];
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('harness.median: empty sample list');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Times `fn` (which must itself wait for the device, e.g. await a readback) and summarises. */
export async function measure(fn: () => Promise<void>, opts: MeasureOptions = {}): Promise<Measurement> {
  const warmup = opts.warmup ?? 1;
  const runs = Math.max(1, opts.runs ?? 5);
  const minTimeMs = opts.minTimeMs ?? 0;
  const maxRuns = Math.max(runs, opts.maxRuns ?? Math.max(runs, 1000));
  const iters = Math.max(1, opts.itersPerCall ?? 1);
  const now = opts.now ?? (() => performance.now());
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  let total = 0;
  while (samples.length < maxRuns && (samples.length < runs || total < minTimeMs)) {
    const t0 = now();
    await fn();
    const dt = now() - t0;
    total += dt;
    samples.push(dt / iters);
  }
  return { medianMs: median(samples), minMs: Math.min(...samples), runs: samples.length, samplesMs: samples };
}

// ---------------------------------------------------------------------------------------------
// Work counts, so ours and every peer derive GFLOP/s and GB/s from the same formulas.

export function matmulFlops(m: number, n: number, k: number): number {
  return 2 * m * n * k;
}

export interface Conv2dSpec {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
}

export function convOutSize(s: Conv2dSpec): { ho: number; wo: number } {
  const ho = Math.floor((s.h + 2 * s.pad - s.kh) / s.stride) + 1;
  const wo = Math.floor((s.w + 2 * s.pad - s.kw) / s.stride) + 1;
  if (ho <= 0 || wo <= 0) throw new Error(`harness.convOutSize: empty output for ${convShape(s)}`);
  return { ho, wo };
}

/** Multiply-adds x2 of a direct convolution; the input and filter gradients cost the same. */
export function conv2dFlops(s: Conv2dSpec): number {
  const { ho, wo } = convOutSize(s);
  return 2 * s.n * s.cout * ho * wo * s.cin * s.kh * s.kw;
}

export function convShape(s: Conv2dSpec): string {
  return `${s.n}x${s.cin}x${s.h}x${s.w} k${s.kh}x${s.kw}->${s.cout} s${s.stride} p${s.pad}`;
}

export function gflops(flops: number, ms: number): number {
  return flops / (ms * 1e6);
}

export function gbps(bytes: number, ms: number): number {
  return bytes / (ms * 1e6);
}

// ---------------------------------------------------------------------------------------------
// Records.

export interface PeerResult {
  name: string;
  ms_median: number;
  gflops?: number;
  gbps?: number;
}

export interface BenchRecord {
  suite: string;
  case: string;
  shape: string;
  /** Our engine's time; null in peer-only runs (bench/peers/run.ts), where only `peer` is measured. */
  ms_median: number | null;
  ms_min: number | null;
  gflops?: number;
  gbps?: number;
  peer: PeerResult | null;
  /** peer.ms_median / ms_median: above 1 we are faster. null without both sides. */
  ratio: number | null;
  adapter: string;
  driver: string;
}

export interface BenchMeta {
  date: string;
  host?: string;
  cpus?: number;
  loadavg?: number[];
  adapter?: string;
  driver?: string;
  note?: string;
}

export interface BenchFile {
  meta: BenchMeta;
  records: BenchRecord[];
}

export interface RecordInput {
  suite: string;
  case: string;
  shape: string;
  ours: Measurement | null;
  /** Work per iteration: flops gives GFLOP/s, bytes gives GB/s (flops wins when both are set). */
  flops?: number;
  bytes?: number;
  peer?: { name: string; ms_median: number } | null;
  adapter?: string;
  driver?: string;
}

/** Builds a record, deriving throughput for both sides from the same work count. */
export function makeRecord(r: RecordInput): BenchRecord {
  const ms = r.ours?.medianMs ?? null;
  const rate = (m: number | null): { gflops?: number; gbps?: number } => {
    if (m === null || !(m > 0)) return {};
    if (r.flops !== undefined) return { gflops: gflops(r.flops, m) };
    if (r.bytes !== undefined) return { gbps: gbps(r.bytes, m) };
    return {};
  };
  const peer: PeerResult | null = r.peer ? { name: r.peer.name, ms_median: r.peer.ms_median, ...rate(r.peer.ms_median) } : null;
  return {
    suite: r.suite,
    case: r.case,
    shape: r.shape,
    ms_median: ms,
    ms_min: r.ours?.minMs ?? null,
    ...rate(ms),
    peer,
    ratio: ms !== null && ms > 0 && peer ? peer.ms_median / ms : null,
    adapter: r.adapter ?? '',
    driver: r.driver ?? '',
  };
}

/** Short adapter and driver strings from GPUAdapterInfo (lavapipe: "mesa llvmpipe", "Mesa 25.0.7 ..."). */
export function adapterLabel(info: Partial<GPUAdapterInfo> | undefined): { adapter: string; driver: string } {
  const desc = info?.description ?? '';
  const colon = desc.indexOf(':');
  const head = colon > 0 ? desc.slice(0, colon).trim() : desc.trim();
  const tail = colon > 0 ? desc.slice(colon + 1).trim() : '';
  const adapter = [info?.vendor, head || info?.device || info?.architecture].filter((s) => s).join(' ') || 'unknown';
  return { adapter, driver: tail || info?.architecture || '' };
}

// ---------------------------------------------------------------------------------------------
// Output.

/** Formats a number for tables: 3 significant digits, no exponent for ordinary magnitudes. */
export function fmtNum(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a >= 0.001) return x.toPrecision(3);
  return x.toExponential(2);
}

/** Aligned plain-text columns: text left-aligned, numbers (by `numeric[i]`) right-aligned. */
export function formatColumns(headers: string[], rows: string[][], numeric: boolean[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function rateOf(x: { gflops?: number; gbps?: number } | null): string {
  if (!x) return '-';
  if (x.gflops !== undefined) return `${fmtNum(x.gflops)} GF/s`;
  if (x.gbps !== undefined) return `${fmtNum(x.gbps)} GB/s`;
  return '-';
}

export function formatTable(records: readonly BenchRecord[]): string {
  const headers = ['suite', 'case', 'shape', 'ms med', 'ms min', 'rate', 'peer', 'peer ms', 'peer rate', 'ratio'];
  const numeric = [false, false, false, true, true, true, false, true, true, true];
  const rows = records.map((r) => [
    r.suite,
    r.case,
    r.shape,
    fmtNum(r.ms_median),
    fmtNum(r.ms_min),
    r.ms_median === null ? '-' : rateOf(r),
    r.peer?.name ?? '-',
    fmtNum(r.peer?.ms_median),
    rateOf(r.peer),
    r.ratio === null ? '-' : `${fmtNum(r.ratio)}x`,
  ]);
  return formatColumns(headers, rows, numeric);
}

/** Machine facts worth keeping next to numbers taken on a shared, noisy box. */
export function hostMeta(): Partial<BenchMeta> {
  return { host: hostname(), cpus: cpus().length, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) };
}

export function benchFile(records: BenchRecord[], meta: Partial<BenchMeta> = {}): BenchFile {
  return { meta: { date: new Date().toISOString(), ...meta }, records };
}

export function writeJson(file: string, records: BenchRecord[], meta: Partial<BenchMeta> = {}): void {
  const p = resolve(file);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, JSON.stringify(benchFile(records, meta), null, 2) + '\n');
}

/** The FILE of `--json FILE` or `--json=FILE`, or null. */
export function jsonArg(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') {
      const f = argv[i + 1];
      if (!f || f.startsWith('--')) throw new Error('harness: --json needs a FILE argument');
      return f;
    }
    if (a.startsWith('--json=')) return a.slice(7);
  }
  return null;
}

export interface BenchArgs {
  suite: string;
  quick: boolean;
  full: boolean;
  profile: boolean;
  autotune: boolean;
  json: string | null;
  help: boolean;
}

export const BENCH_USAGE = `usage: npm run bench -- [SUITE] [--quick] [--full] [--profile] [--autotune] [--json FILE]
  SUITE       matmul | conv | elementwise | reduce | ga | backbone | glass | all (default all)
  --quick     fewer runs and the smaller shapes (a smoke run)
  --full      adds the large shapes (matmul 4096, the GLASS paper preset)
  --profile   per-kernel GPU time of one call of each case (timestamp queries where supported)
  --autotune  measure the matmul variants on this adapter first (cached per adapter)
  --json FILE write the records as JSON (render with bench/report.ts)`;

/**
 * The bench's command line: one optional suite name and known flags; anything else is an error
 * that names it (a misspelt flag silently ignored would run the wrong benchmark for minutes).
 */
export function parseBenchArgs(argv: readonly string[], suites: readonly string[]): BenchArgs {
  const flags = new Set(['--quick', '--full', '--profile', '--autotune', '--help', '-h']);
  const json = jsonArg(argv);
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') i++;
    else if (a.startsWith('--json=')) continue;
    else if (a.startsWith('-')) {
      if (!flags.has(a)) throw new Error(`bench: unknown option '${a}'\n${BENCH_USAGE}`);
    } else names.push(a);
  }
  if (names.length > 1) throw new Error(`bench: one suite at a time, got ${names.join(', ')}\n${BENCH_USAGE}`);
  const suite = names[0] ?? 'all';
  if (suite !== 'all' && !suites.includes(suite)) throw new Error(`bench: unknown suite '${suite}' (${suites.join(', ')}, all)`);
  const has = (f: string) => argv.includes(f);
  return { suite, quick: has('--quick'), full: has('--full'), profile: has('--profile'), autotune: has('--autotune'), json, help: has('--help') || has('-h') };
}

/** Prints the table and, when argv holds `--json FILE`, writes the JSON too. */
export function emitResults(records: BenchRecord[], argv: readonly string[] = process.argv.slice(2), meta: Partial<BenchMeta> = {}): void {
  console.log(formatTable(records));
  const file = jsonArg(argv);
  if (file) {
    writeJson(file, records, meta);
    console.log(`wrote ${file}`);
  }
}
