// Optimizer base, like torch.optim.Optimizer: parameter groups with per-group hyperparameters,
// per-parameter state (kept tensors, never freed by scopes), zeroGrad, and state dicts in torch's
// layout ({state: {index: {...}}, param_groups: [{..., params: [indices]}]}, indices counted
// across groups in order). Subclasses update one parameter per fused kernel dispatch.
import { Tensor } from '../core/tensor.ts';
import { keep } from '../core/memory.ts';
import { noGrad } from '../autograd/tape.ts';
import { zeros, full } from '../ops/creation.ts';
import { assign, contiguous, detach } from '../ops/views.ts';
import { fmt, sameShape } from '../core/shape.ts';
import { copyInto, type HostTensor } from '../nn/module.ts';

export type ParamGroup<H> = H & { params: Tensor[] };
/** A group given to a constructor: its params and any hyperparameters that differ from the defaults. */
export type ParamGroupInput<H> = Partial<H> & { params: Iterable<Tensor> };
export type ParamsInput<H> = Iterable<Tensor> | ParamGroupInput<H>[];

export type StateEntry = Record<string, Tensor | number>;

export interface OptimizerStateDict {
  state: Record<number, StateEntry>;
  param_groups: Record<string, unknown>[];
}

export interface OptimizerStateDictInput {
  state: Record<number | string, Record<string, Tensor | HostTensor | number>>;
  param_groups: Record<string, unknown>[];
}

function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && (v as { isTensor?: boolean }).isTensor === true;
}

export abstract class Optimizer<H extends object> {
  readonly paramGroups: ParamGroup<H>[] = [];
  /** Per-parameter state with torch's key names ('step', 'exp_avg', 'momentum_buffer', ...). */
  protected readonly state = new Map<Tensor, StateEntry>();
  /** Our camelCase hyperparameter names and torch's state-dict names, in torch's order. */
  protected abstract readonly hyperKeys: readonly (readonly [string, string])[];
  protected readonly name: string;

