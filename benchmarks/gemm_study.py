"""GEMM study (issue 15 item 2): which matrix product should Linear use on minidl's shapes?

    python benchmarks/gemm_study.py            # full
    python benchmarks/gemm_study.py --quick

For the three products of a Linear layer (float32) at the MLP's shapes and a few wide ones:

    forward   y  = x Wᵀ     (N, out) = (N, in)·(in, out)       B transposed
    weight    dW = dyᵀ x    (out, in) = (out, N)·(N, in)        A transposed
    input     dx = dy W     (N, in) = (N, out)·(out, in)

it times, single-threaded, NumPy's OpenBLAS (threadpoolctl limit 1), the ``blis`` package
(thinc's BLIS, nogil Cython API), ``scipy-openblas32`` called through CBLAS with its thread
count set explicitly, and minidl's own packed micro-kernel (minidl/_kernels/gemm.pyx, the
ISA it dispatched to is printed); plus NumPy's OpenBLAS on its default threads.

GFLOP/s are given per second of CPU time the process got (``time.process_time``: on a
machine shared by other users the wall clock mostly measures them), next to the single-core
FMA peak measured the same way by benchmarks/fma_peak.c (compiled here with the system C
compiler when there is one). Medians of the repeats. The packages that are not installed are
skipped (``pip install blis scipy-openblas32``).
"""
import argparse
import ctypes
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SHAPES = [  # (label, N, in, out): the MLP 784-256-128-10's layers, and wide layers
    ("784→256", 32, 784, 256), ("784→256", 128, 784, 256), ("784→256", 1024, 784, 256),
    ("256→128", 128, 256, 128), ("256→128", 1024, 256, 128),
    ("1024→1024", 1024, 1024, 1024), ("4096→4096", 256, 4096, 4096),
]


