"""MaxPool2d / AvgPool2d: worked examples, PyTorch semantics, gradient check, errors."""
import numpy as np
import pytest

from minidl import backend
from minidl.gradcheck import check_module
from minidl.nn import AvgPool2d, MaxPool2d


def test_max_pool_worked_example(backend_name):
    x = np.array([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 7, 2], [6, 2, 3, 1]], dtype=np.float64)[None, None]
    pool = MaxPool2d(2)
    np.testing.assert_array_equal(pool(x)[0, 0], [[4, 5], [6, 7]])
    dx = pool.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    expected = np.zeros((4, 4))
    expected[1, 0], expected[1, 3], expected[3, 0], expected[2, 2] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_avg_pool_worked_example(backend_name):
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    pool = AvgPool2d(2)
    y = pool(x)
    assert y.dtype == np.float32
    # window means: (0+1+4+5)/4 = 2.5, (2+3+6+7)/4 = 4.5, 10.5, 12.5
    np.testing.assert_allclose(y[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(pool.backward(np.ones((1, 1, 2, 2))), np.full((1, 1, 4, 4), 0.25))


@pytest.mark.parametrize("layer", [MaxPool2d(2), MaxPool2d(3, stride=2, padding=1), MaxPool2d((2, 3), stride=1),
                                   AvgPool2d(2), AvgPool2d(3, stride=2, padding=1), AvgPool2d((3, 1), stride=(1, 2))],
                         ids=repr)
def test_backward_passes_gradient_check(backend_name, layer):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))   # continuous values: no ties
    report = check_module(layer, x)
    assert report.passed, str(report)


def test_stride_defaults_to_kernel_size_and_floor_output():
    pool = MaxPool2d(3)
    assert pool.stride == (3, 3)
    assert pool(np.zeros((1, 1, 8, 7))).shape == (1, 1, 2, 2)       # floor(8/3), floor(7/3)


def test_dtype_follows_float_input():
    x = np.ones((1, 1, 2, 2))
    assert MaxPool2d(2)(x.astype(np.float32)).dtype == np.float32
    assert AvgPool2d(2)(x).dtype == np.float64


def test_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 8))
    cases = [(MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)), (AvgPool2d(3, 2, 1), torch.nn.AvgPool2d(3, 2, 1)),
             (MaxPool2d((2, 3)), torch.nn.MaxPool2d((2, 3))), (AvgPool2d(2, 1), torch.nn.AvgPool2d(2, 1))]
    for ours, ref in cases:
        tx = torch.tensor(x, requires_grad=True)
        ty = ref(tx)
        g = rng.standard_normal(tuple(ty.shape))
        ty.backward(torch.from_numpy(g))
        for name in backend.available():
            with backend.using(name):
                np.testing.assert_allclose(ours(x), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"MaxPool2d\(k=2\) expected input \(N, C, H, W\), got \(4, 4\)"):
        MaxPool2d(2)(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"AvgPool2d\(k=5\): input \(1, 1, 3, 3\) is smaller"):
        AvgPool2d(5)(np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="at most half"):
        MaxPool2d(2, padding=2)
    with pytest.raises(RuntimeError, match="before forward"):
        AvgPool2d(2).backward(np.zeros((1, 1, 1, 1)))
    pool = MaxPool2d(2)
    pool(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"MaxPool2d\(k=2\) expected grad_output of shape \(1, 1, 2, 2\)"):
        pool.backward(np.zeros((1, 1, 4, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backends_agree_on_strided_input(dtype):
    base = np.random.default_rng(2).standard_normal((2, 9, 8, 3)).astype(dtype)
    x = base.transpose(0, 3, 1, 2)[:, :, ::1, ::-1]                 # (2, 3, 9, 8), not C-contiguous
    g = np.random.default_rng(3).standard_normal((2, 3, 5, 4)).astype(dtype)       # H_out = (9 + 2 − 3)//2 + 1
    for layer in (MaxPool2d(3, 2, 1), AvgPool2d(3, 2, 1)):
        results = []
        for name in backend.available():
            with backend.using(name):
                y = layer(x)
                results.append((y, layer.backward(g)))
            assert y.dtype == dtype
        np.testing.assert_allclose(layer(np.ascontiguousarray(x)), results[0][0], rtol=1e-6)
        for y, dx in results[1:]:
            np.testing.assert_allclose(y, results[0][0], rtol=1e-5 if dtype == np.float32 else 1e-12)
            np.testing.assert_allclose(dx, results[0][1], rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
