// A browser's host (see platform.ts), which package.json's `browser` field puts in place of
// platform-node.ts: navigator.gpu, an environment that starts empty (setEnv fills it), the autotune
// tables in localStorage (in memory where there is none: workers, sandboxed frames), no wait hook
// (the browser settles WebGPU promises from its own event loop) and the pure TypeScript inflate.
// Nothing here may need Node: the app bundle check (scripts/build-app.mjs) fails on any node:
// import or Node global.
import type { GpuRequest, Host, KeyValueCache } from './platform.ts';

const PREFIX = 'wgt/';

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** localStorage when this context has a usable one (reading it throws in sandboxed frames). */
function localStore(): StorageLike | null {
  try {
    const s = (globalThis as { localStorage?: StorageLike }).localStorage;
    return s && typeof s.getItem === 'function' ? s : null;
  } catch {
    return null;
  }
}

function browserCache(): KeyValueCache {
  const memory = new Map<string, string>();
  const store = localStore();
  return {
    where: (name) => `${store ? 'localStorage' : 'memory'}:${PREFIX}${name}`,
    get: (name) => (store ? (store.getItem(PREFIX + name) ?? undefined) : memory.get(name)),
    set(name, value) {
      if (!store) return void memory.set(name, value);
      try {
        store.setItem(PREFIX + name, value);
      } catch {
        // over the origin's quota: the table is an optimisation, keep it for this page only
        memory.set(name, value);
      }
    },
  };
}

function gpu(req: GpuRequest): Promise<GPU> {
  const dawnOnly = (['backend', 'adapter', 'enableToggles', 'disableToggles'] as const).filter((k) => req[k] !== undefined && req[k]?.length !== 0);
  if (dawnOnly.length) {
    return Promise.reject(new Error(`WebGPU: ${dawnOnly.join(', ')} choose Dawn's adapter in Node; a browser offers only navigator.gpu (leave them unset)`));
  }
  const g = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!g) return Promise.reject(new Error('WebGPU: navigator.gpu is missing (this browser has no WebGPU, or the page is not a secure context)'));
  return Promise.resolve(g);
}

export function browserHost(): Host {
  const vars = new Map<string, string>();
  return {
    name: 'browser',
    env: (name) => vars.get(name),
    setEnv(name, value) {
      if (value === undefined) vars.delete(name);
      else vars.set(name, value);
    },
    gpu,
    noAdapterMessage: (err) =>
      err
        ? `WebGPU: no adapter (${err.message})`
        : 'WebGPU: navigator.gpu.requestAdapter() found no adapter (WebGPU disabled or the GPU blocklisted in this browser?)',
    cache: browserCache(),
    wait: null,
    inflateRaw: null,
    crc32: null,
  };
}

export const host: Host = browserHost();
