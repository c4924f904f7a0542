// Prefix-sum kernels without workgroup barriers (slow on CPU Vulkan): each invocation scans a
// serial block, one small pass scans the block totals per line, and a last pass rescans each
// block from its offset. Used by cumsum (ops/sort.ts) and boolean-mask compaction (ops/mask.ts).
import type { Kernel } from '../runtime/dispatch.ts';
import { main1d, storage } from './common.ts';
import { paramStruct } from './params.ts';

/**
 * cumsum's block passes (block sums, then apply): lines are x viewed as [outer, n, inner], each
 * cut into `blocks` blocks of `blockLen` elements, one invocation per block.
 */
export const CumsumParams = paramStruct('CumsumParams', {
  /** lines * blocks */
  total: 'u32',
  n: 'u32',
  inner: 'u32',
  /** 1: walk each line from its end (the backward of cumsum). */
  reverse: 'u32',
  blockLen: 'u32',
  blocks: 'u32',
  xOffset: 'u32',
});

/** In-place exclusive scan of `count` values per line, lines `stride` apart. */
export const ScanParams = paramStruct('ScanParams', {
  lines: 'u32',
  count: 'u32',
  stride: 'u32',
  /** 1: write the line total after its `count` values. */
  writeTotal: 'u32',
});

/** Selected-element counts of a bool mask of `maskLen` elements, `blocks` blocks of `blockLen`. */
export const MaskCountParams = paramStruct('MaskCountParams', { blocks: 'u32', maskLen: 'u32', blockLen: 'u32', maskOffset: 'u32' });

/** As MaskCountParams; `cap`: the selected-index list has room for ranks below it. */
export const MaskPositionsParams = paramStruct('MaskPositionsParams', { blocks: 'u32', maskLen: 'u32', blockLen: 'u32', maskOffset: 'u32', cap: 'u32' });

/** Row copies by chunks of ROW_CHUNK elements of rows of `inner` elements. */
export const GatherRowsParams = paramStruct('GatherRowsParams', {
  /** rows * chunksPerRow */
  total: 'u32',
  inner: 'u32',
  /** mask blocks: offs[blocks] holds the selected total */
  blocks: 'u32',
  srcOffset: 'u32',
  chunksPerRow: 'u32',
});

export const ScatterRowsParams = paramStruct('ScatterRowsParams', {
  /** mask length * chunksPerRow */
  total: 'u32',
  inner: 'u32',
  /** rows available in rowsSrc: positions at or past it take the base (or 0) */
  rows: 'u32',
  rowsOffset: 'u32',
  /** unused without a base */
  baseOffset: 'u32',
  chunksPerRow: 'u32',
});

// Line l = o * inner + i; element t of line l sits at o*n*inner + t*inner + i.
const C = CumsumParams;
const LINE = `
  let n = ${C.at.n}; let inner = ${C.at.inner}; let rev = ${C.at.reverse} == 1u;
  let B = ${C.at.blockLen}; let nb = ${C.at.blocks};`;
const POS = `fn at(o: u32, t: u32, i: u32, n: u32, inner: u32, rev: bool) -> u32 {
  let tt = select(t, n - 1u - t, rev);
  return o * n * inner + tt * inner + i;
}`;

export function cumsumBlockSums(type: string): Kernel {
  return {
    name: 'cumsum.blocks',
    key: `cumsum.blocks:${type}`,
    code: () => `${C.decl}
${storage(1, 'x', type)}
${storage(2, 'sums', type, true)}
${POS}
${main1d()}
  if (gi >= ${C.at.total}) { return; }
  ${LINE}
  let line = gi / nb; let b = gi % nb;
  let o = line / inner; let i = line % inner;
  var acc = ${type}(0);
  for (var t = b * B; t < min(n, b * B + B); t++) { acc += x[${C.at.xOffset} + at(o, t, i, n, inner, rev)]; }
  sums[gi] = acc;
}`,
  };
}

export function scanBlocks(type: string): Kernel {
  const P = ScanParams;
  return {
    name: 'scan.blocks',
    key: `scan.blocks:${type}`,
    code: () => `${P.decl}
${storage(1, 'v', type, true)}
${main1d(64)}
  if (gi >= ${P.at.lines}) { return; }
  let base = gi * ${P.at.stride};
  var acc = ${type}(0);
  for (var b = 0u; b < ${P.at.count}; b++) { let c = v[base + b]; v[base + b] = acc; acc += c; }
  if (${P.at.writeTotal} == 1u) { v[base + ${P.at.count}] = acc; }
}`,
  };
}

