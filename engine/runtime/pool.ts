// Size-bucketed pool of GPU storage buffers. Released buffers go back to their bucket and are
// handed out again, so a training loop allocates nothing after its first iteration.
// Reuse is safe without waiting: all work goes through one queue in order, and uploads flush
// pending dispatches before writing (see dispatch.ts).
import { device, onRelease } from './device.ts';
import { maxBindingBytes, bindingLimitMessage, publicOp } from './dispatch.ts';

// GPUBufferUsage STORAGE | COPY_SRC | COPY_DST as numbers: the globals exist only once a device is made.
const USAGE = 0x80 | 0x04 | 0x08;

/** Bucket sizes: 256 B minimum, then 4 steps per power of two (<= 25% waste). */
export function bucketSize(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const s = p * f;
    if (s >= bytes) return Math.ceil(s / 256) * 256;
  }
  return p * 2;
}

const free = new Map<number, GPUBuffer[]>();
// Buffers of the current device: a tensor disposed after releaseDevice() must not hand a buffer
// of the old device to the next one.
let owned = new WeakSet<GPUBuffer>();
let pooledBytes = 0;
let liveBytes = 0;
let peakBytes = 0;
let hits = 0;
let misses = 0;

export function acquireBuffer(bytes: number): GPUBuffer {
  const dev = device();
  let size = bucketSize(Math.max(bytes, 4));
  const maxBinding = maxBindingBytes();
  if (size > maxBinding) {
    // Tensor.empty reports oversized tensors with their op and shape; this is the backstop
    if (bytes > maxBinding) throw new Error(bindingLimitMessage(publicOp() ?? 'acquireBuffer', 'a buffer', bytes, []));
    // kernels bind whole buffers: the rounding must not push one past the limit
    size = Math.ceil(bytes / 256) * 256;
    if (size > maxBinding) size = Math.ceil(bytes / 4) * 4;
  }
  const list = free.get(size);
  let buf = list?.pop();
  if (buf) {
    hits++;
    pooledBytes -= size;
  } else {
    misses++;
    buf = dev.createBuffer({ size, usage: USAGE });
    owned.add(buf);
  }
  liveBytes += size;
  peakBytes = Math.max(peakBytes, liveBytes);
  return buf;
}

export function releaseBuffer(buf: GPUBuffer): void {
  if (!owned.has(buf)) return;
  const size = buf.size;
  liveBytes -= size;
  pooledBytes += size;
  let list = free.get(size);
  if (!list) free.set(size, (list = []));
  list.push(buf);
}

/** Destroys every pooled (unused) buffer. */
export function trimPool(): void {
  for (const list of free.values()) for (const b of list) b.destroy();
  free.clear();
  pooledBytes = 0;
}

export function poolStats() {
  return { liveBytes, pooledBytes, peakBytes, hits, misses };
}

export function resetPeak(): void {
  peakBytes = liveBytes;
}

onRelease(() => {
  owned = new WeakSet();
  free.clear();
  pooledBytes = 0;
  liveBytes = 0;
});
