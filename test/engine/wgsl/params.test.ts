// engine/wgsl/params.ts: the packed words land in the WGSL struct fields of the same names (a
// shader copies every field out, for each type and for arrays), and the packer refuses what the
// types cannot hold or the declaration does not name.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { dispatch, type Kernel } from '../../../engine/runtime/dispatch.ts';
import { main1d, storage } from '../../../engine/wgsl/common.ts';
import { paramStruct } from '../../../engine/wgsl/params.ts';
import { throwsWith } from '../../helpers/throws.ts';

const t = suite('wgsl params');
t.before(async () => {
  await E.initDevice();
});

// fields in an order that would expose an off-by-one: types interleaved, an array in the middle
const P = paramStruct('ProbeParams', { a: 'u32', b: 'f32', c: 'i32', arr: ['u32', 3], d: 'f32', e: 'u32' });

const probe: Kernel = {
  name: 'test.params',
  key: 'test.params',
  code: () => `${P.decl}
${storage(1, 'out', 'u32', true)}
${main1d(1)}
  out[0] = ${P.at.a}; out[1] = bitcast<u32>(${P.at.b}); out[2] = bitcast<u32>(${P.at.c});
  out[3] = ${P.at.arr[0]}; out[4] = ${P.at.arr[1]}; out[5] = ${P.at.arr[2]};
  out[6] = bitcast<u32>(${P.at.d}); out[7] = ${P.at.e};
}`,
};

t('every field reaches the shader under its own name', async () => {
  const out = E.zeros([8], 'u32');
  const v = { a: 4000000000, b: -1.5, c: -7, arr: [1, 2, 3], d: 0.1, e: 9 };
  dispatch(probe, [out.storage.buffer], P.pack(v), [1, 1]);
  const got = Array.from((await out.data()) as Uint32Array);
  const f = new Float32Array(1);
  const bits = (x: number) => ((f[0] = x), new Uint32Array(f.buffer)[0]);
  assert.equal(got, [4000000000, bits(-1.5), -7 >>> 0, 1, 2, 3, bits(0.1), 9]);
  out.dispose();
});

t('the struct is padded to 16 bytes and declared once', () => {
  assert.is(P.words, 8); // 8 words, already a multiple of 4
  assert.is(P.pack({ a: 0, b: 0, c: 0, arr: [0, 0, 0], d: 0, e: 0 }).length, 8);
  assert.is(paramStruct('Q', { a: 'u32', b: ['f32', 4] }).words, 8);
  assert.match(P.decl, /struct ProbeParams \{[^}]*arr_2: u32/);
  assert.match(P.decl, /@group\(0\) @binding\(0\) var<uniform> prm_: ProbeParams;/);
});

t('values that do not fit their type are errors naming the struct and the field', () => {
  const ok = { a: 0, b: 0, c: 0, arr: [0, 0, 0], d: 0, e: 0 };
  throwsWith(() => P.pack({ ...ok, a: -1 }), 'ProbeParams', 'a = -1 is not a u32');
  throwsWith(() => P.pack({ ...ok, e: 1.5 }), 'e = 1.5 is not a u32');
  throwsWith(() => P.pack({ ...ok, a: 2 ** 32 }), 'is not a u32');
  throwsWith(() => P.pack({ ...ok, c: 2 ** 31 }), 'c = 2147483648 is not an i32');
  throwsWith(() => P.pack({ ...ok, arr: [0, -2, 0] }), 'arr[1] = -2 is not a u32');
  throwsWith(() => P.pack({ ...ok, arr: [0, 0] }), 'arr must be a list of 3 numbers');
  throwsWith(() => P.pack({ ...ok, e: undefined as unknown as number }), 'e must be a number');
  throwsWith(() => P.pack({ ...ok, z: 1 } as typeof ok), 'unknown parameter z');
  // f32 takes any number, NaN included (kernels test NaN on purpose)
  assert.ok(Number.isNaN(new Float32Array(P.pack({ ...ok, b: NaN }).buffer)[1]));
});

t('declarations are checked', () => {
  throwsWith(() => paramStruct('bad name', { a: 'u32' }), 'not a WGSL identifier');
  throwsWith(() => paramStruct('X', { 'a-b': 'u32' }), "field 'a-b'");
  throwsWith(() => paramStruct('X', {}), 'no fields');
  throwsWith(() => paramStruct('X', { a: ['u32', 65] }), '65 words exceed');
  throwsWith(() => paramStruct('X', { a: ['u32', 0] }), 'length >= 1');
});

t('a missing or misspelt field is a type error', () => {
  // @ts-expect-error: e is missing
  assert.throws(() => P.pack({ a: 0, b: 0, c: 0, arr: [0, 0, 0], d: 0 }), /e must be a number/);
  // @ts-expect-error: an array field given a number
  assert.throws(() => P.pack({ a: 0, b: 0, c: 0, arr: 1, d: 0, e: 0 }), /arr must be a list/);
});

t.run();
