// Leak checks that do not depend on when the garbage collector runs. A graph node that an
// earlier test dropped may be collected during any await, and its finalizer disposes the node's
// saved tensors (engine/autograd/tape.ts), lowering memoryStats().liveTensors at a random time.
// Adding back what the collector disposed gives a count that only the code under test moves.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as E from '../../engine/index.ts';

/** Undisposed tensor handles, counting those the GC safety net disposed as still live. */
export function liveTensors(): number {
  const s = E.memoryStats();
  return s.liveTensors + s.collectedTensors;
}

/** A full garbage collection, then a short wait so FinalizationRegistry callbacks can run. */
export function collectGarbage(): Promise<void> {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return new Promise((r) => setTimeout(r, 10));
}
