"""NumPy twin of minidl/_kernels/rnn.pyx: a single-layer Elman RNN, batch first.

Forward over time (h_0 = h0, or zeros):

    h_t = φ(x_t W_ihᵀ + h_{t−1} W_hhᵀ + b),   φ = tanh or relu,   out[:, t−1] = h_t

Backward through time, with dH_t = grad_output[:, t−1] and the gradient from step t+1:

    da_t = (dH_t + da_{t+1} W_hh) ⊙ φ'(h_t)     (tanh: 1 − h_t²; relu: [h_t > 0])
    dW_ih = Σ_t da_tᵀ x_t,  dW_hh = Σ_t da_tᵀ h_{t−1},  db = Σ_t Σ_n da_t
    dx_t = da_t W_ih,       dh0 = da_1 W_hh

Gradient outputs are overwritten; grad_x, grad_bias and grad_h0 may be None (not computed).
"""
import numpy as np

__all__ = ["rnn_forward", "rnn_backward"]


def _phi(a, relu, out):
    if relu:
        np.maximum(a, 0, out=out)
    else:
        np.tanh(a, out=out)


def rnn_forward(x, w_ih, w_hh, bias, h0, out, relu):
    """x (N, T, I), w_ih (H, I), w_hh (H, H), bias (H,) or None (b_ih + b_hh), h0 (N, H) or
    None (zeros) → out (N, T, H), out[:, t] = h_{t+1}."""
    n, steps, _ = x.shape
    np.matmul(x, w_ih.T, out=out)                 # input contributions of all steps at once
    if bias is not None:
        out += bias
    h = h0
    for t in range(steps):
        if h is not None:
            out[:, t] += h @ w_hh.T
        _phi(out[:, t], relu, out[:, t])
        h = out[:, t]


def rnn_backward(grad_output, x, w_ih, w_hh, h0, out, grad_x, grad_w_ih, grad_w_hh, grad_bias, grad_h0, relu):
    """Gradients of :func:`rnn_forward` given grad_output (N, T, H) = dL/d(out) and the
    forward's ``out``."""
    n, steps, hidden = out.shape
    da = np.empty_like(out)
    dh_next = np.zeros((n, hidden), out.dtype)
    for t in range(steps - 1, -1, -1):
        h = out[:, t]
        dh = grad_output[:, t] + dh_next
        da[:, t] = dh * (h > 0) if relu else dh * (1 - h * h)
        dh_next = da[:, t] @ w_hh
    if grad_h0 is not None:
        grad_h0[...] = dh_next
    da2 = da.reshape(n * steps, hidden)
    np.matmul(da2.T, x.reshape(n * steps, -1), out=grad_w_ih)
    grad_w_hh[...] = da[:, 1:].reshape(-1, hidden).T @ out[:, :-1].reshape(-1, hidden)
    if h0 is not None:
        grad_w_hh += da[:, 0].T @ h0
    if grad_bias is not None:
        np.sum(da2, axis=0, out=grad_bias)
    if grad_x is not None:
        np.matmul(da, w_ih, out=grad_x)
