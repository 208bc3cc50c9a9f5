"""One BLAS thread for minidl's own matrix products once its convolution threads are in use.

Why: NumPy's OpenBLAS keeps its worker threads spinning for a while after every multi-threaded
GEMM, and on a small machine they take the core that the convolution kernels' thread pool
(``native/threadpool.h``) needs next. Measured on 2 cores, the small CNN of
``benchmarks/bench_conv.py`` (conv-ReLU-pool ×2, Linear head): 7.8–8.3 ms per step when the
head's 25 µs GEMMs use two OpenBLAS threads, 5.9–6.0 ms when they use one (PyTorch: 6.2 ms).
A GEMM that small gains ~15 µs from a second thread; the spinning costs the next convolution
~1 ms. (Strided convolutions' im2col GEMMs are larger and keep both threads: one thread made
them slower than the spinning costs.)

How, in three steps, all here:

1. Find: threadpoolctl finds the OpenBLAS that NumPy loaded (bundled scipy-openblas or a
   system one) and its symbol names; this module takes the addresses of its
   ``openblas_set/get_num_threads`` from that library. Only for OpenBLAS's pthreads build
   (with an OpenMP build the OpenBLAS call does not limit the calling thread); nothing is
   found with another BLAS or with ``MINIDL_GEMM_THREADS=keep``.
2. Decide: ``limit_gemm_threads()`` is called by the convolution kernels the first time they
   run on more than one thread; from then on ``policy.limited`` is True. The search of step 1
   happens then, once, so ``import minidl`` does not pay for it.
3. Apply: minidl's Linear kernels (linear.pyx) switch OpenBLAS to one thread around their
   own GEMMs and restore the previous count after, so NumPy calls in the user's code keep
   their threads. They call the two C functions through the addresses found in step 1: a
   C call is ~10 ns, threadpoolctl's ``set_num_threads`` ~2 µs (measured), and the switch
   happens twice per GEMM.
"""
import ctypes
import os


class _Policy:
    """Module-wide: linear.pyx reads ``limited`` on every call (one attribute lookup) and,
    when it is True, the two function addresses."""

    __slots__ = ("limited", "searched", "set_address", "get_address")

    def __init__(self):
        self.limited = self.searched = False
        self.set_address = self.get_address = 0


policy = _Policy()

_SYMBOLS = [(f"{prefix}openblas_set_num_threads{suffix}", f"{prefix}openblas_get_num_threads{suffix}")
            for prefix in ("scipy_", "") for suffix in ("64_", "_64", "")]


def _find_openblas():
    """(set_address, get_address) of the loaded OpenBLAS's thread-count functions, or (0, 0)."""
    if os.environ.get("MINIDL_GEMM_THREADS", "auto").strip().lower() == "keep":
        return 0, 0
    try:
        import numpy  # noqa: F401  (loads NumPy's BLAS so threadpoolctl can see it)
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return 0, 0
    for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        if getattr(lib, "threading_layer", None) != "pthreads":
            continue
        for set_name, get_name in _SYMBOLS:
            set_fn, get_fn = getattr(lib.dynlib, set_name, None), getattr(lib.dynlib, get_name, None)
            if set_fn is not None and get_fn is not None:
                return (ctypes.cast(set_fn, ctypes.c_void_p).value or 0,
                        ctypes.cast(get_fn, ctypes.c_void_p).value or 0)
    return 0, 0


def openblas_functions():
    """(set_address, get_address) of OpenBLAS's thread-count functions, (0, 0) if not found;
    searched once."""
    if not policy.searched:
        policy.set_address, policy.get_address = _find_openblas()
        policy.searched = True
    return policy.set_address, policy.get_address


def limit_gemm_threads() -> None:
    """From now on, run minidl's own GEMMs on one OpenBLAS thread (if OpenBLAS was found)."""
    policy.limited = bool(openblas_functions()[0])


def gemm_threads_limited() -> bool:
    """True when minidl runs its own GEMMs on one OpenBLAS thread (see the module docstring)."""
    return policy.limited
