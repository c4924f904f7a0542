// The web app's "Train on your images" flow in headless Chromium, ending in the CLI: a folder's
// worth of good PNGs chosen through the page's image input (ElementHandle.uploadFile, several
// files), trained at the test sizes (?test=1: 32 px, 2 epochs), 10 % (at least 2) held out for
// the threshold as the CLI does; the checkpoint the download button saves
// (globalThis.glassLastCheckpoint, the bytes handed to the download) written to a file and used by
// `glass predict --checkpoint FILE --input DIR` in-process: exit 0, and scores.csv has the yes/no
// column because the checkpoint carries a threshold. Skips without Chromium or puppeteer-core.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ElementHandle } from 'puppeteer-core';
import { browserOrSkip, type BrowserSession } from './harness.ts';
import { openApp } from './app-page.ts';
import { writeSyntheticDataset } from '../../data/synthetic.ts';
import { readCheckpointSpec } from '../../glass/checkpoint.ts';
import { cliCapture } from '../helpers/cli.ts';

const t = suite('browser: web app, train on your images');
const env = await browserOrSkip('browser: web app, train on your images');
const test = env ? t : t.skip;

let dir = '';
let session: BrowserSession | null = null;
t.after(async () => {
  await session?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('uploaded good PNGs train in the page; its checkpoint runs `glass predict` with a threshold', async () => {
  const t0 = performance.now();
  dir = mkdtempSync(join(tmpdir(), 'glass-app-own-'));
  writeSyntheticDataset(join(dir, 'data'), { classes: ['woodgrain'], size: 48, train: 10, testGood: 1, testDefective: 2, seed: 3 });
  const good = join(dir, 'data', 'woodgrain', 'train', 'good');
  const files = readdirSync(good)
    .filter((n) => n.endsWith('.png'))
    .sort();
  assert.is(files.length, 10);

  session = await openApp(env!, join(dir, 'app'), 'own');
  const s = session;
  const input = (await s.page.$('#own-files')) as ElementHandle<HTMLInputElement> | null;
  await input!.uploadFile(...files.map((f) => join(good, f)));
  await s.page.waitForFunction(
    () =>
      !(document.getElementById('own-train') as HTMLButtonElement).disabled ||
      (globalThis as unknown as { glassApp: { errors: string[] } }).glassApp.errors.length > 0,
    { timeout: 20_000 },
  );
  const info = await s.evaluate(() => document.getElementById('own-info')!.textContent ?? '');
  assert.match(info, /10 good images: 8 to train on, 2 held out/, info);

  await s.page.click('#own-train');
  await s.page.waitForFunction(
    () => {
      const st = (globalThis as unknown as { glassApp: { state: string } }).glassApp.state;
      return st === 'done' || st === 'error';
    },
    { timeout: 40_000 },
  );
  const done = await s.evaluate(() => ({
    state: (globalThis as unknown as { glassApp: { state: string } }).glassApp.state,
    status: document.getElementById('train-status')!.textContent ?? '',
  }));
  assert.is(done.state, 'done', done.status);
  assert.match(done.status, /threshold from 2 held-out images/);
  const tTrain = performance.now() - t0;

  // the download button's bytes
  const b64 = await s.evaluate(async () => {
    (document.getElementById('train-save') as HTMLButtonElement).click();
    for (let i = 0; i < 200 && !(globalThis as { glassLastCheckpoint?: Uint8Array }).glassLastCheckpoint; i++) await new Promise((r) => setTimeout(r, 20));
    const b = (globalThis as { glassLastCheckpoint?: Uint8Array }).glassLastCheckpoint!;
    let str = '';
    for (let i = 0; i < b.length; i += 0x8000) str += String.fromCharCode(...b.subarray(i, i + 0x8000));
    return btoa(str);
  });
  const ck = join(dir, 'folder_images_ckpt_best.safetensors');
  writeFileSync(ck, Buffer.from(b64, 'base64'));
  const spec = readCheckpointSpec(ck);
  assert.ok(spec?.threshold, 'the checkpoint carries a threshold');
  assert.is(spec!.threshold!.images, 2);
  assert.is(spec!.weights.kind, 'random');

  // the CLI scores a folder with it
  const log: string[] = [];
  const code = await cliCapture(log)([
    'predict',
    '--checkpoint',
    ck,
    '--input',
    join(dir, 'data', 'woodgrain', 'test', readdirSync(join(dir, 'data', 'woodgrain', 'test')).sort()[0]!),
    '--out',
    join(dir, 'pred'),
  ]);
  assert.is(code, 0, log.join('\n'));
  assert.not.match(log.join('\n'), /warning/i);
  const rows = readFileSync(join(dir, 'pred', 'scores.csv'), 'utf8')
    .trim()
    .split('\n');
  assert.is(rows[0], 'file,score,anomalous');
  assert.ok(rows.length > 1);
  for (const r of rows.slice(1)) {
    const [, score, flag] = r.split(',');
    assert.is(flag, Number(score) >= spec!.threshold!.image ? 'yes' : 'no', r);
  }
  assert.equal(s.problems(), []);
  console.log(
    `  10 images uploaded, trained in the page in ${(tTrain / 1000).toFixed(1)} s (build, launch included); ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s in all`,
  );
});

t.run();
