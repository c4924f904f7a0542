// Reverse-mode autodiff over the node graph that ops record with `record()` (tape.ts).
// backward(): accumulates into `.grad` of leaves. grad(): torch.autograd.grad semantics, gradients
// of outputs with respect to any tensors (leaves, intermediates, input features), computing only
// the branches that lead to them (`needs` masks let ops skip e.g. weight gradients).
import { Tensor } from '../core/tensor.ts';
import { Node, nodeOf, isGradEnabled, noGrad } from './tape.ts';
import { tidy, keep } from '../core/memory.ts';
import { fmt, sameShape } from '../core/shape.ts';
import { add } from '../ops/binary.ts';
import { onesLike } from '../ops/creation.ts';

/** Nodes reachable from `roots`, parents before children. */
function topoOrder(roots: Node[]): Node[] {
  const order: Node[] = [];
  const state = new Map<Node, number>();
  const stack: [Node, number][] = roots.map((r) => [r, 0]);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [n, i] = top;
    if (i === 0) {
      if (state.has(n)) {
        stack.pop();
        continue;
      }
      state.set(n, 1);
    }
    if (i < n.parents.length) {
      top[1]++;
      const p = n.parents[i];
      if (p && !state.has(p)) stack.push([p, 0]);
    } else {
      stack.pop();
      order.push(n);
    }
  }
  return order;
}

interface RunOptions {
  retainGraph: boolean;
  /** When set, only gradients flowing to these nodes are computed and returned. */
  targets: Set<Node> | null;
}

function run(outputs: Tensor[], seeds: (Tensor | null)[], opts: RunOptions): Map<Node, Tensor> {
  const roots: Node[] = [];
  const grads = new Map<Node, Tensor>();
  outputs.forEach((o, i) => {
    const n = nodeOf(o);
    if (!n) throw new Error(`backward: output ${i} ${fmt(o.shape)} does not require grad (no graph was recorded)`);
    if (n.released) throw new Error(`backward: the graph of output ${i} was already freed; pass retainGraph: true to the first backward`);
    let s = seeds[i];
    if (s) {
      if (!sameShape(s.shape, o.shape)) throw new Error(`backward: gradient ${fmt(s.shape)} does not match output ${fmt(o.shape)}`);
      s = s.share();
    } else {
      if (o.size !== 1) throw new Error(`backward: output ${fmt(o.shape)} is not a scalar; pass a gradient`);
      s = keep(onesLike(o));
    }
    const prev = grads.get(n);
    grads.set(n, prev ? accumulate(prev, s) : s);
    roots.push(n);
  });
  const order = topoOrder(roots);
  // relevant: node leads to a target (or, for backward(), to any leaf).
  const relevant = new Set<Node>();
  for (const n of order) {
    if (opts.targets ? opts.targets.has(n) : n.leaf !== null) relevant.add(n);
    else if (n.parents.some((p) => p && relevant.has(p))) relevant.add(n);
  }
  const results = new Map<Node, Tensor>();
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const n = order[i];
      const g = grads.get(n);
      if (!g) continue;
      grads.delete(n);
      if (opts.targets?.has(n)) {
        results.set(n, g.share());
        // torch.autograd.grad stops at its inputs: the graph above a target stays intact (and
        // unreleased) unless another target lies further up.
        if (!n.parents.some((p) => p && relevant.has(p))) {
          g.dispose();
          continue;
        }
      }
      if (n.leaf) {
        if (!opts.targets) accumulateLeaf(n.leaf, g);
        g.dispose();
        continue;
      }
      if (n.released) throw new Error(`backward through '${n.op}': its graph was already freed; use retainGraph`);
      const needs = n.parents.map((p) => p !== null && relevant.has(p));
      if (needs.some(Boolean)) {
        const gins = tidy(() => n.backward!(g, needs, n.saved));
        const seen = new Set<Tensor>();
        n.parents.forEach((p, j) => {
          let gi = gins[j];
          if (!gi) return;
          // A rule may pass its incoming gradient or a saved tensor straight through, or give the
          // same tensor to two inputs: each consumer gets its own handle so disposal stays exact.
          if (gi === g || n.saved.includes(gi) || seen.has(gi)) gi = gi.share();
          seen.add(gi);
          if (!p || !needs[j]) {
            gi.dispose();
            return;
          }
          if (!sameShape(gi.shape, p.shape))
            throw new Error(`internal: backward of '${n.op}' gave gradient ${fmt(gi.shape)} for input ${j} of shape ${fmt(p.shape)}`);
          keep(gi);
          const prev = grads.get(p);
          grads.set(p, prev ? accumulate(prev, gi) : gi);
        });
      }
      g.dispose();
      if (!opts.retainGraph) n.release();
    }
  });
  for (const g of grads.values()) g.dispose();
  return results;
}

function accumulate(a: Tensor, b: Tensor): Tensor {
  const s = keep(noGrad(() => add(a, b)));
  a.dispose();
  b.dispose();
  return s;
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.grad) {
    const s = keep(add(leaf.grad, g));
    leaf.grad.dispose();
    leaf.grad = s;
  } else {
    leaf.grad = keep(g.share());
  }
}

export interface BackwardOptions {
  retainGraph?: boolean;
}

/** Accumulates d(output)/d(leaf) into every leaf's `.grad` (torch's tensor.backward). */
export function backward(output: Tensor, gradient?: Tensor | null, opts: BackwardOptions = {}): void {
  run([output], [gradient ?? null], { retainGraph: opts.retainGraph ?? false, targets: null });
}

export interface GradOptions {
  gradOutputs?: (Tensor | null)[];
  retainGraph?: boolean;
  allowUnused?: boolean;
}

/**
 * torch.autograd.grad: gradients of `outputs` (summed) with respect to `inputs`, which may be
 * leaves or intermediate tensors. `.grad` fields are not touched. Returned tensors are owned by
 * the caller (not disposed by enclosing scopes until they end).
 */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const targets = new Set<Node>();
  const inNodes = inputs.map((t, i) => {
    const n = nodeOf(t);
    if (!n) throw new Error(`grad: input ${i} ${fmt(t.shape)} does not require grad`);
    targets.add(n);
    return n;
  });
  const res = run(outs, opts.gradOutputs ?? outs.map(() => null), { retainGraph: opts.retainGraph ?? false, targets });
  const out = inNodes.map((n, i) => {
    const g = res.get(n);
    if (!g && !opts.allowUnused) throw new Error(`grad: input ${i} ${fmt(inputs[i].shape)} is not used by the outputs (pass allowUnused)`);
    return g ?? null;
  });
  // `share()` handles are untracked; hand back tracked tensors so enclosing scopes own them.
  return out.map((g) => {
    if (!g) return null;
    const t = g.view_(g.shape, g.strides, g.offset);
    g.dispose();
    return t;
  });
}
