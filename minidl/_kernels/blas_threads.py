"""NumPy's OpenBLAS, for minidl's own matrix products: found once, called from C.

Why: the Linear kernels (linear.pyx) run OpenBLAS's ``cblas_sgemm`` / ``cblas_dgemm``
themselves, as independent single-threaded products side by side on minidl's thread pool
(native/linear_tasks.h): dx = dy W on one core while dW = dyᵀ x runs on the other, or the
halves of one product. Measured on 2 cores (benchmarks/bench_dense.py): OpenBLAS's own
threading of one small product pays a thread hand-off per call, and its idle workers keep
spinning into whatever runs next — on a loaded machine a 0.6 ms step took 1.6–12 ms that way.
(The convolution has the same neighbour problem: the small CNN of bench_conv.py took 7.8–8.3 ms
per step with its Linear head's GEMMs on two OpenBLAS threads, 5.9–6.0 ms on one.)

How, all here:

1. Find: threadpoolctl finds the OpenBLAS that NumPy loaded (bundled scipy-openblas, 64-bit
   integers, or a system one) and its symbol names; this module takes the addresses of
   ``openblas_set/get_num_threads`` and ``cblas_sgemm/dgemm`` from that library. Only for
   OpenBLAS's pthreads build (with an OpenMP build the count does not apply to the calling
   thread); nothing is found with another BLAS or with ``MINIDL_GEMM_THREADS=keep``, and the
   Linear kernels then use minidl's own packed GEMM (native/gemm.h).
2. When: at the first Linear kernel call (or convolution), once, so ``import minidl`` does
   not pay for threadpoolctl.
3. Apply: around its products linear.pyx sets OpenBLAS to one thread and restores the count
   after (the first caller in saves it, the last out restores it), through the C functions
   (~10 ns a call; threadpoolctl's ``set_num_threads`` takes ~2 µs), so NumPy calls in the
   user's code keep their threads.
"""
import ctypes
import os


class _Policy:
    """Module-wide: conv.pyx reads ``limited`` (one attribute lookup); linear.pyx takes the
    addresses once."""

    __slots__ = ("limited", "searched", "set_address", "get_address", "sgemm_address", "dgemm_address",
                 "int64")

    def __init__(self):
        self.limited = self.searched = self.int64 = False
        self.set_address = self.get_address = self.sgemm_address = self.dgemm_address = 0


policy = _Policy()

_AFFIXES = [(prefix, suffix) for prefix in ("scipy_", "") for suffix in ("64_", "_64", "")]


def _address(dynlib, name):
    fn = getattr(dynlib, name, None)
    return 0 if fn is None else (ctypes.cast(fn, ctypes.c_void_p).value or 0)


def _find_openblas():
    """{set, get, sgemm, dgemm: addresses, int64: bool} of the loaded OpenBLAS (pthreads build),
    or None."""
    try:
        import numpy  # noqa: F401  (loads NumPy's BLAS so threadpoolctl can see it)
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        if getattr(lib, "threading_layer", None) != "pthreads":
            continue
        for prefix, suffix in _AFFIXES:
            found = {"set": _address(lib.dynlib, f"{prefix}openblas_set_num_threads{suffix}"),
                     "get": _address(lib.dynlib, f"{prefix}openblas_get_num_threads{suffix}"),
                     "sgemm": _address(lib.dynlib, f"{prefix}cblas_sgemm{suffix}"),
                     "dgemm": _address(lib.dynlib, f"{prefix}cblas_dgemm{suffix}"),
                     "int64": suffix != ""}     # the 64-bit-integer builds carry a 64 suffix
            if all(found[k] for k in ("set", "get", "sgemm", "dgemm")):
                return found
    return None


def _search():
    if not policy.searched:
        found = None if _keep() else _find_openblas()
        if found is not None:
            policy.set_address, policy.get_address = found["set"], found["get"]
            policy.sgemm_address, policy.dgemm_address, policy.int64 = found["sgemm"], found["dgemm"], found["int64"]
        policy.searched = True


def openblas_functions():
    """(set_address, get_address) of OpenBLAS's thread-count functions, (0, 0) if not found;
    searched once."""
    _search()
    return policy.set_address, policy.get_address


def openblas_gemm():
    """(sgemm_address, dgemm_address, int64) of OpenBLAS's cblas_sgemm / cblas_dgemm ((0, 0,
    False) when NumPy's BLAS is not a pthreads OpenBLAS, or ``MINIDL_GEMM_THREADS=keep``):
    what linear.pyx calls, one OpenBLAS thread per call, on its own threads."""
    _search()
    return policy.sgemm_address, policy.dgemm_address, policy.int64


def _keep():
    return os.environ.get("MINIDL_GEMM_THREADS", "auto").strip().lower() == "keep"


def limit_gemm_threads() -> None:
    """Called by the convolution once it runs threaded: finds OpenBLAS (Linear's products
    already run on one OpenBLAS thread each; ``policy.limited`` records the call)."""
    policy.limited = bool(openblas_functions()[0])


def gemm_threads_limited() -> bool:
    """True when minidl's Linear products run OpenBLAS on one thread per product (OpenBLAS
    found; see the module docstring)."""
    return bool(openblas_functions()[0])
