// Reads PyTorch checkpoints written by torch.save: the zip container (PyTorch >= 1.6:
// <prefix>/data.pkl + <prefix>/data/<key> storages) and the older "legacy" stream (five pickles
// then raw storages; torchvision's older weight files such as wide_resnet50_2-95faca4d.pth use it).
// The pickle is read with models/io/pickle.ts and an allowlist of exactly the globals that state
// dicts need, so a checkpoint can never run code; tensors come out as contiguous CpuTensors even
// when the file stored a transposed or offset view of a shared storage.
// Materialising views is where a tiny file could ask for gigabytes (one float seen through a
// stride-0 view of 16384x16384, or a thousand tensors over one storage), so inflated members and
// materialised tensors are charged to one ByteBudget per file: GLASS_MAX_WEIGHTS_BYTES or the
// maxBytes option, default 1e9 bytes (see limits.ts). Trees nested deeper than 1000 levels (or
// cyclic, for flattenTensors) are refused by name instead of overflowing the stack.
// Works on bytes in memory; files.ts has the path-based loadTorch / loadStateDict.
import { ByteBudget, maxWeightsBytes } from './limits.ts';
import { DEFAULT_MAX_DEPTH, PyFunction, Unpickler, describe, type UnpickleOptions } from './pickle.ts';
import { DTYPE_SIZE, allocTyped, int64ToInt32, isCpuTensor, numel, toFloat32, viewOf, type CpuTensor, type DType, type TensorData } from './types.ts';
import { ZipArchive, looksLikeZip } from './zip.ts';

export interface TorchLoadOptions {
  /** Decode float16/bfloat16 tensors to float32 (default: keep the 16-bit patterns). */
  halfToFloat?: boolean;
  /**
   * int64 tensors: keep as BigInt64Array ('bigint', default) or convert to int32/float32; a value
   * that does not fit is an error naming the tensor, never a silent wrap.
   */
  int64?: 'bigint' | 'int32' | 'float32';
  /**
   * Most bytes the file may make us allocate: inflated zip members plus materialised tensors (in
   * the file's own dtypes). Default: GLASS_MAX_WEIGHTS_BYTES, else 1e9.
   */
  maxBytes?: number;
}

/** torch.<X>Storage -> dtype, for the dtypes a CpuTensor can hold. */
export const TORCH_STORAGE_DTYPES: Record<string, DType> = {
  DoubleStorage: 'float64',
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

/** Storages torch can write that we refuse by name (no CpuTensor dtype for them). */
const UNSUPPORTED_STORAGES: Record<string, string> = {
  ComplexFloatStorage: 'complex64',
  ComplexDoubleStorage: 'complex128',
  ComplexHalfStorage: 'complex32',
  QInt8Storage: 'qint8',
  QUInt8Storage: 'quint8',
  QInt32Storage: 'qint32',
  QUInt4x2Storage: 'quint4x2',
  QUInt2x4Storage: 'quint2x4',
};

class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: DType,
  ) {}
}

/** One storage: its raw bytes arrive during (zip) or after (legacy) unpickling. */
class Storage {
  bytes: Uint8Array | undefined;
  private typed: TensorData | undefined;
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
  ) {}

  elements(label: string): TensorData {
    if (this.typed) return this.typed;
    const b = this.bytes;
    if (!b) throw new Error(`torch: ${label}: storage ${this.key} has no data`);
    const need = this.numel * DTYPE_SIZE[this.dtype];
    if (b.byteLength < need) {
      throw new Error(`torch: ${label}: storage ${this.key} has ${b.byteLength} bytes, needs ${need} (truncated?)`);
    }
    // View in place when aligned (zip members written by torch >= 1.x usually are), else copy.
    if (b.byteOffset % DTYPE_SIZE[this.dtype] === 0) this.typed = viewOf(this.dtype, b.buffer, b.byteOffset, this.numel);
    else {
      const copy = new Uint8Array(need);
      copy.set(b.subarray(0, need));
      this.typed = viewOf(this.dtype, copy.buffer, 0, this.numel);
    }
    return this.typed;
  }
}

