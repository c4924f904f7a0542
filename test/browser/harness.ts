// Browser tests' harness: a static file server on 127.0.0.1 and a headless Chromium driven by
// puppeteer-core, with the page's console and errors collected and everything (page, browser and
// its process group, server, temporary profile) closed even when a test fails.
//
//   const env = await browserOrSkip('my suite');  // null (and a printed `skip: <reason>`) without
//   const test = env ? t : t.skip;                 // Chromium or puppeteer-core: tests count as skipped
//   test('...', () => withBrowser(env!, { root: pages, path: '/x.html' }, async (b) => {
//     const r = await b.evaluate((n) => globalThis.run(n), 3);
//     assert.equal(b.problems(), []);
//   }));
//
// Chromium: GLASS_CHROMIUM=<binary>, else chromium, chromium-browser, google-chrome(-stable) on
// PATH (scripts/setup.sh installs Debian's chromium). GLASS_BROWSER=0 skips the browser tests.
// WebGPU there needs --enable-unsafe-webgpu on Linux; Debian's build then runs it on its bundled
// SwiftShader (Vulkan on the CPU) when there is no GPU. Pages must come from the server (http on
// 127.0.0.1 is a secure context; about:blank is not and has no navigator.gpu).
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, extname, join, resolve, sep } from 'node:path';
import type { Browser, Page, PuppeteerNode } from 'puppeteer-core';

// ---------------------------------------------------------------------------------------------
// Static files

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
};

export function mimeType(path: string): string {
  return MIME[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

export interface ServeOptions {
  /** Folder served at '/' ('/' itself gives index.html). */
  root?: string;
  /** In-memory files by URL path ('/index.html'), served before `root`. */
  files?: Record<string, string | Uint8Array>;
  /** Extra headers on every response, e.g. COOP/COEP for crossOriginIsolated pages. */
  headers?: Record<string, string>;
}

export interface StaticServer {
  /** 'http://127.0.0.1:<port>' */
  origin: string;
  /** 'GET /path status' for every request, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves `root` and `files` on 127.0.0.1 on a free port; GET and HEAD only, no listings. */
export async function serveStatic(opts: ServeOptions): Promise<StaticServer> {
  const root = opts.root ? resolve(opts.root) : null;
  const requests: string[] = [];
  const send = (req: IncomingMessage, res: ServerResponse, status: number, type: string, body?: string | Uint8Array, file?: string) => {
    requests.push(`${req.method} ${req.url} ${status}`);
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...opts.headers });
    if (req.method === 'HEAD' || (body === undefined && file === undefined)) return void res.end();
    if (file === undefined) return void res.end(body);
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  };
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(req, res, 405, 'text/plain', 'method not allowed\n');
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return send(req, res, 400, 'text/plain', 'bad path\n');
    }
    if (path.endsWith('/')) path += 'index.html';
    const mem = opts.files?.[path];
    if (mem !== undefined) return send(req, res, 200, mimeType(path), mem);
    if (root) {
      const file = resolve(root, '.' + path);
      if (file.startsWith(root + sep) && existsSync(file) && statSync(file).isFile()) return send(req, res, 200, mimeType(file), undefined, file);
    }
    // Chromium asks for a favicon on its own: answer it without a 404 in the console.
    if (path === '/favicon.ico') return send(req, res, 204, 'image/x-icon');
    send(req, res, 404, 'text/plain', `not found: ${path}\n`);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as { port: number }).port;
  let closing: Promise<void> | null = null;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close() {
      closing ??= new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Finding Chromium and puppeteer-core

export interface BrowserEnv {
  executablePath: string;
  puppeteer: PuppeteerNode;
}

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** The Chromium binary to use, or why there is none. */
export function findChromium(): { path: string } | { reason: string } {
  const forced = process.env.GLASS_CHROMIUM;
  if (forced) return existsSync(forced) ? { path: forced } : { reason: `GLASS_CHROMIUM=${forced} does not exist` };
  for (const name of CANDIDATES) {
    const p = onPath(name);
    if (p) return { path: p };
  }
  return { reason: 'no chromium on PATH (npm run setup installs it on Debian; or set GLASS_CHROMIUM)' };
}

/** Why browser tests cannot run here, or the browser and driver to run them with. */
export async function browserEnv(): Promise<BrowserEnv | { reason: string }> {
  if (process.env.GLASS_BROWSER === '0') return { reason: 'browser tests disabled (GLASS_BROWSER=0)' };
  const found = findChromium();
  if ('reason' in found) return found;
  let puppeteer: PuppeteerNode;
  try {
    puppeteer = (await import('puppeteer-core')).default;
  } catch (err) {
    return { reason: `puppeteer-core cannot be loaded (npm ci): ${(err as Error).message.split('\n')[0]}` };
  }
  return { executablePath: found.path, puppeteer };
}

/**
 * The browser environment, or null after printing `  skip: [<label>: ]<reason>` (the suite's skip
 * style; called at a test file's top level, the line comes while files load, so name the suite).
 */
export async function browserOrSkip(label?: string): Promise<BrowserEnv | null> {
  const env = await browserEnv();
  if ('reason' in env) {
    console.log(`  skip: ${label ? `${label}: ` : ''}${env.reason}`);
    return null;
  }
  return env;
}

/** `chromium --version`, e.g. 'Chromium 156.0.8078.129 built on Debian GNU/Linux 12 (bookworm)'. */
export function chromiumVersion(env: BrowserEnv): string {
  const r = spawnSync(env.executablePath, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '').trim() || `unknown (${r.error?.message ?? r.stderr?.trim()})`;
}

// ---------------------------------------------------------------------------------------------
// A page in a fresh browser

/**
 * Flags, checked with Debian's chromium 156 as root without a GPU or display: --no-sandbox (root,
 * containers), --enable-unsafe-webgpu (Linux has WebGPU off without it), the network and update
 * flags (this machine refuses all but loopback; they keep Chromium from trying), and
 * --disable-dev-shm-usage (containers' /dev/shm is often 64 MiB). puppeteer adds --headless=new and
 * its own defaults. --disable-gpu, --use-webgpu-adapter=swiftshader, --use-angle=swiftshader and
 * --enable-features=Vulkan were all tried and are not needed: WebGPU lands on SwiftShader anyway.
 */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--disable-domain-reliability',
  '--disable-dev-shm-usage',
];

