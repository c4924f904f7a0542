// Module: the base of layers and models, like torch.nn.Module. Named parameters (leaf tensors
// with requiresGrad, kept so scopes never free them), named buffers (running stats...), child
// modules, train()/eval(), and state dicts with PyTorch's key names ('layers.0.weight',
// 'bn.running_mean'). loadStateDict copies values into the existing tensors in place, so
// optimizers holding the parameters keep working; it accepts our Tensors and plain CPU tensors
// ({shape, data[, dtype]}) as the weight readers in models/io produce them.
import { halfToFloat } from '../core/dtype.ts';
import { Tensor } from '../core/tensor.ts';
import { keep } from '../core/memory.ts';
import { noGrad } from '../autograd/tape.ts';
import { tensor, write } from '../ops/creation.ts';
import { assign, detach } from '../ops/views.ts';
import { cast } from '../ops/unary.ts';
import { DTYPES, type DType, type TypedArray } from '../core/dtype.ts';
import { fmt, numel, sameShape } from '../core/shape.ts';

/** A plain CPU tensor: row-major values; `dtype` tags 16-bit floats stored as raw bit patterns. */
export interface HostTensor {
  shape: readonly number[];
  data: ArrayLike<number> | BigInt64Array | TypedArray | Float64Array | Uint16Array | Int16Array | Int8Array | Uint8Array;
  dtype?: string;
}

export type StateValue = Tensor | HostTensor;
export type StateDict = Record<string, Tensor>;
export type StateDictInput = Record<string, StateValue> | Map<string, StateValue>;

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && (v as { isTensor?: boolean }).isTensor === true;
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** Host values converted to the typed array of `dtype` (int64 via Number, f16/bf16 decoded). */
export function hostToTyped(v: HostTensor, dtype: DType, label: string): TypedArray {
  const Arr = DTYPES[dtype].array;
  const d = v.data;
  const n = d.length;
  if (v.dtype === 'float16' || v.dtype === 'bfloat16') {
    const out = new Arr(n);
    for (let i = 0; i < n; i++) {
      const h = Number((d as ArrayLike<number>)[i]);
      if (v.dtype === 'float16') out[i] = halfToFloat(h);
      else {
        u32buf[0] = h << 16;
        out[i] = f32buf[0];
      }
    }
    return out;
  }
  if (d instanceof Arr) return d as TypedArray;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    const out = new Arr(n);
    for (let i = 0; i < n; i++) {
      const b = d[i];
      if (b > 9007199254740991n || b < -9007199254740991n) throw new Error(`${label}: int64 value ${b} at index ${i} does not fit`);
      out[i] = Number(b);
    }
    return out;
  }
  return Arr.from(d as ArrayLike<number>);
}

/** A CPU tensor uploaded as a new GPU tensor of `dtype`. */
export function fromHost(v: HostTensor, dtype: DType = 'f32', label = 'fromHost'): Tensor {
  return tensor(hostToTyped(v, dtype, label), { shape: [...v.shape], dtype });
}

