// Pack-time build (`npm run build`; `npm pack` / `npm publish` run it as prepack): compiles
// engine/, glass/, models/ and data/ into dist/ as JavaScript + .d.ts (tsconfig.build.json), then
// patches what tsc cannot know about the packed layout:
//  - data/loader spawns its workers through ./worker-boot.mjs with the URL of ./loader-worker.ts.
//    The checkout's boot registers tsx for that .ts entry; dist/ gets a boot that imports the
//    compiled loader-worker.js instead, so the package needs no TypeScript loader at run time.
//  - the engine's declarations name WebGPU types (GPUBuffer, ...), which are globals from
//    @webgpu/types: each .d.ts that uses them references that package, so consumers' type checks
//    find them without adding it to their own `types`.
// Usage: node scripts/build.mjs
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const fail = (msg) => {
  console.error(`build: ${msg}`);
  process.exit(1);
};

rmSync(dist, { recursive: true, force: true });
const require = createRequire(import.meta.url);
const tsPkg = require.resolve('typescript/package.json');
const tsc = join(dirname(tsPkg), JSON.parse(readFileSync(tsPkg, 'utf8')).bin.tsc);
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) fail(`tsc -p tsconfig.build.json failed (${r.error?.message ?? `exit ${r.status}`})`);

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
const files = walk(dist);

// 1. The loader's worker boot for compiled code.
const loaderJs = join(dist, 'data/loader.js');
if (!existsSync(loaderJs) || !readFileSync(loaderJs, 'utf8').includes('./worker-boot.mjs')) {
  fail('dist/data/loader.js no longer starts its workers through ./worker-boot.mjs: update the boot written here');
}
writeFileSync(
  join(dist, 'data/worker-boot.mjs'),
  `\
// Entry of the DataLoader's worker threads in the packed package (written by scripts/build.mjs;
// the checkout's data/worker-boot.mjs registers tsx instead): the loader names its worker module
// by its source file, loader-worker.ts, which is compiled here to loader-worker.js.
import { workerData } from 'node:worker_threads';

await import(workerData.entry.replace(/\\.ts$/, '.js'));
`,
);

// 2. WebGPU type references in declarations.
let referenced = 0;
for (const f of files.filter((f) => f.endsWith('.d.ts'))) {
  const text = readFileSync(f, 'utf8');
  if (/\bGPU[A-Z]\w*/.test(text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''))) {
    writeFileSync(f, `/// <reference types="@webgpu/types" />\n${text}`);
    referenced++;
  }
}

// 3. Nothing may still load TypeScript at run time.
// (static `from '…'`, side-effect `import '…'` and dynamic `import('…')` of a relative .ts path,
// on lines that are not comments)
const tsSpecifier = /^(?!\s*(?:\/\/|\*))[^\n]*?(?:\bfrom\s*|^\s*import\s*|\bimport\(\s*)['"](\.{1,2}\/[^'"\n]*\.ts)['"]/m;
for (const f of files.filter((f) => f.endsWith('.js'))) {
  const m = tsSpecifier.exec(readFileSync(f, 'utf8'));
  if (m) fail(`${relative(root, f)} still imports ${m[1]}`);
}
const js = files.filter((f) => f.endsWith('.js')).length;
console.log(`build: dist/ has ${js} modules (+ .d.ts; ${referenced} reference @webgpu/types) and the worker boot`);
