"""SGD against the update rule written out by hand (PyTorch's, dampening 0)."""
import numpy as np
import pytest

from minidl.optim import SGD
from _optimizer_testing import assert_all_close, make_problem, run, torch_run


def sgd_by_hand(init, grads, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    """Plain-Python loop of the formulas: g = ∇ + λθ; b = g (first step) else μb + g;
    d = g + μb (nesterov) or b; θ -= lr·d."""
    thetas = [np.array(x, dtype=np.float64) for x in init]
    bufs = [None] * len(init)
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            g = grad + weight_decay * thetas[i]
            if momentum != 0:
                bufs[i] = g.copy() if bufs[i] is None else momentum * bufs[i] + g
                d = g + momentum * bufs[i] if nesterov else bufs[i]
            else:
                d = g
            thetas[i] = thetas[i] - lr * d
    return thetas


@pytest.mark.parametrize("momentum, nesterov, weight_decay", [
    (0.0, False, 0.0), (0.0, False, 0.1), (0.9, False, 0.0), (0.9, False, 0.05),
    (0.9, True, 0.0), (0.5, True, 0.1),
])
def test_sgd_matches_hand_computed_steps(backend_name, momentum, nesterov, weight_decay):
    init, grads = make_problem(seed=1, steps=6)
    params, _ = run(lambda p: SGD(p, learning_rate=0.1, momentum=momentum, nesterov=nesterov,
                                  weight_decay=weight_decay), init, grads)
    assert_all_close(params, sgd_by_hand(init, grads, 0.1, momentum, weight_decay, nesterov))


def test_single_step_worked_example(backend_name):
    # θ = 2, ∇ = 0.5, λ = 0.1, η = 0.1: g = 0.5 + 0.2 = 0.7, θ = 2 − 0.07 = 1.93
    params, _ = run(lambda p: SGD(p, learning_rate=0.1, momentum=0.9, weight_decay=0.1),
                    [np.array([2.0])], [[np.array([0.5])]])
    assert params[0].data[0] == pytest.approx(1.93, abs=1e-15)
    # second step with the same gradient at θ = 1.93: g = 0.5 + 0.193 = 0.693,
    # b = 0.9·0.7 + 0.693 = 1.323, θ = 1.93 − 0.1323 = 1.7977
    params, _ = run(lambda p: SGD(p, learning_rate=0.1, momentum=0.9, weight_decay=0.1),
                    [np.array([2.0])], [[np.array([0.5])], [np.array([0.5])]])
    assert params[0].data[0] == pytest.approx(1.7977, abs=1e-14)


def test_float32_follows_float64_closely(backend_name):
    init, grads = make_problem(seed=2, steps=5)
    params, _ = run(lambda p: SGD(p, learning_rate=0.05, momentum=0.9, nesterov=True), init, grads,
                    dtype=np.float32)
    assert all(p.dtype == np.float32 for p in params)
    assert_all_close(params, sgd_by_hand(init, grads, 0.05, 0.9, 0.0, True), rtol=1e-5, atol=1e-6)


def test_gradient_is_not_modified_by_weight_decay(backend_name):
    init, grads = make_problem(seed=3, steps=1)
    params, _ = run(lambda p: SGD(p, learning_rate=0.1, momentum=0.9, weight_decay=0.5), init, grads)
    for p, g in zip(params, grads[0]):
        np.testing.assert_array_equal(p.grad, g)


def test_nesterov_requires_momentum():
    init, _ = make_problem()
    with pytest.raises(ValueError, match="SGD.*nesterov"):
        run(lambda p: SGD(p, nesterov=True), init, [])


@pytest.mark.parametrize("kwargs", [dict(), dict(momentum=0.9, weight_decay=1e-2),
                                    dict(momentum=0.8, nesterov=True, weight_decay=1e-3)])
def test_matches_torch_sgd(kwargs):
    torch = pytest.importorskip("torch")
    init, grads = make_problem(seed=4, steps=10)
    params, _ = run(lambda p: SGD(p, learning_rate=0.03, **kwargs), init, grads)
    expected = torch_run(torch, lambda t: torch.optim.SGD(t, lr=0.03, **kwargs), init, grads)
    assert_all_close(params, expected)
