// Test entry point (`npm test`): loads every test/**/*.test.ts into uvu's deferred queue,
// runs the suites one file at a time and ends with the plain `N passed, N failed` line CI reads.
// Optional arguments filter test files by substring: `npm test -- tensor matmul`.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('.', import.meta.url).pathname;

function listTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = listTests(root).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));

type Runner = () => Promise<[string | true, number, number, number]>;
const g = globalThis as unknown as { UVU_DEFER: number; UVU_QUEUE: unknown[][]; UVU_INDEX: number };
g.UVU_DEFER = 1;
g.UVU_QUEUE = [];

let passed = 0,
  failed = 0,
  skipped = 0;
const t0 = Date.now();
for (const [i, file] of files.entries()) {
  g.UVU_INDEX = i;
  g.UVU_QUEUE.push([relative(root, file)]);
  try {
    await import(pathToFileURL(file).href);
  } catch (err) {
    // A test file that fails to load counts as one failure, not a crash of the whole run.
    console.error(`\n  FAIL ${relative(root, file)}: could not be loaded\n    ${(err as Error).stack ?? err}`);
    failed++;
  }
}
const slow: [string, number][] = [];
for (const group of g.UVU_QUEUE) {
  const name = group.shift() as string;
  process.stdout.write(`${name}\n`);
  const tf = Date.now();
  for (const run of group as Runner[]) {
    const [errs, ran, skip, total] = await run();
    passed += ran;
    failed += total - ran;
    skipped += skip;
    if (errs !== true) process.stdout.write('\n' + errs + '\n');
  }
  slow.push([name, (Date.now() - tf) / 1000]);
}
const secs = ((Date.now() - t0) / 1000).toFixed(1);
const { releaseDevice } = await import('../engine/runtime/device.ts').catch(() => ({ releaseDevice: undefined }));
releaseDevice?.();
console.log(
  `\n${files.length} test files in ${secs}s; slowest: ${slow
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([n, t]) => `${n} ${t.toFixed(1)}s`)
    .join(', ')}`,
);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 ? 1 : 0;
