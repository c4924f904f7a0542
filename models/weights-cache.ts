// Backbone weight cache for `npm run glass -- weights --backbone wideresnet50` (the CLI calls
// ensureWeights). Files keep torchvision's names, whose "-<hex>." part is a SHA-256 prefix
// (wide_resnet50_2-95faca4d.pth); like torch.hub we verify it on every import and download, so a
// truncated or substituted file is rejected before a model ever reads it. Downloads and imports
// stream into a temp file in the cache folder and are renamed into place only once verified.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fsyncDir, tempPathFor } from './io/atomic.ts';

export interface TorchvisionWeights {
  /** torchvision builder name (wide_resnet50_2, ...). */
  arch: string;
  /** Official URL; its file name carries the SHA-256 prefix. */
  url: string;
}

/** torchvision's IMAGENET1K_V1 weights (what `pretrained=True`, and so GLASS, loads). */
export const TORCHVISION_WEIGHTS: Record<string, TorchvisionWeights> = {
  wideresnet50: { arch: 'wide_resnet50_2', url: 'https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth' },
  wideresnet101: { arch: 'wide_resnet101_2', url: 'https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth' },
  resnet18: { arch: 'resnet18', url: 'https://download.pytorch.org/models/resnet18-f37072fd.pth' },
  resnet50: { arch: 'resnet50', url: 'https://download.pytorch.org/models/resnet50-0676ba61.pth' },
  resnet101: { arch: 'resnet101', url: 'https://download.pytorch.org/models/resnet101-63fe2227.pth' },
};

/** GLASS's backbone names plus torchvision's own arch names. */
export function resolveBackbone(name: string): TorchvisionWeights & { backbone: string } {
  const key = Object.keys(TORCHVISION_WEIGHTS).find((k) => k === name || TORCHVISION_WEIGHTS[k].arch === name);
  if (!key) {
    throw new Error(`weights: unknown backbone ${JSON.stringify(name)} (known: ${Object.keys(TORCHVISION_WEIGHTS).join(', ')})`);
  }
  return { backbone: key, ...TORCHVISION_WEIGHTS[key] };
}

/** $GLASS_WEIGHTS_DIR, else ~/.cache/glass-ts/weights. */
export function defaultWeightsDir(): string {
  return resolve(process.env.GLASS_WEIGHTS_DIR || join(homedir(), '.cache', 'glass-ts', 'weights'));
}

