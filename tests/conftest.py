"""Shared fixtures.

* ``backend_name``: runs a test once per backend ("cython", "numpy").
* ``kernel_pair(name)``: (reference, compiled) implementations of one kernel.
* ``MINIDL_REQUIRE_COMPILED=1`` (set by .ci/run): a missing compiled kernel fails the run
  instead of silently testing the NumPy twin twice.
"""
import os

import numpy as np
import pytest

import minidl
from minidl import _kernels, backend

REQUIRE_COMPILED = os.environ.get("MINIDL_REQUIRE_COMPILED", "") not in ("", "0")


def pytest_sessionstart(session):
    if REQUIRE_COMPILED and (backend.missing_kernels() or not backend.available() == ("cython", "numpy")):
        raise pytest.UsageError(
            "MINIDL_REQUIRE_COMPILED is set but compiled kernels are missing: "
            f"{backend.missing_kernels()} ({_kernels.compiled_error()})"
        )


def pytest_report_header(config):
    return (f"minidl {minidl.__version__}: backends {backend.available()}, "
            f"missing compiled={backend.missing_kernels()}")


@pytest.fixture(params=["cython", "numpy"])
def backend_name(request):
    name = request.param
    if name not in backend.available():
        if REQUIRE_COMPILED:
            pytest.fail("compiled backend not available")
        pytest.skip("compiled backend not built")
    with backend.using(name):
        yield name


@pytest.fixture
def kernel_pair():
    def get(name):
        ref, comp = _kernels.implementations(name)
        if comp is None:
            if REQUIRE_COMPILED:
                pytest.fail(f"no compiled implementation of kernel {name!r}")
            pytest.skip(f"no compiled implementation of kernel {name!r}")
        return ref, comp

    return get


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Tests may change the backend, default dtype or global seed; put them back."""
    before_backend = backend.current()
    before_dtype = minidl.get_default_dtype()
    yield
    backend.use(before_backend)
    minidl.set_default_dtype(before_dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