/** A tensor as the pickle describes it; materialised once the storage bytes are known. */
class PendingTensor {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    throw new Error(`${what} must be a tuple of ints, got ${describe(v)}`);
  }
  return v as number[];
}

function rebuildTensor(args: unknown[]): PendingTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof Storage)) throw new Error(`expected a storage, got ${describe(storage)}`);
  if (typeof offset !== 'number') throw new Error(`storage offset must be an int, got ${describe(offset)}`);
  const sz = intList(size, 'size');
  const st = intList(stride, 'stride');
  if (sz.length !== st.length) throw new Error(`size ${JSON.stringify(sz)} and stride ${JSON.stringify(st)} differ in rank`);
  return new PendingTensor(storage, offset, sz.slice(), st.slice());
}

function asTensorArg(v: unknown, what: string): PendingTensor {
  if (!(v instanceof PendingTensor)) throw new Error(`${what} expects a tensor, got ${describe(v)}`);
  return v;
}

const TENSOR_TYPES = new Set(['torch.Tensor', 'torch._tensor.Tensor', 'torch.nn.parameter.Parameter']);

/** The only globals a state dict needs; everything else is refused by the unpickler. */
function makeFindGlobal(label: string): UnpickleOptions['findGlobal'] {
  const fns = new Map<string, PyFunction>([
    [
      'collections.OrderedDict',
      new PyFunction('collections.OrderedDict', (a) => {
        const m = new Map<unknown, unknown>();
        if (a.length && Array.isArray(a[0])) for (const kv of a[0] as unknown[][]) m.set(kv[0], kv[1]);
        return m;
      }),
    ],
    ['torch._utils._rebuild_tensor_v2', new PyFunction('torch._utils._rebuild_tensor_v2', rebuildTensor)],
    ['torch._utils._rebuild_tensor', new PyFunction('torch._utils._rebuild_tensor', rebuildTensor)],
    ['torch._utils._rebuild_parameter', new PyFunction('torch._utils._rebuild_parameter', (a) => asTensorArg(a[0], '_rebuild_parameter'))],
    [
      'torch._utils._rebuild_parameter_with_state',
      new PyFunction('torch._utils._rebuild_parameter_with_state', (a) => asTensorArg(a[0], '_rebuild_parameter_with_state')),
    ],
    // torch >= 1.12 wraps tensors of (sub)classes as _rebuild_from_type_v2(func, type, args, state);
    // allowed only when func is one of the rebuild functions above and type a plain Tensor/Parameter.
    [
      'torch._tensor._rebuild_from_type_v2',
      new PyFunction('torch._tensor._rebuild_from_type_v2', (a) => {
        const [fn, type, args] = a;
        if (!(fn instanceof PyFunction) || !(type instanceof TensorTypeMarker) || !Array.isArray(args)) {
          throw new Error(`unsupported arguments ${a.map(describe).join(', ')}`);
        }
        return fn.call(args);
      }),
    ],
    // Python 3 writes bytes in protocol 2 as _codecs.encode(str, 'latin1'); harmless.
    [
      '_codecs.encode',
      new PyFunction('_codecs.encode', (a) => {
        const s = String(a[0]);
        const out = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
        return out;
      }),
    ],
    ['builtins.set', new PyFunction('builtins.set', (a) => new Set((a[0] as unknown[]) ?? []))],
    ['builtins.frozenset', new PyFunction('builtins.frozenset', (a) => new Set((a[0] as unknown[]) ?? []))],
    ['__builtin__.set', new PyFunction('__builtin__.set', (a) => new Set((a[0] as unknown[]) ?? []))],
  ]);
  return (module, name) => {
    const q = `${module}.${name}`;
    const fn = fns.get(q);
    if (fn) return fn;
    if (TENSOR_TYPES.has(q)) return new TensorTypeMarker(q);
    if ((module === 'torch' || module === 'torch.storage') && name.endsWith('Storage')) {
      const dtype = TORCH_STORAGE_DTYPES[name];
      if (dtype) return new StorageType(name, dtype);
      const what = UNSUPPORTED_STORAGES[name];
      throw new Error(
        `torch: ${label}: unsupported dtype: ${q}${what ? ` (${what})` : ''}; ` +
          `supported: ${Object.values(TORCH_STORAGE_DTYPES)
            .filter((d, i, a) => a.indexOf(d) === i)
            .join(', ')}`,
      );
    }
    return undefined;
  };
}

