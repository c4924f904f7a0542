// Weight averaging, like torch.optim.swa_utils.AveragedModel(model, avg_fn, use_buffers=True):
// a running average of modules' parameters and floating-point buffers, updated after optimiser
// steps and swapped in for evaluation. With `decay` it is an exponential moving average (the
// avg_fn `decay * avg + (1 - decay) * x`), without it the equal-weight mean of SWA. torch deep-
// copies the model; here the averages are kept tensors beside the live ones, and swap() exchanges
// the two in place, so evaluation code runs on the same module objects.
import type { Tensor } from '../core/tensor.ts';
import { keep, tidy } from '../core/memory.ts';
import { noGrad } from '../autograd/tape.ts';
import { add, mul, sub } from '../ops/binary.ts';
import { assign, clone } from '../ops/views.ts';
import { copyInto, type StateValue, type Module } from '../nn/module.ts';

export interface AveragedModelOptions {
  /** exponential moving average with this decay in [0, 1); left out: the equal-weight (SWA) mean */
  decay?: number;
}

export interface AveragedModelStateDict {
  n_averaged: number;
  /** the averages by the modules' state-dict names, prefixed `<module index>.` */
  averages: Record<string, Tensor>;
}

export class AveragedModel {
  readonly decay: number | null;
  /** updates taken so far (torch's n_averaged): the first one copies the live values */
  nAveraged = 0;
  private readonly names: string[] = [];
  private readonly live: Tensor[] = [];
  private readonly averages: Tensor[];

  constructor(modules: Module | Module[], opts: AveragedModelOptions = {}) {
    const decay = opts.decay ?? null;
    if (decay !== null && !(decay >= 0 && decay < 1)) throw new Error(`AveragedModel: decay must be in [0, 1), got ${decay}`);
    this.decay = decay;
    const list = Array.isArray(modules) ? modules : [modules];
    if (list.length === 0) throw new Error('AveragedModel: got no modules');
    list.forEach((m, i) => {
      for (const [n, t] of [...m.namedParameters(), ...m.namedBuffers()]) {
        this.names.push(`${i}.${n}`);
        this.live.push(t);
      }
    });
    if (this.live.length === 0) throw new Error('AveragedModel: the modules have no parameters or buffers');
    this.averages = noGrad(() => this.live.map((t) => keep(clone(t))));
  }

  /** Folds the live values into the averages (torch's update_parameters). */
  updateParameters(): void {
    const w = this.nAveraged === 0 ? 1 : this.decay === null ? 1 / (this.nAveraged + 1) : 1 - this.decay;
    noGrad(() =>
      tidy(() => {
        this.live.forEach((x, i) => {
          x.assertLive('AveragedModel.updateParameters');
          const a = this.averages[i];
          // avg + w (x - avg): torch's avg_fn for both forms, and a plain copy when w is 1; integer
          // buffers (BatchNorm's num_batches_tracked) are copied, not averaged
          assign(a, w === 1 || x.dtype !== 'f32' ? x : add(a, mul(sub(x, a), w)));
        });
      }),
    );
    this.nAveraged++;
  }

  /** Exchanges the live values and the averages: call once to evaluate the average, again to go back. */
  swap(): void {
    noGrad(() =>
      tidy(() => {
        this.live.forEach((x, i) => {
          const saved = clone(x);
          assign(x, this.averages[i]);
          assign(this.averages[i], saved);
        });
      }),
    );
  }

  /** The averages (views of kept tensors: dispose them, not the model) and the update count. */
  stateDict(): AveragedModelStateDict {
    const averages: Record<string, Tensor> = {};
    this.names.forEach((n, i) => (averages[n] = clone(this.averages[i])));
    return { n_averaged: this.nAveraged, averages };
  }

  /** Restores averages written by stateDict() (strict: the same names and shapes). */
  loadStateDict(sd: { n_averaged: number; averages: Record<string, StateValue> }): void {
    const keys = Object.keys(sd.averages);
    const missing = this.names.filter((n) => !(n in sd.averages));
    const extra = keys.filter((k) => !this.names.includes(k));
    if (missing.length || extra.length)
      throw new Error(
        `AveragedModel.loadStateDict: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unexpected ${extra.join(', ')}` : ''}`,
      );
    if (!Number.isInteger(sd.n_averaged) || sd.n_averaged < 0)
      throw new Error(`AveragedModel.loadStateDict: n_averaged must be an integer >= 0, got ${sd.n_averaged}`);
    this.names.forEach((n, i) => copyInto(this.averages[i], sd.averages[n], `AveragedModel.loadStateDict ${n}`));
    this.nAveraged = sd.n_averaged;
  }

  dispose(): void {
    this.averages.forEach((t) => t.dispose());
  }
}