export interface ConsoleEntry {
  type: string;
  text: string;
  /** 'url:line' when Chromium gives one. */
  where?: string;
}

export interface OpenOptions extends ServeOptions {
  /** Path opened first ('/' by default). */
  path?: string;
  /** Flags after CHROMIUM_FLAGS. */
  args?: string[];
  /** Limit for launching, navigating and each evaluate (ms; 60 s by default). */
  timeoutMs?: number;
}

export interface BrowserSession {
  origin: string;
  page: Page;
  browser: Browser;
  server: StaticServer;
  /** Console messages of the page, in order. */
  console: ConsoleEntry[];
  /** Uncaught exceptions and unhandled rejections in the page. */
  pageErrors: string[];
  /** Requests that failed or got a status >= 400. */
  failedRequests: string[];
  /** Milliseconds spent launching Chromium, and loading the first page. */
  timings: { launchMs: number; loadMs: number };
  /** Opens `path` on the server and waits for its load event. */
  goto(path: string): Promise<void>;
  /**
   * Runs `fn` (or an expression) in the page and returns its JSON-able result, failing after
   * timeoutMs. tsx-compiled functions may call `__name`: the page has a no-op one.
   */
  evaluate<T, A extends unknown[]>(fn: ((...args: A) => T | Promise<T>) | string, ...args: A): Promise<T>;
  /** Console errors, page errors and failed requests: what a test usually wants to be empty. */
  problems(): string[];
  /** The last lines Chromium wrote to stderr (for failure messages; mostly D-Bus noise). */
  stderrTail(): string;
  /** Closes page, browser, server and profile dir; never throws, safe to call twice. */
  close(): Promise<void>;
}

const live = new Set<{ proc: ChildProcess | null; dir: string }>();
let exitHook = false;

/** Last resort when the test process exits with sessions still open (a crash or a hung test). */
function hookExit() {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const s of live) {
      killGroup(s.proc);
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
}

/** SIGKILL to Chromium's process group (puppeteer starts it detached, as a group leader); with
 * `stragglers`, also after the leader exited, for helpers it left (the group id stays taken while
 * any member lives, so this reaches only Chromium's own processes). */
function killGroup(proc: ChildProcess | null, stragglers = false) {
  if (!proc?.pid) return;
  if (!stragglers && (proc.exitCode !== null || proc.signalCode !== null)) return;
  if (stragglers) {
    if (groupSize(proc.pid) === 0) return;
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      /* no one left */
    }
    return;
  }
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    try {
      proc.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Processes in group `pgid` (Linux /proc; 0 where it cannot tell). */
function groupSize(pgid: number): number {
  let n = 0;
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after ')'
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) n++;
      } catch {
        /* gone meanwhile */
      }
    }
  } catch {
    return 0;
  }
  return n;
}

