// WebGPU device acquisition from the host (platform.ts): Dawn's Node bindings (npm `webgpu`) in
// Node, navigator.gpu in a browser. One process-wide device: requested with the adapter's maximum
// buffer limits and the optional features we can use (shader-f16, subgroups, timestamp-query).
// Device loss is recorded so every later call fails with a clear message instead of hanging;
// releaseDevice() lets the process exit.
import { env, host } from './platform.ts';
import { adaptWaitPolicy } from './wait.ts';

export interface DeviceOptions {
  // backend, adapter and the toggles configure Dawn (Node); in a browser they must stay unset
  /** Dawn backend: 'vulkan', 'metal', 'd3d12', 'null', ... (default: Dawn's choice). */
  backend?: string;
  /** Adapter name as Dawn lists it (pass a wrong one to see the list in the error). */
  adapter?: string;
  /** Dawn toggles to enable / disable, e.g. ['disable_robustness']. */
  enableToggles?: string[];
  disableToggles?: string[];
  powerPreference?: GPUPowerPreference;
  /** Print the adapter description when the device is created. */
  verbose?: boolean;
}

export interface DeviceInfo {
  description: string;
  vendor: string;
  architecture: string;
  driver: string;
  /**
   * A CPU implementation (Mesa lavapipe, SwiftShader): Dawn's fallback adapter, or 'software'
   * architecture. The autotuner keeps to its short shape list there (the GPU list's 4096^3 and
   * paper-preset shapes would take minutes per variant on a CPU).
   */
  cpu: boolean;
  features: string[];
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number; maxComputeWorkgroupStorageSize: number };
}

interface DeviceState {
  gpu: GPU | null;
  adapter: GPUAdapter;
  device: GPUDevice;
  info: DeviceInfo;
  lost: string | null;
  uncaptured: string[];
}

let state: DeviceState | null = null;
let pending: Promise<DeviceState> | null = null;
let options: DeviceOptions = {};

/** Options for the device created on first use. Must be called before any tensor is made. */
export function configureDevice(opts: DeviceOptions): void {
  if (state || pending) throw new Error('configureDevice: the device already exists; call it before creating tensors');
  options = { ...opts };
}

function envOptions(): DeviceOptions {
  const o: DeviceOptions = {};
  const backend = env('WGT_BACKEND'),
    adapter = env('WGT_ADAPTER');
  const enable = env('WGT_ENABLE_TOGGLES'),
    disable = env('WGT_DISABLE_TOGGLES');
  if (backend) o.backend = backend;
  if (adapter) o.adapter = adapter;
  if (enable) o.enableToggles = enable.split(',');
  if (disable) o.disableToggles = disable.split(',');
  return o;
}

async function createDevice(opts: DeviceOptions): Promise<DeviceState> {
  const h = host();
  let gpu: GPU | null = await h.gpu({ backend: opts.backend, adapter: opts.adapter, enableToggles: opts.enableToggles, disableToggles: opts.disableToggles });
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  } catch (err) {
    gpu = null;
    throw new Error(h.noAdapterMessage(err as Error));
  }
  if (!adapter) {
    gpu = null;
    throw new Error(h.noAdapterMessage(null));
  }
  const wanted: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];
  const features = wanted.filter((f) => adapter!.features.has(f));
  const L = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxBufferSize: L.maxBufferSize,
      maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
      maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: L.maxComputeWorkgroupSizeY,
    },
  });
  const ai = adapter.info;
  const info: DeviceInfo = {
    description: ai.description || ai.device || 'unknown adapter',
    vendor: ai.vendor,
    architecture: ai.architecture,
    driver: ai.description,
    cpu:
      (ai as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
      ai.architecture === 'software' ||
      /llvmpipe|lavapipe|swiftshader/i.test(`${ai.description} ${ai.device}`),
    features,
    limits: {
      maxBufferSize: device.limits.maxBufferSize,
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
    },
  };
  // Dawn's waits busy-loop on Node's main thread: on a CPU adapter that steals a core from the shaders
  adaptWaitPolicy(info.cpu);
  const s: DeviceState = { gpu, adapter, device, info, lost: null, uncaptured: [] };
  device.lost.then((l) => {
    if (state === s && s.lost === null) s.lost = `${l.reason}: ${l.message}`;
  });
  device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
    s.uncaptured.push(ev.error.message);
  };
  if (opts.verbose) console.log(`webgpu: ${describe(info)}`);
  return s;
}

function describe(i: DeviceInfo): string {
  return `${i.description} (vendor ${i.vendor || '?'}, ${i.architecture || '?'}; features: ${i.features.join(', ') || 'none'})`;
}

/** The shared device, created on first call. */
export async function initDevice(opts?: DeviceOptions): Promise<GPUDevice> {
  if (opts) configureDevice(opts);
  if (state) return state.device;
  pending ??= createDevice({ ...envOptions(), ...options }).then((s) => (state = s));
  return (await pending).device;
}

/** Synchronous access for code that runs after initDevice() resolved. */
export function device(): GPUDevice {
  if (!state) throw new Error('WebGPU device not initialised: `await initDevice()` first');
  if (state.lost !== null) throw new Error(`WebGPU device lost (${state.lost}); restart the process`);
  return state.device;
}

export function deviceInfo(): DeviceInfo {
  if (!state) throw new Error('WebGPU device not initialised: `await initDevice()` first');
  return state.info;
}

export function describeDevice(): string {
  return describe(deviceInfo());
}

export function hasFeature(f: GPUFeatureName): boolean {
  return state?.info.features.includes(f) ?? false;
}

/**
 * The subgroup size kernels may share loads across: the adapter's minimum size when the
 * `subgroups` feature is enabled and it is a power of two in [4, 64], else 0. Kernels index
 * lanes modulo this size, so they stay correct where the real size is larger, and share across
 * no more lanes than their workgroup has (a narrower workgroup fills only part of a subgroup).
 */
export function subgroupSize(): number {
  if (!hasFeature('subgroups')) return 0;
  const info = (state?.device as unknown as { adapterInfo?: { subgroupMinSize?: number } } | undefined)?.adapterInfo;
  const s = info?.subgroupMinSize ?? 0;
  return s >= 4 && s <= 64 && (s & (s - 1)) === 0 ? s : 0;
}

/** Errors the device reported outside any error scope since the last call. */
export function takeUncapturedErrors(): string[] {
  if (!state) return [];
  const e = state.uncaptured;
  state.uncaptured = [];
  return e;
}

export function deviceLostReason(): string | null {
  return state?.lost ?? null;
}

const releaseHooks: (() => void)[] = [];
/** Runs before the device is destroyed (pools drop their buffers). */
export function onRelease(fn: () => void): void {
  releaseHooks.push(fn);
}

/** Destroys the device and drops Dawn's instance so that Node can exit. */
export function releaseDevice(): void {
  if (!state) return;
  for (const h of releaseHooks) h();
  const s = state;
  state = null;
  pending = null;
  s.lost = 'released';
  s.device.destroy();
  // Keep the Dawn instance referenced: collecting an instance whose device was just destroyed
  // has aborted the process later, at a random allocation (pthread mutex assertion or
  // std::system_error), when a test created and released devices in quick succession.
  if (s.gpu) retired.push(s.gpu);
  s.gpu = null;
}
const retired: GPU[] = [];
