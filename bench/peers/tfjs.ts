// WebGPU peer: TensorFlow.js's WebGPU backend (tfjs-backend-webgpu 4.22) running in Node on the
// same Dawn adapter as our engine, so "ours vs tfjs" compares kernels, not drivers. The backend is
// built from a GPUDevice we hand it (ours, or one made from our GPU/adapter) and registered under
// the name 'webgpu', because tfjs looks kernels up by backend name and they are all filed under it.
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { create, globals } from 'webgpu';
import { conv2dFlops, convOutSize, convShape, gbps, gflops, matmulFlops, measure, type Conv2dSpec, type MeasureOptions } from '../harness.ts';
import type { PeerCase } from './cases.ts';

export const TFJS_PEER_NAME = 'tfjs-webgpu';

export interface TfjsPeerInit {
  /** The `create([...])` result of the npm `webgpu` package; a fresh one when nothing is given. */
  gpu?: GPU;
  /** An adapter to create tfjs's own device on (gets the larger limits tfjs asks for). */
  adapter?: GPUAdapter;
  /** An existing device to share outright (e.g. our engine's): tfjs then records into its queue. */
  device?: GPUDevice;
}

export interface TfjsPeer {
  device: GPUDevice;
  backend: WebGPUBackend;
  adapterInfo: GPUAdapterInfo | undefined;
  /** True when the device was handed in rather than created here. */
  sharedDevice: boolean;
}

export interface PeerTiming {
  name: string;
  op: string;
  shape: string;
  ms_median: number;
  ms_min: number;
  runs: number;
  /** Iterations recorded between two waits for the queue. */
  itersPerSync: number;
  gflops?: number;
  gbps?: number;
}

export interface PeerTimingOptions extends Omit<MeasureOptions, 'itersPerCall' | 'now'> {
  /** Wall clock one synced call should cover, so the ~2 ms submit/wait cost stays small. Default 200. */
  targetCallMs?: number;
  /** Upper bound on iterations per sync. Default 64. */
  maxItersPerSync?: number;
  /** Fixed iterations per sync (skips calibration). */
  itersPerSync?: number;
}

const DEFAULTS: PeerTimingOptions = { warmup: 1, runs: 5, minTimeMs: 300, maxRuns: 50, targetCallMs: 200, maxItersPerSync: 64 };

let current: Promise<TfjsPeer> | null = null;

/** What installGlobals added, so disposeTfjsPeer can take it away again. */
let installed: 'navigator' | 'navigator.gpu' | null = null;

/** Makes tfjs's environment checks pass in Node: the WebGPU globals and `navigator.gpu`. */
function installGlobals(gpu: GPU): void {
  Object.assign(globalThis, globals);
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator && typeof g.navigator === 'object') {
    if (!g.navigator.gpu) {
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
      installed ??= 'navigator.gpu';
    }
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    installed = 'navigator';
  }
}

function uninstallGlobals(): void {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (installed === 'navigator') delete g.navigator;
  else if (installed === 'navigator.gpu' && g.navigator) delete g.navigator.gpu;
  installed = null;
}

/** Device request mirroring tfjs's own registration (tfjs-backend-webgpu/dist/base.js). */
function tfjsDeviceDescriptor(adapter: GPUAdapter): GPUDeviceDescriptor {
  const features: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) features.push('timestamp-query');
  const l = adapter.limits;
  return {
    requiredFeatures: features,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  };
}

async function setUp(init: TfjsPeerInit): Promise<TfjsPeer> {
  const gpu = init.gpu ?? create([]);
  installGlobals(gpu);
  let device = init.device;
  let adapterInfo: GPUAdapterInfo | undefined = init.adapter?.info ?? (device as { adapterInfo?: GPUAdapterInfo } | undefined)?.adapterInfo;
  if (!device) {
    const adapter = init.adapter ?? (await gpu.requestAdapter({ powerPreference: 'high-performance' }));
    if (!adapter) throw new Error('bench/peers/tfjs: requestAdapter returned null (no WebGPU adapter; run npm run setup)');
    adapterInfo = adapter.info;
    device = await adapter.requestDevice(tfjsDeviceDescriptor(adapter));
  }
  const dev = device;
  // Replace whatever 'webgpu' factory exists (tfjs registers one at import when navigator.gpu is
  // already set) with ours; every tfjs WebGPU kernel is registered for the name 'webgpu'.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  let backend: WebGPUBackend | null = null;
  tf.registerBackend('webgpu', () => (backend = new WebGPUBackend(dev, adapterInfo)), 10);
  if (!(await tf.setBackend('webgpu'))) throw new Error('bench/peers/tfjs: tf.setBackend("webgpu") failed');
  await tf.ready();
  // Small inputs would otherwise run on tfjs's CPU path; the comparison is GPU kernels.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (!backend) throw new Error('bench/peers/tfjs: backend factory did not run');
  return { device: dev, backend, adapterInfo, sharedDevice: init.device !== undefined };
}

