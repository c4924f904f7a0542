// Child process for test/engine/runtime/wide-subgroups.test.ts, started with LP_NATIVE_VECTOR_WIDTH=512 so
// that lavapipe runs 16-lane subgroups, twice the 8 the rest of the suite sees. The subgroup matmul
// and conv kernels share loads across the lanes of a subgroup (the subgroup reduction combines one); here they run where a subgroup is
// wider than some of their workgroups (as a 32-lane NVIDIA warp is wider than a 16-lane workgroup)
// and are checked against float64 CPU results. Prints "subgroup N" and one line per check; a
// failure throws (non-zero exit).
import * as E from '../../engine/index.ts';
import { subgroupSize } from '../../engine/runtime/device.ts';
import { setMatmulVariant } from '../../engine/ops/matmul.ts';
import { MATMUL_VARIANTS } from '../../engine/wgsl/matmul.ts';
import { assertClose } from './oracle.ts';
import { values, cpuMatmul, transposeData } from './matmul-ref.ts';

await E.initDevice();
console.log(`subgroup ${subgroupSize()}`);

// every subgroup matmul variant, A and B both row-major and both column-major, ragged M and N
const M = 36,
  N = 44,
  K = 20;
const A = values(M * K, 1),
  B = values(K * N, 2);
const ref = cpuMatmul(A, B, 1, false, false, M, N, K);
for (const [name, v] of Object.entries(MATMUL_VARIANTS)) {
  if (!v.sg) continue;
  setMatmulVariant(name);
  for (const col of [false, true]) {
    await E.tidyAsync(async () => {
      const a = col ? E.tensor(transposeData(A, M, K), { shape: [K, M] }).T : E.tensor(A, { shape: [M, K] });
      const b = col ? E.tensor(transposeData(B, K, N), { shape: [N, K] }).T : E.tensor(B, { shape: [K, N] });
      assertClose(await E.matmul(a, b).data(), ref, 1e-5, 1e-5, `${name} ${col ? 'col' : 'row'}`);
    });
  }
  console.log(`ok matmul ${name}`);
}
setMatmulVariant(null);

// conv2d 3x3, pad 1: forward (gemm kernel) and both gradients (the weight gradient's subgroup kernel)
const Ci = 16,
  Co = 32,
  H = 20,
  W = 20;
const x = values(Ci * H * W, 3),
  w = values(Co * Ci * 9, 4),
  gy = values(Co * H * W, 5);
const X = (c: number, i: number, j: number) => (i < 0 || j < 0 || i >= H || j >= W ? 0 : x[(c * H + i) * W + j]!);
const Y = new Float64Array(Co * H * W),
  GW = new Float64Array(Co * Ci * 9),
  GX = new Float64Array(Ci * H * W);
for (let o = 0; o < Co; o++)
  for (let c = 0; c < Ci; c++)
    for (let ky = 0; ky < 3; ky++)
      for (let kx = 0; kx < 3; kx++) {
        const wi = ((o * Ci + c) * 3 + ky) * 3 + kx;
        for (let i = 0; i < H; i++)
          for (let j = 0; j < W; j++) {
            const yi = (o * H + i) * W + j;
            const xv = X(c, i + ky - 1, j + kx - 1);
            Y[yi] += xv * w[wi]!;
            GW[wi] += xv * gy[yi]!;
            if (i + ky - 1 >= 0 && i + ky - 1 < H && j + kx - 1 >= 0 && j + kx - 1 < W) GX[(c * H + i + ky - 1) * W + j + kx - 1] += gy[yi]! * w[wi]!;
          }
      }
await E.tidyAsync(async () => {
  const tx = E.tensor(x, { shape: [1, Ci, H, W] }).requiresGrad_();
  const tw = E.tensor(w, { shape: [Co, Ci, 3, 3] }).requiresGrad_();
  const y = E.conv2d(tx, tw, null, { padding: 1 });
  const [dx, dw] = E.grad(E.sum(E.mul(y, E.tensor(gy, { shape: [1, Co, H, W] }))), [tx, tw]);
  assertClose(await y.data(), Y, 1e-4, 1e-4, 'conv2d forward');
  assertClose(await dx!.data(), GX, 1e-4, 1e-4, 'conv2d input gradient');
  assertClose(await dw!.data(), GW, 1e-4, 1e-4, 'conv2d weight gradient');
});
console.log('ok conv2d 3x3 forward, input and weight gradients');

// the subgroup reduction (a 16-lane workgroup): row sums, long rows in chunks, argmax with a tie
E.setReduceVariant('subgroup');
await E.tidyAsync(async () => {
  for (const [rows, R] of [
    [7, 50],
    [3, 5000],
  ]) {
    const v = values(rows * R, R);
    const want = Array.from({ length: rows }, (_, o) => v.subarray(o * R, (o + 1) * R).reduce((a, b) => a + b, 0));
    assertClose(await E.sum(E.tensor(v, { shape: [rows, R] }), 1).data(), want, 1e-4, 1e-5, `reduce sum ${rows}x${R}`);
  }
  const t = new Float32Array(100).map((_, i) => Math.cos(i));
  t[37] = 9;
  t[77] = 9;
  const am = (await E.argmax(E.tensor(t, { shape: [1, 100] }), 1).data())[0];
  if (am !== 37) throw new Error(`reduce argmax: ${am}, expected 37 (the first of two maxima)`);
});
E.setReduceVariant(null);
console.log('ok reduce subgroup rows');
E.releaseDevice();