class TensorTypeMarker {
  constructor(readonly qualname: string) {}
}

const REFUSE_HINT = 'only tensors, dicts and OrderedDicts of state dicts can be read ' + '(save model.state_dict(), not the model object)';

function str(v: unknown): string {
  if (!(v instanceof Uint8Array)) return String(v);
  // Latin-1, in chunks: spreading a large bytes object into one String.fromCharCode call
  // overflows the stack (TextDecoder's 'latin1' is windows-1252, which differs at 0x80-0x9f).
  let s = '';
  for (let i = 0; i < v.length; i += 8192) s += String.fromCharCode(...v.subarray(i, i + 8192));
  return s;
}

/** A tree path short enough for an error message (a hostile one can be thousands of levels long). */
function shortPath(name: string): string {
  return name.length > 80 ? `${name.slice(0, 50)}...${name.slice(-20)}` : name;
}

/** A storage's element count from the pickle, refused unless it is one. */
function storageCount(n: unknown, key: string, label: string): number {
  const count = typeof n === 'bigint' ? Number(n) : n;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new Error(`torch: ${label}: storage ${key} has ${String(n)} elements, which is not a count`);
  }
  return count;
}

/** Reads a checkpoint from memory; `label` names it in errors. Returns the unpickled object tree. */
export function readTorch(buf: Uint8Array, opts: TorchLoadOptions & { label?: string } = {}): unknown {
  const label = opts.label ?? '<buffer>';
  const budget = new ByteBudget(maxWeightsBytes(opts.maxBytes));
  let tree: unknown;
  if (looksLikeZip(buf)) tree = readZipCheckpoint(buf, label, budget);
  else if (buf.length >= 2 && buf[0] === 0x80 && buf[1] <= 5) tree = readLegacyCheckpoint(buf, label);
  else if (buf.length > 262 && String.fromCharCode(...buf.subarray(257, 262)) === 'ustar') {
    throw new Error(`torch: ${label}: tar-based checkpoint (PyTorch < 0.4) is not supported; re-save it with torch.save`);
  } else {
    const head = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(
      `torch: ${label}: not a PyTorch checkpoint: wrong magic (starts with ${head || 'nothing'}; ` + 'expected a zip "50 4b 03 04" or a legacy pickle "80 02")',
    );
  }
  return materialiseTree(tree, label, opts, budget);
}

/**
 * A checkpoint's tensors as one flat name -> tensor map. Nested dicts join their keys with '.'
 * (GLASS's {discriminator, pre_projection} becomes 'discriminator.body.block1.0.weight', ...);
 * `prefix` ('discriminator') selects one sub-dict and drops that prefix from the names.
 */
export function readStateDict(buf: Uint8Array, opts: TorchLoadOptions & { prefix?: string; label?: string } = {}): Map<string, CpuTensor> {
  const label = opts.label ?? '<buffer>';
  let tree = readTorch(buf, { ...opts, label });
  if (opts.prefix) {
    for (const part of opts.prefix.split('.')) {
      if (!(tree instanceof Map) || !tree.has(part)) {
        const keys = tree instanceof Map ? [...tree.keys()].map(String).join(', ') : describe(tree);
        throw new Error(`torch: ${label}: no entry ${JSON.stringify(part)} for prefix ${opts.prefix} (have: ${keys})`);
      }
      tree = tree.get(part);
    }
  }
  return flattenTensors(tree, '.', label);
}