/**
 * Sets up tfjs on the given GPU / adapter / device (share ours: pass `{ device }`, or at least
 * `{ gpu }` so both sit on one adapter). Later timing calls use this peer; calling again replaces it.
 */
export function initTfjsPeer(init: TfjsPeerInit = {}): Promise<TfjsPeer> {
  const previous = current;
  const next: Promise<TfjsPeer> = (async () => {
    if (previous) await disposeTfjsPeer();
    return setUp(init);
  })();
  current = next;
  next.catch(() => {
    if (current === next) current = null;
  });
  return next;
}

export function tfjsPeer(): Promise<TfjsPeer> {
  return current ?? initTfjsPeer();
}

/** Drops tfjs's backend and the `navigator.gpu` it needed; the device is destroyed only when it was created here. */
export async function disposeTfjsPeer(): Promise<void> {
  const pending = current;
  if (!pending) return;
  current = null;
  const p = await pending.catch(() => null);
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  if (p && !p.sharedDevice) p.device.destroy();
  if (!current) uninstallGlobals();
}

/** Flushes tfjs's pending command encoder and waits until the GPU has finished all of it. */
export async function tfjsSync(p: TfjsPeer): Promise<void> {
  const b = p.backend;
  b.ensureCommandEncoderReady();
  b.endComputePassEncoder();
  b.submitQueue();
  await p.device.queue.onSubmittedWorkDone();
}

/**
 * Times `step` (one op, outputs disposed) with many iterations per queue wait. One synced call is
 * first timed alone to choose the iteration count that makes a call last about `targetCallMs`.
 */
async function timeSteps(op: string, shape: string, step: () => void, work: { flops?: number; bytes?: number }, o: PeerTimingOptions): Promise<PeerTiming> {
  const opts = { ...DEFAULTS, ...o };
  const p = await tfjsPeer();
  const once = () =>
    tf.tidy(() => {
      step();
    });
  const call = async (n: number) => {
    for (let i = 0; i < n; i++) once();
    await tfjsSync(p);
  };
  for (let i = 0; i < (opts.warmup ?? 1); i++) await call(1);
  let iters = opts.itersPerSync;
  if (!iters) {
    // Best of two single-iteration calls: one preempted call on a shared machine would
    // otherwise shrink the iteration count for the whole measurement.
    let est = Infinity;
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      await call(1);
      est = Math.min(est, Math.max(performance.now() - t0, 1e-3));
    }
    iters = Math.min(opts.maxItersPerSync ?? 64, Math.max(1, Math.round((opts.targetCallMs ?? 200) / est)));
  }
  const n = iters;
  const m = await measure(() => call(n), { warmup: 0, runs: opts.runs, minTimeMs: opts.minTimeMs, maxRuns: opts.maxRuns, itersPerCall: n });
  const rate = work.flops !== undefined ? { gflops: gflops(work.flops, m.medianMs) } : work.bytes !== undefined ? { gbps: gbps(work.bytes, m.medianMs) } : {};
  return { name: TFJS_PEER_NAME, op, shape, ms_median: m.medianMs, ms_min: m.minMs, runs: m.runs, itersPerSync: n, ...rate };
}

/** Runs `fn` with inputs that live for the duration of the timing, then frees them. */
async function withInputs<T>(make: () => tf.Tensor[], fn: (xs: tf.Tensor[]) => Promise<T>): Promise<T> {
  await tfjsPeer();
  const xs = make();
  try {
    return await fn(xs);
  } finally {
    xs.forEach((x) => x.dispose());
  }
}

/** C[m,n] = A[m,k] B[k,n]. */
export function tfjsMatmul(m: number, n: number, k: number, o: PeerTimingOptions = {}): Promise<PeerTiming> {
  return withInputs(
    () => [tf.randomNormal([m, k]), tf.randomNormal([k, n])],
    ([a, b]) => timeSteps('matmul', `${m}x${k} @ ${k}x${n}`, () => tf.matMul(a, b), { flops: matmulFlops(m, n, k) }, o),
  );
}

