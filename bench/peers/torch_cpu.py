#!/usr/bin/python3
# CPU peer: times PyTorch (Debian's python3-torch) on the cases bench/peers/torch.ts sends as one
# JSON spec on stdin, for each requested thread count, and prints one JSON object on stdout.
# Run with /usr/bin/python3 (the pyenv python on PATH has no torch).
#
# stdin:  {"threads": [1, 2], "warmup": 1, "runs": 5, "min_time_ms": 300, "max_runs": 50,
#          "cases": [{"op": "matmul", "m": 1024, "n": 1024, "k": 1024},
#                    {"op": "conv2d", "pass": "fwd"|"bwd_input"|"bwd_filter",
#                     "n": 1, "cin": 64, "h": 56, "w": 56, "cout": 64, "kh": 3, "kw": 3,
#                     "stride": 1, "pad": 1},
#                    {"op": "elementwise", "n": 1048576, "kind": "add"|"mul"|"relu"},
#                    {"op": "reduce_sum", "shape": [1024, 1024], "axis": 1}]}
# stdout: {"torch": "1.13.1", "python": "3.11.2", "results": [{"index": 0, "threads": 1,
#          "ms_median": ..., "ms_min": ..., "runs": ..., "iters_per_call": ...}, ...]}
import json
import os
import platform
import statistics
import subprocess
import sys
import time

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def fail(msg):
    print(json.dumps({"error": msg}))
    sys.exit(1)


torch = None


def import_torch():
    global torch
    try:
        import torch as t
    except Exception as e:  # noqa: BLE001 - any import failure means "no torch peer"
        fail(f"torch not importable by {sys.executable}: {e}")
    torch = t


def make_case(c):
    """Returns a zero-argument callable running one iteration of the case."""
    op = c["op"]
    if op == "matmul":
        a = torch.randn(c["m"], c["k"])
        b = torch.randn(c["k"], c["n"])
        out = torch.empty(c["m"], c["n"])
        return lambda: torch.mm(a, b, out=out)
    if op == "conv2d":
        n, cin, h, w, cout = c["n"], c["cin"], c["h"], c["w"], c["cout"]
        kh, kw, s, p = c["kh"], c["kw"], c["stride"], c["pad"]
        x = torch.randn(n, cin, h, w)
        wt = torch.randn(cout, cin, kh, kw)
        ho = (h + 2 * p - kh) // s + 1
        wo = (w + 2 * p - kw) // s + 1
        dy = torch.randn(n, cout, ho, wo)
        kind = c.get("pass", "fwd")
        if kind == "fwd":
            return lambda: torch.nn.functional.conv2d(x, wt, None, s, p)
        if kind not in ("bwd_input", "bwd_filter"):
            fail(f"conv2d: unknown pass {kind!r}")
        # The kernel autograd itself calls for conv2d's backward, one gradient at a time.
        mask = [True, False, False] if kind == "bwd_input" else [False, True, False]
        return lambda: torch.ops.aten.convolution_backward(
            dy, x, wt, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, mask)
    if op == "elementwise":
        kind = c.get("kind", "add")
        a = torch.randn(c["n"])
        b = torch.randn(c["n"])
        out = torch.empty(c["n"])
        if kind == "add":
            return lambda: torch.add(a, b, out=out)
        if kind == "mul":
            return lambda: torch.mul(a, b, out=out)
        if kind == "relu":
            return lambda: torch.clamp(a, min=0, out=out)
        fail(f"elementwise: unknown kind {kind!r}")
    if op == "backbone":
        # torchvision's network (random weights: the time does not depend on them), forward to the
        # last requested stage, eval mode, as GLASS's frozen feature extractor runs it
        import torchvision
        net = getattr(torchvision.models, c["arch"])().eval()
        x = torch.randn(c["batch"], 3, c["size"], c["size"])
        stages = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
        last = stages.index(c["until"])
        mods = [getattr(net, s) for s in stages[: last + 1]]

        def run():
            h = x
            for m in mods:
                h = m(h)
            return h
        return run
    if op == "reduce_sum":
        x = torch.randn(*c["shape"])
        axis = c["axis"]
        return lambda: torch.sum(x, dim=axis)
    fail(f"unknown op {op!r}")


def time_case(fn, warmup, runs, min_time_ms, max_runs, target_call_ms):
    with torch.no_grad():
        for _ in range(max(warmup, 1)):
            fn()
        t0 = time.perf_counter()
        fn()
        est = max((time.perf_counter() - t0) * 1e3, 1e-3)
        # Tiny ops run several times per sample so timer resolution and Python overhead stay small.
        iters = max(1, min(1000, round(target_call_ms / est)))
        samples = []
        total = 0.0
        while len(samples) < max_runs and (len(samples) < runs or total < min_time_ms):
            t0 = time.perf_counter()
            for _ in range(iters):
                fn()
            dt = (time.perf_counter() - t0) * 1e3
            total += dt
            samples.append(dt / iters)
    return {"ms_median": statistics.median(samples), "ms_min": min(samples), "runs": len(samples), "iters_per_call": iters}


def run_per_thread_count(spec, threads):
    """Debian's torch uses OpenBLAS-pthread, which only honours a thread count fixed before it
    loads; so each count gets its own process with the environment set from the start."""
    out = None
    for t in threads:
        env = dict(os.environ, **{k: str(t) for k in THREAD_ENV})
        sub = dict(spec, threads=[t])
        p = subprocess.run([sys.executable, os.path.abspath(__file__)], input=json.dumps(sub),
                           capture_output=True, text=True, env=env)
        try:
            r = json.loads(p.stdout.strip().splitlines()[-1])
        except Exception:  # noqa: BLE001
            fail(f"threads={t}: child exited {p.returncode}: {p.stderr.strip()[-500:]}")
        if "error" in r:
            print(json.dumps(r))
            sys.exit(1)
        if out is None:
            out = r
        else:
            out["results"].extend(r["results"])
    print(json.dumps(out))


def main():
    try:
        spec = json.load(sys.stdin)
    except Exception as e:  # noqa: BLE001
        fail(f"bad JSON spec on stdin: {e}")
    threads = spec.get("threads", [1])
    if len(threads) != 1 or any(os.environ.get(k) != str(threads[0]) for k in THREAD_ENV):
        run_per_thread_count(spec, threads)
        return
    import_torch()
    warmup = spec.get("warmup", 1)
    runs = spec.get("runs", 5)
    min_time_ms = spec.get("min_time_ms", 300)
    max_runs = max(runs, spec.get("max_runs", 50))
    target = spec.get("target_call_ms", 20)
    torch.manual_seed(0)
    results = []
    for t in threads:
        torch.set_num_threads(t)
        for i, c in enumerate(spec.get("cases", [])):
            fn = make_case(c)
            r = time_case(fn, warmup, runs, min_time_ms, max_runs, target)
            r.update({"index": i, "threads": torch.get_num_threads()})
            results.append(r)
    print(json.dumps({"torch": torch.__version__, "python": platform.python_version(), "results": results}))


if __name__ == "__main__":
    main()
