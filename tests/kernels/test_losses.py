"""Loss kernels: compiled vs NumPy twin, values and gradients from the formulas, extreme
logits, and bad arguments (out-of-range labels too) rejected with ValueError."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def close(a, b, dtype):
    np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype])


@SETTINGS
@given(n=st.integers(1, 30), c=st.integers(1, 12), dtype=st.sampled_from(DTYPES),
       scale=st.sampled_from([1.0, 50.0, 1e4]), seed=st.integers(0, 2**16))
def test_cross_entropy_matches_twin_and_formula(kernel_pair, n, c, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, c)) * scale).astype(dtype)
    y = rng.integers(0, c, n)
    ref, comp = kernel_pair("cross_entropy_forward_backward")
    g_ref, g_comp = np.empty_like(z), np.full_like(z, np.nan)
    loss_ref, loss_comp = ref(z, y, g_ref), comp(z, y, g_comp)
    assert isinstance(loss_comp, float) and isinstance(loss_ref, float)
    close(loss_comp, loss_ref, dtype)
    close(g_comp, g_ref, dtype)
    # formula, in float64 with log-sum-exp written out
    z64 = z.astype(np.float64)
    m = z64.max(1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z64 - m).sum(1))
    close(loss_ref, np.mean(lse - z64[np.arange(n), y]), dtype)
    p = np.exp(z64 - lse[:, None])
    p[np.arange(n), y] -= 1
    close(g_ref, p / n, dtype)


@SETTINGS
@given(shape=st.lists(st.integers(1, 8), min_size=1, max_size=3).map(tuple), dtype=st.sampled_from(DTYPES),
       scale=st.sampled_from([1.0, 40.0]), seed=st.integers(0, 2**16))
def test_mse_and_bce_match_twin_and_formula(kernel_pair, shape, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal(shape) * scale).astype(dtype)
    t = rng.random(shape).astype(dtype)
    n = z.size
    z64, t64 = z.astype(np.float64), t.astype(np.float64)
    sig = 0.5 * (1 + np.tanh(z64 / 2))
    expected = {
        "mse_forward_backward": (np.mean((z64 - t64) ** 2), 2 * (z64 - t64) / n),
        "bce_with_logits_forward_backward": (
            np.mean(np.maximum(z64, 0) - z64 * t64 + np.log1p(np.exp(-np.abs(z64)))), (sig - t64) / n),
    }
    for name, (loss_exp, grad_exp) in expected.items():
        ref, comp = kernel_pair(name)
        g_ref, g_comp = np.empty_like(z), np.full_like(z, np.nan)
        loss_ref, loss_comp = ref(z, t, g_ref), comp(z, t, g_comp)
        close(loss_comp, loss_ref, dtype)
        close(g_comp, g_ref, dtype)
        close(loss_ref, loss_exp, dtype)
        close(g_ref, grad_exp, dtype)


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_cross_entropy_worked_example(kernel_pair, twin):
    # logits [0, ln 3] with label 1: p = [1/4, 3/4], loss = −ln(3/4), grad = [1/4, −1/4]
    fn = kernel_pair("cross_entropy_forward_backward")[twin == "compiled"]
    g = np.empty((1, 2))
    loss = fn(np.array([[0.0, math.log(3)]]), np.array([1]), g)
    assert loss == pytest.approx(-math.log(0.75), rel=1e-14)
    np.testing.assert_allclose(g, [[0.25, -0.25]], rtol=1e-14)
    # extreme logits: the log-sum-exp keeps everything finite and exact
    g = np.empty((2, 3))
    loss = fn(np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0]]), np.array([0, 1]), g)
    assert loss == pytest.approx((0.0 + 2e4) / 2)
    np.testing.assert_allclose(g, [[0, 0, 0], [0.5, -0.5, 0]], atol=1e-300)


def test_bad_arguments_raise_value_error(kernel_pair):
    _, ce = kernel_pair("cross_entropy_forward_backward")
    z, g = np.ones((3, 4)), np.empty((3, 4))
    for labels in (np.array([0, 1, 4]), np.array([0, -1, 2]), np.array([0, 1]), np.array([0, 1, 2], np.int32),
                   np.array([[0, 1, 2]])):
        with pytest.raises(ValueError):
            ce(z, labels, g)
    with pytest.raises(ValueError):
        ce(z, np.array([0, 1, 2]), np.empty((3, 5)))
    with pytest.raises(ValueError):
        ce(np.ones(4), np.array([0]), np.empty(4))
    with pytest.raises(ValueError):
        ce(np.ones((3, 0)), np.array([0, 0, 0]), np.empty((3, 0)))
    for name in ("mse_forward_backward", "bce_with_logits_forward_backward"):
        _, fn = kernel_pair(name)
        with pytest.raises(ValueError):
            fn(z, np.ones((4, 3)), g)
        with pytest.raises(ValueError):
            fn(z, np.ones((3, 4), np.float32), g)
        with pytest.raises(ValueError):
            fn(z, z, np.empty((3, 5))[:, :4])
