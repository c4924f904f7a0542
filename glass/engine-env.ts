// The engine reads its settings from WGT_* environment variables (docs/ENGINE.md). Before the
// engine had its own prefix they were GLASS_*; glass-ts's CLI and benchmarks keep accepting the
// old names, and keep the engine's caches (autotune results) under glass-ts's cache folder.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Engine settings once spelt GLASS_<name>. */
export const LEGACY_ENGINE_VARS = [
  'WAIT',
  'BACKEND',
  'ADAPTER',
  'ENABLE_TOGGLES',
  'DISABLE_TOGGLES',
  'LAYOUT_COPIES',
  'ELEMENTWISE_VARIANT',
  'REDUCE_VARIANT',
  'MATMUL_VARIANT',
] as const;

/** Copies GLASS_<name> to WGT_<name> where only the old name is set; WGT_CACHE_DIR defaults to glass-ts's. */
export function applyEngineEnv(env: Record<string, string | undefined> = process.env): void {
  for (const name of LEGACY_ENGINE_VARS) {
    const old = env[`GLASS_${name}`];
    if (old !== undefined && env[`WGT_${name}`] === undefined) env[`WGT_${name}`] = old;
  }
  env.WGT_CACHE_DIR ??= env.GLASS_CACHE_DIR ?? join(homedir(), '.cache', 'glass-ts');
}
