// The Tensor handle: shape, strides and offset over a reference-counted GPU storage.
// Views (reshape of contiguous data, permute, transpose, expand, slice) share storage; ops that
// need dense input call contiguous(). Disposing a handle drops one storage reference; the
// buffer returns to the pool when the last reference (handle or saved-for-backward copy) is gone.
import { DTYPES, type DType, type TypedArray } from './dtype.ts';
import { acquireBuffer, releaseBuffer } from '../runtime/pool.ts';
import { readback } from '../runtime/dispatch.ts';
import { contiguousStrides, numel, fmt, type Shape } from './shape.ts';
import { trackTensor, untrackTensor, trackStorage, checkAllocation } from './memory.ts';
import type { Node } from '../autograd/tape.ts';

let nextStorageId = 1;
let nextTensorId = 1;

export class Storage {
  readonly id = nextStorageId++;
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {
    trackStorage(1);
  }
  retain(): this {
    if (this.refs <= 0) throw new Error('internal: retain of a released storage');
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs === 0) {
      releaseBuffer(this.buffer);
      trackStorage(-1);
    }
  }
  static alloc(elements: number, dtype: DType): Storage {
    const bytes = Math.max(elements, 1) * DTYPES[dtype].bytes;
    return new Storage(acquireBuffer(bytes), bytes);
  }
}

// Safety net for handles the user forgot: return their storage when collected.
const finalizer = new FinalizationRegistry<Storage>((s) => s.release());

export class Tensor {
  readonly isTensor = true;
  readonly id = nextTensorId++;
  /** Set for outputs of recorded ops; leaves get a leaf node on first use. */
  gradNode: Node | null = null;
  leafNode: Node | null = null;
  /** Leaf flag (set by requiresGrad_ / parameters). */
  private leafRequiresGrad = false;
  grad: Tensor | null = null;
  disposed = false;
  kept = false;

  constructor(
    readonly storage: Storage,
    readonly shape: readonly number[],
    readonly strides: readonly number[],
    readonly offset: number,
    readonly dtype: DType,
  ) {
    trackTensor(this);
    finalizer.register(this, storage, this);
  }

  /** A fresh contiguous tensor with uninitialised contents. */
  static empty(shape: Shape, dtype: DType = 'f32'): Tensor {
    checkAllocation(shape, dtype);
    return new Tensor(Storage.alloc(numel(shape), dtype), [...shape], contiguousStrides(shape), 0, dtype);
  }

  /** A new handle on the same storage with another shape/strides/offset (a view). */
  view_(shape: Shape, strides: readonly number[], offset: number, dtype: DType = this.dtype): Tensor {
    this.assertLive('view');
    return new Tensor(this.storage.retain(), [...shape], [...strides], offset, dtype);
  }

  /** An untracked handle on the same data, used by autograd to save tensors for backward. */
  share(): Tensor {
    const t = this.view_(this.shape, this.strides, this.offset);
    t.kept = true;
    return t;
  }

  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }
  numel(): number {
    return numel(this.shape);
  }
  dim(): number {
    return this.shape.length;
  }
  get buffer(): GPUBuffer {
    this.assertLive('buffer');
    return this.storage.buffer;
  }

  isContiguous(): boolean {
    const cs = contiguousStrides(this.shape);
    return this.shape.every((d, i) => d === 1 || this.strides[i] === cs[i]);
  }

  get requiresGrad(): boolean {
    return this.leafRequiresGrad || this.gradNode !== null;
  }
  get isLeaf(): boolean {
    return this.gradNode === null;
  }

  /** Marks a leaf as requiring gradients (torch's requires_grad_). */
  requiresGrad_(flag = true): this {
    if (this.gradNode) throw new Error('requiresGrad_: only leaf tensors can change requiresGrad; use detach() first');
    if (flag && this.dtype !== 'f32') throw new Error(`requiresGrad_: only f32 tensors can require gradients, got ${this.dtype}`);
    this.leafRequiresGrad = flag;
    if (!flag) this.leafNode = null;
    return this;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    finalizer.unregister(this);
    untrackTensor();
    this.storage.release();
    this.gradNode = null;
    this.leafNode = null;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  assertLive(op: string): void {
    if (this.disposed) throw new Error(`${op}: tensor ${fmt(this.shape)} (id ${this.id}) was disposed`);
  }

  /** Reads the values back to the host as a typed array (row-major, contiguous). */
  async data(): Promise<TypedArray> {
    this.assertLive('data');
    const src = this.isContiguous() ? this : this.contiguous();
    try {
      const n = this.size;
      const bytes = n * DTYPES[this.dtype].bytes;
      const ab = n === 0 ? new ArrayBuffer(0) : await readback(src.storage.buffer, src.offset * DTYPES[this.dtype].bytes, bytes);
      return new DTYPES[this.dtype].array(ab);
    } finally {
      if (src !== this) src.dispose();
    }
  }

  /** Nested JS arrays (numbers; booleans for bool tensors), like torch's tolist(). */
  async toArray(): Promise<unknown> {
    const d = await this.data();
    const asBool = this.dtype === 'bool';
    const build = (dim: number, off: number): unknown => {
      if (dim === this.rank) return asBool ? d[off] !== 0 : d[off];
      const stride = numel(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor has ${this.size} elements, shape ${fmt(this.shape)}`);
    return (await this.data())[0];
  }

  /** Readable summary; values are not read back (use `await t.print()` for that). */
  toString(): string {
    return `Tensor(shape=${fmt(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''}${this.disposed ? ', disposed' : ''})`;
  }

  /** Formats values like torch: nested brackets, 4 decimals, elided past 6 per dim. */
  async format(): Promise<string> {
    const d = await this.data();
    const isInt = this.dtype !== 'f32';
    const f = (x: number) => (isInt ? String(x) : x.toFixed(4));
    const rec = (dim: number, off: number, indent: string): string => {
      if (this.rank === 0) return f(d[0]);
      const n = this.shape[dim];
      const stride = numel(this.shape.slice(dim + 1));
      const idx = n > 6 ? [0, 1, 2, -1, n - 3, n - 2, n - 1] : [...Array(n).keys()];
      const parts = idx.map((i) => (i < 0 ? '...' : dim === this.rank - 1 ? f(d[off + i * stride]) : rec(dim + 1, off + i * stride, indent + ' ')));
      return dim === this.rank - 1 ? `[${parts.join(', ')}]` : `[${parts.join(',\n' + indent + ' ')}]`;
    };
    return `tensor(${rec(0, 0, '       ')}, shape=${fmt(this.shape)}, dtype=${this.dtype})`;
  }

  async print(): Promise<void> {
    console.log(await this.format());
  }
}

// Method sugar (a.add(b).relu()...) is attached in ops/methods.ts so that op files can import
// Tensor without a cycle; this declaration gives it types.
export interface Tensor extends TensorMethods {}
import type { TensorMethods } from '../ops/methods.ts';
