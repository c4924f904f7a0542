// glass/gas.ts: the fused gradient-ascent + truncation kernel against the same update composed
// from engine ops (whose own rules are checked against torch), forward and backward, on the
// scalar rows (D % 4 != 0, or a view starting off a multiple of 4) and the vec4 rows.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../engine/index.ts';
import { gasUpdate, gasUpdatePre, gasHiddenStep } from '../../glass/gas.ts';
import { assertClose, offsetView } from '../helpers/oracle.ts';

const t = suite('fused GAS update vs composed ops');
t.before(async () => {
  await E.initDevice();
});

const STEP = 0.3;
const R = 0.9;
const LO = 1;
const HI = 2;

/** Deterministic data with row norms spread around the truncation bounds. */
function data(n: number, d: number, seed: number, scale: number): Float32Array {
  return Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.77 + seed) * scale * (1 + (((i / d) | 0) % 3)));
}

/** x + step * g / (||g|| + 1e-10), then anchor + clamp(||h||, lo r, hi r) / (||h|| + 1e-10) * h. */
function composed(x: E.Tensor, g: E.Tensor, p: E.Tensor, mask: E.Tensor | null): E.Tensor {
  const asc = E.add(x, E.mul(E.div(g, E.add(E.norm(g, 1, true), 1e-10)), STEP));
  const h = E.sub(asc, p);
  const n = E.norm(h, 1, true);
  const y = E.add(p, E.mul(E.div(E.clamp(n, LO * R, HI * R), E.add(n, 1e-10)), h));
  return mask ? E.where(E.unsqueeze(mask, 1), y, x) : y;
}

/** A leaf requiring grad at offset `off` of a larger buffer, so the aligned and unaligned paths both run. */
const leaf = (values: Float32Array, shape: number[], off: number) => offsetView(values, shape, off, true);

for (const [N, D, off] of [
  [5, 6, 0],
  [7, 8, 0],
  [7, 8, 1],
] as const) {
  for (const masked of [false, true]) {
    t(`N ${N}, D ${D}, offset ${off}${masked ? ', row mask' : ''}: output and gradients towards x and the anchor`, async () => {
      await E.tidyAsync(async () => {
        const shape = [N, D];
        const xv = data(N, D, 1, 0.4);
        const gv = data(N, D, 2, 1.0);
        const pv = data(N, D, 3, 0.2);
        const dy = E.tensor(data(N, D, 4, 1.0), { shape });
        const mk = masked ? E.tensor(Float32Array.from({ length: N }, (_, i) => (i % 3 === 1 ? 0 : 1))) : null;
        const x1 = leaf(xv, shape, off);
        const p1 = leaf(pv, shape, off);
        assert.is(x1.offset, off);
        const fused = gasUpdatePre(x1, {
          grad: E.tensor(gv, { shape }),
          stepSize: STEP,
          anchor: p1,
          radius: E.full([1], R),
          loFactor: LO,
          hiFactor: HI,
          rowMask: mk,
          keepPre: true,
        });
        E.sum(E.mul(fused.y, dy)).backward();
        const x2 = leaf(xv, shape, 0);
        const p2 = leaf(pv, shape, 0);
        const ref = composed(x2, E.tensor(gv, { shape }), p2, mk ? E.ne(mk, 0) : null);
        E.sum(E.mul(ref, dy)).backward();
        assertClose(await fused.y.data(), await ref.data(), 1e-5, 1e-4, 'y');
        assertClose(await x1.grad!.data(), await x2.grad!.data(), 1e-5, 1e-4, 'dx');
        assertClose(await p1.grad!.data(), await p2.grad!.data(), 1e-5, 1e-4, 'danchor');
        // the rows after the ascent, before truncation (GLASS logs their distance as r_g)
        const pre = await fused.pre!.data();
        const asc = await E.add(
          E.tensor(xv, { shape }),
          E.mul(E.div(E.tensor(gv, { shape }), E.add(E.norm(E.tensor(gv, { shape }), 1, true), 1e-10)), STEP),
        ).data();
        for (let r = 0; r < N; r++) {
          const live = !mk || r % 3 !== 1;
          for (let c = 0; c < D; c++) assert.ok(Math.abs(pre[r * D + c] - (live ? asc[r * D + c] : xv[r * D + c])) < 1e-5, `pre row ${r}`);
        }
      });
    });
  }
  t(`N ${N}, D ${D}, offset ${off}: ascent only passes the gradient through`, async () => {
    await E.tidyAsync(async () => {
      const shape = [N, D];
      const xv = data(N, D, 5, 0.4);
      const gv = data(N, D, 6, 1.0);
      const x = leaf(xv, shape, off);
      const y = gasUpdate(x, { grad: E.tensor(gv, { shape }), stepSize: STEP });
      const dy = E.tensor(data(N, D, 7, 1.0), { shape });
      E.sum(E.mul(y, dy)).backward();
      const want = await E.add(
        E.tensor(xv, { shape }),
        E.mul(E.div(E.tensor(gv, { shape }), E.add(E.norm(E.tensor(gv, { shape }), 1, true), 1e-10)), STEP),
      ).data();
      assertClose(await y.data(), want, 1e-6, 1e-5, 'y');
      assertClose(await x.grad!.data(), await dy.data(), 0, 0, 'dx');
    });
  });
}

