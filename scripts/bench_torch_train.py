#!/usr/bin/python3
"""Time one training step of LeNet-300-100 in PyTorch, to compare with
BenchmarkTrainLeNet300100 in package train.

Run with Debian's python3 (apt-get install python3-torch):

    /usr/bin/python3 scripts/bench_torch_train.py
    /usr/bin/python3 scripts/bench_torch_train.py --seconds 5 --repeat 5

The step is the Go benchmark's: a 784-300-100-10 MLP with ReLU, float32,
softmax cross-entropy, a batch of 60 (random inputs, random labels), Adam
(learning rate 1.2e-3; --foreach for the multi-tensor Adam), on one thread
(torch.set_num_threads(1)). Each
repeat runs steps for about --seconds and prints samples per second; the
last line gives the best repeat, the figure to compare with

    go test ./train -run '^$' -bench TrainLeNet300100 -cpu 1 -benchtime 3s
    go test ./train -run '^$' -bench TrainLeNet300100 -cpu 1 -benchtime 3s -tags openblas
"""

import argparse
import time

import torch
import torch.nn as nn


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one repeat")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--foreach", action="store_true",
                    help="Adam(foreach=True): PyTorch's multi-tensor Adam (faster; the default on CPU is the per-tensor loop)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 300), nn.ReLU(),
        nn.Linear(300, 100), nn.ReLU(),
        nn.Linear(100, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1.2e-3, foreach=args.foreach)
    loss_fn = nn.CrossEntropyLoss()
    # ten distinct batches, cycled, so that the data are not all one tensor
    xs = [torch.rand(args.batch, 1, 28, 28) for _ in range(10)]
    ys = [torch.randint(0, 10, (args.batch,)) for _ in range(10)]

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs[i % 10]), ys[i % 10])
        loss.backward()
        opt.step()

    for i in range(50):  # warm up
        step(i)
    best = 0.0
    for r in range(args.repeat):
        n, start = 0, time.perf_counter()
        while True:
            for _ in range(20):
                step(n)
                n += 1
            el = time.perf_counter() - start
            if el >= args.seconds:
                break
        rate = n * args.batch / el
        best = max(best, rate)
        print(f"repeat {r + 1}: {n} steps in {el:.2f} s: {rate:.0f} samples/s "
              f"({1e3 * el / n:.3f} ms/step)", flush=True)
    print(f"pytorch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"batch {args.batch}, foreach={args.foreach}: best {best:.0f} samples/s")


if __name__ == "__main__":
    main()
