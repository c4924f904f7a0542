// The web app's "Inspect a checkpoint" flow in headless Chromium against the CLI: a tiny model
// trained by the CLI in-process (random MobileNet, TINY_TRAIN, a folder of good synthetic images,
// so the checkpoint carries a threshold) is chosen through the page's checkpoint file input
// (ElementHandle.uploadFile), PNGs through its image input, one of them RGBA with alpha from 0 to
// 255 (the CLI drops alpha; the page must decode to the same bytes, app/decode.ts). The page's
// per-image scores (window.glassApp.inspect.pred) must equal `glass predict`'s scores.csv within
// 1e-4, the heatmap and mask canvases are drawn, the image threshold slider moves the anomalous
// count as the scores say, and the page logs no errors. Skips without Chromium or puppeteer-core.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { ElementHandle } from 'puppeteer-core';
import { browserOrSkip, type BrowserSession } from './harness.ts';
import { openApp } from './app-page.ts';
import { writeSyntheticDataset } from '../../data/synthetic.ts';
import { readImage } from '../../data/image.ts';
import { cliCapture, TINY_TRAIN } from '../helpers/cli.ts';

const t = suite('browser: web app, inspect a checkpoint');
const env = await browserOrSkip('browser: web app, inspect a checkpoint');
const test = env ? t : t.skip;

