// Records kernel dispatches into one shared command encoder and submits them in batches.
// - Pipelines are cached by kernel key; shape parameters travel in a per-batch uniform arena
//   (one 256-byte slot per dispatch), so one pipeline serves every shape of its kind.
// - A batch is submitted on readback, before an upload, or every `maxBatch` dispatches.
// - Each batch runs inside validation and out-of-memory error scopes; an error is rethrown at the
//   next readback naming the kernels of that batch (WebGPU reports errors asynchronously).
import { device, deviceInfo, takeUncapturedErrors, deviceLostReason, onRelease } from './device.ts';
import { markWait } from './wait.ts';
import { numel, fmt, type Shape } from '../core/shape.ts';

export interface Kernel {
  /** Human-readable name used in errors and profiles, e.g. 'binary.add'. */
  name: string;
  /** Pipeline cache key: everything the WGSL source depends on. */
  key: string;
  /** WGSL source; binding 0 is its paramStruct (wgsl/params.ts) when the kernel takes parameters. */
  code: () => string;
}

interface Cached {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** The bindings' kinds, e.g. '0u,1r,2w': kernels with the same signature share bind groups. */
  sig: string;
}

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment
const MAX_PARAMS = UNIFORM_SLOT / 4;
const pipelines = new Map<string, Cached>();
// Bind groups are cached by layout signature and buffers: creating one costs several times the
// CPU of the dispatch itself in Dawn's Node binding (docs/PERF.md), and a training iteration
// binds the same pooled buffers each time. The parameter slot is a dynamic offset so
// that it is not part of the key.
const layouts = new Map<string, GPUBindGroupLayout>();
const bindGroups = new Map<string, GPUBindGroup>();
const MAX_BIND_GROUPS = 16384;
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;
// pipelineCreateMs: CPU time in createShaderModule + createComputePipeline (where drivers compile
// eagerly; lavapipe defers its LLVM compile to the first dispatch, which the profiler times)
const stats = {
  dispatches: 0,
  submits: 0,
  pipelineHits: 0,
  pipelineMisses: 0,
  pipelineCreateMs: 0,
  bindGroupHits: 0,
  bindGroupMisses: 0,
  uploads: 0,
  readbacks: 0,
};

let encoder: GPUCommandEncoder | null = null;
let pass: GPUComputePassEncoder | null = null;
let batchKernels: string[] = [];
let batchKeys = new Set<string>();
let arena = new Uint32Array(64 * MAX_PARAMS);
let arenaUsed = 0; // slots
let arenaBuffers: GPUBuffer[] = [];
let arenaIndex = 0;
let pendingErrors: Promise<void>[] = [];
let firstError: Error | null = null;
export let maxBatch = 512;

/** What a dispatch computes, for the profiler's rates: floating-point operations and bytes moved. */
export interface Work {
  flops?: number;
  bytes?: number;
}

/** The profiler's hooks: one compute pass per dispatch with timestamp writes (profiler.ts). */
export interface DispatchHook {
  /**
   * Descriptor of the pass that will hold exactly this dispatch. `created`: the dispatch is the
   * first of a pipeline made for it (lazy drivers such as lavapipe compile it then).
   */
  passFor(kernel: Kernel, created: boolean, detail: string | undefined, work?: Work): GPUComputePassDescriptor;
  /** Before finish(): resolve the batch's queries into a readable buffer. */
  beforeSubmit(encoder: GPUCommandEncoder): void;
  /** After submit(): read the resolved timestamps back (asynchronously). */
  afterSubmit(): void;
}
let hook: DispatchHook | null = null;
/** Whether a dispatch hook (the profiler) is recording: ops build profiler labels only then. */
export function dispatchHooked(): boolean {
  return hook !== null;
}
export function setDispatchHook(h: DispatchHook | null): void {
  flush();
  hook = h;
}

export function setMaxBatch(n: number): void {
  flush();
  maxBatch = Math.max(1, n | 0);
}

export function runtimeStats() {
  return { ...stats, cachedPipelines: pipelines.size };
}

