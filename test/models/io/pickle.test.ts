// The safe unpickler against pickles written by CPython (protocols 0-4), and its refusals:
// os.system via GLOBAL, STACK_GLOBAL and INST, unsupported opcodes, truncation.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PyFunction, Unpickler, pyAttributes, unpickle, type UnpickleOptions } from '../../../models/io/pickle.ts';
import { errorOf, readJson } from './util.ts';

const test = suite('models/io/pickle');
const data = readJson('pickles.json');
const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

/** Python 3 writes bytes as _codecs.encode and sets as builtins.set below protocols 3/4. */
const allow: UnpickleOptions = {
  label: 'test',
  findGlobal: (m, n) => {
    if (m === '_codecs' && n === 'encode') return new PyFunction('_codecs.encode', (a) => Uint8Array.from(String(a[0]), (c) => c.charCodeAt(0)));
    if ((m === 'builtins' || m === '__builtin__') && n === 'set') return new PyFunction('set', (a) => new Set(a[0] as unknown[]));
    return undefined;
  },
};

/** The tagged JSON form models.py wrote (see enc() there). */
function enc(v: unknown): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return { int: v.toString() };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(enc);
  if (v instanceof Map) return { dict: [...v].map(([k, x]) => [enc(k), enc(x)]) };
  if (v instanceof Set) return { set: [...v].map(enc).sort() };
  throw new Error(`unexpected ${String(v)}`);
}

for (const p of data.pickles) {
  test(`protocol ${p.protocol} pickle decodes to the same value`, () => {
    const v = unpickle(b64(p.b64), allow);
    assert.equal(enc(v), data.value);
    // The memo must give back the same object, as Python does.
    const shared = (v as Map<string, unknown[]>).get('shared')!;
    assert.ok(shared[0] === shared[1], 'memoised list is one object');
  });
}

for (const e of data.evil) {
  test(`os.system pickle (protocol ${e.protocol}) is refused by name`, () => {
    const msg = errorOf(() => unpickle(b64(e.b64), allow));
    assert.match(msg, new RegExp(`refusing global ${data.evil_global.replace('.', '\\.')}: not on the allowlist, never executed`));
  });
}

test('INST and STACK_GLOBAL go through the allowlist too', () => {
  const inst = new TextEncoder().encode("(S'echo hi'\nios\nsystem\n.");
  assert.match(
    errorOf(() => unpickle(inst, allow)),
    /refusing global os\.system/,
  );
  const sg = new Uint8Array([0x80, 4, 0x8c, 8, ...new TextEncoder().encode('builtins'), 0x8c, 4, ...new TextEncoder().encode('eval'), 0x93, 0x2e]);
  assert.match(
    errorOf(() => unpickle(sg, allow)),
    /refusing global builtins\.eval/,
  );
  const hint = errorOf(() => unpickle(inst, { ...allow, refuseHint: 'use a state dict' }));
  assert.match(hint, /; use a state dict/);
});

test('REDUCE only calls allowed functions', () => {
  // [] () R . : calling a list
  assert.match(
    errorOf(() => unpickle(new Uint8Array([0x80, 2, 0x5d, 0x29, 0x52, 0x2e]), allow)),
    /REDUCE on a value that is not an allowed callable/,
  );
});

test('unknown, unsupported and truncated input', () => {
  assert.match(
    errorOf(() => unpickle(new Uint8Array([0x80, 2, 0xff]), allow)),
    /unknown opcode 0xff/,
  );
  assert.match(
    errorOf(() => unpickle(new Uint8Array([0x80, 2, 0x82, 1, 0x2e]), allow)),
    /opcode EXT1 is not supported/,
  );
  const full = b64(data.pickles[2].b64);
  assert.match(
    errorOf(() => unpickle(full.subarray(0, full.length >> 1), allow)),
    /truncated/,
  );
  assert.match(
    errorOf(() => unpickle(new Uint8Array([0x80, 2, 0x4e, 0x51, 0x2e]), allow)),
    /persistent id without a persistent_load/,
  );
  assert.match(
    errorOf(() => unpickle(new Uint8Array([0x80, 2, 0x68, 5, 0x2e]), allow)),
    /memo key 5 was never stored/,
  );
});

test('several pickles in one stream, persistent ids and BUILD on a dict', () => {
  // pickle.dumps(1, 2) + pickle.dumps('ab', 2), hand-assembled
  const two = new Uint8Array([0x80, 2, 0x4b, 1, 0x2e, 0x80, 2, 0x58, 2, 0, 0, 0, 0x61, 0x62, 0x2e]);
  const u = new Unpickler(two, allow);
  assert.is(u.load(), 1);
  assert.is(new Unpickler(two, allow, u.position).load(), 'ab');
  // } K 7 Q (persid 7) then BUILD with {'_metadata': None}-like state
  const bytes = new Uint8Array([0x80, 2, 0x7d, 0x7d, 0x58, 9, 0, 0, 0, ...new TextEncoder().encode('_metadata'), 0x4b, 7, 0x51, 0x73, 0x62, 0x2e]);
  const got = unpickle(bytes, { ...allow, persistentLoad: (pid) => `storage#${pid}` }) as Map<string, unknown>;
  assert.is(got.size, 0);
  assert.is(pyAttributes.get(got)!.get('_metadata'), 'storage#7');
});

test.run();
