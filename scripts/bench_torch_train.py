#!/usr/bin/python3
"""Time one training step of LeNet-300-100, LeNet-5, Conv-2 or Conv-6 in
PyTorch, to compare with BenchmarkTrainLeNet300100 and BenchmarkTrainConv in
package train (examples/benchmark runs both sides in one run).

Run with Debian's python3 (apt-get install python3-torch):

    /usr/bin/python3 scripts/bench_torch_train.py
    /usr/bin/python3 scripts/bench_torch_train.py --model conv2 --seconds 5 --repeat 5

By default it measures PyTorch's best CPU configuration for this work:
Adam with foreach=True (the multi-tensor implementation),
torch.set_flush_denormal(True) (denormals flushed to zero) and one thread
(torch.set_num_threads(1)); --no-foreach, --no-flush and --threads change
that. The step is the Go benchmarks': float32, softmax cross-entropy, a
batch of 60 (random inputs, random labels), Adam with learning rate 1.2e-3,
on the models of package train:

    lenet300100  784-300-100-10 MLP, ReLU, input 1x28x28
    lenet5       conv 6@5x5 pad 2, pool 2, conv 16@5x5 pad 2, pool 2,
                 fc 120, 84, 10; ReLU; input 1x28x28
    conv2        conv 64@3x3 pad 1 twice, pool 2, fc 256, 256, 10; 3x32x32
    conv6        conv 64, 64, pool, 128, 128, pool, 256, 256, pool (3x3,
                 pad 1), fc 256, 256, 10; input 3x32x32

Each repeat runs steps for about --seconds and prints samples per second
of wall time and of the process's CPU time (user and system, all threads:
less disturbed by other programs on a busy machine); the last line gives
the best repeat of each.
"""

import argparse
import os
import sys
import time


def _threads_arg(argv):
    """The value of --threads in argv (1 when absent or unreadable)."""
    for i, a in enumerate(argv):
        v = a.split("=", 1)[1] if a.startswith("--threads=") else (argv[i + 1] if a == "--threads" and i + 1 < len(argv) else None)
        if v is not None and v.isdigit() and int(v) > 0:
            return v
    return "1"


# Debian's torch does its matrix products in OpenBLAS, which starts a thread
# pool of its own that torch.set_num_threads does not size (torch reports
# BLAS_INFO=generic): without this a "one-thread" run used both cores. Hold
# OpenBLAS to --threads before torch loads it (a value already set wins).
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads_arg(sys.argv))

import torch  # noqa: E402  (after OPENBLAS_NUM_THREADS)
import torch.nn as nn  # noqa: E402


def convnet(in_shape, convs, hidden, classes=10):
    c, h, w = in_shape
    layers = []
    for out, k, pad, pool in convs:
        layers += [nn.Conv2d(c, out, k, padding=pad), nn.ReLU()]
        h, w = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        if pool:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        c = out
    layers.append(nn.Flatten())
    sizes = [c * h * w] + hidden
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], classes))
    return nn.Sequential(*layers)


def stack(blocks):
    out = []
    for b in range(blocks):
        ch = 64 << b
        out += [(ch, 3, 1, False), (ch, 3, 1, True)]
    return out


MODELS = {
    "lenet300100": ((1, 28, 28), lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))),
    "lenet5": ((1, 28, 28), lambda: convnet((1, 28, 28), [(6, 5, 2, True), (16, 5, 2, True)], [120, 84])),
    "conv2": ((3, 32, 32), lambda: convnet((3, 32, 32), stack(1), [256, 256])),
    "conv6": ((3, 32, 32), lambda: convnet((3, 32, 32), stack(3), [256, 256])),
}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="lenet300100")
    ap.add_argument("--batch", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one repeat")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-foreach", dest="foreach", action="store_false",
                    help="Adam(foreach=False): the per-tensor loop instead of the multi-tensor Adam")
    ap.add_argument("--no-flush", dest="flush", action="store_false",
                    help="keep denormals (no torch.set_flush_denormal(True))")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    flushed = torch.set_flush_denormal(args.flush) and args.flush
    torch.manual_seed(1)
    shape, make = MODELS[args.model]
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1.2e-3, foreach=args.foreach)
    loss_fn = nn.CrossEntropyLoss()
    # ten distinct batches, cycled, so that the data are not all one tensor
    xs = [torch.rand(args.batch, *shape) for _ in range(10)]
    ys = [torch.randint(0, 10, (args.batch,)) for _ in range(10)]

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs[i % 10]), ys[i % 10])
        loss.backward()
        opt.step()

    warm = 50 if args.model in ("lenet300100", "lenet5") else 3
    for i in range(warm):
        step(i)
    best, best_cpu = 0.0, 0.0
    chunk = 20 if args.model in ("lenet300100", "lenet5") else 1
    for r in range(args.repeat):
        n, start, cpu_start = 0, time.perf_counter(), time.process_time()
        while True:
            for _ in range(chunk):
                step(n)
                n += 1
            el = time.perf_counter() - start
            if el >= args.seconds:
                break
        cpu = time.process_time() - cpu_start
        rate, cpu_rate = n * args.batch / el, n * args.batch / cpu
        best, best_cpu = max(best, rate), max(best_cpu, cpu_rate)
        print(f"repeat {r + 1}: {n} steps in {el:.2f} s: {rate:.1f} samples/s "
              f"({1e3 * el / n:.3f} ms/step); {cpu:.2f} s of CPU time: {cpu_rate:.1f} samples per CPU second", flush=True)
    print(f"pytorch {torch.__version__} on {cpu_name()}, model={args.model}, "
          f"{torch.get_num_threads()} thread(s), batch {args.batch}, foreach={args.foreach}, "
          f"flush_denormal={flushed}, openblas_threads={os.environ['OPENBLAS_NUM_THREADS']}: best {best:.1f} samples/s, {best_cpu:.1f} samples per CPU second")


if __name__ == "__main__":
    main()
