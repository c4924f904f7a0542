/// <reference lib="dom" />
// Backbone weights in the page, in the formats the CLI reads, with the CLI's identity (a SHA-256
// recorded in the checkpoint's ModelSpec, so `glass-ts test --weights ...` verifies it):
//  - MobileNetV1: a TF.js layers model, model.json and its shard files (several files, chosen
//    together or fetched from model.json's URL); hashed as models/pretrained.ts's
//    weightsIdentityOfTfjsFolder does: "model.json\n<bytes>\n" + model.json, then each manifest
//    path once, "<path>\n<bytes>\n" + bytes, or "<path>\nmissing\n";
//  - ResNets: one torchvision .pth or .safetensors file; the SHA-256 of its bytes (kind 'file').
// Without weights: seeded random weights ({kind: 'random', seed}), as `--random_backbone`.
import { backboneFromBytes, randomBackbone, type Backbone, type WeightsIdentity } from './lib.ts';

export interface LoadedWeights {
  backbone: Backbone;
  weights: WeightsIdentity;
  /** what the banner says */
  label: string;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const enc = new TextEncoder();

/** The tfjs model's identity hash over model.json and its shards (weightsIdentityOfTfjsFolder's). */
export async function tfjsSha256(files: ReadonlyMap<string, Uint8Array>): Promise<string> {
  const json = files.get('model.json');
  if (!json) throw new Error('tfjs: no model.json among the files');
  const doc = JSON.parse(new TextDecoder().decode(json)) as { weightsManifest?: { paths?: unknown[] }[] };
  if (!Array.isArray(doc.weightsManifest)) throw new Error('tfjs: model.json: weightsManifest is missing');
  const parts: Uint8Array[] = [enc.encode(`model.json\n${json.byteLength}\n`), json];
  const seen = new Set<string>();
  for (const group of doc.weightsManifest) {
    for (const p of Array.isArray(group?.paths) ? group.paths.map(String) : []) {
      if (seen.has(p)) continue;
      seen.add(p);
      const f = files.get(p) ?? files.get(p.slice(p.lastIndexOf('/') + 1));
      if (!f) parts.push(enc.encode(`${p}\nmissing\n`));
      else parts.push(enc.encode(`${p}\n${f.byteLength}\n`), f);
    }
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return sha256(all);
}

export function randomWeights(name: string, seed = 0): LoadedWeights {
  return { backbone: randomBackbone(name, seed), weights: { kind: 'random', name, seed }, label: `${name}: seeded random weights (seed ${seed})` };
}

/**
 * Weights from files by name: model.json + shards (MobileNetV1), or one .pth / .safetensors
 * (`name` says which ResNet). `where` names their folder or URL (recorded as the identity's path).
 */
export async function weightsFromFiles(name: string, files: ReadonlyMap<string, Uint8Array>, where: string): Promise<LoadedWeights> {
  if (files.has('model.json')) {
    const backbone = backboneFromBytes('mobilenet_v1', files, { label: `${where}/model.json` });
    const sha = await tfjsSha256(files);
    return {
      backbone,
      weights: { kind: 'tfjs', name: 'mobilenet_v1', sha256: sha, path: where },
      label: `mobilenet_v1: TF.js model ${where} (sha256 ${sha.slice(0, 12)})`,
    };
  }
  if (files.size !== 1)
    throw new Error(`${files.size} files without a model.json: give one .pth / .safetensors file (ResNets) or model.json with its shards (MobileNetV1)`);
  if (name === 'mobilenet_v1')
    throw new Error('mobilenet_v1 needs its TF.js files (model.json and the shards); for a .pth / .safetensors file choose a ResNet');
  const [[file, bytes]] = [...files];
  const backbone = backboneFromBytes(name, bytes, { label: file });
  const sha = await sha256(bytes);
  return { backbone, weights: { kind: 'file', name, sha256: sha, path: file }, label: `${name}: ${file} (sha256 ${sha.slice(0, 12)})` };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** Weights from a URL: a model.json (its shards are fetched beside it) or one weight file. */
export async function weightsFromUrl(name: string, url: string): Promise<LoadedWeights> {
  const abs = new URL(url, location.href);
  const file = decodeURIComponent(abs.pathname.slice(abs.pathname.lastIndexOf('/') + 1)) || 'weights';
  if (file.endsWith('.json')) {
    const json = await fetchBytes(abs.href);
    const doc = JSON.parse(new TextDecoder().decode(json)) as { weightsManifest?: { paths?: unknown[] }[] };
    const files = new Map<string, Uint8Array>([['model.json', json]]);
    // a shard that is not there (404) counts as missing, as in a folder (the shared MobileNetV1 lacks one)
    for (const g of doc.weightsManifest ?? []) {
      for (const p of (g.paths ?? []).map(String)) {
        if (files.has(p)) continue;
        const r = await fetch(new URL(p, abs).href);
        if (r.status === 404) continue;
        if (!r.ok) throw new Error(`GET ${new URL(p, abs).href}: ${r.status} ${r.statusText}`);
        files.set(p, new Uint8Array(await r.arrayBuffer()));
      }
    }
    return weightsFromFiles('mobilenet_v1', files, abs.href.slice(0, abs.href.lastIndexOf('/')));
  }
  return weightsFromFiles(name === 'mobilenet_v1' ? 'resnet18' : name, new Map([[file, await fetchBytes(abs.href)]]), abs.href);
}
