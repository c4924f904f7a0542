// The cases peers are measured on, shared by bench/peers/run.ts and our suites so every side
// labels and counts work the same way: matmul 1024 (the sgemm ceiling), ResNet-style 3x3 64->64
// conv at 56x56 forward and both gradients, and two memory-bound ops.
import { conv2dFlops, convShape, matmulFlops, type Conv2dSpec } from '../harness.ts';

export type PeerCase =
  | { op: 'matmul'; m: number; n: number; k: number }
  | ({ op: 'conv2d'; pass: 'fwd' | 'bwd_input' | 'bwd_filter' } & Conv2dSpec)
  | { op: 'elementwise'; n: number; kind?: 'add' | 'mul' | 'relu' }
  | { op: 'reduce_sum'; shape: number[]; axis: number }
  | { op: 'backbone'; arch: string; until: string; batch: number; size: number };

export const CONV_3X3_64: Conv2dSpec = { n: 1, cin: 64, h: 56, w: 56, cout: 64, kh: 3, kw: 3, stride: 1, pad: 1 };

export const PEER_CASES: readonly PeerCase[] = [
  { op: 'matmul', m: 1024, n: 1024, k: 1024 },
  { op: 'conv2d', pass: 'fwd', ...CONV_3X3_64 },
  { op: 'conv2d', pass: 'bwd_input', ...CONV_3X3_64 },
  { op: 'conv2d', pass: 'bwd_filter', ...CONV_3X3_64 },
  { op: 'elementwise', n: 1 << 20, kind: 'add' },
  { op: 'reduce_sum', shape: [1024, 1024], axis: 1 },
];

/** Record label (case), shape label and work of a case: flops for GFLOP/s or bytes for GB/s. */
export function describeCase(c: PeerCase): { op: string; shape: string; flops?: number; bytes?: number } {
  switch (c.op) {
    case 'matmul':
      return { op: 'matmul', shape: `${c.m}x${c.k} @ ${c.k}x${c.n}`, flops: matmulFlops(c.m, c.n, c.k) };
    case 'conv2d':
      return { op: `conv2d_${c.pass}`, shape: convShape(c), flops: conv2dFlops(c) };
    case 'elementwise': {
      const kind = c.kind ?? 'add';
      return { op: `elementwise_${kind}`, shape: `${c.n}`, bytes: (kind === 'relu' ? 2 : 3) * c.n * 4 };
    }
    case 'backbone':
      return { op: `backbone_${c.arch}`, shape: `${c.batch}x3x${c.size}x${c.size} to ${c.until}` };
    case 'reduce_sum': {
      const size = c.shape.reduce((a, b) => a * b, 1);
      const ax = c.axis < 0 ? c.axis + c.shape.length : c.axis;
      if (ax < 0 || ax >= c.shape.length) throw new Error(`bench/peers/cases: reduce_sum axis ${c.axis} out of range for shape [${c.shape}]`);
      return { op: 'reduce_sum', shape: `[${c.shape.join(',')}] axis ${ax}`, bytes: (size + size / c.shape[ax]) * 4 };
    }
  }
}
