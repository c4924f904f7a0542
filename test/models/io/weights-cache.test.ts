// Weight cache against a loopback HTTP server on 127.0.0.1: download through a redirect with
// progress, cache hits, re-download of a corrupted cache, imports, hash mismatches, HTTP errors.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultWeightsDir, ensureWeights, hashPrefixOf, resolveBackbone, sha256File } from '../../../models/weights-cache.ts';
import { errorOf, errorOfAsync, tempDir } from './util.ts';

const test = suite('models/io/weights-cache');

// A deterministic 200 kB "checkpoint" and the torchvision-style name carrying its hash prefix.
const content = Buffer.alloc(200_000);
for (let i = 0; i < content.length; i++) content[i] = (i * 2654435761) >>> 24;
const sha = createHash('sha256').update(content).digest('hex');
const good = `tiny-${sha.slice(0, 8)}.pth`;
let server: Server;
let base = '';
let hits = 0;

test.before(async () => {
  server = createServer((req, res) => {
    hits++;
    const url = req.url ?? '';
    if (url.startsWith('/redirect/')) {
      res.writeHead(302, { location: '/models/' + url.slice('/redirect/'.length) });
      res.end();
    } else if (url === `/models/${good}` || url === '/models/bad-deadbeef.pth' || url === '/models/resnet18-f37072fd.pth') {
      res.writeHead(200, { 'content-length': String(content.length) });
      // Several chunks so progress is reported more than once.
      for (let o = 0; o < content.length; o += 65536) res.write(content.subarray(o, o + 65536));
      res.end();
    } else {
      res.writeHead(404);
      res.end('not here');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

test('registry: torchvision names, URLs and hash prefixes', () => {
  const w = resolveBackbone('wideresnet50');
  assert.is(w.url, 'https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth');
  assert.is(resolveBackbone('wide_resnet50_2').backbone, 'wideresnet50');
  assert.is(resolveBackbone('resnet18').url, 'https://download.pytorch.org/models/resnet18-f37072fd.pth');
  assert.is(resolveBackbone('resnet50').url, 'https://download.pytorch.org/models/resnet50-0676ba61.pth');
  assert.is(hashPrefixOf('wide_resnet50_2-95faca4d.pth'), '95faca4d');
  assert.is(hashPrefixOf('model.pth'), null);
  assert.match(
    errorOf(() => resolveBackbone('vgg11')),
    /unknown backbone "vgg11" \(known: wideresnet50, .*resnet18/,
  );
});

test('GLASS_WEIGHTS_DIR selects the default cache folder', () => {
  const old = process.env.GLASS_WEIGHTS_DIR;
  try {
    process.env.GLASS_WEIGHTS_DIR = '/tmp/glass-weights-x';
    assert.is(defaultWeightsDir(), '/tmp/glass-weights-x');
    delete process.env.GLASS_WEIGHTS_DIR;
    assert.match(defaultWeightsDir(), /\.cache\/glass-ts\/weights$/);
  } finally {
    if (old === undefined) delete process.env.GLASS_WEIGHTS_DIR;
    else process.env.GLASS_WEIGHTS_DIR = old;
  }
});

test('download through a redirect, verified, with progress; then a cache hit', async () => {
  const { dir, done } = tempDir('wc');
  try {
    const progress: [number, number | null][] = [];
    const r = await ensureWeights({ backbone: 'resnet18', cacheDir: dir, url: `${base}/redirect/${good}`, onProgress: (n, t) => progress.push([n, t]) });
    assert.is(r.source, 'download');
    assert.is(r.path, join(dir, good));
    assert.is(r.sha256, sha);
    assert.is(r.bytes, content.length);
    assert.ok(readFileSync(r.path).equals(content));
    assert.ok(progress.length >= 2, 'progress reported per chunk');
    assert.equal(progress[progress.length - 1], [content.length, content.length]);
    assert.equal(readdirSync(dir), [good], 'no temp file left');
    const before = hits;
    const again = await ensureWeights({ backbone: 'resnet18', cacheDir: dir, url: `${base}/redirect/${good}` });
    assert.is(again.source, 'cache');
    assert.is(hits, before, 'no request for a verified cached file');
    // A corrupted cached copy is replaced by a fresh download.
    writeFileSync(r.path, 'garbage');
    const fixed = await ensureWeights({ backbone: 'resnet18', cacheDir: dir, url: `${base}/models/${good}` });
    assert.is(fixed.source, 'download');
    assert.ok(readFileSync(r.path).equals(content));
  } finally {
    done();
  }
});

test('global fetch works as fetchImpl', async () => {
  const { dir, done } = tempDir('wc-fetch');
  try {
    const r = await ensureWeights({ backbone: 'resnet18', cacheDir: dir, url: `${base}/redirect/${good}`, fetchImpl: fetch });
    assert.is(r.sha256, sha);
    assert.ok(readFileSync(r.path).equals(content));
  } finally {
    done();
  }
});

test('hash mismatch on download leaves nothing behind', async () => {
  const { dir, done } = tempDir('wc-bad');
  try {
    const msg = await errorOfAsync(() => ensureWeights({ backbone: 'resnet18', cacheDir: dir, url: `${base}/models/bad-deadbeef.pth` }));
    assert.match(msg, new RegExp(`hash mismatch for .*bad-deadbeef\\.pth: the name expects SHA-256 prefix deadbeef, the content hashes to ${sha.slice(0, 8)}`));
    assert.equal(readdirSync(dir), []);
    // The official name of resnet18 with the wrong bytes behind it: same refusal.
    const msg2 = await errorOfAsync(() => ensureWeights({ backbone: 'resnet18', cacheDir: dir, url: `${base}/models/resnet18-f37072fd.pth` }));
    assert.match(msg2, /expects SHA-256 prefix f37072fd/);
    assert.equal(readdirSync(dir), []);
  } finally {
    done();
  }
});

test('HTTP errors and unreachable hosts are explained', async () => {
  const { dir, done } = tempDir('wc-err');
  try {
    const m404 = await errorOfAsync(() => ensureWeights({ backbone: 'resnet50', cacheDir: dir, url: `${base}/models/gone-12345678.pth` }));
    assert.match(m404, /could not download .*gone-12345678\.pth: HTTP 404/);
    // A port that was just free: the connection is refused, as with no network.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const refused = await errorOfAsync(() => ensureWeights({ backbone: 'wideresnet50', cacheDir: dir, url: `http://127.0.0.1:${port}/x-95faca4d.pth` }));
    assert.match(
      refused,
      new RegExp(`could not download http://127\\.0\\.0\\.1:${port}/x-95faca4d\\.pth: .*ECONNREFUSED.*--backbone wideresnet50 --from <file>`),
    );
    assert.equal(readdirSync(dir), []);
  } finally {
    done();
  }
});

test('import from a local file: verified against the target name', async () => {
  const { dir, done } = tempDir('wc-import');
  try {
    const src = join(dir, 'downloaded-elsewhere.bin');
    writeFileSync(src, content);
    const cache = join(dir, 'cache');
    const r = await ensureWeights({ backbone: 'resnet18', cacheDir: cache, from: src, fileName: good });
    assert.is(r.source, 'import');
    assert.is(await sha256File(r.path), sha);
    assert.equal(readdirSync(cache), [good]);
    // Importing these bytes as the real resnet18 must fail: its name says f37072fd.
    const msg = await errorOfAsync(() => ensureWeights({ backbone: 'resnet18', cacheDir: cache, from: src }));
    assert.match(
      msg,
      new RegExp(`hash mismatch for .*downloaded-elsewhere\\.bin: the name expects SHA-256 prefix f37072fd, the content hashes to ${sha.slice(0, 8)}`),
    );
    assert.ok(!existsSync(join(cache, 'resnet18-f37072fd.pth')));
    assert.equal(readdirSync(cache), [good]);
    assert.match(await errorOfAsync(() => ensureWeights({ backbone: 'resnet18', cacheDir: cache, from: join(dir, 'nope') })), /--from file .*nope not found/);
    assert.match(
      await errorOfAsync(() => ensureWeights({ backbone: 'resnet18', cacheDir: cache, from: src, fileName: 'plain.pth' })),
      /file name plain\.pth carries no "-<sha256 prefix>\." part/,
    );
  } finally {
    done();
  }
});

test.run();
