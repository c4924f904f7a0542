// The browser harness itself: the static server (MIME types, in-memory files, no escape from its
// folder, 404s; runs without Chromium) and, with Chromium, that a page's console and errors are
// collected and that closing, also after a failing test body, leaves no browser process, profile
// folder or listening port behind.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserOrSkip, mimeType, openBrowser, serveStatic, withBrowser, type BrowserSession } from './harness.ts';

const server = suite('browser harness: static server');

/** True when nothing listens at `origin` any more. */
const refused = (origin: string) =>
  fetch(origin + '/').then(
    () => false,
    () => true,
  );

server('serves files with their MIME types, in-memory files first, and 404s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glass-serve-'));
  const files = { 'a.js': 'export const a = 1;', 'b.mjs': 'export {};', 'index.html': '<p>hi', 'm.wasm': '\0asm', 'p.png': '\x89PNG', 'x.bin': 'x' };
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  const s = await serveStatic({ root: dir, files: { '/mem.json': '{"ok":true}', '/a.js': 'export const a = 2;' }, headers: { 'x-test': 'yes' } });
  try {
    assert.match(s.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
    const get = async (path: string) => {
      const r = await fetch(s.origin + path);
      return { status: r.status, type: r.headers.get('content-type'), body: await r.text(), extra: r.headers.get('x-test') };
    };
    const want: [string, string][] = [
      ['/b.mjs', 'text/javascript; charset=utf-8'],
      ['/', 'text/html; charset=utf-8'],
      ['/index.html', 'text/html; charset=utf-8'],
      ['/m.wasm', 'application/wasm'],
      ['/p.png', 'image/png'],
      ['/x.bin', 'application/octet-stream'],
      ['/mem.json', 'application/json; charset=utf-8'],
    ];
    for (const [path, type] of want) {
      const r = await get(path);
      assert.is(r.status, 200, path);
      assert.is(r.type, type, path);
      assert.is(r.extra, 'yes');
    }
    const js = await get('/a.js');
    assert.is(js.type, 'text/javascript; charset=utf-8');
    assert.is(js.body, 'export const a = 2;', 'in-memory files win over the folder');
    assert.is((await get('/missing.js')).status, 404);
    assert.is((await get('/%2e%2e/%2e%2e/etc/passwd')).status, 404, 'no way out of the folder');
    assert.is((await get('/..%2f..%2fetc%2fpasswd')).status, 404);
    assert.is((await get('/favicon.ico')).status, 204);
    assert.is((await fetch(s.origin + '/a.js', { method: 'POST' })).status, 405);
    assert.ok(s.requests.includes('GET /missing.js 404'), s.requests.join(', '));
    assert.is(mimeType('X.MJS'), 'text/javascript; charset=utf-8');
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(await refused(s.origin), 'the port is closed');
  await s.close(); // twice is fine
});

server.run();

const b = suite('browser harness: Chromium');
const env = await browserOrSkip('browser harness: Chromium');
const test = env ? b : b.skip;

const PAGE = `<!doctype html><script type="module">
console.log('hello from the page');
console.error('an error in the console');
setTimeout(() => { throw new Error('thrown later'); });
</script><img src="/nope.png">`;

/** What a session leaves behind after close(): nothing. */
async function assertGone(s: BrowserSession, profile: string) {
  const proc = s.browser.process();
  assert.ok(proc && (proc.exitCode !== null || proc.signalCode !== null), 'the browser process has exited');
  assert.not.ok(existsSync(profile), `profile folder ${profile} removed`);
  assert.ok(await refused(s.origin), 'the server port is closed');
}

function profileOf(s: BrowserSession): string {
  const arg = s.browser.process()?.spawnargs.find((a) => a.startsWith('--user-data-dir='));
  assert.ok(arg, 'a --user-data-dir flag');
  return arg.slice('--user-data-dir='.length);
}

test('collects console messages, page errors and failed requests; evaluate runs in the page', async () => {
  const s = await openBrowser(env!, { files: { '/index.html': PAGE } });
  const profile = profileOf(s);
  try {
    assert.ok(existsSync(profile));
    assert.is(await s.evaluate(() => 6 * 7), 42);
    assert.is(await s.evaluate((p: number, q: string) => `${p}${q}`, 1, 'x'), '1x');
    assert.is(await s.evaluate('isSecureContext && location.hostname'), '127.0.0.1');
    // a function compiled by tsx calls __name for nested named functions and classes
    assert.is(
      await s.evaluate(() => {
        class K {
          v = 3;
        }
        function f() {
          return new K().v;
        }
        return f();
      }),
      3,
    );
    for (let k = 0; k < 250 && s.pageErrors.length === 0; k++) await new Promise((ok) => setTimeout(ok, 20));
    assert.ok(
      s.console.some((m) => m.type === 'log' && m.text === 'hello from the page'),
      JSON.stringify(s.console),
    );
    const p = s.problems();
    assert.ok(
      p.some((x) => x.startsWith('console.error: an error in the console')),
      p.join('\n'),
    );
    assert.ok(
      p.some((x) => x.startsWith('page error: ') && x.includes('thrown later')),
      p.join('\n'),
    );
    assert.ok(
      p.some((x) => x.startsWith('request: GET ') && x.endsWith('/nope.png: 404')),
      p.join('\n'),
    );
  } finally {
    await s.close();
  }
  await assertGone(s, profile);
  await s.close(); // twice is fine
});

test('withBrowser closes everything when the test body fails, and names the page problems', async () => {
  let seen: BrowserSession | null = null;
  const err = await withBrowser(env!, { files: { '/index.html': '<script>console.error("oops")</script>' } }, async (s) => {
    seen = s;
    await s.evaluate(() => 1);
    throw new Error('the test failed');
  }).catch((e: Error) => e);
  assert.instance(err, Error);
  assert.match((err as Error).message, /^the test failed\n {4}page problems:\n {6}console\.error: oops/);
  const s = seen as unknown as BrowserSession;
  await assertGone(s, profileOf(s));
});

test('a page that does not answer within timeoutMs fails evaluate, and closing still works', async () => {
  const s = await openBrowser(env!, { files: { '/index.html': '<p>' }, timeoutMs: 1000 });
  try {
    const e = await s.evaluate(() => new Promise(() => {})).catch((x: Error) => x);
    assert.instance(e, Error);
    assert.match((e as Error).message, /page\.evaluate took longer than 1000 ms/);
  } finally {
    await s.close();
  }
  await assertGone(s, profileOf(s));
});

b.run();
