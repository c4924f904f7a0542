// Kernels for ops/softmax.ts: one invocation per line of x viewed as [outer, n, inner], with
// serial passes over the line (max, sum of exponentials, write); backward likewise.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage } from './common.ts';
import { paramStruct } from './params.ts';

/** Softmax over dim 1 of x viewed as [outer, n, inner]: one invocation per (outer, inner) line. */
export const SoftmaxParams = paramStruct('SoftmaxParams', { lines: 'u32', n: 'u32', inner: 'u32', xOffset: 'u32' });

/** The backward also reads the forward's output y. */
export const SoftmaxBackwardParams = paramStruct('SoftmaxBackwardParams', { lines: 'u32', n: 'u32', inner: 'u32', gOffset: 'u32', yOffset: 'u32' });

export function softmaxForward(log: boolean): Kernel {
  const P = SoftmaxParams;
  return {
    name: log ? 'logSoftmax' : 'softmax',
    key: `softmax:fwd:${log}`,
    code: () => `${P.decl}
${storage(1, 'x', 'f32')}
${storage(2, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${P.at.lines}) { return; }
  let n = ${P.at.n}; let inner = ${P.at.inner};
  let base = (gi / inner) * n * inner + gi % inner;
  let xb = ${P.at.xOffset} + base;
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
export function softmaxBackward(log: boolean): Kernel {
  const P = SoftmaxBackwardParams;
  return {
    name: log ? 'logSoftmax.backward' : 'softmax.backward',
    key: `softmax:bwd:${log}`,
    code: () => `${P.decl}
${storage(1, 'g', 'f32')}
${storage(2, 'y', 'f32')}
${storage(3, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${P.at.lines}) { return; }
  let n = ${P.at.n}; let inner = ${P.at.inner};
  let base = (gi / inner) * n * inner + gi % inner;
  let gb = ${P.at.gOffset} + base; let yb = ${P.at.yOffset} + base;
  var s = 0.0;
  for (var t = 0u; t < n; t++) { s += g[gb + t * inner]${log ? '' : ' * y[yb + t * inner]'}; }
  for (var t = 0u; t < n; t++) {
    let gv = g[gb + t * inner]; let yv = y[yb + t * inner];
    out[base + t * inner] = ${log ? 'gv - exp(yv) * s' : 'yv * (gv - s)'};
  }
}`,
  };
}
