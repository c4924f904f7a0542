// glass/engine-env.ts: the CLI's old GLASS_* names for engine settings still reach the engine
// (as WGT_*), a WGT_* value set explicitly wins, and the engine's cache follows glass-ts's.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { applyEngineEnv, LEGACY_ENGINE_VARS } from '../../glass/engine-env.ts';

const t = suite('glass engine-env');

t('GLASS_<name> is copied to an unset WGT_<name>; an explicit WGT_<name> wins', () => {
  const env: Record<string, string | undefined> = { GLASS_WAIT: 'spin', GLASS_MATMUL_VARIANT: 'a', WGT_MATMUL_VARIANT: 'b', GLASS_SHARED: '/x' };
  applyEngineEnv(env);
  assert.is(env.WGT_WAIT, 'spin');
  assert.is(env.WGT_MATMUL_VARIANT, 'b');
  assert.not.ok('WGT_SHARED' in env, 'only engine settings are aliased');
  assert.ok(LEGACY_ENGINE_VARS.includes('BACKEND'));
});

t("the engine's cache folder: WGT_CACHE_DIR, else GLASS_CACHE_DIR, else ~/.cache/glass-ts", () => {
  const a: Record<string, string | undefined> = {};
  applyEngineEnv(a);
  assert.is(a.WGT_CACHE_DIR, join(homedir(), '.cache', 'glass-ts'));
  const b: Record<string, string | undefined> = { GLASS_CACHE_DIR: '/g' };
  applyEngineEnv(b);
  assert.is(b.WGT_CACHE_DIR, '/g');
  const c: Record<string, string | undefined> = { GLASS_CACHE_DIR: '/g', WGT_CACHE_DIR: '/w' };
  applyEngineEnv(c);
  assert.is(c.WGT_CACHE_DIR, '/w');
});

t.run();
