// The dispatch runtime's bind group cache (engine/runtime/dispatch.ts): dispatches of the same bindings
// reuse one bind group, each still reads its own parameter slot (a dynamic offset), kernels with
// the same binding signature share layouts, and a different buffer is a different bind group.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { dispatch, runtimeStats } from '../../../engine/runtime/dispatch.ts';
import { storage } from '../../../engine/wgsl/common.ts';
import { paramStruct } from '../../../engine/wgsl/params.ts';

const PokeParams = paramStruct('PokeParams', { index: 'u32', value: 'f32' });

const t = suite('dispatch runtime');
t.before(async () => {
  await E.initDevice();
});

// writes the f32 parameter 1 into Out[parameter 0]; `tag` only changes the source (another pipeline)
const poke = (tag: string) => ({
  name: 'test.poke',
  key: `test.poke:${tag}`,
  code: () => `${PokeParams.decl}
${storage(1, 'Out', 'f32', true)}
@compute @workgroup_size(1)
fn main() { Out[${PokeParams.at.index}] = ${PokeParams.at.value}; // ${tag}
}`,
});

t('repeated bindings reuse one bind group, and every dispatch reads its own parameters', async () => {
  // (pooled buffers may carry bind groups from earlier tests: at most one miss each)
  const out = E.keep(E.tensor(new Float32Array(8)));
  const other = E.keep(E.tensor(new Float32Array(8)));
  const s0 = runtimeStats();
  // eight dispatches in one batch: same kernel, same buffer, different parameter slots
  for (let i = 0; i < 8; i++) dispatch(poke('a'), [out.storage.buffer], PokeParams.pack({ index: out.offset + i, value: 10 + i }), [1]);
  const s1 = runtimeStats();
  assert.ok(s1.bindGroupHits - s0.bindGroupHits >= 7, `hits ${s1.bindGroupHits - s0.bindGroupHits}`);
  assert.ok(s1.bindGroupMisses - s0.bindGroupMisses <= 1, `misses ${s1.bindGroupMisses - s0.bindGroupMisses}`);
  // another kernel with the same signature shares the bind group; another buffer gets its own
  // (its values below land in it, not in out)
  dispatch(poke('b'), [out.storage.buffer], PokeParams.pack({ index: out.offset, value: -1 }), [1]);
  const s2 = runtimeStats();
  assert.is(s2.bindGroupHits - s1.bindGroupHits, 1, 'same signature, same buffers');
  for (let i = 0; i < 8; i++) dispatch(poke('a'), [other.storage.buffer], PokeParams.pack({ index: other.offset + i, value: 20 + i }), [1]);
  const s3 = runtimeStats();
  assert.ok(other.storage.buffer !== out.storage.buffer);
  assert.ok(s3.bindGroupHits - s2.bindGroupHits >= 7 && s3.bindGroupMisses - s2.bindGroupMisses <= 1);
  assert.equal([...(await out.data())], [-1, 11, 12, 13, 14, 15, 16, 17]);
  assert.equal([...(await other.data())], [20, 21, 22, 23, 24, 25, 26, 27]);
  out.dispose();
  other.dispose();
});

t('parameters stay right across batches (the arena alternates buffers between submits)', async () => {
  const out = E.keep(E.tensor(new Float32Array(4)));
  for (let i = 0; i < 4; i++) {
    dispatch(poke('a'), [out.storage.buffer], PokeParams.pack({ index: out.offset + i, value: 100 + i }), [1]);
    E.flush();
  }
  assert.equal([...(await out.data())], [100, 101, 102, 103]);
  out.dispose();
});

t.run();