/** Output dense like x. */
export function cumsumApply(type: string): Kernel {
  return {
    name: 'cumsum.apply',
    key: `cumsum.apply:${type}`,
    code: () => `${C.decl}
${storage(1, 'x', type)}
${storage(2, 'sums', type)}
${storage(3, 'out', type, true)}
${POS}
${main1d()}
  if (gi >= ${C.at.total}) { return; }
  ${LINE}
  let line = gi / nb; let b = gi % nb;
  let o = line / inner; let i = line % inner;
  var acc = sums[gi];
  for (var t = b * B; t < min(n, b * B + B); t++) {
    let a = at(o, t, i, n, inner, rev);
    acc += x[${C.at.xOffset} + a];
    out[a] = acc;
  }
}`,
  };
}

// ---- boolean masks: mask is u32 (bool) of length m, cut into nb blocks of B ----

export function maskBlockCounts(): Kernel {
  const P = MaskCountParams;
  return {
    name: 'mask.count',
    key: 'mask.count',
    code: () => `${P.decl}
${storage(1, 'mask', 'u32')}
${storage(2, 'offs', 'u32', true)}
${main1d()}
  if (gi >= ${P.at.blocks}) { return; }
  let m = ${P.at.maskLen}; let B = ${P.at.blockLen}; let mo = ${P.at.maskOffset};
  var c = 0u;
  for (var i = gi * B; i < min(m, gi * B + B); i++) { c += select(0u, 1u, mask[mo + i] != 0u); }
  offs[gi] = c;
}`,
  };
}

// Writes pos[i] (rank of element i among the selected ones, -1 when unselected) and
// sel[r] = i for ranks r < cap.
export function maskPositions(): Kernel {
  const P = MaskPositionsParams;
  return {
    name: 'mask.positions',
    key: 'mask.positions',
    code: () => `${P.decl}
${storage(1, 'mask', 'u32')}
${storage(2, 'offs', 'u32')}
${storage(3, 'pos', 'i32', true)}
${storage(4, 'sel', 'i32', true)}
${main1d()}
  if (gi >= ${P.at.blocks}) { return; }
  let m = ${P.at.maskLen}; let B = ${P.at.blockLen}; let mo = ${P.at.maskOffset}; let cap = ${P.at.cap};
  var r = offs[gi];
  for (var i = gi * B; i < min(m, gi * B + B); i++) {
    if (mask[mo + i] != 0u) {
      pos[i] = i32(r);
      if (r < cap) { sel[r] = i32(i); }
      r++;
    } else {
      pos[i] = -1;
    }
  }
}`,
  };
}

/** Row elements per invocation in the row copies below (index arithmetic once per chunk). */
export const ROW_CHUNK = 32;

// out[p, j] = src[sel[p], j] for rows p below the selected total (offs[nb]), else 0.
export function gatherRows(type: string): Kernel {
  const P = GatherRowsParams;
  return {
    name: 'mask.gatherRows',
    key: `mask.gatherRows:${type}`,
    code: () => `${P.decl}
${storage(1, 'src', type)}
${storage(2, 'sel', 'i32')}
${storage(3, 'offs', 'u32')}
${storage(4, 'out', type, true)}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
  let inner = ${P.at.inner}; let nch = ${P.at.chunksPerRow};
  let p = gi / nch;
  let j0 = (gi % nch) * ${ROW_CHUNK}u;
  let j1 = min(inner, j0 + ${ROW_CHUNK}u);
  let ob = p * inner;
  if (p < offs[${P.at.blocks}]) {
    let sb = ${P.at.srcOffset} + u32(sel[p]) * inner;
    for (var j = j0; j < j1; j++) { out[ob + j] = src[sb + j]; }
  } else {
    for (var j = j0; j < j1; j++) { out[ob + j] = ${type}(0); }
  }
}`,
  };
}

// out[i, j] = pos[i] in [0, rows) ? rowsSrc[pos[i], j] : (withBase ? base[i, j] : 0)
export function scatterRows(type: string, withBase: boolean): Kernel {
  const P = ScatterRowsParams;
  return {
    name: withBase ? 'mask.assignRows' : 'mask.scatterRows',
    key: `mask.scatterRows:${type}:${withBase}`,
    code: () => `${P.decl}
${storage(1, 'rowsSrc', type)}
${storage(2, 'pos', 'i32')}
${withBase ? storage(3, 'base', type) : ''}
${storage(withBase ? 4 : 3, 'out', type, true)}
${main1d()}
  if (gi >= ${P.at.total}) { return; }
  let inner = ${P.at.inner}; let nch = ${P.at.chunksPerRow};
  let i = gi / nch;
  let j0 = (gi % nch) * ${ROW_CHUNK}u;
  let j1 = min(inner, j0 + ${ROW_CHUNK}u);
  let ob = i * inner;
  let ps = pos[i];
  if (ps >= 0 && u32(ps) < ${P.at.rows}) {
    let sb = ${P.at.rowsOffset} + u32(ps) * inner;
    for (var j = j0; j < j1; j++) { out[ob + j] = rowsSrc[sb + j]; }
  } else {
    for (var j = j0; j < j1; j++) { out[ob + j] = ${withBase ? `base[${P.at.baseOffset} + ob + j]` : `${type}(0)`}; }
  }
}`,
  };
}
