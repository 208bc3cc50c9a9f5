"""Activation layers: gradient checks on both backends, values from the formulas, any
shape, Softmax along any dim, the functional forms, awkward inputs, and torch."""
import math

import numpy as np
import pytest

from minidl import nn
from minidl.gradcheck import check_module
from minidl.nn import functional as F

LAYERS = {
    "ReLU": lambda: nn.ReLU(),
    "LeakyReLU": lambda: nn.LeakyReLU(0.1),
    "Sigmoid": lambda: nn.Sigmoid(),
    "Tanh": lambda: nn.Tanh(),
    "GELU": lambda: nn.GELU(),
    "Softmax": lambda: nn.Softmax(),
    "Softmax(dim=1)": lambda: nn.Softmax(dim=1),
    "Softmax(dim=0)": lambda: nn.Softmax(dim=0),
}


def away_from_kinks(shape, seed=0):
    """Inputs with |x| ≥ 0.1, so ReLU's kink at 0 stays outside the ±eps stencil."""
    x = np.random.default_rng(seed).uniform(0.1, 2.0, shape)
    return x * np.where(np.random.default_rng(seed + 1).random(shape) < 0.5, -1, 1)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("shape", [(1, 5), (3, 4, 2)])
def test_gradient_check(backend_name, name, shape):
    report = check_module(LAYERS[name](), away_from_kinks(shape))
    assert report.passed, str(report)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_from_formulas(backend_name, dtype):
    xs = [-3.0, -0.5, 0.0, 0.5, 3.0]
    x = np.array(xs, dtype)
    tol = dict(rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-7 if dtype == np.float32 else 1e-15)
    cases = {
        nn.ReLU(): [max(v, 0.0) for v in xs],
        nn.LeakyReLU(): [v if v > 0 else 0.01 * v for v in xs],
        nn.LeakyReLU(0.3): [v if v > 0 else 0.3 * v for v in xs],
        nn.Sigmoid(): [1 / (1 + math.exp(-v)) for v in xs],
        nn.Tanh(): [math.tanh(v) for v in xs],
        nn.GELU(): [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in xs],
    }
    for layer, expected in cases.items():
        y = layer(x)
        assert y.dtype == dtype and y.shape == x.shape
        np.testing.assert_allclose(y, expected, **tol)
    # derivatives at the same points, with dy = 1
    derivs = {
        nn.ReLU(): [float(v > 0) for v in xs],
        nn.LeakyReLU(0.3): [1.0 if v > 0 else 0.3 for v in xs],
        nn.Sigmoid(): [math.exp(-v) / (1 + math.exp(-v)) ** 2 for v in xs],
        nn.Tanh(): [1 / math.cosh(v) ** 2 for v in xs],
        nn.GELU(): [0.5 * (1 + math.erf(v / math.sqrt(2))) + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
                    for v in xs],
    }
    for layer, expected in derivs.items():
        layer(x)
        np.testing.assert_allclose(layer.backward(np.ones_like(x)), expected, **tol)


def test_softmax_along_dims(backend_name):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    for dim in (0, 1, 2, -1, -2):
        y = nn.Softmax(dim=dim)(x)
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        np.testing.assert_allclose(y, e / e.sum(axis=dim, keepdims=True), rtol=1e-13)
        np.testing.assert_allclose(F.softmax(x, dim=dim), y, rtol=1e-13)
        np.testing.assert_allclose(F.log_softmax(x, dim=dim), np.log(y), rtol=1e-12, atol=1e-13)
    # rows of [0, ln 2, ln 3] -> [1, 2, 3] / 6
    np.testing.assert_allclose(F.softmax(np.log([[1.0, 2.0, 3.0]])), [[1 / 6, 1 / 3, 1 / 2]], rtol=1e-14)
    big = np.array([[1e4, 0.0, -1e4]])
    np.testing.assert_array_equal(F.softmax(big), [[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(F.log_softmax(big), [[0.0, -1e4, -2e4]])
    with pytest.raises(ValueError, match=r"Softmax\(dim=3\)"):
        nn.Softmax(dim=3)(x)


def test_functional_forms(backend_name):
    x = np.array([[-2.0, 0.5], [1.0, -0.1]])
    np.testing.assert_array_equal(F.relu(x), np.maximum(x, 0))
    np.testing.assert_allclose(F.leaky_relu(x, 0.2), np.where(x > 0, x, 0.2 * x), rtol=1e-15)
    np.testing.assert_allclose(F.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(F.tanh(x), np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(F.gelu(x), [[0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in row] for row in x],
                               rtol=1e-15)
    y = F.relu(x)
    assert y is not x and not np.shares_memory(y, x)


def test_awkward_inputs_and_errors(backend_name):
    x = np.random.default_rng(1).standard_normal((6, 8))[::2, 1::3]        # strided view
    for layer in (nn.ReLU(), nn.Sigmoid(), nn.GELU(), nn.Softmax(dim=0)):
        y = layer(x)
        np.testing.assert_allclose(y, layer(np.ascontiguousarray(x)), rtol=1e-15)
        dy = np.ones((3, 6))[:, ::2]
        assert layer.backward(dy).shape == x.shape
    assert nn.ReLU()(np.array([[1, -2]])).dtype == np.float32                # ints -> default dtype
    assert nn.Tanh()(np.ones(3)).dtype == np.float64                         # floats keep their precision
    assert nn.ReLU()(np.float64(-2.0)) == 0.0                                # 0-d works
    with pytest.raises(RuntimeError, match=r"ReLU\(\): backward\(\) called before forward\(\)"):
        nn.ReLU().backward(np.ones(3))
    layer = nn.LeakyReLU(0.2)
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"LeakyReLU\(negative_slope=0.2\) expected grad_output of shape \(2, 3\), got \(3, 2\)"):
        layer.backward(np.ones((3, 2)))
    with pytest.raises(TypeError, match="GELU"):
        nn.GELU()(np.array(["a", "b"]))
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.Softmax()) == "Softmax(dim=-1)"


def test_backends_agree():
    from minidl import backend
    x = np.random.default_rng(2).standard_normal((4, 7)).astype(np.float32) * 5
    if "cython" not in backend.available():
        pytest.skip("compiled backend not built")
    for make in LAYERS.values():
        results = []
        for name in ("cython", "numpy"):
            with backend.using(name):
                layer = make()
                y = layer(x)
                results.append((y, layer.backward(np.cos(x))))
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_matches_torch(backend_name, name):
    torch = pytest.importorskip("torch")
    torch_layers = {
        "ReLU": torch.nn.ReLU(), "LeakyReLU": torch.nn.LeakyReLU(0.1), "Sigmoid": torch.nn.Sigmoid(),
        "Tanh": torch.nn.Tanh(), "GELU": torch.nn.GELU(), "Softmax": torch.nn.Softmax(dim=-1),
        "Softmax(dim=1)": torch.nn.Softmax(dim=1), "Softmax(dim=0)": torch.nn.Softmax(dim=0),
    }
    rng = np.random.default_rng(3)
    x, dy = rng.standard_normal((3, 4, 5)) * 3, rng.standard_normal((3, 4, 5))
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch_layers[name](xt)
    yt.backward(torch.from_numpy(dy))
    layer = LAYERS[name]()
    np.testing.assert_allclose(layer(x), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
