"""How long ``import minidl`` takes over NumPy's own import (target: <= 150 ms over NumPy).

    python tools/import_time.py [--runs 15]

Each run is a fresh interpreter; the two imports alternate so machine load hits both alike.
Prints medians of wall time (measured inside the child) and of the child's CPU time (user +
sys, whole process: steadier than wall time on a shared machine), and the differences.
"""
import argparse
import resource
import statistics
import subprocess
import sys

CODE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def measure(module):
    """(wall seconds of the import, CPU seconds of the whole child process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", CODE.format(module=module)], capture_output=True, text=True,
                         check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(out.stdout.strip().splitlines()[-1]), cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    subprocess.run([sys.executable, "-c", "import minidl"], check=True)   # warm the file cache, compile .pyc
    runs = {"numpy": [], "minidl": []}
    for _ in range(args.runs):
        for module in runs:
            runs[module].append(measure(module))
    med = {m: [statistics.median(col) * 1e3 for col in zip(*r)] for m, r in runs.items()}
    print(f"medians of {args.runs} runs       wall     CPU")
    print(f"import numpy              {med['numpy'][0]:6.1f}  {med['numpy'][1]:6.1f} ms")
    print(f"import minidl (+NumPy)    {med['minidl'][0]:6.1f}  {med['minidl'][1]:6.1f} ms")
    print(f"minidl over NumPy         {med['minidl'][0] - med['numpy'][0]:6.1f}  "
          f"{med['minidl'][1] - med['numpy'][1]:6.1f} ms   (target <= 150 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
