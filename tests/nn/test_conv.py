"""Conv2d: the convolution formula, PyTorch init, gradient check on both backends, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidl import backend
from minidl.gradcheck import check_module
from minidl.nn import Conv2d, ReLU, Sequential


def conv_by_definition(x, w, b, stride, padding):
    """y[n,o,i,j] = b[o] + Σ_{c,u,v} w[o,c,u,v]·x_pad[n,c,i·s+u,j·s+v], written as loops."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((n, o, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            y[:, :, i, j] = np.einsum("ncuv,ocuv->no", patch, w)
    return y + (0 if b is None else b[None, :, None, None])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), o=st.integers(1, 4), h=st.integers(3, 8), w=st.integers(3, 8),
       k=st.tuples(st.integers(1, 3), st.integers(1, 3)), s=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       p=st.tuples(st.integers(0, 1), st.integers(0, 1)), bias=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), name=st.sampled_from(["cython", "numpy"]),
       seed=st.integers(0, 1000))
def test_forward_matches_the_definition(n, c, o, h, w, k, s, p, bias, dtype, name, seed):
    rng = np.random.default_rng(seed)
    conv = Conv2d(c, o, k, stride=s, padding=p, bias=bias, dtype=dtype, rng=rng)
    x = rng.standard_normal((n, c, h, w))
    with backend.using(name):
        y = conv(x)
    assert y.dtype == dtype
    expected = conv_by_definition(x.astype(dtype).astype(float), conv.weight.data.astype(float),
                                  None if not bias else conv.bias.data.astype(float), conv.stride, conv.padding)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, expected, rtol=tol, atol=tol)


def test_one_by_one_convolution_is_a_matrix_product_over_channels(backend_name):
    conv = Conv2d(3, 2, 1, dtype=np.float64, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5))
    expected = np.einsum("oc,nchw->nohw", conv.weight.data[:, :, 0, 0], x) + conv.bias.data[:, None, None]
    np.testing.assert_allclose(conv(x), expected, rtol=1e-12)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
    dict(kernel_size=2, stride=2, bias=False),
])
def test_backward_passes_gradient_check(backend_name, kwargs):
    rng = np.random.default_rng(3)
    conv = Conv2d(2, 3, rng=rng, **kwargs)
    report = check_module(conv, rng.standard_normal((2, 2, 6, 5)))
    assert report.passed, str(report)


def test_default_init_is_pytorch_uniform():
    conv = Conv2d(16, 64, 3, rng=np.random.default_rng(0))
    bound = 1 / np.sqrt(16 * 9)
    assert conv.weight.shape == (64, 16, 3, 3) and conv.bias.shape == (64,)
    for p in (conv.weight.data, conv.bias.data):
        assert np.abs(p).max() <= bound
    # U(−b, b) has standard deviation b/√3
    assert conv.weight.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    assert [name for name, _ in conv.named_parameters()] == ["weight", "bias"]


def test_gradients_accumulate_and_output_is_fresh(backend_name):
    rng = np.random.default_rng(0)
    conv = Conv2d(2, 2, 3, padding=1, dtype=np.float64, rng=rng)
    x, g = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((1, 2, 4, 4))
    y1 = conv(x)
    conv.zero_grad()
    conv.backward(g)
    once = conv.weight.grad.copy(), conv.bias.grad.copy()
    y2 = conv(x)
    conv.backward(g)
    np.testing.assert_allclose(conv.weight.grad, 2 * once[0], rtol=1e-12)
    np.testing.assert_allclose(conv.bias.grad, 2 * once[1], rtol=1e-12)
    assert y1 is not y2 and not np.shares_memory(y1, y2)


def test_non_contiguous_and_integer_inputs(backend_name):
    rng = np.random.default_rng(0)
    conv = Conv2d(3, 4, 3, dtype=np.float64, rng=rng)
    base = rng.standard_normal((2, 6, 5, 3))
    strided = base.transpose(0, 3, 1, 2)[:, :, ::1, :]       # (2, 3, 6, 5), not C-contiguous
    assert not strided.flags.c_contiguous
    np.testing.assert_allclose(conv(strided), conv(np.ascontiguousarray(strided)), rtol=1e-12)
    ints = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5)
    np.testing.assert_allclose(conv(ints), conv(ints.astype(np.float64)), rtol=1e-12)


