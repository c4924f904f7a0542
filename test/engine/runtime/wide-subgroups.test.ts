// The subgroup kernels where a subgroup is wider than the suite's usual 8 lanes: lavapipe with
// 512-bit vectors runs 16-lane subgroups, wider than the 8-lane workgroup of some matmul tiles
// (on NVIDIA a 32-lane warp is wider than the 16-lane default tile). The checks run in a child
// process (test/helpers/wide-subgroups.ts) because the vector width is fixed when Vulkan loads;
// it gets its own Mesa shader cache so binaries of the two widths are never mixed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import * as E from '../../../engine/index.ts';
import { deviceInfo, hasFeature } from '../../../engine/runtime/device.ts';
import { MATMUL_VARIANTS } from '../../../engine/wgsl/matmul.ts';

const t = suite('subgroups wider than a workgroup (lavapipe, 16 lanes)');
const root = resolve(new URL('../../..', import.meta.url).pathname);

t('subgroup matmul variants and conv2d match float64 CPU results', async () => {
  await E.initDevice();
  const desc = deviceInfo().description;
  if (!/llvmpipe/i.test(desc) || !hasFeature('subgroups')) {
    console.log(`  skip: needs lavapipe with subgroups (this adapter: ${desc})`);
    return;
  }
  assert.ok(deviceInfo().cpu, 'lavapipe is a CPU adapter (CPU-tuned kernel defaults)');
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'glass-ts-mesa-lp512');
  const env = { ...process.env, LP_NATIVE_VECTOR_WIDTH: '512', MESA_SHADER_CACHE_DIR: cache };
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/wide-subgroups.ts'], { cwd: root, env, encoding: 'utf8', timeout: 180_000 });
  assert.is(r.error, undefined, `child did not finish: ${r.error?.message}`);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^subgroup 16$/m, 'the child did not get 16-lane subgroups');
  assert.is(r.stdout.match(/^ok matmul /gm)?.length, Object.values(MATMUL_VARIANTS).filter((v) => v.sg).length, r.stdout);
  assert.match(r.stdout, /^ok conv2d/m);
  assert.match(r.stdout, /^ok reduce subgroup rows$/m);
});

t.run();
