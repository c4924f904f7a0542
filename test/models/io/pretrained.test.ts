// pretrainedBackbone against loopback servers on 127.0.0.1: download + verify + cache (a second
// call sends no request), and every way a download fails (cut connection, hash mismatch, HTTP 404,
// refused / black-holed / unresolvable host, offline) falling back to seeded random weights with
// one message and nothing left in the cache; progress output on a TTY and off one; --weights files;
// TF.js folder identities. A stub `build` stands in for createBackbone except in one test that
// builds a real random resnet18 on the GPU.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import type { Backbone } from '../../../models/backbone.ts';
import type { BackboneOptions } from '../../../models/registry.ts';
import {
  describeWeights,
  downloadProgress,
  offlineFromEnv,
  pretrainedBackbone,
  sameWeights,
  weightsIdentityOfTfjsFolder,
  type PretrainedOptions,
  type WeightsIdentity,
} from '../../../models/pretrained.ts';
import { errorOfAsync, tempDir } from './util.ts';

const test = suite('models/io/pretrained');

// 300 kB of deterministic bytes and a resnet18-style name that carries their SHA-256 prefix.
const content = Buffer.alloc(300_000);
for (let i = 0; i < content.length; i++) content[i] = (i * 2246822519) >>> 24;
const sha = createHash('sha256').update(content).digest('hex');
const good = `resnet18-${sha.slice(0, 8)}.pth`;

let server: Server;
let base = '';
let hits = 0;
let hole: TcpServer;
let holePort = 0;
const held: Socket[] = [];
let oldOffline: string | undefined;

function serveChunks(res: ServerResponse, bytes: Buffer): void {
  res.writeHead(200, { 'content-length': String(bytes.length) });
  // Several chunks so progress is reported more than once.
  for (let o = 0; o < bytes.length; o += 30_000) res.write(bytes.subarray(o, o + 30_000));
  res.end();
}

