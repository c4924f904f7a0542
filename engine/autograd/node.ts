// A node of the backward graph: one per op output that needs a gradient, or per leaf tensor
// with requiresGrad. Nodes hold their saved tensors as private handles (sharing storage), so a
// user disposing an intermediate tensor never breaks a pending backward; the node frees them
// when backward has passed (unless the graph is retained) or when its scope proves it unreachable.
import type { Tensor } from '../tensor.ts';

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
// when collected. Deterministic paths (backward, tidy) release them first.
const finalizer = new FinalizationRegistry<Tensor[]>((saved) => {
  for (const t of saved) t.dispose();
});

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
