// Prefix-sum kernels without workgroup barriers (slow on CPU Vulkan): each invocation scans a
// serial block, one small pass scans the block totals per line, and a last pass rescans each
// block from its offset. Used by cumsum (ops/sort.ts) and boolean-mask compaction (ops/mask.ts).
import type { Kernel } from '../runtime/dispatch.ts';
import { PARAMS_DECL, main1d, pu, storage } from './common.ts';

// Lines are x viewed as [outer, n, inner]; line l = o * inner + i; element t of line l sits at
// o*n*inner + t*inner + i. `rev` walks each line from its end (the backward of cumsum).
const LINE = `
  let n = ${pu(1)}; let inner = ${pu(2)}; let rev = ${pu(3)} == 1u;
  let B = ${pu(4)}; let nb = ${pu(5)};`;
const POS = `fn at(o: u32, t: u32, i: u32, n: u32, inner: u32, rev: bool) -> u32 {
  let tt = select(t, n - 1u - t, rev);
  return o * n * inner + tt * inner + i;
}`;

// params: 0 lines*nb, 1 n, 2 inner, 3 rev, 4 B, 5 nb, 6 x offset
export function cumsumBlockSums(type: string): Kernel {
  return {
    name: 'cumsum.blocks',
    key: `cumsum.blocks:${type}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'x', type)}
${storage(2, 'sums', type, true)}
${POS}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  ${LINE}
  let line = gi / nb; let b = gi % nb;
  let o = line / inner; let i = line % inner;
  var acc = ${type}(0);
  for (var t = b * B; t < min(n, b * B + B); t++) { acc += x[${pu(6)} + at(o, t, i, n, inner, rev)]; }
  sums[gi] = acc;
}`,
  };
}

// In-place exclusive scan of `count` values per line (stride `stride`); with `total` set, the
// line total is written after them. params: 0 lines, 1 count, 2 stride, 3 total
export function scanBlocks(type: string): Kernel {
  return {
    name: 'scan.blocks',
    key: `scan.blocks:${type}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'v', type, true)}
${main1d(64)}
  if (gi >= ${pu(0)}) { return; }
  let base = gi * ${pu(2)};
  var acc = ${type}(0);
  for (var b = 0u; b < ${pu(1)}; b++) { let c = v[base + b]; v[base + b] = acc; acc += c; }
  if (${pu(3)} == 1u) { v[base + ${pu(1)}] = acc; }
}`,
  };
}

// params: 0 lines*nb, 1 n, 2 inner, 3 rev, 4 B, 5 nb, 6 x offset. Output dense like x.
export function cumsumApply(type: string): Kernel {
  return {
    name: 'cumsum.apply',
    key: `cumsum.apply:${type}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'x', type)}
${storage(2, 'sums', type)}
${storage(3, 'out', type, true)}
${POS}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  ${LINE}
  let line = gi / nb; let b = gi % nb;
  let o = line / inner; let i = line % inner;
  var acc = sums[gi];
  for (var t = b * B; t < min(n, b * B + B); t++) {
    let a = at(o, t, i, n, inner, rev);
    acc += x[${pu(6)} + a];
    out[a] = acc;
  }
}`,
  };
}

// ---- boolean masks: mask is u32 (bool) of length m, cut into nb blocks of B ----

// params: 0 nb, 1 m, 2 B, 3 mask offset
export function maskBlockCounts(): Kernel {
  return {
    name: 'mask.count',
    key: 'mask.count',
    code: () => `${PARAMS_DECL}
${storage(1, 'mask', 'u32')}
${storage(2, 'offs', 'u32', true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let m = ${pu(1)}; let B = ${pu(2)}; let mo = ${pu(3)};
  var c = 0u;
  for (var i = gi * B; i < min(m, gi * B + B); i++) { c += select(0u, 1u, mask[mo + i] != 0u); }
  offs[gi] = c;
}`,
  };
}

// Writes pos[i] (rank of element i among the selected ones, -1 when unselected) and
// sel[r] = i for ranks r < cap. params: 0 nb, 1 m, 2 B, 3 mask offset, 4 cap
export function maskPositions(): Kernel {
  return {
    name: 'mask.positions',
    key: 'mask.positions',
    code: () => `${PARAMS_DECL}
${storage(1, 'mask', 'u32')}
${storage(2, 'offs', 'u32')}
${storage(3, 'pos', 'i32', true)}
${storage(4, 'sel', 'i32', true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let m = ${pu(1)}; let B = ${pu(2)}; let mo = ${pu(3)}; let cap = ${pu(4)};
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
// params: 0 rows*chunks, 1 inner, 2 nb, 3 src offset, 4 chunks per row
export function gatherRows(type: string): Kernel {
  return {
    name: 'mask.gatherRows',
    key: `mask.gatherRows:${type}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'src', type)}
${storage(2, 'sel', 'i32')}
${storage(3, 'offs', 'u32')}
${storage(4, 'out', type, true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let inner = ${pu(1)}; let nch = ${pu(4)};
  let p = gi / nch;
  let j0 = (gi % nch) * ${ROW_CHUNK}u;
  let j1 = min(inner, j0 + ${ROW_CHUNK}u);
  let ob = p * inner;
  if (p < offs[${pu(2)}]) {
    let sb = ${pu(3)} + u32(sel[p]) * inner;
    for (var j = j0; j < j1; j++) { out[ob + j] = src[sb + j]; }
  } else {
    for (var j = j0; j < j1; j++) { out[ob + j] = ${type}(0); }
  }
}`,
  };
}

// out[i, j] = pos[i] in [0, rows) ? rowsSrc[pos[i], j] : (withBase ? base[i, j] : 0)
// params: 0 m*chunks, 1 inner, 2 rows, 3 rowsSrc offset, 4 base offset, 5 chunks per row
export function scatterRows(type: string, withBase: boolean): Kernel {
  return {
    name: withBase ? 'mask.assignRows' : 'mask.scatterRows',
    key: `mask.scatterRows:${type}:${withBase}`,
    code: () => `${PARAMS_DECL}
${storage(1, 'rowsSrc', type)}
${storage(2, 'pos', 'i32')}
${withBase ? storage(3, 'base', type) : ''}
${storage(withBase ? 4 : 3, 'out', type, true)}
${main1d()}
  if (gi >= ${pu(0)}) { return; }
  let inner = ${pu(1)}; let nch = ${pu(5)};
  let i = gi / nch;
  let j0 = (gi % nch) * ${ROW_CHUNK}u;
  let j1 = min(inner, j0 + ${ROW_CHUNK}u);
  let ob = i * inner;
  let ps = pos[i];
  if (ps >= 0 && u32(ps) < ${pu(2)}) {
    let sb = ${pu(3)} + u32(ps) * inner;
    for (var j = j0; j < j1; j++) { out[ob + j] = rowsSrc[sb + j]; }
  } else {
    for (var j = j0; j < j1; j++) { out[ob + j] = ${withBase ? `base[${pu(4)} + ob + j]` : `${type}(0)`}; }
  }
}`,
  };
}
