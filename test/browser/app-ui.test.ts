// The web app (app/main.ts, `npm run app`) in headless Chromium (test/browser/harness.ts): built
// with scripts/build-app.mjs into a temporary folder and served, it runs the one-click demo at
// test sizes (?test=1: 32 px, 2 epochs, 8 training and 6 test images): the progress bar advances,
// the chart and heatmap canvases are drawn (their pixels read back), the checkpoint it makes
// carries the ModelSpec the CLI reads, and the page logs no errors. Also checks, in Node, that the
// page's colouring and geometry are the CLI's (glass/visualize.ts) and its hold-out split the
// CLI's. GLASS_SCREENSHOT=1 writes docs/app-screenshot.png of the demo at its own sizes (64 px crop,
// 24 training and 20 test images, 8 epochs), on the shared pretrained MobileNetV1 where it is at hand.
// Skips (counted as skipped) without Chromium or puppeteer-core.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildApp } from '../../scripts/build-app.mjs';
import { browserOrSkip, openBrowser, type BrowserSession } from './harness.ts';
import { overlayScale } from '../../app/visual.ts';
import { holdOutSplit } from '../../app/train.ts';
import { Rng } from '../../data/rng.ts';

const repo = resolve(new URL('../..', import.meta.url).pathname);
const t = suite('browser: web app');
const env = await browserOrSkip('browser: web app');
const test = env ? t : t.skip;
const SHOT = process.env.GLASS_SCREENSHOT === '1';

t('the colour scale is anchored at the threshold; the hold-out split is a seeded 10 %', () => {
  assert.equal(overlayScale({ pixel: 0.75, pixelNormal: 0.25 }), { base: 0.25, span: 1 });
  assert.equal(overlayScale(null), { base: 0, span: 1 });
  // holdOutSplit (glass/threshold.ts, the CLI's and the page's): round(10 %) (at least 2) of a seeded permutation (fork 7)
  const files = Array.from({ length: 25 }, (_, i) => `f${i}`);
  const order = new Rng(0).fork(7).permutation(25);
  const held = new Set(order.slice(0, 3));
  assert.equal(
    holdOutSplit(files, 0).heldOut,
    files.filter((_, i) => held.has(i)),
  );
  assert.is(holdOutSplit(files.slice(0, 4), 1).heldOut.length, 2);
});

