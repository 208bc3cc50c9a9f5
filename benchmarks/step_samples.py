"""Training steps timed one at a time, for a machine shared with other jobs (float32).

    python benchmarks/step_samples.py              # MLP plain and BN+dropout, MHA, RNN
    python benchmarks/step_samples.py --only mlp   # or: bn, seq

bench_dense.py / bench_seq.py report the median of 15 samples, each the mean of many steps:
on a quiet machine that is the figure to quote, but while other processes hold a core, a
sample that spans a few of their time slices measures them (and a multi-threaded BLAS whose
worker waits for a core can take 10-100x longer). Here every sample is one step, the
implementations alternate in rounds, and the table gives the fastest step and the 10th
percentile: what each implementation does when the machine leaves it both cores. Same
workloads as bench_dense.py (784-256-128-10 MLP, SGD) and bench_seq.py (MultiHeadAttention
E=128 h=4 on (32, 64, 128), RNN T=50 N=32 H=128): minidl (compiled), plain NumPy and torch.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import environment_line, fmt_time, try_import_torch  # noqa: E402
from bench_foundation import _batches, minidl_step, torch_step  # noqa: E402
from bench_seq import minidl_fwd_bwd, torch_fwd_bwd  # noqa: E402
import _plain_numpy  # noqa: E402

from minidl import nn  # noqa: E402


def samples(fn, count):
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def compare(label, fns, count, rounds=4):
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(3):
                fn()
            times[name] += samples(fn, count)
    cells, p10 = [], {}
    for name, values in times.items():
        values.sort()
        p10[name] = values[len(values) // 10]
        cells.append(f"{fmt_time(values[0])} / {fmt_time(p10[name])}")
    others = [p10[name] for name in ("plain", "torch") if name in p10]
    print(f"| {label} | " + " | ".join(cells) + f" | {min(others) / p10['minidl']:.2f}× |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("mlp", "bn", "seq"), default=None)
    args = parser.parse_args()
    torch = try_import_torch()
    print(environment_line(), f"| torch {torch.__version__ if torch else 'not installed'}")
    print("\nfastest step / 10th percentile; last column: min(plain, torch) ÷ minidl at the 10th percentile")
    print("| workload | minidl | plain NumPy | torch | best other ÷ minidl |\n|---|---|---|---|---|")
    for bn_dropout, sizes in ((False, (1, 32, 128, 1024)), (True, (32, 128, 1024))):
        if args.only and args.only != ("bn" if bn_dropout else "mlp"):
            continue
        momentum = 0.9 if bn_dropout else 0.0
        for n in sizes:
            fns = {"minidl": minidl_step(n, bn_dropout, momentum=momentum),
                   "plain": _plain_numpy.mlp_step(_batches(n), bn_dropout, momentum=momentum)}
            if torch is not None:
                fns["torch"] = torch_step(torch, n, bn_dropout, momentum=momentum)
            compare(f"{'BN+dropout' if bn_dropout else 'plain'} MLP step N={n}", fns, 200 if n <= 128 else 40)
    if args.only in (None, "seq"):
        rng = np.random.default_rng(0)
        n, length, e, heads = 32, 64, 128, 4
        x = rng.standard_normal((n, length, e)).astype(np.float32)
        g = rng.standard_normal((n, length, e)).astype(np.float32)
        fns = {"minidl": minidl_fwd_bwd(nn.MultiHeadAttention(e, heads, rng=np.random.default_rng(1)), x, g),
               "plain": _plain_numpy.attention_step(x, g, heads)}
        if torch is not None:
            fns["torch"] = torch_fwd_bwd(torch, torch.nn.MultiheadAttention(e, heads, batch_first=True), x, g,
                                         lambda m, t: m(t, t, t, need_weights=False)[0])
        compare(f"MultiHeadAttention fwd+bwd N={n} L={length} E={e} heads={heads}", fns, 30)
        n, steps, hidden = 32, 50, 128
        x = rng.standard_normal((n, steps, hidden)).astype(np.float32)
        g = rng.standard_normal((n, steps, hidden)).astype(np.float32)
        fns = {"minidl": minidl_fwd_bwd(nn.RNN(hidden, hidden, rng=np.random.default_rng(1)), x, g),
               "plain": _plain_numpy.rnn_step(x, g)}
        if torch is not None:
            fns["torch"] = torch_fwd_bwd(torch, torch.nn.RNN(hidden, hidden, batch_first=True), x, g,
                                         lambda m, t: m(t)[0])
        compare(f"RNN(tanh) fwd+bwd T={steps} N={n} H={hidden}", fns, 30)


if __name__ == "__main__":
    main()
