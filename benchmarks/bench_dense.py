"""Dense path benchmark: Linear, ReLU, cross-entropy (float32, medians, one run).

    python benchmarks/bench_dense.py            # full
    python benchmarks/bench_dense.py --quick    # fewer repeats

Workloads:
  * plain MLP 784-256-128-10 (Linear/ReLU), CE loss, plain SGD (lr 0.01): one training
    step at N = 1 — the seeds' pure-SGD case, where per-call overhead dominates
  * the same step at N = 32, 128, 1024
  * Linear(784, 256) forward + backward (after zero_grad, as in training) at
    N = 1, 32, 128, 1024
  * softmax cross-entropy forward + backward on (N, 10)
minidl's cython backend, its numpy backend and PyTorch (when installed) run in the same
process; ratios numpy/cython and torch/cython > 1 mean the compiled backend is faster.

On a shared machine multi-threaded BLAS timings swing by 100× with the load; to compare
single-threaded, run with OPENBLAS_NUM_THREADS=1 (torch then gets one thread as well), and
``--best`` reports the fastest sample instead of the median (what the code can do when the
other processes leave it alone).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import environment_line, measure, print_table, try_import_torch  # noqa: E402
from bench_foundation import minidl_step, torch_step  # noqa: E402

from minidl import backend, nn  # noqa: E402


def minidl_mlp_step(n):
    """Plain MLP (Linear/ReLU), CE, SGD without momentum: the seeds' textbook step."""
    return minidl_step(n, bn_dropout=False, momentum=0.0)


def torch_mlp_step(torch, n):
    return torch_step(torch, n, bn_dropout=False, momentum=0.0)


def minidl_linear(n):
    layer = nn.Linear(784, 256, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((n, 784)).astype(np.float32)
    dy = np.random.default_rng(2).standard_normal((n, 256)).astype(np.float32)

    def step():
        layer.zero_grad()
        layer(x)
        layer.backward(dy)

    return step


def torch_linear(torch, n):
    layer = torch.nn.Linear(784, 256)
    x = torch.randn(n, 784, requires_grad=True)
    dy = torch.randn(n, 256)

    def step():
        layer.zero_grad()
        layer(x).backward(dy)

    return step


def minidl_ce(n):
    crit = nn.CrossEntropyLoss()
    z = np.random.default_rng(0).standard_normal((n, 10)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 10, n)

    def step():
        crit(z, y)
        crit.backward()

    return step


def torch_ce(torch, n):
    crit = torch.nn.CrossEntropyLoss()
    z = torch.randn(n, 10, requires_grad=True)
    y = torch.randint(0, 10, (n,))

    def step():
        crit(z, y).backward()

    return step


def best(fn, repeat):
    """Fastest per-call time over ``repeat`` samples."""
    return measure(fn, repeat=repeat, min_time=0.01, warmup=1, statistic="min")


TIMER = [measure]


def compare(make_minidl, make_torch, torch, repeat):
    timer = TIMER[0]
    times = {}
    for name in backend.available():
        with backend.using(name):
            times[name] = timer(make_minidl(), repeat=repeat)
    if torch is not None:
        times["torch"] = timer(make_torch(torch), repeat=repeat)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--best", action="store_true", help="report the fastest sample, not the median")
    args = parser.parse_args()
    repeat = 5 if args.quick else 15
    if args.best:
        TIMER[0], repeat = best, 3 * repeat
    torch = try_import_torch()
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    if torch is not None and threads:
        torch.set_num_threads(int(threads))
    print(environment_line(), f"OPENBLAS_NUM_THREADS={threads or 'unset'}", "best-of" if args.best else "median", f"| torch {torch.__version__ if torch else 'not installed'}")

    rows = []
    for n in (1, 32, 128, 1024):
        note = "target ≤ 100 µs" if n == 1 else ""
        rows.append((f"plain MLP step N={n}",
                     compare(lambda n=n: minidl_mlp_step(n), lambda t, n=n: torch_mlp_step(t, n), torch, repeat), note))
    print_table("plain MLP 784-256-128-10 training step (float32)", rows)

    rows = [(f"Linear(784, 256) fwd+bwd N={n}",
             compare(lambda n=n: minidl_linear(n), lambda t, n=n: torch_linear(t, n), torch, repeat), "")
            for n in (1, 32, 128, 1024)]
    rows += [(f"CrossEntropyLoss fwd+bwd ({n}, 10)",
              compare(lambda n=n: minidl_ce(n), lambda t, n=n: torch_ce(t, n), torch, repeat), "")
             for n in (32, 1024)]
    print_table("layers (float32)", rows)


if __name__ == "__main__":
    main()
