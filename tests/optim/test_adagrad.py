"""Adagrad against the update rule written out by hand (PyTorch's, lr_decay 0)."""
import numpy as np
import pytest

from minidl.optim import Adagrad
from _optimizer_testing import assert_all_close, make_problem, run, torch_run


def adagrad_by_hand(init, grads, lr, eps=1e-10, initial=0.0, weight_decay=0.0):
    thetas = [np.array(x, dtype=np.float64) for x in init]
    G = [np.full_like(t, initial) for t in thetas]
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            g = grad + weight_decay * thetas[i]
            G[i] = G[i] + g * g
            thetas[i] = thetas[i] - lr * g / (np.sqrt(G[i]) + eps)
    return thetas


@pytest.mark.parametrize("initial, weight_decay", [(0.0, 0.0), (0.1, 0.0), (0.0, 0.2), (1.0, 0.05)])
def test_adagrad_matches_hand_computed_steps(backend_name, initial, weight_decay):
    init, grads = make_problem(seed=21, steps=6)
    params, _ = run(lambda p: Adagrad(p, learning_rate=0.1, initial_accumulator_value=initial,
                                      weight_decay=weight_decay), init, grads)
    assert_all_close(params, adagrad_by_hand(init, grads, 0.1, 1e-10, initial, weight_decay))


def test_constant_gradient_steps_shrink_like_one_over_sqrt_t():
    # with a constant gradient g, G_t = t·g², so step t moves η/√t
    steps = 5
    params, _ = run(lambda p: Adagrad(p, learning_rate=0.5), [np.array([0.0])],
                    [[np.array([2.0])]] * steps)
    expected = -sum(0.5 * 2.0 / (np.sqrt(t * 4.0) + 1e-10) for t in range(1, steps + 1))
    assert params[0].data[0] == pytest.approx(expected, rel=1e-12)


def test_float32(backend_name):
    init, grads = make_problem(seed=22, steps=5)
    params, _ = run(lambda p: Adagrad(p, learning_rate=0.1), init, grads, dtype=np.float32)
    assert_all_close(params, adagrad_by_hand(init, grads, 0.1), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(initial_accumulator_value=-1.0), dict(epsilon=-1.0),
                                    dict(weight_decay=-0.1)])
def test_bad_hyperparameters(kwargs):
    init, _ = make_problem()
    with pytest.raises(ValueError, match="^Adagrad: invalid"):
        run(lambda p: Adagrad(p, **kwargs), init, [])


def test_matches_torch():
    torch = pytest.importorskip("torch")
    init, grads = make_problem(seed=23, steps=10)
    kw = dict(initial_accumulator_value=0.1, weight_decay=0.01)
    params, _ = run(lambda p: Adagrad(p, learning_rate=0.05, **kw), init, grads)
    expected = torch_run(torch, lambda t: torch.optim.Adagrad(t, lr=0.05, **kw), init, grads)
    assert_all_close(params, expected)
