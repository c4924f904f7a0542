// Kernels for ops/creation.ts: constant fills, ranges, and uniform / normal random numbers from a
// counter-based Philox4x32-10 generator (each invocation draws the 4 values of one counter).
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage } from './common.ts';
import { paramStruct } from './params.ts';

/** n elements set to value (converted to the output's type). */
export const FillParams = paramStruct('FillParams', { n: 'u32', value: 'f32' });

export function fillKernel(wgsl: string): Kernel {
  const P = FillParams.at;
  return {
    name: 'fill',
    key: `fill:${wgsl}`,
    code: () => `${FillParams.decl}\n${storage(1, 'out', wgsl, true)}\n${main1d()}
  if (gi >= ${P.n}) { return; }
  out[gi] = ${wgsl === 'f32' ? P.value : `${wgsl}(${P.value})`};
}`,
  };
}

/** Element i = start + i * step, computed in f32 and converted to the output's type. */
export const ArangeParams = paramStruct('ArangeParams', { n: 'u32', start: 'f32', step: 'f32' });

export function arangeKernel(wgsl: string): Kernel {
  const P = ArangeParams.at;
  return {
    name: 'arange',
    key: `arange:${wgsl}`,
    code: () => `${ArangeParams.decl}\n${storage(1, 'out', wgsl, true)}\n${main1d()}
  if (gi >= ${P.n}) { return; }
  out[gi] = ${wgsl}(${P.start} + f32(gi) * ${P.step});
}`,
  };
}

/**
 * n values; invocation i draws counter (counterLo + i, counterHi) with key (seedLo, seedHi).
 * A draw u (uniform in (0, 1), or standard normal) is stored as u * scale + shift: uniform
 * [low, high) has shift = low and scale = high - low, normal has shift = mean and scale = std.
 */
export const RandomParams = paramStruct('RandomParams', {
  n: 'u32',
  counterLo: 'u32',
  seedLo: 'u32',
  seedHi: 'u32',
  shift: 'f32',
  scale: 'f32',
  counterHi: 'u32',
});

const PHILOX = `
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let hi = p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, a * b);
}
fn philox(c0: vec4<u32>, k0: vec2<u32>) -> vec4<u32> {
  var c = c0; var k = k0;
  for (var r = 0u; r < 10u; r++) {
    let x = mulhilo(0xD2511F53u, c.x);
    let y = mulhilo(0xCD9E8D57u, c.z);
    c = vec4<u32>(y.x ^ c.y ^ k.x, y.y, x.x ^ c.w ^ k.y, x.y);
    k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}
fn u01(x: u32) -> f32 { return (f32(x >> 8u) + 0.5) * (1.0 / 16777216.0); }`;

/** Launch ceil(n / 4) invocations: each stores the 4 values of its counter (Box-Muller pairs for normal). */
export function randomKernel(kind: 'uniform' | 'normal'): Kernel {
  const P = RandomParams.at;
  const body =
    kind === 'uniform'
      ? `let v = vec4<f32>(u01(r.x), u01(r.y), u01(r.z), u01(r.w)) * ${P.scale} + ${P.shift};`
      : `let r1 = sqrt(-2.0 * log(vec2<f32>(u01(r.x), u01(r.z))));
  let th = 6.283185307179586 * vec2<f32>(u01(r.y), u01(r.w));
  let v = vec4<f32>(r1.x * cos(th.x), r1.x * sin(th.x), r1.y * cos(th.y), r1.y * sin(th.y)) * ${P.scale} + ${P.shift};`;
  return {
    name: `random.${kind}`,
    key: `random:${kind}`,
    code: () => `${RandomParams.decl}\n${storage(1, 'out', 'f32', true)}\n${PHILOX}\n${main1d()}
  let n = ${P.n};
  let base = gi * 4u;
  if (base >= n) { return; }
  let r = philox(vec4<u32>(${P.counterLo} + gi, ${P.counterHi}, 0u, 0u), vec2<u32>(${P.seedLo}, ${P.seedHi}));
  ${body}
  for (var j = 0u; j < 4u; j++) { if (base + j < n) { out[base + j] = v[j]; } }
}`,
  };
}
