// WGSL kernels of batch normalisation over x viewed as [N, C, S] (S = spatial size, 1 for [N, C]).
// Per-channel reductions run as (channel, chunk) partials followed by a per-channel combine, so a
// long reduction (N*S large, few channels) still spreads over many invocations without workgroup
// barriers (slow on lavapipe). Forward partials hold (mean, M2) of their chunk and the combine
// merges them with Chan's formula, which keeps the two-pass accuracy of torch's variance.
import type { Kernel } from '../runtime.ts';
import { PARAMS_DECL, main1d, pu, pf, storage } from './common.ts';

// Element (n, c, s) of a dense [N, C, S] tensor lives at (n * C + c) * S + s. A chunk covers the
// flattened index r = n * S + s in [r0, r1); the loops step (n, s) without a division per element.
const CHUNK_LOOP = (body: string) => `{
    var n = r0 / S; var s = r0 % S;
    for (var r = r0; r < r1; r++) {
      let e = (n * C + c) * S + s;
      ${body}
      s++; if (s == S) { s = 0u; n++; }
    }
  }`;

/** Partial (mean, M2) per (channel, chunk). Params: C, S, R, K, chunk, xOff. */
export function bnStatsPartialKernel(): Kernel {
  return {
    name: 'batchnorm.stats',
    key: 'bn:stats',
    code: () => `${PARAMS_DECL}
${storage(1, 'x', 'f32')}
${storage(2, 'part', 'f32', true)}
${main1d()}
  let C = ${pu(0)}; let S = ${pu(1)}; let R = ${pu(2)}; let K = ${pu(3)}; let chunk = ${pu(4)}; let xo = ${pu(5)};
  if (gi >= C * K) { return; }
  let c = gi / K; let k = gi % K;
  let r0 = k * chunk; let r1 = min(R, r0 + chunk);
  var acc = 0.0;
  ${CHUNK_LOOP('acc += x[xo + e];')}
  let m = acc / f32(r1 - r0);
  var m2 = 0.0;
  ${CHUNK_LOOP('let d = x[xo + e] - m; m2 += d * d;')}
  part[gi * 2u] = m;
  part[gi * 2u + 1u] = m2;
}`,
  };
}

/**
 * Combines the partials of each channel: stats[c] = mean, stats[C + c] = 1 / sqrt(var + eps)
 * (biased var) and, with `update`, the in-place running-stat update with the unbiased var.
 * `cumulative`: the factor is 1 / numBatchesTracked read from an i32 buffer (momentum = None).
 * Params: C, K, chunk, R, eps, momentum, rmOff, rmStride, rvOff, rvStride, nbtOff.
 */
export function bnStatsFinalKernel(update: boolean, cumulative: boolean): Kernel {
  const bindings = [storage(1, 'part', 'f32'), storage(2, 'stats', 'f32', true)];
  if (update) bindings.push(storage(3, 'rm', 'f32', true), storage(4, 'rv', 'f32', true));
  if (update && cumulative) bindings.push(storage(5, 'nbt', 'i32'));
  const factor = cumulative ? `1.0 / f32(max(nbt[${pu(10)}], 1))` : pf(5);
  return {
    name: 'batchnorm.combine',
    key: `bn:final:${update}:${cumulative}`,
    code: () => `${PARAMS_DECL}
${bindings.join('\n')}
${main1d()}
  let C = ${pu(0)}; let K = ${pu(1)}; let chunk = ${pu(2)}; let R = ${pu(3)};
  if (gi >= C) { return; }
  var cnt = 0.0; var mean = 0.0; var m2 = 0.0;
  for (var k = 0u; k < K; k++) {
    let nb = f32(min(R, (k + 1u) * chunk) - k * chunk);
    let mb = part[(gi * K + k) * 2u];
    let tot = cnt + nb;
    let d = mb - mean;
    mean = mean + d * (nb / tot);
    m2 = m2 + part[(gi * K + k) * 2u + 1u] + d * d * (cnt * nb / tot);
    cnt = tot;
  }
  stats[gi] = mean;
  stats[C + gi] = 1.0 / sqrt(m2 / f32(R) + ${pf(4)});
  ${
    update
      ? `let f = ${factor};
  let im = ${pu(6)} + gi * ${pu(7)};
  let iv = ${pu(8)} + gi * ${pu(9)};
  rm[im] = f * mean + (1.0 - f) * rm[im];
  rv[iv] = f * (m2 / f32(R - 1u)) + (1.0 - f) * rv[iv];`
      : ''
  }
}`,
  };
}

/** Eval mode: stats from the running estimates. Params: C, eps, rmOff, rmStride, rvOff, rvStride. */
export function bnStatsRunningKernel(): Kernel {
  return {
    name: 'batchnorm.running',
    key: 'bn:running',
    code: () => `${PARAMS_DECL}
${storage(1, 'rm', 'f32')}
${storage(2, 'rv', 'f32')}
${storage(3, 'stats', 'f32', true)}
${main1d()}
  let C = ${pu(0)};
  if (gi >= C) { return; }
  stats[gi] = rm[${pu(2)} + gi * ${pu(3)}];
  stats[C + gi] = 1.0 / sqrt(rv[${pu(4)} + gi * ${pu(5)}] + ${pf(1)});
}`,
  };
}

