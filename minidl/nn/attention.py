"""Scaled dot-product attention and multi-head self-attention, with explicit backward.

Seed 002 (Transformer中的优化方案: the 1/√d_k scale keeps softmax out of saturation);
tutorial 12.
"""
import math

import numpy as np

from minidl._kernels import kernels
from minidl.dtypes import float_dtype_of
from minidl.nn._checks import as_array, check_same_shape, shape_str
from minidl.nn.linear import Linear
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter
from minidl.random import resolve_rng


def _softmax_last(scores):
    scores = scores - scores.max(axis=-1, keepdims=True)   # exp never overflows
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


def scaled_dot_product_attention(q, k, v, mask=None, scale=None, return_weights=False):
    r"""softmax(Q Kᵀ · s + M) V with s = 1/√d_k (or ``scale``), as ``torch.nn.functional``'s.

    q (..., T_q, d_k), k (..., T_k, d_k), v (..., T_k, d_v) → (..., T_q, d_v); leading
    dimensions broadcast. ``mask`` broadcasts to (..., T_q, T_k): boolean with True = may
    attend (PyTorch's convention; a query row with no True raises), or float, added to the
    scores. Why the scale: for unit-variance q, k the dot product q·k has variance d_k, so
    without 1/√d_k the softmax saturates (near one-hot) as d_k grows and its gradient vanishes.
    ``return_weights=True`` also returns the attention weights P (..., T_q, T_k), which
    :func:`scaled_dot_product_attention_backward` needs.
    """
    q, k, v = (np.asarray(a) for a in (q, k, v))
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: q {shape_str(q.shape)}, k {shape_str(k.shape)}, "
                         f"v {shape_str(v.shape)} do not fit (need q (..., T_q, d), k (..., T_k, d), v (..., T_k, d_v))")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype == bool:
            if not np.broadcast_to(mask, scores.shape).any(axis=-1).all():
                raise ValueError("scaled_dot_product_attention: a query row of the mask attends to nothing")
            scores = np.where(mask, scores, -np.inf)
        else:
            scores = scores + mask
    weights = _softmax_last(scores)
    out = weights @ v
    return (out, weights) if return_weights else out


