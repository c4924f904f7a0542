// Node's host (see platform.ts): process.env, Dawn through npm `webgpu`, the autotune cache as
// files in $WGT_CACHE_DIR (default ~/.cache/wgt), the binding's polling-tick hook, zlib.
// The only engine module that may import node: modules or touch Node globals; package.json's
// `browser` field replaces it with platform-browser.ts in browser bundles.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import type { GpuRequest, Host, KeyValueCache, WaitHooks } from './platform.ts';

const cacheDir = () => process.env.WGT_CACHE_DIR ?? join(homedir(), '.cache', 'wgt');

const cache: KeyValueCache = {
  where: (name) => join(cacheDir(), name),
  get(name) {
    const file = join(cacheDir(), name);
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  },
  set(name, value) {
    const file = join(cacheDir(), name);
    mkdirSync(join(file, '..'), { recursive: true });
    // a reader never sees half a table, even when two processes tune at once
    writeFileSync(file + '.tmp', value);
    renameSync(file + '.tmp', file);
  },
};

// Dawn's Node binding settles its promises (onSubmittedWorkDone, mapAsync, popErrorScope) by
// re-queueing a native callback through setImmediate for as long as any of them is pending: a busy
// loop on the main thread. It reads `setImmediate` from the global object on every tick, so
// wrapping the global reaches it; only native callbacks (the binding's) are rerouted, every other
// caller is passed straight through.
const nativeSetImmediate = globalThis.setImmediate;
// Atomics.wait on a word nobody writes: a sleep with sub-millisecond resolution (a timer's
// 1 ms floor makes every short wait 1 ms longer)
const napWord = new Int32Array(new SharedArrayBuffer(4));

function isNative(fn: unknown): boolean {
  return typeof fn === 'function' && fn.name === '' && Function.prototype.toString.call(fn).includes('[native code]');
}

const wait: WaitHooks = {
  hookTicks(enabled, beforeTick) {
    function throttledSetImmediate<A extends unknown[]>(fn: (...args: A) => void, ...args: A): NodeJS.Immediate {
      // enabled() first: under 'spin' no callback pays for isNative's toString
      if (enabled() && isNative(fn)) beforeTick();
      return nativeSetImmediate(fn, ...args);
    }
    (globalThis as { setImmediate: unknown }).setImmediate = Object.assign(throttledSetImmediate, nativeSetImmediate);
  },
  nap(ms) {
    Atomics.wait(napWord, 0, 0, ms);
  },
};

async function gpu(req: GpuRequest): Promise<GPU> {
  // Mesa's Vulkan loader warns on every start when this is unset.
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  // Loaded on first use: processes that never make a device (data loader workers, weight tools)
  // skip loading Dawn.
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const flags: string[] = [];
  if (req.backend) flags.push(`backend=${req.backend}`);
  if (req.adapter) flags.push(`adapter=${req.adapter}`);
  if (req.enableToggles?.length) flags.push(`enable-dawn-features=${req.enableToggles.join(',')}`);
  if (req.disableToggles?.length) flags.push(`disable-dawn-features=${req.disableToggles.join(',')}`);
  return create(flags);
}

const nativeCrc32 = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;

export const host: Host = {
  name: 'node',
  env: (name) => process.env[name],
  setEnv(name, value) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  },
  gpu,
  noAdapterMessage: (err) =>
    err
      ? `WebGPU: no adapter (${err.message}). Run \`bash scripts/setup.sh\` to install a Vulkan driver.`
      : 'WebGPU: no adapter found. Run `bash scripts/setup.sh` to install a Vulkan driver (Mesa lavapipe >= 24).',
  cache,
  wait,
  inflateRaw(data, maxOutputLength) {
    try {
      return zlib.inflateRawSync(data, { maxOutputLength });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return null;
      throw err;
    }
  },
  crc32: nativeCrc32 ? (d) => nativeCrc32(d) >>> 0 : null,
};
