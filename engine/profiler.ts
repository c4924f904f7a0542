// Per-kernel GPU time from timestamp queries: while enabled, every dispatch runs in its own
// compute pass whose beginning and end are timestamped; each batch's queries are resolved at
// submit and read back asynchronously, then aggregated by kernel name. Where the adapter lacks
// 'timestamp-query', kernels are timed on the CPU side by submitting and waiting after each one
// (slower and coarser, but still attributable). Also reports dispatches, submits, pipeline-cache
// and pool hit rates and peak bytes for the profiled span.
import { device, hasFeature } from './device.ts';
import { setDispatchHook, runtimeStats, sync, setMaxBatch, maxBatch, type Kernel } from './runtime.ts';
import { poolStats, resetPeak } from './pool.ts';

interface KernelTime {
  name: string;
  calls: number;
  ms: number;
}

export interface ProfileReport {
  mode: 'timestamp-query' | 'cpu-sync';
  wallMs: number;
  kernels: KernelTime[];
  dispatches: number;
  submits: number;
  pipelineHitRate: number;
  poolHitRate: number;
  peakBytes: number;
}

const MAX_QUERIES = 2 * 1024;

export class Profiler {
  private times = new Map<string, KernelTime>();
  private pending: Promise<void>[] = [];
  private querySet: GPUQuerySet | null = null;
  private names: string[] = [];
  private readonly mode: ProfileReport['mode'];
  private start = { wall: 0, stats: runtimeStats(), pool: poolStats() };
  private savedBatch = maxBatch;
  private lastCpu = 0;

  constructor() {
    this.mode = hasFeature('timestamp-query') ? 'timestamp-query' : 'cpu-sync';
  }

  async begin(): Promise<void> {
    await sync();
    this.times.clear();
    this.start = { wall: performance.now(), stats: runtimeStats(), pool: poolStats() };
    resetPeak();
    this.savedBatch = maxBatch;
    if (this.mode === 'timestamp-query') {
      this.querySet = device().createQuerySet({ type: 'timestamp', count: MAX_QUERIES });
      setMaxBatch(Math.min(maxBatch, MAX_QUERIES / 2));
      setDispatchHook({
        passFor: (k) => this.passFor(k),
        beforeSubmit: (enc) => this.resolve(enc),
        afterSubmit: () => this.collect(),
      });
    } else {
      // one dispatch per submit; the time between submits is charged to the kernel just run
      setMaxBatch(1);
      this.lastCpu = performance.now();
      setDispatchHook({
        passFor: (k) => {
          this.names.push(k.name);
          return {};
        },
        beforeSubmit: () => {},
        afterSubmit: () => {
          const name = this.names.pop() ?? 'copy';
          this.names = [];
          const p = device().queue.onSubmittedWorkDone().then(() => {
            const now = performance.now();
            this.add(name, now - this.lastCpu);
            this.lastCpu = now;
          });
          this.pending.push(p);
        },
      });
    }
  }

  private passFor(k: Kernel): GPUComputePassDescriptor {
    const i = this.names.length;
    this.names.push(k.name);
    return { timestampWrites: { querySet: this.querySet!, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } };
  }

  private resolveBuf: GPUBuffer | null = null;
  private readBuf: GPUBuffer | null = null;
  private batchNames: string[] = [];

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
        names.forEach((name, i) => this.add(name, Number(t[2 * i + 1] - t[2 * i]) / 1e6));
        rb.unmap();
        rb.destroy();
        res?.destroy();
      }),
    );
  }

  private add(name: string, ms: number): void {
    const e = this.times.get(name) ?? { name, calls: 0, ms: 0 };
    e.calls++;
    e.ms += Math.max(ms, 0);
    this.times.set(name, e);
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
    const ph = p.hits - this.start.pool.hits;
    const pm = p.misses - this.start.pool.misses;
    return {
      mode: this.mode,
      wallMs: performance.now() - this.start.wall,
      kernels: [...this.times.values()].sort((a, b) => b.ms - a.ms),
      dispatches: s.dispatches - this.start.stats.dispatches,
      submits: s.submits - this.start.stats.submits,
      pipelineHitRate: dp + dm ? dp / (dp + dm) : 1,
      poolHitRate: ph + pm ? ph / (ph + pm) : 1,
      peakBytes: p.peakBytes,
    };
  }
}

/** A top-N table of a profile. */
export function formatProfile(r: ProfileReport, top = 15): string {
  const total = r.kernels.reduce((a, k) => a + k.ms, 0);
  const lines = [
    `profile (${r.mode}): wall ${r.wallMs.toFixed(0)} ms, GPU ${total.toFixed(0)} ms in ${r.dispatches} dispatches, ${r.submits} submits; ` +
      `pipeline cache hits ${(100 * r.pipelineHitRate).toFixed(1)}%, pool hits ${(100 * r.poolHitRate).toFixed(1)}%, peak ${(r.peakBytes / 2 ** 20).toFixed(1)} MiB`,
    `${'kernel'.padEnd(34)}${'calls'.padStart(8)}${'ms'.padStart(10)}${'%'.padStart(7)}${'ms/call'.padStart(10)}`,
  ];
  for (const k of r.kernels.slice(0, top))
    lines.push(`${k.name.padEnd(34)}${String(k.calls).padStart(8)}${k.ms.toFixed(1).padStart(10)}${((100 * k.ms) / (total || 1)).toFixed(1).padStart(7)}${(k.ms / k.calls).toFixed(3).padStart(10)}`);
  return lines.join('\n');
}