function exited(proc: ChildProcess | null, ms: number): Promise<boolean> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((ok) => {
    const timer = setTimeout(() => ok(false), ms);
    proc.once('exit', () => {
      clearTimeout(timer);
      ok(true);
    });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const limit = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Starts the server and Chromium and opens `opts.path`; close() the result (or use withBrowser). */
export async function openBrowser(env: BrowserEnv, opts: OpenOptions = {}): Promise<BrowserSession> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'glass-chromium-'));
  const entry = { proc: null as ChildProcess | null, dir };
  live.add(entry);
  hookExit();
  const consoleLog: ConsoleEntry[] = [];
  const pageErrors: string[] = [];
  const failedRequests: string[] = [];
  const stderr: string[] = [];
  let server: StaticServer | null = null;
  let browser: Browser | null = null;
  let closing: Promise<void> | null = null;

  const close = () =>
    (closing ??= (async () => {
      const proc = entry.proc;
      if (browser) await withTimeout(browser.close(), 5_000, 'browser.close()').catch(() => {});
      if (!(await exited(proc, 5_000))) {
        killGroup(proc);
        await exited(proc, 5_000);
      }
      killGroup(proc, true);
      await server?.close().catch(() => {});
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
        live.delete(entry); // else the exit hook tries once more
      } catch {
        /* reported by nothing: a leftover temp folder must not fail a test */
      }
    })());

  try {
    server = await serveStatic(opts);
    const t0 = performance.now();
    browser = await env.puppeteer
      .launch({
        executablePath: env.executablePath,
        headless: true,
        pipe: true, // DevTools over a pipe: no debugging port
        userDataDir: dir,
        args: [...CHROMIUM_FLAGS, ...(opts.args ?? [])],
        timeout: timeoutMs,
        protocolTimeout: timeoutMs + 10_000, // evaluate's own limit speaks first, naming the call
        env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() },
      })
      .catch((err: Error) => {
        throw new Error(`${env.executablePath} did not start under puppeteer: ${err.message}`, { cause: err });
      });
    entry.proc = browser.process();
    entry.proc?.stderr?.on('data', (b: Buffer) => {
      stderr.push(b.toString());
      if (stderr.length > 200) stderr.splice(0, stderr.length - 200);
    });
    const launchMs = performance.now() - t0;
    const [first] = await browser.pages();
    const page = first ?? (await browser.newPage());
    page.setDefaultTimeout(timeoutMs);
    page.on('console', (m) => {
      const loc = m.location();
      consoleLog.push({ type: m.type(), text: m.text(), where: loc?.url ? `${loc.url}:${loc.lineNumber ?? '?'}` : undefined });
    });
    page.on('pageerror', (e) => pageErrors.push(e instanceof Error ? (e.stack ?? e.message) : String(e)));
    page.on('requestfailed', (r) => failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText ?? 'failed'}`));
    page.on('response', (r) => {
      if (r.status() >= 400) failedRequests.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
    });
    await page.evaluateOnNewDocument('globalThis.__name ??= (f) => f;');
    const srv = server;
    const goto = async (path: string) => {
      const res = await page.goto(srv.origin + path, { waitUntil: 'load', timeout: timeoutMs });
      if (!res?.ok()) throw new Error(`GET ${path}: ${res?.status() ?? 'no response'}`);
    };
    const t1 = performance.now();
    await goto(opts.path ?? '/');
    const loadMs = performance.now() - t1;
    return {
      origin: srv.origin,
      page,
      browser,
      server: srv,
      console: consoleLog,
      pageErrors,
      failedRequests,
      timings: { launchMs, loadMs },
      goto,
      evaluate: <T, A extends unknown[]>(fn: ((...args: A) => T | Promise<T>) | string, ...args: A) =>
        withTimeout(
          (typeof fn === 'string' ? page.evaluate(fn) : page.evaluate(fn as (...a: unknown[]) => unknown, ...args)) as Promise<T>,
          timeoutMs,
          'page.evaluate',
        ),
      problems: () => [
        ...consoleLog.filter((c) => c.type === 'error').map((c) => `console.error: ${c.text}${c.where ? ` (${c.where})` : ''}`),
        ...pageErrors.map((e) => `page error: ${e}`),
        ...failedRequests.map((r) => `request: ${r}`),
      ],
      stderrTail: () => stderr.join('').split('\n').slice(-40).join('\n'),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** openBrowser, `fn`, then close() whatever `fn` did; the page's problems are added to a failure. */
export async function withBrowser<T>(env: BrowserEnv, opts: OpenOptions, fn: (b: BrowserSession) => Promise<T>): Promise<T> {
  const b = await openBrowser(env, opts);
  try {
    return await fn(b);
  } catch (err) {
    const extra = b.problems();
    if (extra.length && err instanceof Error) err.message += `\n    page problems:\n      ${extra.join('\n      ')}`;
    throw err;
  } finally {
    await b.close();
  }
}
