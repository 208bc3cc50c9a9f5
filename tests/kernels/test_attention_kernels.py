"""Attention kernels (minidl/_kernels/attention.pyx) vs the NumPy twin (reference/attention.py)
on random shapes, float32/float64, with and without a mask; the twin against the per-head
formula and finite differences; bad shapes rejected."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from minidl.gradcheck import numerical_gradient

TOL = {np.float32: 2e-5, np.float64: 1e-11}
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def random_mask(rng, n, heads, steps):
    mask = rng.random((n, heads, steps, steps)) < 0.6
    mask[..., 0] = True          # every query row attends to something
    return mask


def run(fwd, bwd, qkv, heads, scale, mask, grad_output, dtype):
    n, steps, e3 = qkv.shape
    out = np.full((n, steps, e3 // 3), np.nan, dtype)
    weights = np.full((n, heads, steps, steps), np.nan, dtype)
    fwd(qkv, heads, scale, mask, out, weights)
    grad_qkv = np.full(qkv.shape, np.nan, dtype)
    bwd(grad_output, qkv, weights, heads, scale, grad_qkv)
    return out, weights, grad_qkv


@pytest.fixture
def attention_pair(kernel_pair):
    (f_ref, f_comp), (b_ref, b_comp) = kernel_pair("attention_forward"), kernel_pair("attention_backward")
    return (f_ref, b_ref), (f_comp, b_comp)


@SETTINGS
@given(n=st.sampled_from([1, 2, 3]), steps=st.sampled_from([1, 2, 5, 17, 40]), heads=st.sampled_from([1, 2, 4]),
       d=st.sampled_from([1, 3, 8, 16]), masked=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_compiled_matches_twin(attention_pair, n, steps, heads, d, masked, dtype, seed):
    rng = np.random.default_rng(seed)
    e = heads * d
    qkv = rng.standard_normal((n, steps, 3 * e)).astype(dtype)
    g = rng.standard_normal((n, steps, e)).astype(dtype)
    mask = random_mask(rng, n, heads, steps) if masked else None
    scale = 1 / np.sqrt(d)
    (o_r, w_r, gq_r), (o_c, w_c, gq_c) = (run(f, b, qkv, heads, scale, mask, g, dtype) for f, b in attention_pair)
    for a, b in ((o_c, o_r), (w_c, w_r), (gq_c, gq_r)):
        np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype])
    if masked:
        assert (w_c[~mask] == 0).all()


def test_twin_is_per_head_softmax_attention():
    from minidl._kernels.reference import attention

    rng = np.random.default_rng(1)
    n, steps, heads, d = 2, 5, 3, 4
    e = heads * d
    qkv = rng.standard_normal((n, steps, 3 * e))
    out, weights = np.empty((n, steps, e)), np.empty((n, heads, steps, steps))
    attention.attention_forward(qkv, heads, 0.5, None, out, weights)
    for i in range(n):
        for h in range(heads):
            q, k, v = (qkv[i, :, j * e + h * d:j * e + (h + 1) * d] for j in range(3))
            s = q @ k.T * 0.5
            p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
            np.testing.assert_allclose(weights[i, h], p, rtol=1e-12)
            np.testing.assert_allclose(out[i, :, h * d:(h + 1) * d], p @ v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("masked", [False, True])
def test_twin_gradient_matches_finite_differences(masked):
    from minidl._kernels.reference import attention

    rng = np.random.default_rng(2)
    n, steps, heads, d = 2, 4, 2, 3
    e = heads * d
    qkv = rng.standard_normal((n, steps, 3 * e))
    g = rng.standard_normal((n, steps, e))
    mask = random_mask(rng, n, heads, steps) if masked else None

    def loss(_):
        out, w = np.empty((n, steps, e)), np.empty((n, heads, steps, steps))
        attention.attention_forward(qkv, heads, 0.7, mask, out, w)
        return float((out * g).sum())

    _, _, grad = run(attention.attention_forward, attention.attention_backward, qkv, heads, 0.7, mask, g, np.float64)
    np.testing.assert_allclose(grad, numerical_gradient(loss, qkv), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("which", [0, 1])
def test_bad_shapes_raise(attention_pair, which):
    fwd, bwd = attention_pair[which]
    qkv = np.zeros((2, 3, 12), np.float32)
    with pytest.raises(ValueError, match="attention kernel"):
        fwd(qkv, 3, 1.0, None, np.empty((2, 3, 5), np.float32), np.empty((2, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="attention kernel"):
        bwd(np.zeros((2, 3, 4), np.float32), qkv, np.zeros((2, 2, 3, 3), np.float32), 2, 1.0,
            np.empty((2, 3, 11), np.float32))


@pytest.mark.parametrize("library", ["openblas", "minidl"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_does_not_change_the_bits(attention_pair, dtype, library):
    """The (sample, head) pairs run on minidl's pool (_pool.pyx), each pair's arithmetic the
    same on any thread: 1, 2 or 3 threads give identical outputs, equal to the twin's, with
    the per-head products on either library (linear.gemm_library)."""
    (f_ref, b_ref), (fwd, bwd) = attention_pair
    from minidl._kernels import _pool, linear
    found = linear.gemm_library()
    if library == "openblas" and found != "openblas":
        pytest.skip("NumPy's BLAS is not a pthreads OpenBLAS")
    rng = np.random.default_rng(3)
    n, steps, heads, d = 3, 9, 2, 4
    qkv = rng.standard_normal((n, steps, 3 * heads * d)).astype(dtype)
    grad_output = rng.standard_normal((n, steps, heads * d)).astype(dtype)
    mask = random_mask(rng, n, heads, steps)
    before = _pool.get_num_threads()
    try:
        linear.gemm_library(library)
        runs = []
        for threads in (1, 2, 3):
            _pool.set_num_threads(threads)
            runs.append(run(fwd, bwd, qkv, heads, 0.5, mask, grad_output, dtype))
    finally:
        _pool.set_num_threads(before)
        linear.gemm_library(found)
    for other in runs[1:]:
        for got, want in zip(other, runs[0]):
            np.testing.assert_array_equal(got, want)
    for got, want in zip(runs[0], run(f_ref, b_ref, qkv, heads, 0.5, mask, grad_output, dtype)):
        np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])
