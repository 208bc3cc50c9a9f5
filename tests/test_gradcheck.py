"""minidl.gradcheck: golden finite differences, the difference formula, and check_module
passing correct modules and catching planted backward bugs (seed 003, 梯度检验)."""
import numpy as np
import pytest

import minidl
from minidl.gradcheck import GradCheckReport, check_module, numerical_gradient, relative_difference
from minidl.nn import Module, Parameter


# -- numerical_gradient -----------------------------------------------------------------------

def test_numerical_gradient_golden_values():
    x = np.array([-1.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v ** 2), x), 2 * x, atol=1e-8)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(np.sin(v)), x), np.cos(x), atol=1e-8)
    m = np.array([[0.3, -1.2], [2.0, 0.7]])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(np.exp(v)), m), np.exp(m), rtol=1e-8)
    # f(a, b) = a·b²  ->  (b², 2ab)
    ab = np.array([1.5, -2.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: v[0] * v[1] ** 2, ab), [4.0, -6.0], atol=1e-8)
    # a 0-d array works too
    np.testing.assert_allclose(numerical_gradient(lambda v: 3 * v ** 2, np.array(2.0)), 12.0, atol=1e-7)


def test_centered_difference_error_is_eps_squared():
    # ((x+e)³ − (x−e)³) / 2e = 3x² + e² exactly: the O(ε²) error of the centered difference
    eps = 1e-3
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v ** 3), x, eps=eps), 3 * x ** 2 + eps ** 2,
                               rtol=1e-10)


def test_numerical_gradient_restores_x_even_when_f_raises():
    x = np.array([[0.1, 0.2], [0.3, 0.4]])
    before = x.copy()
    numerical_gradient(lambda v: np.sum(v ** 2), x)
    np.testing.assert_array_equal(x, before)

    calls = []

    def fails_on_second_call(v):
        calls.append(v.copy())
        if len(calls) == 2:
            raise RuntimeError("boom")
        return float(np.sum(v))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(fails_on_second_call, x, eps=0.5)
    np.testing.assert_array_equal(x, before)
    # the second call saw the first element perturbed downwards, in place
    assert calls[1][0, 0] == pytest.approx(0.1 - 0.5)


def test_numerical_gradient_rejects_bad_arguments():
    with pytest.raises(TypeError):
        numerical_gradient(np.sum, np.array([1, 2, 3]))
    with pytest.raises(TypeError):
        numerical_gradient(np.sum, [1.0, 2.0])
    with pytest.raises(ValueError):
        numerical_gradient(np.sum, np.ones(3), eps=0.0)


# -- relative_difference ----------------------------------------------------------------------

