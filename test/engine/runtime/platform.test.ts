// The host seam (engine/runtime/platform.ts): Node's host reads and writes process.env live and keeps the
// autotune cache where it always was; the browser's host (tested here on fakes of what a browser
// has) keeps its own environment, caches in localStorage or memory, takes its GPU from
// navigator.gpu and refuses Dawn's options by name. The bundle test runs the browser host on a
// real device (test/app/bundle.test.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { env, host, setEnv, setHost } from '../../../engine/runtime/platform.ts';
import { browserHost } from '../../../engine/runtime/platform-browser.ts';
import { withEnv } from '../../helpers/env.ts';

const t = suite('platform');

t("Node's host: process.env, the cache folder of WGT_CACHE_DIR or ~/.cache/wgt", () => {
  assert.is(host().name, 'node');
  withEnv('WGT_PLATFORM_TEST', 'a', () => {
    assert.is(env('WGT_PLATFORM_TEST'), 'a');
    setEnv('WGT_PLATFORM_TEST', 'b');
    assert.is(process.env.WGT_PLATFORM_TEST, 'b');
    setEnv('WGT_PLATFORM_TEST', undefined);
    assert.not.ok('WGT_PLATFORM_TEST' in process.env);
  });
  withEnv('WGT_CACHE_DIR', undefined, () => assert.is(host().cache.where('t.json'), join(homedir(), '.cache', 'wgt', 't.json')));
  withEnv('WGT_CACHE_DIR', '/some/dir', () => assert.is(host().cache.where('t.json'), '/some/dir/t.json'));
  assert.ok(host().wait && host().inflateRaw, 'Node polls through the wait hook and inflates with zlib');
});

t("a browser's host: its own environment, and the cache in localStorage or else in memory", () => {
  const b = browserHost();
  assert.is(b.env('WGT_WAIT'), undefined, 'starts empty, whatever process.env holds');
  b.setEnv('WGT_WAIT', 'spin');
  assert.is(b.env('WGT_WAIT'), 'spin');
  b.setEnv('WGT_WAIT', undefined);
  assert.is(b.env('WGT_WAIT'), undefined);
  assert.is(b.wait, null);
  assert.is(b.inflateRaw, null);

  const g = globalThis as { localStorage?: unknown };
  const had = Object.getOwnPropertyDescriptor(g, 'localStorage');
  try {
    Object.defineProperty(g, 'localStorage', { value: undefined, configurable: true });
    const mem = browserHost().cache;
    assert.is(mem.where('x.json'), 'memory:wgt/x.json');
    assert.is(mem.get('x.json'), undefined);
    mem.set('x.json', '{}');
    assert.is(mem.get('x.json'), '{}');

    const items = new Map<string, string>();
    let full = false;
    const store = {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => {
        if (full) throw new Error('QuotaExceededError');
        items.set(k, v);
      },
    };
    Object.defineProperty(g, 'localStorage', { value: store, configurable: true });
    const ls = browserHost().cache;
    assert.is(ls.where('x.json'), 'localStorage:wgt/x.json');
    ls.set('x.json', '{"a":1}');
    assert.is(items.get('wgt/x.json'), '{"a":1}');
    assert.is(ls.get('x.json'), '{"a":1}');
    full = true;
    ls.set('y.json', '{}');
    assert.is(ls.get('y.json'), undefined, 'over quota: kept in memory only');

    Object.defineProperty(g, 'localStorage', {
      get: () => {
        throw new Error('SecurityError');
      },
      configurable: true,
    });
    assert.is(browserHost().cache.where('x.json'), 'memory:wgt/x.json', 'a sandboxed frame falls back to memory');
  } finally {
    if (had) Object.defineProperty(g, 'localStorage', had);
    else delete g.localStorage;
  }
});

t("a browser's host: the GPU is navigator.gpu; Dawn's options are refused by name", async () => {
  const b = browserHost();
  const g = globalThis as { navigator?: unknown };
  const had = Object.getOwnPropertyDescriptor(g, 'navigator');
  try {
    Object.defineProperty(g, 'navigator', { value: {}, configurable: true });
    await b.gpu({}).then(
      () => assert.unreachable('no navigator.gpu'),
      (e: Error) => assert.match(e.message, /navigator\.gpu is missing/),
    );
    const fake = { requestAdapter: async () => null } as unknown as GPU;
    Object.defineProperty(g, 'navigator', { value: { gpu: fake }, configurable: true });
    assert.is(await b.gpu({ enableToggles: [] }), fake);
    await b.gpu({ backend: 'vulkan', adapter: 'x' }).then(
      () => assert.unreachable('Dawn options'),
      (e: Error) => assert.match(e.message, /backend, adapter choose Dawn's adapter in Node/),
    );
    assert.match(b.noAdapterMessage(null), /found no adapter/);
  } finally {
    if (had) Object.defineProperty(g, 'navigator', had);
    else delete g.navigator;
  }
});

t('setHost swaps the host that env() and the engine consult', () => {
  const b = browserHost();
  b.setEnv('WGT_PLATFORM_TEST', 'browser');
  const prev = setHost(b);
  try {
    assert.is(host(), b);
    assert.is(env('WGT_PLATFORM_TEST'), 'browser');
  } finally {
    setHost(prev);
  }
  assert.is(env('WGT_PLATFORM_TEST'), undefined);
});

t.run();