function getPipeline(k: Kernel): Cached & { created: boolean } {
  let c = pipelines.get(k.key);
  if (c) {
    stats.pipelineHits++;
    return { ...c, created: false };
  }
  stats.pipelineMisses++;
  const dev = device();
  const t0 = performance.now();
  const code = k.code();
  const module = dev.createShaderModule({ label: k.name, code });
  const { sig, layout } = layoutOf(dev, code);
  const pipeline = dev.createComputePipeline({
    label: k.name,
    layout: dev.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: 'main' },
  });
  stats.pipelineCreateMs += performance.now() - t0;
  c = { pipeline, layout, sig };
  pipelines.set(k.key, c);
  return { ...c, created: true };
}

/**
 * The explicit bind group layout of a kernel, from its declarations (`@group(0) @binding(n) var<
 * uniform | storage, read | storage, read_write>`): the uniform parameter slot takes a dynamic
 * offset, which an 'auto' layout cannot express. Every declared binding must then be bound.
 */
function layoutOf(dev: GPUDevice, code: string): { sig: string; layout: GPUBindGroupLayout } {
  const entries: GPUBindGroupLayoutEntry[] = [];
  const parts: string[] = [];
  for (const m of code.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage\s*,\s*read_write|storage\s*,\s*read|storage)\s*>/g)) {
    const binding = Number(m[1]);
    const kind = m[2].replace(/\s/g, '');
    const type: GPUBufferBindingType = kind === 'uniform' ? 'uniform' : kind === 'storage,read_write' ? 'storage' : 'read-only-storage';
    entries.push({ binding, visibility: 4 /* COMPUTE */, buffer: { type, hasDynamicOffset: type === 'uniform' } });
    parts.push(`${binding}${type[0]}`);
  }
  entries.sort((a, b) => a.binding - b.binding);
  parts.sort();
  const sig = parts.join(',');
  let layout = layouts.get(sig);
  if (!layout) {
    layout = dev.createBindGroupLayout({ label: `bindings ${sig}`, entries });
    layouts.set(sig, layout);
  }
  return { sig, layout };
}

function bufferId(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) bufferIds.set(b, (id = nextBufferId++));
  return id;
}

function beginBatch(dev: GPUDevice): void {
  dev.pushErrorScope('validation');
  dev.pushErrorScope('out-of-memory');
  encoder = dev.createCommandEncoder();
  batchKernels = [];
  batchKeys = new Set();
  arenaUsed = 0;
}

function ensurePass(k: Kernel, created: boolean, detail: string | undefined, work: Work | undefined): GPUComputePassEncoder {
  if (hook) {
    endPass();
    pass = encoder!.beginComputePass(hook.passFor(k, created, detail, work));
  } else if (!pass) pass = encoder!.beginComputePass();
  return pass;
}

function endPass(): void {
  if (pass) {
    pass.end();
    pass = null;
  }
}

// The arena's GPU buffer must be written before its batch is submitted; the slot offsets are
// known when recording, so the bind groups point into a buffer that is filled at flush time.
function arenaBuffer(slots: number): GPUBuffer {
  const bytes = Math.max(slots, 64) * UNIFORM_SLOT;
  let b = arenaBuffers[arenaIndex];
  if (!b || b.size < bytes) {
    b?.destroy();
    b = device().createBuffer({ size: Math.max(bytes, (b?.size ?? 0) * 2), usage: 0x40 | 0x08 }); // UNIFORM | COPY_DST
    arenaBuffers[arenaIndex] = b;
  }
  return b;
}

// ---- The storage binding limit -------------------------------------------------------------
// Kernels bind whole buffers, so no tensor may be larger than one storage binding
// (maxStorageBufferBindingSize: 128 MiB on lavapipe, 2-4 GiB on many GPUs). A lower limit can be
// set so that tests reach the limit with kilobytes instead of allocating 128 MiB, and so that
// code meant for a smaller adapter can be checked on a larger one.
let bindingLimitOverride: number | null = null;

/** The largest tensor, in bytes, that one storage binding holds: the adapter's limit or a lower one set by setBindingLimit. */
export function maxBindingBytes(): number {
  const adapter = deviceInfo().limits.maxStorageBufferBindingSize;
  return bindingLimitOverride === null ? adapter : Math.min(bindingLimitOverride, adapter);
}

