"""How long ``import minidl`` takes over NumPy's own import (target: <= 150 ms over NumPy).

    python tools/import_time.py [--runs 15]

Each run is a fresh interpreter; the two imports alternate so machine load hits both alike.
Prints the medians and the difference (noisy on a shared machine: compare within one run).
"""
import argparse
import statistics
import subprocess
import sys

CODE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def measure(module, runs):
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", CODE.format(module=module)], capture_output=True, text=True,
                             check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    subprocess.run([sys.executable, "-c", "import minidl"], check=True)   # warm the file cache, compile .pyc
    numpy_times, minidl_times = [], []
    for _ in range(args.runs):
        numpy_times += measure("numpy", 1)
        minidl_times += measure("minidl", 1)
    np_ms, md_ms = statistics.median(numpy_times) * 1e3, statistics.median(minidl_times) * 1e3
    print(f"import numpy : {np_ms:6.1f} ms (median of {args.runs})")
    print(f"import minidl: {md_ms:6.1f} ms (NumPy included)")
    print(f"minidl over NumPy: {md_ms - np_ms:6.1f} ms (target <= 150 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
