// The npm package: `npm pack` (its prepack builds dist/) gives a tarball holding only what runs (no
// tests, fixtures or bench), and that tarball, installed into an empty folder, works from plain
// Node without a TypeScript loader: the `glass-ts` bin prints its usage, `glass-ts/engine` runs a
// tensor round trip on the device, the other exports import, the data loader's worker threads
// start from the compiled layout (library and `glass-ts train`), and the declarations type-check
// for a strict consumer.
// Skips when npm is not on PATH. Needs the dependencies in npm's cache (`npm ci` put them there)
// or the registry.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const repo = resolve(new URL('../..', import.meta.url).pathname);
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
};

// Children get the caller's environment minus npm's own npm_* variables (set when this runs under
// `npm test`), which would otherwise configure the nested npm runs.
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
env.XDG_RUNTIME_DIR ??= '/tmp';
env.NO_UPDATE_NOTIFIER = '1';

function run(cmd: string, args: string[], cwd: string, timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.error) assert.unreachable(`${what}: ${r.error.message}`);
  if (r.status !== 0) assert.unreachable(`${what}: exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const npmVersion = run('npm', ['--version'], repo, 20_000);
const skip = npmVersion.error ? `npm is not on PATH (${npmVersion.error.message})` : null;
if (skip) console.log(`  skip: ${skip}`);

interface PackEntry {
  path: string;
  size: number;
}
let tmp = '';
let tarball = '';
let packed: PackEntry[] = [];
let consumer = '';

const PACK = suite('package: npm pack and a clean install');

PACK.before(() => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), 'glass-pack-'));
});

PACK.after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

PACK('npm pack builds dist/ and packs only what runs', () => {
  if (skip) return;
  const out = ok(run('npm', ['pack', '--json', '--pack-destination', tmp, '--loglevel=error'], repo, 120_000), 'npm pack');
  // prepack's own output may precede the JSON report
  const info = JSON.parse(out.slice(out.search(/^\[/m))) as { filename: string; files: PackEntry[] }[];
  tarball = join(tmp, info[0].filename);
  packed = info[0].files;
  assert.ok(existsSync(tarball), `tarball ${tarball}`);
  const paths = packed.map((f) => f.path);
  const bad = paths.filter((p) => /^(dist\/)?(test|bench|docs|results|scripts|\.ci)\//.test(p) || /fixtures|\.test\.|\.tsbuildinfo$|\.tgz$/.test(p));
  assert.equal(bad, [], 'no tests, fixtures, bench, docs, scripts or results');
  const sources = paths.filter((p) => /\.ts$/.test(p) && !p.endsWith('.d.ts'));
  assert.equal(sources, [], 'TypeScript sources are compiled, not shipped');
  const expected = ['package.json', ...Object.values(pkg.bin)];
  for (const e of Object.values(pkg.exports)) {
    if (typeof e === 'string') expected.push(e);
    else expected.push(e.types, e.default);
  }
  expected.push('dist/data/worker-boot.mjs', 'dist/data/loader-worker.js', 'dist/glass/cli.js');
  for (const e of expected) assert.ok(paths.includes(e.replace(/^\.\//, '')), `tarball has ${e}`);
});

PACK('the tarball installs into an empty folder', () => {
  if (skip) return;
  assert.ok(tarball, 'packed');
  consumer = join(tmp, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  ok(run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball], consumer, 120_000), 'npm install');
  assert.ok(existsSync(join(consumer, 'node_modules', pkg.name, 'package.json')));
});

PACK('`npx glass-ts --help` prints the usage and exits 0', () => {
  if (skip) return;
  assert.ok(consumer, 'installed');
  // --yes=false: never fetch a 'glass-ts' from the registry if the local bin were missing
  const out = ok(run('npx', ['--yes=false', 'glass-ts', '--help'], consumer), 'npx glass-ts --help');
  assert.match(out, /usage/i);
  for (const cmd of ['train', 'test', 'predict']) assert.ok(out.includes(cmd), `usage names ${cmd}`);
});

PACK('glass-ts/engine runs a tensor round trip from plain Node', () => {
  if (skip) return;
  assert.ok(consumer, 'installed');
  const code =
    "import * as E from 'glass-ts/engine'; await E.initDevice(); const t = E.tensor([1,2,3]); console.log(JSON.stringify(await t.toArray())); E.releaseDevice()";
  const out = ok(run(process.execPath, ['--input-type=module', '-e', code], consumer), 'node -e (glass-ts/engine)');
  assert.equal(out.trim().split('\n').pop(), '[1,2,3]');
});

PACK('glass-ts/glass, /models and /data import; the DataLoader runs a worker thread', () => {
  if (skip) return;
  assert.ok(consumer, 'installed');
  // a module file, not `node --input-type=module -e`: worker threads inherit the parent's execArgv,
  // and --input-type is rejected outside -e
  writeFileSync(
    join(consumer, 'check.mjs'),
    `
    import { Glass, trainClass, saveCheckpoint, loadCheckpoint } from 'glass-ts/glass';
    import { createBackbone, BACKBONES } from 'glass-ts/models';
    import { writeSyntheticDataset, AnomalyDataset, DataLoader } from 'glass-ts/data';
    for (const [n, v] of Object.entries({ Glass, trainClass, saveCheckpoint, loadCheckpoint, createBackbone, writeSyntheticDataset, AnomalyDataset, DataLoader }))
      if (typeof v !== 'function') throw new Error(n + ' is ' + typeof v);
    const root = ${JSON.stringify(join(tmp, 'synth'))};
    writeSyntheticDataset(root, { classes: ['button'], size: 64, train: 4, testGood: 2, testDefective: 2, seed: 1 });
    const ds = AnomalyDataset.open({ kind: 'mvtec', root, className: 'button', split: 'test', resize: 32, imagesize: 32, warn: () => {} });
    const dl = new DataLoader(ds, { batchSize: 2, workers: 1 });
    const shapes = [];
    for await (const b of dl.epoch(0)) shapes.push(b.shape.join('x'));
    await dl.close();
    console.log(BACKBONES.length > 0, shapes.join(','));
  `,
  );
  const out = ok(run(process.execPath, ['check.mjs'], consumer), 'node check.mjs (glass, models, data)');
  assert.equal(out.trim().split('\n').pop(), 'true 2x3x32x32,2x3x32x32');
});

PACK('`glass-ts train` runs one tiny epoch with its default worker thread', () => {
  if (skip) return;
  assert.ok(consumer && existsSync(join(tmp, 'synth')), 'installed, dataset written');
  const out = join(tmp, 'results');
  ok(
    run(
      'npx',
      [
        '--yes=false',
        'glass-ts',
        'train',
        '--data',
        join(tmp, 'synth'),
        '-d',
        'button',
        '--random_backbone',
        '-b',
        'resnet18',
        '--resize',
        '64',
        '--imagesize',
        '64',
        '--meta_epochs',
        '1',
        '--limit',
        '4',
        '--batch_size',
        '2',
        '--svd',
        '0',
        '--pretrain_embed_dimension',
        '32',
        '--target_embed_dimension',
        '32',
        '--dsc_hidden',
        '32',
        '--out',
        out,
      ],
      consumer,
      120_000,
    ),
    'glass-ts train',
  );
  assert.ok(existsSync(join(out, 'results.csv')), 'results.csv written');
});

PACK('the declarations type-check for a strict NodeNext consumer, WebGPU types included', () => {
  if (skip) return;
  assert.ok(consumer, 'installed');
  const require = createRequire(import.meta.url);
  const tsPkg = require.resolve('typescript/package.json');
  const tsc = join(dirname(tsPkg), (JSON.parse(readFileSync(tsPkg, 'utf8')) as { bin: { tsc: string } }).bin.tsc);
  writeFileSync(
    join(consumer, 'use.ts'),
    [
      "import * as E from 'glass-ts/engine';",
      "import { Glass, trainClass, type ClassResult } from 'glass-ts/glass';",
      "import { createBackbone, type Backbone } from 'glass-ts/models';",
      "import { DataLoader, type Batch } from 'glass-ts/data';",
      'await E.initDevice();',
      'const t: E.Tensor = E.tensor([1, 2, 3]);',
      'const a: unknown = await t.toArray();',
      'const buf: GPUBuffer = t.buffer;',
      '// @ts-expect-error: a GPUBuffer is not a number (unused if the declarations degraded to any)',
      'const n: number = t.buffer;',
      '// @ts-expect-error: tensor() takes numbers',
      "E.tensor('x');",
      'const b: Backbone | null = null;',
      'const r: ClassResult | null = null;',
      'const x: Batch | null = null;',
      'console.log(a, buf, n, b, r, x, Glass, trainClass, createBackbone, DataLoader);',
      '',
    ].join('\n'),
  );
  // skipLibCheck as most projects (and this one) set it: @webgpu/types itself needs lib.dom, whose
  // own WebGPU declarations (TypeScript >= 6) then clash with it. The expect-errors above fail if
  // the package's declarations did not resolve.
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        lib: ['ES2022', 'ESNext.Disposable'],
        types: ['node'],
        typeRoots: [join(repo, 'node_modules/@types')],
      },
      files: ['use.ts'],
    }),
  );
  ok(run(process.execPath, [tsc, '-p', consumer], consumer), 'tsc (consumer)');
});

PACK.run();
