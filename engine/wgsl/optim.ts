// Fused optimizer kernels: one dispatch updates a parameter tensor and its state in place
// (param, momentum buffer / first and second moments, amsgrad max), following torch 1.13's
// _single_tensor_sgd / _single_tensor_adam / _single_tensor_adamw operation by operation (same
// f32 rounding points: mul_ then add_ with alpha, addcmul as (value*g)*g, addcdiv as
// (value*m)/denom). Structural options are in the key; numbers (lr, step-derived scalars, the
// first-step flag) are parameters, so changing a learning rate never compiles a pipeline.
import type { Kernel } from '../runtime/dispatch.ts';
import { PARAMS_DECL, main1d, pu, pf, storage } from './common.ts';

export interface SgdKernelConfig {
  weightDecay: boolean;
  momentum: boolean;
  nesterov: boolean;
  maximize: boolean;
}

/** Params: n, pOff, gOff, -lr, weightDecay, momentum, 1 - dampening, first (u32: buffer = d_p). */
export function sgdKernel(c: SgdKernelConfig): Kernel {
  const b = [storage(1, 'param', 'f32', true), storage(2, 'grad', 'f32')];
  if (c.momentum) b.push(storage(3, 'buf', 'f32', true));
  return {
    name: 'optim.sgd',
    key: `optim:sgd:${c.weightDecay}:${c.momentum}:${c.nesterov}:${c.maximize}`,
    code: () => `${PARAMS_DECL}
${b.join('\n')}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let pi = ${pu(1)} + gi;
  let pv = param[pi];
  var d = grad[${pu(2)} + gi];
  ${c.maximize ? 'd = -d;' : ''}
  ${c.weightDecay ? `d = d + ${pf(4)} * pv;` : ''}
  ${
    c.momentum
      ? `var bv = d;
  if (${pu(7)} == 0u) { let decayed = buf[gi] * ${pf(5)}; bv = decayed + ${pf(6)} * d; }
  buf[gi] = bv;
  ${c.nesterov ? `d = d + ${pf(5)} * bv;` : 'd = bv;'}`
      : ''
  }
  param[pi] = pv + ${pf(3)} * d;
}`,
  };
}

export interface AdamKernelConfig {
  /** Adam's coupled L2 term (grad += wd * param). */
  weightDecay: boolean;
  /** AdamW: param *= 1 - lr * wd before the moments. */
  decoupled: boolean;
  amsgrad: boolean;
  maximize: boolean;
}

/**
 * Params: n, pOff, gOff, decay (1 - lr*wd), weightDecay, beta1, 1 - beta1, beta2, 1 - beta2,
 * -stepSize (-lr / (1 - beta1^t)), sqrt(1 - beta2^t), eps.
 */
export function adamKernel(c: AdamKernelConfig): Kernel {
  const b = [storage(1, 'param', 'f32', true), storage(2, 'grad', 'f32'), storage(3, 'expAvg', 'f32', true), storage(4, 'expAvgSq', 'f32', true)];
  if (c.amsgrad) b.push(storage(5, 'maxExpAvgSq', 'f32', true));
  return {
    name: c.decoupled ? 'optim.adamw' : 'optim.adam',
    key: `optim:adam:${c.weightDecay}:${c.decoupled}:${c.amsgrad}:${c.maximize}`,
    code: () => `${PARAMS_DECL}
${b.join('\n')}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let pi = ${pu(1)} + gi;
  var pv = param[pi];
  var g = grad[${pu(2)} + gi];
  ${c.maximize ? 'g = -g;' : ''}
  ${c.decoupled ? `pv = pv * ${pf(3)};` : ''}
  ${c.weightDecay ? `g = g + ${pf(4)} * pv;` : ''}
  let m1 = expAvg[gi] * ${pf(5)};
  let m = m1 + ${pf(6)} * g;
  expAvg[gi] = m;
  let v1 = expAvgSq[gi] * ${pf(7)};
  let v = v1 + ${pf(8)} * g * g;
  expAvgSq[gi] = v;
  ${c.amsgrad ? 'let vm = max(maxExpAvgSq[gi], v); maxExpAvgSq[gi] = vm;' : 'let vm = v;'}
  let denom = sqrt(vm) / ${pf(10)} + ${pf(11)};
  param[pi] = pv + ${pf(9)} * m / denom;
}`,
  };
}