/**
 * Enforces a lower storage binding limit than the adapter's (null: the adapter's own); returns
 * the previous override. Tensors that exist keep their buffers; binding one that is now too
 * large fails like any other oversized binding.
 */
export function setBindingLimit(bytes: number | null): number | null {
  if (bytes !== null && !(Number.isInteger(bytes) && bytes >= 256 && bytes % 4 === 0))
    throw new Error(`setBindingLimit: expected a whole number of 4-byte words >= 256 bytes, or null; got ${bytes}`);
  flush();
  // cached bind groups were validated against the old limit
  bindGroups.clear();
  const prev = bindingLimitOverride;
  bindingLimitOverride = bytes;
  return prev;
}

const OPS_DIR = new URL('../ops/', import.meta.url).href;
const AUTOGRAD_DIR = new URL('../autograd/', import.meta.url).href;

const fileUrl = (f: string | undefined | null): string => (!f ? '' : f.startsWith('file:') ? f : `file://${f.replace(/\\/g, '/')}`);

/**
 * The public op being run, for error messages raised deep inside it (an allocation, a binding):
 * the outermost call into engine/ops/ on the stack, so `stack` reports 'stack' though `cat` does
 * the work, and a method (x.matmul(y)) its own name. Under backward() it is the op that a
 * backward rule called, marked as such. Stack walking costs microseconds, so only error paths call it.
 */
