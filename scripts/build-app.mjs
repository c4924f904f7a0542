// Browser build of the app library (`npm run build:app`): bundles app/lib.ts with esbuild (a
// dependency of tsx) for the browser into dist-app/glass-app.js (ESM, one file, with a source map)
// and fails when the bundle would need Node:
//  - a node: import or a bare built-in ('fs', 'zlib', ...): esbuild cannot resolve those for
//    platform 'browser', so the build itself fails, naming the importing file;
//  - a free reference to a Node global (process, Buffer, setImmediate, __dirname, ...): each is
//    defined to a marker while bundling (esbuild's define touches only unbound identifiers, not
//    strings or properties) and any marker left in the output is reported with its module;
//  - Node's host (engine/runtime/platform-node.ts) in the inputs, or the browser host missing from them:
//    package.json's `browser` field must have swapped one for the other.
// The engine, weight parsers, data transforms, LAS and GLASS bundle as they are: no shims, no
// polyfills, no externals.
// With the default entry it also builds the web app (app/main.ts, `npm run app`) into
// dist-app/glass-ui.js, beside a copy of app/index.html and app/style.css: the UI's own modules
// (app/*.ts) bundled, and its imports of app/lib.ts left as imports of ./glass-app.js, so the
// library is in the folder once. The same Node checks apply to the UI bundle, and it may hold
// nothing but app/ modules (anything else belongs in app/lib.ts). The folder works from any
// static host.
// Usage: node scripts/build-app.mjs        (test/app/bundle.test.ts calls buildApp() in-process)
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// esbuild as tsx depends on it (not a dependency of ours): resolved from tsx's own location, so
// it is found wherever npm placed it
const require = createRequire(import.meta.url);
const esbuild = await import(pathToFileURL(createRequire(require.resolve('tsx/package.json')).resolve('esbuild')).href);

/** Globals that exist in Node and not in a browser. */
export const NODE_GLOBALS = ['process', 'Buffer', 'setImmediate', 'clearImmediate', 'global', '__dirname', '__filename', 'require', 'module', 'exports'];
/** Modules that must never reach the browser graph. */
export const NODE_ONLY_INPUTS = ['engine/runtime/platform-node.ts', 'node_modules/webgpu/', 'node_modules/pngjs/', 'node_modules/jpeg-js/'];

const MARK = '__glass_node_global_';
/** The web app: its entry, and the static files copied beside the bundles. */
export const UI_ENTRY = 'app/main.ts';
export const UI_STATIC = ['app/index.html', 'app/style.css'];

/** The module of each problem in the unminified output: the nearest `// path` comment esbuild writes above each module. */
function moduleAt(text, index) {
  const before = text.slice(0, index);
  const m = [...before.matchAll(/^\/\/ ((?:[\w@.-]+\/)*[\w@.-]+\.[cm]?[jt]s)$/gm)].pop();
  return m ? m[1] : '(bundle)';
}

