"""Residual: y = x + F(x), dL/dx = g + F.backward(g)."""
import numpy as np
import pytest

from minidl.gradcheck import check_module
from minidl.nn import Conv2d, Residual
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter


class Scale(Module):
    """F(x) = a·x with a learnable scalar a: dF/dx = a, dF/da = x."""

    def __init__(self, a):
        super().__init__()
        self.a = Parameter(np.array([a], dtype=np.float64))
        self._x = None

    def forward(self, x):
        self._x = np.asarray(x, dtype=np.float64)
        return self.a.data[0] * self._x

    def backward(self, g):
        self.a.accumulate_grad(np.array([np.sum(g * self._x)]))
        return self.a.data[0] * g


def test_worked_example():
    res = Residual(Scale(3.0))
    x = np.array([[1.0, -2.0]])
    np.testing.assert_array_equal(res(x), [[4.0, -8.0]])            # x + 3x
    dx = res.backward(np.array([[1.0, 1.0]]))
    np.testing.assert_array_equal(dx, [[4.0, 4.0]])                 # (1 + a)·g
    np.testing.assert_array_equal(res.module.a.grad, [-1.0])        # Σ g·x


def test_identity_path_survives_a_dead_block():
    # F ≡ 0 (a = 0): the gradient still reaches x unchanged, the point of skip connections.
    res = Residual(Scale(0.0))
    g = np.random.default_rng(0).standard_normal((3, 4))
    res(np.ones((3, 4)))
    np.testing.assert_array_equal(res.backward(g), g)


def test_gradient_check_with_a_conv_block(backend_name):
    rng = np.random.default_rng(0)
    res = Residual(Conv2d(2, 2, 3, padding=1, rng=rng))
    report = check_module(res, rng.standard_normal((2, 2, 5, 4)))
    assert report.passed, str(report)
    assert [name for name, _ in res.named_parameters()] == ["module.weight", "module.bias"]


def test_shape_mismatch_and_misuse_raise():
    res = Residual(Conv2d(2, 3, 1))
    with pytest.raises(ValueError, match=r"Residual\(Conv2d\).*\(1, 2, 4, 4\) to \(1, 3, 4, 4\)"):
        res(np.zeros((1, 2, 4, 4)))
    with pytest.raises(TypeError, match="Residual expects a minidl Module"):
        Residual(lambda x: x)
    with pytest.raises(RuntimeError, match="before forward"):
        Residual(Scale(1.0)).backward(np.zeros(2))