def test_errors_name_the_layer_and_shapes():
    conv = Conv2d(3, 16, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3→16, k=3\) expected input \(N, 3, H, W\), got \(8, 1, 28, 28\)"):
        conv(np.zeros((8, 1, 28, 28)))
    with pytest.raises(ValueError, match=r"Conv2d\(3→16, k=3\).*got \(3, 28, 28\)"):
        conv(np.zeros((3, 28, 28)))
    with pytest.raises(ValueError, match=r"Conv2d\(3→16, k=3\): input \(1, 3, 2, 2\) is smaller"):
        conv(np.zeros((1, 3, 2, 2)))
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2d(1, 1, 1).backward(np.zeros((1, 1, 1, 1)))
    conv(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"Conv2d\(3→16, k=3\) expected grad_output of shape \(2, 16, 3, 3\)"):
        conv.backward(np.zeros((2, 16, 5, 5)))
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2d(3, 4, 0)
    with pytest.raises(TypeError):
        conv(np.array([["a"]]))


@pytest.mark.parametrize("channels, kernel_size, stride, padding", [
    (3, (3, 2), (1, 1), (2, 1)),     # stride 1: the direct kernels (padding = kernel − 1)
    (3, (5, 5), (1, 1), (2, 2)),
    (3, (3, 3), (1, 1), (4, 0)),     # padding > kernel − 1: pre-padded, then direct
    (3, (3, 2), (2, 1), (1, 1)),     # strided, few channels: polyphase, then direct
    (2, (1, 1), (2, 2), (0, 0)),     # 1×1 stride 2: one phase (a subsampling)
    (9, (3, 3), (2, 2), (1, 1)),     # strided, more channels, kernel > stride: polyphase
    (9, (2, 2), (2, 2), (0, 0)),     # more channels, kernel <= stride: im2col + GEMM
])
def test_matches_torch_forward_and_all_gradients(channels, kernel_size, stride, padding):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    conv = Conv2d(channels, 5, kernel_size, stride=stride, padding=padding, dtype=np.float64, rng=rng)
    ref = torch.nn.Conv2d(channels, 5, kernel_size, stride=stride, padding=padding).double()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(conv.weight.data))
        ref.bias.copy_(torch.from_numpy(conv.bias.data))
    x = rng.standard_normal((4, channels, 9, 7))
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.from_numpy(g))
    for name in backend.available():
        with backend.using(name):
            y = conv(x)
            conv.zero_grad()
            dx = conv.backward(g)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(conv.weight.grad, ref.weight.grad.numpy(), rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(conv.bias.grad, ref.bias.grad.numpy(), rtol=1e-11, atol=1e-12)


def test_state_dict_keys_and_repr():
    conv = Conv2d(1, 2, 3, stride=2, padding=1, bias=False)
    assert list(conv.state_dict()) == ["weight"]
    assert repr(conv) == "Conv2d(1, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)"


def test_reassigned_parameters_of_any_layout_or_dtype_work(backend_name):
    # A user may assign a Fortran-ordered weight or a bias of another precision to .data.
    rng = np.random.default_rng(4)
    conv = Conv2d(3, 4, 3, padding=1, dtype=np.float64, rng=rng)
    x, g = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 4, 6, 5))
    expected_y = conv(x)
    conv.zero_grad()
    expected_dx = conv.backward(g)
    expected_dw = conv.weight.grad.copy()
    conv.weight.data = np.asfortranarray(conv.weight.data)
    conv.bias.data = conv.bias.data.astype(np.float32)
    y = conv(x)
    conv.zero_grad()
    dx = conv.backward(g)
    np.testing.assert_allclose(y, expected_y, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-12)
    np.testing.assert_allclose(conv.weight.grad, expected_dw, rtol=1e-12)


@pytest.mark.parametrize("channels, stride", [(3, 1), (1, 2), (9, 2)])   # direct, polyphase ×2
def test_input_grad_false_skips_dx_and_keeps_parameter_gradients(backend_name, channels, stride):
    # Issue 15: a CNN's first layer need not compute dL/dx (model.backward(g, input_grad=False)).
    rng = np.random.default_rng(3)
    model = Sequential(Conv2d(channels, 4, 3, stride=stride, padding=1, dtype=np.float64, rng=rng), ReLU())
    x = rng.standard_normal((2, channels, 7, 7))
    g = rng.standard_normal(model(x).shape)
    grads = []
    for input_grad in (True, False):
        model(x)
        model.zero_grad()
        dx = model.backward(g, input_grad=input_grad)
        assert (dx is None) == (not input_grad) and (dx is None or dx.shape == x.shape)
        grads.append([p.grad.copy() for p in model.parameters()])
    for full, skipped in zip(*grads):
        np.testing.assert_array_equal(skipped, full)
    model[0].input_grad = False
    model(x)
    assert model[0].backward(g) is None
