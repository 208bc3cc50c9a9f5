"""RNN: the recurrence by hand, PyTorch names/init, BPTT gradient check, torch cross-check."""
import numpy as np
import pytest

from minidl import backend
from minidl.gradcheck import check_module
from minidl.nn import RNN


def test_two_steps_by_hand():
    rnn = RNN(1, 1, dtype=np.float64)
    rnn.weight_ih_l0.data[...] = 2.0
    rnn.weight_hh_l0.data[...] = 0.5
    rnn.bias_ih_l0.data[...] = 0.1
    rnn.bias_hh_l0.data[...] = -0.1
    x = np.array([[[1.0], [-1.0]]])
    h1 = np.tanh(2.0 * 1.0 + 0.0)                      # h0 = 0, biases cancel
    h2 = np.tanh(2.0 * -1.0 + 0.5 * h1)
    np.testing.assert_allclose(rnn(x), [[[h1], [h2]]], rtol=1e-15)
    np.testing.assert_allclose(rnn.h_n, [[h2]])
    # dL/dh2 = 1 only: da2 = 1 − h2², dx2 = 2·da2, da1 = 0.5·da2·(1 − h1²), dx1 = 2·da1
    dx = rnn.backward(np.array([[[0.0], [1.0]]]))
    da2 = 1 - h2 ** 2
    da1 = 0.5 * da2 * (1 - h1 ** 2)
    np.testing.assert_allclose(dx, [[[2 * da1], [2 * da2]]], rtol=1e-14)
    np.testing.assert_allclose(rnn.weight_hh_l0.grad, [[da2 * h1]], rtol=1e-14)
    np.testing.assert_allclose(rnn.bias_ih_l0.grad, [da1 + da2], rtol=1e-14)


def test_parameter_names_shapes_and_init():
    rnn = RNN(10, 64, rng=np.random.default_rng(0))
    names = [(n, p.shape) for n, p in rnn.named_parameters()]
    assert names == [("weight_ih_l0", (64, 10)), ("weight_hh_l0", (64, 64)), ("bias_ih_l0", (64,)), ("bias_hh_l0", (64,))]
    bound = 1 / 8
    for _, p in rnn.named_parameters():
        assert np.abs(p.data).max() <= bound
    assert rnn.weight_hh_l0.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    assert [n for n, _ in RNN(2, 3, bias=False).named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]


@pytest.mark.parametrize("kwargs", [dict(), dict(nonlinearity="relu"), dict(bias=False)])
def test_backward_passes_gradient_check(backend_name, kwargs):
    rng = np.random.default_rng(1)
    rnn = RNN(3, 4, rng=rng, **kwargs)
    report = check_module(rnn, rng.standard_normal((2, 5, 3)))
    assert report.passed, str(report)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_h0_and_dtype(dtype):
    rng = np.random.default_rng(2)
    rnn = RNN(2, 3, dtype=dtype, rng=rng)
    x, h0 = rng.standard_normal((4, 6, 2)), rng.standard_normal((4, 3))
    y = rnn(x, h0)
    assert y.shape == (4, 6, 3) and y.dtype == dtype
    np.testing.assert_array_equal(rnn(x, h0[None]), y)              # PyTorch's (1, N, H) form
    # Running the sequence in two halves, carrying h_n, gives the same states.
    first = rnn(x[:, :3], h0)
    second = rnn(x[:, 3:], rnn.h_n)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), y, rtol=1e-6)


def test_matches_torch_forward_and_all_gradients():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for nonlinearity in ("tanh", "relu"):
        rnn = RNN(3, 5, nonlinearity=nonlinearity, dtype=np.float64, rng=rng)
        ref = torch.nn.RNN(3, 5, nonlinearity=nonlinearity, batch_first=True).double()
        ref.load_state_dict({k: torch.from_numpy(v) for k, v in rnn.state_dict().items()})
        x, h0 = rng.standard_normal((2, 7, 3)), rng.standard_normal((1, 2, 5))
        tx, th0 = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
        ty, _ = ref(tx, th0)
        g = rng.standard_normal(tuple(ty.shape))
        ty.backward(torch.from_numpy(g))
        for name in backend.available():
            with backend.using(name):
                y = rnn(x, h0)
                rnn.zero_grad()
                dx = rnn.backward(g)
            np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-11, atol=1e-13)
            np.testing.assert_allclose(rnn.grad_h0, th0.grad.numpy()[0], rtol=1e-11, atol=1e-13)
            for pname, p in rnn.named_parameters():
                np.testing.assert_allclose(p.grad, getattr(ref, pname).grad.numpy(), rtol=1e-11, atol=1e-13)


def test_errors_name_the_layer_and_shapes():
    rnn = RNN(3, 4)
    with pytest.raises(ValueError, match=r"RNN\(3→4\) expected input \(N, T, 3\), got \(2, 5\)"):
        rnn(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"RNN\(3→4\) expected h0 \(N, 4\) = \(2, 4\), got \(2, 3\)"):
        rnn(np.zeros((2, 5, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(RuntimeError, match="before forward"):
        RNN(1, 1).backward(np.zeros((1, 1, 1)))
    rnn(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"RNN\(3→4\) expected grad_output of shape \(2, 5, 4\)"):
        rnn.backward(np.zeros((2, 5, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_strided_input_and_both_backends(backend_name, dtype):
    rng = np.random.default_rng(4)
    rnn = RNN(3, 4, dtype=dtype, rng=rng)
    x = rng.standard_normal((5, 2, 3)).transpose(1, 0, 2)         # (2, 5, 3), not C-contiguous
    assert not x.flags.c_contiguous
    y = rnn(x)
    np.testing.assert_array_equal(y, rnn(np.ascontiguousarray(x)))
    assert y.dtype == dtype and rnn.backward(np.ones_like(y)).dtype == dtype
