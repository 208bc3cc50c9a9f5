"""im2col / col2im: compiled kernel vs NumPy twin, worked examples, the adjoint identity."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st


DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


geometry = st.tuples(
    st.integers(1, 3), st.integers(1, 3),        # N, C
    st.integers(1, 9), st.integers(1, 9),        # H, W
    st.integers(1, 4), st.integers(1, 4),        # kh, kw
    st.integers(1, 3), st.integers(1, 3),        # sh, sw
    st.integers(0, 2), st.integers(0, 2),        # ph, pw
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(geometry=geometry, dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_im2col_and_col2im_match_twin(kernel_pair, geometry, dtype, seed):
    n, c, h, w, kh, kw, sh, sw, ph, pw = geometry
    h_out, w_out = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    assume(h_out >= 1 and w_out >= 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    ref, comp = kernel_pair("conv_im2col")
    cols_ref = np.empty((n, c * kh * kw, h_out * w_out), dtype)
    cols_comp = np.full_like(cols_ref, np.nan)          # every element must be written
    ref(x, kh, kw, sh, sw, ph, pw, cols_ref)
    comp(x, kh, kw, sh, sw, ph, pw, cols_comp)
    np.testing.assert_array_equal(cols_comp, cols_ref)

    ref, comp = kernel_pair("conv_col2im")
    cols = rng.standard_normal(cols_ref.shape).astype(dtype)
    dx_ref, dx_comp = np.empty_like(x), np.full_like(x, np.nan)
    ref(cols, kh, kw, sh, sw, ph, pw, dx_ref)
    comp(cols, kh, kw, sh, sw, ph, pw, dx_comp)
    np.testing.assert_allclose(dx_comp, dx_ref, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_im2col_worked_example(kernel_pair, twin):
    # x = [[1 2 3], [4 5 6], [7 8 9]], 2×2 kernel, stride 1, no padding: the four windows
    # [1 2 4 5], [2 3 5 6], [4 5 7 8], [5 6 8 9] become the four columns.
    fn = kernel_pair("conv_im2col")[twin == "compiled"]
    x = np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3)
    cols = np.empty((1, 4, 4))
    fn(x, 2, 2, 1, 1, 0, 0, cols)
    expected = np.array([[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]], dtype=float).T
    np.testing.assert_array_equal(cols[0], expected)


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_im2col_padding_and_stride_worked_example(kernel_pair, twin):
    # 2×2 image [[1 2], [3 4]], 2×2 kernel, stride 2, padding 1 → a 2×2 grid of windows on
    # the zero-padded 4×4 image; each window holds exactly one pixel, at its far corner.
    fn = kernel_pair("conv_im2col")[twin == "compiled"]
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    cols = np.empty((1, 4, 4))
    fn(x, 2, 2, 2, 2, 1, 1, cols)
    expected = np.array([[0, 0, 0, 1], [0, 0, 2, 0], [0, 3, 0, 0], [4, 0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(cols[0].T, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_col2im_is_the_adjoint_of_im2col(kernel_pair, twin, dtype, rng):
    # <im2col(x), c> = <x, col2im(c)> for every x, c: col2im is im2colᵀ (what backward needs).
    im2col, col2im = (kernel_pair(k)[twin == "compiled"] for k in ("conv_im2col", "conv_col2im"))
    n, c, h, w, kh, kw, sh, sw, ph, pw = 2, 3, 7, 6, 3, 2, 2, 1, 1, 2
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    cols = np.empty((n, c * kh * kw, out_size(h, kh, sh, ph) * out_size(w, kw, sw, pw)), dtype)
    im2col(x, kh, kw, sh, sw, ph, pw, cols)
    probe = rng.standard_normal(cols.shape).astype(dtype)
    dx = np.empty_like(x)
    col2im(probe, kh, kw, sh, sw, ph, pw, dx)
    lhs, rhs = float(np.sum(cols.astype(float) * probe)), float(np.sum(x.astype(float) * dx))
    assert lhs == pytest.approx(rhs, rel=1e-4 if dtype == np.float32 else 1e-12)


def test_compiled_kernels_reject_inconsistent_shapes(kernel_pair):
    _, im2col = kernel_pair("conv_im2col")
    _, col2im = kernel_pair("conv_col2im")
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(ValueError, match="cols"):
        im2col(x, 3, 3, 1, 1, 0, 0, np.zeros((1, 18, 4)))
    with pytest.raises(ValueError, match="empty output"):
        im2col(x, 7, 7, 1, 1, 0, 0, np.zeros((1, 98, 1)))
    with pytest.raises(ValueError):
        col2im(np.zeros((1, 18, 9)), 3, 3, 1, 1, -1, 0, x)
    with pytest.raises(ValueError):
        im2col(x.astype(np.float32), 3, 3, 1, 1, 0, 0, np.zeros((1, 18, 9)))   # mixed dtypes