/** The SHA-256 prefix in a torchvision-style file name (torch.hub's HASH_REGEX `-([a-f0-9]*)\.`). */
export function hashPrefixOf(fileName: string): string | null {
  const m = /-([a-f0-9]+)\./.exec(basename(fileName));
  return m ? m[1] : null;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The subset of a fetch Response that downloads need (global fetch satisfies it). */
export interface FetchResponseLike {
  ok: boolean;
  status: number;
  statusText?: string;
  headers: { get(name: string): string | null };
  /** An async iterable of byte chunks, or a web ReadableStream. */
  body: unknown;
}
export type FetchLike = (url: string) => Promise<FetchResponseLike>;

export interface EnsureWeightsOptions {
  /** wideresnet50, resnet18, resnet50, ... (or torchvision's arch name). */
  backbone: string;
  /** Cache folder; default defaultWeightsDir(). */
  cacheDir?: string;
  /** Import this local file instead of downloading (verified against the target name's hash). */
  from?: string;
  /** Download from here instead of the official URL; the cache file takes this URL's file name. */
  url?: string;
  /** Cache file name override; must carry the "-<sha256 prefix>." part. */
  fileName?: string;
  /** HTTP client; default: node http/https with redirects. */
  fetchImpl?: FetchLike;
  /** Re-download / re-import even when a verified file is cached. */
  force?: boolean;
  /** Called as bytes arrive (total is null when the server sends no Content-Length). */
  onProgress?: (received: number, total: number | null) => void;
  /** One-line status messages (default: none). */
  log?: (line: string) => void;
}

export interface EnsureWeightsResult {
  path: string;
  source: 'cache' | 'import' | 'download';
  sha256: string;
  bytes: number;
}

function hashError(what: string, expected: string, got: string): Error {
  return new Error(
    `weights: hash mismatch for ${what}: the name expects SHA-256 prefix ${expected}, ` +
      `the content hashes to ${got.slice(0, Math.max(expected.length, 8))}... (${got}); wrong or corrupted file`,
  );
}

/**
 * Makes sure the backbone's torchvision weight file is in the cache and returns its path. Order:
 * `from` (import), a verified cached copy, then a download. Nothing unverified is ever left at
 * the final path.
 */
export async function ensureWeights(opts: EnsureWeightsOptions): Promise<EnsureWeightsResult> {
  const spec = resolveBackbone(opts.backbone);
  const url = opts.url ?? spec.url;
  const name = opts.fileName ?? basename(new URL(url).pathname);
  const prefix = hashPrefixOf(name);
  if (!prefix) throw new Error(`weights: file name ${name} carries no "-<sha256 prefix>." part to verify against`);
  const dir = resolve(opts.cacheDir ?? defaultWeightsDir());
  mkdirSync(dir, { recursive: true });
  const target = join(dir, name);
  const log = opts.log ?? (() => {});

  if (opts.from) {
    const src = resolve(opts.from);
    if (!existsSync(src)) throw new Error(`weights: --from file ${src} not found`);
    log(`importing ${src} -> ${target}`);
    const { sha256, bytes } = await streamToFile(target, fileChunks(src), null, opts.onProgress, (sha) => {
      if (!sha.startsWith(prefix)) throw hashError(src, prefix, sha);
    });
    return { path: target, source: 'import', sha256, bytes };
  }

  if (existsSync(target) && !opts.force) {
    const sha = await sha256File(target);
    if (sha.startsWith(prefix)) {
      return { path: target, source: 'cache', sha256: sha, bytes: statSync(target).size };
    }
    log(`cached ${target} fails its hash check (${sha.slice(0, 8)} != ${prefix}); downloading again`);
  }

  log(`downloading ${url} -> ${target}`);
  let res: FetchResponseLike;
  try {
    res = await (opts.fetchImpl ?? nodeFetch)(url);
  } catch (err) {
    throw new Error(
      `weights: could not download ${url}: ${(err as Error).message}. Without network access, ` +
        `fetch the file elsewhere and run: npm run glass -- weights --backbone ${spec.backbone} --from <file>`,
    );
  }
  if (!res.ok) {
    throw new Error(`weights: could not download ${url}: HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`);
  }
  const len = res.headers.get('content-length');
  const total = len !== null && /^\d+$/.test(len) ? Number(len) : null;
  const { sha256, bytes } = await streamToFile(target, bodyChunks(res.body, url), total, opts.onProgress, (sha, n) => {
    if (total !== null && n !== total) throw new Error(`weights: download of ${url} ended after ${n} of ${total} bytes`);
    if (!sha.startsWith(prefix)) throw hashError(url, prefix, sha);
  });
  return { path: target, source: 'download', sha256, bytes };
}

async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  for await (const c of createReadStream(path)) yield c as Buffer;
}

async function* bodyChunks(body: unknown, url: string): AsyncGenerator<Uint8Array> {
  if (body && typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    yield* body as AsyncIterable<Uint8Array>;
  } else if (body && typeof (body as ReadableStream<Uint8Array>).getReader === 'function') {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield value;
    }
  } else {
    throw new Error(`weights: response for ${url} has no body`);
  }
}

/**
 * Streams chunks into a temp file beside `target`, hashing as it goes; `check(sha, bytes)` may
 * throw to reject the content, in which case the temp file is removed and `target` is untouched.
 */
