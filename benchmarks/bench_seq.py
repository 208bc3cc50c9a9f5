"""Sequence layers benchmark: RNN and multi-head attention, forward + backward (float32, one run).

    python benchmarks/bench_seq.py            # full
    python benchmarks/bench_seq.py --quick    # fewer repeats

Workloads (layer level, as in training: forward, then backward of a fixed output gradient):
  * RNN(tanh), T = 50, N = 32, input = hidden = 128, batch first
  * MultiHeadAttention(E = 128, 4 heads) self-attention on (N = 32, L = 64, E = 128)
Columns: minidl's cython backend, minidl with its NumPy twin kernels, the same computation
hand-written in NumPy (benchmarks/_plain_numpy.py) and PyTorch (when installed), all in one
process; ratios X/cython > 1 mean minidl's compiled backend is faster. Target (issue 15):
torch/cython ≥ 1.0.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import (  # noqa: E402
    add_cpu_time_option, apply_cpu_time_option, environment_line, measure, print_table,
    try_import_torch,
)
import _plain_numpy  # noqa: E402

from minidl import backend, nn  # noqa: E402

COLUMNS = ("cython", "numpy", "plain", "torch")


def minidl_fwd_bwd(layer, x, g):
    def step():
        layer.zero_grad()
        layer(x)
        layer.backward(g)

    return step


def torch_fwd_bwd(torch, layer, x, g, call):
    xt = torch.from_numpy(x).requires_grad_(True)
    gt = torch.from_numpy(g)

    def step():
        xt.grad = None
        layer.zero_grad()
        call(layer, xt).backward(gt)

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads(N)")
    add_cpu_time_option(parser)
    args = parser.parse_args()
    apply_cpu_time_option(args)
    repeat = 5 if args.quick else 15
    torch = try_import_torch()
    print(environment_line(), f"| torch {torch.__version__ if torch else 'not installed'}")
    threads = args.torch_threads or int(os.environ.get("OPENBLAS_NUM_THREADS") or 0)
    if torch is not None and threads:
        torch.set_num_threads(threads)       # the same thread count as NumPy's BLAS
    rng = np.random.default_rng(0)
    rows = []

    n, steps, hidden = 32, 50, 128
    x = rng.standard_normal((n, steps, hidden)).astype(np.float32)
    g = rng.standard_normal((n, steps, hidden)).astype(np.float32)
    times = {}
    for name in backend.available():
        with backend.using(name):
            times[name] = measure(minidl_fwd_bwd(nn.RNN(hidden, hidden, rng=np.random.default_rng(1)), x, g),
                                  repeat=repeat)
    times["plain"] = measure(_plain_numpy.rnn_step(x, g), repeat=repeat)
    if torch is not None:
        layer = torch.nn.RNN(hidden, hidden, batch_first=True)
        times["torch"] = measure(torch_fwd_bwd(torch, layer, x, g, lambda m, t: m(t)[0]), repeat=repeat)
    rows.append((f"RNN(tanh) fwd+bwd T={steps} N={n} H={hidden}", times, ""))

    n, length, e, heads = 32, 64, 128, 4
    x = rng.standard_normal((n, length, e)).astype(np.float32)
    g = rng.standard_normal((n, length, e)).astype(np.float32)
    times = {}
    for name in backend.available():
        with backend.using(name):
            layer = nn.MultiHeadAttention(e, heads, rng=np.random.default_rng(1))
            times[name] = measure(minidl_fwd_bwd(layer, x, g), repeat=repeat)
    times["plain"] = measure(_plain_numpy.attention_step(x, g, heads), repeat=repeat)
    if torch is not None:
        layer = torch.nn.MultiheadAttention(e, heads, batch_first=True)
        times["torch"] = measure(torch_fwd_bwd(torch, layer, x, g, lambda m, t: m(t, t, t, need_weights=False)[0]),
                                 repeat=repeat)
    rows.append((f"MultiHeadAttention fwd+bwd N={n} L={length} E={e} heads={heads}", times, ""))
    print_table("sequence layers, forward + backward (float32)", rows, COLUMNS)


if __name__ == "__main__":
    main()
