// The web app as the flow tests open it: built into `outdir`, served, loaded at test sizes
// (?test=1), ready (body[data-state]), on the given tab.
import * as assert from 'uvu/assert';
import { buildApp } from '../../scripts/build-app.mjs';
import { openBrowser, type BrowserEnv, type BrowserSession } from './harness.ts';

export async function openApp(env: BrowserEnv, outdir: string, tab: 'demo' | 'own' | 'inspect'): Promise<BrowserSession> {
  const build = await buildApp({ outdir });
  assert.ok(build.ui);
  const s = await openBrowser(env, { root: outdir, path: '/?test=1' });
  await s.page.waitForFunction(() => document.body.dataset.state === 'ready' || document.body.dataset.state === 'error', { timeout: 30_000 });
  assert.is(await s.evaluate(() => document.body.dataset.state), 'ready');
  await s.page.click(`[data-tab="${tab}"]`);
  return s;
}
