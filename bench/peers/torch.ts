// CPU peer: PyTorch through Debian's python3-torch, run as a subprocess (bench/peers/torch_cpu.py)
// that reads one JSON spec on stdin and answers with JSON timings. Thread counts 1 and 2 bracket
// this 2-core machine; sgemm 1024 at 2 threads is its practical compute ceiling.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { MeasureOptions } from '../harness.ts';
import { describeCase, type PeerCase } from './cases.ts';

export const TORCH_PYTHON = process.env.GLASS_TORCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = new URL('./torch_cpu.py', import.meta.url).pathname;

export interface TorchOptions extends Pick<MeasureOptions, 'warmup' | 'runs' | 'minTimeMs' | 'maxRuns'> {
  threads?: number[];
  /** Per-sample wall clock for tiny ops (they are looped inside a sample). Default 20. */
  targetCallMs?: number;
  python?: string;
  /** Kill the subprocess after this long. Default 300 s. */
  timeoutMs?: number;
}

export interface TorchTiming {
  /** "torch-cpu-1t", "torch-cpu-2t": the peer name used in records and charts. */
  name: string;
  threads: number;
  case: PeerCase;
  op: string;
  shape: string;
  ms_median: number;
  ms_min: number;
  runs: number;
  gflops?: number;
  gbps?: number;
}

export type TorchRun = { ok: true; torch: string; python: string; timings: TorchTiming[] } | { ok: false; reason: string };

interface RawResult {
  index: number;
  threads: number;
  ms_median: number;
  ms_min: number;
  runs: number;
}

export function torchPeerName(threads: number): string {
  return `torch-cpu-${threads}t`;
}

/** Null when the torch peer can run, else the one-line reason it is skipped. */
export async function torchUnavailable(python = TORCH_PYTHON): Promise<string | null> {
  if (!existsSync(python)) return `torch peer skipped: ${python} not found (Debian python3-torch expected)`;
  const r = await runPython(python, ['-c', 'import torch; print(torch.__version__)'], '', 60_000);
  if (r.code !== 0) return `torch peer skipped: ${python} cannot import torch (${lastLine(r.stderr) || `exit ${r.code}`})`;
  return null;
}

/** Times every case at every thread count. Never throws for a missing python/torch: `ok: false`. */
export async function torchCpu(cases: PeerCase[], o: TorchOptions = {}): Promise<TorchRun> {
  const python = o.python ?? TORCH_PYTHON;
  const reason = await torchUnavailable(python);
  if (reason) return { ok: false, reason };
  const spec = {
    threads: o.threads ?? [1, 2],
    warmup: o.warmup ?? 1,
    runs: o.runs ?? 5,
    min_time_ms: o.minTimeMs ?? 300,
    max_runs: o.maxRuns ?? 50,
    target_call_ms: o.targetCallMs ?? 20,
    cases,
  };
  const r = await runPython(python, [SCRIPT], JSON.stringify(spec), o.timeoutMs ?? 300_000);
  let out: { error?: string; torch?: string; python?: string; results?: RawResult[] };
  try {
    out = JSON.parse(lastLine(r.stdout));
  } catch {
    throw new Error(`bench/peers/torch: ${SCRIPT} exited ${r.code} without JSON: ${lastLine(r.stderr) || lastLine(r.stdout)}`);
  }
  if (out.error) throw new Error(`bench/peers/torch: ${SCRIPT}: ${out.error}`);
  const timings = (out.results ?? []).map((x): TorchTiming => {
    const c = cases[x.index];
    const d = describeCase(c);
    const rate = d.flops !== undefined ? { gflops: d.flops / (x.ms_median * 1e6) } : d.bytes !== undefined ? { gbps: d.bytes / (x.ms_median * 1e6) } : {};
    return {
      name: torchPeerName(x.threads),
      threads: x.threads,
      case: c,
      op: d.op,
      shape: d.shape,
      ms_median: x.ms_median,
      ms_min: x.ms_min,
      runs: x.runs,
      ...rate,
    };
  });
  return { ok: true, torch: out.torch ?? '?', python: out.python ?? '?', timings };
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

function runPython(python: string, args: string[], stdin: string, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const p = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', (err) => {
      clearTimeout(timer);
      resolvePromise({ code: -1, stdout, stderr: stderr + String(err.message) });
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
    p.stdin.on('error', () => {}); // the child may exit before reading (e.g. no torch)
    p.stdin.end(stdin);
  });
}
