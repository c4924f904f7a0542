// Pretrained ResNet-family backbones on first use (resnet18, resnet50, wideresnet50), for the CLI.
// Order: an explicit --weights file; a hash-verified copy in the weight cache; a download of
// torchvision's file through ensureWeights (verified, streamed to a temp file, renamed into place
// only when whole). When the download cannot happen (no network, DNS failure, HTTP error, a cut
// connection, a hash mismatch) or the run is offline, the run goes on with the same architecture
// and seeded random weights, after ONE message that says so and how to get real weights: a
// training run in a sandbox without network should still work, and say plainly that its
// features are not pretrained.
//
// Environment: GLASS_OFFLINE=1 (also "true"/"yes") never tries the network; a verified cached
// file is still used. GLASS_WEIGHTS_DIR picks the cache folder (see weights-cache.ts).
//
// Every result carries a WeightsIdentity (kind, name, sha256 or seed) for the checkpoint, so that
// a later `test` can check it scores with the weights it was trained with.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Backbone } from './backbone.ts';
import { BACKBONES, createBackbone, type BackboneOptions } from './registry.ts';
import { defaultWeightsDir, ensureWeights, hashPrefixOf, nodeFetch, resolveBackbone, sha256File, type FetchLike } from './weights-cache.ts';

export interface WeightsIdentity {
  kind: 'torchvision' | 'file' | 'tfjs' | 'random';
  /** Backbone name (resnet18, wideresnet50, mobilenet_v1, ...). */
  name: string;
  /** SHA-256 of the weight file (tfjs: of model.json and its shards, see weightsIdentityOfTfjsFolder). */
  sha256?: string;
  /** Seed of random weights. */
  seed?: number;
  /** Where the weights were read from (informational; files move, hashes do not). */
  path?: string;
}

export interface PretrainedResult {
  backbone: Backbone;
  weights: WeightsIdentity;
}