/** Copies `src` (a Tensor or CPU tensor of the same shape) into `dst` in place, not recorded. */
export function copyInto(dst: Tensor, src: StateValue, label: string): void {
  if (!sameShape(dst.shape, src.shape)) throw new Error(`${label}: shape ${fmt(src.shape)} does not match ${fmt(dst.shape)}`);
  noGrad(() => {
    if (isTensor(src)) {
      if (src === dst) return;
      const s = src.dtype === dst.dtype ? src : cast(src, dst.dtype);
      assign(dst, s);
      if (s !== src) s.dispose();
    } else {
      if (src.data.length !== numel(dst.shape)) throw new Error(`${label}: ${src.data.length} values for shape ${fmt(dst.shape)}`);
      if (dst.isContiguous()) {
        write(dst, hostToTyped(src, dst.dtype, label));
        return;
      }
      const t = fromHost(src, dst.dtype, label);
      assign(dst, t);
      t.dispose();
    }
  });
}

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly bufs = new Map<string, Tensor | null>();
  private readonly childMap = new Map<string, Module>();
  /** Buffer names left out of state dicts (torch's persistent=False). */
  private readonly nonPersistent = new Set<string>();

  abstract forward(x: Tensor, ...rest: unknown[]): Tensor;

  /** Class name used in error messages. */
  get typeName(): string {
    return this.constructor.name;
  }

  /** Registers (or replaces with null) a parameter; the tensor becomes a kept leaf requiring grad. */
  registerParameter(name: string, t: Tensor | null): Tensor | null {
    this.checkName(name, this.params);
    if (t) {
      if (t.dtype !== 'f32') throw new Error(`${this.typeName}.registerParameter: '${name}' must be f32, got ${t.dtype}`);
      if (!t.isLeaf) throw new Error(`${this.typeName}.registerParameter: '${name}' is not a leaf tensor (detach it first)`);
      keep(t).requiresGrad_(true);
    }
    this.params.set(name, t);
    return t;
  }

  /** Registers a buffer (state that is not trained: running stats, counters); kept. */
  registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor | null {
    this.checkName(name, this.bufs);
    if (t) keep(t);
    this.bufs.set(name, t);
    if (!persistent) this.nonPersistent.add(name);
    return t;
  }

  registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name, this.childMap);
    this.childMap.set(name, m);
    return m;
  }

  private checkName(name: string, own: Map<string, unknown>): void {
    if (!name || name.includes('.')) throw new Error(`${this.typeName}: invalid name '${name}' (empty or containing '.')`);
    for (const m of [this.params, this.bufs, this.childMap] as Map<string, unknown>[])
      if (m !== own && m.has(name)) throw new Error(`${this.typeName}: '${name}' is already registered`);
  }

  /** The parameter named `name` (own, not nested), or null. */
  param(name: string): Tensor | null {
    return this.params.get(name) ?? null;
  }
  buffer(name: string): Tensor | null {
    return this.bufs.get(name) ?? null;
  }
  child(name: string): Module | undefined {
    return this.childMap.get(name);
  }

  /** Sets training mode recursively (torch's train(mode)). */
  train(mode = true): this {
    this.training = mode;
    for (const m of this.childMap.values()) m.train(mode);
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  *namedChildren(): Generator<[string, Module]> {
    yield* this.childMap;
  }
  *children(): Generator<Module> {
    yield* this.childMap.values();
  }
  /** This module and all descendants, pre-order (torch's modules()). */
  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /** This module and every descendant with its dotted prefix ('' for this one), pre-order. */
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [n, m] of this.childMap) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }

  /** Parameters with dotted names, own first then children's, each tensor once (torch order). */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [p, m] of this.namedModules())
      for (const [n, t] of m.params)
        if (t && !seen.has(t)) {
          seen.add(t);
          out.push([p ? `${p}.${n}` : n, t]);
        }
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [p, m] of this.namedModules()) for (const [n, t] of m.bufs) if (t) out.push([p ? `${p}.${n}` : n, t]);
    return out;
  }
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  /** Entries of the state dict in torch's order: per module (pre-order) params, then buffers. */
  private stateEntries(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [p, m] of this.namedModules()) {
      const pre = p ? `${p}.` : '';
      for (const [n, t] of m.params) if (t) out.push([pre + n, t]);
      for (const [n, t] of m.bufs) if (t && !m.nonPersistent.has(n)) out.push([pre + n, t]);
    }
    return out;
  }

  /**
   * Parameters and persistent buffers by torch key. Values are detached views sharing the
   * module's storage (like torch, writing into them changes the module); they are ordinary
   * handles, freed by the enclosing tidy or by dispose(). num_batches_tracked is i32 here
   * (int64 in torch files).
   */
  stateDict(): StateDict {
    const sd: StateDict = {};
    for (const [k, t] of this.stateEntries()) sd[k] = detach(t);
    return sd;
  }

  /**
   * Copies values into the module's tensors in place (no autograd). Shape mismatches are always
   * an error; with `strict` (default) missing and unexpected keys are too, all reported in one
   * message. A missing `num_batches_tracked` is accepted as torch does for old checkpoints.
   */
  loadStateDict(sd: StateDictInput, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const entries = sd instanceof Map ? [...sd.entries()] : Object.entries(sd);
    const given = new Map<string, StateValue>(entries);
    const own = this.stateEntries();
    const ownKeys = new Set(own.map(([k]) => k));
    const missing: string[] = [];
    const mismatched: string[] = [];
    for (const [k, t] of own) {
      const v = given.get(k);
      if (v === undefined) {
        if (!k.endsWith('num_batches_tracked')) missing.push(k);
        continue;
      }
      if (!v || !Array.isArray(v.shape) || (!isTensor(v) && !ArrayBuffer.isView(v.data) && !Array.isArray(v.data)))
        throw new Error(`loadStateDict(${this.typeName}): value of '${k}' is neither a Tensor nor a {shape, data} CPU tensor`);
      if (!sameShape(v.shape, t.shape)) mismatched.push(`'${k}': checkpoint ${fmt(v.shape)}, model ${fmt(t.shape)}`);
    }
    const unexpected = [...given.keys()].filter((k) => !ownKeys.has(k));
    if (mismatched.length || (strict && (missing.length || unexpected.length))) {
      const lines = [`loadStateDict: error(s) loading the state dict of ${this.typeName}:`];
      if (strict && missing.length) lines.push(`  missing keys: ${missing.map((k) => `'${k}'`).join(', ')}`);
      if (strict && unexpected.length) lines.push(`  unexpected keys: ${unexpected.map((k) => `'${k}'`).join(', ')}`);
      if (mismatched.length) lines.push(`  shape mismatches: ${mismatched.join('; ')}`);
      throw new Error(lines.join('\n'));
    }
    for (const [k, t] of own) {
      const v = given.get(k);
      if (v !== undefined) copyInto(t, v, `loadStateDict '${k}'`);
    }
    return { missingKeys: missing, unexpectedKeys: unexpected };
  }

  /** Drops the gradients of every parameter (torch's zero_grad with set_to_none). */
  zeroGrad(): void {
    for (const t of this.parameters()) {
      t.grad?.dispose();
      t.grad = null;
    }
  }

  /** Frees every parameter, buffer (and gradient) of this module and its children. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const t of m.params.values()) t?.dispose();
      for (const t of m.bufs.values()) t?.dispose();
    }
  }

  /** One line per module, like torch's repr (shapes only). */
  toString(): string {
    const lines: string[] = [];
    const rec = (m: Module, name: string, indent: string) => {
      const own = [...m.params].filter(([, t]) => t).map(([n, t]) => `${n}=${fmt(t!.shape)}`);
      lines.push(`${indent}${name ? name + ': ' : ''}${m.typeName}(${own.join(', ')})`);
      for (const [n, c] of m.childMap) rec(c, n, indent + '  ');
    };
    rec(this, '', '');
    return lines.join('\n');
  }
}
