// Per-kernel GPU time from timestamp queries: while enabled, every dispatch runs in its own
// compute pass whose beginning and end are timestamped; each batch's queries are resolved at
// submit and read back asynchronously, then aggregated by kernel name. Where the adapter lacks
// 'timestamp-query', kernels are timed on the CPU side by submitting and waiting after each one
// (slower and coarser, but still attributable). Also reports dispatches, submits, pipeline-cache
// and pool hit rates and peak bytes for the profiled span.
// The first dispatch of a pipeline created during the span is counted apart ("1st ms"): lazy
// drivers compile there (lavapipe runs LLVM there, inside the pass's timestamps),
// so a cold profile would otherwise rank kernels by compile time. Pipeline creation's CPU time
// (where drivers compile eagerly) is reported beside it.
import { device, hasFeature } from './device.ts';
import { setDispatchHook, runtimeStats, sync, setMaxBatch, maxBatch, type Kernel, type Work } from './dispatch.ts';
import { poolStats, resetPeak } from './pool.ts';

export interface KernelTime {
  name: string;
  /** every dispatch, first ones included */
  calls: number;
  ms: number;
  /** first dispatches of pipelines created during the span, and their time (compile + run) */
  firstCalls: number;
  firstMs: number;
  /**
   * FLOPs and bytes of the dispatches after the first ones, where their ops declare them
   * (matmul, conv, gemv: FLOPs; elementwise, reductions: bytes); kernelRate() turns them into GFLOP/s
   * or GB/s over the same dispatches' time.
   */
  flops: number;
  bytes: number;
}

export interface ProfileReport {
  mode: 'timestamp-query' | 'cpu-sync';
  wallMs: number;
  kernels: KernelTime[];
  /**
   * The same times by kernel name and the detail its op gave the dispatch (matmul, conv and
   * gemv give their problem shape: `matmul 6272x384x256`); kernels without detail as above.
   */
  byShape: KernelTime[];
  dispatches: number;
  submits: number;
  /** pipelines created during the span and the CPU time their creation took */
  pipelinesCreated: number;
  pipelineCreateMs: number;
  pipelineHitRate: number;
  /** dispatches that reused a cached bind group (dispatch.ts) */
  bindGroupHitRate: number;
  poolHitRate: number;
  peakBytes: number;
}

const MAX_QUERIES = 2 * 1024;

/** A recorded dispatch awaiting its time. */
interface Dispatched {
  name: string;
  created: boolean;
  detail?: string;
  work?: Work;
}

export class Profiler {
  private times = new Map<string, KernelTime>();
  private detailed = new Map<string, KernelTime>();
  private pending: Promise<void>[] = [];
  private querySet: GPUQuerySet | null = null;
  private names: Dispatched[] = [];
  private readonly mode: ProfileReport['mode'];
  private start = { wall: 0, stats: runtimeStats(), pool: poolStats() };
  private savedBatch = maxBatch;
  private lastCpu = 0;

  /**
   * `mode`: 'timestamp-query' where the adapter has it (the default), or 'cpu-sync' to time each
   * dispatch by submitting and waiting (any adapter; includes submit overhead).
   */
  constructor(opts: { mode?: ProfileReport['mode'] } = {}) {
    const ts = hasFeature('timestamp-query');
    if (opts.mode === 'timestamp-query' && !ts) throw new Error("Profiler: mode 'timestamp-query' needs the adapter's timestamp-query feature");
    this.mode = opts.mode ?? (ts ? 'timestamp-query' : 'cpu-sync');
  }

  async begin(): Promise<void> {
    await sync();
    this.times.clear();
    this.detailed.clear();
    this.start = { wall: performance.now(), stats: runtimeStats(), pool: poolStats() };
    resetPeak();
    this.savedBatch = maxBatch;
    if (this.mode === 'timestamp-query') {
      this.querySet = device().createQuerySet({ type: 'timestamp', count: MAX_QUERIES });
      setMaxBatch(Math.min(maxBatch, MAX_QUERIES / 2));
      setDispatchHook({
        passFor: (k, created, detail, work) => this.passFor(k, created, detail, work),
        beforeSubmit: (enc) => this.resolve(enc),
        afterSubmit: () => this.collect(),
      });
    } else {
      // one dispatch per submit; the time between submits is charged to the kernel just run
      setMaxBatch(1);
      this.lastCpu = performance.now();
      setDispatchHook({
        passFor: (k, created, detail, work) => {
          this.names.push({ name: k.name, created, detail, work });
          return {};
        },
        beforeSubmit: () => {},
        afterSubmit: () => {
          const d = this.names.pop() ?? { name: 'copy', created: false };
          this.names = [];
          const p = device()
            .queue.onSubmittedWorkDone()
            .then(() => {
              const now = performance.now();
              this.add(d, now - this.lastCpu);
              this.lastCpu = now;
            });
          this.pending.push(p);
        },
      });
    }
  }

