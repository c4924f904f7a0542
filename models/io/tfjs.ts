// TensorFlow.js *layers* models (model.json = modelTopology + weightsManifest, plus binary shard
// files) -> named CpuTensors and the Keras layer list. A missing or short shard does not abort the
// load: its weights are listed in `missing` with the reason, so a feature extractor that never
// uses them (the shared MobileNetV1 lacks conv_pw_13/kernel) still gets everything else.
// Decoded weights (4 bytes per value once dequantized) are charged to GLASS_MAX_WEIGHTS_BYTES /
// the maxBytes option (see limits.ts), like the other readers.
// Works on model.json's text and the shard bytes, however they were fetched; files.ts's
// loadTfjsLayersModel reads them from a folder.
import { ByteBudget, maxWeightsBytes } from './limits.ts';
import { halfToFloat, numel, typedFromBytes, type CpuTensor, type DType } from './types.ts';

export interface TfjsLayer {
  /** Keras class name: Conv2D, DepthwiseConv2D, BatchNormalization, Activation, ... */
  className: string;
  name: string;
  /** The Keras config as stored (strides, padding, use_bias, epsilon, activation, ...). */
  config: Record<string, unknown>;
  /** Names of the layers feeding this one (from inbound_nodes; the previous layer in a Sequential). */
  inbound: string[];
  /** Manifest weight names that belong to this layer ('conv1/kernel' belongs to 'conv1'). */
  weightNames: string[];
}

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  group: number;
  paths: string[];
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

export interface TfjsMissing {
  name: string;
  shape: number[];
  reason: string;
}

export interface TfjsModel {
  /** Folder holding model.json and the shards (or the label of a model given in memory). */
  dir: string;
  format?: string;
  kerasVersion?: string;
  /** Top-level layers in topology order. */
  layers: TfjsLayer[];
  /** Loaded weights by manifest name, dequantized to float32 where the file was quantized. */
  weights: Map<string, CpuTensor>;
  /** Every manifest entry, in manifest order. */
  manifest: TfjsWeightSpec[];
  /** Weights that could not be read (missing or short shard), with the reason. */
  missing: TfjsMissing[];
  /** batch_input_shape of the first InputLayer, if any (e.g. [null, 224, 224, 3]). */
  inputShape?: (number | null)[];
  /** The raw modelTopology object. */
  topology: unknown;
}

const DTYPES: Record<string, { dtype: DType; size: number }> = {
  float32: { dtype: 'float32', size: 4 },
  int32: { dtype: 'int32', size: 4 },
  bool: { dtype: 'bool', size: 1 },
};
const QUANT_SIZE: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

type Json = Record<string, unknown>;

function asObj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

/** The layer list of a Keras topology in either layout the converters write. */
function parseLayers(topology: unknown, label: string): { layers: TfjsLayer[]; kerasVersion?: string } {
  const top = asObj(topology);
  if (!top) throw new Error(`tfjs: ${label}: modelTopology is missing or not an object`);
  // Keras h5 converter: {keras_version, backend, model_config: {class_name, config}};
  // tf.LayersModel.save: {class_name, config, keras_version, backend}.
  const model = asObj(top.model_config) ?? top;
  const cfg = model.config;
  const rawLayers = Array.isArray(cfg) ? cfg : asObj(cfg)?.layers;
  if (!Array.isArray(rawLayers)) {
    throw new Error(`tfjs: ${label}: topology of class ${String(model.class_name)} has no layer list`);
  }
  const sequential = model.class_name === 'Sequential';
  const layers: TfjsLayer[] = [];
  for (const raw of rawLayers) {
    const l = asObj(raw);
    if (!l) throw new Error(`tfjs: ${label}: layer entry is not an object`);
    const config = asObj(l.config) ?? {};
    const name = String(l.name ?? config.name ?? `layer_${layers.length}`);
    const inbound: string[] = [];
    if (Array.isArray(l.inbound_nodes)) {
      for (const node of l.inbound_nodes) {
        if (!Array.isArray(node)) continue;
        for (const conn of node) if (Array.isArray(conn) && typeof conn[0] === 'string') inbound.push(conn[0]);
      }
    } else if (sequential && layers.length) {
      inbound.push(layers[layers.length - 1].name);
    }
    layers.push({ className: String(l.class_name), name, config, inbound, weightNames: [] });
  }
  return { layers, kerasVersion: (top.keras_version as string | undefined) ?? (model.keras_version as string | undefined) };
}

export interface TfjsSource {
  /** model.json's text. */
  modelJson: string;
  /** A shard's bytes by its path in the manifest (relative to model.json), undefined when it is absent. */
  shard(path: string): Uint8Array | undefined;
  /** model.json's path or name, for errors. */
  label: string;
  /** TfjsModel.dir: the folder the shard paths are relative to. */
  dir: string;
  maxBytes?: number;
}

/**
 * Parses a TF.js layers model from model.json and its shards. Throws only when model.json itself
 * is unusable; unreadable weights are reported in `missing`.
 */
