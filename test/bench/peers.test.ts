// Peer plumbing without running a benchmark: the torch peer's skip reason, case descriptions and
// the JSON it parses (a stand-in "python" answers instead of torch).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeCase, PEER_CASES } from '../../bench/peers/cases.ts';
import { torchCpu, torchPeerName, torchUnavailable } from '../../bench/peers/torch.ts';

const t = suite('bench/peers torch');

t('missing interpreter gives a one-line skip reason', async () => {
  const reason = await torchUnavailable('/nonexistent/python3');
  assert.match(reason ?? '', /^torch peer skipped: \/nonexistent\/python3 not found/);
  assert.not.match(reason ?? '', /\n/);
  const r = await torchCpu([{ op: 'matmul', m: 2, n: 2, k: 2 }], { python: '/nonexistent/python3' });
  assert.equal(r, { ok: false, reason: reason as string });
});

t('case descriptions share the harness work formulas', () => {
  assert.equal(describeCase({ op: 'matmul', m: 4, n: 5, k: 6 }), { op: 'matmul', shape: '4x6 @ 6x5', flops: 240 });
  const c = describeCase({ op: 'conv2d', pass: 'bwd_filter', n: 1, cin: 2, h: 4, w: 4, cout: 3, kh: 3, kw: 3, stride: 1, pad: 1 });
  assert.is(c.op, 'conv2d_bwd_filter');
  assert.is(c.flops, 2 * 3 * 16 * 2 * 9);
  assert.is(describeCase({ op: 'elementwise', n: 10 }).bytes, 120);
  assert.is(describeCase({ op: 'reduce_sum', shape: [4, 8], axis: -1 }).bytes, (32 + 4) * 4);
  assert.throws(() => describeCase({ op: 'reduce_sum', shape: [4], axis: 1 }), /axis 1 out of range/);
  assert.is(torchPeerName(2), 'torch-cpu-2t');
  assert.equal(
    PEER_CASES.map((c) => describeCase(c).op),
    ['matmul', 'conv2d_fwd', 'conv2d_bwd_input', 'conv2d_bwd_filter', 'elementwise_add', 'reduce_sum'],
  );
});

t('parses the subprocess JSON into named timings with rates', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'glass-torch-'));
  try {
    const fake = join(dir, 'python3');
    const answer = JSON.stringify({
      torch: '1.13',
      python: '3.11',
      results: [
        { index: 0, threads: 1, ms_median: 2, ms_min: 1.9, runs: 5, iters_per_call: 1 },
        { index: 0, threads: 2, ms_median: 1, ms_min: 0.9, runs: 5, iters_per_call: 1 },
      ],
    });
    writeFileSync(fake, `#!/bin/sh\ncat >/dev/null\necho '${answer}'\n`);
    chmodSync(fake, 0o755);
    const r = await torchCpu([{ op: 'matmul', m: 100, n: 100, k: 100 }], { python: fake });
    if (!r.ok) throw new Error(r.reason);
    assert.equal(
      r.timings.map((x) => [x.name, x.ms_median, x.gflops]),
      [
        ['torch-cpu-1t', 2, 1],
        ['torch-cpu-2t', 1, 2],
      ],
    );
    writeFileSync(fake, `#!/bin/sh\ncat >/dev/null\necho '{"error": "boom"}'\n`);
    await torchCpu([{ op: 'matmul', m: 1, n: 1, k: 1 }], { python: fake }).then(
      () => assert.unreachable('should throw'),
      (err: Error) => assert.match(err.message, /boom/),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
