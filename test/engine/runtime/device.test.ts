// Device loss: a lost device turns the next engine call into a clear error (not a hang), and a
// process that is done with the GPU exits by itself. Runs in a child process so that the shared
// device of the other tests is not touched.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const t = suite('device loss');
const root = resolve(new URL('../../..', import.meta.url).pathname);

t('a lost device gives a clear error and the process still exits', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/lose-device.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.error, undefined, `child did not finish: ${r.error?.message}`);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /ERROR: WebGPU device lost \(.*\); restart the process/, r.stdout + r.stderr);
});

t.run();
