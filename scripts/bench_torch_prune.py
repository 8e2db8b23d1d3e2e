#!/usr/bin/python3
"""Time PyTorch's global magnitude pruning, to compare with BenchmarkGlobal.

Run with Debian's python3 (apt-get install python3-torch):

    /usr/bin/python3 scripts/bench_torch_prune.py            # 1M and 10M weights
    /usr/bin/python3 scripts/bench_torch_prune.py --sizes 1,10,100

It builds the 12 float32 tensors of prune/bench_global_test.go (the same
shapes, scaled the same way to about N weights in all) and times
torch.nn.utils.prune.global_unstructured(..., L1Unstructured, amount=0.2) from
unpruned modules, with 1 thread, torch's default number of threads and one
thread per CPU (as Go's GOMAXPROCS), printing seconds per call (the best of
--repeat runs; one run at 100M) and the process's CPU seconds per call (all
threads; on a busy machine it says more than the wall clock, as the Go
benchmark's cpu-ns/op does). The Go benchmark:

    go test ./prune -run '^$' -bench 'Global/L1' -benchtime 3x -benchmem
"""

import argparse
import os
import time

import torch
import torch.nn.utils.prune as prune

# [rows, rest] at base size, as benchShapes in prune/bench_global_test.go.
BENCH_SHAPES = [
    (64, 147), (64, 576), (128, 576), (128, 1152), (256, 1152), (256, 2304),
    (512, 2304), (512, 4608), (512, 4608), (1024, 2048), (2048, 1024), (1000, 2048),
]


def scaled(n):
    base = sum(r * c for r, c in BENCH_SHAPES)
    return [(max(1, (r * n + base // 2) // base), c) for r, c in BENCH_SHAPES]


def weights(n):
    g = torch.Generator().manual_seed(2024)
    return [torch.randn(shape, generator=g) * 0.05 for shape in scaled(n)]


def time_global(ws, repeat):
    """Best wall-clock and process CPU seconds of one call, and the count kept."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        mods = []
        for w in ws:
            m = torch.nn.Module()
            m.weight = torch.nn.Parameter(w)  # shares w's storage
            mods.append(m)
        params = [(m, "weight") for m in mods]
        t0, c0 = time.perf_counter(), time.process_time()
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=0.2)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
        kept = sum(int(m.weight_mask.sum()) for m in mods)
        del mods, params
    return best, best_cpu, kept


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,10", help="millions of weights, comma-separated")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", default="1,default,cpus",
                    help="thread counts; 'default' = torch's own, 'cpus' = os.cpu_count() (Go's GOMAXPROCS)")
    args = ap.parse_args()
    default_threads = torch.get_num_threads()
    for size in (int(s) for s in args.sizes.split(",")):
        n = size * 1_000_000
        ws = weights(n)
        total = sum(w.numel() for w in ws)
        counts = []
        for th in args.threads.split(","):
            c = {"default": default_threads, "cpus": os.cpu_count()}.get(th) or int(th)
            if c not in counts:
                counts.append(c)
        for threads in counts:
            torch.set_num_threads(threads)
            repeat = 1 if size >= 100 else args.repeat
            secs, cpu, kept = time_global(ws, repeat)
            print(
                f"torch {torch.__version__} global_unstructured L1 amount=0.2: {total} weights "
                f"({size}M) in 12 tensors, {threads} thread(s): {secs:.3f} s/call, "
                f"{cpu:.3f} s CPU/call (best of {repeat}; kept {kept})",
                flush=True,
            )
        torch.set_num_threads(default_threads)
        del ws


if __name__ == "__main__":
    main()