def fma_peak():
    """(AVX-512, AVX2) single-core float32 FMA peak in GFLOP/s per CPU-second, or None."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    out = {}
    tmp = tempfile.mkdtemp(prefix="minidl-peak-")
    try:
        for name, flags in (("avx512", ["-mavx512f", "-mfma"]), ("avx2", ["-mavx2", "-mfma", "-DVBYTES=32"])):
            exe = os.path.join(tmp, name)
            if subprocess.call([cc, "-O2", *flags, os.path.join(HERE, "fma_peak.c"), "-o", exe]) != 0:
                continue
            try:
                runs = [float(subprocess.run([exe, "30000000"], capture_output=True, text=True,
                                             check=True).stdout.split()[1]) for _ in range(3)]
            except (subprocess.CalledProcessError, OSError):   # the CPU lacks the instructions
                continue
            out[name] = max(runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def cpu_time(fn, repeat, min_time=0.05):
    """Median CPU seconds (all threads of this process) per call of fn()."""
    fn()
    number = 1
    while True:
        t0 = time.process_time()
        for _ in range(number):
            fn()
        if time.process_time() - t0 >= min_time or number >= 4096:
            break
        number *= 2
    samples = []
    for _ in range(repeat):
        t0 = time.process_time()
        for _ in range(number):
            fn()
        samples.append((time.process_time() - t0) / number)
    return statistics.median(samples)


def products(n, fan_in, fan_out, rng):
    """[(name, A, B, trans_a, trans_b, C)] with C = op(A)·op(B) for the three products."""
    f = np.float32
    x = rng.standard_normal((n, fan_in)).astype(f)
    w = rng.standard_normal((fan_out, fan_in)).astype(f)
    dy = rng.standard_normal((n, fan_out)).astype(f)
    return [("fwd x·Wᵀ", x, w, False, True, np.empty((n, fan_out), f)),
            ("dW dyᵀ·x", dy, x, True, False, np.empty((fan_out, fan_in), f)),
            ("dx dy·W", dy, w, False, False, np.empty((n, fan_in), f))]


def _op(a, t):
    return a.T if t else a


def numpy_gemm(a, b, ta, tb, c):
    return lambda: np.matmul(_op(a, ta), _op(b, tb), out=c)


def blis_gemm():
    try:
        from blis.py import gemm
    except ImportError:
        return None
    return lambda a, b, ta, tb, c: (lambda: gemm(a, b, out=c, trans1=ta, trans2=tb, beta=0.0))


def scipy_openblas_gemm(threads=1):
    try:
        import scipy_openblas32
    except ImportError:
        return None
    libs = glob.glob(os.path.join(scipy_openblas32.get_lib_dir(), "*openblas*.so*")) + \
        glob.glob(os.path.join(scipy_openblas32.get_lib_dir(), "*openblas*.dll"))
    if not libs:
        return None
    lib = ctypes.CDLL(libs[0])
    lib.scipy_openblas_set_num_threads(threads)
    sgemm = lib.scipy_cblas_sgemm
    sgemm.restype = None
    i, fl, p = ctypes.c_int, ctypes.c_float, ctypes.c_void_p
    sgemm.argtypes = [i, i, i, i, i, i, fl, p, i, p, i, fl, p, i]
    row_major, no, tr = 101, 111, 112

    def make(a, b, ta, tb, c):
        m, n = c.shape
        k = a.shape[0] if ta else a.shape[1]
        args = (row_major, tr if ta else no, tr if tb else no, m, n, k, 1.0, a.ctypes.data, a.shape[1],
                b.ctypes.data, b.shape[1], 0.0, c.ctypes.data, n)
        return lambda: sgemm(*args)

    return make


def minidl_gemm():
    try:
        from minidl._kernels import gemm as g
    except ImportError:
        return None, None
    return (lambda a, b, ta, tb, c: (lambda: g.gemm(a, b, c, ta, tb, False))), g.gemm_isa()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 5 if args.quick else 11
    from threadpoolctl import threadpool_info, threadpool_limits

    peak = fma_peak()
    numpy_blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    print("NumPy BLAS:", ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')}"
                                   f" {i['num_threads']} threads" for i in numpy_blas))
    print("OPENBLAS_CORETYPE =", os.environ.get("OPENBLAS_CORETYPE", "unset"))
    if peak:
        print("FMA peak, one core, float32 (GFLOP/s per CPU-second):",
              ", ".join(f"{k} {v:.0f}" for k, v in peak.items()))
    mine, isa = minidl_gemm()
    options = [("numpy 1 thr", "np1"), ("blis", blis_gemm()), ("scipy-openblas32 1 thr", scipy_openblas_gemm(1)),
               (f"minidl {isa}", mine), ("numpy default thr", "npN")]
    options = [(name, fn) for name, fn in options if fn is not None]
    ref = peak.get("avx512") or peak.get("avx2") if peak else None
    print("\n| shape (N, in→out) | product | " + " | ".join(name for name, _ in options) + " | best 1-thread |")
    print("|" + "---|" * (len(options) + 3))
    rng = np.random.default_rng(0)
    for label, n, fan_in, fan_out in SHAPES:
        for pname, a, b, ta, tb, c in products(n, fan_in, fan_out, rng):
            m, nn = c.shape
            k = a.shape[0] if ta else a.shape[1]
            flop = 2.0 * m * nn * k
            expect = _op(a, ta).astype(np.float64) @ _op(b, tb).astype(np.float64)
            cells, best = [], (0, "")
            for name, make in options:
                if make in ("np1", "npN"):
                    fn = numpy_gemm(a, b, ta, tb, c)
                    if make == "np1":
                        with threadpool_limits(1, user_api="blas"):
                            t = cpu_time(fn, repeat)
                    else:
                        t = cpu_time(fn, repeat)
                else:
                    fn = make(a, b, ta, tb, c)
                    t = cpu_time(fn, repeat)
                fn()
                err = np.abs(c - expect).max() / (np.abs(expect).max() + 1e-30)
                gf = flop / t / 1e9
                pct = f" ({100 * gf / ref:.0f}%)" if ref else ""
                cells.append(f"{gf:.0f}{pct}" + (" WRONG" if err > 1e-4 else ""))
                if make != "npN" and gf > best[0]:
                    best = (gf, name)
            print(f"| N={n} {label} | {pname} | " + " | ".join(cells) + f" | {best[1]} |")
    print("\nGFLOP/s per CPU-second (all threads of the process), medians; (%) of the AVX-512 FMA peak.")


if __name__ == "__main__":
    main()