/** Most dicts, lists and tensors flattenTensors visits: shared sub-lists can double the paths per level. */
const MAX_TREE_NODES = 1_000_000;

/**
 * All tensors in a tree of dicts/lists, named by their '.'-joined path; other leaves are skipped.
 * `label` (the file) names the source in errors. A container shared by two parents is walked under
 * both names, as Python would; cycles, nesting past 1000 levels and more than a million nodes
 * (sharing that doubles per level) are refused.
 */
export function flattenTensors(tree: unknown, sep = '.', label?: string): Map<string, CpuTensor> {
  const out = new Map<string, CpuTensor>();
  const fail = (name: string, msg: string): never => {
    throw new Error(`${label === undefined ? 'flattenTensors' : `torch: ${label}`}: ${name ? `${shortPath(name)}: ` : ''}${msg}`);
  };
  const onPath = new Set<object>();
  let nodes = 0;
  const walk = (v: unknown, name: string, depth: number): void => {
    const tensor = isCpuTensor(v);
    if (!tensor && !(v instanceof Map) && !Array.isArray(v)) return;
    if (++nodes > MAX_TREE_NODES) fail('', `more than ${MAX_TREE_NODES} dicts, lists and tensors (the same ones reached over and over?)`);
    if (tensor) {
      out.set(name, v);
      return;
    }
    if (onPath.has(v)) fail(name, 'a dict or list containing itself (a reference cycle)');
    if (depth > DEFAULT_MAX_DEPTH) fail(name, `nested deeper than ${DEFAULT_MAX_DEPTH} levels`);
    onPath.add(v);
    if (v instanceof Map) for (const [k, x] of v) walk(x, name ? `${name}${sep}${str(k)}` : str(k), depth + 1);
    else for (let i = 0; i < v.length; i++) walk(v[i], name ? `${name}${sep}${i}` : String(i), depth + 1);
    onPath.delete(v);
  };
  walk(tree, '', 1);
  return out;
}