  private passFor(k: Kernel, created: boolean, detail: string | undefined, work: Work | undefined): GPUComputePassDescriptor {
    const i = this.names.length;
    this.names.push({ name: k.name, created, detail, work });
    return { timestampWrites: { querySet: this.querySet!, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } };
  }

  private resolveBuf: GPUBuffer | null = null;
  private readBuf: GPUBuffer | null = null;
  private batchNames: Dispatched[] = [];

  private resolve(enc: GPUCommandEncoder): void {
    const n = this.names.length;
    this.batchNames = this.names;
    this.names = [];
    if (n === 0) return;
    const dev = device();
    const bytes = 2 * n * 8;
    this.resolveBuf = dev.createBuffer({ size: bytes, usage: 0x0200 | 0x04 }); // QUERY_RESOLVE | COPY_SRC
    this.readBuf = dev.createBuffer({ size: bytes, usage: 0x01 | 0x08 }); // MAP_READ | COPY_DST
    enc.resolveQuerySet(this.querySet!, 0, 2 * n, this.resolveBuf, 0);
    enc.copyBufferToBuffer(this.resolveBuf, 0, this.readBuf, 0, bytes);
  }

  private collect(): void {
    const names = this.batchNames;
    const rb = this.readBuf;
    const res = this.resolveBuf;
    this.batchNames = [];
    this.readBuf = this.resolveBuf = null;
    if (!rb || !names.length) return;
    this.pending.push(
      rb.mapAsync(0x0001).then(() => {
        const t = new BigUint64Array(rb.getMappedRange());
        names.forEach((d, i) => this.add(d, Number(t[2 * i + 1] - t[2 * i]) / 1e6));
        rb.unmap();
        rb.destroy();
        res?.destroy();
      }),
    );
  }

  private add(d: Dispatched, ms: number): void {
    ms = Math.max(ms, 0);
    accumulate(this.times, d.name, d.created, ms, d.work);
    accumulate(this.detailed, d.detail ? `${d.name} ${d.detail}` : d.name, d.created, ms, d.work);
  }

  async end(): Promise<ProfileReport> {
    await sync();
    setDispatchHook(null);
    await Promise.all(this.pending);
    this.pending = [];
    setMaxBatch(this.savedBatch);
    this.querySet?.destroy();
    this.querySet = null;
    const s = runtimeStats();
    const p = poolStats();
    const dp = s.pipelineHits - this.start.stats.pipelineHits;
    const dm = s.pipelineMisses - this.start.stats.pipelineMisses;
    const bh = s.bindGroupHits - this.start.stats.bindGroupHits;
    const bm = s.bindGroupMisses - this.start.stats.bindGroupMisses;
    const ph = p.hits - this.start.pool.hits;
    const pm = p.misses - this.start.pool.misses;
    return {
      mode: this.mode,
      wallMs: performance.now() - this.start.wall,
      kernels: [...this.times.values()].sort((a, b) => b.ms - a.ms),
      byShape: [...this.detailed.values()].sort((a, b) => b.ms - a.ms),
      dispatches: s.dispatches - this.start.stats.dispatches,
      submits: s.submits - this.start.stats.submits,
      pipelinesCreated: dm,
      pipelineCreateMs: s.pipelineCreateMs - this.start.stats.pipelineCreateMs,
      pipelineHitRate: dp + dm ? dp / (dp + dm) : 1,
      bindGroupHitRate: bh + bm ? bh / (bh + bm) : 1,
      poolHitRate: ph + pm ? ph / (ph + pm) : 1,
      peakBytes: p.peakBytes,
    };
  }
}

