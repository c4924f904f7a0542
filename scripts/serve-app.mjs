// `npm run app`: builds the web app (scripts/build-app.mjs: dist-app/index.html, glass-ui.js,
// glass-app.js, style.css) and serves dist-app/ on 127.0.0.1 (a secure context, so WebGPU and
// crypto.subtle are available), on --port N (default 8080, or PORT), falling back to a free port
// when that one is taken. Prints the URL; Ctrl-C stops it. The built folder works from any static
// host as well. Flags: --port N, --no-build (serve what dist-app/ holds).
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from './build-app.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'dist-app');
const argv = process.argv.slice(2);
const flag = (name) => {
  const i = argv.findIndex((a) => a === name || a.startsWith(name + '='));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
};
const port = Number(flag('--port') ?? process.env.PORT ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`serve-app: --port: expected 0..65535, got ${flag('--port')}`);
  process.exit(2);
}

if (!argv.includes('--no-build')) {
  try {
    const r = await buildApp();
    console.log(`serve-app: built ${(r.bytes / 1024).toFixed(0)} KiB library + ${((r.ui?.bytes ?? 0) / 1024).toFixed(0)} KiB app into dist-app/ (${r.ms} ms)`);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
if (!existsSync(join(dir, 'index.html'))) {
  console.error('serve-app: dist-app/index.html is missing: run without --no-build');
  process.exit(1);
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

const server = createServer((req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  let path;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('bad path\n');
    return;
  }
  if (path.endsWith('/')) path += 'index.html';
  const file = resolve(dir, '.' + path);
  if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
});

function listen(p) {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(p, '127.0.0.1', () => {
      server.off('error', fail);
      ok(server.address().port);
    });
  });
}

let actual;
try {
  actual = await listen(port);
} catch (err) {
  if (err.code !== 'EADDRINUSE' && err.code !== 'EACCES') throw err;
  actual = await listen(0);
  console.log(`serve-app: port ${port} is ${err.code === 'EADDRINUSE' ? 'taken' : 'not allowed'}: using ${actual}`);
}
console.log(`GLASS web app: http://127.0.0.1:${actual}/   (Ctrl-C stops; dist-app/ also works from any static host)`);
const stop = () => server.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
