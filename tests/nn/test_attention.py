"""Scaled dot-product attention and MultiHeadAttention: formulas, masks, gradients, torch."""
import numpy as np
import pytest

from minidl import backend
from minidl.gradcheck import check_module, numerical_gradient
from minidl.nn import MultiHeadAttention
from minidl.nn.module import Module
from minidl.nn.attention import scaled_dot_product_attention_backward
from minidl.nn.functional import scaled_dot_product_attention


def test_worked_examples():
    v = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    k = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # q = 0: all scores equal, weights 1/3 each, output = mean of the values
    np.testing.assert_allclose(scaled_dot_product_attention(np.zeros((1, 2)), k, v), [[1.0, 1.0]])
    # one query q = (1, 0), d_k = 2: scores (1, 0, 1)/√2, softmax by hand
    s = np.array([1.0, 0.0, 1.0]) / np.sqrt(2)
    p = np.exp(s) / np.exp(s).sum()
    out, weights = scaled_dot_product_attention(np.array([[1.0, 0.0]]), k, v, return_weights=True)
    np.testing.assert_allclose(weights, [p], rtol=1e-14)
    np.testing.assert_allclose(out, [p @ v], rtol=1e-14)
    # a mask that only allows key 1 returns v[1]; scale=1 changes the scores to (1, 0, 1)
    only_1 = np.array([[False, True, False]])
    np.testing.assert_allclose(scaled_dot_product_attention(np.array([[1.0, 0.0]]), k, v, mask=only_1), [[0.0, 1.0]])
    _, w1 = scaled_dot_product_attention(np.array([[1.0, 0.0]]), k, v, scale=1.0, return_weights=True)
    e = np.exp([1.0, 0.0, 1.0])
    np.testing.assert_allclose(w1, [e / e.sum()], rtol=1e-14)


def test_float_mask_is_added_and_empty_rows_raise():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 2))
    bias = rng.standard_normal((3, 5))
    _, w = scaled_dot_product_attention(q, k, v, mask=bias, return_weights=True)
    s = q @ k.transpose(0, 2, 1) / 2.0 + bias
    np.testing.assert_allclose(w, np.exp(s) / np.exp(s).sum(-1, keepdims=True), rtol=1e-12)
    mask = np.ones((3, 5), bool)
    mask[1] = False
    with pytest.raises(ValueError, match="attends to nothing"):
        scaled_dot_product_attention(q, k, v, mask=mask)
    with pytest.raises(ValueError, match="do not fit"):
        scaled_dot_product_attention(q, k[..., :3], v)


def test_functional_backward_matches_centered_differences():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    mask = rng.random((3, 5)) < 0.7
    mask[:, 0] = True
    g = rng.standard_normal((2, 3, 3))
    _, w = scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    grads = scaled_dot_product_attention_backward(g, q, k, v, w)
    for analytic, arr in zip(grads, (q, k, v)):
        numeric = numerical_gradient(lambda _: np.sum(scaled_dot_product_attention(q, k, v, mask=mask) * g), arr)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


class CausalSelfAttention(Module):
    """Wraps an MHA so that check_module (which calls forward(x)) passes a causal mask."""

    def __init__(self, mha):
        super().__init__()
        self.mha = mha

    def forward(self, x):
        return self.mha(x, mask=np.tril(np.ones((x.shape[1], x.shape[1]), bool)))

    def backward(self, g):
        return self.mha.backward(g)


@pytest.mark.parametrize("with_mask", [False, True])
def test_mha_gradient_check(backend_name, with_mask):
    rng = np.random.default_rng(2)
    mha = MultiHeadAttention(6, 2, rng=rng)
    x = rng.standard_normal((2, 4, 6))
    report = check_module(CausalSelfAttention(mha) if with_mask else mha, x)
    assert report.passed, str(report)


def test_mha_parameters_and_init():
    mha = MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    shapes = [(n, p.shape) for n, p in mha.named_parameters()]
    assert shapes == [("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)),
                      ("out_proj.weight", (8, 8)), ("out_proj.bias", (8,))]
    assert np.abs(mha.in_proj_weight.data).max() <= np.sqrt(6 / (8 + 24))       # xavier_uniform on (3E, E)
    assert np.abs(mha.out_proj.weight.data).max() <= 1 / np.sqrt(8)
    assert not mha.in_proj_bias.data.any() and not mha.out_proj.bias.data.any()
    assert [n for n, _ in MultiHeadAttention(4, 1, bias=False).named_parameters()] == ["in_proj_weight", "out_proj.weight"]


def test_one_head_equals_the_formula(backend_name):
    rng = np.random.default_rng(4)
    mha = MultiHeadAttention(4, 1, dtype=np.float64, rng=rng)
    x = rng.standard_normal((1, 3, 4))
    w_q, w_k, w_v = np.split(mha.in_proj_weight.data, 3)
    q, k, v = x[0] @ w_q.T, x[0] @ w_k.T, x[0] @ w_v.T
    s = q @ k.T / 2.0
    p = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    np.testing.assert_allclose(mha(x)[0], p @ v @ mha.out_proj.weight.data.T, rtol=1e-12)


def test_mha_matches_torch_forward_and_all_gradients():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    mha = MultiHeadAttention(8, 2, dtype=np.float64, rng=rng)
    mha.in_proj_bias.data[...] = rng.standard_normal(24)
    mha.out_proj.bias.data[...] = rng.standard_normal(8)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in mha.state_dict().items()})
    x = rng.standard_normal((3, 5, 8))
    causal = np.tril(np.ones((5, 5), bool))
    tx = torch.tensor(x, requires_grad=True)
    ty, _ = ref(tx, tx, tx, attn_mask=torch.from_numpy(~causal), need_weights=False)   # torch: True = blocked
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.from_numpy(g))
    torch_grads = dict(ref.named_parameters())
    for name in backend.available():
        with backend.using(name):
            y = mha(x, mask=causal)
            mha.zero_grad()
            dx = mha.backward(g)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-11, atol=1e-12)
        for pname, p in mha.named_parameters():
            np.testing.assert_allclose(p.grad, torch_grads[pname].grad.numpy(), rtol=1e-11, atol=1e-12)


def test_mha_dtype_and_errors():
    mha = MultiHeadAttention(4, 2, dtype=np.float32)
    assert mha(np.ones((1, 3, 4), dtype=np.float64)).dtype == np.float32
    with pytest.raises(ValueError, match=r"MultiHeadAttention\(E=4, heads=2\) expected input \(N, T, 4\), got \(3, 4\)"):
        mha(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"mask \(3, 2\) does not broadcast"):
        mha(np.zeros((1, 3, 4)), mask=np.ones((3, 2), bool))
    with pytest.raises(ValueError, match="multiple of num_heads"):
        MultiHeadAttention(5, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        MultiHeadAttention(4, 2).backward(np.zeros((1, 1, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mha_strided_input_and_both_backends(backend_name, dtype):
    rng = np.random.default_rng(6)
    mha = MultiHeadAttention(4, 2, dtype=dtype, rng=rng)
    x = rng.standard_normal((3, 2, 4)).transpose(1, 0, 2)          # (2, 3, 4), not C-contiguous
    y = mha(x)
    np.testing.assert_allclose(y, mha(np.ascontiguousarray(x)), rtol=1e-6)
    dx = mha.backward(np.ones_like(y))
    assert y.dtype == dtype and dx.dtype == dtype and dx.shape == (2, 3, 4)
