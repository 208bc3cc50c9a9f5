"""A/B of bench_optim's workloads between two minidl checkouts, in ONE process.

    python benchmarks/ab_optim.py OLD_CHECKOUT NEW_CHECKOUT [--pairs 300] [--wall]
    e.g. python benchmarks/ab_optim.py /work/wt/optim-base .

Both checkouts must have their extensions built in place (``python setup.py build_ext
--inplace``). Each is imported under the name ``minidl`` in turn and its modules are kept
side by side (two ``optim``/``Parameter``/kernel sets in one interpreter), then every row of
bench_optim.py (this directory's copy, so both sides run the same workload) is timed as
interleaved pairs — A then B, B then A, alternately — so that load from other processes
and frequency drift hit both sides alike. A sample is the CPU time of this thread
(``thread_time``; ``--wall`` for the wall clock) over enough ``optimizer.step()`` calls
to take ~2 ms. Printed: the median per side and NEW/OLD, with the interquartile range of
the per-pair ratios.

Where the arrays land matters as much as the code: an A/A run (the same checkout twice)
with one set of arrays per side differed by up to 10 % on a row (parameter, gradient and
state buffers whose addresses agree in their low 12 bits stall each other: 4K aliasing).
So each row is measured on ``--layouts`` fresh sets of arrays per side (built in
alternating order, after a random-sized allocation), and the medians pool all of them.
"""
import random
import argparse
import gc
import importlib
import importlib.util
import os
import statistics
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _drop_minidl():
    return {name: sys.modules.pop(name) for name in list(sys.modules)
            if name == "minidl" or name.startswith("minidl.")}


def load_checkout(path, tag):
    """Import ``path``'s minidl and this directory's bench_optim bound to it; return the
    bench module (its ``optim``, ``Parameter``, ``backend`` are that checkout's)."""
    path = os.path.abspath(path)
    _drop_minidl()
    sys.path.insert(0, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # an old checkout may lack unrelated kernels
            minidl = importlib.import_module("minidl")
            if not os.path.abspath(minidl.__file__).startswith(path + os.sep):
                raise SystemExit(f"{path}: imported minidl from {minidl.__file__} instead")
            if "cython" not in minidl.backend.available():
                raise SystemExit(f"{path}: compiled kernels not built (python setup.py build_ext --inplace)")
            minidl.backend.use("cython")
            spec = importlib.util.spec_from_file_location(f"_bench_optim_{tag}",
                                                          os.path.join(HERE, "bench_optim.py"))
            bench = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(bench)
            from minidl._kernels import kernels
            missing = [n for n in ("sgd_update", "adam_update", "adagrad_update", "rprop_update",
                                   "rmsprop_update") if getattr(kernels, n).__module__.startswith("minidl._kernels.reference")]
            if missing:
                raise SystemExit(f"{path}: optimizer kernels not compiled: {missing}")
            # minidl imports lazily: resolve everything a step touches while this checkout
            # is the one in sys.modules (a later lazy import would load the installed one)
            for name in dir(bench.optim):
                getattr(bench.optim, name)
            for _, make, _ in bench.CASES:
                bench.minidl_step(make)()
    finally:
        sys.path.remove(path)
    bench._ab_modules = _drop_minidl()        # keep them alive; the next import starts afresh
    return bench


def calls_for(step, clock, target):
    number = 1
    while True:
        t0 = clock()
        for _ in range(number):
            step()
        if clock() - t0 >= target or number >= 1 << 16:
            return number
        number *= 2


def ab_case(step_a, step_b, pairs, clock, target=0.002):
    for _ in range(20):
        step_a()
        step_b()
    number = max(calls_for(step_a, clock, target), calls_for(step_b, clock, target))
    a, b = [], []
    for k in range(pairs):
        order = ((step_a, a), (step_b, b)) if k % 2 == 0 else ((step_b, b), (step_a, a))
        for step, out in order:
            t0 = clock()
            for _ in range(number):
                step()
            out.append((clock() - t0) / number)
    return a, b


def quartiles(xs):
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--pairs", type=int, default=300, help="pairs per row (over all layouts)")
    parser.add_argument("--layouts", type=int, default=6, help="fresh array sets per side and row")
    parser.add_argument("--wall", action="store_true", help="wall clock instead of thread CPU time")
    parser.add_argument("--only", default="", help="comma-separated substrings of row labels")
    args = parser.parse_args()
    clock = time.perf_counter if args.wall else time.thread_time
    old = load_checkout(args.old, "old")
    new = load_checkout(args.new, "new")
    only = [s.strip().lower() for s in args.only.split(",") if s.strip()]
    print(f"A = {os.path.abspath(args.old)}\nB = {os.path.abspath(args.new)}\n"
          f"{args.pairs} interleaved pairs per row over {args.layouts} array layouts, "
          f"{'wall clock' if args.wall else 'thread CPU time'}, one process, "
          f"optimizer.step() on bench_optim's 10 float32 tensors")
    print("| workload | A median | B median | B/A | per-pair B/A IQR |")
    print("|---|---|---|---|---|")
    gc.disable()
    worst = 0.0
    for (label, make_old, _), (_, make_new, _) in zip(old.CASES, new.CASES):
        if only and not any(s in label.lower() for s in only):
            continue
        a, b = [], []
        for layout in range(args.layouts):
            shift = np.empty(random.randrange(1, 4096 * 8), np.uint8)    # moves the heap's next arrays
            if layout % 2:
                step_b, step_a = new.minidl_step(make_new), old.minidl_step(make_old)
            else:
                step_a, step_b = old.minidl_step(make_old), new.minidl_step(make_new)
            more_a, more_b = ab_case(step_a, step_b, max(1, args.pairs // args.layouts), clock)
            a += more_a
            b += more_b
            del shift, step_a, step_b
        ratio = statistics.median(b) / statistics.median(a)
        lo, hi = quartiles([y / x for x, y in zip(a, b)])
        worst = max(worst, ratio)
        print(f"| {label} | {statistics.median(a) * 1e6:.1f} µs | {statistics.median(b) * 1e6:.1f} µs "
              f"| {ratio:.3f} | {lo:.3f}–{hi:.3f} |", flush=True)
    gc.enable()
    if any(name == "minidl" or name.startswith("minidl.") for name in sys.modules):
        print("WARNING: a minidl module was imported lazily during the run (neither checkout's)")
    print(f"\nworst B/A: {worst:.3f}")


if __name__ == "__main__":
    main()
