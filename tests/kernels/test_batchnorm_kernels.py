"""BatchNorm kernels: compiled vs NumPy twin on random (N, C, S) shapes and both dtypes, the
twin against the textbook formulas (written here in float64), the running-statistics rule,
the overwrite contract (None skips an output) and rejection of bad arguments."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 2e-5, np.float64: 1e-11}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

shapes = st.tuples(st.integers(1, 9), st.integers(1, 12), st.sampled_from([1, 1, 2, 5, 17]))


def close(a, b, dtype, scale=1.0):
    np.testing.assert_allclose(a, b, rtol=TOL[dtype] * scale, atol=TOL[dtype] * scale)


def make(shape, dtype, seed, affine):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-5, 5)).astype(dtype)
    w = rng.standard_normal(c).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    return rng, x, w, b


def textbook(x, w, b, eps):
    """y = γ (x − μ)/√(σ² + ε) + β per channel over axes (0, 2), in float64."""
    x = x.astype(np.float64)
    mu = x.mean(axis=(0, 2), keepdims=True)
    var = ((x - mu) ** 2).mean(axis=(0, 2), keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    if w is not None:
        y = y * w[:, None] + b[:, None]
    return y, mu.ravel(), var.ravel()


@SETTINGS
@given(shape=shapes, dtype=st.sampled_from(DTYPES), affine=st.booleans(), track=st.booleans(),
       momentum=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_forward_train_matches_twin_and_formula(kernel_pair, shape, dtype, affine, track, momentum, seed):
    if shape[0] * shape[2] < 2:
        shape = (2,) + shape[1:]
    rng, x, w, b = make(shape, dtype, seed, affine)
    c, count = shape[1], shape[0] * shape[2]
    rm0 = rng.standard_normal(c).astype(dtype)
    rv0 = rng.uniform(0.5, 2, c).astype(dtype)
    results = []
    for fn in kernel_pair("batchnorm_forward_train"):
        out = np.full(shape, np.nan, dtype)
        mean, inv_std = np.full(c, np.nan, dtype), np.full(c, np.nan, dtype)
        rm, rv = (rm0.copy(), rv0.copy()) if track else (None, None)
        fn(x, w, b, 1e-5, out, mean, inv_std, rm, rv, momentum)
        results.append((out, mean, inv_std, rm, rv))
    for comp, ref in zip(results[1], results[0]):
        if ref is not None:
            close(comp, ref, dtype)
    y, mu, var = textbook(x, w, b, 1e-5)
    out, mean, inv_std, rm, rv = results[0]
    close(out, y, dtype, scale=10)
    close(mean, mu, dtype)
    close(inv_std, 1 / np.sqrt(var + 1e-5), dtype, scale=10)
    if track:   # PyTorch's rule: unbiased variance M/(M−1) in the running estimate
        close(rm, (1 - momentum) * rm0 + momentum * mu, dtype)
        close(rv, (1 - momentum) * rv0 + momentum * var * count / (count - 1), dtype, scale=10)


@SETTINGS
@given(shape=shapes, dtype=st.sampled_from(DTYPES), affine=st.booleans(), seed=st.integers(0, 2**16))
def test_forward_eval_matches_twin_and_formula(kernel_pair, shape, dtype, affine, seed):
    rng, x, w, b = make(shape, dtype, seed, affine)
    rm = rng.standard_normal(shape[1]).astype(dtype)
    rv = rng.uniform(0.5, 2, shape[1]).astype(dtype)
    outs = []
    for fn in kernel_pair("batchnorm_forward_eval"):
        out = np.full(shape, np.nan, dtype)
        fn(x, w, b, rm, rv, 1e-5, out)
        outs.append(out)
    close(outs[1], outs[0], dtype)
    expected = (x - rm[:, None]) / np.sqrt(rv[:, None].astype(np.float64) + 1e-5)
    if affine:
        expected = expected * w[:, None] + b[:, None]
    close(outs[0], expected, dtype, scale=10)


@SETTINGS
@given(shape=shapes, dtype=st.sampled_from(DTYPES), affine=st.booleans(), batch_stats=st.booleans(),
       with_input=st.booleans(), seed=st.integers(0, 2**16))
def test_backward_matches_twin(kernel_pair, shape, dtype, affine, batch_stats, with_input, seed):
    rng, x, w, b = make(shape, dtype, seed, affine)
    c = shape[1]
    dy = rng.standard_normal(shape).astype(dtype)
    mean = x.astype(np.float64).mean(axis=(0, 2)).astype(dtype)
    inv_std = (1 / np.sqrt(x.astype(np.float64).var(axis=(0, 2)) + 1e-3)).astype(dtype)
    results = []
    for fn in kernel_pair("batchnorm_backward"):
        dx = np.full(shape, np.nan, dtype) if with_input else None
        grads = [np.full(c, np.nan, dtype) if affine else None for _ in range(2)]
        fn(dy, x, mean, inv_std, w, batch_stats, dx, grads[0], grads[1])
        results.append((dx, *grads))
    if affine:
        close(results[0][2], dy.sum(axis=(0, 2), dtype=np.float64), dtype, scale=10)
    for comp, ref in zip(results[1], results[0]):
        if ref is not None:
            close(comp, ref, dtype, scale=10)


def test_backward_simplified_formula_equals_chain_rule():
    """Worked example in float64: the simplified dx equals the long chain rule through μ and σ²."""
    from minidl._kernels import implementations

    ref, _ = implementations("batchnorm_backward")
    rng = np.random.default_rng(7)
    n, c, eps = 6, 3, 1e-5
    x, dy, gamma = rng.standard_normal((n, c, 1)), rng.standard_normal((n, c, 1)), rng.standard_normal(c)
    mu = x.mean(axis=(0, 2))
    var = x.var(axis=(0, 2))
    inv_std = 1 / np.sqrt(var + eps)
    dx = np.empty_like(x)
    dgamma, dbeta = np.empty(c), np.empty(c)
    ref(dy, x, mu, inv_std, gamma, True, dx, dgamma, dbeta)
    # chain rule, step by step (Ioffe & Szegedy 2015, Algorithm 1's backward)
    xc = x[:, :, 0] - mu
    dxhat = dy[:, :, 0] * gamma
    dvar = (dxhat * xc).sum(0) * -0.5 * (var + eps) ** -1.5
    dmu = (-dxhat * inv_std).sum(0) + dvar * (-2 * xc).mean(0)
    expected = dxhat * inv_std + dvar * 2 * xc / n + dmu / n
    np.testing.assert_allclose(dx[:, :, 0], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dgamma, (dy[:, :, 0] * xc * inv_std).sum(0), rtol=1e-12)
    np.testing.assert_allclose(dbeta, dy.sum(axis=(0, 2)), rtol=1e-12)


def test_large_mean_small_spread_is_accurate(kernel_pair):
    """The shifted one-pass variance keeps float32 accuracy when |mean| ≫ std."""
    rng = np.random.default_rng(1)
    x64 = 1000.0 + 0.01 * rng.standard_normal((256, 4, 1))
    x = x64.astype(np.float32)
    _, comp = kernel_pair("batchnorm_forward_train")
    out, mean, inv_std = np.empty_like(x), np.empty(4, np.float32), np.empty(4, np.float32)
    comp(x, None, None, 1e-5, out, mean, inv_std, None, None, 0.0)
    var = x.astype(np.float64).var(axis=(0, 2))
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(var + 1e-5), rtol=1e-3)


def test_compiled_kernels_reject_bad_arguments(kernel_pair):
    _, fwd = kernel_pair("batchnorm_forward_train")
    x = np.ones((4, 3, 1), np.float32)
    c = np.empty(3, np.float32)
    with pytest.raises(ValueError, match="3-D"):
        fwd(np.ones((4, 3), np.float32), None, None, 1e-5, np.empty((4, 3), np.float32), c, c.copy(), None, None, 0.1)
    with pytest.raises(ValueError, match="more than 1 value"):
        fwd(np.ones((1, 3, 1), np.float32), None, None, 1e-5, np.empty((1, 3, 1), np.float32), c, c.copy(),
            None, None, 0.1)
    with pytest.raises(ValueError, match="weight"):
        fwd(x, np.ones(4, np.float32), None, 1e-5, np.empty_like(x), c, c.copy(), None, None, 0.1)
    with pytest.raises(ValueError, match="dtype"):
        fwd(x, None, None, 1e-5, np.empty((4, 3, 1), np.float64), c, c.copy(), None, None, 0.1)
    with pytest.raises(ValueError, match="together"):
        fwd(x, None, None, 1e-5, np.empty_like(x), c, c.copy(), np.zeros(3, np.float32), None, 0.1)
    _, bwd = kernel_pair("batchnorm_backward")
    with pytest.raises(ValueError, match="grad_output"):
        bwd(np.ones((4, 2, 1), np.float32), x, c, c, None, True, np.empty_like(x), None, None)