function accumulate(m: Map<string, KernelTime>, name: string, created: boolean, ms: number, work: Work | undefined): void {
  const e = m.get(name) ?? { name, calls: 0, ms: 0, firstCalls: 0, firstMs: 0, flops: 0, bytes: 0 };
  e.calls++;
  e.ms += ms;
  if (created) {
    e.firstCalls++;
    e.firstMs += ms;
  } else {
    e.flops += work?.flops ?? 0;
    e.bytes += work?.bytes ?? 0;
  }
  m.set(name, e);
}

/**
 * A kernel's rate over its dispatches after the first ones: GFLOP/s where its ops declared FLOPs,
 * else GB/s where they declared bytes, else null (or when those dispatches took no time).
 */
export function kernelRate(k: KernelTime): { value: number; unit: 'GFLOP/s' | 'GB/s' } | null {
  const ms = k.calls > k.firstCalls ? k.ms - k.firstMs : 0;
  if (ms <= 0) return null;
  if (k.flops > 0) return { value: k.flops / ms / 1e6, unit: 'GFLOP/s' };
  if (k.bytes > 0) return { value: k.bytes / ms / 1e6, unit: 'GB/s' };
  return null;
}

/** Mean time of a kernel's dispatches other than first ones (all of them if there are no others). */
export function steadyMsPerCall(k: KernelTime): number {
  return k.calls > k.firstCalls ? (k.ms - k.firstMs) / (k.calls - k.firstCalls) : k.ms / k.calls;
}

/**
 * A top-N table of a profile, ranked by time without first dispatches. `ms` and `%` count every
 * dispatch; `ms/call` leaves first dispatches out; `1st ms` is their time (compile + run); `rate`
 * is GFLOP/s or GB/s where the ops declared their work (see kernelRate()).
 * `shapes`: a second table of the top-N kernels by name and problem shape.
 */
export function formatProfile(r: ProfileReport, top = 15, opts: { shapes?: boolean } = {}): string {
  const total = r.kernels.reduce((a, k) => a + k.ms, 0);
  const first = r.kernels.reduce((a, k) => a + k.firstMs, 0);
  const lines = [
    `profile (${r.mode}): wall ${r.wallMs.toFixed(0)} ms, GPU ${total.toFixed(0)} ms in ${r.dispatches} dispatches, ${r.submits} submits; ` +
      `pipeline cache hits ${(100 * r.pipelineHitRate).toFixed(1)}%, bind groups ${(100 * r.bindGroupHitRate).toFixed(1)}%, pool hits ${(100 * r.poolHitRate).toFixed(1)}%, peak ${(r.peakBytes / 2 ** 20).toFixed(1)} MiB`,
  ];
  if (r.pipelinesCreated > 0)
    lines.push(
      `${r.pipelinesCreated} pipelines created (${r.pipelineCreateMs.toFixed(0)} ms CPU); their first dispatches took ${first.toFixed(0)} ms (compile on lazy drivers such as lavapipe)`,
    );
  lines.push(...table('kernel', r.kernels, top, total));
  if (opts.shapes && r.byShape.some((k) => !r.kernels.some((n) => n.name === k.name))) lines.push('', ...table('kernel and shape', r.byShape, top, total));
  return lines.join('\n');
}

function table(title: string, rows: KernelTime[], top: number, total: number): string[] {
  const w = Math.max(34, ...rows.slice(0, top).map((k) => k.name.length + 2));
  const lines = [
    `${title.padEnd(w)}${'calls'.padStart(8)}${'ms'.padStart(10)}${'%'.padStart(7)}${'ms/call'.padStart(10)}${'1st ms'.padStart(10)}${'rate'.padStart(16)}`,
  ];
  const ranked = [...rows].sort((a, b) => b.ms - b.firstMs - (a.ms - a.firstMs));
  for (const k of ranked.slice(0, top)) {
    const r = kernelRate(k);
    lines.push(
      `${k.name.padEnd(w)}${String(k.calls).padStart(8)}${k.ms.toFixed(1).padStart(10)}${((100 * k.ms) / (total || 1)).toFixed(1).padStart(7)}` +
        `${steadyMsPerCall(k).toFixed(3).padStart(10)}${(k.firstCalls ? k.firstMs.toFixed(1) : '').padStart(10)}${(r ? `${r.value.toPrecision(3)} ${r.unit}` : '').padStart(16)}`.trimEnd(),
    );
  }
  return lines;
}
