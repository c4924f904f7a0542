// safetensors read/write (https://github.com/huggingface/safetensors): u64 little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__: {str: str}}, then the
// raw little-endian tensor bytes. Our own checkpoints use it because it is trivially safe to read
// (no code, unlike pickle). This module works on bytes in memory; files.ts reads and writes
// files (atomically, so a crash never leaves half a file). The whole header is validated (every span inside the data, tiling it with no overlap or hole)
// before any tensor is copied, so overlapping spans cannot multiply a small file into many copies;
// the tensor bytes are charged to GLASS_MAX_WEIGHTS_BYTES / the maxBytes option (see limits.ts).
import { ByteBudget, maxWeightsBytes } from './limits.ts';
import { DTYPE_SIZE, numel, typedFromBytes, type CpuTensor, type DType } from './types.ts';

const TO_ST: Record<DType, string> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_ST: Record<string, DType> = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));

/** Headers larger than this are refused (the reference implementation uses 100 MB as well). */
export const MAX_HEADER = 100_000_000;

export interface SafetensorsContent {
  tensors: Map<string, CpuTensor>;
  metadata: Record<string, string>;
}

export type TensorInput = Map<string, CpuTensor> | Record<string, CpuTensor>;

export interface SafetensorsReadOptions {
  /** Most tensor bytes accepted (default: GLASS_MAX_WEIGHTS_BYTES, else 1e9). */
  maxBytes?: number;
}

function entries(t: TensorInput): [string, CpuTensor][] {
  return t instanceof Map ? [...t] : Object.entries(t);
}

/** Parses a safetensors file held in memory; `label` names it in errors. */
export function parseSafetensors(buf: Uint8Array, label = '<buffer>', opts: SafetensorsReadOptions = {}): SafetensorsContent {
  const fail = (msg: string): never => {
    throw new Error(`safetensors: ${label}: ${msg}`);
  };
  if (buf.byteLength < 8) fail(`truncated: ${buf.byteLength} bytes, no header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > MAX_HEADER) fail(`header length ${n} is implausible (not a safetensors file?)`);
  if (8 + n > buf.byteLength) fail(`truncated: header needs ${n} bytes, file has ${buf.byteLength - 8} after the length`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n)));
  } catch (err) {
    return fail(`header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const data = buf.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const spans: { b: number; end: number; name: string; dtype: DType; shape: number[] }[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(info as object)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = FROM_ST[String(e?.dtype)];
    if (!dtype) fail(`tensor ${name}: unsupported dtype ${JSON.stringify(e?.dtype)} (supported: ${Object.keys(FROM_ST).join(', ')})`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor ${name}: bad shape ${JSON.stringify(shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[1] < off[0]) {
      fail(`tensor ${name}: bad data_offsets ${JSON.stringify(off)}`);
    }
    const [b, end] = off as [number, number];
    const shp = shape as number[];
    const want = numel(shp) * DTYPE_SIZE[dtype];
    if (end - b !== want) fail(`tensor ${name}: ${dtype}[${shp}] needs ${want} bytes, data_offsets span ${end - b}`);
    if (end > data.byteLength) fail(`truncated: tensor ${name} ends at ${end}, data has ${data.byteLength} bytes`);
    spans.push({ b, end, name, dtype, shape: shp.slice() });
  }
  // The format forbids holes and overlaps: the tensors must tile the data region exactly.
  const sorted = [...spans].sort((x, y) => x.b - y.b || x.end - y.end);
  let pos = 0;
  for (const { b, end, name } of sorted) {
    if (b !== pos) fail(b < pos ? `tensor ${name} overlaps the previous tensor` : `hole before tensor ${name} (bytes ${pos}..${b})`);
    pos = end;
  }
  if (pos !== data.byteLength) fail(`${data.byteLength - pos} trailing bytes after the last tensor`);
  const over = new ByteBudget(maxWeightsBytes(opts.maxBytes)).take(data.byteLength, `${data.byteLength} bytes of tensor data`);
  if (over) fail(over);
  const tensors = new Map<string, CpuTensor>();
  for (const { b, end, name, dtype, shape } of spans) {
    tensors.set(name, { dtype, shape, data: typedFromBytes(dtype, data.subarray(b, end), numel(shape)) });
  }
  return { tensors, metadata };
}

/** Header bytes (length prefix + space-padded JSON) and the tensors in file order, validated. */
export function prepareSafetensors(tensors: TensorInput, metadata: Record<string, string> | undefined): { head: Uint8Array; parts: Uint8Array[] } {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors: __metadata__.${k} must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  const parts: Uint8Array[] = [];
  let off = 0;
  for (const [name, t] of entries(tensors)) {
    if (name === '__metadata__') throw new Error('safetensors: a tensor cannot be named __metadata__');
    const st = TO_ST[t.dtype];
    if (!st) throw new Error(`safetensors: tensor ${name}: unsupported dtype ${t.dtype}`);
    const n = numel(t.shape);
    if (t.data.length !== n) {
      throw new Error(`safetensors: tensor ${name}: shape [${t.shape}] has ${n} elements, data has ${t.data.length}`);
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, n * DTYPE_SIZE[t.dtype]);
    header[name] = { dtype: st, shape: t.shape, data_offsets: [off, off + bytes.byteLength] };
    parts.push(bytes);
    off += bytes.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) {
    const p = new Uint8Array(json.byteLength + pad).fill(0x20);
    p.set(json);
    json = p;
  }
  const head = new Uint8Array(8 + json.byteLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  head.set(json, 8);
  return { head, parts };
}

/** The whole file as bytes (tensors in the given order). */
export function serializeSafetensors(tensors: TensorInput, metadata?: Record<string, string>): Uint8Array {
  const { head, parts } = prepareSafetensors(tensors, metadata);
  const out = new Uint8Array(head.byteLength + parts.reduce((s, p) => s + p.byteLength, 0));
  out.set(head);
  let o = head.byteLength;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
