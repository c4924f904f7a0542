// engine/kernels.ts, the public custom-kernel API, used the way an application uses it: only
// through `E.kernels` and the public index. The header's example runs as written; custom
// dispatches share the engine's batches with built-in ops (recorded in order, one submit); a
// custom op records its backward with E.record, checked by finite differences; the WGSL helpers
// (isNan, UDIVF) and the parameter packer's checks behave as documented.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../engine/index.ts';
import { gradcheck, assertClose } from '../helpers/oracle.ts';

const { dispatch, paramStruct, storage, main1d, grid1d, isNan, UDIVF } = E.kernels;
type Kernel = E.kernels.Kernel;

// ---- the header's example, verbatim ----
const P = paramStruct('ScaleParams', { n: 'u32', k: 'f32' });
const scale: Kernel = {
  name: 'my.scale',
  key: 'my.scale',
  code: () => `${P.decl}
${storage(1, 'x', 'f32')} ${storage(2, 'out', 'f32', true)}
${main1d()} if (gi >= ${P.at.n}) { return; } out[gi] = x[gi] * ${P.at.k}; }`,
};

/** The example as a function (x dense, at offset 0, as the example assumes). */
function scaleBy(x: E.Tensor, k: number): E.Tensor {
  const out = E.Tensor.empty(x.shape, 'f32');
  dispatch(scale, [x.storage.buffer, out.storage.buffer], P.pack({ n: x.size, k }), grid1d(x.size));
  return out;
}

// ---- a differentiable custom op: y = k x^2, dy/dx = 2 k x, any view of x ----
const SquareParams = paramStruct('SquareParams', { n: 'u32', k: 'f32', xOffset: 'u32', gOffset: 'u32' });
const squareKernel = (backward: boolean): Kernel => ({
  name: backward ? 'test.square.grad' : 'test.square',
  key: `test.square:${backward}`,
  code: () => `${SquareParams.decl}
${storage(1, 'x', 'f32')}
${backward ? storage(2, 'g', 'f32') : ''}
${storage(3, 'out', 'f32', true)}
${main1d()}
  if (gi >= ${SquareParams.at.n}) { return; }
  let v = x[${SquareParams.at.xOffset} + gi];
  out[gi] = ${backward ? `2.0 * ${SquareParams.at.k} * v * g[${SquareParams.at.gOffset} + gi]` : `${SquareParams.at.k} * v * v`};
}`,
});

function scaledSquare(x: E.Tensor, k: number): E.Tensor {
  const xc = E.contiguous(x);
  const out = E.Tensor.empty(x.shape, 'f32');
  dispatch(
    squareKernel(false),
    [xc.storage.buffer, null, out.storage.buffer],
    SquareParams.pack({ n: x.size, k, xOffset: xc.offset, gOffset: 0 }),
    grid1d(x.size),
  );
  const res = E.record(
    out,
    'test.scaledSquare',
    [x],
    (g, needs, [xs]) => {
      if (!needs[0]) return [null];
      const gc = E.contiguous(g);
      const gx = E.Tensor.empty(xs.shape, 'f32');
      dispatch(
        squareKernel(true),
        [xs.storage.buffer, gc.storage.buffer, gx.storage.buffer],
        SquareParams.pack({ n: xs.size, k, xOffset: xs.offset, gOffset: gc.offset }),
        grid1d(xs.size),
      );
      return [gx];
    },
    [xc],
  );
  if (xc !== x) xc.dispose(); // the record keeps what it saved
  return res;
}

const t = suite('E.kernels: custom kernels');
t.before(async () => {
  await E.initDevice();
});

t("the header's example runs", () =>
  E.tidyAsync(async () => {
    const x = E.tensor(Float32Array.from({ length: 1000 }, (_, i) => i - 300.5));
    assertClose(
      await scaleBy(x, 2).data(),
      Float32Array.from({ length: 1000 }, (_, i) => 2 * (i - 300.5)),
      0,
      0,
      'x * 2',
    );
  }),
);

