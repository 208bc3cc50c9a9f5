"""RMSProp against the update rule written out by hand (PyTorch's RMSprop, alpha = rho)."""
import numpy as np
import pytest

from minidl.optim import RMSProp
from _optimizer_testing import assert_all_close, make_problem, run, torch_run


def rmsprop_by_hand(init, grads, lr, rho=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0):
    thetas = [np.array(x, dtype=np.float64) for x in init]
    s = [np.zeros_like(t) for t in thetas]
    b = [np.zeros_like(t) for t in thetas]
    for step_grads in grads:
        for i, grad in enumerate(step_grads):
            g = grad + weight_decay * thetas[i]
            s[i] = rho * s[i] + (1 - rho) * g * g
            avg = np.sqrt(s[i]) + eps          # eps outside the square root
            if momentum > 0:
                b[i] = momentum * b[i] + g / avg
                thetas[i] = thetas[i] - lr * b[i]
            else:
                thetas[i] = thetas[i] - lr * g / avg
    return thetas


@pytest.mark.parametrize("rho, momentum, weight_decay", [
    (0.99, 0.0, 0.0), (0.9, 0.0, 0.1), (0.99, 0.9, 0.0), (0.5, 0.5, 0.05)])
def test_rmsprop_matches_hand_computed_steps(backend_name, rho, momentum, weight_decay):
    init, grads = make_problem(seed=11, steps=6)
    params, _ = run(lambda p: RMSProp(p, learning_rate=0.01, rho=rho, momentum=momentum,
                                      weight_decay=weight_decay), init, grads)
    assert_all_close(params, rmsprop_by_hand(init, grads, 0.01, rho, 1e-8, momentum, weight_decay))


def test_first_step_is_lr_over_sqrt_one_minus_rho():
    # s₁ = (1 − ρ)g², so the first step is η·g/(√(1−ρ)·|g| + ε) ≈ η/√(1 − ρ) = 10η for ρ = 0.99
    params, _ = run(lambda p: RMSProp(p, learning_rate=0.01), [np.array([0.0])], [[np.array([3.0])]])
    assert params[0].data[0] == pytest.approx(-0.01 * 3.0 / (np.sqrt(0.01) * 3.0 + 1e-8), rel=1e-12)


def test_float32(backend_name):
    init, grads = make_problem(seed=12, steps=5)
    params, _ = run(lambda p: RMSProp(p, learning_rate=0.01, momentum=0.9), init, grads, dtype=np.float32)
    assert_all_close(params, rmsprop_by_hand(init, grads, 0.01, momentum=0.9), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(rho=1.5), dict(momentum=-0.1), dict(epsilon=-1e-8),
                                    dict(weight_decay=-1.0), dict(learning_rate=-0.1)])
def test_bad_hyperparameters(kwargs):
    init, _ = make_problem()
    with pytest.raises(ValueError, match="^RMSProp: invalid"):
        run(lambda p: RMSProp(p, **kwargs), init, [])


@pytest.mark.parametrize("kwargs", [dict(), dict(momentum=0.9, weight_decay=0.01)])
def test_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    init, grads = make_problem(seed=13, steps=10)
    params, _ = run(lambda p: RMSProp(p, learning_rate=0.01, rho=0.9, **kwargs), init, grads)
    expected = torch_run(torch, lambda t: torch.optim.RMSprop(t, lr=0.01, alpha=0.9, **kwargs), init, grads)
    assert_all_close(params, expected)
