// Tensors larger than one storage binding (issue 17, item 5) and invalid shapes given to creation
// and view ops (item 8). The binding limit is lowered with setBindingLimit, so that kilobytes
// stand for lavapipe's 128 MiB: each error must name the public op, the shapes and dtypes, the
// bytes and the limit, and say how to avoid it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';

const LIMIT = 64 * 1024;

/** Runs `fn` with the binding limit lowered to `bytes`, restoring the previous one after. */
function withLimit<T>(bytes: number, fn: () => T): T {
  const prev = E.setBindingLimit(bytes);
  try {
    return fn();
  } finally {
    E.setBindingLimit(prev);
  }
}

/** The message of the error `fn` throws; fails the test when it does not throw. */
function message(fn: () => unknown): string {
  try {
    E.tidy(() => {
      fn();
    });
  } catch (err) {
    return (err as Error).message;
  }
  assert.unreachable('expected an error');
  return '';
}

/** The parts every binding-limit error carries: bytes, the limit and its source, the advice. */
function assertLimitParts(msg: string, bytes: number): void {
  assert.ok(msg.includes(`needs ${bytes} bytes`), msg);
  assert.ok(msg.includes(`${LIMIT} bytes`) && msg.includes('set by setBindingLimit'), msg);
  assert.match(msg, /To avoid it, work in chunks along a dim/);
}

const keepAll = (f: () => E.Tensor[]) => E.tidy(() => f().map((t) => E.keep(t)));

const lim = suite('storage binding limit');
lim.before(async () => {
  await E.initDevice();
});

lim('setBindingLimit lowers the limit the engine enforces, never above the adapter; null restores it', () => {
  const adapter = E.deviceInfo().limits.maxStorageBufferBindingSize;
  assert.is(E.maxBindingBytes(), adapter);
  withLimit(LIMIT, () => assert.is(E.maxBindingBytes(), LIMIT));
  assert.is(E.maxBindingBytes(), adapter);
  withLimit(adapter * 2, () => assert.is(E.maxBindingBytes(), adapter));
  assert.throws(() => E.setBindingLimit(1000.5), /setBindingLimit: expected a whole number/);
  assert.throws(() => E.setBindingLimit(0), /setBindingLimit/);
});

lim('cat names itself, its inputs, the result and how many entries of the joined dim fit', () => {
  const parts = keepAll(() => [E.zeros([100, 64]), E.zeros([100, 64]), E.zeros([60, 64], 'i32')]);
  const msg = withLimit(LIMIT, () => message(() => E.cat(parts, 0)));
  assert.match(msg, /^cat: joining 3 tensors along dim 0 \(f32 \[100, 64\] x2, i32 \[60, 64\]\) into f32 \[260, 64\] /);
  assertLimitParts(msg, 260 * 64 * 4);
  assert.ok(msg.includes('at most 256 of the 260 entries of dim 0 of [260, 64]'), msg);
  // along dim 1 the advice is about dim 1
  const msg1 = withLimit(LIMIT, () => message(() => E.cat([parts[0], parts[1], parts[0]], 1)));
  assert.match(msg1, /^cat: joining 3 tensors along dim 1 \(f32 \[100, 64\] x3\) into f32 \[100, 192\] /);
  assert.ok(msg1.includes('of dim 1 of [100, 192]'), msg1);
  // the same join under the limit works
  withLimit(LIMIT, () => E.tidy(() => assert.equal(E.cat(parts.slice(0, 2), 0).shape, [200, 64])));
  parts.forEach((t) => t.dispose());
});

lim('stack and pad, which join through cat, name themselves', () => {
  const parts = keepAll(() => [E.zeros([100, 64]), E.zeros([100, 64]), E.zeros([100, 64])]);
  const st = withLimit(LIMIT, () => message(() => E.stack(parts, 0)));
  assert.match(st, /^stack: joining 3 tensors along dim 0 \(f32 \[100, 64\] x3\) into f32 \[3, 100, 64\] /);
  assertLimitParts(st, 3 * 100 * 64 * 4);
  const pd = withLimit(LIMIT, () => message(() => E.pad(parts[0], [100, 100], { mode: 'replicate' })));
  assert.match(pd, /^pad: joining 3 tensors along dim 1 .* into f32 \[100, 264\] /);
  parts.forEach((t) => t.dispose());
});

