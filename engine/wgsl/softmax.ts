// Kernels for ops/softmax.ts: one invocation per line of x viewed as [outer, n, inner], with
// serial passes over the line (max, sum of exponentials, write); backward likewise.
import type { Kernel } from '../runtime/dispatch.ts';
import { PARAMS_DECL, main1d, pu, storage } from './common.ts';

// params: 0 lines, 1 n, 2 inner, 3 x offset
export function softmaxForward(log: boolean): Kernel {
  return {
    name: log ? 'logSoftmax' : 'softmax',
    key: `softmax:fwd:${log}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'x', 'f32')}
${storage(2, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let n = ${pu(1)}; let inner = ${pu(2)};
  let base = (gi / inner) * n * inner + gi % inner;
  let xb = ${pu(3)} + base;
  var m = x[xb];
  for (var t = 1u; t < n; t++) { m = max(m, x[xb + t * inner]); }
  var s = 0.0;
  for (var t = 0u; t < n; t++) { s += exp(x[xb + t * inner] - m); }
  ${log ? 'let ls = log(s);' : 'let inv = 1.0 / s;'}
  for (var t = 0u; t < n; t++) {
    ${log ? 'out[base + t * inner] = x[xb + t * inner] - m - ls;' : 'out[base + t * inner] = exp(x[xb + t * inner] - m) * inv;'}
  }
}`,
  };
}

// softmax: gx = y * (g - sum(g * y)); logSoftmax: gx = g - exp(y) * sum(g).
// params: 0 lines, 1 n, 2 inner, 3 g offset, 4 y offset
export function softmaxBackward(log: boolean): Kernel {
  return {
    name: log ? 'logSoftmax.backward' : 'softmax.backward',
    key: `softmax:bwd:${log}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'g', 'f32')}
${storage(2, 'y', 'f32')}
${storage(3, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let n = ${pu(1)}; let inner = ${pu(2)};
  let base = (gi / inner) * n * inner + gi % inner;
  let gb = ${pu(3)} + base; let yb = ${pu(4)} + base;
  var s = 0.0;
  for (var t = 0u; t < n; t++) { s += g[gb + t * inner]${log ? '' : ' * y[yb + t * inner]'}; }
  for (var t = 0u; t < n; t++) {
    let gv = g[gb + t * inner]; let yv = y[yb + t * inner];
    out[base + t * inner] = ${log ? 'gv - exp(yv) * s' : 'yv * (gv - s)'};
  }
}`,
  };
}