export function parseTfjsLayersModel(src: TfjsSource): TfjsModel {
  const budget = new ByteBudget(maxWeightsBytes(src.maxBytes));
  const { label: jsonPath, dir } = src;
  let doc: Json;
  try {
    doc = JSON.parse(src.modelJson);
  } catch (err) {
    throw new Error(`tfjs: ${jsonPath}: not valid JSON: ${(err as Error).message}`);
  }
  const { layers, kerasVersion } = parseLayers(doc.modelTopology, jsonPath);
  const groups = doc.weightsManifest;
  if (!Array.isArray(groups)) throw new Error(`tfjs: ${jsonPath}: weightsManifest is missing`);

  const manifest: TfjsWeightSpec[] = [];
  const weights = new Map<string, CpuTensor>();
  const missing: TfjsMissing[] = [];
  groups.forEach((g: unknown, gi: number) => {
    const group = asObj(g);
    const paths = Array.isArray(group?.paths) ? (group!.paths as unknown[]).map(String) : [];
    const specs = Array.isArray(group?.weights) ? (group!.weights as Json[]) : [];
    const list: TfjsWeightSpec[] = specs.map((w) => ({
      name: String(w.name),
      shape: (w.shape as number[]) ?? [],
      dtype: String(w.dtype ?? 'float32'),
      group: gi,
      paths,
      quantization: asObj(w.quantization) as TfjsWeightSpec['quantization'],
    }));
    manifest.push(...list);
    const shards = paths.map((p) => src.shard(p));
    const absent = paths.filter((_, i) => shards[i] === undefined);
    if (absent.length) {
      for (const w of list) missing.push({ name: w.name, shape: w.shape, reason: `shard file ${absent.join(', ')} not found` });
      return;
    }
    // A group's shards are one byte stream cut into files; weights follow each other in it.
    const buf = concat(shards as Uint8Array[]);
    let off = 0;
    for (const w of list) {
      if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new Error(`tfjs: ${jsonPath}: weight ${w.name}: bad shape ${JSON.stringify(w.shape)}`);
      }
      const n = numel(w.shape);
      const q = w.quantization;
      const plain = DTYPES[w.dtype];
      if (!q && !plain) {
        throw new Error(`tfjs: ${jsonPath}: weight ${w.name}: unsupported dtype ${w.dtype} (supported: float32, int32, bool)`);
      }
      const qsize = q ? QUANT_SIZE[q.dtype] : undefined;
      if (q && !qsize) throw new Error(`tfjs: ${jsonPath}: weight ${w.name}: unsupported quantization ${q.dtype}`);
      const nbytes = n * (qsize ?? plain.size);
      if (off + nbytes > buf.byteLength) {
        missing.push({
          name: w.name,
          shape: w.shape,
          reason: `shard data too short: needs bytes ${off}..${off + nbytes} of ${paths.join('+')} (${buf.byteLength} bytes)`,
        });
        off += nbytes;
        continue;
      }
      const bytes = buf.subarray(off, off + nbytes);
      off += nbytes;
      const over = budget.take(n * (q ? 4 : plain.size), `weight ${w.name}: ${n} values`);
      if (over) throw new Error(`tfjs: ${jsonPath}: ${over}`);
      weights.set(w.name, q ? dequantize(bytes, n, w, q) : { dtype: plain.dtype, shape: w.shape.slice(), data: typedFromBytes(plain.dtype, bytes, n) });
    }
  });

  const byLayer = new Map(layers.map((l) => [l.name, l]));
  for (const w of manifest) {
    const cut = w.name.lastIndexOf('/');
    const layer = cut > 0 ? byLayer.get(w.name.slice(0, cut)) : undefined;
    layer?.weightNames.push(w.name);
  }
  const input = layers.find((l) => l.className === 'InputLayer');
  return {
    dir,
    format: doc.format as string | undefined,
    kerasVersion,
    layers,
    weights,
    manifest,
    missing,
    inputShape: input?.config.batch_input_shape as (number | null)[] | undefined,
    topology: doc.modelTopology,
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** TF.js weight quantization: uint8/uint16 are `min + scale * q`; float16 is plain half precision. */
function dequantize(bytes: Uint8Array, n: number, w: TfjsWeightSpec, q: NonNullable<TfjsWeightSpec['quantization']>): CpuTensor {
  const out = new Float32Array(n);
  if (q.dtype === 'float16') {
    const h = typedFromBytes('float16', bytes, n) as Uint16Array;
    for (let i = 0; i < n; i++) out[i] = halfToFloat(h[i]);
  } else {
    const scale = q.scale ?? 1;
    const min = q.min ?? 0;
    const v = q.dtype === 'uint8' ? bytes : (typedFromBytes('float16', bytes, n) as Uint16Array);
    for (let i = 0; i < n; i++) out[i] = min + scale * v[i];
  }
  if (w.dtype === 'int32' || q.original_dtype === 'int32') {
    return { dtype: 'int32', shape: w.shape.slice(), data: Int32Array.from(out, (x) => Math.round(x)) };
  }
  return { dtype: 'float32', shape: w.shape.slice(), data: out };
}

/** The layer named `name`, or an error listing what exists. */
export function getTfjsLayer(model: TfjsModel, name: string): TfjsLayer {
  const l = model.layers.find((x) => x.name === name);
  if (!l)
    throw new Error(
      `tfjs: ${model.dir}: no layer ${name} (have ${model.layers.length}: ${model.layers
        .slice(0, 6)
        .map((x) => x.name)
        .join(', ')}, ...)`,
    );
  return l;
}
