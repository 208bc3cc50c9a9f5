"""Pooling kernels: compiled vs NumPy twin on random geometry, worked examples."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}

geometry = st.tuples(
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9),
    st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
    st.integers(0, 2), st.integers(0, 2),
)


def out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(geometry=geometry, dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_pooling_kernels_match_twin(kernel_pair, geometry, dtype, seed):
    n, c, h, w, kh, kw, sh, sw, ph, pw = geometry
    assume(2 * ph <= kh and 2 * pw <= kw)
    h_out, w_out = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    assume(h_out >= 1 and w_out >= 1)
    rng = np.random.default_rng(seed)
    # distinct values: no ties, so "first maximum" cannot differ between twins
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w).astype(dtype)
    g = rng.standard_normal((n, c, h_out, w_out)).astype(dtype)

    ref, comp = kernel_pair("pool_max_forward")
    out_r, out_c = np.empty((n, c, h_out, w_out), dtype), np.full((n, c, h_out, w_out), np.nan, dtype)
    arg_r, arg_c = np.empty(out_r.shape, np.int64), np.full(out_r.shape, -7, np.int64)
    ref(x, kh, kw, sh, sw, ph, pw, out_r, arg_r)
    comp(x, kh, kw, sh, sw, ph, pw, out_c, arg_c)
    np.testing.assert_array_equal(out_c, out_r)
    np.testing.assert_array_equal(arg_c, arg_r)

    ref, comp = kernel_pair("pool_max_backward")
    dx_r, dx_c = np.empty_like(x), np.full_like(x, np.nan)
    ref(g, arg_r, dx_r)
    comp(g, arg_r, dx_c)
    np.testing.assert_allclose(dx_c, dx_r, rtol=TOL[dtype], atol=TOL[dtype])

    ref, comp = kernel_pair("pool_avg_forward")
    ref(x, kh, kw, sh, sw, ph, pw, out_r)
    comp(x, kh, kw, sh, sw, ph, pw, out_c)
    np.testing.assert_allclose(out_c, out_r, rtol=TOL[dtype], atol=TOL[dtype] * 100)

    ref, comp = kernel_pair("pool_avg_backward")
    ref(g, kh, kw, sh, sw, ph, pw, dx_r)
    comp(g, kh, kw, sh, sw, ph, pw, dx_c)
    np.testing.assert_allclose(dx_c, dx_r, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_max_pool_worked_example(kernel_pair, twin):
    # 4×4 image, 2×2 windows, stride 2: maxima 6, 8, 14, 16 at flat indices 5, 7, 13, 15.
    fwd = kernel_pair("pool_max_forward")[twin == "compiled"]
    bwd = kernel_pair("pool_max_backward")[twin == "compiled"]
    x = np.arange(1, 17, dtype=np.float64).reshape(1, 1, 4, 4)
    out, arg = np.empty((1, 1, 2, 2)), np.empty((1, 1, 2, 2), np.int64)
    fwd(x, 2, 2, 2, 2, 0, 0, out, arg)
    np.testing.assert_array_equal(out[0, 0], [[6, 8], [14, 16]])
    np.testing.assert_array_equal(arg[0, 0], [[5, 7], [13, 15]])
    dx = np.empty_like(x)
    bwd(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), arg, dx)
    expected = np.zeros(16)
    expected[[5, 7, 13, 15]] = [1, 2, 3, 4]
    np.testing.assert_array_equal(dx.ravel(), expected)


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_max_pool_ties_pick_the_first_maximum(kernel_pair, twin):
    fwd = kernel_pair("pool_max_forward")[twin == "compiled"]
    x = np.ones((1, 1, 2, 2))
    out, arg = np.empty((1, 1, 1, 1)), np.empty((1, 1, 1, 1), np.int64)
    fwd(x, 2, 2, 2, 2, 0, 0, out, arg)
    assert arg.item() == 0 and out.item() == 1.0


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_avg_pool_counts_padding_in_the_divisor(kernel_pair, twin):
    # [[1 2], [3 4]], 2×2 window, stride 2, padding 1: each window holds one pixel and three
    # zeros of padding, so the outputs are 1/4, 2/4, 3/4, 4/4 (count_include_pad=True).
    fwd = kernel_pair("pool_avg_forward")[twin == "compiled"]
    bwd = kernel_pair("pool_avg_backward")[twin == "compiled"]
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out = np.empty((1, 1, 2, 2))
    fwd(x, 2, 2, 2, 2, 1, 1, out)
    np.testing.assert_allclose(out[0, 0], [[0.25, 0.5], [0.75, 1.0]])
    dx = np.empty_like(x)
    bwd(np.ones((1, 1, 2, 2)), 2, 2, 2, 2, 1, 1, dx)
    np.testing.assert_allclose(dx, np.full_like(x, 0.25))


def test_compiled_pool_kernels_reject_bad_shapes(kernel_pair):
    _, fwd = kernel_pair("pool_max_forward")
    _, bwd = kernel_pair("pool_max_backward")
    _, avg = kernel_pair("pool_avg_forward")
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError):
        fwd(x, 2, 2, 2, 2, 0, 0, np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3), np.int64))
    with pytest.raises(ValueError, match="out of range"):
        bwd(np.zeros((1, 1, 2, 2)), np.full((1, 1, 2, 2), 99, np.int64), x.copy())
    with pytest.raises(ValueError):
        avg(x, 2, 2, 0, 2, 0, 0, np.zeros((1, 1, 2, 2)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pad", [0, 1])
def test_max_pool_ties_and_nans_match_twin(kernel_pair, dtype, pad):
    # Values from {0, 1, 2} (ties everywhere) and some NaNs: the unpadded fast path and the
    # general loop must both pick the first maximum in row-major order, or the first NaN.
    ref, comp = kernel_pair("pool_max_forward")
    rng = np.random.default_rng(pad)
    x = rng.integers(0, 3, (3, 4, 9, 8)).astype(dtype)
    x[rng.random(x.shape) < 0.05] = np.nan
    for kh, kw, sh, sw in [(2, 2, 2, 2), (3, 2, 1, 2), (3, 3, 2, 1)]:
        if 2 * pad > min(kh, kw):
            continue
        shape = (3, 4, (9 + 2 * pad - kh) // sh + 1, (8 + 2 * pad - kw) // sw + 1)
        outs = [(np.empty(shape, dtype), np.empty(shape, np.int64)) for _ in range(2)]
        ref(x, kh, kw, sh, sw, pad, pad, *outs[0])
        comp(x, kh, kw, sh, sw, pad, pad, *outs[1])
        np.testing.assert_array_equal(outs[1][0], outs[0][0])
        np.testing.assert_array_equal(outs[1][1], outs[0][1])
