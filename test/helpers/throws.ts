// One assertion for "this call fails with a message that says X": the message must match a
// RegExp, or contain every string given. The call runs in a tidy scope, so tensors it made
// before throwing are freed (the memory tests count them).
import * as assert from 'uvu/assert';
import { tidy } from '../../engine/core/memory.ts';

export function throwsWith(fn: () => unknown, ...expected: (RegExp | string | readonly string[])[]): void {
  let msg: string | null = null;
  try {
    tidy(() => {
      fn();
    });
  } catch (err) {
    msg = (err as Error).message;
  }
  if (msg === null) assert.unreachable('expected an error, none was thrown');
  for (const e of expected.flat()) {
    if (typeof e === 'string') assert.ok(msg!.includes(e), `message "${msg}" should contain "${e}"`);
    else assert.match(msg!, e);
  }
}
