// How the main thread waits for Dawn in Node. The Node binding settles its promises
// (onSubmittedWorkDone, mapAsync, popErrorScope) by polling on the main thread for as long as any
// of them is pending: a busy loop. On a GPU that costs one CPU core and gives the lowest latency.
// On a CPU adapter (lavapipe) the loop takes a core from the driver's own threads, which run the
// shaders, and awaited work finishes markedly later (docs/PERF.md, "Waiting on a CPU adapter").
// So with the 'sleep' policy (the default on CPU adapters) each
// of the binding's ticks, once a wait has lasted a few ticks, first sleeps an eighth of the time
// waited so far (at most 1 ms): the main thread idles, and a wait ends at most ~12% late.
//
// The policy lives here; reaching the binding's ticks and sleeping are the host's (platform.ts:
// Node wraps setImmediate and naps with Atomics.wait). A browser has no such hooks: it does not
// busy-poll, and the policy is recorded but changes nothing.
import { env, host } from './platform.ts';

export type WaitPolicy = 'spin' | 'sleep';

/** The first SPIN_TICKS ticks of a wait, and any within SPIN_MS of its start, spin as Dawn does. */
const SPIN_TICKS = 4;
const SPIN_MS = 0.05;
/** Past that, each tick first sleeps 1/NAP_DIV of the time waited so far, at most MAX_NAP_MS. */
const NAP_DIV = 8;
const MAX_NAP_MS = 1;
/** Ticks further apart than this belong to different waits (markWait() also starts one). */
const NEW_WAIT_GAP_MS = 3;

let policy: WaitPolicy = 'spin';
/** Set by setWaitPolicy (wins over the automatic choice); the adapter kind seen at creation. */
let explicit: WaitPolicy | null = null;
let lastCpu = false;
let installed = false;
let streakStart = 0;
let streakTicks = 0;
let lastTick = -Infinity;
const counts = { spun: 0, slept: 0 };

/** One of the binding's ticks under 'sleep': spin, or nap first. */
function beforeTick(nap: (ms: number) => void): void {
  let now = performance.now();
  if (now - lastTick > NEW_WAIT_GAP_MS) {
    streakStart = now;
    streakTicks = 0;
  }
  const waited = now - streakStart;
  if (++streakTicks > SPIN_TICKS && waited > SPIN_MS) {
    counts.slept++;
    nap(Math.min(waited / NAP_DIV, MAX_NAP_MS));
    now = performance.now();
  } else counts.spun++;
  lastTick = now;
}

/**
 * Sets how waits on the GPU use the main thread: 'spin' (Dawn's own busy loop) or 'sleep' (spin
 * for 4 ticks and 50 us, then sleep between polls, an eighth of the time waited); `null` returns to the automatic
 * choice. Automatic: WGT_WAIT=spin|sleep when set, else 'sleep' on CPU adapters and 'spin' on
 * GPUs (applied when the device is created).
 */
export function setWaitPolicy(p: WaitPolicy | null): WaitPolicy {
  explicit = p;
  policy = p ?? autoPolicy(lastCpu);
  install();
  return policy;
}

/** Called by the device on creation: the automatic policy for this adapter. */
export function adaptWaitPolicy(cpuAdapter: boolean): WaitPolicy {
  lastCpu = cpuAdapter;
  policy = explicit ?? autoPolicy(cpuAdapter);
  install();
  return policy;
}

function autoPolicy(cpu: boolean): WaitPolicy {
  const v = env('WGT_WAIT');
  if (v === 'spin' || v === 'sleep') return v;
  return cpu ? 'sleep' : 'spin';
}

function install(): void {
  if (installed) return;
  installed = true;
  const hooks = host().wait;
  hooks?.hookTicks(
    () => policy === 'sleep',
    () => beforeTick((ms) => hooks.nap(ms)),
  );
}

/**
 * Marks the start of a wait (dispatch.ts: sync and readback): its first ticks spin even when
 * the previous wait ended moments ago, instead of the streak carrying on with up to 1 ms naps
 * (which would make a loop of small readbacks pay a nap each).
 */
export function markWait(): void {
  streakStart = lastTick = performance.now();
  streakTicks = 0;
}

export function waitPolicy(): WaitPolicy {
  return policy;
}

/** Binding ticks passed on at once vs after a sleep, since the process started (tests). */
export function waitTicks(): { spun: number; slept: number } {
  return { ...counts };
}
