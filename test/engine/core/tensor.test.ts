// Tensor basics: creation, dtypes, views sharing storage, readback, formatting, seeded RNG,
// device info, and errors that name the op and the shapes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';

const t = suite('tensor');
t.before(async () => {
  await E.initDevice();
});

t('creation from nested and typed arrays, with dtypes', async () => {
  const a = E.tensor([
    [1, 2],
    [3, 4],
  ]);
  assert.equal(a.shape, [2, 2]);
  assert.is(a.dtype, 'f32');
  assert.equal(await a.toArray(), [
    [1, 2],
    [3, 4],
  ]);
  const i = E.tensor(Int32Array.from([5, -6, 7]));
  assert.is(i.dtype, 'i32');
  assert.equal([...(await i.data())], [5, -6, 7]);
  const b = E.tensor([true, false, true]);
  assert.is(b.dtype, 'bool');
  assert.equal(await b.toArray(), [true, false, true]);
  const s = E.tensor(3.5);
  assert.equal(s.shape, []);
  assert.is(await s.item(), 3.5);
  assert.throws(() => E.tensor([[1, 2], [3]]), /ragged/);
  assert.throws(() => E.tensor([1, 2, 3], { shape: [2, 2] }), /3 values do not fill shape \[2, 2\]/);
});

t('full, zeros, ones, arange', async () => {
  assert.equal([...(await E.full([2, 3], 1.5).data())], [1.5, 1.5, 1.5, 1.5, 1.5, 1.5]);
  assert.equal([...(await E.zeros([3], 'i32').data())], [0, 0, 0]);
  assert.equal([...(await E.arange(5).data())], [0, 1, 2, 3, 4]);
  assert.is(E.arange(5).dtype, 'i32');
  const f = await E.arange(0, 1, 0.25).data();
  assert.equal([...f], [0, 0.25, 0.5, 0.75]);
  assert.equal(E.arange(2, 2).shape, [0]);
});

t('views share storage; contiguous copies strided data', async () => {
  const a = E.reshape(E.arange(0, 12, 1, 'f32'), [3, 4]);
  const tr = a.T;
  assert.is(tr.storage, a.storage);
  assert.equal(tr.strides, [1, 4]);
  assert.not.ok(tr.isContiguous());
  assert.equal(await tr.toArray(), [
    [0, 4, 8],
    [1, 5, 9],
    [2, 6, 10],
    [3, 7, 11],
  ]);
  const c = tr.contiguous();
  assert.is.not(c.storage, a.storage);
  assert.ok(c.isContiguous());
  const v = E.reshape(a, [2, 6]);
  assert.is(v.storage, a.storage, 'reshape of contiguous data is a view');
  const r = E.reshape(tr, [12]);
  assert.is.not(r.storage, a.storage, 'reshape of a transposed view copies');
  assert.equal([...(await r.data())], [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  const sl = E.slice(a, 1, 1, 4, 2);
  assert.equal(await sl.toArray(), [
    [1, 3],
    [5, 7],
    [9, 11],
  ]);
  assert.equal(await E.slice(a, 0, -1).toArray(), [[8, 9, 10, 11]]);
  const ex = E.expand(E.tensor([[1], [2]]), [2, 3]);
  assert.equal(ex.strides, [1, 0]);
  assert.equal(await ex.toArray(), [
    [1, 1, 1],
    [2, 2, 2],
  ]);
  assert.throws(() => E.view(tr, [12]), /view: size \[12\] is not compatible/);
  assert.equal(E.flatten(E.zeros([2, 3, 4]), 1).shape, [2, 12]);
  assert.equal(E.unsqueeze(E.zeros([2, 3]), -1).shape, [2, 3, 1]);
  assert.equal(E.squeeze(E.zeros([1, 2, 1])).shape, [2]);
});

t('assign writes into a view', async () => {
  const z = E.zeros([3, 4]);
  E.assign(
    E.slice(z, 1, 1, 3),
    E.tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ]),
  );
  assert.equal(await z.toArray(), [
    [0, 1, 2, 0],
    [0, 3, 4, 0],
    [0, 5, 6, 0],
  ]);
});

