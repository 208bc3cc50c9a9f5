"""minidl/_kernels/blas_threads.py: one OpenBLAS thread around minidl's GEMMs once the
convolution thread pool is in use, the previous count restored after; the library is the one
threadpoolctl finds."""
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

from minidl import backend
from minidl.nn import Conv2d, Linear

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


@pytest.fixture
def two_blas_threads(kernel_pair):
    kernel_pair("conv2d_forward")
    from minidl._kernels import conv
    before_blas, before_conv = _openblas_threads(), conv.get_num_threads()
    before_limited = blas_threads.policy.limited
    _set_openblas_threads(2)
    conv.set_num_threads(2)
    yield
    _set_openblas_threads(before_blas)
    conv.set_num_threads(before_conv)
    blas_threads.policy.limited = before_limited


@needs_openblas
def test_linear_gemms_use_one_blas_thread_after_a_threaded_convolution(two_blas_threads, monkeypatch):
    seen = []
    real_dot, real_matmul = np.dot, np.matmul

    def spy(real):
        def call(*args, **kwargs):
            seen.append(_openblas_threads())
            return real(*args, **kwargs)
        return call

    layer = Linear(64, 32, dtype=np.float32, rng=np.random.default_rng(0))
    x = np.ones((16, 64), np.float32)
    with backend.using("cython"):
        blas_threads.policy.limited = False
        monkeypatch.setattr(np, "dot", spy(real_dot))
        layer(x)
        assert seen == [2]                          # no convolution yet: OpenBLAS untouched
        Conv2d(1, 2, 3, dtype=np.float32)(np.ones((4, 1, 6, 6), np.float32))   # two images per thread
        assert blas_threads.gemm_threads_limited()
        seen.clear()
        monkeypatch.setattr(np, "matmul", spy(real_matmul))
        layer(x)
        layer.backward(np.ones((16, 32), np.float32))
        assert seen and set(seen) == {1}            # each GEMM ran on one thread ...
    assert _openblas_threads() == 2                 # ... and the count was restored


def test_keep_leaves_openblas_alone():
    code = ("from minidl._kernels import blas_threads as b; b.limit_gemm_threads(); "
            "print(b.openblas_functions()[0], b.gemm_threads_limited())")
    env = dict(os.environ, MINIDL_GEMM_THREADS="keep")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"]


def test_import_does_not_search_for_the_library():
    """The search (threadpoolctl) runs when a convolution first needs it, not at import."""
    code = ("import sys, minidl, numpy as np; from minidl import nn; "
            "nn.Linear(4, 2)(np.ones((3, 4), np.float32)); "
            "from minidl._kernels import blas_threads as b; print(b.policy.searched, 'threadpoolctl' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
