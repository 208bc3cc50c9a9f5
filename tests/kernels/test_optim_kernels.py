"""Optimizer update kernels: compiled vs NumPy twin on random shapes, float32 and float64,
and shape/dtype errors raised by the compiled kernels instead of reading out of bounds."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
shapes = st.lists(st.integers(1, 9), min_size=0, max_size=3).map(tuple)
dtypes = st.sampled_from([np.float32, np.float64])
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}

# kernel name -> (number of state arrays, function building its scalar arguments from a draw)
CASES = {
    "sgd_update": (0, lambda d: (d(st.floats(0, 1)), d(st.sampled_from([0.0, 0.1])))),
    "sgd_momentum_update": (1, lambda d: (d(st.floats(0, 1)), d(st.floats(0, 0.99)),
                                          d(st.sampled_from([0.0, 0.1])), d(st.booleans()))),
    "adam_update": (2, lambda d: (d(st.floats(1e-4, 0.1)), d(st.floats(0, 0.99)), d(st.floats(0.5, 0.999)),
                                  1e-8, d(st.sampled_from([0.0, 0.1])), d(st.integers(1, 50)), d(st.booleans()))),
    "rmsprop_update": (1, lambda d: (d(st.floats(1e-4, 0.1)), d(st.floats(0.5, 0.99)), 1e-8,
                                     d(st.sampled_from([0.0, 0.1])))),
    "rmsprop_momentum_update": (2, lambda d: (d(st.floats(1e-4, 0.1)), d(st.floats(0.5, 0.99)), 1e-8,
                                              d(st.sampled_from([0.0, 0.1])), d(st.floats(0.01, 0.9)))),
    "adagrad_update": (1, lambda d: (d(st.floats(1e-4, 0.1)), 1e-10, d(st.sampled_from([0.0, 0.1])))),
    "rprop_update": (2, lambda d: (d(st.floats(0.1, 0.9)), d(st.floats(1.1, 2.0)), 1e-4, 0.05)),
}

FIXED_SCALARS = {
    "sgd_update": (0.1, 0.0),
    "sgd_momentum_update": (0.1, 0.9, 0.0, False),
    "adam_update": (0.001, 0.9, 0.999, 1e-8, 0.0, 1, False),
    "rmsprop_update": (0.01, 0.99, 1e-8, 0.0),
    "rmsprop_momentum_update": (0.01, 0.99, 1e-8, 0.0, 0.9),
    "adagrad_update": (0.01, 1e-10, 0.0),
    "rprop_update": (0.5, 1.2, 1e-6, 50.0),
}


def _state(name, rng, shape, dtype):
    n_state = CASES[name][0]
    if name == "rprop_update":     # prev gradient (any sign, some zeros), positive step sizes
        prev = rng.standard_normal(shape) * (rng.random(shape) > 0.2)
        return [np.array(prev, dtype=dtype), np.array(rng.uniform(1e-5, 0.1, shape), dtype=dtype)]
    # second moments / sums must be non-negative; buffers may be anything
    return [np.array(np.abs(rng.standard_normal(shape)), dtype=dtype) for _ in range(n_state)]


@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(data=st.data(), shape=shapes, dtype=dtypes, seed=st.integers(0, 2**32 - 1))
def test_compiled_matches_twin(kernel_pair, name, data, shape, dtype, seed):
    ref, comp = kernel_pair(name)
    rng = np.random.default_rng(seed)
    param = np.array(rng.standard_normal(shape), dtype=dtype)
    grad = np.array(rng.standard_normal(shape), dtype=dtype)
    state = _state(name, rng, shape, dtype)
    scalars = CASES[name][1](data.draw)
    ref_arrays = [param.copy(), grad.copy()] + [s.copy() for s in state]
    comp_arrays = [param.copy(), grad.copy()] + [s.copy() for s in state]
    assert ref(*ref_arrays, *scalars) is None
    assert comp(*comp_arrays, *scalars) is None
    np.testing.assert_array_equal(comp_arrays[1], grad)          # the gradient is only read
    for r, c in zip(ref_arrays, comp_arrays):
        assert c.dtype == dtype
        np.testing.assert_allclose(c, r, **TOL[dtype])


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_rejects_mismatched_arrays(kernel_pair, name):
    _, comp = kernel_pair(name)
    n_state = CASES[name][0]
    scalars = FIXED_SCALARS[name]

    def arrays(n=6, dtype=np.float64):
        return [np.ones(n, dtype) for _ in range(2 + n_state)]

    bad_size = arrays()
    bad_size[1] = np.ones(5)
    with pytest.raises(ValueError, match=name):
        comp(*bad_size, *scalars)
    bad_dtype = arrays()
    bad_dtype[-1] = np.ones(6, np.float32)
    with pytest.raises(ValueError, match=name):
        comp(*bad_dtype, *scalars)
    with pytest.raises(ValueError, match=name):
        comp(*arrays(dtype=np.int64), *scalars)
    strided = arrays()
    strided[0] = np.ones(12)[::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        comp(*strided, *scalars)
    with pytest.raises(TypeError):
        comp(*([None] + arrays()[1:]), *scalars)


def test_worked_sgd_momentum_values(kernel_pair):
    # θ = 1, ∇ = 2, b = 3, η = 0.1, μ = 0.5, λ = 0.25: g = 2.25, b = 3.75, θ = 0.625;
    # nesterov: d = 2.25 + 0.5·3.75 = 4.125, θ = 0.5875
    for fn in kernel_pair("sgd_momentum_update"):
        for nesterov, expected in ((False, 0.625), (True, 0.5875)):
            p, g, b = np.array([1.0]), np.array([2.0]), np.array([3.0])
            fn(p, g, b, 0.1, 0.5, 0.25, nesterov)
            assert b[0] == pytest.approx(3.75, abs=1e-15)
            assert p[0] == pytest.approx(expected, abs=1e-15)


def test_compiled_updates_flush_subnormal_state_to_zero_and_restore_the_fpu(kernel_pair):
    """A decaying momentum buffer must not crawl through the (100x slower) subnormal range:
    the compiled kernel flushes results below the smallest normal float to 0. The twin keeps
    them; the difference is below float32's smallest normal number. Afterwards NumPy's own
    arithmetic must produce subnormals again (the FPU flag is restored)."""
    ref, comp = kernel_pair("sgd_momentum_update")
    tiny = np.finfo(np.float32).tiny
    param = np.ones(64, dtype=np.float32)
    grad = np.zeros(64, dtype=np.float32)
    buf = np.full(64, tiny * 1.01, dtype=np.float32)         # 0.9 * buf is subnormal
    p_ref, b_ref = param.copy(), buf.copy()
    ref(p_ref, grad, b_ref, 0.01, 0.9, 0.0, False)
    comp(param, grad, buf, 0.01, 0.9, 0.0, False)
    assert np.all((b_ref > 0) & (b_ref < tiny))              # the twin keeps the subnormal
    assert np.all(buf == 0.0)                                 # the kernel flushed it
    np.testing.assert_allclose(buf, b_ref, rtol=0, atol=tiny)
    np.testing.assert_array_equal(param, p_ref)
    half = np.float32(tiny) * np.float32(0.5)
    assert 0.0 < half < tiny                                  # flush-to-zero was switched off again