let dir = '';
let session: BrowserSession | null = null;
t.after(async () => {
  await session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** An RGBA copy of an RGB PNG with alpha sweeping 0..255 (colour kept under it). */
function withAlpha(src: string, dst: string) {
  const img = readImage(src, 'rgb');
  const png = new PNG({ width: img.width, height: img.height, colorType: 6 });
  for (let p = 0; p < img.width * img.height; p++) {
    for (let c = 0; c < 3; c++) png.data[p * 4 + c] = img.data[p * 3 + c];
    png.data[p * 4 + 3] = (p * 7) % 256;
  }
  writeFileSync(dst, PNG.sync.write(png, { colorType: 6 }));
}

interface Canvas {
  w: number;
  h: number;
  colours: number;
  lit: number;
}

test('a CLI checkpoint scores uploaded PNGs as `glass predict` does; heatmaps, masks, threshold slider', async () => {
  const t0 = performance.now();
  dir = mkdtempSync(join(tmpdir(), 'glass-app-inspect-'));
  writeSyntheticDataset(join(dir, 'data'), { classes: ['button'], size: 64, train: 8, testGood: 1, testDefective: 3, seed: 5 });
  const log: string[] = [];
  const capture = cliCapture(log);
  const good = join(dir, 'data', 'button', 'train', 'good');
  assert.is(await capture(['train', '--data', good, ...TINY_TRAIN, '--out', join(dir, 'out')]), 0, log.join('\n'));
  const ck = join(dir, 'out', 'folder_good', 'ckpt_best.safetensors');
  // the images to score: some defective test images, one good, and an RGBA copy of a defective one
  const input = join(dir, 'input');
  mkdirSync(input);
  const testDir = join(dir, 'data', 'button', 'test');
  const picked: string[] = [];
  for (const d of readdirSync(testDir).sort()) {
    const f = readdirSync(join(testDir, d))
      .filter((n) => n.endsWith('.png'))
      .sort()[0];
    if (!f) continue;
    writeFileSync(join(input, `${d}_${f}`), readFileSync(join(testDir, d, f)));
    picked.push(`${d}_${f}`);
  }
  withAlpha(join(input, picked[picked.length - 1]!), join(input, 'alpha.png'));
  log.length = 0;
  assert.is(await capture(['predict', '--checkpoint', ck, '--input', input, '--out', join(dir, 'pred')]), 0, log.join('\n'));
  const rows = readFileSync(join(dir, 'pred', 'scores.csv'), 'utf8')
    .trim()
    .split('\n');
  assert.is(rows[0], 'file,score,anomalous');
  const cli = new Map(
    rows.slice(1).map((r) => {
      const [f, s] = r.split(',');
      return [f!, Number(s)];
    }),
  );
  const tCli = performance.now() - t0;

  session = await openApp(env!, join(dir, 'app'), 'inspect');
  const s = session;

  // the checkpoint through its file input
  const ckInput = (await s.page.$('#ins-ckpt')) as ElementHandle<HTMLInputElement> | null;
  await ckInput!.uploadFile(ck);
  await s.page.waitForFunction(
    () => {
      const a = (globalThis as unknown as { glassApp: { inspect: unknown; errors: string[] } }).glassApp;
      return a.inspect !== null || a.errors.length > 0;
    },
    { timeout: 20_000 },
  );
  const info = await s.evaluate(() => document.getElementById('ins-info')!.textContent ?? '');
  assert.match(info, /threshold image/, info);

  // the images through the image input
  const names = readdirSync(input).sort();
  const imgInput = (await s.page.$('#ins-files')) as ElementHandle<HTMLInputElement> | null;
  await imgInput!.uploadFile(...names.map((n) => join(input, n)));
  await s.page.waitForFunction(
    (n: number) => {
      const a = (globalThis as unknown as { glassApp: { inspect: { pred: unknown } | null; errors: string[] } }).glassApp;
      return (a.inspect?.pred && document.querySelectorAll('#results .tile').length === n) || a.errors.length > 0;
    },
    { timeout: 30_000 },
    names.length,
  );
  const page = await s.evaluate(() => {
    const a = (globalThis as unknown as { glassApp: { errors: string[]; inspect: { pictures: { name: string }[]; pred: { scores: Float32Array } } } }).glassApp;
    return { errors: a.errors, names: a.inspect.pictures.map((p) => p.name), scores: Array.from(a.inspect.pred.scores) };
  });
  assert.equal(page.errors, []);
  assert.equal(page.names, names);
  let worst = 0;
  page.names.forEach((n, i) => {
    const want = cli.get(n);
    assert.ok(want !== undefined, `${n} in scores.csv`);
    worst = Math.max(worst, Math.abs(page.scores[i]! - want!));
    assert.ok(Math.abs(page.scores[i]! - want!) <= 1e-4, `${n}: page ${page.scores[i]} vs CLI ${want}`);
  });

  // the slider: at each setting, the tiles marked anomalous are those scoring at or above it
  const sweep = await s.evaluate(() => {
    const el = document.getElementById('ins-image-thr') as HTMLInputElement;
    const pix = document.getElementById('ins-pixel-thr') as HTMLInputElement;
    const scores = Array.from((globalThis as unknown as { glassApp: { inspect: { pred: { scores: Float32Array } } } }).glassApp.inspect.pred.scores);
    const sorted = [...scores].sort((x, y) => x - y);
    const lo = Number(el.min);
    const hi = Number(el.max);
    const at = [lo, hi, Number(el.value), ...sorted.slice(1).map((v, i) => (v + sorted[i]!) / 2)];
    const out: { value: number; shown: number; want: number }[] = [];
    for (const v of at) {
      el.value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
      const value = Number(el.value);
      out.push({ value, shown: document.querySelectorAll('#results .tile.anomalous').length, want: scores.filter((x) => x >= value).length });
    }
    // the pixel threshold at its lowest: every mask has lit pixels
    pix.value = pix.min;
    pix.dispatchEvent(new Event('input', { bubbles: true }));
    const stats = (c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const colours = new Set<number>();
      let lit = 0;
      for (let i = 0; i < d.length; i += 4) {
        colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
        if (d[i]! > 0) lit++;
      }
      return { w: c.width, h: c.height, colours: colours.size, lit };
    };
    return {
      out,
      heat: [...document.querySelectorAll<HTMLCanvasElement>('#results canvas.heatmap')].map(stats),
      mask: [...document.querySelectorAll<HTMLCanvasElement>('#results canvas.mask')].map(stats),
    };
  });
  for (const o of sweep.out) assert.is(o.shown, o.want, `image threshold ${o.value}: ${o.shown} tiles anomalous, ${o.want} scores at or above`);
  const counts = sweep.out.map((o) => o.shown);
  assert.is(counts[0], names.length, 'all anomalous at the lowest setting');
  assert.is(counts[1], 0, 'none at the highest');
  assert.ok(new Set(counts).size >= 3, `the count moves with the slider: ${counts}`);
  assert.is(sweep.heat.length, names.length);
  assert.is(sweep.mask.length, names.length);
  for (const h of sweep.heat as Canvas[]) assert.ok(h.w === 64 && h.colours > 8, `heatmap drawn: ${JSON.stringify(h)}`);
  for (const m of sweep.mask as Canvas[]) assert.ok(m.w === 64 && m.lit > 0 && m.colours <= 2, `mask drawn: ${JSON.stringify(m)}`);
  assert.equal(s.problems(), []);
  console.log(
    `  ${names.length} images, page vs CLI scores within ${worst.toExponential(1)}; CLI ${(tCli / 1000).toFixed(1)} s, ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s in all`,
  );
});

t.run();
