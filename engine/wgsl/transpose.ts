// Transposing copy: out[b] = src[b]^T for a source [B, C, R] read as the view [B, R, C] (the last
// two dims swapped), R and C multiples of 4. One invocation per 4x4 block: four aligned vec4 loads
// along the source's rows, four vec4 stores along the output's. Why: the strided elementwise copy
// reads one element per load, and on lavapipe a vec4 load costs about what a scalar one does, so
// transposes (matmulRaw's layout copies) ran well below plain copies (docs/PERF.md). 32-bit types
// are copied as bits.
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage } from './common.ts';
import { paramStruct } from './params.ts';

/** blocks = B * R/4 * C/4; R4 = R / 4, C4 = C / 4; offsets in vec4s. */
export const TransposeParams = paramStruct('TransposeParams', { blocks: 'u32', R4: 'u32', C4: 'u32', srcOffset4: 'u32', outOffset4: 'u32' });

export function transposeCopyKernel(): Kernel {
  const P = TransposeParams;
  return {
    name: 'copy.transpose',
    key: 'copy.transpose',
    code: () => `${P.decl}
${storage(1, 'src', 'vec4<u32>')}
${storage(2, 'out', 'vec4<u32>', true)}
${main1d()}
  let blocks = ${P.at.blocks}; let R4 = ${P.at.R4}; let C4 = ${P.at.C4};
  if (gi >= blocks) { return; }
  // lanes take neighbouring column blocks of one output block row (the output's vec4s)
  let cb = gi % C4; let rest = gi / C4; let rb = rest % R4; let b = rest / R4;
  // source rows c = 4cb + j hold output column c; their vec4 rb holds output rows 4rb .. 4rb+3
  let s = ${P.at.srcOffset4} + (b * C4 * 4u + cb * 4u) * R4 + rb;
  let v0 = src[s]; let v1 = src[s + R4]; let v2 = src[s + 2u * R4]; let v3 = src[s + 3u * R4];
  let o = ${P.at.outOffset4} + (b * R4 * 4u + rb * 4u) * C4 + cb;
  out[o] = vec4<u32>(v0.x, v1.x, v2.x, v3.x);
  out[o + C4] = vec4<u32>(v0.y, v1.y, v2.y, v3.y);
  out[o + 2u * C4] = vec4<u32>(v0.z, v1.z, v2.z, v3.z);
  out[o + 3u * C4] = vec4<u32>(v0.w, v1.w, v2.w, v3.w);
}`,
  };
}