def test_relative_difference_formula():
    # ‖a − b‖ / (‖a‖ + ‖b‖)
    assert relative_difference([3.0, 4.0], [0.0, 0.0]) == pytest.approx(1.0)
    assert relative_difference([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.sqrt(2) / 2)
    assert relative_difference([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_difference([2.0], [1.0]) == pytest.approx(1 / 3)   # a doubled gradient: 1/3
    assert relative_difference(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        relative_difference(np.zeros(3), np.zeros(4))


# -- small hand-written modules ----------------------------------------------------------------

class Dense(Module):
    """y = x Wᵀ + b with optional planted bugs in backward."""

    def __init__(self, n_in, n_out, bug=None, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.weight = Parameter(rng.normal(size=(n_out, n_in)), dtype=np.float32)
        self.bias = Parameter(rng.normal(size=n_out), dtype=np.float32)
        self.bug = bug

    def forward(self, x):
        self.x = x
        return x @ self.weight.data.T + self.bias.data

    def backward(self, g):
        dW = g.T @ self.x
        if self.bug == "double_dW":          # seed 003's exercise: dW2 = 2 * (...)
            dW = 2 * dW
        self.weight.accumulate_grad(dW)
        self.bias.accumulate_grad(g.sum(axis=0))
        if self.bug == "transpose":          # x-gradient with Wᵀ instead of W (square W)
            return g @ self.weight.data.T
        return g @ self.weight.data


class Tanh(Module):
    def __init__(self, bug=None):
        super().__init__()
        self.bug = bug

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, g):
        d = (1 - self.y ** 2) * g
        return -d if self.bug == "sign" else d


class BatchMean(Module):
    """y = scale · (1/m) Σ_i x_i over the batch of m rows; dscale and dx carry the 1/m."""

    def __init__(self, n, bug=None):
        super().__init__()
        self.scale = Parameter(np.linspace(0.5, 1.5, n), dtype=np.float64)
        self.bug = bug

    def forward(self, x):
        self.x = x
        return self.scale.data * x.mean(axis=0)

    def backward(self, g):
        m = self.x.shape[0]
        factor = 4.0 / m if self.bug == "one_over_m" else 1.0 / m     # seed 003: db1 with 4/m
        self.scale.accumulate_grad(g * self.x.sum(axis=0) * factor)
        return np.broadcast_to(g * self.scale.data / m, self.x.shape).copy()


class MLP(Module):
    def __init__(self, bug_layer=None, bug=None):
        super().__init__()
        self.fc1 = Dense(4, 4, bug=bug if bug_layer == "fc1" else None, seed=1)
        self.act = Tanh(bug=bug if bug_layer == "act" else None)
        self.fc2 = Dense(4, 3, bug=bug if bug_layer == "fc2" else None, seed=2)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))

    def backward(self, g):
        return self.fc1.backward(self.act.backward(self.fc2.backward(g)))


class OwnRngDropout(Module):
    """Inverted dropout drawing its mask from a Generator stored on the module."""

    def __init__(self, p=0.5, seed=0):
        super().__init__()
        self.p = p
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        self.mask = (self.rng.random(x.shape) >= self.p) / (1 - self.p)
        return x * self.mask

    def backward(self, g):
        return g * self.mask


class GlobalRngNoise(Module):
    """Multiplies by noise drawn from minidl's global generator at every forward."""

    def forward(self, x):
        self.noise = minidl.random.default_rng().normal(size=x.shape)
        return x * self.noise

    def backward(self, g):
        return g * self.noise


class IgnoresUpstream(Module):
    """y = 3x, but backward returns 3 regardless of the upstream gradient (only right if g = 1)."""

    def forward(self, x):
        return 3 * x

    def backward(self, g):
        return np.full_like(g, 3.0)


class CenteredAffine(Module):
    """y = (x Wᵀ + b) − batch mean: the bias cancels, its exact gradient is 0 (like before BN)."""

    def __init__(self):
        super().__init__()
        self.weight = Parameter(np.array([[1.0, -2.0], [0.5, 0.3]]))
        self.bias = Parameter(np.array([0.7, -0.2]))

    def forward(self, x):
        self.x = x
        z = x @ self.weight.data.T + self.bias.data
        return z - z.mean(axis=0)

    def backward(self, g):
        g_z = g - g.mean(axis=0)
        self.weight.accumulate_grad(g_z.T @ self.x)
        self.bias.accumulate_grad(g_z.sum(axis=0))      # exactly 0 up to rounding
        return g_z @ self.weight.data


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


# -- check_module on correct modules ----------------------------------------------------------------

@pytest.mark.parametrize("make, shape", [
    (lambda: Dense(3, 2), (5, 3)),
    (lambda: Tanh(), (4, 3)),
    (lambda: BatchMean(3), (6, 3)),
    (lambda: MLP(), (5, 4)),
    (lambda: CenteredAffine(), (4, 2)),
])
def test_check_module_passes_correct_modules(make, shape):
    report = check_module(make(), _x(shape))
    assert isinstance(report, GradCheckReport)
    assert report.passed, str(report)
    assert bool(report) is True
    assert report.max_difference < 1e-7
    expected = {"input"} | {name for name, _ in make().named_parameters()}
    assert set(report.differences) == expected
    assert "PASSED" in str(report)


def test_check_module_passes_minidl_linear_if_available():
    nn = minidl.nn
    try:
        linear = nn.Linear(5, 3)
    except (ImportError, AttributeError):
        pytest.skip("minidl.nn.Linear not available yet")
    report = check_module(linear, _x((4, 5)))
    assert report.passed, str(report)
    assert set(report.differences) == {"input", "weight", "bias"}


# -- planted bugs ---------------------------------------------------------------------------

@pytest.mark.parametrize("module, shape, culprit", [
    (Dense(3, 2, bug="double_dW"), (5, 3), "weight"),
    (Dense(3, 3, bug="transpose"), (5, 3), "input"),
    (Tanh(bug="sign"), (4, 3), "input"),
    (BatchMean(3, bug="one_over_m"), (6, 3), "scale"),
    (MLP(bug_layer="fc2", bug="double_dW"), (5, 4), "fc2.weight"),
    (MLP(bug_layer="fc1", bug="transpose"), (5, 4), "input"),
    (IgnoresUpstream(), (3, 2), "input"),
])
def test_check_module_catches_planted_bugs(module, shape, culprit):
    report = check_module(module, _x(shape))
    assert not report.passed
    assert not bool(report)
    assert report.max_difference > 1e-3
    # the worst tensor is the one with the bug, and str() names it with the worst element
    assert report.worst[0] == culprit
    assert max(report.differences, key=report.differences.get) == culprit
    text = str(report)
    assert "FAILED" in text and f"worst element: {culprit}[" in text
    name, idx, analytic, numeric = report.worst
    a, n = report.gradients(culprit)
    assert a[idx] == analytic and n[idx] == numeric
    assert abs(a[idx] - n[idx]) == pytest.approx(np.max(np.abs(a - n)))


def test_doubled_gradient_gives_one_third():
    # ‖2g − g‖ / (‖2g‖ + ‖g‖) = 1/3: the number the documents' formula gives for a doubled dW
    report = check_module(Dense(3, 2, bug="double_dW"), _x((5, 3)))
    assert report.differences["weight"] == pytest.approx(1 / 3, rel=1e-6)
    assert report.differences["bias"] < 1e-7 and report.differences["input"] < 1e-7


def test_one_over_m_bug_gives_three_fifths():
    # 4/m instead of 1/m: ‖4g − g‖ / (‖4g‖ + ‖g‖) = 3/5
    report = check_module(BatchMean(3, bug="one_over_m"), _x((6, 3)))
    assert report.differences["scale"] == pytest.approx(3 / 5, rel=1e-6)


def test_nan_gradient_fails():
    class NanBackward(Tanh):
        def backward(self, g):
            out = super().backward(g)
            out[0, 0] = np.nan
            return out

    report = check_module(NanBackward(), _x((2, 2)))
    assert not report.passed
    assert np.isnan(report.max_difference)
    assert report.worst[0] == "input" and report.worst[1] == (0, 0)


# -- randomness, float64, the caller's module ------------------------------------------------------

def test_randomness_is_fixed_for_a_module_generator():
    module = OwnRngDropout(p=0.5, seed=3)
    state_before = module.rng.bit_generator.state
    report = check_module(module, _x((4, 5)))
    assert report.passed, str(report)
    # the caller's generator did not advance (check_module works on a copy)
    assert module.rng.bit_generator.state == state_before


def test_without_fixing_randomness_the_numbers_are_meaningless():
    # What check_module prevents: a fresh mask per evaluation makes J no function of x.
    module = OwnRngDropout(p=0.5, seed=3)
    x = _x((4, 5))
    g = np.random.default_rng(0).normal(size=x.shape)
    module(x)
    analytic = module.backward(g)
    numeric = numerical_gradient(lambda v: np.sum(module(v) * g), x.copy())
    assert relative_difference(analytic, numeric) > 1e-2


def test_randomness_is_fixed_for_the_global_generator():
    minidl.manual_seed(7)
    state_before = minidl.random.default_rng().bit_generator.state
    report = check_module(GlobalRngNoise(), _x((3, 4)))
    assert report.passed, str(report)
    assert minidl.random.default_rng().bit_generator.state == state_before


def test_user_module_is_not_modified():
    module = MLP()
    module.eval()
    module.fc1.weight.grad = np.full((4, 4), 0.25)
    params = {name: p.data.copy() for name, p in module.named_parameters()}
    x = _x((5, 4)).astype(np.float32)
    x_before = x.copy()
    report = check_module(module, x)
    assert report.passed
    for name, p in module.named_parameters():
        assert p.data.dtype == np.float32           # not cast
        np.testing.assert_array_equal(p.data, params[name])
    np.testing.assert_array_equal(module.fc1.weight.grad, np.full((4, 4), 0.25))
    np.testing.assert_array_equal(x, x_before)
    assert module.training is False
    assert "x" not in vars(module.fc1)          # no forward ran on the caller's layers


def test_check_runs_in_float64_even_for_float32_modules():
    module = Dense(3, 2)        # float32 parameters
    report = check_module(module, _x((4, 3)).astype(np.float32))
    a, n = report.gradients("weight")
    assert a.dtype == np.float64 and n.dtype == np.float64
    assert report.passed


def test_upstream_gradient_is_random_and_seedable():
    r1 = check_module(Dense(3, 2), _x((4, 3)), rng=np.random.default_rng(5))
    r2 = check_module(Dense(3, 2), _x((4, 3)), rng=5)
    r3 = check_module(Dense(3, 2), _x((4, 3)), rng=6)
    np.testing.assert_array_equal(r1.gradients("weight")[0], r2.gradients("weight")[0])
    assert not np.allclose(r1.gradients("weight")[0], r3.gradients("weight")[0])


def test_check_module_errors():
    with pytest.raises(TypeError, match="Module"):
        check_module(lambda x: x, np.ones(3))

    class NoInputGrad(Tanh):
        def backward(self, g):
            return None

    with pytest.raises(TypeError, match="returned None"):
        check_module(NoInputGrad(), np.ones((2, 2)))

    class WrongShape(Tanh):
        def backward(self, g):
            return super().backward(g)[:, :1]

    with pytest.raises(ValueError, match="shape"):
        check_module(WrongShape(), np.ones((2, 2)))
    with pytest.raises(TypeError, match="rng"):
        check_module(Tanh(), np.ones((2, 2)), rng="seed")


def test_report_str_lists_every_tensor():
    report = check_module(MLP(), _x((5, 4)))
    text = str(report)
    assert text.startswith("gradient check of MLP: PASSED")
    for name in ("input", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"):
        assert name in text
    assert repr(report) == text


def test_gradients_that_are_zero_up_to_rounding_count_as_equal():
    # The bias of CenteredAffine cancels: analytic Σ(g − mean g) is 0 up to ~1e-16 and the
    # numeric difference quotient is 0 up to rounding too. The raw formula would divide
    # rounding noise by rounding noise; check_module reports 0 as for two zero vectors.
    report = check_module(CenteredAffine(), _x((4, 2)))
    a, n = report.gradients("bias")
    assert np.max(np.abs(a)) < 1e-12 and np.max(np.abs(n)) < 1e-6
    assert report.differences["bias"] == 0.0
    assert report.passed
    # ...but a real gradient that is merely small is still compared (planted bug: bias
    # gradient forgotten on a layer whose bias does matter)
    class ForgetsBias(Dense):
        def backward(self, g):
            self.bias.accumulate_grad(-g.sum(axis=0))      # cancels the correct accumulation
            return super().backward(g)

    report = check_module(ForgetsBias(3, 2), _x((4, 3)) * 1e-3)
    assert report.differences["bias"] == pytest.approx(1.0)
    assert not report.passed


def test_minidl_dropout_and_batchnorm_pass_in_training_mode():
    # end to end with minidl's own random and normalising layers: Dropout keeps its
    # Generator as an attribute (frozen by check_module); the Linear bias before BatchNorm
    # has an exact gradient of 0 (rounding noise on both sides).
    nn = minidl.nn
    try:
        model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Tanh(),
                              nn.Dropout(0.5, rng=np.random.default_rng(0)), nn.Linear(4, 2))
    except (ImportError, AttributeError):
        pytest.skip("Dropout / BatchNorm1d not available yet")
    dropout = [m for m in model.modules() if type(m).__name__ == "Dropout"][0]
    rng_state = dropout.rng.bit_generator.state
    report = check_module(model, _x((6, 5)))
    assert report.passed, str(report)
    assert report.differences["0.bias"] == 0.0
    assert dropout.rng.bit_generator.state == rng_state
