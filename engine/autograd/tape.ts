// A node of the backward graph: one per op output that needs a gradient, or per leaf tensor
// with requiresGrad. Nodes hold their saved tensors as private handles (sharing storage), so a
// user disposing an intermediate tensor never breaks a pending backward; the node frees them
// when backward has passed (unless the graph is retained) or when its scope proves it unreachable.
import type { Tensor } from '../core/tensor.ts';
import { trackNode } from '../core/memory.ts';

/** Gradients for each input (null where not needed); `needs[i]` says which are wanted. */
export type BackwardFn = (grad: Tensor, needs: boolean[], saved: Tensor[]) => (Tensor | null)[];

let nextNodeId = 1;
let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording a graph (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export async function noGradAsync<T>(fn: () => Promise<T>): Promise<T> {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return await fn();
  } finally {
    gradEnabled = prev;
  }
}

// Safety net only: a node dropped without backward or scope end releases its saved tensors
// when collected. Deterministic paths (backward, tidy) release them first. The count lets
// memoryStats tell a leak in the caller's code from this late, timing-dependent release.
let collectedSaved = 0;
const finalizer = new FinalizationRegistry<Tensor[]>((saved) => {
  for (const t of saved) {
    if (t.disposed) continue;
    t.dispose();
    collectedSaved++;
  }
});

/** Saved tensors released so far by the garbage collector (graphs dropped without backward or a scope). */
export function collectedSavedTensors(): number {
  return collectedSaved;
}

export class Node {
  readonly id = nextNodeId++;
  saved: Tensor[];
  released = false;
  constructor(
    readonly op: string,
    readonly parents: (Node | null)[],
    readonly backward: BackwardFn | null,
    saved: Tensor[],
    /** Leaf nodes point at their tensor so backward can set `.grad`. */
    readonly leaf: Tensor | null,
    readonly shape: readonly number[],
  ) {
    this.saved = saved;
    if (saved.length) finalizer.register(this, saved, this);
  }

  release(): void {
    if (this.released || this.leaf) return;
    this.released = true;
    finalizer.unregister(this);
    for (const t of this.saved) t.dispose();
    this.saved = [];
  }
}

export function nodeIdWatermark(): number {
  return nextNodeId;
}

/** The node of `t`: its op's, or a leaf node made on first use when it requires grad. */
export function nodeOf(t: Tensor): Node | null {
  if (t.gradNode) return t.gradNode;
  if (!t.requiresGrad) return null;
  t.leafNode ??= new Node('leaf', [], null, [], t, t.shape);
  return t.leafNode;
}

/**
 * Attaches a backward rule to `out` when grad mode is on and some input requires grad.
 * `save` lists tensors the rule needs; they are kept alive (shared storage) until released.
 */
export function record(out: Tensor, op: string, inputs: Tensor[], backward: BackwardFn, save: Tensor[] = []): Tensor {
  if (!isGradEnabled()) return out;
  const parents = inputs.map(nodeOf);
  if (parents.every((p) => p === null)) return out;
  if (out.dtype !== 'f32') return out; // integer/bool outputs are not differentiable
  const node = new Node(
    op,
    parents,
    backward,
    save.map((s) => s.share()),
    null,
    out.shape,
  );
  trackNode(node);
  out.gradNode = node;
  return out;
}
