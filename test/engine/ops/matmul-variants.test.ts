// Every named matmul variant (plain register-tiled and subgroup-broadcast) against a float64 CPU
// product, over the operand layouts the kernels distinguish (A and B each row- or column-major,
// i.e. transposes read in place), ragged M and N tails, fused bias (linear) and broadcast batches;
// every parameter field (three unmerged batch dims, operands and bias at offsets) for each kernel.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { setMatmulVariant, setLayoutCopies, matmulRaw } from '../../../engine/ops/matmul.ts';
import { MATMUL_VARIANTS, defaultSgVariant } from '../../../engine/wgsl/matmul.ts';
import { subgroupSize } from '../../../engine/runtime/device.ts';
import { setDispatchHook } from '../../../engine/runtime/dispatch.ts';
import { assertClose, offsetView } from '../../helpers/oracle.ts';
import { values, cpuMatmul, transposeData } from '../../helpers/matmul-ref.ts';

const t = suite('matmul variants');
t.before(async () => {
  await E.initDevice();
});
t.after(() => setMatmulVariant(null));

const M = 37,
  N = 44,
  K = 20;
const A = values(M * K, 1);
const B = values(K * N, 2);
const ref = cpuMatmul(A, B, 1, false, false, M, N, K);

/** a and b with A row-major or column-major (then M must be a multiple of 4 to stay vec4). */
function operands(aCol: boolean, bCol: boolean, m: number, a: Float32Array): [E.Tensor, E.Tensor] {
  const ta = aCol ? E.tensor(transposeData(a, m, K), { shape: [K, m] }).T : E.tensor(a, { shape: [m, K] });
  const tb = bCol ? E.tensor(transposeData(B, K, N), { shape: [N, K] }).T : E.tensor(B, { shape: [K, N] });
  return [ta, tb];
}

const DEFAULTS = ['sg.t32x4.wg16', 'sg.t16x4.wg8'];

t('every variant, every operand layout, ragged tails', async () => {
  const M4 = 36; // a column-major A needs M % 4 == 0 for its vec4 path
  const A4 = A.subarray(0, M4 * K);
  const ref4 = cpuMatmul(A4, B, 1, false, false, M4, N, K);
  for (const name of Object.keys(MATMUL_VARIANTS)) {
    setMatmulVariant(name);
    for (const [aCol, bCol] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ]) {
      // The layout code is the same for every tile shape: the defaults see all four layouts,
      // the other subgroup tiles two, the plain kernels (also covered by the torch fixtures) one.
      const v = MATMUL_VARIANTS[name];
      const all = DEFAULTS.includes(name);
      if (!v.sg && (aCol || bCol)) continue;
      if (v.sg && !all && aCol !== bCol) continue;
      const m = aCol ? M4 : M;
      await E.tidyAsync(async () => {
        const [a, b] = operands(aCol, bCol, m, aCol ? A4 : A);
        assertClose(await E.matmul(a, b).data(), aCol ? ref4 : ref, 1e-5, 1e-5, `${name} A${aCol ? 'col' : 'row'} B${bCol ? 'col' : 'row'}`);
      });
    }
  }
  setMatmulVariant(null);
  assert.throws(() => setMatmulVariant('wg3x3'), /unknown variant 'wg3x3'/);
});

t('default tile: 32x4 from 64 rows up, 16x4 below; a ragged product through the default path', async () => {
  assert.equal(defaultSgVariant(600), MATMUL_VARIANTS['sg.t32x4.wg16']);
  assert.equal(defaultSgVariant(64), MATMUL_VARIANTS['sg.t32x4.wg16']);
  assert.equal(defaultSgVariant(63), MATMUL_VARIANTS['sg.t16x4.wg8']);
  // 600 rows (18.75 tiles), 132 columns (33 lanes: 2 workgroups and one lane), plus a bias
  const m = 600,
    n = 132,
    k = 12;
  const a = values(m * k, 21),
    b = values(k * n, 22),
    bias = values(n, 23);
  await E.tidyAsync(async () => {
    const y = E.add(E.matmul(E.tensor(a, { shape: [m, k] }), E.tensor(b, { shape: [k, n] })), E.tensor(bias, { shape: [n] }));
    assertClose(await y.data(), cpuMatmul(a, b, 1, false, false, m, n, k, bias), 1e-5, 1e-5, 'default 600x12x132');
  });
});