export type ConvPass = 'fwd' | 'bwd_input' | 'bwd_filter';

/**
 * 2-D convolution in tfjs's native NHWC layout (tfjs's WebGPU NCHW path transposes), forward or one
 * of the two gradients, each called as the kernel tf.grad would use (Conv2DBackpropInput/Filter).
 */
export function tfjsConv2d(s: Conv2dSpec, pass: ConvPass = 'fwd', o: PeerTimingOptions = {}): Promise<PeerTiming> {
  const { ho, wo } = convOutSize(s);
  const strides: [number, number] = [s.stride, s.stride];
  const pad = s.pad;
  const xShape: [number, number, number, number] = [s.n, s.h, s.w, s.cin];
  const fShape: [number, number, number, number] = [s.kh, s.kw, s.cin, s.cout];
  const dyShape: [number, number, number, number] = [s.n, ho, wo, s.cout];
  const work = { flops: conv2dFlops(s) };
  const shape = convShape(s);
  const attrs = { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
  if (pass === 'fwd') {
    return withInputs(
      () => [tf.randomNormal(xShape), tf.randomNormal(fShape)],
      ([x, f]) => timeSteps('conv2d_fwd', shape, () => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, strides, pad), work, o),
    );
  }
  if (pass === 'bwd_input') {
    return withInputs(
      () => [tf.randomNormal(dyShape), tf.randomNormal(fShape)],
      ([dy, f]) =>
        timeSteps(
          'conv2d_bwd_input',
          shape,
          () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape: xShape } as unknown as tf.NamedAttrMap),
          work,
          o,
        ),
    );
  }
  return withInputs(
    () => [tf.randomNormal(xShape), tf.randomNormal(dyShape)],
    ([x, dy]) =>
      timeSteps(
        'conv2d_bwd_filter',
        shape,
        () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: fShape } as unknown as tf.NamedAttrMap),
        work,
        o,
      ),
  );
}

export type ElementwiseOp = 'add' | 'mul' | 'relu';

/** Elementwise over n floats; GB/s counts every float read and written once. */
export function tfjsElementwise(n: number, op: ElementwiseOp = 'add', o: PeerTimingOptions = {}): Promise<PeerTiming> {
  const binary = op !== 'relu';
  const bytes = (binary ? 3 : 2) * n * 4;
  return withInputs(
    () => (binary ? [tf.randomNormal([n]), tf.randomNormal([n])] : [tf.randomNormal([n])]),
    ([a, b]) => timeSteps(`elementwise_${op}`, `${n}`, () => (op === 'add' ? tf.add(a, b) : op === 'mul' ? tf.mul(a, b) : tf.relu(a)), { bytes }, o),
  );
}

/** Sum over one axis; GB/s counts the input read and the output written. */
export function tfjsReduceSum(shape: number[], axis: number, o: PeerTimingOptions = {}): Promise<PeerTiming> {
  const size = shape.reduce((a, b) => a * b, 1);
  const ax = axis < 0 ? axis + shape.length : axis;
  if (ax < 0 || ax >= shape.length) throw new Error(`bench/peers/tfjs.tfjsReduceSum: axis ${axis} out of range for shape [${shape}]`);
  const bytes = (size + size / shape[ax]) * 4;
  return withInputs(
    () => [tf.randomNormal(shape)],
    ([x]) => timeSteps('reduce_sum', `[${shape.join(',')}] axis ${ax}`, () => tf.sum(x, ax), { bytes }, o),
  );
}

/** Runs one shared peer case (bench/peers/cases.ts). */
export function tfjsCase(c: PeerCase, o: PeerTimingOptions = {}): Promise<PeerTiming> {
  switch (c.op) {
    case 'matmul':
      return tfjsMatmul(c.m, c.n, c.k, o);
    case 'conv2d':
      return tfjsConv2d(c, c.pass, o);
    case 'elementwise':
      return tfjsElementwise(c.n, c.kind, o);
    case 'reduce_sum':
      return tfjsReduceSum(c.shape, c.axis, o);
    case 'backbone':
      return Promise.reject(new Error('bench/peers/tfjs: no tfjs backbone case (PyTorch CPU is the backbone reference)'));
  }
}
