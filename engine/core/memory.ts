// Deterministic release of GPU memory. `tidy(fn)` disposes every tensor created inside `fn`
// except what it returns (tensors found in the returned value, arrays, objects, Maps) and what
// was `keep()`-ed, and releases the saved tensors of graph nodes that nothing returned can reach.
// The garbage collector is only a safety net (see tensor.ts and autograd/tape.ts).
import type { Tensor } from './tensor.ts';
import { Node, nodeIdWatermark, collectedSavedTensors } from '../autograd/tape.ts';
import { poolStats } from '../runtime/pool.ts';
import { maxBindingBytes, bindingLimitMessage, publicOp } from '../runtime/dispatch.ts';
import { checkShape, fmt, type Shape } from './shape.ts';
import { DTYPES, type DType } from './dtype.ts';

interface Scope {
  tensors: Tensor[];
  nodes: Node[];
  firstNodeId: number;
}

const stack: Scope[] = [];
let liveTensors = 0;
let liveStorages = 0;

export function trackTensor(t: Tensor): void {
  liveTensors++;
  const s = stack[stack.length - 1];
  if (s) s.tensors.push(t);
}

export function untrackTensor(): void {
  liveTensors--;
}

export function trackStorage(delta: number): void {
  liveStorages += delta;
}

export function trackNode(n: Node): void {
  const s = stack[stack.length - 1];
  if (s) s.nodes.push(n);
}

/** Marks a tensor as owned by the caller: no scope will dispose it. */
export function keep<T extends Tensor>(t: T): T {
  t.kept = true;
  return t;
}

function collect(v: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if ((v as { isTensor?: boolean }).isTensor === true) {
    out.add(v as Tensor);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, seen);
  else if (v instanceof Map) for (const x of v.values()) collect(x, out, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out, seen);
}

function begin(): Scope {
  const s: Scope = { tensors: [], nodes: [], firstNodeId: nodeIdWatermark() };
  stack.push(s);
  return s;
}

function end(s: Scope, result: unknown): void {
  if (stack[stack.length - 1] !== s) throw new Error('tidy: scopes ended out of order (overlapping async scopes?)');
  stack.pop();
  const keepSet = new Set<Tensor>();
  collect(result, keepSet, new Set());
  const parent = stack[stack.length - 1];
  const roots: Node[] = [];
  for (const t of s.tensors) {
    if (t.disposed) continue;
    if (keepSet.has(t) || t.kept) {
      if (!t.kept && parent) parent.tensors.push(t);
      if (t.gradNode) roots.push(t.gradNode);
    } else {
      t.dispose();
    }
  }
  for (const t of keepSet) if (t.gradNode && !t.disposed) roots.push(t.gradNode);
  // Nodes reachable from surviving tensors stay (the caller may still call backward).
  const reach = new Set<Node>();
  const todo = [...roots];
  while (todo.length) {
    const n = todo.pop()!;
    if (reach.has(n) || n.id < s.firstNodeId) continue;
    reach.add(n);
    for (const p of n.parents) if (p) todo.push(p);
  }
  for (const n of s.nodes) {
    if (reach.has(n)) parent?.nodes.push(n);
    else n.release();
  }
}

/** Runs `fn` and frees every tensor it created except those it returns or keeps. */
export function tidy<T>(fn: () => T): T {
  const s = begin();
  let result: T;
  try {
    result = fn();
  } catch (err) {
    end(s, undefined);
    throw err;
  }
  if (result instanceof Promise) throw new Error('tidy: fn returned a Promise; use tidyAsync');
  end(s, result);
  return result;
}

/** Async variant of tidy. Scopes nest; two async scopes must not overlap in time. */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const s = begin();
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    end(s, undefined);
    throw err;
  }
  end(s, result);
  return result;
}

/**
 * Throws, naming the public op, when `shape` is not a valid shape or a `dtype` tensor of that
 * shape would not fit one storage binding (kernels bind whole buffers, so no op could read it).
 * Every allocation passes here (Tensor.empty): creation ops check their arguments by name first,
 * so this catches the shapes that other ops compute.
 */
export function checkAllocation(shape: Shape, dtype: DType): void {
  let n = 1;
  let valid = true;
  for (const d of shape) {
    if (!(Number.isInteger(d) && d >= 0)) valid = false;
    n *= d;
  }
  if (!valid) checkShape(publicOp() ?? 'Tensor.empty', shape);
  const per = DTYPES[dtype].bytes;
  const bytes = Math.max(n, 1) * per;
  if (bytes > maxBindingBytes()) throw new Error(bindingLimitMessage(publicOp() ?? 'Tensor.empty', `a ${dtype} tensor of shape ${fmt(shape)}`, bytes, shape));
}

/**
 * Counters for leak checks. `liveTensors` counts undisposed handles; `collectedTensors` counts the
 * autograd-saved handles that the garbage collector's safety net disposed (a graph dropped without
 * backward or a scope), which lowers `liveTensors` at times no caller controls.
 */
export function memoryStats() {
  const p = poolStats();
  return {
    liveTensors,
    liveStorages,
    liveBytes: p.liveBytes,
    pooledBytes: p.pooledBytes,
    peakBytes: p.peakBytes,
    poolHits: p.hits,
    poolMisses: p.misses,
    collectedTensors: collectedSavedTensors(),
  };
}