  constructor(
    params: ParamsInput<H>,
    readonly defaults: H,
  ) {
    this.name = this.constructor.name;
    const list = [...(params as Iterable<Tensor | ParamGroupInput<H>>)];
    if (list.length === 0) throw new Error(`${this.name}: got an empty parameter list`);
    const groups = isTensor(list[0]) ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<H>] : (list as ParamGroupInput<H>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /** Validates a group's hyperparameters (subclasses throw with the optimizer's name). */
  protected abstract validate(group: H): void;

  addParamGroup(group: ParamGroupInput<H>): void {
    const params = [...group.params];
    if (params.length === 0) throw new Error(`${this.name}: a parameter group has no parameters`);
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    params.forEach((p, i) => {
      if (!isTensor(p)) throw new Error(`${this.name}: parameter ${i} of a group is not a Tensor`);
      if (!p.isLeaf) throw new Error(`${this.name}: can't optimize a non-leaf tensor (parameter ${i}, ${fmt(p.shape)})`);
      if (p.dtype !== 'f32') throw new Error(`${this.name}: parameter ${i} ${fmt(p.shape)} is ${p.dtype}, expected f32`);
      if (seen.has(p)) throw new Error(`${this.name}: some parameters appear in more than one parameter group`);
      seen.add(p);
    });
    const g = { ...this.defaults, ...group, params } as ParamGroup<H>;
    this.validate(g);
    this.paramGroups.push(g);
  }

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          if (!p.grad) continue;
          p.assertLive(`${this.name}.step`);
          if (!p.isContiguous()) throw new Error(`${this.name}.step: parameter ${fmt(p.shape)} is not contiguous`);
          if (!sameShape(p.grad.shape, p.shape)) throw new Error(`${this.name}.step: gradient ${fmt(p.grad.shape)} does not match parameter ${fmt(p.shape)}`);
          const g = p.grad.isContiguous() ? p.grad : contiguous(p.grad);
          let st = this.state.get(p);
          if (!st) this.state.set(p, (st = {}));
          this.update(p, g, group, st);
          if (g !== p.grad) g.dispose();
        }
      }
    });
  }

  /** Updates one parameter in place with one kernel dispatch. */
  protected abstract update(p: Tensor, grad: Tensor, group: ParamGroup<H>, state: StateEntry): void;

  /** A kept zero tensor shaped like `p`, for state. */
  protected zerosState(p: Tensor): Tensor {
    return keep(zeros(p.shape));
  }

  /** Clears gradients: drops them (default, torch 2's set_to_none) or zeroes them in place. */
  zeroGrad(setToNone = true): void {
    noGrad(() => {
      for (const g of this.paramGroups)
        for (const p of g.params) {
          if (!p.grad) continue;
          if (setToNone) {
            p.grad.dispose();
            p.grad = null;
          } else {
            const z = full([], 0);
            assign(p.grad, z);
            z.dispose();
          }
        }
    });
  }

  /**
   * The state in torch's layout. Tensor values are detached views sharing the optimizer's
   * storage (freed with the enclosing scope); `step` is a number.
   */
  stateDict(): OptimizerStateDict {
    const state: Record<number, StateEntry> = {};
    const groups: Record<string, unknown>[] = [];
    let index = 0;
    for (const g of this.paramGroups) {
      const out: Record<string, unknown> = {};
      const gr = g as Record<string, unknown>;
      for (const [ours, torch] of this.hyperKeys) out[torch] = Array.isArray(gr[ours]) ? [...(gr[ours] as unknown[])] : gr[ours];
      const ids: number[] = [];
      for (const p of g.params) {
        const st = this.state.get(p);
        if (st) {
          const e: StateEntry = {};
          for (const [k, v] of Object.entries(st)) e[k] = typeof v === 'number' ? v : detach(v);
          state[index] = e;
        }
        ids.push(index++);
      }
      out.params = ids;
      groups.push(out);
    }
    return { state, param_groups: groups };
  }

  /**
   * Loads a state dict in torch's layout (ours or one read from a torch checkpoint): group
   * hyperparameters replace the current ones, state tensors are copied into new kept tensors.
   * `step` may be a number or a one-element CPU tensor.
   */
  loadStateDict(sd: OptimizerStateDictInput): void {
    const groups = sd.param_groups;
    if (!Array.isArray(groups) || groups.length !== this.paramGroups.length)
      throw new Error(`${this.name}.loadStateDict: the state dict has ${groups?.length ?? 0} parameter groups, the optimizer ${this.paramGroups.length}`);
    const byIndex = new Map<number, Tensor>();
    groups.forEach((sg, i) => {
      const ids = sg.params as number[];
      const own = this.paramGroups[i].params;
      if (!Array.isArray(ids) || ids.length !== own.length)
        throw new Error(
          `${this.name}.loadStateDict: parameter group ${i} has ${ids?.length ?? 0} parameters in the state dict, ${own.length} in the optimizer`,
        );
      ids.forEach((id, j) => byIndex.set(Number(id), own[j]));
    });
    // hyperparameters are checked before any state is built, and applied after it all loaded
    const hypers = groups.map((sg, i) => {
      const g = { ...this.paramGroups[i] } as Record<string, unknown>;
      for (const [ours, torch] of this.hyperKeys) if (torch in sg) g[ours] = Array.isArray(sg[torch]) ? [...(sg[torch] as unknown[])] : sg[torch];
      this.validate(g as H);
      return g;
    });
    const fresh = new Map<Tensor, StateEntry>();
    try {
      for (const [key, entry] of Object.entries(sd.state ?? {})) {
        const p = byIndex.get(Number(key));
        if (!p) throw new Error(`${this.name}.loadStateDict: state for parameter index ${key}, which no group lists`);
        const e: StateEntry = {};
        fresh.set(p, e);
        for (const [k, v] of Object.entries(entry)) {
          if (v === null || v === undefined) continue;
          if (typeof v === 'number') e[k] = v;
          else if (k === 'step') {
            if (isTensor(v)) throw new Error(`${this.name}.loadStateDict: 'step' of parameter ${key} must be a number or a CPU tensor, not a device tensor`);
            e[k] = Number(v.data[0]);
          } else {
            if (!sameShape(v.shape, p.shape))
              throw new Error(`${this.name}.loadStateDict: state '${k}' of parameter ${key} is ${fmt(v.shape)}, parameter is ${fmt(p.shape)}`);
            const t = this.zerosState(p);
            e[k] = t;
            copyInto(t, v, `${this.name}.loadStateDict '${key}.${k}'`);
          }
        }
      }
    } catch (err) {
      for (const e of fresh.values()) for (const v of Object.values(e)) if (typeof v !== 'number') v.dispose();
      throw err;
    }
    this.paramGroups.forEach((g, i) => Object.assign(g, hypers[i]));
    this.disposeState();
    for (const [p, e] of fresh) this.state.set(p, e);
  }

  private disposeState(): void {
    for (const e of this.state.values()) for (const v of Object.values(e)) if (typeof v !== 'number') v.dispose();
    this.state.clear();
  }

  /** Frees the optimizer state (the parameters belong to their module). */
  dispose(): void {
    this.disposeState();
  }
}
