// How the main thread waits for Dawn (engine/runtime/wait.ts): the automatic policy by adapter and
// WGT_WAIT, the binding's ticks sleeping once a wait has lasted a moment under 'sleep' and
// spinning under 'spin', other setImmediate callers untouched, and results unchanged.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as E from '../../../engine/index.ts';
import { waitTicks, setWaitPolicy } from '../../../engine/runtime/wait.ts';
import { deviceInfo } from '../../../engine/runtime/device.ts';

const t = suite('waiting for the GPU');
t.before(async () => {
  await E.initDevice();
});
t.after(() => {
  setWaitPolicy(null);
});

t('automatic policy: sleep on CPU adapters, spin on GPUs, WGT_WAIT overrides', () => {
  const env = process.env.WGT_WAIT;
  try {
    delete process.env.WGT_WAIT;
    assert.is(setWaitPolicy(null), deviceInfo().cpu ? 'sleep' : 'spin');
    process.env.WGT_WAIT = 'spin';
    assert.is(setWaitPolicy(null), 'spin');
    process.env.WGT_WAIT = 'sleep';
    assert.is(setWaitPolicy(null), 'sleep');
    assert.is(setWaitPolicy('spin'), 'spin');
    assert.is(E.waitPolicy(), 'spin');
  } finally {
    if (env === undefined) delete process.env.WGT_WAIT;
    else process.env.WGT_WAIT = env;
    setWaitPolicy(null);
  }
});

// enough work for a wait of tens of milliseconds on lavapipe (well under one on a GPU)
async function longWait(): Promise<Float32Array> {
  return E.tidyAsync(async () => {
    const a = E.reshape(E.arange(0, 256 * 256), [256, 256]);
    let x = E.div(a, 65536);
    for (let i = 0; i < 6; i++) x = E.matmul(x, E.div(a, 65536 * 64));
    return (await E.sum(x).data()) as Float32Array;
  });
}

t("'sleep': the binding's ticks sleep during a long wait; 'spin' never does; same results", async () => {
  setWaitPolicy('spin');
  const s0 = waitTicks();
  const rSpin = await longWait();
  const s1 = waitTicks();
  assert.is(s1.slept, s0.slept, 'no sleeping under spin');
  setWaitPolicy('sleep');
  const rSleep = await longWait();
  const s2 = waitTicks();
  assert.equal([...rSleep], [...rSpin]);
  if (deviceInfo().cpu) {
    // a wait of many milliseconds: after the first 50 us every tick sleeps
    assert.ok(s2.slept > s1.slept, `ticks slept ${s2.slept - s1.slept}`);
  }
  assert.ok(s2.spun + s2.slept > s1.spun + s1.slept, 'the binding polled through the wrapper');
});

t('other setImmediate callers are passed through with their arguments', async () => {
  setWaitPolicy('sleep');
  const got = await new Promise<unknown[]>((res) => setImmediate((...a: unknown[]) => res(a), 1, 'two'));
  assert.equal(got, [1, 'two']);
  const before = waitTicks();
  await new Promise<void>((res) => setImmediate(() => res()));
  const after = waitTicks();
  assert.is(after.spun + after.slept, before.spun + before.slept, 'a JS callback is not counted as a binding tick');
});

t('a wait right after a long one starts by spinning again (markWait), then sleeps', async () => {
  setWaitPolicy('sleep');
  await longWait();
  // the next wait: its GPU work outlasts the tick the previous wait left queued, so the binding
  // schedules ticks inside it; the first of them spin even though the last wait ended napping
  const before = waitTicks();
  await longWait();
  const after = waitTicks();
  if (deviceInfo().cpu) {
    assert.ok(after.spun > before.spun, `spun ${after.spun - before.spun}`);
    assert.ok(after.slept > before.slept, `slept ${after.slept - before.slept}`);
  }
});

t.run();