lim('matmul names its operands and the product, as a function and as a method', () => {
  const [a, b] = keepAll(() => [E.zeros([100, 64]), E.zeros([64, 200])]);
  for (const msg of [withLimit(LIMIT, () => message(() => E.matmul(a, b))), withLimit(LIMIT, () => message(() => a.matmul(b)))]) {
    assert.match(msg, /^matmul: f32 \[100, 64\] @ f32 \[64, 200\] = f32 \[100, 200\] /);
    assertLimitParts(msg, 100 * 200 * 4);
  }
  a.dispose();
  b.dispose();
});

lim('any other op names itself and the tensor it could not allocate', () => {
  const [col, row] = keepAll(() => [E.zeros([300, 1]), E.zeros([1, 300])]);
  const msg = withLimit(LIMIT, () => message(() => E.add(col, row)));
  assert.match(msg, /^add: a f32 tensor of shape \[300, 300\] /);
  assertLimitParts(msg, 300 * 300 * 4);
  assert.ok(msg.includes('at most 54 of the 300 entries of dim 0'), msg);
  const cr = withLimit(LIMIT, () => message(() => E.randn([300, 300])));
  assert.match(cr, /^randn: a f32 tensor of shape \[300, 300\] /);
  col.dispose();
  row.dispose();
});

lim('an allocation in a backward pass is named as such', () => {
  // the forward pass runs under the adapter's limit, the backward pass under the lowered one
  // in a tidy: the failed backward leaves the graph's saved tensors and partial gradients behind
  const msg = E.tidy(() => {
    const x = E.randn([200, 100]).requiresGrad_();
    const loss = E.sum(E.mul(x, x));
    return withLimit(LIMIT, () => message(() => loss.backward()));
  });
  // the rule of mul allocates d(x*x)/dx = 2x: named by the op the rule called
  assert.match(msg, /^mul \(in backward\): a f32 tensor of shape \[200, 100\] needs 80000 bytes/);
});

lim('a buffer made before the limit was lowered cannot be bound past it', async () => {
  const big = E.keep(E.ones([200, 100]));
  const msg = withLimit(LIMIT, () => message(() => E.sum(big)));
  assert.match(msg, /^sum: kernel [\w.]+ binds a buffer of \d+ bytes \(binding \d\), more than one storage binding holds: 65536 bytes/);
  // and binds again once the limit is back
  const s = E.sum(big);
  assert.is(await s.item(), 20000);
  s.dispose();
  big.dispose();
});

lim('a limit that is not a multiple of the pool buckets still binds tensors just under it', async () => {
  // 69996 bytes: the pool's buckets (and 256-byte rounding) would make a 70144-byte buffer
  const msg = await withLimit(70000, async () => {
    const t = E.keep(E.full([17499], 2));
    const s = E.keep(E.mul(t, 3));
    const v = await s.data();
    t.dispose();
    s.dispose();
    return `${v.length} ${v[0]} ${v[17498]}`;
  });
  assert.is(msg, '17499 6 6');
});

lim.run();

const shapes = suite('shape validation');
shapes.before(async () => {
  await E.initDevice();
});

const BAD: [number[], RegExp][] = [
  [[-1, 3], /invalid shape \[-1, 3\]: size -1 of dim 0 is negative; sizes must be integers >= 0/],
  [[2, 1.5], /invalid shape \[2, 1.5\]: size 1.5 of dim 1 is not an integer/],
  [[NaN, 3], /invalid shape \[NaN, 3\]: size NaN of dim 0 is NaN/],
  [[Infinity], /invalid shape \[Infinity\]: size Infinity of dim 0 is not finite/],
  [[3, -0.5], /size -0.5 of dim 1 is not an integer/],
];