/** The problems that make a bundle's text or inputs need Node. */
function nodeProblems(text, inputs, { host = true } = {}) {
  const problems = [];
  for (const m of text.matchAll(new RegExp(`${MARK}(\\w+)`, 'g'))) problems.push(`${moduleAt(text, m.index)}: uses Node's global ${m[1]}`);
  for (const m of text.matchAll(/\b__require\b|\btypeof require\b|globalThis(?:\.|\[["'])(?:process|Buffer|setImmediate|require)\b/g)) {
    problems.push(`${moduleAt(text, m.index)}: ${m[0]} (a dynamic require or a Node global reached through globalThis)`);
  }
  for (const bad of NODE_ONLY_INPUTS) for (const f of inputs) if (f.startsWith(bad)) problems.push(`${f} is in the bundle (Node only)`);
  if (host && !inputs.includes('engine/runtime/platform-browser.ts'))
    problems.push("engine/runtime/platform-browser.ts is not in the bundle (package.json's `browser` field no longer maps the host?)");
  return problems;
}

/** esbuild for the browser, in memory; errors listed one a line. */
async function bundle(entry, outfile, plugins = []) {
  try {
    return await esbuild.build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      sourcemap: 'external',
      metafile: true,
      write: false,
      logLevel: 'silent',
      plugins,
      // require/module/exports stay esbuild's own: its CommonJS wrappers bind them, and a
      // require() it cannot resolve fails the build anyway
      define: Object.fromEntries(NODE_GLOBALS.filter((g) => !['require', 'module', 'exports'].includes(g)).map((g) => [g, MARK + g])),
    });
  } catch (err) {
    const lines = (err.errors ?? [{ text: err.message }]).map(
      (e) =>
        `  ${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}${/node:|resolve "/.test(e.text) ? ' (a Node module: keep it out of the browser graph)' : ''}`,
    );
    throw new Error(`build-app: esbuild failed:\n${lines.join('\n')}`);
  }
}

/** The app's imports of its library (./lib.ts) become imports of the library bundle beside it. */
const libAsBundle = {
  name: 'glass-lib-external',
  setup(build) {
    build.onResolve({ filter: /^\.\/lib(\.ts)?$/ }, (args) =>
      args.importer.startsWith(join(root, 'app')) ? { path: './glass-app.js', external: true } : undefined,
    );
  },
};

/**
 * Builds the bundle of `entry` (default app/lib.ts); with `write` (default) into `outdir` (default
 * dist-app/). Returns its size and inputs, or throws an Error listing every Node dependency found.
 * With the default entry (and `ui` not false) the web app is built too (`ui` in the result).
 */
export async function buildApp({ write = true, outdir = join(root, 'dist-app'), entry = 'app/lib.ts', ui = entry === 'app/lib.ts' } = {}) {
  const t0 = performance.now();
  const result = await bundle(entry, join(outdir, 'glass-app.js'));
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const text = js.text;
  const inputs = Object.keys(result.metafile.inputs);
  const problems = nodeProblems(text, inputs);
  let uiResult = null;
  if (ui) {
    uiResult = await bundle(UI_ENTRY, join(outdir, 'glass-ui.js'), [libAsBundle]);
    const uiJs = uiResult.outputFiles.find((f) => f.path.endsWith('.js'));
    const uiInputs = Object.keys(uiResult.metafile.inputs);
    problems.push(...nodeProblems(uiJs.text, uiInputs, { host: false }).map((p) => `(web app) ${p}`));
    for (const f of uiInputs)
      if (!f.startsWith('app/') || f === 'app/lib.ts') problems.push(`(web app) ${f} is bundled into glass-ui.js: import it through app/lib.ts`);
  }
  if (problems.length) throw new Error(`build-app: the bundle needs Node:\n${[...new Set(problems)].map((p) => `  ${p}`).join('\n')}`);
  if (write) {
    rmSync(outdir, { recursive: true, force: true });
    mkdirSync(outdir, { recursive: true });
    for (const f of [...result.outputFiles, ...(uiResult?.outputFiles ?? [])]) writeFileSync(f.path, f.contents);
    if (ui) for (const f of UI_STATIC) copyFileSync(join(root, f), join(outdir, f.slice(f.lastIndexOf('/') + 1)));
  }
  const minified = (await esbuild.transform(text, { minify: true, format: 'esm', target: 'es2022' })).code;
  const uiJs = uiResult?.outputFiles.find((f) => f.path.endsWith('.js'));
  return {
    file: js.path,
    bytes: js.contents.byteLength,
    minifiedBytes: Buffer.byteLength(minified),
    gzipBytes: gzipSync(minified).byteLength,
    inputs,
    ui: uiJs
      ? {
          file: uiJs.path,
          bytes: uiJs.contents.byteLength,
          inputs: Object.keys(uiResult.metafile.inputs),
          static: UI_STATIC.map((f) => join(outdir, f.slice(f.lastIndexOf('/') + 1))),
        }
      : null,
    ms: Math.round(performance.now() - t0),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const r = await buildApp();
    const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
    console.log(
      `build-app: ${r.file.slice(root.length + 1)}: ${kb(r.bytes)} (${kb(r.minifiedBytes)} minified, ${kb(r.gzipBytes)} gzipped), ` +
        `${r.inputs.length} modules, no Node dependencies (${r.ms} ms)`,
    );
    if (r.ui)
      console.log(`build-app: ${r.ui.file.slice(root.length + 1)}: ${kb(r.ui.bytes)} (web app, ${r.ui.inputs.length} modules), with index.html and style.css`);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