export function publicOp(): string | null {
  // V8's structured stack API (Node, Chromium); elsewhere messages go without the op's name
  if (typeof Error.captureStackTrace !== 'function') return null;
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  let sites: NodeJS.CallSite[] = [];
  try {
    Error.prepareStackTrace = (_e, s) => s;
    Error.stackTraceLimit = 200;
    const holder: { stack?: NodeJS.CallSite[] } = {};
    Error.captureStackTrace(holder, publicOp);
    sites = Array.isArray(holder.stack) ? holder.stack : [];
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
  // V8 lists the innermost call first; search from the caller's end, starting after the last
  // frame of the autograd engine when a backward pass is running
  const outer = [...sites].reverse();
  const files = outer.map((s) => fileUrl(s.getFileName()));
  let from = 0;
  files.forEach((f, i) => {
    if (f.startsWith(AUTOGRAD_DIR)) from = i + 1;
  });
  for (let i = from; i < outer.length; i++) {
    if (!files[i].startsWith(OPS_DIR)) continue;
    const name = outer[i].getFunctionName() ?? outer[i].getMethodName();
    if (!name || name.startsWith('<')) continue;
    // under backward the first frames in ops/ are the rule (a method of the graph node) and its
    // helpers (methods of local objects); the op it calls is a plain or Tensor-method call
    const type = outer[i].getTypeName();
    if (from > 0 && type && type !== 'Module' && type !== 'Tensor') continue;
    const op = name.slice(name.lastIndexOf('.') + 1);
    return from > 0 ? `${op} (in backward)` : op;
  }
  return null;
}

const sizeText = (b: number) => (b >= 2 ** 20 ? `${+(b / 2 ** 20).toFixed(2)} MiB` : `${+(b / 1024).toFixed(2)} KiB`);

/**
 * Why a tensor of `bytes` cannot exist, and how to avoid it: the limit, and how many entries
 * along `dim` of `shape` fit in one binding. `op`: the public op; `what`: the tensor (dtype,
 * shape, and the inputs where the op knows them).
 */
export function bindingLimitMessage(op: string, what: string, bytes: number, shape: Shape, dim = 0): string {
  const limit = maxBindingBytes();
  const adapter = deviceInfo().limits.maxStorageBufferBindingSize;
  const source = limit < adapter ? `set by setBindingLimit; the adapter allows ${adapter}` : `maxStorageBufferBindingSize of this adapter`;
  const n = shape[dim] ?? 0;
  const fit = n > 0 ? Math.floor(limit / (bytes / n)) : 0;
  const advice =
    fit >= 1
      ? `work in chunks along a dim, e.g. at most ${fit} of the ${n} entries of dim ${dim} of ${fmt(shape)} per chunk, and keep the results as a list (or reduce them chunk by chunk) instead of one tensor`
      : `work in chunks along a dim so that each piece stays under the limit`;
  return `${op}: ${what} needs ${bytes} bytes (${sizeText(bytes)}), more than one storage binding holds: ${limit} bytes (${sizeText(limit)}, ${source}). To avoid it, ${advice}.`;
}

type Workgroups = [number, number?, number?];

/**
 * Records one dispatch of `k`. `buffers` bind to 1..n in order (0 is the uniform slot when
 * `params` is given; a null entry skips its binding). `params` is the packed parameter struct
 * (`SomeParams.pack({...})`, wgsl/params.ts). `detail` (e.g. the problem shape) only labels the dispatch for the profiler, which
 * can aggregate by kernel name and detail; `work` (its FLOPs or bytes) gives the profiler a rate.
 */
export function dispatch(k: Kernel, buffers: (GPUBuffer | null)[], params: Uint32Array | null, wg: Workgroups, detail?: string, work?: Work): void {
  const dev = device();
  if (wg[0] === 0 || wg[1] === 0 || wg[2] === 0) return;
  const limit = dev.limits.maxComputeWorkgroupsPerDimension;
  if (wg[0] > limit || (wg[1] ?? 1) > limit || (wg[2] ?? 1) > limit)
    throw new Error(`${k.name}: dispatch of [${wg.join(', ')}] workgroups exceeds the per-dimension limit ${limit}`);
  if (!encoder) beginBatch(dev);
  const { pipeline, layout, sig, created } = getPipeline(k);
  let slot = -1;
  if (params) {
    if (params.length > MAX_PARAMS) throw new Error(`${k.name}: ${params.length} parameter words exceed ${MAX_PARAMS}`);
    slot = arenaUsed++;
    if (arena.length < arenaUsed * MAX_PARAMS) {
      const a = new Uint32Array(arena.length * 2);
      a.set(arena);
      arena = a;
    }
    arena.set(params, slot * MAX_PARAMS);
  }
  // Bind groups reference the arena buffer, which must be large enough for the whole batch:
  // grow it up front for the worst case of this batch (maxBatch slots).
  const ab = params ? arenaBuffer(maxBatch + 1) : null;
  let key = `${sig}|${ab ? bufferId(ab) : 0}`;
  for (const b of buffers) key += b ? `,${bufferId(b)}` : ',-';
  let bg = bindGroups.get(key);
  if (bg) stats.bindGroupHits++;
  else {
    stats.bindGroupMisses++;
    const limit = maxBindingBytes();
    buffers.forEach((b, i) => {
      if (b && b.size > limit)
        throw new Error(
          `${publicOp() ?? k.name}: kernel ${k.name} binds a buffer of ${b.size} bytes (binding ${i + 1}), more than one storage binding holds: ${limit} bytes. To avoid it, work in chunks so that each tensor stays under the limit.`,
        );
    });
    const entries: GPUBindGroupEntry[] = [];
    if (ab) entries.push({ binding: 0, resource: { buffer: ab, offset: 0, size: UNIFORM_SLOT } });
    // null leaves a binding out (variants of a kernel that do not declare it)
    buffers.forEach((b, i) => b && entries.push({ binding: i + 1, resource: { buffer: b } }));
    bg = dev.createBindGroup({ label: `bind group ${sig} (first: ${k.name})`, layout, entries });
    if (bindGroups.size >= MAX_BIND_GROUPS) bindGroups.clear();
    bindGroups.set(key, bg);
  }
  const p = ensurePass(k, created, detail, work);
  p.setPipeline(pipeline);
  if (ab) p.setBindGroup(0, bg, [slot * UNIFORM_SLOT]);
  else p.setBindGroup(0, bg);
  p.dispatchWorkgroups(wg[0], wg[1] ?? 1, wg[2] ?? 1);
  if (hook) endPass();
  stats.dispatches++;
  batchKernels.push(k.name);
  batchKeys.add(k.key);
  if (batchKernels.length >= maxBatch) flush();
}

/** Records a buffer-to-buffer copy in the current batch (ends the open compute pass). */
export function copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
  const dev = device();
  if (!encoder) beginBatch(dev);
  endPass();
  encoder!.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  batchKernels.push('copyBufferToBuffer');
}

