"""Linear kernels: compiled vs NumPy twin on random shapes (N = 1 included), the overwrite
contract (every output element written, None skips an output), worked examples, and bad
arguments rejected with ValueError."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

shapes = st.tuples(st.sampled_from([0, 1, 1, 2, 3, 7, 33]), st.integers(1, 40), st.integers(1, 40))


def close(a, b, dtype):
    np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype])


@SETTINGS
@given(shape=shapes, dtype=st.sampled_from(DTYPES), with_bias=st.booleans(), seed=st.integers(0, 2**16))
def test_forward_matches_twin(kernel_pair, shape, dtype, with_bias, seed):
    n, k, m = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype) if with_bias else None
    ref, comp = kernel_pair("linear_forward")
    out_ref, out_comp = np.empty((n, m), dtype), np.full((n, m), np.nan, dtype)
    ref(x, w, b, out_ref)
    comp(x, w, b, out_comp)
    close(out_comp, out_ref, dtype)
    close(out_ref, x.astype(np.float64) @ w.T.astype(np.float64) + (0 if b is None else b), dtype)


@SETTINGS
@given(shape=shapes, dtype=st.sampled_from(DTYPES), with_input=st.booleans(), with_bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_backward_matches_twin(kernel_pair, shape, dtype, with_input, with_bias, seed):
    n, k, m = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((m, k)).astype(dtype)
    dy = rng.standard_normal((n, m)).astype(dtype)
    results = []
    for fn in kernel_pair("linear_backward"):
        # every output is overwritten, so every element must be written: start from NaN
        dx = np.full((n, k), np.nan, dtype) if with_input else None
        gw = np.full((m, k), np.nan, dtype)
        gb = np.full(m, np.nan, dtype) if with_bias else None
        fn(dy, x, w, dx, gw, gb)
        results.append((dx, gw, gb))
    (dx_r, gw_r, gb_r), (dx_c, gw_c, gb_c) = results
    if with_input:
        close(dx_c, dx_r, dtype)
        close(dx_r, dy.astype(np.float64) @ w, dtype)
    close(gw_c, gw_r, dtype)
    close(gw_r, dy.T.astype(np.float64) @ x, dtype)
    if with_bias:
        close(gb_c, gb_r, dtype)
        close(gb_r, dy.sum(0, dtype=np.float64), dtype)


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_worked_example(kernel_pair, twin):
    # x = [[1, 2]], W = [[1, 0], [0, 1], [1, 1]], b = [0.5, 0, -1] -> y = [1.5, 2, 2]
    fwd = kernel_pair("linear_forward")[twin == "compiled"]
    bwd = kernel_pair("linear_backward")[twin == "compiled"]
    x = np.array([[1.0, 2.0]])
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.empty((1, 3))
    fwd(x, w, np.array([0.5, 0.0, -1.0]), y)
    np.testing.assert_array_equal(y, [[1.5, 2.0, 2.0]])
    # dy = [1, 2, 3]: dx = dy W = [4, 5]; dW = dyᵀ x = [[1, 2], [2, 4], [3, 6]]; db = dy
    dx, gw, gb = np.empty((1, 2)), np.empty((3, 2)), np.empty(3)
    bwd(np.array([[1.0, 2.0, 3.0]]), x, w, dx, gw, gb)
    np.testing.assert_array_equal(dx, [[4.0, 5.0]])
    np.testing.assert_array_equal(gw, [[1, 2], [2, 4], [3, 6]])
    np.testing.assert_array_equal(gb, [1, 2, 3])


def test_grad_input_may_be_skipped(kernel_pair):
    _, comp = kernel_pair("linear_backward")
    x, w, dy = np.ones((2, 3)), np.ones((4, 3)), np.ones((2, 4))
    gw = np.empty((4, 3))
    comp(dy, x, w, None, gw, None)
    np.testing.assert_array_equal(gw, np.full((4, 3), 2.0))


def test_bad_arguments_raise_value_error(kernel_pair):
    _, fwd = kernel_pair("linear_forward")
    _, bwd = kernel_pair("linear_backward")
    x, w, b = np.ones((2, 3)), np.ones((4, 3)), np.ones(4)
    bad_forward = [
        (np.ones((2, 5)), w, b, np.empty((2, 4))),               # in_features mismatch
        (x, w, b, np.empty((2, 5))),                              # out too wide
        (x, w, np.ones(3), np.empty((2, 4))),                     # bias length
        (x.astype(np.float32), w, b, np.empty((2, 4))),           # mixed dtypes
        (np.ones((3, 2)).T, w, b, np.empty((2, 4))),              # not contiguous
        (x.astype(np.int64), w.astype(np.int64), None, np.empty((2, 4), np.int64)),
        (np.ones(3), w, b, np.empty(4)),                          # 1-D
    ]
    for args in bad_forward:
        with pytest.raises(ValueError):
            fwd(*args)
    ro = np.empty((2, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        fwd(x, w, b, ro)
    dy = np.ones((2, 4))
    bad_backward = [
        (np.ones((2, 5)), x, w, np.empty((2, 3)), np.empty((4, 3)), None),
        (dy, x, w, np.empty((2, 2)), np.empty((4, 3)), None),
        (dy, x, w, None, np.empty((3, 4)), None),
        (dy, x, w, None, np.empty((4, 3)), np.empty(5)),
    ]
    for args in bad_backward:
        with pytest.raises(ValueError):
            bwd(*args)


# ---- pair targets (Parameter.grad_target), both GEMM libraries, thread counts ----------------
# Shapes past the ~1 MFLOP threshold run as two tasks on the pool (y and dW split in halves of
# rows or columns, dx next to dW); small ones on the caller; N = 1 is the outer-product loop.
SPLIT_SHAPES = [(1, 37, 29), (3, 5, 4), (40, 300, 100), (300, 70, 90), (97, 131, 33)]


@pytest.fixture(params=["openblas", "minidl"])
def gemm_library(request, kernel_pair):
    kernel_pair("linear_forward")
    from minidl._kernels import _pool, linear
    found = linear.gemm_library()
    if request.param == "openblas" and found != "openblas":
        pytest.skip("NumPy's BLAS is not a pthreads OpenBLAS")
    linear.gemm_library(request.param)
    before = _pool.get_num_threads()
    yield linear
    linear.gemm_library(found)
    _pool.set_num_threads(before)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SPLIT_SHAPES)
def test_pair_targets_add_and_match_twin(kernel_pair, gemm_library, dtype, shape):
    """(array, True) adds the term, (array, False) overwrites it; compiled = twin, on either
    GEMM library, with and without dx."""
    n, k, m = shape
    rng = np.random.default_rng(n * k + m)
    x, w, dy = (rng.standard_normal(s).astype(dtype) for s in ((n, k), (m, k), (n, m)))
    gw0, gb0 = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal(m).astype(dtype)
    want_w, want_b = dy.T.astype(np.float64) @ x, dy.sum(0, dtype=np.float64)
    for with_input in (True, False):
        for add in (True, False):
            results = []
            for fn in kernel_pair("linear_backward"):
                dx = np.full((n, k), np.nan, dtype) if with_input else None
                gw, gb = gw0.copy(), gb0.copy()
                fn(dy, x, w, dx, (gw, add), (gb, add))
                results.append((dx, gw, gb))
            (dx_r, gw_r, gb_r), (dx_c, gw_c, gb_c) = results
            close(gw_c, gw_r, dtype)
            close(gb_c, gb_r, dtype)
            close(gw_r, want_w + (gw0 if add else 0), dtype)
            close(gb_r, want_b + (gb0 if add else 0), dtype)
            if with_input:
                close(dx_c, dx_r, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_changes_only_rounding(gemm_library, dtype):
    """1, 2 or 3 threads: the same products split differently, equal up to rounding."""
    from minidl._kernels import _pool
    rng = np.random.default_rng(7)
    for n, k, m in SPLIT_SHAPES[2:]:
        x, w, dy = (rng.standard_normal(s).astype(dtype) for s in ((n, k), (m, k), (n, m)))
        b = rng.standard_normal(m).astype(dtype)
        runs = []
        for threads in (1, 2, 3):
            _pool.set_num_threads(threads)
            y, dx = np.empty((n, m), dtype), np.empty((n, k), dtype)
            gw, gb, gw1 = np.empty((m, k), dtype), np.empty(m, dtype), np.empty((m, k), dtype)
            gemm_library.linear_forward(x, w, b, y)
            gemm_library.linear_backward(dy, x, w, dx, gw, gb)
            gemm_library.linear_backward(dy, x, w, None, gw1, None)     # dW alone: split in halves
            runs.append((y, dx, gw, gb, gw1))
        for run in runs[1:]:
            for got, want in zip(run, runs[0]):
                close(got, want, dtype)
        close(runs[0][0], x.astype(np.float64) @ w.T + b, dtype)
        close(runs[0][4], dy.T.astype(np.float64) @ x, dtype)