/** Where the progress bar goes; process.stderr by default. */
export interface ProgressOut {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface PretrainedOptions {
  /** A weight file to use as is (.pth for ResNets, a tfjs folder for mobilenet_v1): no cache, no network. */
  weights?: string;
  /** Never try the network (also env GLASS_OFFLINE=1). */
  offline?: boolean;
  /** Weight cache folder; default defaultWeightsDir(). */
  cacheDir?: string;
  /** Download from here instead of torchvision's URL; the cache file takes this URL's file name. */
  url?: string;
  /** HTTP client; default nodeFetch with connectTimeoutMs. */
  fetchImpl?: FetchLike;
  /** One-line messages; default stderr. */
  log?: (s: string) => void;
  /** Show a download progress bar (default true). */
  progress?: boolean;
  /** Seed of the random fallback weights (default 0). */
  seed?: number;
  /** Response headers must arrive within this (default 15 s); only for the default fetchImpl. */
  connectTimeoutMs?: number;
  /** Where the progress bar is written (default process.stderr). */
  progressOut?: ProgressOut;
  /** Builds the network (default createBackbone); tests pass a stub to skip the GPU upload. */
  build?: (name: string, opts: BackboneOptions) => Backbone;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

/** GLASS_OFFLINE=1 (or true/yes): the weights never come from the network. */
export function offlineFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test((env.GLASS_OFFLINE ?? '').trim());
}

export async function pretrainedBackbone(name: string, opts: PretrainedOptions = {}): Promise<PretrainedResult> {
  const build = opts.build ?? createBackbone;
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const seed = opts.seed ?? 0;

  if (opts.weights) return fromGivenWeights(name, opts.weights, build);
  if (name === 'mobilenet_v1') {
    throw new Error('mobilenet_v1: torchvision has no such weights to download; pass --weights <tfjs model folder>');
  }
  const spec = resolveBackbone(name);
  // Fail before a 100+ MB download for a network that createBackbone cannot build.
  if (!(BACKBONES as readonly string[]).includes(spec.backbone)) {
    throw new Error(`${name}: no implementation of this backbone (available: ${BACKBONES.join(', ')})`);
  }
  const key = spec.backbone;
  const url = opts.url ?? spec.url;
  const fileName = basename(new URL(url).pathname);
  const prefix = hashPrefixOf(fileName);
  if (!prefix) throw new Error(`${name}: weight URL ${url} has no "-<sha256 prefix>." in its file name to verify against`);
  const dir = resolve(opts.cacheDir ?? defaultWeightsDir());
  const cached = join(dir, fileName);

  const random = (): PretrainedResult => ({
    backbone: build(key, { random: true, seed }),
    weights: { kind: 'random', name: key, seed },
  });
  const fallback = (why: string, tryHint: boolean): PretrainedResult => {
    log(
      `${key}: no pretrained weights: ${why}. Using seeded RANDOM weights (seed ${seed}) instead, so results ` +
        `say little about pretrained features. For pretrained weights pass --weights FILE.pth, or import a copy once: ` +
        `npm run glass -- weights --backbone ${key} --from FILE` +
        (tryHint ? ' (GLASS_OFFLINE=1 skips the download attempt)' : ''),
    );
    return random();
  };
  const torchvision = (path: string, sha256: string): PretrainedResult => ({
    backbone: build(key, { weights: path }),
    weights: { kind: 'torchvision', name: key, sha256, path },
  });

  let stale = false;
  if (existsSync(cached)) {
    const sha = await sha256File(cached);
    if (sha.startsWith(prefix)) return torchvision(cached, sha);
    stale = true;
  }

  const offline = opts.offline || offlineFromEnv();
  if (offline) {
    return fallback(`offline (${opts.offline ? 'offline mode' : 'GLASS_OFFLINE is set'}), not downloading ${url}`, false);
  }

  // The wrapper records what happened on the wire, so the one message can say why it failed
  // without parsing ensureWeights' wording.
  const wire: Wire = { received: 0, total: null };
  const bar = opts.progress === false ? null : downloadProgress(fileName, opts.progressOut ?? process.stderr);
  const inner = opts.fetchImpl ?? ((u: string) => nodeFetch(u, { connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS }));
  const fetchImpl: FetchLike = async (u) => {
    try {
      const res = await inner(u);
      wire.status = res.status;
      wire.statusText = res.statusText;
      const len = res.headers.get('content-length');
      wire.total = len !== null && /^\d+$/.test(len) ? Number(len) : null;
      if (res.ok) bar?.start(u, wire.total);
      return res;
    } catch (err) {
      wire.fetchError = err;
      throw err;
    }
  };
  let path: string;
  let sha256: string;
  try {
    ({ path, sha256 } = await ensureWeights({
      backbone: key,
      cacheDir: dir,
      url,
      fetchImpl,
      force: true,
      onProgress: (n, total) => {
        wire.received = n;
        bar?.update(n, total);
      },
    }));
  } catch (err) {
    bar?.end();
    return fallback(`could not download ${url} (${failureReason(err, wire, url, prefix)})`, true);
  }
  bar?.end();
  // The one log line of a download (progress went to progressOut); a failure logs only the above.
  log(`${key}: downloaded ${url} -> ${path}${stale ? ' (replacing a cached copy that failed its hash check)' : ''}`);
  // Past this point the file is verified: a failure to build is a real error, not a fallback.
  return torchvision(path, sha256);
}

interface Wire {
  fetchError?: unknown;
  status?: number;
  statusText?: string;
  received: number;
  total: number | null;
}

const mb = (n: number) => (n / 1e6).toFixed(1);

/** A few words on why a download failed. */
function failureReason(err: unknown, wire: Wire, url: string, prefix: string): string {
  if (wire.fetchError !== undefined) {
    const e = wire.fetchError as NodeJS.ErrnoException & { hostname?: string };
    const host = e.hostname ?? new URL(url).host;
    switch (e.code) {
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `could not resolve ${host}: no network?`;
      case 'ECONNREFUSED':
        return `connection refused by ${host}`;
      case 'ENETUNREACH':
      case 'EHOSTUNREACH':
      case 'ENETDOWN':
        return 'network unreachable';
      case 'ECONNRESET':
        return `connection reset by ${host}`;
      default:
        return e.message ?? String(e);
    }
  }
  if (wire.status !== undefined && (wire.status < 200 || wire.status >= 300)) {
    return `HTTP ${wire.status}${wire.statusText ? ' ' + wire.statusText : ''}`;
  }
  const msg = (err as Error)?.message ?? String(err);
  // No answer was ever recorded: the failure came before the request (e.g. an unwritable cache).
  if (wire.status === undefined) return msg;
  if (/hash mismatch/.test(msg)) {
    const got = /hashes to ([0-9a-f]+)/.exec(msg)?.[1];
    return `hash did not match: the file name expects SHA-256 ${prefix}...${got ? `, the content hashes to ${got}...` : ''}`;
  }
  if (wire.total === null || wire.received < wire.total) {
    return `connection cut after ${mb(wire.received)}${wire.total === null ? '' : ` of ${mb(wire.total)}`} MB`;
  }
  return msg;
}

async function fromGivenWeights(name: string, weights: string, build: NonNullable<PretrainedOptions['build']>): Promise<PretrainedResult> {
  const path = resolve(weights);
  if (!existsSync(path)) throw new Error(`${name}: --weights ${path} not found`);
  if (name === 'mobilenet_v1') {
    if (!statSync(path).isDirectory()) throw new Error(`mobilenet_v1: --weights ${path} is not a folder (expected a tfjs model folder with model.json)`);
    const id = weightsIdentityOfTfjsFolder(path, name);
    return { backbone: build(name, { weights: path }), weights: id };
  }
  if (statSync(path).isDirectory()) throw new Error(`${name}: --weights ${path} is a folder; expected a torchvision .pth file`);
  const sha256 = await sha256File(path);
  let backbone: Backbone;
  try {
    backbone = build(name, { weights: path });
  } catch (err) {
    // A named file that cannot be used is the user's to fix: no silent random fallback.
    throw new Error(`${name}: --weights ${path} could not be loaded: ${(err as Error).message}`);
  }
  return { backbone, weights: { kind: 'file', name: resolveBackboneName(name), sha256, path } };
}

/** GLASS's name for a torchvision arch name (wide_resnet50_2 -> wideresnet50); others unchanged. */
function resolveBackboneName(name: string): string {
  try {
    return resolveBackbone(name).backbone;
  } catch {
    return name;
  }
}

/**
 * Identity of a TF.js layers model folder: SHA-256 over model.json, then every shard named in its
 * weightsManifest (groups in order, paths in order, each once). Each file enters the hash as
 * "<relative path>\n<byte count>\n" followed by its bytes, so moving bytes between files changes
 * it; a shard that is absent enters as "<path>\nmissing\n" (the shared MobileNetV1 lacks one,
 * and loads without it).
 */
export function weightsIdentityOfTfjsFolder(dir: string, name = 'mobilenet_v1'): WeightsIdentity {
  const root = resolve(dir);
  const jsonPath = join(root, 'model.json');
  if (!existsSync(jsonPath)) throw new Error(`tfjs: ${jsonPath} not found`);
  const json = readFileSync(jsonPath);
  let doc: { weightsManifest?: { paths?: unknown[] }[] };
  try {
    doc = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new Error(`tfjs: ${jsonPath}: not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc.weightsManifest)) throw new Error(`tfjs: ${jsonPath}: weightsManifest is missing`);
  const h = createHash('sha256');
  h.update(`model.json\n${json.byteLength}\n`).update(json);
  const seen = new Set<string>();
  for (const group of doc.weightsManifest) {
    for (const p of Array.isArray(group?.paths) ? group.paths.map(String) : []) {
      if (seen.has(p)) continue;
      seen.add(p);
      const f = join(root, p);
      if (!existsSync(f)) {
        h.update(`${p}\nmissing\n`);
        continue;
      }
      const bytes = readFileSync(f);
      h.update(`${p}\n${bytes.byteLength}\n`).update(bytes);
    }
  }
  return { kind: 'tfjs', name, sha256: h.digest('hex'), path: root };
}

/** One line for logs and `test`'s report. */
export function describeWeights(id: WeightsIdentity): string {
  const sha = id.sha256 ? `sha256 ${id.sha256.slice(0, 12)}` : 'no hash';
  switch (id.kind) {
    case 'torchvision':
      return `${id.name}: torchvision ImageNet weights${id.path ? ' ' + basename(id.path) : ''} (${sha})`;
    case 'file':
      return `${id.name}: weights from ${id.path ?? 'a file'} (${sha})`;
    case 'tfjs':
      return `${id.name}: TF.js model${id.path ? ' ' + id.path : ''} (${sha})`;
    case 'random':
      return `${id.name}: seeded RANDOM weights (seed ${id.seed ?? 0}), not pretrained`;
  }
}

/**
 * Whether two identities name the same weights: equal content hashes (a torchvision download and
 * the same file passed with --weights agree), or random weights of the same network and seed.
 */
export function sameWeights(a: WeightsIdentity, b: WeightsIdentity): boolean {
  if (a.name !== b.name) return false;
  if (a.kind === 'random' || b.kind === 'random') return a.kind === b.kind && (a.seed ?? 0) === (b.seed ?? 0);
  return a.sha256 !== undefined && a.sha256 === b.sha256;
}

/**
 * Download progress. On a TTY: one line redrawn in place, "[#####.....]  45%  12.3 / 46.8 MB
 * 5.2 MB/s", at most every 100 ms or per percent. Elsewhere (logs, CI): a line per 10 % (per
 * 10 MB when the size is unknown), so a log file gets ten lines, not thousands.
 */
export function downloadProgress(
  label: string,
  out: ProgressOut,
  now: () => number = Date.now,
): {
  start(url: string, total: number | null): void;
  update(n: number, total: number | null): void;
  end(): void;
} {
  const t0 = now();
  const tty = !!out.isTTY;
  let lastStep = -1;
  let lastDraw = -Infinity;
  let open = false;
  const speed = (n: number) => `${mb(n / Math.max((now() - t0) / 1000, 1e-3))} MB/s`;
  return {
    /** The server answered: elsewhere than a TTY, say what is coming (the bar's label says it on one). */
    start(url, total) {
      if (!tty) out.write(`${label}: downloading ${url}${total === null ? '' : ` (${mb(total)} MB)`}\n`);
    },
    update(n, total) {
      const pct = total ? Math.min(100, Math.floor((n / total) * 100)) : null;
      if (tty) {
        const t = now();
        const done = pct === 100;
        const step = pct ?? Math.floor(n / 1e6);
        if (!done && step === lastStep && t - lastDraw < 100) return;
        lastStep = step;
        lastDraw = t;
        const W = 24;
        const line =
          pct === null
            ? `${label} ${mb(n)} MB  ${speed(n)}`
            : `${label} [${'#'.repeat(Math.round((pct / 100) * W)).padEnd(W, '.')}] ${String(pct).padStart(3)}%  ${mb(n)} / ${mb(total!)} MB  ${speed(n)}`;
        out.write(`\r${line}\x1b[K${done ? '\n' : ''}`);
        open = !done;
      } else {
        const step = pct === null ? Math.floor(n / 10e6) : Math.floor(pct / 10);
        if (step === lastStep || step === 0) return;
        lastStep = step;
        out.write(pct === null ? `${label}: ${mb(n)} MB  ${speed(n)}\n` : `${label}: ${String(pct).padStart(3)}%  ${mb(n)} / ${mb(total!)} MB  ${speed(n)}\n`);
      }
    },
    /** Ends a half-drawn TTY line, so the next message starts on its own line. */
    end() {
      if (open) out.write('\n');
      open = false;
    },
  };
}
