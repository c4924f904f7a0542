// Float64 CPU matmul reference and seeded operands for the matmul kernel tests
// (matmul-variants.test.ts and the wide-subgroup child, wide-subgroups.ts).

/** Seeded values in [-1, 1) so the CPU reference sees exactly the uploaded floats. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.fround(s / 2 ** 31 - 1);
  }
  return out;
}

/** C[b] = A[b] @ B[b] (+ bias) in float64; A [batchA, M, K], B [batchB, K, N] broadcast on batch. */
export function cpuMatmul(
  a: Float32Array,
  b: Float32Array,
  batch: number,
  bA: boolean,
  bB: boolean,
  M: number,
  N: number,
  K: number,
  bias?: Float32Array,
): Float64Array {
  const c = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = bias ? bias[j] : 0;
        for (let k = 0; k < K; k++) s += a[(bA ? z * M * K : 0) + i * K + k] * b[(bB ? z * K * N : 0) + k * N + j];
        c[(z * M + i) * N + j] = s;
      }
  return c;
}

/** Column-major copy: the same [R, C] matrix laid out as C-major so `.T` gives it back as a view. */
export function transposeData(x: Float32Array, R: number, C: number): Float32Array {
  const out = new Float32Array(R * C);
  for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) out[j * R + i] = x[i * C + j];
  return out;
}
