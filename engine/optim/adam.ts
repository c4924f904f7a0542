// torch.optim.Adam and AdamW (1.13 _single_tensor_adam / _single_tensor_adamw): bias-corrected
// moments, denom = sqrt(v) / sqrt(1 - beta2^t) + eps, step size lr / (1 - beta1^t), optional
// amsgrad and maximize; Adam adds weight decay to the gradient, AdamW scales the parameter by
// 1 - lr * wd first. The step count lives on the host; one fused kernel per parameter tensor.
import type { Tensor } from '../core/tensor.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { adamKernel, AdamParams } from '../wgsl/optim.ts';
import { Optimizer, type ParamsInput, type ParamGroup, type StateEntry } from './optimizer.ts';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

abstract class AdamBase extends Optimizer<AdamOptions> {
  protected readonly hyperKeys = [
    ['lr', 'lr'],
    ['betas', 'betas'],
    ['eps', 'eps'],
    ['weightDecay', 'weight_decay'],
    ['amsgrad', 'amsgrad'],
    ['maximize', 'maximize'],
  ] as const;
  protected abstract readonly decoupled: boolean;

  protected validate(g: AdamOptions): void {
    if (!(g.lr >= 0)) throw new Error(`${this.name}: invalid learning rate ${g.lr}`);
    if (!(g.eps >= 0)) throw new Error(`${this.name}: invalid epsilon ${g.eps}`);
    const [b1, b2] = g.betas ?? [];
    if (!(b1 >= 0 && b1 < 1)) throw new Error(`${this.name}: invalid beta parameter at index 0: ${b1}`);
    if (!(b2 >= 0 && b2 < 1)) throw new Error(`${this.name}: invalid beta parameter at index 1: ${b2}`);
    if (!(g.weightDecay >= 0)) throw new Error(`${this.name}: invalid weight decay ${g.weightDecay}`);
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<AdamOptions>, st: StateEntry): void {
    if (st.exp_avg === undefined) {
      st.step = 0;
      st.exp_avg = this.zerosState(p);
      st.exp_avg_sq = this.zerosState(p);
    }
    if (g.amsgrad && st.max_exp_avg_sq === undefined) st.max_exp_avg_sq = this.zerosState(p);
    const step = (st.step as number) + 1;
    st.step = step;
    const [b1, b2] = g.betas;
    const bc1 = 1 - b1 ** step;
    const bc2 = 1 - b2 ** step;
    const stepSize = g.lr / bc1;
    const bufs = [p.buffer, grad.buffer, (st.exp_avg as Tensor).buffer, (st.exp_avg_sq as Tensor).buffer];
    if (g.amsgrad) bufs.push((st.max_exp_avg_sq as Tensor).buffer);
    const cfg = { weightDecay: !this.decoupled && g.weightDecay !== 0, decoupled: this.decoupled, amsgrad: g.amsgrad, maximize: g.maximize };
    const params = AdamParams.pack({
      n: p.size,
      paramOffset: p.offset,
      gradOffset: grad.offset,
      decay: 1 - g.lr * g.weightDecay,
      weightDecay: g.weightDecay,
      beta1: b1,
      oneMinusBeta1: 1 - b1,
      beta2: b2,
      oneMinusBeta2: 1 - b2,
      negStepSize: -stepSize,
      sqrtBiasCorrection2: Math.sqrt(bc2),
      eps: g.eps,
    });
    dispatch(adamKernel(cfg), bufs, params, grid1d(p.size));
  }
}

export class Adam extends AdamBase {
  protected readonly decoupled = false;
  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...opts });
  }
}

export class AdamW extends AdamBase {
  protected readonly decoupled = true;
  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, ...opts });
  }
}
