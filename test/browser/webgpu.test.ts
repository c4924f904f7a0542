// WebGPU in headless Chromium (test/browser/harness.ts), without the engine: the page
// (test/browser/pages/webgpu.mjs) gets an adapter and a device and runs y = 2x + 1 over 1024 floats,
// a 64x64 matmul and, where the adapter has subgroups, a subgroupAdd; the results must match Node's.
// Prints the adapter, its features and the timings. Skips (counted as skipped) without Chromium or
// puppeteer-core.
import { suite } from 'uvu';
import { Rng } from '../../data/rng.ts';
import * as assert from 'uvu/assert';
import { resolve } from 'node:path';
import { browserOrSkip, chromiumVersion, openBrowser, type BrowserSession } from './harness.ts';

const t = suite('browser: WebGPU in Chromium');
const env = await browserOrSkip('browser: WebGPU in Chromium');
const test = env ? t : t.skip;
const pages = resolve(new URL('pages', import.meta.url).pathname);
/** Deterministic inputs, the same each run. */
const rngOf = (seed: number) => {
  const r = new Rng(seed);
  return () => r.random();
};

const r = rngOf(1234);
const N = 64;
const x = Array.from({ length: 1024 }, () => Math.fround((r() - 0.5) * 200));
const a = Array.from({ length: N * N }, () => Math.fround(r() * 2 - 1));
const b = Array.from({ length: N * N }, () => Math.fround(r() * 2 - 1));
const v = Array.from({ length: 256 }, () => Math.floor(r() * 1000));

interface Check {
  info: Record<string, string | number | boolean | undefined>;
  features: string[];
  limits: Record<string, number>;
  userAgent: string;
  y: number[];
  c: number[];
  subgroups: number[] | null;
  lost: string[];
  uncaptured: string[];
  ms: { adapterAndDevice: number; shaders: number };
}

let session: Promise<BrowserSession> | null = null;
let result: Promise<Check> | null = null;
let t0 = 0;
function check(): Promise<Check> {
  result ??= (async () => {
    t0 = performance.now();
    session = openBrowser(env!, { root: pages, path: '/webgpu.html' });
    const s = await session;
    return s.evaluate((input) => (globalThis as unknown as { webgpuCheck(i: unknown): Promise<Check> }).webgpuCheck(input), { x, a, b, n: N, v });
  })();
  return result;
}
t.after(async () => {
  await (await session?.catch(() => null))?.close();
});

test('the page gets a WebGPU adapter and device', async () => {
  const r = await check();
  const s = await session!;
  const i = r.info;
  console.log(`  ${chromiumVersion(env!)}`);
  console.log(
    `  adapter: vendor ${i.vendor || '?'}, architecture ${i.architecture || '?'}, device ${i.device || '?'}, description ${i.description || '?'}` +
      `, subgroup sizes ${i.subgroupMinSize ?? '?'}..${i.subgroupMaxSize ?? '?'}, fallback ${i.isFallbackAdapter ?? '?'}`,
  );
  const has = (f: string) => `${f} ${r.features.includes(f) ? 'yes' : 'no'}`;
  console.log(`  features: ${['subgroups', 'timestamp-query', 'shader-f16'].map(has).join(', ')}; all: ${r.features.join(' ')}`);
  console.log(
    `  limits: ${Object.entries(r.limits)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  console.log(
    `  ms: launch ${s.timings.launchMs.toFixed(0)}, page load ${s.timings.loadMs.toFixed(0)}, adapter+device ${r.ms.adapterAndDevice.toFixed(0)}, shaders ${r.ms.shaders.toFixed(0)}`,
  );
  assert.ok(r.features.length > 0);
  assert.ok(r.limits.maxStorageBufferBindingSize >= 128 << 20, 'the default limit at least');
});

test('y = 2x + 1 over 1024 floats matches Node exactly', async () => {
  const { y } = await check();
  assert.is(y.length, x.length);
  // 2x is exact in f32, so 2x + 1 rounds once, with or without a fused multiply-add.
  const bad = x.map((xi, k) => [k, y[k], Math.fround(2 * xi + 1)]).filter(([, got, want]) => got !== want);
  assert.equal(bad.slice(0, 5), [], `${bad.length} of ${x.length} differ ([index, page, node])`);
});

test('a 64x64 matmul matches float64 in Node within f32 rounding', async () => {
  const { c } = await check();
  assert.is(c.length, N * N);
  let worst = 0;
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      let want = 0,
        mag = 0;
      for (let k = 0; k < N; k++) {
        want += a[i * N + k] * b[k * N + j];
        mag += Math.abs(a[i * N + k] * b[k * N + j]);
      }
      // sequential f32 accumulation: |error| <= N * eps * sum |a b| (eps = 2^-24)
      const err = Math.abs(c[i * N + j] - want) / (mag * N * 2 ** -24);
      assert.ok(err <= 1, `c[${i}][${j}] = ${c[i * N + j]}, float64 ${want}`);
      worst = Math.max(worst, err);
    }
  }
  console.log(`  matmul: worst error ${(worst * 100).toFixed(1)}% of the f32 bound`);
});

test('subgroupAdd agrees with subgroup_size and the sum (where the adapter has subgroups)', async () => {
  const { subgroups: s, info, features } = await check();
  if (!features.includes('subgroups')) {
    assert.is(s, null);
    console.log('  skip: this adapter has no subgroups');
    return;
  }
  assert.ok(s && s.length === 3 * v.length);
  const sizes = new Set<number>();
  let total = 0;
  for (let k = 0; k < v.length; k++) {
    const [count, size, sum] = s.slice(3 * k, 3 * k + 3);
    assert.is(count, size, `invocation ${k}: subgroupAdd(1) = ${count}, subgroup_size ${size}`);
    if (typeof info.subgroupMinSize === 'number') assert.ok(size >= info.subgroupMinSize && size <= (info.subgroupMaxSize as number), `size ${size}`);
    sizes.add(size);
    total += sum / size; // each subgroup's sum is seen by each of its invocations
  }
  assert.is(
    total,
    v.reduce((p, q) => p + q, 0),
  );
  console.log(`  subgroups: size ${[...sizes].join(', ')}`);
});

test('no console errors, page errors, failed requests or device errors', async () => {
  const r = await check();
  const s = await session!;
  assert.equal(r.uncaptured, []);
  assert.equal(r.lost, []);
  assert.equal(s.problems(), []);
  const warnings = s.console.filter((m) => m.type === 'warn' || m.type === 'warning');
  if (warnings.length) console.log(`  console warnings: ${warnings.map((m) => m.text).join(' | ')}`);
  console.log(`  browser check: ${((performance.now() - t0) / 1000).toFixed(1)} s for launch, page and checks`);
});

t.run();
