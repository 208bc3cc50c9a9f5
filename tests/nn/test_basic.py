"""Identity and Flatten: shapes, backward reshapes, gradient check, errors."""
import numpy as np
import pytest

from minidl import nn
from minidl.gradcheck import check_module


def test_identity():
    x = np.arange(6.0).reshape(2, 3)
    layer = nn.Identity(54, unused="argument")
    assert layer(x) is x
    g = np.ones((2, 3))
    assert layer.backward(g) is g
    assert check_module(layer, x).passed
    assert list(layer.state_dict()) == []


@pytest.mark.parametrize("start, end, expected", [
    (1, -1, (2, 60)), (0, -1, (120,)), (1, 2, (2, 12, 5)), (2, 3, (2, 3, 20)), (-2, -1, (2, 3, 20)), (0, 0, (2, 3, 4, 5)),
])
def test_flatten_shapes(start, end, expected):
    x = np.arange(120.0).reshape(2, 3, 4, 5)
    layer = nn.Flatten(start, end)
    y = layer(x)
    assert y.shape == expected
    np.testing.assert_array_equal(y.ravel(), x.ravel())           # row-major order kept
    dy = np.arange(120.0).reshape(expected) * 2
    dx = layer.backward(dy)
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dx.ravel(), dy.ravel())


def test_flatten_gradient_check_and_repr(backend_name):
    layer = nn.Sequential(nn.Flatten(), nn.Linear(12, 2, rng=np.random.default_rng(0)))
    report = check_module(layer, np.random.default_rng(1).standard_normal((2, 3, 4)))
    assert report.passed, str(report)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


def test_flatten_noncontiguous_input():
    x = np.arange(48.0).reshape(2, 4, 6)[:, ::2, ::3]
    y = nn.Flatten()(x)
    np.testing.assert_array_equal(y, np.ascontiguousarray(x).reshape(2, -1))


def test_flatten_errors():
    with pytest.raises(ValueError, match=r"Flatten\(start_dim=1, end_dim=-1\): dims out of range for input of shape \(5,\)"):
        nn.Flatten()(np.ones(5))
    with pytest.raises(ValueError, match="start_dim comes after end_dim"):
        nn.Flatten(2, 1)(np.ones((2, 3, 4)))
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
        nn.Flatten().backward(np.ones((2, 3)))
    layer = nn.Flatten()
    layer(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(2, 12\), got \(2, 11\)"):
        layer.backward(np.ones((2, 11)))