/** Submits everything recorded so far. Does not wait for the GPU. */
export function flush(): void {
  if (!encoder) return;
  const dev = device();
  endPass();
  hook?.beforeSubmit(encoder);
  if (arenaUsed > 0) {
    dev.queue.writeBuffer(arenaBuffer(maxBatch + 1), 0, arena.buffer, 0, arenaUsed * UNIFORM_SLOT);
  }
  dev.queue.submit([encoder.finish()]);
  hook?.afterSubmit();
  stats.submits++;
  encoder = null;
  // Alternate arena buffers so a write for batch n+1 never races batch n's reads: queue order
  // already guarantees that, but a fresh buffer keeps Dawn from inserting a copy.
  arenaIndex = (arenaIndex + 1) % 2;
  const kernels = summarize(batchKernels);
  const keys = batchKeys;
  const oom = dev.popErrorScope();
  const val = dev.popErrorScope();
  pendingErrors.push(
    Promise.all([oom, val]).then(([o, v]) => {
      const e = v ?? o;
      // a pipeline that failed to compile must not stay cached as an invalid object
      if (e) for (const k of keys) pipelines.delete(k);
      if (e && !firstError) {
        const kind = o && !v ? 'out of memory' : 'validation error';
        firstError = new Error(`WebGPU ${kind} in a batch of kernels [${kernels}]:\n${e.message}`);
      }
    }),
  );
}

function summarize(names: string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].map(([n, c]) => (c > 1 ? `${n} x${c}` : n)).join(', ');
}

/** Throws the first asynchronous GPU error seen so far, if any. */
export async function checkErrors(): Promise<void> {
  const ps = pendingErrors;
  pendingErrors = [];
  await Promise.all(ps);
  const lost = deviceLostReason();
  if (lost) throw new Error(`WebGPU device lost (${lost}); restart the process`);
  const un = takeUncapturedErrors();
  if (firstError || un.length) {
    const e = firstError ?? new Error(`WebGPU error: ${un.join('\n')}`);
    firstError = null;
    throw e;
  }
}

/** Writes host data into a buffer, after submitting pending work that may still use it. */
export function upload(buf: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
  flush();
  stats.uploads++;
  const bytes = data.byteLength;
  if (bytes % 4 === 0) {
    device().queue.writeBuffer(buf, byteOffset, data.buffer, data.byteOffset, bytes);
  } else {
    const padded = new Uint8Array(Math.ceil(bytes / 4) * 4);
    padded.set(new Uint8Array(data.buffer, data.byteOffset, bytes));
    device().queue.writeBuffer(buf, byteOffset, padded);
  }
}

const staging: GPUBuffer[] = [];

/** Copies `bytes` from `buf` at `offset` back to the host. Submits pending work first. */
export async function readback(buf: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
  const dev = device();
  stats.readbacks++;
  const start = offset & ~3;
  const size = Math.max(4, Math.ceil((offset + bytes - start) / 4) * 4);
  const idx = staging.findIndex((s) => s.size >= size);
  const st = idx >= 0 ? staging.splice(idx, 1)[0] : dev.createBuffer({ size: Math.max(size, 4096), usage: 0x01 | 0x08 }); // MAP_READ | COPY_DST
  if (!encoder) beginBatch(dev);
  endPass();
  encoder!.copyBufferToBuffer(buf, start, st, 0, size);
  batchKernels.push('readback');
  flush();
  markWait();
  try {
    await st.mapAsync(0x0001, 0, size); // GPUMapMode.READ
  } catch (err) {
    await checkErrors();
    throw new Error(`readback failed: ${(err as Error).message}`);
  }
  const out = st.getMappedRange(0, size).slice(offset - start, offset - start + bytes);
  st.unmap();
  staging.push(st);
  await checkErrors();
  return out;
}

/** Waits until the GPU has finished all submitted work (for timing). */
export async function sync(): Promise<void> {
  flush();
  markWait();
  await device().queue.onSubmittedWorkDone();
  await checkErrors();
}

onRelease(() => {
  bindingLimitOverride = null;
  encoder = null;
  pass = null;
  pipelines.clear();
  layouts.clear();
  bindGroups.clear();
  arenaBuffers = [];
  staging.length = 0;
  pendingErrors = [];
});