t('custom dispatches batch with built-in ops: in order, one submit for the chain', () =>
  E.tidyAsync(async () => {
    const x = E.tensor(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)));
    await E.sync();
    const before = E.runtimeStats();
    // built-in -> custom -> built-in -> custom, read once
    const y = scaleBy(E.mul(scaleBy(E.add(x, 1), 3), -0.5), 4);
    const got = await y.data();
    const after = E.runtimeStats();
    assert.is(after.dispatches - before.dispatches, 4);
    assert.is(after.submits - before.submits, 1, 'the four dispatches went to the device in one batch');
    const want = Float32Array.from({ length: 64 }, (_, i) => Math.fround(Math.fround(Math.fround(Math.fround(Math.sin(i)) + 1) * 3) * -0.5) * 4);
    assertClose(got, want, 0, 0, 'value of the chain');
  }),
);

t('a custom op records its backward with E.record: analytic and finite-difference gradients agree', async () => {
  await gradcheck(([x]) => scaledSquare(x, 1.5), [{ shape: [5, 7] }]);
  // through a view at an offset, composed with built-in ops on both sides
  await gradcheck(([x, w]) => E.mul(scaledSquare(E.slice(E.add(x, w), 0, 1, 4), -0.75), E.slice(w, 0, 0, 3)), [{ shape: [4, 6] }, { shape: [4, 6] }], {
    seed: 3,
  });
  await E.tidyAsync(async () => {
    const x = E.tensor(Float32Array.of(1, -2, 3), { requiresGrad: true });
    const [g] = E.grad(E.sum(scaledSquare(x, 2)), [x]);
    assertClose(await g!.data(), Float32Array.of(4, -8, 12), 0, 0, 'd(2 x^2)/dx = 4 x');
  });
});

t('isNan and UDIVF are usable in custom WGSL', () =>
  E.tidyAsync(async () => {
    const Q = paramStruct('HelperParams', { n: 'u32', d: 'u32', invD: 'f32' });
    const k: Kernel = {
      name: 'test.helpers',
      key: 'test.helpers',
      code: () => `${Q.decl}
${storage(1, 'x', 'f32')}
${storage(2, 'nan', 'u32', true)}
${storage(3, 'quot', 'u32', true)}
${UDIVF}
${main1d()}
  if (gi >= ${Q.at.n}) { return; }
  nan[gi] = select(0u, 1u, ${isNan('x[gi]')});
  quot[gi] = udivf(gi * 37u, ${Q.at.d}, ${Q.at.invD});
}`,
    };
    const vals = [0, NaN, Infinity, -Infinity, -0, 1e-40, NaN, 3];
    const n = 4096;
    const x = E.tensor(Float32Array.from({ length: n }, (_, i) => vals[i % vals.length]));
    const nan = E.Tensor.empty([n], 'u32');
    const quot = E.Tensor.empty([n], 'u32');
    const d = 13;
    dispatch(k, [x.storage.buffer, nan.storage.buffer, quot.storage.buffer], Q.pack({ n, d, invD: Math.fround(1 / d) }), grid1d(n));
    const [isn, q] = [await nan.data(), await quot.data()];
    for (let i = 0; i < n; i++) {
      assert.is(isn[i], Number.isNaN(vals[i % vals.length]) ? 1 : 0, `isNan(${vals[i % vals.length]})`);
      assert.is(q[i], Math.floor((i * 37) / d), `udivf(${i * 37}, ${d})`);
    }
  }),
);

t('the packer checks values against the declared fields', () => {
  assert.throws(() => P.pack({ n: -1, k: 2 }), /ScaleParams: parameter n = -1 is not a u32/);
  assert.throws(() => P.pack({ n: 1.5, k: 2 }), /ScaleParams: parameter n = 1.5 is not a u32/);
  assert.throws(() => P.pack({ n: 1, k: 2, extra: 3 } as never), /ScaleParams: unknown parameter extra/);
  assert.equal([...new Float32Array(P.pack({ n: 3, k: 0.5 }).buffer)].slice(1, 2), [0.5]);
});

t.run();
