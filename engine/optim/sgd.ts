// torch.optim.SGD (1.13 _single_tensor_sgd): weight decay, momentum with dampening (the buffer
// starts as the first d_p), Nesterov, maximize; one fused kernel per parameter tensor.
import type { Tensor } from '../core/tensor.ts';
import { dispatch } from '../runtime/dispatch.ts';
import { grid1d } from '../wgsl/common.ts';
import { sgdKernel, SgdParams } from '../wgsl/optim.ts';
import { Optimizer, type ParamsInput, type ParamGroup, type StateEntry } from './optimizer.ts';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  protected readonly hyperKeys = [
    ['lr', 'lr'],
    ['momentum', 'momentum'],
    ['dampening', 'dampening'],
    ['weightDecay', 'weight_decay'],
    ['nesterov', 'nesterov'],
    ['maximize', 'maximize'],
  ] as const;

  constructor(params: ParamsInput<SGDOptions>, opts: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...opts });
  }

  protected validate(g: SGDOptions): void {
    if (!(g.lr >= 0)) throw new Error(`SGD: invalid learning rate ${g.lr}`);
    if (!(g.momentum >= 0)) throw new Error(`SGD: invalid momentum ${g.momentum}`);
    if (!(g.weightDecay >= 0)) throw new Error(`SGD: invalid weight decay ${g.weightDecay}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) throw new Error('SGD: Nesterov momentum requires a momentum and zero dampening');
  }

  protected update(p: Tensor, grad: Tensor, g: ParamGroup<SGDOptions>, st: StateEntry): void {
    const momentum = g.momentum !== 0;
    const bufs = [p.buffer, grad.buffer];
    let first = 0;
    if (momentum) {
      let buf = st.momentum_buffer as Tensor | undefined;
      if (!buf) {
        st.momentum_buffer = buf = this.zerosState(p);
        first = 1;
      }
      bufs.push(buf.buffer);
    }
    const cfg = { weightDecay: g.weightDecay !== 0, momentum, nesterov: g.nesterov, maximize: g.maximize };
    const params = SgdParams.pack({
      n: p.size,
      paramOffset: p.offset,
      gradOffset: grad.offset,
      negLr: -g.lr,
      weightDecay: g.weightDecay,
      momentum: g.momentum,
      dampKeep: 1 - g.dampening,
      first,
    });
    dispatch(sgdKernel(cfg), bufs, params, grid1d(p.size));
  }
}
