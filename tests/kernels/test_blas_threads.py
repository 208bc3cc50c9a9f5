"""minidl/_kernels/blas_threads.py: the OpenBLAS that threadpoolctl finds, its thread-count
and gemm functions; Linear's products run on one OpenBLAS thread each and leave the count NumPy
uses as it was."""
import ctypes
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from minidl import backend
from minidl.nn import Linear

blas_threads = pytest.importorskip("minidl._kernels.blas_threads")
threadpoolctl = pytest.importorskip("threadpoolctl")

SET_ADDRESS, GET_ADDRESS = blas_threads.openblas_functions()
needs_openblas = pytest.mark.skipif(not SET_ADDRESS, reason="NumPy's BLAS is not a pthreads OpenBLAS")


def _openblas_threads():
    return ctypes.CFUNCTYPE(ctypes.c_int)(GET_ADDRESS)()


def _set_openblas_threads(count):
    ctypes.CFUNCTYPE(None, ctypes.c_int)(SET_ADDRESS)(count)


@needs_openblas
def test_found_functions_are_the_library_threadpoolctl_reports():
    """Setting the count through the found address is what threadpoolctl then reads."""
    before = _openblas_threads()
    try:
        for count in (1, 2):
            _set_openblas_threads(count)
            infos = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
            assert any(i["num_threads"] == count for i in infos)
    finally:
        _set_openblas_threads(before)


@needs_openblas
def test_linear_products_leave_the_users_blas_thread_count(kernel_pair):
    """Linear runs OpenBLAS's gemm itself, one OpenBLAS thread per product on its own threads:
    the count NumPy uses is set back after every call, also when two Python threads run
    Linear kernels at once (the first to enter saves it, the last to leave restores it)."""
    kernel_pair("linear_forward")
    from minidl._kernels import linear
    assert linear.gemm_library() == "openblas"
    before = _openblas_threads()
    layer = Linear(300, 200, dtype=np.float32, rng=np.random.default_rng(0))
    x, dy = np.ones((64, 300), np.float32), np.ones((64, 200), np.float32)
    errors = []

    def train():
        try:
            for _ in range(30):
                linear.linear_forward(x, layer.weight.data, layer.bias.data, np.empty((64, 200), np.float32))
                linear.linear_backward(dy, x, layer.weight.data, np.empty_like(x),
                                       np.empty((200, 300), np.float32), None)
        except Exception as exc:                  # pragma: no cover - reported below
            errors.append(exc)

    try:
        for count in (2, 3):
            _set_openblas_threads(count)
            with backend.using("cython"):
                threads = [threading.Thread(target=train) for _ in range(3)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            assert not errors
            assert _openblas_threads() == count
    finally:
        _set_openblas_threads(before)


def test_keep_leaves_openblas_alone():
    code = ("from minidl._kernels import blas_threads as b; b.limit_gemm_threads(); "
            "print(b.openblas_functions()[0], b.gemm_threads_limited(), b.openblas_gemm()[0]); "
            "from minidl._kernels import linear; print(linear.gemm_library())")
    env = dict(os.environ, MINIDL_GEMM_THREADS="keep")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "0", "minidl"]     # Linear then uses minidl's GEMM


def test_import_does_not_search_for_the_library():
    """The search (threadpoolctl) runs when a Linear kernel or a convolution first needs it,
    not at import."""
    code = ("import sys, minidl, numpy as np; from minidl import nn; "
            "from minidl._kernels import blas_threads as b; print(b.policy.searched, 'threadpoolctl' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
