"""LayerNorm: per-sample normalization over the trailing dims, affine parameters named as
PyTorch, gradient checks, backends agreeing, PyTorch cross-check, bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidl import backend, nn
from minidl.gradcheck import check_module


def randn(*shape, seed=0, loc=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(loc, scale, shape)


def test_each_sample_normalized_over_trailing_dims(backend_name):
    x = randn(2, 3, 4, 5, seed=1, loc=3.0, scale=2.0)
    ln = nn.LayerNorm((4, 5), dtype=np.float64)
    ln.weight.data[...] = randn(4, 5, seed=2)
    ln.bias.data[...] = randn(4, 5, seed=3)
    mu = x.mean(axis=(2, 3), keepdims=True)
    var = x.var(axis=(2, 3), keepdims=True)
    expected = (x - mu) / np.sqrt(var + 1e-5) * ln.weight.data + ln.bias.data
    np.testing.assert_allclose(ln(x), expected, rtol=1e-12, atol=1e-12)


def test_independent_of_the_batch_and_of_mode(backend_name):
    x = randn(5, 6, seed=4)
    ln = nn.LayerNorm(6, dtype=np.float64)
    full = ln(x)
    np.testing.assert_allclose(ln(x[2:3]), full[2:3], rtol=1e-13)   # batch size 1 is fine
    ln.eval()
    np.testing.assert_allclose(ln(x), full, rtol=1e-13)


@pytest.mark.parametrize("shape, normalized, kwargs", [
    ((4, 6), 6, {}),
    ((2, 3, 5), 5, {}),
    ((2, 3, 4), (3, 4), {}),
    ((3, 5), 5, {"elementwise_affine": False}),
    ((3, 5), 5, {"bias": False}),
])
def test_gradient_check(backend_name, shape, normalized, kwargs):
    layer = nn.LayerNorm(normalized, **kwargs)
    rng = np.random.default_rng(1)   # not check_module's seed 0: x must not be parallel to its dy
    for p in layer.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    report = check_module(layer, rng.standard_normal(shape) * 2 + 1)
    assert report.passed, str(report)


def test_parameters_named_like_pytorch():
    assert [name for name, _ in nn.LayerNorm(4).named_parameters()] == ["weight", "bias"]
    assert nn.LayerNorm((2, 3)).weight.shape == (2, 3)
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    assert [name for name, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]


def test_backends_agree_in_float32():
    if "cython" not in backend.available():
        pytest.skip("compiled backend not built")
    x = randn(8, 10, 64, seed=5, loc=1.0).astype(np.float32)
    g = randn(8, 10, 64, seed=6).astype(np.float32)
    results = []
    for name in ("cython", "numpy"):
        with backend.using(name):
            ln = nn.LayerNorm(64)
            ln.weight.data[:] = np.linspace(0.5, 1.5, 64)
            y = ln(x)
            results.append((y, ln.backward(g), ln.weight.grad, ln.bias.grad))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-5)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 6), d=st.integers(1, 8), seed=st.integers(0, 1000))
def test_strided_input_same_as_contiguous(m, d, seed):
    big = np.random.default_rng(seed).standard_normal((d, 2 * m))
    strided = big[:, ::2].T                                   # (m, d), not contiguous
    a, b = nn.LayerNorm(d, dtype=np.float64), nn.LayerNorm(d, dtype=np.float64)
    np.testing.assert_allclose(a(strided), b(np.ascontiguousarray(strided)), rtol=1e-13, atol=1e-13)


def test_bad_input_names_the_layer():
    with pytest.raises(ValueError, match=r"LayerNorm\(8\): expected input \(\*, 8\), got \(4, 6\)"):
        nn.LayerNorm(8)(np.zeros((4, 6)))
    with pytest.raises(ValueError, match=r"LayerNorm\(\(2, 3\)\)"):
        nn.LayerNorm((2, 3))(np.zeros((4, 3, 2)))
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(0)
    ln = nn.LayerNorm(3)
    with pytest.raises(RuntimeError, match="before forward"):
        ln.backward(np.zeros((2, 3)))
    ln(np.ones((2, 3)))
    with pytest.raises(ValueError, match="LayerNorm"):
        ln.backward(np.zeros((3, 3)))


@pytest.mark.parametrize("shape, normalized", [((4, 7), (7,)), ((2, 3, 4, 5), (4, 5))])
def test_matches_pytorch(backend_name, shape, normalized):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    x, g = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(shape)
    ours = nn.LayerNorm(normalized, dtype=np.float64)
    ours.weight.data[...] = rng.standard_normal(normalized)
    ours.bias.data[...] = rng.standard_normal(normalized)
    theirs = torch.nn.LayerNorm(normalized).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours(x), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