t('casts and integer arithmetic', async () => {
  const f = E.tensor([1.7, -1.7, 0]);
  assert.equal([...(await E.cast(f, 'i32').data())], [1, -1, 0]);
  assert.equal(await E.cast(f, 'bool').toArray(), [true, true, false]);
  const i = E.tensor(Int32Array.from([7, -3]));
  assert.equal([...(await E.add(i, 2).data())], [9, -1]);
  assert.is(E.add(i, 2).dtype, 'i32');
  assert.is(E.add(i, 0.5).dtype, 'f32', 'int + float scalar promotes');
  assert.equal([...(await E.div(i, 2).data())], [3.5, -1.5], 'true division');
  assert.equal([...(await E.sum(E.tensor([true, true, false])).data())], [2]);
});

t('readable formatting', async () => {
  const a = E.tensor([
    [1, 2],
    [3, 4],
  ]);
  assert.is(String(a), 'Tensor(shape=[2, 2], dtype=f32)');
  assert.is(await a.format(), 'tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]], shape=[2, 2], dtype=f32)');
  const long = await E.arange(10).format();
  assert.match(long, /\[0, 1, 2, \.\.\., 7, 8, 9\]/);
});

t('seeded Philox rand/randn: reproducible, independent of batching, right moments', async () => {
  E.manualSeed(1234);
  const a = await E.randn([1000]).data();
  const b = await E.rand([7]).data();
  E.manualSeed(1234);
  const a2 = await E.randn([1000]).data();
  assert.equal([...a2], [...a]);
  const b2 = await E.rand([7]).data();
  assert.equal([...b2], [...b], 'the counter advances the same way');
  E.manualSeed(99);
  const big = E.randn([200000], 2, 3);
  const m = await E.mean(big).item();
  const s = await E.std(big).item();
  assert.ok(Math.abs(m - 2) < 0.03, `mean ${m}`);
  assert.ok(Math.abs(s - 3) < 0.03, `std ${s}`);
  const u = E.rand([200000], -1, 1);
  assert.ok((await E.min(u).item()) >= -1 && (await E.max(u).item()) < 1);
  assert.ok(Math.abs(await E.mean(u).item()) < 0.01);
});

t('errors name the op and shapes', () => {
  assert.throws(() => E.add(E.zeros([2, 3]), E.zeros([4])), /add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
  assert.throws(() => E.matmul(E.zeros([2, 3]), E.zeros([4, 5])), /matmul: shapes \[2, 3\] and \[4, 5\] cannot be multiplied/);
  assert.throws(() => E.sum(E.zeros([2, 3]), 2), /sum: dim 2 out of range for a tensor of rank 2/);
  assert.throws(() => E.reshape(E.zeros([2, 3]), [4, 2]), /reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4, 2\]/);
  assert.throws(() => E.permute(E.zeros([2, 3]), [0]), /permute: 1 dims given for a tensor of rank 2/);
  assert.throws(() => E.expand(E.zeros([2, 3]), [4, 3]), /expand: cannot expand \[2, 3\] to \[4, 3\]/);
  assert.throws(() => E.linear(E.zeros([2, 3]), E.zeros([4, 5])), /linear: input \[2, 3\] has 3 features, weight \[4, 5\] expects 5/);
  const d = E.zeros([2]);
  d.dispose();
  assert.throws(() => E.add(d, 1), /add: tensor \[2\] \(id \d+\) was disposed/);
});

t('device info and GPU validation errors surface with the kernel name', async () => {
  const info = E.deviceInfo();
  assert.type(info.description, 'string');
  assert.ok(info.limits.maxStorageBufferBindingSize >= 128 * 1024 * 1024);
  const { dispatch } = await import('../../../engine/runtime/dispatch.ts');
  const bad = { name: 'test.broken', key: 'test.broken', code: () => '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }' };
  const out = E.zeros([1]);
  dispatch(bad, [], null, [1]);
  let message = '';
  try {
    await out.data();
  } catch (err) {
    message = (err as Error).message;
  }
  assert.match(message, /WebGPU validation error in a batch of kernels \[[^\]]*test\.broken/);
  assert.match(message, /cannot|error/);
  // the engine keeps working after the error
  assert.equal([...(await E.add(E.ones([2]), 1).data())], [2, 2]);
});

t.run();