/** Increments an i32 counter in place (num_batches_tracked). Params: offset. */
export function bnCountKernel(): Kernel {
  return {
    name: 'batchnorm.count',
    key: 'bn:count',
    code: () => `${PARAMS_DECL}
${storage(1, 'nbt', 'i32', true)}
${main1d()}
  if (gi >= 1u) { return; }
  nbt[${pu(0)}] = nbt[${pu(0)}] + 1;
}`,
  };
}

/** y = (x - mean) * invstd * w + b. Params: total, C, S, xOff, wOff, wStride, bOff, bStride. */
export function bnNormalizeKernel(hasW: boolean, hasB: boolean): Kernel {
  const bindings = [storage(1, 'x', 'f32'), storage(2, 'stats', 'f32')];
  let next = 3;
  if (hasW) bindings.push(storage(next++, 'w', 'f32'));
  if (hasB) bindings.push(storage(next++, 'b', 'f32'));
  bindings.push(storage(next, 'y', 'f32', true));
  return {
    name: 'batchnorm.normalize',
    key: `bn:norm:${hasW}:${hasB}`,
    code: () => `${PARAMS_DECL}
${bindings.join('\n')}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let C = ${pu(1)};
  let c = (gi / ${pu(2)}) % C;
  var v = (x[${pu(3)} + gi] - stats[c]) * stats[C + c];
  ${hasW ? `v = v * w[${pu(4)} + c * ${pu(5)}];` : ''}
  ${hasB ? `v = v + b[${pu(6)} + c * ${pu(7)}];` : ''}
  y[gi] = v;
}`,
  };
}

/** Backward partials per (channel, chunk): sum(g), sum(g * (x - mean)). Params: C, S, R, K, chunk, xOff, gOff. */
export function bnGradPartialKernel(): Kernel {
  return {
    name: 'batchnorm.grad.partial',
    key: 'bn:gpart',
    code: () => `${PARAMS_DECL}
${storage(1, 'x', 'f32')}
${storage(2, 'g', 'f32')}
${storage(3, 'stats', 'f32')}
${storage(4, 'part', 'f32', true)}
${main1d()}
  let C = ${pu(0)}; let S = ${pu(1)}; let R = ${pu(2)}; let K = ${pu(3)}; let chunk = ${pu(4)};
  let xo = ${pu(5)}; let go = ${pu(6)};
  if (gi >= C * K) { return; }
  let c = gi / K; let k = gi % K;
  let r0 = k * chunk; let r1 = min(R, r0 + chunk);
  let mean = stats[c];
  var sg = 0.0; var sgx = 0.0;
  ${CHUNK_LOOP('let gv = g[go + e]; sg += gv; sgx += gv * (x[xo + e] - mean);')}
  part[gi * 2u] = sg;
  part[gi * 2u + 1u] = sgx;
}`,
  };
}

/** red[c] = sum(g) (= dbias), red[C + c] = sum(g * xhat) (= dweight). Params: C, K. */
export function bnGradFinalKernel(): Kernel {
  return {
    name: 'batchnorm.grad.combine',
    key: 'bn:gfinal',
    code: () => `${PARAMS_DECL}
${storage(1, 'part', 'f32')}
${storage(2, 'stats', 'f32')}
${storage(3, 'red', 'f32', true)}
${main1d()}
  let C = ${pu(0)}; let K = ${pu(1)};
  if (gi >= C) { return; }
  var sg = 0.0; var sgx = 0.0;
  for (var k = 0u; k < K; k++) {
    sg += part[(gi * K + k) * 2u];
    sgx += part[(gi * K + k) * 2u + 1u];
  }
  red[gi] = sg;
  red[C + gi] = sgx * stats[C + gi];
}`,
  };
}

/**
 * Input gradient. Training: dx = w * invstd * (g - sum(g) / R - xhat * sum(g * xhat) / R);
 * eval: dx = g * w * invstd (the statistics are constants).
 * Params: total, C, S, R, xOff, gOff, wOff, wStride.
 */
export function bnGradInputKernel(training: boolean, hasW: boolean): Kernel {
  const bindings = [storage(1, 'g', 'f32'), storage(2, 'stats', 'f32')];
  let next = 3;
  if (training) bindings.push(storage(next++, 'x', 'f32'), storage(next++, 'red', 'f32'));
  if (hasW) bindings.push(storage(next++, 'w', 'f32'));
  bindings.push(storage(next, 'dx', 'f32', true));
  const scale = hasW ? `stats[C + c] * w[${pu(6)} + c * ${pu(7)}]` : 'stats[C + c]';
  const body = training
    ? `let inv = stats[C + c];
  let xhat = (x[${pu(4)} + gi] - stats[c]) * inv;
  let Rf = f32(${pu(3)});
  dx[gi] = ${scale} * (g[${pu(5)} + gi] - red[c] / Rf - xhat * (red[C + c] / Rf));`
    : `dx[gi] = g[${pu(5)} + gi] * ${scale};`;
  return {
    name: 'batchnorm.grad.input',
    key: `bn:gin:${training}:${hasW}`,
    code: () => `${PARAMS_DECL}
${bindings.join('\n')}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let C = ${pu(1)};
  let c = (gi / ${pu(2)}) % C;
  ${body}
}`,
  };
}