def scaled_dot_product_attention_backward(grad_output, q, k, v, weights, scale=None):
    r"""Gradients of :func:`scaled_dot_product_attention` given dO = dL/d(output).

    With S = Q Kᵀ s, P = softmax(S) row-wise (the saved ``weights``) and O = P V:

        dV = Pᵀ dO,   dP = dO Vᵀ,   dS = P ⊙ (dP − Σ_j dP ⊙ P)   (softmax Jacobian, per row)
        dQ = dS K s,  dK = dSᵀ Q s

    Masked positions have P = 0, so they get no gradient. Returns (dq, dk, dv) with the
    shapes of the broadcast batch (sum over broadcast dimensions yourself if needed).
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    dv = np.swapaxes(weights, -1, -2) @ grad_output
    dp = grad_output @ np.swapaxes(v, -1, -2)
    ds = weights * (dp - (dp * weights).sum(axis=-1, keepdims=True))
    ds *= scale
    return ds @ k, np.swapaxes(ds, -1, -2) @ q, dv


class MultiHeadAttention(Module):
    r"""Multi-head self-attention on x (N, T, E), batch first, h heads of size d = E / h::

        [Q | K | V] = x W_inᵀ + b_in                       W_in (3E, E): rows Q, then K, then V
        head_i     = softmax(Q_i K_iᵀ/√d + mask) V_i       Q_i = columns i·d … (i+1)·d of Q
        y          = concat(head_1 … head_h) W_outᵀ + b_out

    ``forward(x, mask=None)``: ``mask`` is boolean, True = may attend, broadcastable to
    (N, h, T, T) (e.g. a causal (T, T) lower-triangular mask). NOTE: this is the
    scaled_dot_product_attention convention; torch.nn.MultiheadAttention's ``attn_mask`` uses
    the opposite one (True = blocked).

    Backward is the chain rule through the three steps; the middle one is
    :func:`scaled_dot_product_attention_backward` per head.

    Args:
        embed_dim: E, the size of each position's vector (divisible by num_heads).
        num_heads: h, the number of heads.
        bias: learn b_in and b_out. Default: True.
        dtype: float32 or float64. Default: :func:`minidl.get_default_dtype`.
        rng: ``numpy.random.Generator`` for the initial values. Default: minidl's global one.

    Shape:
        - Input: x (N, T, E); other float or int dtypes are converted to the layer's. mask:
          boolean, broadcastable to (N, h, T, T), or None.
        - Output: (N, T, E).

    Attributes:
        in_proj_weight: W_in, Parameter (3E, E), initialised with ``xavier_uniform_``.
        in_proj_bias: b_in, Parameter (3E,), zeros (None with ``bias=False``).
        out_proj: a :class:`Linear` (E → E): ``out_proj.weight`` W_out from U(±1/√E),
            ``out_proj.bias`` b_out zeros. Names and initial values are
            torch.nn.MultiheadAttention's, so state dicts line up.

    Tutorial: 12_transformer_stability. Kernels: ``attention_forward`` /
    ``attention_backward``, one call each on the packed [Q | K | V] for all samples and heads
    (minidl/_kernels/attention.pyx, NumPy twin reference/attention.py); the projections are
    Linear kernels.

    Example::

        >>> import numpy as np
        >>> from minidl import nn
        >>> attention = nn.MultiHeadAttention(embed_dim=4, num_heads=2, rng=np.random.default_rng(0))
        >>> x = np.ones((1, 3, 4), dtype=np.float32)
        >>> causal = np.tril(np.ones((3, 3), dtype=bool))         # True = may attend
        >>> y = attention(x, mask=causal)
        >>> y.shape, bool(np.allclose(y[0, 0], y[0, 2]))          # equal inputs, equal outputs
        ((1, 3, 4), True)
    """

    def __init__(self, embed_dim, num_heads, bias=True, dtype=None, rng=None):
        super().__init__()
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"MultiHeadAttention: embed_dim ({embed_dim}) must be a positive multiple of "
                             f"num_heads ({num_heads})")
        self.embed_dim, self.num_heads, self.head_dim = int(embed_dim), int(num_heads), embed_dim // num_heads
        dtype = float_dtype_of(dtype=dtype)
        rng = resolve_rng(rng)
        bound = math.sqrt(6.0 / (embed_dim + 3 * embed_dim))      # xavier_uniform_ on (3E, E)
        self.in_proj_weight = Parameter(rng.uniform(-bound, bound, (3 * embed_dim, embed_dim)), dtype=dtype)
        self.register_parameter("in_proj_bias", Parameter(np.zeros(3 * embed_dim), dtype=dtype) if bias else None)
        # A Linear child, so that the names read out_proj.weight / out_proj.bias as in PyTorch,
        # which (unlike Linear's default) starts the bias at zero.
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype, rng=rng)
        if bias:
            self.out_proj.bias.data[...] = 0

    def _label(self):
        return f"MultiHeadAttention(E={self.embed_dim}, heads={self.num_heads})"

    def forward(self, x, mask=None):
        x = as_array(self._label(), x, self.in_proj_weight.data.dtype)
        if x.ndim != 3 or x.shape[2] != self.embed_dim:
            raise ValueError(f"{self._label()} expected input (N, T, {self.embed_dim}), got {shape_str(x.shape)}")
        n, steps, e = x.shape
        shape = (n, self.num_heads, steps, steps)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            try:
                mask = np.broadcast_to(mask, shape)
            except ValueError:
                raise ValueError(f"{self._label()}: mask {shape_str(mask.shape)} does not broadcast to "
                                 f"(N, heads, T, T) = {shape}") from None
            if steps and not mask.any(axis=-1).all():
                raise ValueError(f"{self._label()}: a query row of the mask attends to nothing")
        x2 = x.reshape(n * steps, e)
        qkv = np.empty((n * steps, 3 * e), x.dtype)
        in_bias = None if self.in_proj_bias is None else self.in_proj_bias.data
        kernels.linear_forward(x2, self.in_proj_weight.data, in_bias, qkv)     # [Q | K | V] = x W_inᵀ + b_in
        qkv = qkv.reshape(n, steps, 3 * e)
        heads, weights = np.empty((n, steps, e), x.dtype), np.empty(shape, x.dtype)
        # head_i = softmax(Q_i K_iᵀ/√d + mask) V_i, written as concat(head_1 … head_h)
        kernels.attention_forward(qkv, self.num_heads, 1.0 / math.sqrt(self.head_dim), mask, heads, weights)
        self._save_for_backward(x2, qkv, weights)
        return self.out_proj(heads.reshape(n * steps, e)).reshape(n, steps, e)

    def backward(self, grad_output):
        x2, qkv, weights = self._saved_for_backward()
        n, steps, e = qkv.shape[0], qkv.shape[1], self.embed_dim
        g = as_array(self._label(), grad_output, x2.dtype, "grad_output")
        check_same_shape(self._label(), g, (n, steps, e))
        d_heads = self.out_proj.backward(g.reshape(n * steps, e)).reshape(n, steps, e)
        # dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − Σ dP ⊙ P)/√d, dQ = dS K, dK = dSᵀ Q  → d[Q | K | V]
        d_qkv = np.empty(qkv.shape, x2.dtype)
        kernels.attention_backward(d_heads, qkv, weights, self.num_heads, 1.0 / math.sqrt(self.head_dim), d_qkv)
        dx = np.empty(x2.shape, x2.dtype) if self.input_grad else None   # None: not computed
        # dx = d[Q | K | V] W_in;  W_in.grad += d[Q | K | V]ᵀ x;  b_in.grad += Σ d[Q | K | V]
        kernels.linear_backward(d_qkv.reshape(n * steps, 3 * e), x2, self.in_proj_weight.data, dx,
                                self.in_proj_weight.grad_target(),
                                None if self.in_proj_bias is None else self.in_proj_bias.grad_target())
        return None if dx is None else dx.reshape(n, steps, e)

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