test.before(async () => {
  oldOffline = process.env.GLASS_OFFLINE;
  delete process.env.GLASS_OFFLINE;
  server = createServer((req, res) => {
    hits++;
    const url = req.url ?? '';
    if (url === `/ok/${good}` || url === '/bad/resnet18-deadbeef.pth') serveChunks(res, content);
    else if (url === `/cut/${good}`) {
      // Promise the whole file, send a third of it, then drop the connection.
      res.writeHead(200, { 'content-length': String(content.length) });
      res.write(content.subarray(0, 100_000), () => setTimeout(() => res.socket?.destroy(), 20));
    } else {
      res.writeHead(404, 'Not Found');
      res.end('not here');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Accepts connections and never answers: a black-holed host, as far as the client can tell.
  hole = createTcpServer((s) => held.push(s));
  await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
  holePort = (hole.address() as AddressInfo).port;
});

test.after(async () => {
  held.forEach((s) => s.destroy());
  await new Promise<void>((r) => hole.close(() => r()));
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  if (oldOffline === undefined) delete process.env.GLASS_OFFLINE;
  else process.env.GLASS_OFFLINE = oldOffline;
});

/** A stand-in for createBackbone that records what it was asked to build. */
function stubBuild() {
  const calls: { name: string; opts: BackboneOptions }[] = [];
  const build = (name: string, opts: BackboneOptions): Backbone => {
    calls.push({ name, opts });
    return {
      name,
      tapNames: [],
      defaultTaps: [],
      mean: [0, 0, 0],
      std: [1, 1, 1],
      tapInfo: () => ({ stride: 1, channels: 1 }),
      forward: () => new Map(),
      dispose() {},
    };
  };
  return { build, calls };
}

function captureOut(isTTY: boolean) {
  const chunks: string[] = [];
  return { out: { isTTY, write: (s: string) => chunks.push(s) }, text: () => chunks.join('') };
}

/** Runs pretrainedBackbone with a stub build, captured log and progress; returns everything. */
async function run(opts: PretrainedOptions, name = 'resnet18') {
  const { build, calls } = stubBuild();
  const logs: string[] = [];
  const cap = captureOut(false);
  const r = await pretrainedBackbone(name, { build, log: (s) => logs.push(s), progressOut: cap.out, ...opts });
  return { r, calls, logs, progress: cap.text() };
}

/** The fallback's one message: URL, why, and the manual ways to get weights. */
function assertFallbackMessage(logs: string[], url: string, why: RegExp, tryHint = true): void {
  assert.is(logs.length, 1, `exactly one message, got ${JSON.stringify(logs)}`);
  const m = logs[0];
  assert.ok(m.includes(url), `names the URL: ${m}`);
  assert.match(m, why);
  assert.match(m, /seeded RANDOM weights \(seed 7\)/);
  assert.ok(m.includes('--weights FILE.pth'), m);
  assert.ok(m.includes('npm run glass -- weights --backbone resnet18 --from FILE'), m);
  assert.is(m.includes('GLASS_OFFLINE=1'), tryHint, m);
  assert.not.match(m, /\n/);
}

function assertRandom(res: Awaited<ReturnType<typeof run>>): void {
  assert.equal(res.r.weights, { kind: 'random', name: 'resnet18', seed: 7 });
  assert.equal(res.calls, [{ name: 'resnet18', opts: { random: true, seed: 7 } }]);
}

/** Nothing, not even a temp file, in the cache folder (which may not exist at all). */
function assertEmpty(dir: string): void {
  assert.equal(existsSync(dir) ? readdirSync(dir) : [], []);
}

test('download: verified, cached, progress every 10 % to 100 %; a second call uses the cache', async () => {
  const { dir, done } = tempDir('pt-dl');
  try {
    const url = `${base}/ok/${good}`;
    const first = await run({ cacheDir: join(dir, 'cache'), url, seed: 7 });
    const path = join(dir, 'cache', good);
    assert.equal(first.r.weights, { kind: 'torchvision', name: 'resnet18', sha256: sha, path });
    assert.equal(first.calls, [{ name: 'resnet18', opts: { weights: path } }]);
    assert.ok(readFileSync(path).equals(content));
    assert.equal(readdirSync(join(dir, 'cache')), [good], 'no temp file left');
    assert.equal(first.logs, [`resnet18: downloaded ${url} -> ${path}`]);
    // Off a TTY: a start line, then at most one line per 10 % step (how many depends on how the
    // socket coalesces chunks), ending at 100 %.
    const lines = first.progress.trimEnd().split('\n');
    assert.is(lines[0], `${good}: downloading ${url} (0.3 MB)`);
    const steps = lines.slice(1).map((l) => Math.floor(Number(/(\d+)%/.exec(l)?.[1]) / 10));
    assert.ok(steps.length >= 2 && steps.length <= 10, `lines: ${JSON.stringify(lines)}`);
    steps.forEach((s, i) => assert.ok(s >= 1 && (i === 0 || s > steps[i - 1]), `one line per 10 % step: ${JSON.stringify(lines)}`));
    assert.match(lines.at(-1)!, /100%\s+0\.3 \/ 0\.3 MB\s+[\d.]+ MB\/s$/);

    const before = hits;
    const again = await run({ cacheDir: join(dir, 'cache'), url, seed: 7 });
    assert.is(hits, before, 'no request for a verified cached file');
    assert.equal(again.r.weights, first.r.weights);
    assert.equal(again.logs, []);
    assert.is(again.progress, '');
    // Offline, the verified cache still serves.
    const offline = await run({ cacheDir: join(dir, 'cache'), url, offline: true });
    assert.is(offline.r.weights.kind, 'torchvision');
    assert.is(hits, before);

    // A corrupted cached copy is downloaded again and replaced.
    writeFileSync(path, 'garbage');
    const fixed = await run({ cacheDir: join(dir, 'cache'), url, progress: false });
    assert.is(fixed.r.weights.sha256, sha);
    assert.is(hits, before + 1);
    assert.ok(readFileSync(path).equals(content));
    assert.match(fixed.logs[0], /replacing a cached copy that failed its hash check/);
    assert.is(fixed.progress, '', 'progress: false draws nothing');
  } finally {
    done();
  }
});

test('progress on a TTY: one line redrawn in place, bar, percent, MB and speed, then a newline', async () => {
  const { dir, done } = tempDir('pt-tty');
  try {
    const { build } = stubBuild();
    const cap = captureOut(true);
    await pretrainedBackbone('resnet18', { build, log: () => {}, progressOut: cap.out, cacheDir: dir, url: `${base}/ok/${good}` });
    const text = cap.text();
    assert.ok(text.endsWith('\n'));
    assert.is(text.split('\n').length, 2, 'a single line, ended once');
    const frames = text.trimEnd().split('\r').filter(Boolean);
    assert.ok(frames.length >= 2, `redrawn per chunk: ${JSON.stringify(text)}`);
    assert.match(frames.at(-1)!, new RegExp(`^${good.replace('.', '\\.')} \\[#{24}\\] 100%  0\\.3 / 0\\.3 MB  [\\d.]+ MB/s\\x1b\\[K$`));
    assert.match(frames[0], /\[#*\.+\]\s+\d+%/);
  } finally {
    done();
  }
});

test('progress printer: throttled on a TTY, per 10 MB without a size, end() closes a half line', () => {
  let t = 0;
  const tty = captureOut(true);
  const p = downloadProgress('f.pth', tty.out, () => t);
  p.start('http://x/f.pth', 200);
  assert.is(tty.text(), '', 'no start line on a TTY: the bar has the label');
  p.update(1, 200);
  p.update(1, 200); // same percent, no time passed: not redrawn
  t = 1000;
  p.update(100, 200);
  assert.is(tty.text().split('\r').length - 1, 2);
  assert.match(tty.text(), /\[#{12}\.{12}\]  50%  0\.0 \/ 0\.0 MB  0\.0 MB\/s/);
  p.end();
  assert.ok(tty.text().endsWith('\n'));

  const log = captureOut(false);
  let t2 = 0;
  const q = downloadProgress('g.pth', log.out, () => t2);
  q.start('http://x/g.pth', null);
  t2 = 2000;
  for (let n = 1e6; n <= 25e6; n += 1e6) q.update(n, null);
  t2 = 4000;
  q.update(42e6, null);
  q.end();
  assert.equal(log.text().trimEnd().split('\n'), [
    'g.pth: downloading http://x/g.pth',
    'g.pth: 10.0 MB  5.0 MB/s',
    'g.pth: 20.0 MB  10.0 MB/s',
    'g.pth: 42.0 MB  10.5 MB/s',
  ]);
});

test('connection cut mid-way: random fallback, one message, nothing in the cache', async () => {
  const { dir, done } = tempDir('pt-cut');
  try {
    const url = `${base}/cut/${good}`;
    const res = await run({ cacheDir: dir, url, seed: 7 });
    assertRandom(res);
    assertFallbackMessage(res.logs, url, /connection cut after 0\.1 of 0\.3 MB/);
    assertEmpty(dir);
  } finally {
    done();
  }
});

test('hash mismatch: random fallback saying the hash did not match, nothing cached', async () => {
  const { dir, done } = tempDir('pt-hash');
  try {
    const url = `${base}/bad/resnet18-deadbeef.pth`;
    const res = await run({ cacheDir: dir, url, seed: 7 });
    assertRandom(res);
    assertFallbackMessage(
      res.logs,
      url,
      new RegExp(`hash did not match: the file name expects SHA-256 deadbeef\\.\\.\\., the content hashes to ${sha.slice(0, 8)}`),
    );
    assertEmpty(dir);
  } finally {
    done();
  }
});

test('HTTP 404: random fallback with the status', async () => {
  const { dir, done } = tempDir('pt-404');
  try {
    const url = `${base}/gone/resnet18-12345678.pth`;
    const res = await run({ cacheDir: dir, url, seed: 7 });
    assertRandom(res);
    assertFallbackMessage(res.logs, url, /\(HTTP 404 Not Found\)/);
    assert.is(res.progress, '', 'no progress output for a failed request');
    assertEmpty(dir);
  } finally {
    done();
  }
});

test('offline (option or GLASS_OFFLINE=1): no request, random fallback', async () => {
  const { dir, done } = tempDir('pt-off');
  try {
    const url = `${base}/ok/${good}`;
    const before = hits;
    const a = await run({ cacheDir: dir, url, seed: 7, offline: true });
    assertRandom(a);
    assertFallbackMessage(a.logs, url, /offline \(offline mode\), not downloading/, false);
    process.env.GLASS_OFFLINE = '1';
    try {
      const b = await run({ cacheDir: dir, url, seed: 7 });
      assertRandom(b);
      assertFallbackMessage(b.logs, url, /offline \(GLASS_OFFLINE is set\), not downloading/, false);
    } finally {
      delete process.env.GLASS_OFFLINE;
    }
    assert.is(hits, before, 'no request reached the server');
    assertEmpty(dir);
    assert.ok(offlineFromEnv({ GLASS_OFFLINE: 'true' }));
    assert.not.ok(offlineFromEnv({ GLASS_OFFLINE: '0' }));
    assert.not.ok(offlineFromEnv({}));
  } finally {
    done();
  }
});

test('unreachable hosts fail fast: black hole (connect timeout), refused port, DNS failure', async () => {
  const { dir, done } = tempDir('pt-net');
  try {
    const t0 = Date.now();
    const holeUrl = `http://127.0.0.1:${holePort}/resnet18-f37072fd.pth`;
    const a = await run({ cacheDir: dir, url: holeUrl, seed: 7, connectTimeoutMs: 300 });
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    assertRandom(a);
    assertFallbackMessage(a.logs, holeUrl, new RegExp(`no response from 127\\.0\\.0\\.1:${holePort} within 0\\.3 s`));

    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const refusedUrl = `http://127.0.0.1:${port}/resnet18-f37072fd.pth`;
    const b = await run({ cacheDir: dir, url: refusedUrl, seed: 7 });
    assertFallbackMessage(b.logs, refusedUrl, new RegExp(`connection refused by 127\\.0\\.0\\.1:${port}`));

    // No DNS here is the norm; an injected client reproduces its error without touching the network.
    const dns = await run({
      cacheDir: dir,
      seed: 7,
      fetchImpl: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND download.pytorch.org'), { code: 'ENOTFOUND', hostname: 'download.pytorch.org' });
      },
    });
    assertRandom(dns);
    assertFallbackMessage(dns.logs, 'https://download.pytorch.org/models/resnet18-f37072fd.pth', /could not resolve download\.pytorch\.org: no network\?/);
    assertEmpty(dir);
  } finally {
    done();
  }
});

test('--weights: the file as given, hashed; a missing or unreadable file is an error, not a fallback', async () => {
  const { dir, done } = tempDir('pt-file');
  try {
    const f = join(dir, 'mine.pth');
    writeFileSync(f, content);
    const before = hits;
    const res = await run({ weights: f, url: `${base}/ok/${good}`, cacheDir: join(dir, 'cache') });
    assert.equal(res.r.weights, { kind: 'file', name: 'resnet18', sha256: sha, path: f });
    assert.equal(res.calls, [{ name: 'resnet18', opts: { weights: f } }]);
    assert.is(hits, before);
    assert.not.ok(existsSync(join(dir, 'cache')));
    assert.match(await errorOfAsync(() => run({ weights: join(dir, 'nope.pth') })), /resnet18: --weights .*nope\.pth not found/);
    // The real loader on garbage: fails while parsing, before any GPU work.
    const junk = join(dir, 'junk.pth');
    writeFileSync(junk, 'not a torch file');
    assert.match(
      await errorOfAsync(() => pretrainedBackbone('resnet18', { weights: junk, log: () => {} })),
      /resnet18: --weights .*junk\.pth could not be loaded: /,
    );
    assert.match(await errorOfAsync(() => run({ weights: dir })), /is a folder; expected a torchvision \.pth file/);
    assert.match(await errorOfAsync(() => run({}, 'mobilenet_v1')), /mobilenet_v1: .*pass --weights <tfjs model folder>/);
    assert.match(await errorOfAsync(() => run({}, 'vgg11')), /unknown backbone "vgg11"/);
    assert.match(await errorOfAsync(() => run({ offline: true }, 'resnet101')), /resnet101: no implementation of this backbone/);
  } finally {
    done();
  }
});

test('TF.js folder identity: model.json and shards in manifest order; describeWeights; sameWeights', async () => {
  const { dir, done } = tempDir('pt-tfjs');
  try {
    const m = join(dir, 'm');
    mkdirSync(m);
    const manifest = [
      { paths: ['group1-shard1of2', 'group1-shard2of2'], weights: [] },
      { paths: ['group2-shard1of1'], weights: [] },
    ];
    writeFileSync(join(m, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: manifest }));
    writeFileSync(join(m, 'group1-shard1of2'), 'ab');
    writeFileSync(join(m, 'group1-shard2of2'), 'cd');
    writeFileSync(join(m, 'group2-shard1of1'), 'ef');
    const id = weightsIdentityOfTfjsFolder(m);
    const json = readFileSync(join(m, 'model.json'));
    const want = createHash('sha256')
      .update(`model.json\n${json.length}\n`)
      .update(json)
      .update('group1-shard1of2\n2\nab')
      .update('group1-shard2of2\n2\ncd')
      .update('group2-shard1of1\n2\nef')
      .digest('hex');
    assert.equal(id, { kind: 'tfjs', name: 'mobilenet_v1', sha256: want, path: m });
    // Bytes moved between shards change the identity; so does a missing shard (which still hashes).
    writeFileSync(join(m, 'group1-shard1of2'), 'abc');
    writeFileSync(join(m, 'group1-shard2of2'), 'd');
    const moved = weightsIdentityOfTfjsFolder(m);
    assert.is.not(moved.sha256, want);
    writeFileSync(join(m, 'group1-shard1of2'), 'ab');
    writeFileSync(join(m, 'group1-shard2of2'), 'cd');
    assert.is(weightsIdentityOfTfjsFolder(m).sha256, want);
    rmSync(join(m, 'group2-shard1of1'));
    const gone = weightsIdentityOfTfjsFolder(m);
    assert.is(
      gone.sha256,
      createHash('sha256')
        .update(`model.json\n${json.length}\n`)
        .update(json)
        .update('group1-shard1of2\n2\nab')
        .update('group1-shard2of2\n2\ncd')
        .update('group2-shard1of1\nmissing\n')
        .digest('hex'),
    );

    // pretrainedBackbone with a tfjs folder for mobilenet_v1.
    const res = await run({ weights: m }, 'mobilenet_v1');
    assert.equal(res.r.weights, gone);
    assert.equal(res.calls, [{ name: 'mobilenet_v1', opts: { weights: m } }]);

    const tv: WeightsIdentity = { kind: 'torchvision', name: 'resnet18', sha256: sha, path: '/c/resnet18-f37072fd.pth' };
    assert.is(describeWeights(tv), `resnet18: torchvision ImageNet weights resnet18-f37072fd.pth (sha256 ${sha.slice(0, 12)})`);
    assert.is(
      describeWeights({ kind: 'file', name: 'resnet50', sha256: sha, path: '/w/x.pth' }),
      `resnet50: weights from /w/x.pth (sha256 ${sha.slice(0, 12)})`,
    );
    assert.is(describeWeights(gone), `mobilenet_v1: TF.js model ${m} (sha256 ${gone.sha256!.slice(0, 12)})`);
    assert.is(describeWeights({ kind: 'random', name: 'resnet18', seed: 3 }), 'resnet18: seeded RANDOM weights (seed 3), not pretrained');
    assert.ok(sameWeights(tv, { kind: 'file', name: 'resnet18', sha256: sha, path: '/elsewhere.pth' }));
    assert.not.ok(sameWeights(tv, { ...tv, sha256: want }));
    assert.not.ok(sameWeights(tv, { kind: 'random', name: 'resnet18', seed: 0 }));
    assert.ok(sameWeights({ kind: 'random', name: 'resnet18', seed: 2 }, { kind: 'random', name: 'resnet18', seed: 2 }));
    assert.not.ok(sameWeights({ kind: 'random', name: 'resnet18', seed: 2 }, { kind: 'random', name: 'resnet18', seed: 3 }));
    assert.not.ok(sameWeights({ kind: 'random', name: 'resnet18', seed: 2 }, { kind: 'random', name: 'resnet50', seed: 2 }));
    assert.throws(() => weightsIdentityOfTfjsFolder(join(dir, 'none')), /model\.json not found/);
  } finally {
    done();
  }
});

test('the fallback builds the real network: resnet18 with seeded random weights', async () => {
  const { dir, done } = tempDir('pt-real');
  try {
    await E.initDevice();
    const logs: string[] = [];
    const { backbone, weights } = await pretrainedBackbone('resnet18', { cacheDir: dir, offline: true, seed: 5, log: (s) => logs.push(s) });
    try {
      assert.equal(weights, { kind: 'random', name: 'resnet18', seed: 5 });
      assert.is(backbone.name, 'resnet18');
      assert.equal(backbone.tapInfo('layer3'), { stride: 16, channels: 256 });
      assert.is(logs.length, 1);
    } finally {
      backbone.dispose();
    }
  } finally {
    done();
  }
});

test.run();
