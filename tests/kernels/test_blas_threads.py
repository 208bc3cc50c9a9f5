"""minidl/_kernels/blas_threads.py: one OpenBLAS thread around minidl's GEMMs once the
convolution thread pool is in use, the previous count restored after."""
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

from minidl import backend
from minidl.nn import Conv2d, Linear

blas_threads = pytest.importorskip("minidl._kernels.blas_threads")
needs_openblas = pytest.mark.skipif(not blas_threads.SET_ADDRESS, reason="NumPy's BLAS is not OpenBLAS")


def _openblas_threads():
    return ctypes.CFUNCTYPE(ctypes.c_int)(blas_threads.GET_ADDRESS)()


def _set_openblas_threads(count):
    ctypes.CFUNCTYPE(None, ctypes.c_int)(blas_threads.SET_ADDRESS)(count)


@pytest.fixture
def two_blas_threads(kernel_pair):
    kernel_pair("conv2d_forward")
    from minidl._kernels import conv
    before_blas, before_conv = _openblas_threads(), conv.get_num_threads()
    before_state = dict(blas_threads.state)
    _set_openblas_threads(2)
    conv.set_num_threads(2)
    yield
    _set_openblas_threads(before_blas)
    conv.set_num_threads(before_conv)
    blas_threads.state.update(before_state)


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
        blas_threads.state["conv_threads_used"] = False
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
    code = "from minidl._kernels import blas_threads as b; print(b.SET_ADDRESS, b.gemm_threads_limited())"
    env = dict(os.environ, MINIDL_GEMM_THREADS="keep")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"]
