"""LayerNorm kernels: compiled vs NumPy twin on random (M, D) shapes and both dtypes, the
twin against the textbook formulas in float64, overwrite (None skips an output), bad arguments."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 3e-5, np.float64: 1e-11}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

shapes = st.tuples(st.integers(0, 12), st.integers(1, 70))


def close(a, b, dtype, scale=1.0):
    np.testing.assert_allclose(a, b, rtol=TOL[dtype] * scale, atol=TOL[dtype] * scale)


def make(shape, dtype, seed, with_weight, with_bias):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-5, 5)).astype(dtype)
    w = rng.standard_normal(shape[1]).astype(dtype) if with_weight else None
    b = rng.standard_normal(shape[1]).astype(dtype) if with_bias else None
    return rng, x, w, b


@SETTINGS
@given(shape=shapes, dtype=st.sampled_from(DTYPES), with_weight=st.booleans(), with_bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_forward_matches_twin_and_formula(kernel_pair, shape, dtype, with_weight, with_bias, seed):
    _, x, w, b = make(shape, dtype, seed, with_weight, with_bias)
    results = []
    for fn in kernel_pair("layernorm_forward"):
        out = np.full(shape, np.nan, dtype)
        mean, inv_std = np.full(shape[0], np.nan, dtype), np.full(shape[0], np.nan, dtype)
        fn(x, w, b, 1e-5, out, mean, inv_std)
        results.append((out, mean, inv_std))
    for comp, ref in zip(results[1], results[0]):
        close(comp, ref, dtype, scale=3)
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=1, keepdims=True)
    var = ((x64 - mu) ** 2).mean(axis=1, keepdims=True)
    y = (x64 - mu) / np.sqrt(var + 1e-5) * (1 if w is None else w) + (0 if b is None else b)
    close(results[0][0], y, dtype, scale=10)
    close(results[0][1], mu.ravel(), dtype)


@SETTINGS
@given(shape=shapes, dtype=st.sampled_from(DTYPES), with_weight=st.booleans(), with_bias=st.booleans(),
       with_input=st.booleans(), seed=st.integers(0, 2**16))
def test_backward_matches_twin(kernel_pair, shape, dtype, with_weight, with_bias, with_input, seed):
    rng, x, w, b = make(shape, dtype, seed, with_weight, with_bias)
    m, d = shape
    dy = rng.standard_normal(shape).astype(dtype)
    mean = x.astype(np.float64).mean(axis=1).astype(dtype)
    inv_std = (1 / np.sqrt(x.astype(np.float64).var(axis=1) + 1e-5)).astype(dtype)
    results = []
    for fn in kernel_pair("layernorm_backward"):
        dx = np.full(shape, np.nan, dtype) if with_input else None
        gw = np.full(d, np.nan, dtype) if with_weight else None
        gb = np.full(d, np.nan, dtype) if with_bias else None
        fn(dy, x, mean, inv_std, w, dx, gw, gb)
        results.append((dx, gw, gb))
    for comp, ref in zip(results[1], results[0]):
        if ref is not None:
            close(comp, ref, dtype, scale=10)
    if with_bias:
        close(results[0][2], dy.sum(0, dtype=np.float64), dtype, scale=10)


def test_backward_equals_chain_rule_worked_example():
    """float64: dx from the twin equals the chain rule through μ and σ² written out."""
    from minidl._kernels import implementations

    ref, _ = implementations("layernorm_backward")
    rng = np.random.default_rng(3)
    m, d, eps = 4, 6, 1e-5
    x, dy, gamma = rng.standard_normal((m, d)), rng.standard_normal((m, d)), rng.standard_normal(d)
    mu = x.mean(1, keepdims=True)
    var = x.var(1, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    dx = np.empty_like(x)
    ref(dy, x, mu.ravel(), inv_std.ravel(), gamma, dx, None, None)
    dxhat = dy * gamma
    dvar = (dxhat * (x - mu)).sum(1, keepdims=True) * -0.5 * inv_std ** 3
    dmu = (-dxhat * inv_std).sum(1, keepdims=True) + dvar * (-2 * (x - mu)).mean(1, keepdims=True)
    np.testing.assert_allclose(dx, dxhat * inv_std + dvar * 2 * (x - mu) / d + dmu / d, rtol=1e-12, atol=1e-12)


def test_compiled_kernels_reject_bad_arguments(kernel_pair):
    _, fwd = kernel_pair("layernorm_forward")
    x = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="2-D"):
        fwd(np.ones(3, np.float32), None, None, 1e-5, np.empty(3, np.float32), np.empty(1, np.float32),
            np.empty(1, np.float32))
    with pytest.raises(ValueError, match="mean"):
        fwd(x, None, None, 1e-5, np.empty_like(x), np.empty(3, np.float32), np.empty(4, np.float32))
    with pytest.raises(ValueError, match="weight"):
        fwd(x, np.ones(4, np.float32), None, 1e-5, np.empty_like(x), np.empty(4, np.float32), np.empty(4, np.float32))
    _, bwd = kernel_pair("layernorm_backward")
    with pytest.raises(ValueError, match="grad_input"):
        bwd(x, x, np.ones(4, np.float32), np.ones(4, np.float32), None, np.empty((4, 3), np.float64),
            None, None)
