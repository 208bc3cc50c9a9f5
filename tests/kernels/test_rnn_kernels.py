"""RNN kernels (minidl/_kernels/rnn.pyx) vs the NumPy twin (reference/rnn.py): forward over
time and backpropagation through time on random shapes, float32/float64, tanh/relu, with and
without bias and h0; the twin's gradients against finite differences; bad shapes rejected."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from minidl.gradcheck import numerical_gradient

# float32: rounding (and the tanh approximation, 3.4e-7) compounds over the time steps
TOL = {np.float32: 2e-4, np.float64: 1e-11}
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def problem(rng, n, steps, ni, hid, dtype, bias, h0, scale=0.5):
    f = lambda *s: (rng.standard_normal(s) * scale).astype(dtype)   # noqa: E731
    return dict(x=f(n, steps, ni), w_ih=f(hid, ni), w_hh=f(hid, hid), bias=f(hid) if bias else None,
                h0=f(n, hid) if h0 else None, g=f(n, steps, hid))


def close(a, b, dtype):
    np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype])


def run(fns, p, relu, dtype, want_dx=True, want_db=True, want_dh0=True):
    fwd, bwd = fns
    n, steps, ni = p["x"].shape
    hid = p["w_hh"].shape[0]
    out = np.full((n, steps, hid), np.nan, dtype)
    fwd(p["x"], p["w_ih"], p["w_hh"], p["bias"], p["h0"], out, relu)
    # overwrite contract: every output starts as NaN
    grads = dict(dx=np.full(p["x"].shape, np.nan, dtype) if want_dx else None,
                 dw_ih=np.full((hid, ni), np.nan, dtype), dw_hh=np.full((hid, hid), np.nan, dtype),
                 db=np.full(hid, np.nan, dtype) if want_db else None,
                 dh0=np.full((n, hid), np.nan, dtype) if want_dh0 else None)
    bwd(p["g"], p["x"], p["w_ih"], p["w_hh"], p["h0"], out, grads["dx"], grads["dw_ih"], grads["dw_hh"],
        grads["db"], grads["dh0"], relu)
    return out, grads


@pytest.fixture
def rnn_pair(kernel_pair):
    (f_ref, f_comp), (b_ref, b_comp) = kernel_pair("rnn_forward"), kernel_pair("rnn_backward")
    return (f_ref, b_ref), (f_comp, b_comp)


@SETTINGS
@given(n=st.sampled_from([1, 2, 5, 13]), steps=st.sampled_from([1, 2, 7]), ni=st.sampled_from([1, 3, 17]),
       hid=st.sampled_from([1, 4, 33]), relu=st.booleans(), bias=st.booleans(), h0=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_compiled_matches_twin(rnn_pair, n, steps, ni, hid, relu, bias, h0, dtype, seed):
    p = problem(np.random.default_rng(seed), n, steps, ni, hid, dtype, bias, h0)
    (out_r, g_r), (out_c, g_c) = (run(fns, p, relu, dtype) for fns in rnn_pair)
    close(out_c, out_r, dtype)
    for key in g_r:
        if g_r[key] is not None:
            close(g_c[key], g_r[key], dtype)


@pytest.mark.parametrize("relu", [False, True])
def test_optional_gradients_are_skipped_and_others_unchanged(rnn_pair, relu):
    p = problem(np.random.default_rng(3), 4, 5, 6, 7, np.float64, True, True)
    for fns in rnn_pair:
        _, full = run(fns, p, relu, np.float64)
        _, part = run(fns, p, relu, np.float64, want_dx=False, want_db=False, want_dh0=False)
        assert part["dx"] is None and part["db"] is None and part["dh0"] is None
        close(part["dw_ih"], full["dw_ih"], np.float64)
        close(part["dw_hh"], full["dw_hh"], np.float64)


def test_forward_is_the_recurrence(rnn_pair):
    p = problem(np.random.default_rng(4), 3, 4, 5, 6, np.float64, True, True)
    h = p["h0"]
    expected = []
    for t in range(4):
        h = np.tanh(p["x"][:, t] @ p["w_ih"].T + h @ p["w_hh"].T + p["bias"])
        expected.append(h)
    for fns in rnn_pair:
        out, _ = run(fns, p, False, np.float64)
        close(out, np.stack(expected, axis=1), np.float64)


@pytest.mark.parametrize("relu", [False, True])
def test_twin_gradients_match_finite_differences(relu):
    from minidl._kernels.reference import rnn

    rng = np.random.default_rng(5)
    p = problem(rng, 2, 3, 3, 4, np.float64, True, True, scale=0.7)
    p["x"] += 0.1      # keep relu pre-activations away from the kink

    def loss(_):
        out = np.empty((2, 3, 4))
        rnn.rnn_forward(p["x"], p["w_ih"], p["w_hh"], p["bias"], p["h0"], out, relu)
        return float((out * p["g"]).sum())

    _, grads = run((rnn.rnn_forward, rnn.rnn_backward), p, relu, np.float64)
    for key, gkey in (("x", "dx"), ("w_ih", "dw_ih"), ("w_hh", "dw_hh"), ("bias", "db"), ("h0", "dh0")):
        np.testing.assert_allclose(grads[gkey], numerical_gradient(loss, p[key]), rtol=1e-6, atol=1e-8, err_msg=key)


def test_bad_shapes_raise(kernel_pair):
    _, fwd = kernel_pair("rnn_forward")
    _, bwd = kernel_pair("rnn_backward")
    p = problem(np.random.default_rng(6), 2, 3, 4, 5, np.float32, True, True)
    with pytest.raises(ValueError, match="rnn kernel"):
        fwd(p["x"], p["w_ih"], p["w_hh"], p["bias"], p["h0"], np.empty((2, 3, 6), np.float32), False)
    with pytest.raises(ValueError, match="rnn kernel"):
        fwd(p["x"], p["w_ih"].T.copy(), p["w_hh"], p["bias"], p["h0"], np.empty((2, 3, 5), np.float32), False)
    out = np.empty((2, 3, 5), np.float32)
    fwd(p["x"], p["w_ih"], p["w_hh"], p["bias"], p["h0"], out, False)
    with pytest.raises(ValueError, match="rnn kernel"):
        bwd(p["g"], p["x"], p["w_ih"], p["w_hh"], p["h0"], out, None, np.empty((5, 4), np.float32),
            np.empty((5, 5), np.float32), np.empty(4, np.float32), None, False)