async function streamToFile(
  target: string,
  chunks: AsyncIterable<Uint8Array>,
  total: number | null,
  onProgress: EnsureWeightsOptions['onProgress'],
  check: (sha: string, bytes: number) => void,
): Promise<{ sha256: string; bytes: number }> {
  const tmp = tempPathFor(target);
  const fh = await open(tmp, 'wx', 0o644);
  let closed = false;
  try {
    const h = createHash('sha256');
    let n = 0;
    for await (const c of chunks) {
      h.update(c);
      let off = 0;
      while (off < c.byteLength) off += (await fh.write(c, off, c.byteLength - off)).bytesWritten;
      n += c.byteLength;
      onProgress?.(n, total);
    }
    const sha = h.digest('hex');
    check(sha, n);
    await fh.sync();
    await fh.close();
    closed = true;
    await rename(tmp, target);
    fsyncDir(resolve(target, '..'));
    return { sha256: sha, bytes: n };
  } catch (err) {
    if (!closed) await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

export interface NodeFetchOptions {
  /** Redirects still allowed (default 10). */
  redirects?: number;
  /** Response headers must arrive within this (DNS, TCP, TLS and the server's reply; default 15 s). */
  connectTimeoutMs?: number;
  /** A connection silent for this long fails (default 60 s). */
  idleTimeoutMs?: number;
}

/**
 * GET with node http/https, following redirects; the body is the IncomingMessage stream. A
 * number as `opts` is the redirect budget (the old signature).
 */
export function nodeFetch(url: string, opts: NodeFetchOptions | number = {}): Promise<FetchResponseLike> {
  const o: NodeFetchOptions = typeof opts === 'number' ? { redirects: opts } : opts;
  const redirects = o.redirects ?? 10;
  const connectMs = o.connectTimeoutMs ?? 15_000;
  const idleMs = o.idleTimeoutMs ?? 60_000;
  return new Promise((resolvePromise, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
    if (!lib) return reject(new Error(`unsupported URL scheme ${u.protocol}`));
    const req = lib.get(u, { headers: { 'user-agent': 'glass-ts' } }, (res) => {
      clearTimeout(connectTimer);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects <= 0) return reject(new Error(`too many redirects at ${url}`));
        return resolvePromise(nodeFetch(new URL(res.headers.location, u).href, { ...o, redirects: redirects - 1 }));
      }
      resolvePromise({
        ok: status >= 200 && status < 300,
        status,
        statusText: res.statusMessage,
        headers: {
          get: (k: string) => {
            const v = res.headers[k.toLowerCase()];
            return v === undefined ? null : String(v);
          },
        },
        body: res,
      });
      if (status < 200 || status >= 300) res.resume();
    });
    // The idle timeout alone would let a black-holed host (SYN never answered) stall a run for a
    // minute per attempt; the reply's headers get a shorter deadline of their own.
    const connectTimer = setTimeout(() => {
      req.destroy(Object.assign(new Error(`no response from ${u.host} within ${connectMs / 1000} s`), { code: 'ETIMEDOUT' }));
    }, connectMs);
    // A stalled connection should fail, not hang the CLI forever.
    req.setTimeout(idleMs, () => req.destroy(new Error(`no data from ${u.host} for ${idleMs / 1000} s`)));
    req.on('error', (err) => {
      clearTimeout(connectTimer);
      reject(err);
    });
    req.on('close', () => clearTimeout(connectTimer));
  });
}

/** A progress printer for the CLI: one stderr line per 5 % (or per 10 MB when the size is unknown). */
export function progressPrinter(label: string, write: (s: string) => void = (s) => process.stderr.write(s)): (n: number, total: number | null) => void {
  let last = -1;
  return (n, total) => {
    const step = total ? Math.floor((n / total) * 20) : Math.floor(n / 10_000_000);
    if (step === last) return;
    last = step;
    const mb = (n / 1e6).toFixed(1);
    write(total ? `${label}: ${mb} / ${(total / 1e6).toFixed(1)} MB (${Math.floor((n / total) * 100)}%)\n` : `${label}: ${mb} MB\n`);
  };
}