const creators: Record<string, (s: number[]) => E.Tensor> = {
  zeros: (s) => E.zeros(s),
  ones: (s) => E.ones(s, 'i32'),
  full: (s) => E.full(s, 7),
  rand: (s) => E.rand(s),
  randn: (s) => E.randn(s),
  'Tensor.empty': (s) => E.Tensor.empty(s),
  // the shape is checked before the values are counted
  tensor: (s) => E.tensor(new Float32Array(3), { shape: s }),
};

for (const [op, make] of Object.entries(creators)) {
  shapes(`${op} rejects negative, fractional, NaN and infinite sizes, naming itself and the shape`, () => {
    for (const [shape, re] of BAD) {
      const msg = message(() => make(shape));
      assert.ok(msg.startsWith(`${op}: `), `${op}(${JSON.stringify(shape)}): ${msg}`);
      assert.match(msg, re);
    }
  });
}

shapes('tensor(data, { shape }) rejects a negative shape whose product matches the data', () => {
  assert.throws(() => E.tensor([1, 2, 3, 4], { shape: [-2, -2] }), /^tensor: invalid shape \[-2, -2\]: size -2 of dim 0 is negative/);
});

shapes('size-0 dims are allowed, as in torch', async () => {
  await E.tidyAsync(async () => {
    for (const t of [E.zeros([0, 3]), E.ones([2, 0]), E.randn([0]), E.rand([3, 0, 2]), E.full([0], 1), E.tensor([], { shape: [0, 4] })]) {
      assert.is(t.size, 0);
      assert.is((await t.data()).length, 0);
    }
  });
});

shapes('a shape that is not an array is named', () => {
  assert.throws(() => E.zeros(3 as unknown as number[]), /^zeros: expected a shape as an array of sizes, e.g. \[2, 3\]; got 3/);
});

shapes('arange rejects non-finite bounds and steps', () => {
  assert.throws(() => E.arange(0, Infinity), /^arange: start, end and step must be finite numbers, got \(0, Infinity, 1\)/);
  assert.throws(() => E.arange(NaN), /^arange: start, end and step must be finite/);
  assert.throws(() => E.arange(0, 4, NaN), /^arange: start, end and step must be finite/);
});

shapes('reshape and view reject fractional, NaN and negative sizes other than -1, naming the size', () => {
  const x = E.keep(E.zeros([6]));
  assert.throws(() => E.reshape(x, [1.5, 4]), /^reshape: cannot reshape \[6\] to \[1.5, 4\]: size 1.5 of dim 0 is not an integer/);
  assert.throws(() => x.view(2, 1.5, 2), /^view: cannot reshape \[6\] to \[2, 1.5, 2\]: size 1.5 of dim 1 is not an integer/);
  assert.throws(() => E.reshape(x, [-1, 1.5]), /size 1.5 of dim 1 is not an integer/);
  assert.throws(() => E.reshape(x, [NaN, 6]), /size NaN of dim 0 is NaN/);
  assert.throws(() => E.reshape(x, [-2, -3]), /size -2 of dim 0 is negative; sizes must be integers >= 0, or -1 for one inferred dim/);
  // -1 still infers
  E.tidy(() => assert.equal(E.reshape(x, [-1, 2]).shape, [3, 2]));
  x.dispose();
});

shapes('expand, slice and select reject fractional sizes and indices', () => {
  const x = E.keep(E.zeros([1, 6]));
  assert.throws(() => E.expand(x, [1.5, 6]), /^expand: invalid size 1.5 of dim 0 in \[1.5, 6\]/);
  assert.throws(() => E.slice(x, 1, 0.5), /^slice: start and end must be integers, got 0.5/);
  assert.throws(() => E.slice(x, 1, 0, 2.5), /^slice: start and end must be integers/);
  assert.throws(() => E.select(x, 1, 1.5), /^select: index must be an integer, got 1.5/);
  // Python-style open bounds still work
  E.tidy(() => assert.equal(E.slice(x, 1, 2, Infinity).shape, [1, 4]));
  E.tidy(() => assert.equal(E.expand(x, [3, -1]).shape, [3, 6]));
  x.dispose();
});

shapes.run();