function readZipCheckpoint(buf: Uint8Array, label: string, budget: ByteBudget): unknown {
  const zip = new ZipArchive(buf, label, { budget });
  const pkls = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    const more = zip.names().slice(0, 8).join(', ');
    throw new Error(`torch: ${label}: expected one <prefix>/data.pkl in the zip, found ${pkls.length} (members: ${more})`);
  }
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  if (zip.has(prefix + 'byteorder')) {
    const order = new TextDecoder().decode(zip.read(prefix + 'byteorder')).trim();
    if (order !== 'little') throw new Error(`torch: ${label}: byteorder ${order} is not supported (little-endian only)`);
  }
  if (zip.has(prefix + 'constants.pkl') || zip.names().some((n) => n.startsWith(prefix + 'code/'))) {
    throw new Error(`torch: ${label}: this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint`);
  }
  const storages = new Map<string, Storage>();
  const pklLabel = `${label}:${pkls[0]}`;
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || str(pid[0]) !== 'storage' || pid.length < 5) {
      throw new Error(`torch: ${pklLabel}: unexpected persistent id ${describe(pid)}`);
    }
    const [, type, keyRaw, , n] = pid;
    if (!(type instanceof StorageType)) throw new Error(`torch: ${pklLabel}: storage type ${describe(type)}`);
    const key = str(keyRaw);
    let s = storages.get(key);
    if (!s) {
      s = new Storage(key, type.dtype, storageCount(n, key, pklLabel));
      const member = `${prefix}data/${key}`;
      if (!zip.has(member)) throw new Error(`torch: ${label}: storage member ${member} is missing`);
      s.bytes = zip.read(member);
      storages.set(key, s);
    }
    return s;
  };
  const data = zip.read(pkls[0]);
  return new Unpickler(data, { findGlobal: makeFindGlobal(pklLabel), persistentLoad, label: pklLabel, refuseHint: REFUSE_HINT }).load();
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function readLegacyCheckpoint(buf: Uint8Array, label: string): unknown {
  const plain = (pos: number) => new Unpickler(buf, { findGlobal: () => undefined, label }, pos);
  let u = plain(0);
  const magic = u.load();
  if (magic !== LEGACY_MAGIC) {
    throw new Error(`torch: ${label}: pickle stream without the torch legacy magic number (got ${describe(magic)})`);
  }
  u = plain(u.position);
  const version = u.load();
  if (version !== 1001) throw new Error(`torch: ${label}: legacy protocol version ${describe(version)}, expected 1001`);
  u = plain(u.position);
  const sysInfo = u.load();
  if (sysInfo instanceof Map && sysInfo.get('little_endian') === false) {
    throw new Error(`torch: ${label}: big-endian checkpoint is not supported`);
  }
  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid.length < 6 || str(pid[0]) !== 'storage') {
      const kind = Array.isArray(pid) ? str(pid[0]) : describe(pid);
      throw new Error(
        kind === 'module' ? `torch: ${label}: the file holds a whole nn.Module; ${REFUSE_HINT}` : `torch: ${label}: unexpected persistent id ${kind}`,
      );
    }
    const [, type, rootKeyRaw, , n, view] = pid;
    if (!(type instanceof StorageType)) throw new Error(`torch: ${label}: storage type ${describe(type)}`);
    const rootKey = str(rootKeyRaw);
    let root = storages.get(rootKey);
    if (!root) storages.set(rootKey, (root = new Storage(rootKey, type.dtype, storageCount(n, rootKey, label))));
    if (view === null || view === undefined) return root;
    // Pre-1.0 files could reference a slice of a root storage as its own storage.
    if (!Array.isArray(view) || view.length !== 3) throw new Error(`torch: ${label}: bad storage view ${describe(view)}`);
    return new StorageView(root, str(view[0]), Number(view[1]), Number(view[2]));
  };
  u = new Unpickler(buf, { findGlobal: makeFindGlobal(label), persistentLoad, label, refuseHint: REFUSE_HINT }, u.position);
  const tree = u.load();
  u = plain(u.position);
  const keys = u.load();
  if (!Array.isArray(keys)) throw new Error(`torch: ${label}: storage key list missing after the main pickle`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = u.position;
  for (const k of keys) {
    const s = storages.get(str(k));
    if (!s) throw new Error(`torch: ${label}: data for storage ${str(k)} that no tensor uses`);
    if (pos + 8 > buf.length) throw new Error(`torch: ${label}: truncated: storage ${s.key} size field at byte ${pos} is past the end (${buf.length} bytes)`);
    const n = Number(dv.getBigInt64(pos, true));
    pos += 8;
    if (n !== s.numel) throw new Error(`torch: ${label}: storage ${s.key} has ${n} elements, the pickle says ${s.numel}`);
    const nbytes = n * DTYPE_SIZE[s.dtype];
    if (pos + nbytes > buf.length) {
      throw new Error(`torch: ${label}: truncated: storage ${s.key} needs ${nbytes} bytes at ${pos}, file has ${buf.length}`);
    }
    s.bytes = buf.subarray(pos, pos + nbytes);
    pos += nbytes;
  }
  return tree;
}

/** A slice of a root storage (legacy view_metadata); resolves lazily since data comes later. */
class StorageView extends Storage {
  constructor(
    readonly root: Storage,
    key: string,
    readonly start: number,
    n: number,
  ) {
    super(key, root.dtype, n);
  }
  override elements(label: string): TensorData {
    const all = this.root.elements(label);
    if (this.start + this.numel > all.length) throw new Error(`torch: ${label}: storage view ${this.key} exceeds its root`);
    return all.subarray(this.start, this.start + this.numel) as TensorData;
  }
}

