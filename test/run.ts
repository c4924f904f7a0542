// Test entry point (`npm test`): loads every test/**/*.test.ts into uvu's deferred queue, runs
// the suites one file at a time and ends with the plain `N passed, N failed` line CI reads.
// Optional arguments filter test files by substring: `npm test -- tensor matmul`.
//
// A full run splits the files between two processes (TEST_JOBS, default 2; 1 runs everything
// here). Why: on a machine without a shader cache (CI, a new user) most of the suite's time is
// lavapipe compiling pipelines with LLVM, one pipeline at a time per process, so a second process
// uses the second core. Files are balanced by their cold-run seconds (test/cold-seconds.json,
// written by `TEST_TIMES=test/cold-seconds.json` on a cold run); each process prints its files'
// output when it finishes, and the last line sums both.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));
const SUMMARY = '@@test-summary ';

function listTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  seconds: Record<string, number>;
}

/** Splits files into `jobs` groups of about equal cold-run seconds (longest first, to the lightest group). */
export function partition(files: string[], jobs: number, seconds: Record<string, number>): string[][] {
  const groups = Array.from({ length: jobs }, () => ({ files: [] as string[], load: 0 }));
  const cost = (f: string) => seconds[relative(root, f)] ?? 2;
  for (const f of [...files].sort((a, b) => cost(b) - cost(a) || a.localeCompare(b))) {
    const g = groups.reduce((a, b) => (b.load < a.load ? b : a));
    g.files.push(f);
    g.load += cost(f);
  }
  return groups.map((g) => g.files.sort());
}

/** Runs `files` in this process; prints uvu's output and returns the counts. */
async function runHere(files: string[]): Promise<Summary> {
  type Runner = () => Promise<[string | true, number, number, number]>;
  const g = globalThis as unknown as { UVU_DEFER: number; UVU_QUEUE: unknown[][]; UVU_INDEX: number };
  g.UVU_DEFER = 1;
  g.UVU_QUEUE = [];
  const s: Summary = { passed: 0, failed: 0, skipped: 0, seconds: {} };
  for (const [i, file] of files.entries()) {
    g.UVU_INDEX = i;
    g.UVU_QUEUE.push([relative(root, file)]);
    try {
      await import(pathToFileURL(file).href);
    } catch (err) {
      // A test file that fails to load counts as one failure, not a crash of the whole run.
      console.error(`\n  FAIL ${relative(root, file)}: could not be loaded\n    ${(err as Error).stack ?? err}`);
      s.failed++;
    }
  }
  for (const group of g.UVU_QUEUE) {
    const name = group.shift() as string;
    process.stdout.write(`${name}\n`);
    const tf = Date.now();
    for (const run of group as Runner[]) {
      const [errs, ran, skip, total] = await run();
      s.passed += ran;
      s.failed += total - ran;
      s.skipped += skip;
      if (errs !== true) process.stdout.write('\n' + errs + '\n');
    }
    s.seconds[name] = (Date.now() - tf) / 1000;
  }
  const { releaseDevice } = await import('../engine/runtime/device.ts').catch(() => ({ releaseDevice: undefined }));
  releaseDevice?.();
  return s;
}

/** Runs each group in a child process of this script; relays each one's output when it ends. */
async function runInChildren(groups: string[][]): Promise<Summary> {
  const total: Summary = { passed: 0, failed: 0, skipped: 0, seconds: {} };
  const self = fileURLToPath(import.meta.url);
  await Promise.all(
    groups.map(
      (files, i) =>
        new Promise<void>((resolve) => {
          const child = spawn(process.execPath, [...process.execArgv, self], {
            env: { ...process.env, TEST_CHILD_FILES: JSON.stringify(files) },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.stderr.on('data', (d) => (out += d));
          child.on('close', (code, signal) => {
            const line = out.split('\n').find((l) => l.startsWith(SUMMARY));
            process.stdout.write(
              `\n=== test process ${i + 1}/${groups.length} (${files.length} files) ===\n` +
                out
                  .split('\n')
                  .filter((l) => !l.startsWith(SUMMARY))
                  .join('\n'),
            );
            if (!line) {
              // a crashed process fails the run even if every test it reported passed
              process.stdout.write(`\n  FAIL test process ${i + 1} ended (${signal ?? `exit ${code}`}) without its summary\n`);
              total.failed++;
            } else {
              const s = JSON.parse(line.slice(SUMMARY.length)) as Summary;
              total.passed += s.passed;
              total.failed += s.failed;
              total.skipped += s.skipped;
              Object.assign(total.seconds, s.seconds);
            }
            resolve();
          });
        }),
    ),
  );
  return total;
}

const childFiles = process.env.TEST_CHILD_FILES;
if (childFiles) {
  const s = await runHere(JSON.parse(childFiles) as string[]);
  console.log(SUMMARY + JSON.stringify(s));
} else {
  const filters = process.argv.slice(2);
  const files = listTests(root).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
  const jobs = Math.max(1, Math.min(Number(process.env.TEST_JOBS ?? (filters.length ? 1 : 2)) || 1, files.length));
  const weights = join(root, 'cold-seconds.json');
  const t0 = Date.now();
  const s = jobs > 1 ? await runInChildren(partition(files, jobs, existsSync(weights) ? JSON.parse(readFileSync(weights, 'utf8')) : {})) : await runHere(files);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (process.env.TEST_TIMES) writeFileSync(process.env.TEST_TIMES, JSON.stringify(Object.fromEntries(Object.entries(s.seconds).sort()), null, 1) + '\n');
  const slow = Object.entries(s.seconds)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([n, t]) => `${n} ${t.toFixed(1)}s`)
    .join(', ');
  console.log(`\n${files.length} test files in ${secs}s${jobs > 1 ? ` (${jobs} processes)` : ''}; slowest: ${slow}`);
  console.log(`${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
  process.exitCode = s.failed > 0 ? 1 : 0;
}