// The hidden-space step: with q = dh @ W W^T, h + beta q is (gaus + beta g) @ W^T + b and
// acc + beta dh sums the steps, where g = dh @ W and beta = step / (||g|| + 1e-10).
for (const [N, H, D, withAcc] of [
  [37, 12, 20, true],
  [16, 7, 9, false],
  [5, 8, 3, true],
] as const) {
  t(`hidden step N ${N}, H ${H}, D ${D}${withAcc ? ', with a running sum' : ''}: moves h as the feature step moves gaus @ W^T`, () =>
    E.tidyAsync(async () => {
      const W = E.tensor(data(H, D, 11, 0.7), { shape: [H, D] });
      const b = E.tensor(data(1, H, 12, 0.2), { shape: [H] });
      const gaus = E.tensor(data(N, D, 13, 0.5), { shape: [N, D] });
      const dh = E.tensor(data(N, H, 14, 0.9), { shape: [N, H] });
      const acc0 = withAcc ? E.tensor(data(N, H, 15, 0.3), { shape: [N, H] }) : null;
      const lin = (x: E.Tensor) => E.add(E.matmul(x, E.transpose(W, 0, 1)), b);
      const h = lin(gaus);
      const r = gasHiddenStep(h, dh, E.matmul(dh, E.matmul(W, E.transpose(W, 0, 1))), acc0, STEP);
      const g = E.matmul(dh, W);
      const beta = E.div(STEP, E.add(E.norm(g, 1, true), 1e-10));
      assertClose(await r.h.data(), await lin(E.add(gaus, E.mul(g, beta))).data(), 1e-5, 1e-4, 'h');
      const step = E.mul(dh, beta);
      assertClose(await r.acc.data(), await (acc0 ? E.add(acc0, step) : step).data(), 1e-6, 1e-5, 'acc');
      // the sum of steps, mapped through W, is the features' move
      assertClose(await E.matmul(step, W).data(), await E.mul(g, beta).data(), 1e-6, 1e-5, 'acc @ W');
    }),
  );
}
t('keepScale: the truncation factor per row, y = anchor + s (x - anchor), 1 on masked-off rows', () =>
  E.tidyAsync(async () => {
    const [N, D] = [23, 12];
    const x = E.tensor(data(N, D, 21, 0.8), { shape: [N, D] });
    const a = E.tensor(data(N, D, 22, 0.3), { shape: [N, D] });
    const r = E.tensor(Float32Array.of(R), { shape: [1] });
    const mask = E.tensor(
      Float32Array.from({ length: N }, (_, i) => (i % 4 === 3 ? 0 : 1)),
      { shape: [N] },
    );
    const { y, scale } = gasUpdatePre(x, { anchor: a, radius: r, loFactor: LO, hiFactor: HI, keepScale: true, rowMask: mask });
    const n = E.norm(E.sub(x, a), 1, true);
    const want = E.where(E.reshape(E.eq(mask, 0), [N, 1]), E.ones([N, 1]), E.div(E.clamp(n, LO * R, HI * R), E.add(n, 1e-10)));
    assertClose(await scale!.data(), await want.data(), 1e-6, 1e-5, 'scale');
    assertClose(await y.data(), await E.add(a, E.mul(scale!, E.sub(x, a))).data(), 1e-6, 1e-5, 'y from scale');
    assert.ok(
      (await scale!.data()).some((v) => Math.abs(v - 1) > 1e-3),
      'some rows were truncated',
    );
    assert.throws(() => gasUpdatePre(x, { keepScale: true }), /keepScale needs an anchor/);
  }),
);
// A NaN norm (a NaN in q, or an infinity times zero in dh . q) must make the row's step NaN, as
// the feature-space step's norm does: max(NaN, 0) is 0 on lavapipe, which once gave such a row a
// finite step of 0.001 / 1e-10. Other rows are untouched by it. vec4 rows (H 8) and scalar (H 6).
for (const H of [8, 6])
  t(`hidden step H ${H}: a NaN norm gives a NaN row, not a huge finite step`, () =>
    E.tidyAsync(async () => {
      const N = 4;
      const hv = data(N, H, 31, 0.5),
        dhv = data(N, H, 32, 0.9),
        qv = data(N, H, 33, 0.7),
        av = data(N, H, 34, 0.3);
      qv[1 * H + 2] = NaN; // row 1: dh . q is NaN
      dhv[2 * H + 3] = Infinity; // row 2: inf * 0 is NaN
      qv[2 * H + 3] = 0;
      const T = (v: Float32Array) => E.tensor(v, { shape: [N, H] });
      const r = gasHiddenStep(T(hv), T(dhv), T(qv), T(av), STEP);
      const [h, acc] = [await r.h.data(), await r.acc.data()];
      for (const row of [1, 2])
        for (let d = 0; d < H; d++) {
          assert.ok(Number.isNaN(h[row * H + d]), `h row ${row} col ${d}: ${h[row * H + d]}`);
          assert.ok(Number.isNaN(acc[row * H + d]), `acc row ${row} col ${d}: ${acc[row * H + d]}`);
        }
      for (const row of [0, 3]) {
        let gg = 0;
        for (let d = 0; d < H; d++) gg += dhv[row * H + d] * qv[row * H + d];
        const beta = STEP / (Math.sqrt(gg) + 1e-10);
        for (let d = 0; d < H; d++) {
          const i = row * H + d;
          assert.ok(Math.abs(h[i] - (hv[i] + beta * qv[i])) < 1e-5, `h row ${row}`);
          assert.ok(Math.abs(acc[i] - (av[i] + beta * dhv[i])) < 1e-5, `acc row ${row}`);
        }
      }
    }),
  );
t('hidden step: mismatched operands are an error naming them', () =>
  E.tidy(() => {
    assert.throws(() => gasHiddenStep(E.zeros([4, 8]), E.zeros([4, 8]), E.zeros([4, 7]), null), /gasHiddenStep: operand 2 \[4,7\] does not match h \[4, 8\]/);
  }),
);

t.run();
