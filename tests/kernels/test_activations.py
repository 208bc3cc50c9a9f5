"""Activation kernels: compiled vs NumPy twin on random shapes, both dtypes; values from the
formulas; bad arguments rejected with ValueError."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# name -> (extra args, what the backward reads: "x" or "y")
ELEMENTWISE = {
    "relu": ((), "y"),
    "leaky_relu": ((0.1,), "x"),
    "sigmoid": ((), "y"),
    "tanh": ((), "y"),
    "gelu": ((), "x"),
}
shapes = st.lists(st.integers(1, 9), min_size=1, max_size=4).map(tuple)


def close(a, b, dtype):
    np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype])


@SETTINGS
@given(name=st.sampled_from(sorted(ELEMENTWISE)), shape=shapes, dtype=st.sampled_from(DTYPES),
       scale=st.sampled_from([1.0, 30.0]), seed=st.integers(0, 2**16))
def test_elementwise_match_twin(kernel_pair, name, shape, dtype, scale, seed):
    args, reads = ELEMENTWISE[name]
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    ref, comp = kernel_pair(f"{name}_forward")
    y_ref, y_comp = np.empty_like(x), np.full_like(x, np.nan)
    ref(x, *args, y_ref)
    comp(x, *args, y_comp)
    close(y_comp, y_ref, dtype)
    saved = x if reads == "x" else y_ref
    ref, comp = kernel_pair(f"{name}_backward")
    g_ref, g_comp = np.empty_like(x), np.full_like(x, np.nan)
    ref(dy, saved, *args, g_ref)
    comp(dy, saved, *args, g_comp)
    close(g_comp, g_ref, dtype)


@SETTINGS
@given(rows=st.integers(1, 12), cols=st.integers(1, 20), dtype=st.sampled_from(DTYPES),
       scale=st.sampled_from([1.0, 100.0]), seed=st.integers(0, 2**16))
def test_softmax_match_twin(kernel_pair, rows, cols, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, cols)) * scale).astype(dtype)
    dy = rng.standard_normal((rows, cols)).astype(dtype)
    outs = {}
    for name in ("softmax_forward", "log_softmax_forward"):
        ref, comp = kernel_pair(name)
        a, b = np.empty_like(x), np.full_like(x, np.nan)
        ref(x, a)
        comp(x, b)
        close(b, a, dtype)
        outs[name] = a
    close(np.exp(outs["log_softmax_forward"].astype(np.float64)), outs["softmax_forward"], dtype)
    ref, comp = kernel_pair("softmax_backward")
    a, b = np.empty_like(x), np.full_like(x, np.nan)
    ref(dy, outs["softmax_forward"], a)
    comp(dy, outs["softmax_forward"], b)
    close(b, a, dtype)


@pytest.mark.parametrize("twin", ["reference", "compiled"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_values_from_formulas(kernel_pair, twin, dtype):
    pick = int(twin == "compiled")
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0], dtype)

    def run(name, *args):
        out = np.empty_like(x)
        kernel_pair(f"{name}_forward")[pick](x, *args, out)
        return out

    xs = [-3.0, -0.5, 0.0, 0.5, 3.0]
    close(run("relu"), [0, 0, 0, 0.5, 3], dtype)
    close(run("leaky_relu", 0.2), [-0.6, -0.1, 0, 0.5, 3], dtype)
    close(run("sigmoid"), [1 / (1 + math.exp(-v)) for v in xs], dtype)
    close(run("tanh"), [math.tanh(v) for v in xs], dtype)
    close(run("gelu"), [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in xs], dtype)
    # softmax of [0, ln 2, ln 3] = [1, 2, 3] / 6
    row = np.log(np.array([[1.0, 2.0, 3.0]], dtype))
    out = np.empty_like(row)
    kernel_pair("softmax_forward")[pick](row, out)
    close(out, [[1 / 6, 2 / 6, 3 / 6]], dtype)


@pytest.mark.parametrize("twin", ["reference", "compiled"])
def test_extreme_inputs_stay_finite(kernel_pair, twin):
    pick = int(twin == "compiled")
    x = np.array([[-1e4, 0.0, 1e4]])
    out = np.empty_like(x)
    kernel_pair("sigmoid_forward")[pick](x, out)
    np.testing.assert_array_equal(out, [[0.0, 0.5, 1.0]])
    kernel_pair("softmax_forward")[pick](x, out)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 1.0]])
    kernel_pair("log_softmax_forward")[pick](x, out)
    np.testing.assert_array_equal(out, [[-2e4, -1e4, 0.0]])


def test_relu_keeps_nan(kernel_pair):
    for fn in kernel_pair("relu_forward"):
        out = np.empty(3)
        fn(np.array([np.nan, -1.0, 2.0]), out)
        assert np.isnan(out[0]) and out[1] == 0 and out[2] == 2


def test_bad_arguments_raise_value_error(kernel_pair):
    x = np.ones((3, 4))
    for name, (args, _) in ELEMENTWISE.items():
        _, fwd = kernel_pair(f"{name}_forward")
        _, bwd = kernel_pair(f"{name}_backward")
        for bad_out in (np.empty((4, 3)), np.empty((3, 4), np.float32), np.empty((3, 5))[:, :4]):
            with pytest.raises(ValueError):
                fwd(x, *args, bad_out)
        with pytest.raises(ValueError):
            fwd(x.astype(np.int32), *args, np.empty((3, 4), np.int32))
        with pytest.raises(ValueError):
            bwd(np.ones((3, 5)), x, *args, np.empty((3, 4)))
        with pytest.raises(ValueError):
            bwd(x, x, *args, np.empty(12))
    for name in ("softmax_forward", "log_softmax_forward"):
        _, fn = kernel_pair(name)
        with pytest.raises(ValueError):
            fn(np.ones(5), np.empty(5))
        with pytest.raises(ValueError):
            fn(x, np.empty((4, 3)))
    _, fn = kernel_pair("softmax_backward")
    with pytest.raises(ValueError):
        fn(x, np.ones((3, 5)), np.empty((3, 4)))
