// Bundles a test page's TypeScript entry for the browser in memory (esbuild, as
// scripts/build-app.mjs does for app/lib.ts: platform 'browser', so package.json's `browser` field
// swaps in the browser host), for serveStatic's `files`. Cached per entry within a process.
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cache = new Map<string, Promise<{ js: string; ms: number }>>();

/** The bundled JS of `entry` (a path), one ESM file without a source map. */
export function bundlePage(entry: string): Promise<{ js: string; ms: number }> {
  let p = cache.get(entry);
  if (!p) {
    p = (async () => {
      const t0 = performance.now();
      const require = createRequire(import.meta.url);
      const esbuild = await import(pathToFileURL(createRequire(require.resolve('tsx/package.json')).resolve('esbuild')).href);
      const r = await esbuild.build({
        absWorkingDir: root,
        entryPoints: [relative(root, entry)],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        target: 'es2022',
        write: false,
        logLevel: 'silent',
      });
      return { js: r.outputFiles[0].text as string, ms: performance.now() - t0 };
    })();
    cache.set(entry, p);
  }
  return p;
}
