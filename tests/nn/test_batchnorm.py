"""BatchNorm1d / BatchNorm2d: normalization in training, running statistics against the hand
formula (unbiased variance, momentum and the cumulative average), evaluation mode,
gradient checks, backends agreeing, PyTorch cross-checks, state_dict, bad input."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl import backend, nn
from minidl.gradcheck import check_module


def randn(*shape, seed=0, loc=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(loc, scale, shape)


def test_training_output_has_mean_zero_variance_one_per_channel(backend_name):
    x = randn(64, 5, loc=3.0, scale=4.0)
    y = nn.BatchNorm1d(5, dtype=np.float64)(x)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(0), 1 / (1 + 1e-5 / x.var(0)), rtol=1e-10)  # var/(var+eps)


def test_scale_and_shift_applied(backend_name):
    x = randn(16, 3, seed=1)
    bn = nn.BatchNorm1d(3, dtype=np.float64)
    bn.weight.data[:] = [1.0, 2.0, -1.0]
    bn.bias.data[:] = [0.0, 0.5, 3.0]
    x_hat = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(bn(x), x_hat * bn.weight.data + bn.bias.data, rtol=1e-12, atol=1e-12)


def test_running_statistics_follow_pytorchs_rule(backend_name):
    bn = nn.BatchNorm1d(4, momentum=0.1, dtype=np.float64)
    rm, rv = np.zeros(4), np.ones(4)
    for step in range(3):
        x = randn(10, 4, seed=step, loc=step, scale=step + 1)
        bn(x)
        rm = 0.9 * rm + 0.1 * x.mean(0)
        rv = 0.9 * rv + 0.1 * x.var(0, ddof=1)          # unbiased: Σ(x − μ)²/(N − 1)
    np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, rv, rtol=1e-12)
    assert int(bn.num_batches_tracked) == 3


def test_momentum_none_is_a_cumulative_average(backend_name):
    bn = nn.BatchNorm1d(3, momentum=None, dtype=np.float64)
    batches = [randn(8, 3, seed=s, loc=s) for s in range(4)]
    for x in batches:
        bn(x)
    np.testing.assert_allclose(bn.running_mean, np.mean([x.mean(0) for x in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, np.mean([x.var(0, ddof=1) for x in batches], axis=0), rtol=1e-12)


def test_batchnorm2d_statistics_over_n_h_w(backend_name):
    x = randn(3, 2, 4, 5, seed=2, loc=1.0, scale=2.0)
    bn = nn.BatchNorm2d(2, dtype=np.float64)
    y = bn(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    m = 3 * 4 * 5
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1), rtol=1e-12)


def test_eval_uses_running_statistics(backend_name):
    bn = nn.BatchNorm1d(3, dtype=np.float64)
    bn.running_mean[:] = [1.0, -2.0, 0.5]
    bn.running_var[:] = [4.0, 0.25, 1.0]
    bn.weight.data[:] = [2.0, 1.0, 1.0]
    bn.bias.data[:] = [0.0, 1.0, 0.0]
    bn.eval()
    x = randn(5, 3, seed=3)
    expected = (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-5) * bn.weight.data + bn.bias.data
    np.testing.assert_allclose(bn(x), expected, rtol=1e-12)
    np.testing.assert_allclose(bn(x[:1]), expected[:1], rtol=1e-12)   # N = 1 is fine in eval
    assert int(bn.num_batches_tracked) == 0


def test_without_running_stats_eval_uses_batch_statistics(backend_name):
    bn = nn.BatchNorm1d(3, track_running_stats=False, dtype=np.float64).eval()
    x = randn(6, 3, seed=4, loc=5.0)
    np.testing.assert_allclose(bn(x), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-12)
    assert bn.running_mean is None and "running_mean" not in bn.state_dict()


CASES = [
    (lambda: nn.BatchNorm1d(4), (6, 4)),
    (lambda: nn.BatchNorm1d(3), (4, 3, 5)),
    (lambda: nn.BatchNorm2d(3), (2, 3, 3, 4)),
    (lambda: nn.BatchNorm1d(4, affine=False), (5, 4)),
    (lambda: nn.BatchNorm2d(2, affine=False, track_running_stats=False), (2, 2, 2, 3)),
]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_gradient_check(backend_name, case, training):
    make, shape = CASES[case]
    layer = make()
    rng = np.random.default_rng(case + 100)   # not check_module's seed 0 (dy would be parallel to x)
    for p in layer.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    if layer.track_running_stats:
        layer.running_mean[...] = rng.standard_normal(layer.num_features)
        layer.running_var[...] = rng.uniform(0.5, 2.0, layer.num_features)
    layer.train(training)
    report = check_module(layer, rng.standard_normal(shape) * 2 + 1)
    assert report.passed, str(report)


def test_gradients_accumulate(backend_name):
    bn = nn.BatchNorm1d(3, dtype=np.float64)
    x, g = randn(5, 3, seed=5), randn(5, 3, seed=6)
    bn(x)
    bn.backward(g)
    once = bn.weight.grad.copy(), bn.bias.grad.copy()
    bn(x)
    bn.backward(g)
    np.testing.assert_allclose(bn.weight.grad, 2 * once[0], rtol=1e-12)
    np.testing.assert_allclose(bn.bias.grad, 2 * once[1], rtol=1e-12)
    bn.zero_grad()
    bn(x)
    bn.backward(g)
    np.testing.assert_allclose(bn.bias.grad, g.sum(0), rtol=1e-12)


def test_backends_agree_in_float32():
    if "cython" not in backend.available():
        pytest.skip("compiled backend not built")
    x = randn(32, 16, 3, 3, seed=7, loc=2.0).astype(np.float32)
    g = randn(32, 16, 3, 3, seed=8).astype(np.float32)
    results = []
    for name in ("cython", "numpy"):
        with backend.using(name):
            bn = nn.BatchNorm2d(16)
            y = bn(x)
            dx = bn.backward(g)
            results.append((y, dx, bn.weight.grad, bn.bias.grad, bn.running_mean, bn.running_var))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 6), c=st.integers(1, 5), seed=st.integers(0, 1000))
def test_strided_input_same_as_contiguous(n, c, seed):
    big = np.random.default_rng(seed).standard_normal((c * 2, n))
    strided = big[::2].T                                     # (n, c), not C-contiguous
    a = nn.BatchNorm1d(c, dtype=np.float64)
    b = nn.BatchNorm1d(c, dtype=np.float64)
    np.testing.assert_allclose(a(strided), b(np.ascontiguousarray(strided)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.running_var, b.running_var, rtol=1e-12)


def test_state_dict_keys_and_round_trip():
    bn = nn.Sequential(nn.BatchNorm1d(3))
    assert list(bn.state_dict()) == ["0.weight", "0.bias", "0.running_mean", "0.running_var",
                                     "0.num_batches_tracked"]
    bn(randn(4, 3).astype(np.float32))
    other = nn.Sequential(nn.BatchNorm1d(3))
    other.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(other[0].running_mean, bn[0].running_mean)
    assert int(other[0].num_batches_tracked) == 1


def test_to_double_and_default_dtype():
    bn = nn.BatchNorm1d(3)
    assert bn.weight.dtype == minidl.get_default_dtype() == np.float32
    assert bn(randn(4, 3)).dtype == np.float32
    bn.double()
    assert bn.running_mean.dtype == np.float64 and bn(randn(4, 3)).dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64


def test_batch_of_one_in_training_is_rejected_like_pytorch():
    with pytest.raises(ValueError) as info:
        nn.BatchNorm1d(256)(np.zeros((1, 256), np.float32))
    assert str(info.value) == "BatchNorm1d(256): expected input (N, 256) with N > 1 in training, got (1, 256)"
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\).*N > 1 in training"):
        nn.BatchNorm2d(3)(np.zeros((1, 3, 1, 1)))
    nn.BatchNorm2d(3)(np.zeros((1, 3, 2, 2)))           # 4 values per channel: fine, as PyTorch


def test_bad_shapes_and_arguments_name_the_layer():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4\): expected input \(N, 4\) or \(N, 4, L\), got \(8, 5\)"):
        nn.BatchNorm1d(4)(np.zeros((8, 5)))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4\): expected input \(N, 4, H, W\), got \(8, 4\)"):
        nn.BatchNorm2d(4)(np.zeros((8, 4)))
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=1.5)
    bn = nn.BatchNorm1d(3)
    with pytest.raises(RuntimeError, match="before forward"):
        bn.backward(np.zeros((2, 3)))
    bn(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\)"):
        bn.backward(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="BatchNorm1d"):
        bn(np.array([["a", "b", "c"]]))


def test_repr_like_pytorch():
    assert repr(nn.BatchNorm1d(8)) == "BatchNorm1d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"


@pytest.mark.parametrize("layer_name, shape", [("BatchNorm1d", (7, 4)), ("BatchNorm1d", (5, 4, 3)),
                                               ("BatchNorm2d", (3, 4, 2, 5))])
def test_matches_pytorch_forward_grads_and_running_stats(backend_name, layer_name, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape) * 2 + 1
    g = rng.standard_normal(shape)
    ours = getattr(nn, layer_name)(4, momentum=0.2, dtype=np.float64)
    ours.weight.data[:] = rng.standard_normal(4)
    ours.bias.data[:] = rng.standard_normal(4)
    theirs = getattr(torch.nn, layer_name)(4, momentum=0.2).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    for _ in range(2):
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt)
        yt.backward(torch.from_numpy(g))
        y = ours(x)
        dx = ours.backward(g)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(x), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