function materialise(p: PendingTensor, label: string, name: string, budget: ByteBudget): CpuTensor {
  const { storage, offset, size, stride } = p;
  const dtype = storage.dtype;
  for (let i = 0; i < size.length; i++) {
    if (size[i] < 0 || stride[i] < 0) throw new Error(`torch: ${label}: ${name}: negative size or stride`);
  }
  const n = numel(size);
  if (n === 0) return { dtype, shape: size, data: allocTyped(dtype, 0) };
  const src = storage.elements(label);
  let last = offset;
  for (let i = 0; i < size.length; i++) last += (size[i] - 1) * stride[i];
  if (offset < 0 || last >= src.length) {
    throw new Error(
      `torch: ${label}: ${name}: view (offset ${offset}, size ${JSON.stringify(size)}, ` +
        `stride ${JSON.stringify(stride)}) exceeds its storage of ${src.length} elements`,
    );
  }
  // More elements than the storage span they are read from: a stride-0 (expand) or overlapping view.
  const span = last - offset + 1;
  const bytes = n * DTYPE_SIZE[dtype];
  const over = budget.take(
    bytes,
    `materialising ${dtype}[${size}] (${bytes} bytes` + (n > span ? `, an expanded view of ${span} storage element${span === 1 ? '' : 's'})` : ')'),
  );
  if (over) throw new Error(`torch: ${label}: ${name}: ${over}`);
  const out = allocTyped(dtype, n);
  let contiguous = true;
  for (let i = size.length - 1, expect = 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== expect) {
      contiguous = false;
      break;
    }
    expect *= size[i];
  }
  if (contiguous) {
    (out as Float32Array).set(src.subarray(offset, offset + n) as Float32Array);
    return { dtype, shape: size, data: out };
  }
  // Strided gather, innermost dimension in a tight loop.
  const rank = size.length;
  const idx = new Array<number>(rank).fill(0);
  const inner = size[rank - 1];
  const innerStride = stride[rank - 1];
  const s = src as Float32Array;
  const o = out as Float32Array;
  let base = offset;
  for (let w = 0; w < n; w += inner) {
    for (let j = 0, q = base; j < inner; j++, q += innerStride) o[w + j] = s[q];
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      base += stride[d];
      if (idx[d] < size[d]) break;
      base -= stride[d] * size[d];
      idx[d] = 0;
    }
  }
  return { dtype, shape: size, data: out };
}

function convert(t: CpuTensor, opts: TorchLoadOptions, what: string): CpuTensor {
  if (opts.halfToFloat && (t.dtype === 'float16' || t.dtype === 'bfloat16')) return toFloat32(t, what);
  if (t.dtype === 'int64' && opts.int64 === 'int32') return int64ToInt32(t, what);
  if (t.dtype === 'int64' && opts.int64 === 'float32') return toFloat32(t, what);
  return t;
}

/** Replaces every PendingTensor in the tree by a contiguous CpuTensor (same object for repeats). */
function materialiseTree(tree: unknown, label: string, opts: TorchLoadOptions, budget: ByteBudget): unknown {
  const done = new Map<PendingTensor, CpuTensor>();
  const seen = new Set<object>();
  const visit = (v: unknown, name: string, depth: number): unknown => {
    if (v instanceof PendingTensor) {
      let t = done.get(v);
      if (!t) done.set(v, (t = convert(materialise(v, label, shortPath(name) || '<root>', budget), opts, `${label}: ${shortPath(name)}`)));
      return t;
    }
    if (typeof v !== 'object' || v === null || seen.has(v)) return v;
    // The unpickler bounds nesting as it builds, except for lists grown after being attached.
    if (depth > DEFAULT_MAX_DEPTH) throw new Error(`torch: ${label}: ${shortPath(name)}: nested deeper than ${DEFAULT_MAX_DEPTH} levels`);
    seen.add(v);
    if (v instanceof Map) for (const [k, x] of v) v.set(k, visit(x, name ? `${name}.${str(k)}` : str(k), depth + 1));
    else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) v[i] = visit(v[i], name ? `${name}.${i}` : String(i), depth + 1);
    else if (v instanceof Set) {
      const items = [...v];
      v.clear();
      for (const x of items) v.add(visit(x, name, depth + 1));
    }
    return v;
  };
  return visit(tree, '', 1);
}
