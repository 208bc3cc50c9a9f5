"""Adam and AdamW against the update rule written out by hand (PyTorch's)."""
import numpy as np
import pytest

from minidl.nn.parameter import Parameter
from minidl.optim import Adam, AdamW
from _optimizer_testing import assert_all_close, make_problem, run, torch_run


def adam_by_hand(init, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    thetas = [np.array(x, dtype=np.float64) for x in init]
    m = [np.zeros_like(t) for t in thetas]
    v = [np.zeros_like(t) for t in thetas]
    for t, step_grads in enumerate(grads, start=1):
        for i, grad in enumerate(step_grads):
            if decoupled:
                thetas[i] = thetas[i] * (1 - lr * weight_decay)
                g = grad
            else:
                g = grad + weight_decay * thetas[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g ** 2
            m_hat = m[i] / (1 - beta1 ** t)
            v_hat = v[i] / (1 - beta2 ** t)
            thetas[i] = thetas[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return thetas


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9)])
def test_adam_matches_hand_computed_steps(backend_name, weight_decay, betas):
    init, grads = make_problem(seed=5, steps=7)
    params, _ = run(lambda p: Adam(p, learning_rate=0.01, beta1=betas[0], beta2=betas[1],
                                   weight_decay=weight_decay), init, grads)
    # eps sits inside the bias-corrected denominator differently from PyTorch's
    # √v/√(1−β₂ᵗ) + ε form only by rounding: the two are algebraically equal.
    assert_all_close(params, adam_by_hand(init, grads, 0.01, *betas, weight_decay=weight_decay), rtol=1e-10)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01, 0.3])
def test_adamw_matches_hand_computed_steps(backend_name, weight_decay):
    init, grads = make_problem(seed=6, steps=7)
    params, _ = run(lambda p: AdamW(p, learning_rate=0.02, weight_decay=weight_decay), init, grads)
    expected = adam_by_hand(init, grads, 0.02, weight_decay=weight_decay, decoupled=True)
    assert_all_close(params, expected, rtol=1e-10)


def test_first_adam_step_has_size_lr():
    # bias correction: at t = 1, m̂ = g and v̂ = g², so the step is lr·g/(|g| + ε) ≈ lr·sign(g)
    init = [np.array([1.0, -2.0, 3.0])]
    grads = [[np.array([1e-3, 5.0, -40.0])]]
    params, _ = run(lambda p: Adam(p, learning_rate=0.1), init, grads)
    g = grads[0][0]
    np.testing.assert_allclose(params[0].data, init[0] - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)


def test_adamw_default_weight_decay_and_difference_from_adam():
    assert AdamW([Parameter(np.zeros(1))]).defaults["weight_decay"] == 0.01
    init, grads = make_problem(seed=7, steps=5)
    adam, _ = run(lambda p: Adam(p, learning_rate=0.01, weight_decay=0.1), init, grads)
    adamw, _ = run(lambda p: AdamW(p, learning_rate=0.01, weight_decay=0.1), init, grads)
    assert max(np.abs(a.data - b.data).max() for a, b in zip(adam, adamw)) > 1e-6


def test_float32_follows_float64(backend_name):
    init, grads = make_problem(seed=8, steps=5)
    params, _ = run(lambda p: AdamW(p, learning_rate=0.01), init, grads, dtype=np.float32)
    assert_all_close(params, adam_by_hand(init, grads, 0.01, weight_decay=0.01, decoupled=True),
                     rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("beta1, beta2, eps", [(1.0, 0.999, 1e-8), (0.9, -0.1, 1e-8), (0.9, 0.999, -1.0)])
def test_bad_hyperparameters_name_the_optimizer(beta1, beta2, eps):
    init, _ = make_problem()
    with pytest.raises(ValueError, match="^Adam: invalid"):
        run(lambda p: Adam(p, beta1=beta1, beta2=beta2, epsilon=eps), init, [])


@pytest.mark.parametrize("cls, torch_name, kwargs", [
    (Adam, "Adam", dict()), (Adam, "Adam", dict(weight_decay=0.05)),
    (AdamW, "AdamW", dict()), (AdamW, "AdamW", dict(weight_decay=0.2)),
])
def test_matches_torch(cls, torch_name, kwargs):
    torch = pytest.importorskip("torch")
    init, grads = make_problem(seed=9, steps=10)
    params, _ = run(lambda p: cls(p, learning_rate=0.01, **kwargs), init, grads)
    expected = torch_run(torch, lambda t: getattr(torch.optim, torch_name)(t, lr=0.01, **kwargs), init, grads)
    assert_all_close(params, expected)
