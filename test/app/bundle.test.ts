// The browser build of the app library (scripts/build-app.mjs): app/lib.ts bundles for the
// browser with no Node built-in, Node global or Node-only module, the check names what it finds
// when one creeps in, and the bundle runs in plain Node as ESM (no TypeScript loader), taking its
// device from navigator.gpu, with exactly the results of the Node build (Node's host: Dawn, the
// wait hook, zlib) on the same steps.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildApp, type AppBuild } from '../../scripts/build-app.mjs';

const repo = resolve(new URL('../..', import.meta.url).pathname);
const smoke = join(repo, 'test/app/smoke.mjs');

const t = suite('app: browser bundle');
let dir = '';
let build: AppBuild;

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'glass-app-'));
  build = await buildApp({ outdir: dir });
});
t.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs a script with node and `args`; its last stdout line parsed as JSON. */
function runNode(args: string[]): Promise<unknown> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, args, { cwd: repo, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', rej);
    p.on('close', (code) => {
      if (code !== 0) return rej(new Error(`node ${args.join(' ')}: exit ${code}\n${out}\n${err}`));
      try {
        res(JSON.parse(out.trim().split('\n').pop()!));
      } catch {
        rej(new Error(`node ${args.join(' ')}: no JSON result\n${out}\n${err}`));
      }
    });
  });
}

t('app/lib.ts bundles for the browser: no Node built-ins, globals or Node-only modules', () => {
  // buildApp throws on any of them; what the browser app needs is in, the Node side is not
  for (const m of [
    'engine/runtime/platform-browser.ts',
    'engine/runtime/device.ts',
    'engine/runtime/autotune.ts',
    'models/backbones.ts',
    'models/io/torch.ts',
    'models/io/inflate.ts',
    'models/io/tfjs.ts',
    'data/las.ts',
    'data/transforms.ts',
    'data/synthetic-render.ts',
    'glass/glass.ts',
    'glass/loop.ts',
    'glass/checkpoint-bytes.ts',
    'glass/metrics.ts',
  ])
    assert.ok(build.inputs.includes(m), `${m} is bundled`);
  for (const m of [
    'engine/runtime/platform-node.ts',
    'models/io/files.ts',
    'models/io/atomic.ts',
    'models/registry.ts',
    'models/weights-cache.ts',
    'data/image.ts',
    'data/synthetic.ts',
    'data/datasets.ts',
    'data/loader.ts',
    'glass/checkpoint.ts',
    'glass/trainer.ts',
  ])
    assert.not.ok(build.inputs.includes(m), `${m} (Node) is not bundled`);
  assert.ok(build.bytes > 200 << 10 && build.bytes < 1 << 20, `bundle of ${build.bytes} bytes`);
  console.log(
    `  app bundle: ${(build.bytes / 1024).toFixed(0)} KiB, ${(build.minifiedBytes / 1024).toFixed(0)} KiB minified, ` +
      `${(build.gzipBytes / 1024).toFixed(0)} KiB gzipped, ${build.inputs.length} modules, ${build.ms} ms`,
  );
});

t('the check names each Node import and global it finds', async () => {
  const globals = join(dir, 'globals.ts');
  writeFileSync(
    globals,
    "export const f = () => `${process.env.X} ${typeof Buffer} ${typeof setImmediate}`;\nexport const s = 'process.env in a string is fine';\n",
  );
  const err = await buildApp({ write: false, entry: globals }).then(
    () => null,
    (e: Error) => e.message,
  );
  assert.ok(err, 'Node globals are refused');
  for (const g of ['process', 'Buffer', 'setImmediate']) assert.match(err!, new RegExp(`globals\\.ts: uses Node's global ${g}`));
  const imports = join(dir, 'imports.ts');
  writeFileSync(imports, `export { readSafetensors } from '${join(repo, 'models/io/files.ts')}';\n`);
  const err2 = await buildApp({ write: false, entry: imports }).then(
    () => null,
    (e: Error) => e.message,
  );
  assert.match(err2 ?? '', /models\/io\/files\.ts:\d+: Could not resolve "node:fs"/);
});

t("the bundle runs in plain Node on navigator.gpu with the Node build's exact results", async () => {
  const [browser, node] = (await Promise.all([runNode([smoke, build.file]), runNode(['--import', 'tsx', smoke, join(repo, 'app/lib.ts')])])) as {
    host: string;
    las: unknown;
    gpu: { scores: number[]; reloadedScores: number[]; losses: number[]; spec: string };
  }[];
  assert.is(browser.host, 'browser');
  assert.is(node.host, 'node');
  assert.equal(browser.las, node.las, 'LAS with the built-in textures');
  assert.equal(browser.gpu, node.gpu, 'training steps, scores and the checkpoint round trip');
  assert.equal(browser.gpu.reloadedScores, browser.gpu.scores, 'a checkpoint in memory reloads the same model');
  assert.ok(browser.gpu.losses.every(Number.isFinite));
  assert.is(browser.gpu.spec, 'resnet18');
});

t.run();
