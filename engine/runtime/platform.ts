// The host seam: what the engine and the libraries built on it (weight readers, data pipelines)
// need from their surroundings, where Node (Dawn through npm `webgpu`) and a browser (navigator.gpu) differ.
// Everything outside platform-node.ts and platform-browser.ts stays host-neutral and reaches the
// host only through here, so one source runs in both.
//
// Which host is the default is decided when modules are resolved, not at run time: this file
// imports ./platform-node.ts, and package.json's `browser` field maps that file (and its compiled
// dist/ copy) to ./platform-browser.ts. Bundlers targeting the browser (esbuild, Vite, webpack,
// Rollup's node-resolve) honour that field, so a browser bundle never sees the Node file or its
// node: imports; Node and tsx ignore the field and get Node's host synchronously, before any module
// reads the environment (the weight readers' limits do, long before a device exists).
// setHost() replaces the host, for a worker, another runtime or a test.
import { host as defaultHost } from './platform-node.ts';

/** Dawn's instance options (DeviceOptions); a browser has one WebGPU and takes none of them. */
export interface GpuRequest {
  backend?: string;
  adapter?: string;
  enableToggles?: string[];
  disableToggles?: string[];
}

/** Small persistent strings by name (the autotuner's tables). */
export interface KeyValueCache {
  /** Where entry `name` is kept, for messages and TuneResult.file (Node: its file path). */
  where(name: string): string;
  get(name: string): string | undefined;
  set(name: string, value: string): void;
}

/**
 * How the main thread may sleep while Dawn's Node binding polls a pending GPU operation (see
 * engine/runtime/wait.ts). Only that binding busy-polls; a browser settles WebGPU promises from its own
 * event loop and has no such hook.
 */
export interface WaitHooks {
  /** Calls `beforeTick` ahead of each of the binding's polling ticks while `enabled()` holds. */
  hookTicks(enabled: () => boolean, beforeTick: () => void): void;
  /** Blocks the calling thread for `ms` milliseconds (fractions allowed). */
  nap(ms: number): void;
}

export interface Host {
  readonly name: string;
  /** An environment variable (the engine's are WGT_*): process.env in Node, a settable map in a browser. */
  env(name: string): string | undefined;
  setEnv(name: string, value: string | undefined): void;
  /** The WebGPU entry point: Dawn created with `req`'s options in Node, navigator.gpu in a browser. */
  gpu(req: GpuRequest): Promise<GPU>;
  /** The error when no adapter is found: `err` is requestAdapter's rejection, null when it resolved to none. */
  noAdapterMessage(err: Error | null): string;
  readonly cache: KeyValueCache;
  readonly wait: WaitHooks | null;
  /**
   * A native raw-deflate decoder (zlib), or null to use the pure TypeScript one: the inflated bytes,
   * or null when they would exceed `maxOutputLength`; throws on corrupt data.
   */
  readonly inflateRaw: ((data: Uint8Array, maxOutputLength: number) => Uint8Array | null) | null;
  /** A native CRC-32 (zlib.crc32 where Node has it), or null to use the table-driven one. */
  readonly crc32: ((data: Uint8Array) => number) | null;
}

let current: Host = defaultHost;

export function host(): Host {
  return current;
}

/** Replaces the host (all of it: build one from `host()` to change a part); returns the previous one. */
export function setHost(h: Host): Host {
  const prev = current;
  current = h;
  return prev;
}

export function env(name: string): string | undefined {
  return current.env(name);
}

/** Sets (or with undefined, removes) an environment variable as env() sees it. */
export function setEnv(name: string, value: string | undefined): void {
  current.setEnv(name, value);
}