t('subgroup kernel: fused bias, broadcast batch, odd N, K tail of scalars', async () => {
  for (const name of ['sg.t64x4.wg16', 'sg.t32x8.wg32', null]) {
    setMatmulVariant(name);
    await E.tidyAsync(async () => {
      // linear: x [M, K] @ W^T + bias with W [N, K] contiguous (B column-major), N = 44
      const W = values(N * K, 3);
      const bias = values(N, 4);
      const y = E.linear(E.tensor(A, { shape: [M, K] }), E.tensor(W, { shape: [N, K] }), E.tensor(bias, { shape: [N] }));
      assertClose(await y.data(), cpuMatmul(A, transposeData(W, N, K), 1, false, false, M, N, K, bias), 1e-5, 1e-5, `${name} linear`);
      // batch 3 of A against one B
      const A3 = values(3 * M * K, 5);
      const y3 = E.matmul(E.tensor(A3, { shape: [3, M, K] }), E.tensor(B, { shape: [K, N] }));
      assertClose(await y3.data(), cpuMatmul(A3, B, 3, true, false, M, N, K), 1e-5, 1e-5, `${name} batched`);
      // N = 7 (no vec4 stores) and K = 9 (scalar path)
      const a7 = values(M * 9, 6),
        b7 = values(9 * 7, 7);
      const y7 = E.matmul(E.tensor(a7, { shape: [M, 9] }), E.tensor(b7, { shape: [9, 7] }));
      assertClose(await y7.data(), cpuMatmul(a7, b7, 1, false, false, M, 7, 9), 1e-5, 1e-5, `${name} 37x9x7`);
    });
  }
  setMatmulVariant(null);
});

