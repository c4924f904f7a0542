// Fused optimizer kernels: one dispatch updates a parameter tensor and its state in place
// (param, momentum buffer / first and second moments, amsgrad max), following torch 1.13's
// _single_tensor_sgd / _single_tensor_adam / _single_tensor_adamw operation by operation (same
// f32 rounding points: mul_ then add_ with alpha, addcmul as (value*g)*g, addcdiv as
// (value*m)/denom). Structural options are in the key; numbers (lr, step-derived scalars, the
// first-step flag) are parameters, so changing a learning rate never compiles a pipeline.
import type { Kernel } from '../runtime/dispatch.ts';
import { isNan, main1d, storage } from './common.ts';
import { paramStruct } from './params.ts';

export interface SgdKernelConfig {
  weightDecay: boolean;
  momentum: boolean;
  nesterov: boolean;
  maximize: boolean;
}

/** One SGD step; fields a configuration does not use are packed all the same. */
export const SgdParams = paramStruct('SgdParams', {
  n: 'u32',
  paramOffset: 'u32',
  gradOffset: 'u32',
  negLr: 'f32',
  weightDecay: 'f32',
  momentum: 'f32',
  /** 1 - dampening */
  dampKeep: 'f32',
  /** 1 on the first step: the momentum buffer starts as d_p */
  first: 'u32',
});

export function sgdKernel(c: SgdKernelConfig): Kernel {
  const P = SgdParams;
  const b = [storage(1, 'param', 'f32', true), storage(2, 'grad', 'f32')];
  if (c.momentum) b.push(storage(3, 'buf', 'f32', true));
  return {
    name: 'optim.sgd',
    key: `optim:sgd:${c.weightDecay}:${c.momentum}:${c.nesterov}:${c.maximize}`,
    code: () => `${P.decl}
${b.join('\n')}
${main1d()}
  if (gi >= ${P.at.n}) { return; }
  let pi = ${P.at.paramOffset} + gi;
  let pv = param[pi];
  var d = grad[${P.at.gradOffset} + gi];
  ${c.maximize ? 'd = -d;' : ''}
  ${c.weightDecay ? `d = d + ${P.at.weightDecay} * pv;` : ''}
  ${
    c.momentum
      ? `var bv = d;
  if (${P.at.first} == 0u) { let decayed = buf[gi] * ${P.at.momentum}; bv = decayed + ${P.at.dampKeep} * d; }
  buf[gi] = bv;
  ${c.nesterov ? `d = d + ${P.at.momentum} * bv;` : 'd = bv;'}`
      : ''
  }
  param[pi] = pv + ${P.at.negLr} * d;
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

/** One Adam / AdamW step at step count t; fields a configuration does not use are packed all the same. */
export const AdamParams = paramStruct('AdamParams', {
  n: 'u32',
  paramOffset: 'u32',
  gradOffset: 'u32',
  /** AdamW's parameter scale 1 - lr * weightDecay */
  decay: 'f32',
  weightDecay: 'f32',
  beta1: 'f32',
  oneMinusBeta1: 'f32',
  beta2: 'f32',
  oneMinusBeta2: 'f32',
  /** -lr / (1 - beta1^t) */
  negStepSize: 'f32',
  /** sqrt(1 - beta2^t) */
  sqrtBiasCorrection2: 'f32',
  eps: 'f32',
});

// torch.maximum(max_exp_avg_sq, exp_avg_sq): a NaN in either gives NaN, as the engine's maximum
// (ops/binary.ts) does. WGSL's max may return the other operand (lavapipe does), which would drop
// a NaN from the state, and from the step when only the state held it.
const AMSGRAD_MAX = `let vo = maxExpAvgSq[gi];
  let vm = select(select(max(vo, v), v, ${isNan('v')}), vo, ${isNan('vo')});`;

export function adamKernel(c: AdamKernelConfig): Kernel {
  const P = AdamParams;
  const b = [storage(1, 'param', 'f32', true), storage(2, 'grad', 'f32'), storage(3, 'expAvg', 'f32', true), storage(4, 'expAvgSq', 'f32', true)];
  if (c.amsgrad) b.push(storage(5, 'maxExpAvgSq', 'f32', true));
  return {
    name: c.decoupled ? 'optim.adamw' : 'optim.adam',
    key: `optim:adam:${c.weightDecay}:${c.decoupled}:${c.amsgrad}:${c.maximize}`,
    code: () => `${P.decl}
${b.join('\n')}
${main1d()}
  if (gi >= ${P.at.n}) { return; }
  let pi = ${P.at.paramOffset} + gi;
  var pv = param[pi];
  var g = grad[${P.at.gradOffset} + gi];
  ${c.maximize ? 'g = -g;' : ''}
  ${c.decoupled ? `pv = pv * ${P.at.decay};` : ''}
  ${c.weightDecay ? `g = g + ${P.at.weightDecay} * pv;` : ''}
  let m1 = expAvg[gi] * ${P.at.beta1};
  let m = m1 + ${P.at.oneMinusBeta1} * g;
  expAvg[gi] = m;
  let v1 = expAvgSq[gi] * ${P.at.beta2};
  let v = v1 + ${P.at.oneMinusBeta2} * g * g;
  expAvgSq[gi] = v;
  ${c.amsgrad ? `${AMSGRAD_MAX}\n  maxExpAvgSq[gi] = vm;` : 'let vm = v;'}
  let denom = sqrt(vm) / ${P.at.sqrtBiasCorrection2} + ${P.at.eps};
  param[pi] = pv + ${P.at.negStepSize} * m / denom;
}`,
  };
}
