"""Linear: gradient check on both backends, the accumulate contract, PyTorch's init and
naming, error messages, awkward inputs, and an optional cross-check against torch."""
import math

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.gradcheck import check_module
from minidl.nn.functional import linear


@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("bias", [True, False])
def test_gradient_check(backend_name, n, bias):
    layer = nn.Linear(4, 3, bias=bias, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((n, 4))
    report = check_module(layer, x)
    assert report.passed, str(report)
    assert set(report.differences) == {"input", "weight"} | ({"bias"} if bias else set())


@pytest.mark.parametrize("n", [1, 6])
def test_backward_values_and_accumulation(backend_name, n):
    rng = np.random.default_rng(2)
    layer = nn.Linear(5, 3, dtype=np.float64, rng=rng)
    x, dy = rng.standard_normal((n, 5)), rng.standard_normal((n, 3))
    w, b = layer.weight.data.copy(), layer.bias.data.copy()
    np.testing.assert_allclose(layer(x), x @ w.T + b, rtol=1e-12)
    dx = layer.backward(dy)
    np.testing.assert_allclose(dx, dy @ w, rtol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, dy.T @ x, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, dy.sum(0), rtol=1e-12)
    layer(x)
    layer.backward(dy)                       # no zero_grad: gradients add up
    np.testing.assert_allclose(layer.weight.grad, 2 * dy.T @ x, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, 2 * dy.sum(0), rtol=1e-12)
    layer.zero_grad()
    np.testing.assert_array_equal(layer.weight.grad, 0)
    layer.zero_grad()
    layer(x)
    layer.backward(dy)                       # after zero_grad: overwritten, not added
    np.testing.assert_allclose(layer.weight.grad, dy.T @ x, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, dy.sum(0), rtol=1e-12)


def test_default_init_is_pytorch_uniform():
    layer = nn.Linear(400, 300, rng=np.random.default_rng(0))
    bound = 1 / math.sqrt(400)
    assert layer.weight.shape == (300, 400) and layer.bias.shape == (300,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound
    # U(−a, a) has variance a²/3: 120000 draws pin it within a few percent
    assert layer.weight.data.var() == pytest.approx(bound**2 / 3, rel=0.03)
    assert np.abs(layer.bias.data).max() > 0.9 * bound
    # weight first, then bias, from the given generator
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(layer.weight.data, rng.uniform(-bound, bound, (300, 400)).astype(np.float32))
    np.testing.assert_array_equal(layer.bias.data, rng.uniform(-bound, bound, 300).astype(np.float32))


def test_seed_and_dtype():
    minidl.manual_seed(3)
    a = nn.Linear(6, 2)
    minidl.manual_seed(3)
    b = nn.Linear(6, 2)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    minidl.set_default_dtype(np.float64)
    assert nn.Linear(2, 2).weight.dtype == np.float64
    assert nn.Linear(2, 2, dtype=np.float32).bias.dtype == np.float32


def test_repr_names_and_state_dict():
    layer = nn.Linear(784, 256)
    assert repr(layer) == "Linear(in_features=784, out_features=256, bias=True)"
    assert repr(nn.Linear(3, 1, bias=False)) == "Linear(in_features=3, out_features=1, bias=False)"
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2, bias=False))
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight"]
    assert nn.Linear(3, 2, bias=False).bias is None


def test_errors_name_layer_and_shapes():
    layer = nn.Linear(784, 256)
    with pytest.raises(ValueError) as info:
        layer(np.zeros((32, 28, 28)))
    assert str(info.value) == "Linear(784→256) expected input (N, 784), got (32, 28, 28)"
    with pytest.raises(ValueError, match=r"Linear\(784→256\) expected input \(N, 784\), got \(784,\)"):
        layer(np.zeros(784))
    with pytest.raises(RuntimeError, match=r"Linear\(784→256\): backward\(\) called before forward\(\)"):
        layer.backward(np.zeros((1, 256)))
    layer(np.zeros((2, 784)))
    with pytest.raises(ValueError, match=r"Linear\(784→256\) expected grad_output of shape \(2, 256\), got \(2, 255\)"):
        layer.backward(np.zeros((2, 255)))
    with pytest.raises(TypeError, match=r"Linear\(784→256\)"):
        layer(np.array([["a"] * 784]))
    for bad in (-1, 2.5, "3"):
        with pytest.raises(ValueError, match="in_features"):
            nn.Linear(bad, 3)


def test_awkward_inputs(backend_name):
    rng = np.random.default_rng(4)
    layer = nn.Linear(3, 2, dtype=np.float64, rng=rng)
    w, b = layer.weight.data, layer.bias.data
    big = rng.standard_normal((8, 6))
    x = big[::2, ::2]                        # strided, not contiguous
    np.testing.assert_allclose(layer(x), x @ w.T + b, rtol=1e-12)
    dy = rng.standard_normal((2, 4))[:, ::2]
    layer(x[:2])
    np.testing.assert_allclose(layer.backward(dy), dy @ w, rtol=1e-12)
    ints = np.arange(6).reshape(2, 3)
    np.testing.assert_allclose(layer(ints), ints @ w.T + b, rtol=1e-12)
    assert layer(np.ones((2, 3), np.float32)).dtype == np.float64    # converted to the layer's dtype
    assert layer(np.ones((0, 3))).shape == (0, 2)


def test_functional_linear(backend_name):
    x = np.array([[1.0, 2.0]])
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(linear(x, w), [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(linear(x, w, np.array([1.0, 1.0, 1.0])), [[2.0, 3.0, 4.0]])
    with pytest.raises(ValueError, match=r"linear\(2→3\) expected input \(N, 2\), got \(1, 3\)"):
        linear(np.ones((1, 3)), w)


def test_matches_torch(backend_name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    layer = nn.Linear(7, 4, dtype=np.float64, rng=rng)
    ref = torch.nn.Linear(7, 4).double()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.weight.data))
        ref.bias.copy_(torch.from_numpy(layer.bias.data))
    x, dy = rng.standard_normal((9, 7)), rng.standard_normal((9, 4))
    xt = torch.from_numpy(x).requires_grad_()
    yt = ref(xt)
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(layer(x), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.weight.grad, ref.weight.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.bias.grad, ref.bias.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert [n for n, _ in layer.named_parameters()] == [n for n, _ in ref.named_parameters()]
