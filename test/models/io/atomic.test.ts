// Stale temp files (issue 17, item 8): a run killed mid-write leaves `.<name>.tmp-<pid>-<hex>` beside
// the target. The next atomic write of that target removes those of dead processes, and never the
// temps of live processes, fresh ones, or anything else in the folder.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { STALE_TEMP_AGE_MS, removeStaleTemps, tempPathFor, writeFileAtomic, writeAll } from '../../../models/io/atomic.ts';
import { writeSafetensors } from '../../../models/io/files.ts';
import { tempDir } from './util.ts';

const test = suite('models/io/atomic');

/** The pid of a process that has surely exited: a child we started and waited for. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  assert.is(r.status, 0);
  assert.ok(r.pid && r.pid > 0);
  return r.pid!;
}

function backdate(path: string, ms = STALE_TEMP_AGE_MS + 60_000): void {
  const t = new Date(Date.now() - ms);
  utimesSync(path, t, t);
}

test('an atomic write removes old temps of dead processes and keeps everything else', () => {
  const { dir, done } = tempDir('stale');
  try {
    const target = join(dir, 'ckpt.safetensors');
    const dead = deadPid();
    const files: Record<string, string> = {
      deadOld: `.ckpt.safetensors.tmp-${dead}-0123abcd`,
      deadFresh: `.ckpt.safetensors.tmp-${dead}-4567cdef`,
      live: `.ckpt.safetensors.tmp-${process.pid}-89abcdef`,
      parent: `.ckpt.safetensors.tmp-${process.ppid}-00000000`,
      otherTarget: `.other.safetensors.tmp-${dead}-0123abcd`,
      notOurs: `.ckpt.safetensors.tmp-${dead}-notahex!`,
      plain: 'notes.txt',
    };
    for (const [k, f] of Object.entries(files)) {
      writeFileSync(join(dir, f), k);
      if (k !== 'deadFresh') backdate(join(dir, f));
    }
    mkdirSync(join(dir, `.ckpt.safetensors.tmp-${dead}-aaaaaaaa`));
    backdate(join(dir, `.ckpt.safetensors.tmp-${dead}-aaaaaaaa`));

    writeSafetensors(target, { w: { dtype: 'float32', shape: [1], data: new Float32Array([2]) } });

    const left = new Set(readdirSync(dir));
    assert.not.ok(left.has(files.deadOld), 'temp of a dead process is removed');
    for (const k of ['deadFresh', 'live', 'parent', 'otherTarget', 'notOurs', 'plain']) {
      assert.ok(left.has(files[k]), `${k} (${files[k]}) is kept`);
      assert.is(readFileSync(join(dir, files[k]), 'utf8'), k);
    }
    assert.ok(statSync(join(dir, `.ckpt.safetensors.tmp-${dead}-aaaaaaaa`)).isDirectory(), 'folders are never removed');
    assert.ok(left.has('ckpt.safetensors'));
  } finally {
    done();
  }
});

test('tempPathFor cleans up too (downloads use it directly), and removeStaleTemps reports what it removed', () => {
  const { dir, done } = tempDir('stale2');
  try {
    const target = join(dir, 'resnet18.pth');
    const dead = deadPid();
    const stale = join(dir, `.resnet18.pth.tmp-${dead}-deadbeef`);
    writeFileSync(stale, 'half a download');
    backdate(stale);
    const tmp = tempPathFor(target);
    assert.match(tmp, new RegExp(`\\.resnet18\\.pth\\.tmp-${process.pid}-[0-9a-f]{8}$`));
    assert.equal(readdirSync(dir), []);
    writeFileSync(stale, 'again');
    backdate(stale);
    assert.equal(removeStaleTemps(target), [stale]);
    assert.equal(removeStaleTemps(join(dir, 'missing-folder', 'x.pth')), [], 'a missing folder is not an error');
    // writeFileAtomic still works when the folder is otherwise empty.
    writeFileAtomic(target, (fd) => writeAll(fd, new Uint8Array([1, 2, 3])));
    assert.equal([...readFileSync(target)], [1, 2, 3]);
  } finally {
    done();
  }
});

test.run();