t('a shared A over a batch, N ragged against a workgroup, is laid along N: float64, same bits as each item alone, epilogue', async () => {
  // conv 1x1's W @ X[b]: 3 items of K x 40 (40 columns: 10 lanes of 4 or 5 of 8, less than a
  // workgroup); rows 37 (ragged) with A row-major, 36 with A column-major
  const n = 40,
    Z = 3;
  const X = values(Z * K * n, 31),
    biasR = values(M, 32);
  for (const name of [null, 'sg.t32x8.wg32', 'sg.t16x4.wg8']) {
    setMatmulVariant(name);
    for (const aCol of [false, true]) {
      const m = aCol ? 36 : M;
      const a = A.subarray(0, m * K);
      const keys: string[] = [];
      setDispatchHook({ passFor: (k) => (keys.push(k.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
      try {
        await E.tidyAsync(async () => {
          const ta = aCol ? E.tensor(transposeData(a, m, K), { shape: [K, m] }).T : E.tensor(a, { shape: [m, K] });
          const x = E.tensor(X, { shape: [Z, K, n] });
          const what = `${name ?? 'default'} A${aCol ? 'col' : 'row'}`;
          const y = await E.matmul(ta, x).data();
          assertClose(y, cpuMatmul(a, X, Z, false, true, m, n, K), 1e-5, 1e-5, what);
          const bias = E.tensor(biasR.subarray(0, m), { shape: [m] });
          const yb = await matmulRaw(ta, x, bias, { biasRows: true, act: 'relu6' }).data();
          for (let z = 0; z < Z; z++) {
            const xz = E.select(x, 0, z);
            assertClose(y.subarray(z * m * n, (z + 1) * m * n), await E.matmul(ta, xz).data(), 0, 0, `${what} item ${z}`);
            assertClose(
              yb.subarray(z * m * n, (z + 1) * m * n),
              await matmulRaw(ta, xz, bias, { biasRows: true, act: 'relu6' }).data(),
              0,
              0,
              `${what} bias+relu6 item ${z}`,
            );
          }
        });
      } finally {
        setDispatchHook(null);
      }
      if (subgroupSize() > 0)
        assert.ok(
          keys.some((k) => k.startsWith('matmul.sg:') && k.endsWith(':fold')),
          `${name}: no folded kernel in ${keys.join(', ')}`,
        );
    }
  }
  setMatmulVariant(null);
});

t('K = 1 (outer products) take a broadcast multiply: batch, bias, transposed views, gradients', async () => {
  const a = values(M, 11),
    b = values(N, 12),
    bias = values(N, 13),
    g = values(3 * M * N, 14);
  const names: string[] = [];
  setDispatchHook({ passFor: (k) => (names.push(k.name), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
  try {
    await E.tidyAsync(async () => {
      const ta = E.tensor(a, { shape: [M, 1] }).requiresGrad_(),
        tb = E.tensor(b, { shape: [1, N] }).requiresGrad_();
      const y = E.matmul(ta, tb);
      assertClose(await y.data(), Float32Array.from(cpuMatmul(a, b, 1, false, false, M, N, 1)), 0, 0, 'outer'); // one product: exactly the f32 rounding
      // a [1, M] stored, read as [M, 1] through .T; B broadcast against a batch of 3 A's
      const a3 = values(3 * M, 15);
      const y3 = E.matmul(E.tensor(a3, { shape: [3, M, 1] }), E.tensor(b, { shape: [1, 1, N] }).reshape([1, N]));
      assertClose(await y3.data(), Float32Array.from(cpuMatmul(a3, b, 3, true, false, M, N, 1)), 0, 0, 'batched');
      const yT = E.matmul(E.tensor(a, { shape: [1, M] }).T, tb);
      assertClose(await yT.data(), Float32Array.from(cpuMatmul(a, b, 1, false, false, M, N, 1)), 0, 0, 'transposed view');
      // linear with one input feature: x [M, 1], W [N, 1], bias [N]
      const yl = E.linear(E.tensor(a, { shape: [M, 1] }), E.tensor(b, { shape: [N, 1] }), E.tensor(bias, { shape: [N] }));
      assertClose(await yl.data(), cpuMatmul(a, b, 1, false, false, M, N, 1, bias), 1e-6, 1e-6, 'linear');
      // gradients of sum(y * G): dA = G @ B^T, dB = A^T @ G
      const G = g.subarray(0, M * N);
      const [da, db] = E.grad(E.sum(E.mul(y, E.tensor(G, { shape: [M, N] }))), [ta, tb]);
      assertClose(await da!.data(), cpuMatmul(G, b, 1, false, false, M, 1, N), 1e-5, 1e-5, 'dA');
      assertClose(await db!.data(), cpuMatmul(a, G, 1, false, false, 1, N, M), 1e-5, 1e-5, 'dB');
    });
  } finally {
    setDispatchHook(null);
  }
  // every forward above was elementwise (the gradients are matmuls with K = M or N)
  assert.ok(names.includes('ew.mul'), names.join(' '));
  assert.is(names.filter((n) => n === 'matmul').length, 1, `only dB = A^T @ G is a tiled matmul: ${names.join(' ')}`);
});

t('matrix-vector products (N = 1) take the gemv kernel: vec4 and strided operands, bias, batch', async () => {
  const keys: string[] = [];
  setDispatchHook({ passFor: (k) => (keys.push(k.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
  try {
    await E.tidyAsync(async () => {
      const x = E.tensor(A, { shape: [M, K] });
      const v = values(K, 8);
      const ref1 = cpuMatmul(A, v, 1, false, false, M, 1, K);
      // A rows contiguous, v contiguous: vec4 loads
      assertClose(await E.matmul(x, E.tensor(v, { shape: [K, 1] })).data(), ref1, 1e-5, 1e-5, 'gemv vec4');
      // A column-major (a transposed view) and v a strided column of a wider matrix: scalar loop
      const xT = E.tensor(transposeData(A, M, K), { shape: [K, M] }).T;
      const wide = new Float32Array(K * 3);
      for (let k = 0; k < K; k++) wide[k * 3 + 1] = v[k];
      const vS = E.narrow(E.tensor(wide, { shape: [K, 3] }), 1, 1, 1);
      assertClose(await E.matmul(xT, vS).data(), ref1, 1e-5, 1e-5, 'gemv strided');
      // 1-D vector operand (torch.mv semantics) and linear with one output feature and a bias
      assertClose(await E.matmul(x, E.tensor(v)).data(), ref1, 1e-5, 1e-5, 'gemv 1-D');
      const bias = Float32Array.of(0.25);
      assertClose(
        await E.linear(x, E.tensor(v, { shape: [1, K] }), E.tensor(bias)).data(),
        cpuMatmul(A, v, 1, false, false, M, 1, K, bias),
        1e-5,
        1e-5,
        'gemv linear',
      );
      // batch 3 of A against one vector, and K = 9 (not a multiple of 4)
      const A3 = values(3 * M * K, 9);
      assertClose(
        await E.matmul(E.tensor(A3, { shape: [3, M, K] }), E.tensor(v, { shape: [K, 1] })).data(),
        cpuMatmul(A3, v, 3, true, false, M, 1, K),
        1e-5,
        1e-5,
        'gemv batched',
      );
      const a9 = values(M * 9, 10),
        v9 = values(9, 11);
      assertClose(
        await E.matmul(E.tensor(a9, { shape: [M, 9] }), E.tensor(v9, { shape: [9, 1] })).data(),
        cpuMatmul(a9, v9, 1, false, false, M, 1, 9),
        1e-5,
        1e-5,
        'gemv K 9',
      );
      // A column-major with M % 4 == 0: four rows per lane as vec4s, the same bits as the scalar
      // loop (the same A at an odd offset), batched and with a bias
      const m4 = 36,
        A36 = A.subarray(0, m4 * K),
        ref36 = cpuMatmul(A36, v, 1, false, false, m4, 1, K);
      const colA = E.tensor(transposeData(A36, m4, K), { shape: [K, m4] }).T;
      const oddA = E.reshape(E.narrow(E.tensor(Float32Array.of(0, ...transposeData(A36, m4, K))), 0, 1, K * m4), [K, m4]).T;
      const yCol = await E.matmul(colA, vS).data();
      assertClose(yCol, ref36, 1e-5, 1e-5, 'gemv column-major vec4');
      assertClose(yCol, await E.matmul(oddA, vS).data(), 0, 0, 'gemv column-major vec4 vs scalar bits');
      const b36 = Float32Array.of(-0.5);
      assertClose(
        await matmulRaw(colA, E.tensor(v, { shape: [K, 1] }), E.tensor(b36)).data(),
        cpuMatmul(A36, v, 1, false, false, m4, 1, K, b36),
        1e-5,
        1e-5,
        'gemv column-major bias',
      );
      const A3c = values(3 * m4 * K, 12);
      const ref3c = cpuMatmul(A3c, v, 3, true, false, m4, 1, K);
      const t3 = new Float32Array(3 * m4 * K);
      for (let z = 0; z < 3; z++) t3.set(transposeData(A3c.subarray(z * m4 * K, (z + 1) * m4 * K), m4, K), z * m4 * K);
      assertClose(
        await E.matmul(E.transpose(E.tensor(t3, { shape: [3, K, m4] }), 1, 2), E.tensor(v, { shape: [K, 1] })).data(),
        ref3c,
        1e-5,
        1e-5,
        'gemv column-major batched',
      );
    });
  } finally {
    setDispatchHook(null);
  }
  const mm = keys.filter((k) => k.startsWith('matmul'));
  assert.ok(mm.length >= 6 && mm.every((k) => k.startsWith('matmul.gemv:')), `kernels: ${mm.join(', ')}`);
  assert.ok(
    ['true:false:0', 'false:false:0', 'true:true:0', 'true:false:1', 'col4:false:0', 'col4:true:0', 'col4:false:1'].every((c) =>
      mm.includes(`matmul.gemv:${c}`),
    ),
    `kernels: ${[...new Set(mm)].join(', ')}`,
  );
});

t('the default takes the subgroup kernel where the device has subgroups', async () => {
  // Recorded so that a regression to the slower plain default shows up as a failed expectation.
  const sg = subgroupSize();
  const keys: string[] = [];
  setDispatchHook({ passFor: (k) => (keys.push(k.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
  try {
    await E.tidyAsync(async () => void (await E.matmul(E.randn([64, 32]), E.randn([32, 64])).data()));
  } finally {
    setDispatchHook(null);
  }
  const mm = keys.filter((k) => k.startsWith('matmul'));
  assert.is(mm.length, 1);
  assert.is(mm[0].startsWith('matmul.sg:'), sg > 0, `kernel ${mm[0]} with subgroup size ${sg}`);
});

t('WGT_MATMUL_VARIANT forces a tile by name like setMatmulVariant; an unknown name is an error naming the variable', async () => {
  const keys: string[] = [];
  const prev = E.env('WGT_MATMUL_VARIANT');
  setDispatchHook({ passFor: (k) => (keys.push(k.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
  try {
    E.setEnv('WGT_MATMUL_VARIANT', 'wg16x8');
    const y = await E.tidyAsync(async () => E.matmul(E.ones([64, 32]), E.ones([32, 64])).data());
    assert.is(y[0], 32);
    const mm = keys.filter((k) => k.startsWith('matmul'));
    assert.is(mm.length, 1);
    assert.ok(mm[0].includes('16') && mm[0].includes('8') && !mm[0].startsWith('matmul.sg:'), mm[0]);
    E.setEnv('WGT_MATMUL_VARIANT', 'huge');
    assert.throws(() => E.tidy(() => E.matmul(E.ones([4, 4]), E.ones([4, 4]))), /WGT_MATMUL_VARIANT: matmul: unknown variant 'huge'/);
  } finally {
    E.setEnv('WGT_MATMUL_VARIANT', prev);
    setDispatchHook(null);
  }
});

// The layout copies for CPU drivers (matmulRaw): a large row-major B, and a column-major A with a
// long reduction, each read through a transposed copy. Same bits as without, gradients included
// (the backward's own products take the copies too where they qualify), and the copy is made.
for (const [name, m, k, n, aCol] of [
  ['a large row-major B', 520, 512, 12, false],
  ['a column-major A with a long reduction', 256, 1024, 260, true],
] as const)
  t(`${name} read through a transposed copy: same bits, gradients, and the copy is made`, async () => {
    const A = values(m * k, 3),
      Bv = values(k * n, 4);
    const run = async (on: boolean) => {
      setLayoutCopies(on);
      const keys: string[] = [];
      setDispatchHook({ passFor: (kk) => (keys.push(kk.name), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
      try {
        return await E.tidyAsync(async () => {
          const a = (aCol ? E.tensor(transposeData(A, m, k), { shape: [k, m] }) : E.tensor(A, { shape: [m, k] })).requiresGrad_();
          const b = E.tensor(Bv, { shape: [k, n] }).requiresGrad_();
          const y = E.matmul(aCol ? a.T : a, b);
          const fwd = keys.length;
          E.sum(E.mul(y, E.tensor(values(m * n, 5), { shape: [m, n] }))).backward();
          return { y: await y.data(), da: await a.grad!.data(), db: await b.grad!.data(), fwdKeys: keys.slice(0, fwd) };
        });
      } finally {
        setDispatchHook(null);
        setLayoutCopies(null);
      }
    };
    const on = await run(true),
      off = await run(false);
    assertClose(on.y, off.y, 0, 0, 'y');
    assertClose(on.da, off.da, 0, 0, 'dA');
    assertClose(on.db, off.db, 0, 0, 'dB');
    assertClose(on.y, cpuMatmul(A, Bv, 1, false, false, m, n, k), 1e-4, 1e-4, 'y vs float64');
    const copies = (ks: string[]) => ks.some((k) => k === 'ew.copy' || k === 'copy.transpose');
    assert.ok(copies(on.fwdKeys) && !copies(off.fwdKeys), `${on.fwdKeys.join(' ')} | ${off.fwdKeys.join(' ')}`);
  });

// Three batch dims that cannot merge (A broadcast on the middle one, B on the first), operands
// and bias read at offsets: every MatmulParams field reaches each kernel kind.
t('three unmerged batch dims, operands and bias at offsets: tiled, subgroup and gemv kernels', async () => {
  const m = 12,
    k = 8;
  const ref = (a: Float32Array, b: Float32Array, n: number, bias: Float32Array) => {
    const out = new Float64Array(2 * 3 * 4 * m * n);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++)
        for (let l = 0; l < 4; l++) {
          const z = (i * 3 + j) * 4 + l;
          const c = cpuMatmul(a.subarray((i * 4 + l) * m * k), b.subarray((j * 4 + l) * k * n), 1, false, false, m, n, k, bias);
          out.set(c, z * m * n);
        }
    return out;
  };
  for (const [name, n] of [
    [null, 12],
    ['t8x2.wg16x8', 12],
    ['sg.t16x4.wg8', 12],
    [null, 1],
  ] as const) {
    setMatmulVariant(name);
    const keys: string[] = [];
    setDispatchHook({ passFor: (kk) => (keys.push(kk.key), {}), beforeSubmit: () => {}, afterSubmit: () => {} });
    try {
      await E.tidyAsync(async () => {
        const a = values(2 * 4 * m * k, 41),
          b = values(3 * 4 * k * n, 42),
          bias = values(n, 43);
        // offsets 4 and 8 keep the vec4 layouts; the bias at an odd offset
        const A5 = offsetView(a, [2, 1, 4, m, k], 4),
          B5 = offsetView(b, [1, 3, 4, k, n], 8),
          bv = offsetView(bias, [n], 3);
        const y = matmulRaw(A5, B5, bv);
        assert.equal(y.shape, [2, 3, 4, m, n]);
        assertClose(await y.data(), ref(a, b, n, bias), 1e-5, 1e-5, `${name ?? 'default'} N ${n}`);
      });
    } finally {
      setDispatchHook(null);
    }
    const mm = keys.filter((kk) => kk.startsWith('matmul'));
    const kind = n === 1 ? 'matmul.gemv:' : (name ?? 'sg.').startsWith('sg.') && subgroupSize() > 0 ? 'matmul.sg:' : 'matmul:';
    assert.ok(mm.length === 1 && mm[0].startsWith(kind) && /:3(:|$)/.test(mm[0]), `${name}: ${mm.join(', ')}`);
  }
  setMatmulVariant(null);
});

t.run();
