"""Rprop against the update rule written out by hand (PyTorch's)."""
import numpy as np
import pytest

from minidl.optim import Rprop
from _optimizer_testing import assert_all_close, make_problem, run, torch_run


def rprop_by_hand(init, grads, lr, etas=(0.5, 1.2), step_sizes=(1e-6, 50)):
    """Element by element, in plain Python."""
    eta_minus, eta_plus = etas
    lo, hi = step_sizes
    thetas = [np.array(x, dtype=np.float64) for x in init]
    prev = [np.zeros_like(t) for t in thetas]
    delta = [np.full_like(t, lr) for t in thetas]
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            th, pv, dl = thetas[i].reshape(-1), prev[i].reshape(-1), delta[i].reshape(-1)
            for j, g in enumerate(np.asarray(grad, dtype=np.float64).reshape(-1)):
                if g * pv[j] > 0:
                    dl[j] = min(dl[j] * eta_plus, hi)
                elif g * pv[j] < 0:
                    dl[j] = max(dl[j] * eta_minus, lo)
                    g = 0.0
                else:
                    dl[j] = min(max(dl[j], lo), hi)
                th[j] -= np.sign(g) * dl[j]
                pv[j] = g
    return thetas


@pytest.mark.parametrize("etas, step_sizes", [((0.5, 1.2), (1e-6, 50)), ((0.3, 1.5), (1e-3, 0.02))])
def test_rprop_matches_hand_computed_steps(backend_name, etas, step_sizes):
    init, grads = make_problem(seed=31, steps=8)
    # make some signs persist so both branches and the clamps are exercised
    grads = [[g + 0.8 for g in step] for step in grads]
    params, _ = run(lambda p: Rprop(p, learning_rate=0.01, etas=etas, step_sizes=step_sizes), init, grads)
    assert_all_close(params, rprop_by_hand(init, grads, 0.01, etas, step_sizes))


def test_worked_sequence():
    # signs +, +, −, + with Δ₀ = 0.1: moves −0.1, −0.12, 0 (flip: Δ → 0.06, no move), then
    # the stored gradient is 0, so the next step moves +0.06 without changing Δ
    grads = [[np.array([1.0])], [np.array([2.0])], [np.array([-1.0])], [np.array([-3.0])]]
    params, opt = run(lambda p: Rprop(p, learning_rate=0.1), [np.array([0.0])], grads)
    assert params[0].data[0] == pytest.approx(-0.1 - 0.12 + 0.06, abs=1e-15)
    state = opt.state[params[0]]
    assert state["step_size"][0] == pytest.approx(0.06, abs=1e-15)
    assert state["prev"][0] == -3.0


def test_gradient_magnitude_is_ignored(backend_name):
    a, _ = run(lambda p: Rprop(p), [np.zeros(3)], [[np.array([1e-9, 1.0, 1e9])]])
    np.testing.assert_allclose(a[0].data, [-0.01, -0.01, -0.01], rtol=1e-15)


def test_float32(backend_name):
    init, grads = make_problem(seed=32, steps=5)
    params, _ = run(lambda p: Rprop(p, learning_rate=0.01), init, grads, dtype=np.float32)
    assert_all_close(params, rprop_by_hand(init, grads, 0.01), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(etas=(1.2, 0.5)), dict(etas=(0.5, 1.0)),
                                    dict(step_sizes=(1.0, 0.1)), dict(etas=0.5)])
def test_bad_hyperparameters(kwargs):
    init, _ = make_problem()
    with pytest.raises(ValueError, match="^Rprop: "):
        run(lambda p: Rprop(p, **kwargs), init, [])


def test_matches_torch():
    torch = pytest.importorskip("torch")
    init, grads = make_problem(seed=33, steps=10)
    grads = [[g + 0.5 for g in step] for step in grads]
    params, _ = run(lambda p: Rprop(p, learning_rate=0.02, etas=(0.4, 1.3), step_sizes=(1e-4, 0.05)),
                    init, grads)
    expected = torch_run(torch, lambda t: torch.optim.Rprop(t, lr=0.02, etas=(0.4, 1.3),
                                                            step_sizes=(1e-4, 0.05)), init, grads)
    assert_all_close(params, expected)
