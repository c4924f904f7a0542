// Peer-only benchmark (no engine needed): tfjs WebGPU on this machine's Dawn adapter and PyTorch
// CPU at 1 and 2 threads, on the cases our suites compare against. Prints the table; `--json FILE`
// writes records (ms_median null: only the peer side is filled) for bench/report.ts.
// Usage: npx tsx bench/peers/run.ts [--quick] [--only tfjs|torch] [--case SUBSTR,...] [--json FILE]
import { adapterLabel, emitResults, hostMeta, makeRecord, type BenchRecord } from '../harness.ts';
import { PEER_CASES, describeCase } from './cases.ts';
import { torchCpu } from './torch.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
const caseFilter = argv.includes('--case') ? (argv[argv.indexOf('--case') + 1] ?? '').split(',') : null;

const cases = PEER_CASES.filter((c) => !caseFilter || caseFilter.some((f) => describeCase(c).op.includes(f)));
const timing = quick ? { warmup: 1, runs: 3, minTimeMs: 0 } : { warmup: 1, runs: 5, minTimeMs: 300 };

const records: BenchRecord[] = [];
let label = { adapter: '', driver: '' };

if (only !== 'torch') {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const t = await import('./tfjs.ts');
  const peer = await t.initTfjsPeer();
  label = adapterLabel(peer.adapterInfo);
  for (const c of cases) {
    const r = await t.tfjsCase(c, timing);
    const d = describeCase(c);
    records.push(makeRecord({ suite: 'peers', case: d.op, shape: d.shape, ours: null, flops: d.flops, bytes: d.bytes, peer: r, ...label }));
    console.error(`  ${r.name} ${d.op}: ${r.ms_median.toFixed(2)} ms (${r.itersPerSync} iters/sync, ${r.runs} runs)`);
  }
  await t.disposeTfjsPeer();
}

if (only !== 'tfjs') {
  const r = cases.length === 0 ? { ok: false as const, reason: 'no cases selected' } : await torchCpu([...cases], { threads: [1, 2], ...timing });
  if (!r.ok) console.log(r.reason);
  else {
    for (const x of r.timings) {
      const d = describeCase(x.case);
      records.push(
        makeRecord({
          suite: 'peers',
          case: d.op,
          shape: d.shape,
          ours: null,
          flops: d.flops,
          bytes: d.bytes,
          peer: x,
          adapter: 'cpu',
          driver: `torch ${r.torch}`,
        }),
      );
    }
  }
}

emitResults(records, argv, { ...hostMeta(), ...label, note: 'peer-only run: ms_median is null, peer holds the measurement' });
