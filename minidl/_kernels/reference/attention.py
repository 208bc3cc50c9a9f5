"""NumPy twin of minidl/_kernels/attention.pyx: the attention core of multi-head
self-attention, on the packed projections.

qkv (N, T, 3E) = [Q | K | V] (the in-projection's output), h heads of size d = E / h; head i
of Q is columns i·d … (i+1)·d of the first E columns, and likewise for K and V.

    forward    S = Q_i K_iᵀ · scale (masked entries −∞),  P = softmax(S) row-wise,
               out[:, :, i·d:(i+1)·d] = P V_i                    (the heads' concat, (N, T, E))
    backward   dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ⊙ (dP − Σ_j dP ⊙ P) · scale,
               dQ = dS K,   dK = dSᵀ Q,    written into grad_qkv (N, T, 3E) in qkv's layout

``weights`` (N, h, T, T) receives P in the forward and is read back by the backward. mask is
None or a boolean (N, h, T, T) array, True = may attend; every query row must attend to
something (the layer checks). Outputs are overwritten.
"""
import numpy as np

__all__ = ["attention_forward", "attention_backward"]


def _split(t, heads):      # (N, T, E) -> (N, h, T, d)
    n, steps, e = t.shape
    return t.reshape(n, steps, heads, e // heads).transpose(0, 2, 1, 3)


def _merge(t):             # (N, h, T, d) -> (N, T, E)
    n, heads, steps, d = t.shape
    return t.transpose(0, 2, 1, 3).reshape(n, steps, heads * d)


def _check(qkv, heads, other, name):
    n, steps, e3 = qkv.shape
    if e3 % 3 or (e3 // 3) % heads or other.shape != (n, steps, e3 // 3):
        raise ValueError(f"attention kernel: qkv {qkv.shape} with {heads} heads does not fit {name} {other.shape}")


def attention_forward(qkv, heads, scale, mask, out, weights):
    """out (N, T, E) = the heads' attention outputs, weights (N, h, T, T) = P."""
    _check(qkv, heads, out, "out")
    n, steps, e = out.shape
    if weights.shape != (n, heads, steps, steps):
        raise ValueError(f"attention kernel: weights must have shape ({n}, {heads}, {steps}, {steps})")
    q, k, v = (_split(qkv[..., i * e:(i + 1) * e], heads) for i in range(3))
    scores = (q @ k.swapaxes(-1, -2)) * scale
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=weights)
    weights /= weights.sum(axis=-1, keepdims=True)
    out[...] = _merge(weights @ v)


def attention_backward(grad_output, qkv, weights, heads, scale, grad_qkv):
    """grad_qkv (N, T, 3E) = dL/d(qkv) given grad_output (N, T, E) = dL/d(out)."""
    _check(qkv, heads, grad_output, "grad_output")
    n, steps, e = grad_output.shape
    if weights.shape != (n, heads, steps, steps) or grad_qkv.shape != qkv.shape:
        raise ValueError(f"attention kernel: weights {weights.shape} / grad_qkv {grad_qkv.shape} do not fit "
                         f"({n}, {heads}, {steps}, {steps}) / {qkv.shape}")
    q, k, v = (_split(qkv[..., i * e:(i + 1) * e], heads) for i in range(3))
    d_out = _split(grad_output, heads)
    dv = weights.swapaxes(-1, -2) @ d_out
    dp = d_out @ v.swapaxes(-1, -2)
    ds = weights * (dp - (dp * weights).sum(axis=-1, keepdims=True)) * scale
    grad_qkv[..., :e] = _merge(ds @ k)
    grad_qkv[..., e:2 * e] = _merge(ds.swapaxes(-1, -2) @ q)
    grad_qkv[..., 2 * e:] = _merge(dv)
