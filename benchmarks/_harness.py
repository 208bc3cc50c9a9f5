"""Tiny timing harness shared by the benchmark scripts.

Timings on a shared 2-core machine are noisy: we report the median of ``repeat`` runs
(each the mean of ``number`` calls) and compare implementations *in the same run*.
"""
import os
import statistics
import time

import numpy as np


CLOCK = [time.perf_counter]


def use_cpu_time():
    """Time with the CPU seconds this process gets (``time.process_time``) instead of the
    wall clock: on a machine shared with other users' jobs the wall clock mostly measures
    them. Fair only when every contender runs on one thread (OPENBLAS_NUM_THREADS=1, torch
    with one thread): a spinning worker thread would be billed too."""
    CLOCK[0] = time.process_time


def add_cpu_time_option(parser):
    """--cpu-time on a benchmark's command line; call ``apply_cpu_time_option(args)`` after parsing."""
    parser.add_argument("--cpu-time", action="store_true",
                        help="time CPU seconds, not wall clock (with OPENBLAS_NUM_THREADS=1 and one torch "
                             "thread: the mode for a loaded machine)")


def apply_cpu_time_option(args):
    if args.cpu_time:
        use_cpu_time()


def measure(fn, number=None, repeat=15, min_time=0.02, warmup=3, statistic="median"):
    """Median (or, with ``statistic="min"``, fastest) seconds per call of ``fn()``.

    The fastest sample shows what the code can do when other processes leave it alone.

    ``number`` calls per sample are chosen so one sample takes >= ``min_time`` unless given.
    """
    clock = CLOCK[0]
    for _ in range(warmup):
        fn()
    if number is None:
        number, elapsed = 1, 0.0
        while True:
            t0 = clock()
            for _ in range(number):
                fn()
            elapsed = clock() - t0
            if elapsed >= min_time or number >= 1 << 20:
                break
            number *= 2
    samples = []
    for _ in range(repeat):
        t0 = clock()
        for _ in range(number):
            fn()
        samples.append((clock() - t0) / number)
    if statistic == "min":
        return min(samples)
    if statistic != "median":
        raise ValueError(f"statistic must be 'median' or 'min', got {statistic!r}")
    return statistics.median(samples)


def backward_only(layer, grad_output):
    """A closure timing ``layer.backward`` alone: forward's saved state is used once
    (Module._saved_for_backward), so each call puts back what the last forward saved."""
    saved = layer.__dict__["_saved"][1]

    def step():
        layer._save_for_backward(*saved)
        return layer.backward(grad_output)

    return step


def fmt_time(seconds):
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def try_import_torch():
    """torch (single process, default threads) or None when it is not installed."""
    if os.environ.get("MINIDL_BENCH_NO_TORCH"):
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


COLUMN_NAMES = {"cython": "minidl", "numpy": "minidl NumPy twin", "plain": "plain NumPy", "torch": "torch"}


def print_table(title, rows, columns=("cython", "numpy", "torch")):
    """rows: list of (label, {column: seconds or None}, note). Prints times and ratios.

    Columns: ``cython`` (minidl's compiled backend), ``numpy`` (minidl with its NumPy twin
    kernels), ``plain`` (hand-written NumPy code, no minidl), ``torch``. Every other column is
    divided by ``cython``: a ratio > 1 means minidl's compiled backend is faster.
    """
    others = [c for c in columns if c != "cython"]
    print(f"\n## {title}")
    head = ("| workload | " + " | ".join(COLUMN_NAMES.get(c, c) for c in columns) + " | "
            + " | ".join(f"{c}/cython" for c in others) + " | note |")
    print(head)
    print("|" + "---|" * (len(columns) + len(others) + 2))
    for label, times, note in rows:
        cells = [fmt_time(times[c]) if times.get(c) else "—" for c in columns]
        base = times.get("cython")
        ratios = [f"{times[c] / base:.2f}×" if base and times.get(c) else "—" for c in others]
        print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + f" | {note} |")


def environment_line():
    import minidl

    blas = ""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:
        pass
    return (f"minidl {minidl.__version__}, numpy {np.__version__} ({blas}), "
            f"{os.cpu_count()} cpus, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
