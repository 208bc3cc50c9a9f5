"""One BLAS thread for minidl's own matrix products once its convolution threads are in use.

Why: NumPy's OpenBLAS keeps its worker threads spinning for a while after every multi-threaded
GEMM, and on a small machine they take the core that the convolution kernels' thread pool
(``threadpool.h``) needs next. Measured on 2 cores, the small CNN of
``benchmarks/bench_conv.py`` (conv-ReLU-pool ×2, Linear head): 7.8–8.3 ms per step when the
head's 25 µs GEMMs use two OpenBLAS threads, 5.9–6.0 ms when they use one (PyTorch: 6.2 ms).
A GEMM that small gains ~15 µs from a second thread; the spinning costs the next convolution
~1 ms.

How: this module finds OpenBLAS's ``set/get_num_threads`` in the process (NumPy's bundled
scipy-openblas, or a system libopenblas). Once a convolution has run on more than one thread,
``gemm_threads_limited()`` is True and minidl's Linear kernels switch OpenBLAS to one thread
around their own calls and restore the previous count after, so NumPy calls in the user's
code keep their threads. (Strided convolutions' im2col GEMMs are larger and keep both
threads: one thread made them slower than the spinning costs.) Nothing changes in a model without
convolutions, with a NumPy built on another BLAS, or with ``MINIDL_GEMM_THREADS=keep``.
"""
import ctypes
import glob
import os


_SET_GET = [
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
]


def _candidate_libraries():
    import numpy
    bundled = os.path.join(os.path.dirname(numpy.__file__), os.pardir, "numpy.libs", "*openblas*")
    paths = sorted(glob.glob(bundled))
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "openblas" in os.path.basename(path) and path not in paths and os.path.exists(path):
                    paths.append(path)
    except OSError:
        pass
    return paths


def _find_openblas():
    """(set_address, get_address) of OpenBLAS's thread-count functions, or (0, 0)."""
    if os.environ.get("MINIDL_GEMM_THREADS", "auto").strip().lower() == "keep":
        return 0, 0
    for path in _candidate_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _SET_GET:
            if hasattr(lib, set_name) and hasattr(lib, get_name):
                return (ctypes.cast(getattr(lib, set_name), ctypes.c_void_p).value or 0,
                        ctypes.cast(getattr(lib, get_name), ctypes.c_void_p).value or 0)
    return 0, 0


SET_ADDRESS, GET_ADDRESS = _find_openblas()
state = {"conv_threads_used": False}


def gemm_threads_limited() -> bool:
    """True when minidl runs its own GEMMs on one OpenBLAS thread (see the module docstring)."""
    return bool(SET_ADDRESS) and state["conv_threads_used"]