let dir = '';
let session: BrowserSession | null = null;
t.after(async () => {
  await session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface PageState {
  state: string;
  progress: number;
  loss: number;
}

test('one-click demo: progress, chart, heatmaps, checkpoint, no errors', async () => {
  const t0 = performance.now();
  dir = mkdtempSync(join(tmpdir(), 'glass-app-ui-'));
  const build = await buildApp({ outdir: dir });
  assert.ok(build.ui, 'the web app is built');
  // the screenshot: a larger run, on the shared pretrained MobileNetV1 where it is at hand (loaded by URL)
  const shared = resolve(process.env.GLASS_SHARED ?? join(repo, '../shared'), 'weights/mobilenet_v1_1.0_224');
  const pretrained = SHOT && existsSync(join(shared, 'model.json'));
  const files = pretrained ? Object.fromEntries(readdirSync(shared).map((f) => [`/weights/${f}`, readFileSync(join(shared, f))])) : undefined;
  const query = SHOT ? `?epochs=8${pretrained ? '&weights=weights/model.json' : ''}` : '?test=1';
  session = await openBrowser(env!, { root: dir, files, path: `/${query}`, timeoutMs: SHOT ? 120_000 : 60_000 });
  const s = session;
  await s.page.setViewport({ width: SHOT ? 1040 : 1280, height: SHOT ? 1120 : 800 });
  await s.page.waitForFunction(() => document.body.dataset.state === 'ready' || document.body.dataset.state === 'error', { timeout: 30_000 });
  const banner = await s.evaluate(() => ({ hidden: document.getElementById('banner')!.hidden, text: document.getElementById('banner')!.textContent ?? '' }));
  assert.not.ok(banner.hidden, 'the weights banner is shown');
  assert.match(banner.text, pretrained ? /TF\.js model/ : /random/i);
  await s.page.click('#demo-run');
  const seen: number[] = [];
  let st: PageState = { state: '', progress: 0, loss: 0 };
  const deadline = performance.now() + (SHOT ? 110_000 : 40_000);
  while (performance.now() < deadline) {
    st = await s.evaluate(() => {
      const a = (globalThis as unknown as { glassApp: { state: string; chart: { loss: number[] } } }).glassApp;
      return { state: a.state, progress: (document.getElementById('progress') as HTMLProgressElement).value, loss: a.chart.loss.length };
    });
    if (seen[seen.length - 1] !== st.progress) seen.push(st.progress);
    if (st.state === 'done' || st.state === 'error') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const statusText = await s.evaluate(() => document.getElementById('train-status')!.textContent);
  assert.is(st.state, 'done', `the demo finished (status: ${statusText})`);
  assert.ok(
    seen.some((v) => v > 0 && v < 1),
    `the progress bar advanced in steps: ${seen.map((v) => v.toFixed(2)).join(' ')}`,
  );
  assert.is(seen[seen.length - 1], 1);
  assert.ok(st.loss >= 2, `${st.loss} losses charted`);

  const pixels = await s.evaluate(() => {
    const stats = (c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const colours = new Set<number>();
      let sum = 0;
      let sq = 0;
      for (let i = 0; i < d.length; i += 4) {
        colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        const v = d[i] + d[i + 1] + d[i + 2];
        sum += v;
        sq += v * v;
      }
      const n = d.length / 4;
      return { w: c.width, h: c.height, colours: colours.size, std: Math.sqrt(Math.max(sq / n - (sum / n) ** 2, 0)) };
    };
    const heat = [...document.querySelectorAll<HTMLCanvasElement>('#results canvas.heatmap')];
    return {
      chart: stats(document.getElementById('chart') as HTMLCanvasElement),
      heat: heat.map(stats),
      scores: [...document.querySelectorAll('#results .score')].map((e) => Number(e.textContent)),
      summary: document.getElementById('summary')!.textContent,
      timings: (globalThis as unknown as { glassApp: { timings: unknown } }).glassApp.timings,
    };
  });
  assert.ok(pixels.chart.colours > 20 && pixels.chart.std > 5, `chart drawn: ${JSON.stringify(pixels.chart)}`);
  const nTest = SHOT ? 20 : 6;
  assert.is(pixels.heat.length, nTest, 'a heatmap per test image');
  for (const h of pixels.heat) assert.ok(h.colours > 8 && h.std > 1, `heatmap drawn: ${JSON.stringify(h)}`);
  assert.ok(pixels.scores.every(Number.isFinite) && pixels.scores.length === nTest, `scores ${pixels.scores}`);
  assert.match(pixels.summary ?? '', /image AUROC/);

  // the checkpoint the download button saves: the CLI's format with a ModelSpec and a threshold
  const ckpt = await s.evaluate(async () => {
    (document.getElementById('train-save') as HTMLButtonElement).click();
    for (let i = 0; i < 100 && !(globalThis as { glassLastCheckpoint?: Uint8Array }).glassLastCheckpoint; i++) await new Promise((r) => setTimeout(r, 20));
    const b = (globalThis as { glassLastCheckpoint?: Uint8Array }).glassLastCheckpoint!;
    const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
    return { bytes: b.length, metadata: header.__metadata__ as Record<string, string>, keys: Object.keys(header).filter((k) => k !== '__metadata__') };
  });
  assert.is(ckpt.metadata.format, 'glass-ts/1');
  const meta = JSON.parse(ckpt.metadata.meta);
  assert.is(meta.model.backbone, 'mobilenet_v1');
  if (!pretrained) assert.equal(meta.model.weights, { kind: 'random', name: 'mobilenet_v1', seed: 0 });
  else assert.is(meta.model.weights.kind, 'tfjs');
  assert.ok(meta.model.threshold && meta.model.threshold.image > 0, 'a threshold from the good test images');
  assert.ok(ckpt.keys.includes('center') && ckpt.keys.some((k) => k.startsWith('discriminator.')));

  if (SHOT) {
    const file = join(repo, 'docs/app-screenshot.png');
    await s.page.screenshot({ path: file as `${string}.png`, clip: { x: 0, y: 0, width: 1040, height: 1120 } });
    console.log(`  screenshot: ${file} (${(statSync(file).size / 1024).toFixed(0)} KiB)`);
  }
  // the shared MobileNetV1 lacks one shard (conv_pw_13, unused): its 404 is expected
  assert.equal(
    s.problems().filter((p) => !(pretrained && /group37-shard1of1.*404|status of 404/.test(p))),
    [],
  );
  console.log(
    `  page: ${JSON.stringify(pixels.timings)} (ms per training iteration after the first, test images/s); ` +
      `progress ${seen.length} steps; ${((performance.now() - t0) / 1000).toFixed(1)} s in all`,
  );
});

t.run();
